"""An advisory file lock (flock) shared by processes and threads: the kernel drops it when its
holder exits, killed or not, so no stale lock outlives a crash. The holder writes "pid N on HOST"
into the file, so whoever waits can say who it waits for."""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

POLL_S = 0.2


class LockTimeout(TimeoutError):
    def __init__(self, path: Path, holder: str, waited_s: float):
        self.holder, self.waited_s = holder, waited_s
        super().__init__(f"{path} is held by {holder}; waited {waited_s:.0f} s")


@contextmanager
def file_lock(path: Path, wait_s: float, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold `path`'s lock; wait up to wait_s for it (calling on_wait(holder) once), then LockTimeout."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="utf-8") as handle:
        deadline, told = time.monotonic() + wait_s, False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                if time.monotonic() >= deadline:
                    raise LockTimeout(path, holder, wait_s) from None
                if on_wait is not None and not told:
                    on_wait(holder)
                    told = True
                time.sleep(POLL_S)
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)

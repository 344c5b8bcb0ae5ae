"""An episode directory appears only when complete: build in a hidden sibling, then rename."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OWNER_FILE = ".nightcast-build"  # "host pid" of the process building; removed before the rename


@contextmanager
def building(final_dir: Path) -> Iterator[Path]:
    """Yield a temporary directory beside final_dir; on success it replaces final_dir in one rename.

    On any failure the temporary directory is removed and an existing final_dir is left untouched.
    A build whose process was killed (nothing could clean up) is removed by the next build of the
    same episode.
    """
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_builds(final_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".building-{final_dir.name}-", dir=final_dir.parent))
    owner = tmp / OWNER_FILE
    owner.write_text(f"{socket.gethostname()} {os.getpid()}\n")
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a published episode gets normal permissions
    try:
        yield tmp
        owner.unlink()
        if final_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".replaced-{final_dir.name}-", dir=final_dir.parent))
            os.replace(final_dir, retired / "old")
            os.replace(tmp, final_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(tmp, final_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_abandoned_builds(final_dir: Path) -> list[Path]:
    """Remove builds of final_dir left by a process on this host that no longer runs.

    Builds from other hosts (a shared outputs folder) and from live processes are left alone."""
    removed = []
    for build in final_dir.parent.glob(f".building-{final_dir.name}-*"):
        try:
            host, pid = (build / OWNER_FILE).read_text().split()
        except (OSError, ValueError):
            continue  # just created, or not ours to judge
        if host == socket.gethostname() and not _alive(int(pid)):
            shutil.rmtree(build, ignore_errors=True)
            removed.append(build)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

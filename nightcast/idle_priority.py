"""Work that should take only the CPU nobody else wants: run at idle priority, in its own thread.

On Linux the scheduling policy and nice value belong to a thread, and whatever that thread starts
(a child process, a library's worker threads) inherits them. So the work runs in a short-lived
thread that lowers its own priority first; the caller's thread, often a pooled worker, keeps its own.
SCHED_IDLE rather than only nice 19: measured beside the master's limiter | encoder pipe, a nice-19
busy loop still slowed it by a fifth (every pipe wake-up waits on the niced task's slice), a
SCHED_IDLE one by nothing measurable.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
LOWEST_PRIORITY = 19


def at_idle_priority(work: Callable[[], T]) -> T:
    """work() in a new thread at SCHED_IDLE and nice 19 (where the OS allows), its result or its exception here."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), LOWEST_PRIORITY)
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # 0: this thread
        except (AttributeError, OSError):
            pass  # not Linux, or not allowed: normal priority, same result
        try:
            outcome["result"] = work()
        except BaseException as exc:  # noqa: BLE001 - raised again in the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, name="background-priority", daemon=True)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["result"]  # type: ignore[return-value]

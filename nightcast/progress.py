"""Stage timing and progress: the flow reports stages here; the CLI listens and draws them."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Listener = Callable[[str, str, float | None], None]  # (stage, "start" | "done" | "failed", seconds)
_listeners: list[Listener] = []


def subscribe(listener: Listener) -> Callable[[], None]:
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


@contextmanager
def stage(name: str, timings: dict[str, float]) -> Iterator[None]:
    for listener in list(_listeners):
        listener(name, "start", None)
    started = time.perf_counter()
    try:
        yield
    except BaseException:
        for listener in list(_listeners):
            listener(name, "failed", time.perf_counter() - started)
        raise
    timings[name] = round(time.perf_counter() - started, 3)
    for listener in list(_listeners):
        listener(name, "done", timings[name])

"""Batches of neighbours in length, for the backends that pad a batch to its longest row, and
batches that shrink when the device runs out of memory instead of failing."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Sequence
from typing import TypeVar

log = logging.getLogger("nightcast.batching")
Row = TypeVar("Row")


def length_batches(lengths: Sequence[float], size: int) -> list[list[int]]:
    """Indices into `lengths`, shortest first, cut into batches of `size`: a padded batch costs its
    rows times its longest row, so rows of about one length waste little. Equal lengths keep their
    order; callers put each result back at its index."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[at:at + size] for at in range(0, len(order), size)]


class Batcher:
    """Runs rows through a backend in length batches of at most `size` rows.

    A batch that raises one of `too_big` (the device's out-of-memory error) is halved and both halves
    run again, and `size` stays at the half for every batch after it, in this call and the backend's
    later ones: a GPU with less free memory than `batch_size` assumed costs a night some speed, not
    its episodes, and pays for the failed try once rather than once per batch. `release` (returning
    the failed batch's cached blocks to the device) runs after the exception and its traceback, which
    hold the batch's tensors, are gone. A single row that does not fit raises, or with `failed_row`
    gets that function's answer for its error."""

    def __init__(self, size: int, *, too_big: tuple[type[BaseException], ...] = (),
                 release: Callable[[], None] = lambda: None, what: str = "rows"):
        self.size = size
        self.too_big = too_big
        self.release = release
        self.what = what

    def run(self, lengths: Sequence[float], work: Callable[[list[int]], list[Row]],
            failed_row: Callable[[BaseException], Row] | None = None) -> list[Row]:
        """`work(indices)` answers one result per index, in order; the results come back in the order
        of `lengths`."""
        results: dict[int, Row] = {}
        pending = deque(length_batches(lengths, self.size))
        while pending:
            batch = pending.popleft()
            if len(batch) > self.size:  # cut before a shrink: cut again, neighbours stay neighbours
                pending.extendleft(reversed([batch[at:at + self.size] for at in range(0, len(batch), self.size)]))
                continue
            try:
                results.update(zip(batch, work(batch), strict=True))
            except self.too_big as exc:
                if len(batch) == 1:
                    if failed_row is None:
                        raise
                    results[batch[0]] = failed_row(exc.with_traceback(None))
            else:
                continue
            self.release()  # here, not in the except clause: its traceback kept the batch's tensors alive
            if len(batch) > 1:
                half = (len(batch) + 1) // 2
                if half < self.size:
                    log.warning("out of device memory at %d %s a batch: %d from now on", len(batch), self.what, half)
                    self.size = half
                pending.extendleft([batch[half:], batch[:half]])
        return [results[i] for i in range(len(lengths))]

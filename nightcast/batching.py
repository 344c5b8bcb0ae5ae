"""Batches of neighbours in length, for the backends that pad a batch to its longest row."""

from __future__ import annotations

from collections.abc import Sequence


def length_batches(lengths: Sequence[float], size: int) -> list[list[int]]:
    """Indices into `lengths`, shortest first, cut into batches of `size`: a padded batch costs its
    rows times its longest row, so rows of about one length waste little. Equal lengths keep their
    order; callers put each result back at its index."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    return [order[at:at + size] for at in range(0, len(order), size)]

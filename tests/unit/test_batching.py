"""Length batches that halve when the device runs out of memory: every row answered once, in its
place, by batches no bigger than what fits, and the smaller size kept for later calls."""

from __future__ import annotations

import gc
import logging
import sys
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nightcast.batching import Batcher, length_batches


class NoMemory(RuntimeError):
    """Stands for torch.OutOfMemoryError where there is no GPU."""


class Device:
    """Work that fits `fits` rows a batch and answers each row with its own index, logging batches."""

    def __init__(self, fits: int):
        self.fits = fits
        self.batches: list[list[int]] = []
        self.released = 0
        self.exc_during_release: list[object] = []

    def work(self, batch: list[int]) -> list[str]:
        self.batches.append(list(batch))
        if len(batch) > self.fits:
            raise NoMemory(f"tried {len(batch)} rows")
        return [f"row {i}" for i in batch]

    def release(self) -> None:
        self.released += 1
        self.exc_during_release.append(sys.exc_info()[0])


def batcher(size: int, device: Device) -> Batcher:
    return Batcher(size, too_big=(NoMemory,), release=device.release, what="rows")


def test_length_batches_are_neighbours_shortest_first():
    assert length_batches([5, 1, 3, 1, 9], 2) == [[1, 3], [2, 0], [4]]


def test_a_batch_too_big_runs_again_in_halves_and_the_smaller_size_stays(caplog):
    device = Device(fits=3)
    rows = batcher(8, device)
    lengths = [float(n) for n in range(10)]
    with caplog.at_level(logging.WARNING, logger="nightcast.batching"):
        answers = rows.run(lengths, device.work)
    assert answers == [f"row {i}" for i in range(10)]
    # 8 fails, 4 fails, then 2s; the last two rows (the second batch of 8's cut) go in a batch of 2
    assert device.batches == [list(range(8)), [0, 1, 2, 3], [0, 1], [2, 3], [4, 5], [6, 7], [8, 9]]
    assert rows.size == 2 and device.released == 2
    assert [r.getMessage() for r in caplog.records] == [
        "out of device memory at 8 rows a batch: 4 from now on", "out of device memory at 4 rows a batch: 2 from now on"]
    device.batches.clear()
    assert rows.run(lengths[:5], device.work) == [f"row {i}" for i in range(5)]
    assert device.batches == [[0, 1], [2, 3], [4]]  # a later call starts at the size that fit: no failed try


def test_release_runs_after_the_error_is_gone():
    """The error's traceback holds the failed batch's tensors; releasing inside the except clause
    would leave them allocated."""
    device = Device(fits=1)
    batcher(4, device).run([1.0, 2.0, 3.0, 4.0], device.work)
    assert device.exc_during_release and set(device.exc_during_release) == {None}


def test_the_failed_batchs_arguments_are_freed_before_the_retry():
    held: list[weakref.ref] = []

    class Tensor:
        pass

    def work(batch):
        block = Tensor()  # stands for the batch's activations, referenced from the failing frame
        held.append(weakref.ref(block))
        if len(batch) > 1:
            raise NoMemory("no room")
        return batch

    def release():
        gc.collect()
        assert all(ref() is None for ref in held), "the failed batch is still referenced at release"

    assert Batcher(2, too_big=(NoMemory,), release=release).run([1.0, 2.0], work) == [0, 1]


def test_one_row_that_does_not_fit_raises_or_gets_its_own_answer():
    device = Device(fits=0)
    with pytest.raises(NoMemory, match="tried 1 rows"):
        batcher(2, device).run([1.0, 2.0], device.work)
    device = Device(fits=0)
    answers = batcher(2, device).run([1.0, 2.0], device.work, failed_row=lambda exc: f"failed: {exc}")
    assert answers == ["failed: tried 1 rows", "failed: tried 1 rows"]


def test_other_errors_are_not_retried():
    calls = []

    def broken(batch):
        calls.append(batch)
        raise ValueError("a bug, not the memory")

    with pytest.raises(ValueError):
        Batcher(4, too_big=(NoMemory,)).run([1.0, 2.0, 3.0], broken)
    assert calls == [[0, 1, 2]]


@settings(max_examples=200, deadline=None)
@given(lengths=st.lists(st.integers(0, 50), max_size=40), size=st.integers(1, 16), fits=st.integers(1, 16))
def test_every_row_answered_once_in_its_place_by_batches_that_fit(lengths, size, fits):
    device = Device(fits=fits)
    rows = batcher(size, device)
    assert rows.run(lengths, device.work) == [f"row {i}" for i in range(len(lengths))]
    done = [batch for batch in device.batches if len(batch) <= fits]
    # each row answered once, and the batches that ran took the rows shortest first: neighbours in length
    assert [i for batch in done for i in batch] == sorted(range(len(lengths)), key=lengths.__getitem__)
    failures = len(device.batches) - len(done)
    assert failures <= size.bit_length()  # each failure at least halves the size
    assert failures == 0 or rows.size <= fits

@pytest.mark.gpu
def test_a_real_cuda_out_of_memory_is_split_and_its_memory_given_back():
    """On a GPU: a batch that asks for more than the free memory raises torch's OutOfMemoryError; the
    batcher halves it, the rows are answered, and what the failed try allocated is back."""
    torch = pytest.importorskip("torch")
    from nightcast.devices import out_of_memory_errors, release_memory

    free, _ = torch.cuda.mem_get_info()
    per_row = int(free * 0.3)  # two rows fit, four do not
    before = torch.cuda.memory_allocated()

    def work(batch):
        blocks = [torch.empty(per_row, dtype=torch.uint8, device="cuda") for _ in batch]
        return [int(b.numel()) for b in blocks]

    rows = Batcher(4, too_big=out_of_memory_errors(), release=lambda: release_memory("cuda"))
    assert rows.run([1.0] * 4, work) == [per_row] * 4
    assert rows.size == 2
    assert torch.cuda.memory_allocated() == before

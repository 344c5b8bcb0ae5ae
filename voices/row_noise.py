"""Per-sentence noise for a batched VITS pass, so a sentence sounds the same in any batch.

VITS draws its prior and duration noise with `torch.randn(batch, channels, time)` from the global
generator: a sentence's noise then depends on which sentences share its batch and how long the
longest is. Inside `row_noise(seeds)`, a draw shaped `(rows, channels, time)` for this batch is
made row by row instead, each from a generator seeded by the row's seed and the draw's order, and
filled time-major, so a shorter row gets exactly the prefix it would get alone; a draw over the
input text is zero past the row's own text, where alone there would be nothing.
"""

from __future__ import annotations

from contextlib import contextmanager


def _noise(seeds: list[int], lengths: list[int], shape, draw: int, dtype, device):
    import torch

    rows = []
    for seed, length in zip(seeds, lengths):
        generator = torch.Generator().manual_seed((int(seed) * 1_000_003 + draw) % 2**63)
        row = torch.randn(shape[2], shape[1], generator=generator).T  # time-major: prefix-stable
        if shape[2] == max(lengths):  # over the text: silence the padding, which the convolutions would hear
            row[:, length:] = 0
        rows.append(row)
    return torch.stack(rows).to(device=device, dtype=dtype)


@contextmanager
def row_noise(seeds: list[int], lengths: list[int]):
    """`lengths`: each row's input length (tokens), where a draw over the input is cut."""
    import torch
    from torch.overrides import TorchFunctionMode

    class RowNoise(TorchFunctionMode):
        draws = 0

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func is torch.randn_like and args and args[0].dim() == 3 and args[0].shape[0] == len(seeds):
                like = args[0]
                self.draws += 1
                return _noise(seeds, lengths, like.shape, self.draws, kwargs.get("dtype") or like.dtype, like.device)
            if func is torch.randn:
                shape = tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list, torch.Size)) else args
                if len(shape) == 3 and shape[0] == len(seeds) and "generator" not in kwargs:
                    self.draws += 1
                    return _noise(seeds, lengths, shape, self.draws, kwargs.get("dtype") or torch.get_default_dtype(),
                                  kwargs.get("device") or "cpu")
            return func(*args, **kwargs)

    with RowNoise():
        yield

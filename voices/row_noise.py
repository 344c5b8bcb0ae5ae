"""Per-sentence noise for a batched VITS pass, so a sentence sounds the same in any batch.

VITS draws its prior and duration noise with `torch.randn(batch, channels, time)` from the global
generator: a sentence's noise then depends on which sentences share its batch and how long the
longest is. Inside `row_noise(seeds)`, a draw shaped `(rows, channels, time)` for this batch is
made from each row's own seed with nightcast's hashed noise (nightcast/sampling.py): a value
depends on the seed, the draw's order, its time and its channel, so a shorter row gets exactly the
prefix it would get alone, on the model's own device. A draw over the input text is zero past the
row's own text, where alone there would be nothing.
"""

from __future__ import annotations

from contextlib import contextmanager


def _noise(seeds: list[int], lengths: list[int], shape, draw: int, dtype, device):
    import torch

    from nightcast.sampling import normal_noise, row_keys

    noise = normal_noise(row_keys(seeds, device), draw, tuple(shape))
    if shape[2] == max(lengths):  # over the text: silence the padding, which the convolutions would hear
        own = torch.arange(shape[2], device=device)[None, :] < torch.tensor(lengths, device=device)[:, None]
        noise = noise * own[:, None, :]
    return noise.to(dtype)


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

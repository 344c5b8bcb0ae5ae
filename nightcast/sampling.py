"""Sampling each row of a batch from its own seed, in one vectorised step.

A batched model (an LLM writing many listeners' segments, MusicGen making many listeners' beds)
must give each row what that row would get alone, or a listener's episode would change with who
else was rendered that night. `torch.multinomial` draws every row from one generator, so this
draws with the Gumbel-max trick instead, with noise that is a hash of (row seed, step, position,
token): `argmax(scores + Gumbel noise)` is an exact sample of `softmax(scores)`, each row's noise
depends on nothing but its own seed and step, and the whole batch is a handful of tensor ops (no
loop over rows, nothing a CUDA graph could not capture).

The hash is SplitMix64's finaliser on int64 tensors (logical shifts done with masks; products wrap).
"""

from __future__ import annotations

_GOLDEN = 0x9E3779B97F4A7C15 - 2**64  # as signed int64
_M1 = 0xBF58476D1CE4E5B9 - 2**64
_M2 = 0x94D049BB133111EB - 2**64


def _mix(x):
    x = x ^ ((x >> 30) & ((1 << 34) - 1))
    x = x * _M1
    x = x ^ ((x >> 27) & ((1 << 37) - 1))
    x = x * _M2
    return x ^ ((x >> 31) & ((1 << 33) - 1))


def row_keys(seeds: list[int], device):
    """One hashed key per row, to pass to `sample_rows` at every step."""
    import torch

    return _mix(torch.tensor([int(s) % 2**63 for s in seeds], dtype=torch.long, device=device) * _GOLDEN)


def gumbel_noise(keys, step: int, shape: tuple[int, ...]):
    """Standard Gumbel noise of `shape` = (rows, *per_row) for one step, each row from its own key."""
    import torch

    rows, per_row = shape[0], 1
    for size in shape[1:]:
        per_row *= size
    counter = torch.arange(per_row, dtype=torch.long, device=keys.device) + step * per_row
    uniform = _uniform(_mix(keys[:, None] ^ _mix(counter)[None, :]))
    return -torch.log(-torch.log(uniform)).reshape(rows, *shape[1:])


def _uniform(bits):
    """24 bits of a hash as a float32 in (0, 1)."""
    return (((bits >> 40) & ((1 << 24) - 1)).float() + 0.5) / float(1 << 24)


def normal_noise(keys, draw: int, shape: tuple[int, int, int]):
    """Standard normal noise of `shape` = (rows, channels, length), each row from its own key: the
    value at (channel, time) is a hash of the row's key, the draw, the time and the channel (two
    uniforms through Box-Muller), so a row's noise is the same in any batch and at any length, the
    prefix of a longer draw. (`torch.randn` is not: its CPU kernel fills 16 values at a time, and
    draws under 16 values another way, so a shorter draw is not the prefix of a longer one.)"""
    import math

    import torch

    _, channels, length = shape
    time = torch.arange(length, dtype=torch.long, device=keys.device)[:, None]
    channel = torch.arange(channels, dtype=torch.long, device=keys.device)[None, :]
    counter = ((draw << 45) | (time << 17) | (channel << 1))[None]  # two uniforms a value; channels < 2^16, length < 2^28
    radius = torch.sqrt(-2.0 * torch.log(_uniform(_mix(keys[:, None, None] ^ _mix(counter)))))
    angle = (2 * math.pi) * _uniform(_mix(keys[:, None, None] ^ _mix(counter | 1)))
    return (radius * torch.cos(angle)).transpose(1, 2)


def sample_rows(scores, keys, step: int):
    """One token per row (and per leading position within a row) from `softmax(scores)`: `scores`
    is (rows, ..., vocab) with −inf where a token is filtered out (top-k, top-p)."""
    return (scores.float() + gumbel_noise(keys, step, tuple(scores.shape))).argmax(dim=-1)

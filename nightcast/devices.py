"""Where torch models run and in what precision: one rule for every GPU-capable backend."""

from __future__ import annotations


def pick_device(wanted: str) -> str:
    import torch

    if wanted != "auto":
        return wanted
    if torch.cuda.is_available():
        return "cuda"
    return "mps" if torch.backends.mps.is_available() else "cpu"


def pick_dtype(wanted: str, device: str, gpu_default: str = "bfloat16"):
    """`auto`: half precision on accelerators (gpu_default, or fp16 where bf16 is unsupported), fp32 on CPU."""
    import torch

    if wanted != "auto":
        return getattr(torch, wanted)
    if device.startswith("cuda"):
        if gpu_default == "bfloat16" and not torch.cuda.is_bf16_supported():
            return torch.float16
        return getattr(torch, gpu_default)
    return torch.float16 if device == "mps" else torch.float32

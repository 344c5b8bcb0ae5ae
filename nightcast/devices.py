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


def out_of_memory_errors() -> tuple[type[BaseException], ...]:
    """What torch raises when a CUDA device has no memory left for a batch (torch.OutOfMemoryError):
    a batch that raises it can run again smaller. Any other error is the batch's own."""
    import torch

    return (torch.OutOfMemoryError,)


def release_memory(device: str) -> None:
    """Gives a failed batch's cached blocks back to the device, so the smaller batches after it fit."""
    import torch

    if str(device).startswith("cuda"):
        torch.cuda.empty_cache()

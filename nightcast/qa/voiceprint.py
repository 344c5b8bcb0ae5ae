"""Are two hosts two voices? A measured proxy for a speaker embedding, with no model to ship.

Each host's speech is summarised by its MFCCs (19 cepstral coefficients of 40 mel bands, 60 Hz to
7.6 kHz, over the frames within 30 dB of the loudest: the voiced ones). Two hosts' distance is the
root mean square, over the coefficients, of the difference of their means in pooled standard
deviations: how far apart the two timbres sit, in units of how much each moves within itself.

Measured on the shipped presets (bench/voices_bench.py prints the matrix, 2026-12-05): one preset
on other paragraphs 0.02–0.12; any two different presets 0.49–1.62 (`host`/`kumo` 0.55, `host`/`kai`
0.58). `hosts_min_distance` (0.3) sits between the two.
"""

from __future__ import annotations

import numpy as np

from nightcast.qa.mos import at_16k, mel_filters

N_FFT, HOP, N_MELS, N_COEFFS = 512, 160, 40, 19
LOW_HZ, HIGH_HZ = 60.0, 7600.0
VOICED_WITHIN_DB = 30.0
MIN_FRAMES = 150  # 1.5 s of voiced frames: less says nothing reliable about a voice


def voice_print(samples: np.ndarray, rate: int) -> np.ndarray:
    """(voiced frames, 19) MFCCs of mono speech at any rate; no frames for silence or a clip too short."""
    from scipy.fft import dct

    audio = at_16k(np.asarray(samples, dtype=np.float32), rate).astype(np.float64)
    if audio.size < N_FFT:
        return np.zeros((0, N_COEFFS))
    frames = np.lib.stride_tricks.sliding_window_view(audio, N_FFT)[::HOP] * np.hanning(N_FFT)
    mel = (np.abs(np.fft.rfft(frames, axis=1)) ** 2) @ mel_filters(N_FFT, N_MELS, LOW_HZ, HIGH_HZ).T.astype(np.float64)
    energy_db = 10 * np.log10(mel.sum(axis=1) + 1e-12)
    voiced = mel[energy_db > energy_db.max() - VOICED_WITHIN_DB]
    return dct(np.log(voiced + 1e-10), type=2, norm="ortho", axis=1)[:, 1:N_COEFFS + 1]


def voice_distance(a: np.ndarray, b: np.ndarray) -> float | None:
    """How far apart two voice prints are (about 0.1 for one voice, over 0.5 for two); None when
    either has too little voiced speech to tell."""
    if len(a) < MIN_FRAMES or len(b) < MIN_FRAMES:
        return None
    pooled = np.sqrt((a.var(axis=0) + b.var(axis=0)) / 2) + 1e-9
    return round(float(np.sqrt(np.mean(((a.mean(axis=0) - b.mean(axis=0)) / pooled) ** 2))), 3)

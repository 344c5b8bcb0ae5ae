"""A split-band de-esser for the speech chain (pedalboard has none).

The voice is split at `frequency_hz` into two bands that sum back exactly (low = voice − high), and
only the high band is turned down, only while it dominates: a sibilant "s" carries most of its energy
up there, a vowel very little. Detection is relative to the whole voice, so it works the same on a
quiet engine and a loud one, before any loudness normalisation.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import grey_dilation

HOP_S = 0.005


class DeEsser:
    """Call like a pedalboard plugin: deesser(samples (channels, frames), sample_rate) → samples."""

    def __init__(self, frequency_hz: float = 5500.0, threshold_db: float = -12.0, ratio: float = 4.0,
                 max_reduction_db: float = 10.0, release_ms: float = 40.0):
        if not 1000 <= frequency_hz <= 16000:
            raise ValueError("DeEsser frequency_hz must be within 1000-16000")
        if ratio < 1 or max_reduction_db < 0:
            raise ValueError("DeEsser ratio must be ≥ 1 and max_reduction_db ≥ 0")
        self.frequency_hz, self.threshold_db, self.ratio = frequency_hz, threshold_db, ratio
        self.max_reduction_db, self.release_ms = max_reduction_db, release_ms

    def __call__(self, samples: np.ndarray, sample_rate: float) -> np.ndarray:
        import pedalboard

        rate = int(sample_rate)
        samples = np.asarray(samples, dtype=np.float32)
        if rate / 2 <= self.frequency_hz * 1.1 or samples.shape[-1] == 0:
            return samples  # nothing up there to tame (e.g. a 16 kHz engine at 8 kHz Nyquist)
        split = pedalboard.HighpassFilter(cutoff_frequency_hz=self.frequency_hz)
        high = split(samples, rate)
        detector = pedalboard.HighpassFilter(cutoff_frequency_hz=self.frequency_hz)(high, rate)  # 12 dB/oct for the sidechain
        gain = self.high_band_gain(detector.mean(axis=0), samples.mean(axis=0), rate)
        return (samples - high) + high * gain[None, :]

    def high_band_gain(self, sibilance: np.ndarray, voice: np.ndarray, rate: int) -> np.ndarray:
        hop = max(1, round(HOP_S * rate))
        frames = len(voice) // hop + 1
        pad = frames * hop - len(voice)

        def hop_power(x: np.ndarray) -> np.ndarray:
            return np.square(np.pad(x, (0, pad)).reshape(frames, hop).astype(np.float64)).mean(axis=1) + 1e-12

        excess_db = 10 * np.log10(hop_power(sibilance) / hop_power(voice)) - self.threshold_db
        reduction_db = np.clip(excess_db * (1 - 1 / self.ratio), 0, self.max_reduction_db)
        # Starts one hop early, then releases linearly in dB over release_ms (from full reduction):
        # no clipped onset of the "s", no zipper noise after it. Grey dilation: max(r[t - k] + ramp[k]).
        release_hops = max(1, round(self.release_ms / 1000 / HOP_S))
        offsets = np.arange(-release_hops, release_hops + 1)
        ramp = np.where(offsets >= -1, -np.maximum(offsets, 0) * self.max_reduction_db / release_hops, -1e6)
        reduction_db = grey_dilation(reduction_db, structure=ramp, mode="constant", cval=0.0)
        centres = np.arange(frames) * hop + hop / 2
        gain_db = np.interp(np.arange(len(voice)), centres, -reduction_db)
        return np.power(10.0, gain_db / 20).astype(np.float32)

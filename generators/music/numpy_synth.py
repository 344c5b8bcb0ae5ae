"""The procedural generator's fallback renderer where fluidsynth or a soundfont is missing.

Pitched parts go through pretty_midi's own additive synthesis with a softened sawtooth (warmer
than its default sine); drums are synthesised from their General MIDI note numbers (a pitch-swept
sine kick, noise-and-tone snare, filtered-noise hats and cymbals). Plainer than a soundfont, but
in time, in key and never silent.
"""

from __future__ import annotations

import numpy as np
import pretty_midi
from scipy.signal import butter, sawtooth, sosfilt

from nightcast.generators.music.arrangements import (
    CLAP,
    CRASH,
    HAT,
    KICK,
    OPEN_HAT,
    PEDAL_HAT,
    RIDE,
    RIM,
    SHAKER,
    SNARE,
)


def _soft_saw(phase: np.ndarray) -> np.ndarray:
    return 0.6 * sawtooth(phase, 0.5) + 0.4 * np.sin(phase)  # triangle-ish plus fundamental


class DrumKit:
    def __init__(self, rate: int, seed: int = 0):
        self.rate = rate
        self.rng = np.random.default_rng(seed)
        self.high = butter(2, 6000, "highpass", fs=rate, output="sos")
        self.band = butter(2, [1200, 5000], "bandpass", fs=rate, output="sos")

    def _env(self, seconds: float, decay: float) -> tuple[np.ndarray, np.ndarray]:
        t = np.arange(int(seconds * self.rate)) / self.rate
        return t, np.exp(-t / decay)

    def hit(self, pitch: int) -> np.ndarray:
        if pitch == KICK or pitch == 35:
            t, env = self._env(0.35, 0.09)
            sweep = 2 * np.pi * (50 * t + 90 * 0.03 * (1 - np.exp(-t / 0.03)))
            return np.sin(sweep) * env
        noise = self.rng.standard_normal
        if pitch in (SNARE, CLAP, 40):
            t, env = self._env(0.2, 0.05)
            return (0.6 * sosfilt(self.band, noise(t.size)) + 0.5 * np.sin(2 * np.pi * 185 * t)) * env
        if pitch == RIM:
            t, env = self._env(0.08, 0.02)
            return (0.8 * sosfilt(self.band, noise(t.size)) + 0.6 * np.sin(2 * np.pi * 420 * t)) * env
        if pitch in (HAT, PEDAL_HAT, SHAKER):
            t, env = self._env(0.06, 0.015)
            return 0.9 * sosfilt(self.high, noise(t.size)) * env
        if pitch in (OPEN_HAT, RIDE):
            t, env = self._env(0.4, 0.12)
            return 0.4 * sosfilt(self.high, noise(t.size)) * env
        if pitch == CRASH or pitch == 57:
            t, env = self._env(1.5, 0.5)
            return 0.9 * sosfilt(self.high, noise(t.size)) * env
        t, env = self._env(0.1, 0.03)
        return 0.3 * sosfilt(self.band, noise(t.size)) * env


def render(midi: pretty_midi.PrettyMIDI, rate: int, seed: int = 0) -> np.ndarray:
    """Stereo float32 for the whole arrangement: pitched parts slightly spread, drums centred."""
    length = int((midi.get_end_time() + 2.0) * rate)
    out = np.zeros((length, 2), np.float32)
    kit = DrumKit(rate, seed)
    pitched = [i for i in midi.instruments if not i.is_drum]
    for index, instrument in enumerate(pitched):
        audio = instrument.synthesize(fs=rate, wave=_soft_saw)[:length]
        pan = 0.5 + 0.15 * ((index % 3) - 1)  # left, centre, right in turn
        out[: audio.size, 0] += audio * (1 - pan) * 0.2
        out[: audio.size, 1] += audio * pan * 0.2
    for instrument in midi.instruments:
        if not instrument.is_drum:
            continue
        for note in instrument.notes:
            hit = kit.hit(note.pitch) * (note.velocity / 127)
            start = int(note.start * rate)
            end = min(length, start + hit.size)
            out[start:end] += hit[: end - start, None] * 0.8
    peak = float(np.abs(out).max()) or 1.0
    return (out / peak * 0.7).astype(np.float32)

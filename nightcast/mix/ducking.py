"""Sidechain ducking: the music's gain follows the voice, with attack, hold and release.

The detector is the voice itself (RMS over 10 ms hops), so the bed dips where the DJ speaks and
breathes back up in a long pause, instead of one flat gain change over the whole speech span.
Offline, we can look ahead: the attack ramp finishes as the first syllable starts (a broadcast
"pre-duck"), so no consonant is ever masked by a bed still coming down.

The gain curve is a grey dilation of the voice-activity mask with a ramp-shaped structuring
element (attack ahead, flat hold, release behind): one vectorised pass, no per-sample loop.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import grey_dilation

from nightcast.schema import MixSettings

HOP_S = 0.010
VOICE_GATE_DB = -45.0  # dBFS RMS: the voice arrives normalised to about -18 LUFS; breaths and tails fall below this
_INACTIVE = -1e6
_CHUNK = 1 << 18


def voice_activity(voice: np.ndarray, sample_rate: int) -> np.ndarray:
    """One bool per 10 ms hop: is the voice above the gate there."""
    hop = round(HOP_S * sample_rate)
    frames = len(voice) // hop
    if frames == 0:
        return np.zeros(0, bool)
    power = np.square(voice[: frames * hop].reshape(frames, hop).astype(np.float64)).mean(axis=1)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(power) > VOICE_GATE_DB


def duck_amount(active: np.ndarray, mix: MixSettings) -> np.ndarray:
    """0 (full level) … 1 (fully ducked) per hop: a linear attack ramp ending where the voice starts,
    held for duck_hold_ms after it stops, then a linear release."""
    attack = max(1, round(mix.duck_attack_ms / 1000 / HOP_S))
    hold = round(mix.duck_hold_ms / 1000 / HOP_S)
    release = max(1, round(mix.duck_release_ms / 1000 / HOP_S))
    # grey_dilation takes max(input[t - k] + structure[k]); k < 0 looks ahead (attack), k ≥ 0 behind.
    offsets = np.arange(-attack, hold + release + 1)
    ramp = np.where(offsets < 0, 1 + offsets / attack, np.where(offsets <= hold, 1.0, 1 - (offsets - hold) / release))
    size = 2 * max(attack, hold + release) + 1  # centred element: pad the short side with "never"
    structure = np.full(size, _INACTIVE)
    centre = size // 2
    structure[centre + offsets] = ramp
    signal = np.where(active, 0.0, _INACTIVE)
    return np.clip(grey_dilation(signal, structure=structure, mode="constant", cval=_INACTIVE), 0.0, 1.0)


def duck_gain(bed_frames: int, sample_rate: int, voice: np.ndarray, voice_offset_frames: int,
              mix: MixSettings) -> np.ndarray:
    """Per-sample linear gain for a bed of bed_frames, with the voice starting voice_offset_frames
    into it. Interpolated in dB so the ramps sound even."""
    active = voice_activity(voice, sample_rate)
    if not active.any():
        return np.ones(bed_frames, np.float32)
    hop = round(HOP_S * sample_rate)
    pad = round((mix.duck_attack_ms + mix.duck_hold_ms + mix.duck_release_ms) / 1000 / HOP_S) + 2
    padded = np.concatenate([np.zeros(pad, bool), active, np.zeros(pad, bool)])
    amount = duck_amount(padded, mix)
    hop_times = (np.arange(len(padded)) - pad) * hop + voice_offset_frames  # a hop's value holds from its start
    gain = np.empty(bed_frames, np.float32)
    for first in range(0, bed_frames, _CHUNK):  # in chunks: float64 temporaries of a whole bed add up
        frames = np.arange(first, min(first + _CHUNK, bed_frames), dtype=np.float64)
        gain[first : first + len(frames)] = np.power(
            10.0, np.interp(frames, hop_times, amount * mix.duck_db, left=0.0, right=0.0) / 20)
    return gain

"""Shape any generator's raw audio into a bed: exact length, click-free edges, the shared loudness."""

from __future__ import annotations

import numpy as np

from nightcast.audio import Clip, db_to_gain, loudness_normalized, subsonic_removed

BED_LUFS = -20.0  # every bed leaves its generator at the same loudness; the mixer sets its level
BED_PEAK_DBFS = -1.0  # unless that would clip it: a bed of mostly sub-bass or spikes comes out quieter
EDGE_FADE_S = 0.01  # long enough that a cut never clicks, short enough to keep the downbeat


def looped(clip: Clip, duration_s: float, crossfade_s: float = 1.0) -> Clip:
    """Repeat clip with equal-power crossfades until it covers duration_s (for generators with a
    maximum length, such as MusicGen's 30 s)."""
    frames = round(duration_s * clip.sample_rate)
    if clip.frames >= frames or clip.frames == 0:
        return clip
    fade = min(round(crossfade_s * clip.sample_rate), clip.frames // 2)
    phase = np.linspace(0.0, np.pi / 2, fade, dtype=np.float32)[:, None]
    out = clip.samples.copy()
    while out.shape[0] < frames:
        head, tail = clip.samples[:fade] * np.sin(phase), out[-fade:] * np.cos(phase)
        out = np.concatenate([out[:-fade], head + tail, clip.samples[fade:]])
    return Clip(out[:frames].astype(np.float32), clip.sample_rate)


def fit_bed(clip: Clip, duration_s: float, sample_rate: int | None = None, channels: int = 2) -> Clip:
    """Exactly duration_s long (padded or cut), nothing under hearing, faded in and out over
    EDGE_FADE_S, at BED_LUFS, or lower where BED_LUFS would put its peak over BED_PEAK_DBFS."""
    # A mono bed is shaped as mono and spread over `channels` at the end: identical channels would
    # double the resampling, filtering and metering for nothing (MusicGen's beds are mono).
    clip = clip if clip.channels == 1 else clip.as_channels(channels)
    if sample_rate and clip.sample_rate != sample_rate:
        clip = clip.resampled(sample_rate)
    clip = subsonic_removed(clip)
    frames = round(duration_s * clip.sample_rate)
    samples = clip.samples[:frames].copy()
    if samples.shape[0] < frames:
        samples = np.pad(samples, ((0, frames - samples.shape[0]), (0, 0)))
    fade = min(frames // 2, round(EDGE_FADE_S * clip.sample_rate))
    if fade:
        samples[:fade] *= np.linspace(0, 1, fade, dtype=np.float32)[:, None]
        samples[-fade:] *= np.linspace(1, 0, fade, dtype=np.float32)[:, None]
    bed = loudness_normalized(Clip(samples.astype(np.float32), clip.sample_rate), BED_LUFS, played_on=channels)
    peak, ceiling = float(np.abs(bed.samples).max(initial=0.0)), db_to_gain(BED_PEAK_DBFS)
    if peak > ceiling:
        bed = Clip((bed.samples * (ceiling / peak)).astype(np.float32), bed.sample_rate)
    return bed.as_channels(channels)

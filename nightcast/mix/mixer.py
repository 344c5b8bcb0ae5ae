"""Lay speech over music beds: ducking under the voice, equal-power crossfades between sections.

Vectorised numpy over the whole episode: one pass per clip, no per-sample Python, no pydub overlays.
"""

from __future__ import annotations

import numpy as np

from nightcast.audio import Clip, db_to_gain, loudness_normalized, read_clip
from nightcast.mix.timeline import FINAL_FADE_S
from nightcast.schema import MixSettings, MusicClip, SpeechClip, Timeline

SPEECH_LUFS = -18.0  # voice level in the mix before mastering
MUSIC_CLEAR_GAIN_DB = 1.0  # beds arrive at -20 LUFS; in the clear they sit just under the voice


def _equal_power(frames: int, rising: bool) -> np.ndarray:
    phase = np.linspace(0.0, np.pi / 2, frames, dtype=np.float32)
    return np.sin(phase) if rising else np.cos(phase)


def duck_envelope(frames: int, sample_rate: int, offset_s: float, speech: tuple[float, float], mix: MixSettings) -> np.ndarray:
    """Gain curve for a bed starting at offset_s: full level, down to duck_db just before the voice,
    held through the sentences, back up after it with the release time."""
    start, end = speech
    if end <= start:
        return np.ones(frames, np.float32)
    attack, release = mix.duck_attack_ms / 1000, mix.duck_release_ms / 1000
    points_s = np.array([start - attack, start, end, end + release]) - offset_s
    points_db = np.array([0.0, mix.duck_db, mix.duck_db, 0.0])
    t = np.arange(frames, dtype=np.float32) / sample_rate
    return (10 ** (np.interp(t, points_s, points_db, left=0.0, right=0.0) / 20)).astype(np.float32)


def mix_episode(timeline: Timeline, speech: list[SpeechClip], music: list[MusicClip], mix: MixSettings) -> Clip:
    """Mix stage entry: place every bed and voice on the timeline; returns the unmastered stereo mix."""
    rate = mix.sample_rate
    out = np.zeros((round(timeline.duration_s * rate), 2), np.float32)
    speech_by_id = {c.segment_id: c for c in speech}
    music_by_id = {c.segment_id: c for c in music}
    fade = round(mix.crossfade_s * rate)
    last = len(timeline.entries) - 1

    for index, entry in enumerate(timeline.entries):
        start = round(entry.start_s * rate)
        if entry.segment_id in music_by_id:
            bed = read_clip(music_by_id[entry.segment_id].path, rate, 2).samples.copy()
            bed = bed[: max(0, out.shape[0] - start)]
            n = bed.shape[0]
            if index > 0 and fade:
                bed[: min(fade, n)] *= _equal_power(min(fade, n), rising=True)[:, None]
            if index < last and fade:
                tail_start = round((entry.end_s - entry.start_s) * rate)
                span = max(0, min(fade, n - tail_start))
                bed[tail_start : tail_start + span] *= _equal_power(span, rising=False)[:, None]
                bed[tail_start + span :] = 0
            else:
                final = min(n, round(FINAL_FADE_S * rate))
                bed[n - final :] *= np.linspace(1, 0, final, dtype=np.float32)[:, None]
            envelope = duck_envelope(n, rate, entry.start_s, (entry.speech_start_s, entry.speech_end_s), mix)
            out[start : start + n] += bed * envelope[:, None] * db_to_gain(MUSIC_CLEAR_GAIN_DB)
        if entry.segment_id in speech_by_id and entry.speech_end_s > entry.speech_start_s:
            voice = loudness_normalized(read_clip(speech_by_id[entry.segment_id].path, rate, 1), SPEECH_LUFS)
            at = round(entry.speech_start_s * rate)
            n = min(voice.frames, out.shape[0] - at)
            out[at : at + n] += voice.samples[:n]  # mono voice, centred
    return Clip(out, rate)

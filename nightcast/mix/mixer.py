"""Lay speech over music beds: sidechain ducking under the voice, equal-power crossfades between beds.

Streams: segments are summed in order into a small pending buffer, and everything before the next
segment's start is final and goes straight to a float WAV. Memory is one segment's audio, not the
episode's, so a 60-minute mix costs what a 5-minute one does. Vectorised numpy per clip; no
per-sample Python and no pydub overlays (each of which copies the whole episode).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from nightcast.audio import db_to_gain, loudness_normalized, read_clip
from nightcast.mix.ducking import duck_gain
from nightcast.mix.timeline import FINAL_FADE_S
from nightcast.schema import MixedAudio, MixSettings, MusicClip, SpeechClip, Timeline, TimelineEntry

SPEECH_LUFS = -18.0  # voice level in the mix before mastering
# Beds arrive at -20 LUFS. In the clear they sit about 1 LU under the voice, as on music radio:
# the host on top, the music never a step down in level when the talking stops.
MUSIC_CLEAR_GAIN_DB = 3.0


def equal_power(frames: int, rising: bool) -> np.ndarray:
    phase = np.linspace(0.0, np.pi / 2, frames, dtype=np.float32)
    return np.sin(phase) if rising else np.cos(phase)


class _StreamingSum:
    """A float WAV written front to back while clips are added at any position not yet flushed."""

    def __init__(self, path: Path, sample_rate: int, total_frames: int):
        self.file = sf.SoundFile(str(path), "w", sample_rate, 2, subtype="FLOAT")
        self.total = total_frames
        self.base = 0  # frame index of pending[0]; everything before it is on disk
        self.pending = np.zeros((0, 2), np.float32)
        self.peak = 0.0

    def add(self, at: int, samples: np.ndarray) -> None:
        if at < self.base:
            raise ValueError("a clip starts before audio that was already written")
        end = min(at + samples.shape[0], self.total)
        if end <= at:
            return
        grow = end - self.base - self.pending.shape[0]
        if grow > 0:
            self.pending = np.concatenate([self.pending, np.zeros((grow, 2), np.float32)])
        self.pending[at - self.base : end - self.base] += samples[: end - at]

    def flush_before(self, frame: int) -> None:
        count = max(0, min(frame, self.total) - self.base)
        if count == 0:
            return
        block = self.pending[:count]
        if block.shape[0] < count:
            block = np.concatenate([block, np.zeros((count - block.shape[0], 2), np.float32)])
        self.peak = max(self.peak, float(np.abs(block).max()))
        self.file.write(block)
        self.pending = self.pending[count:].copy()
        self.base += count

    def close(self) -> None:
        self.flush_before(self.total)
        self.file.close()


def shaped_bed(bed: np.ndarray, entry: TimelineEntry, fade_in_s: float, is_last: bool, rate: int) -> np.ndarray:
    """Equal-power fade in over the previous crossfade, out over this entry's; the episode's last bed
    fades to silence over FINAL_FADE_S instead."""
    n = bed.shape[0]
    fade_in = min(round(fade_in_s * rate), n)
    if fade_in:
        bed[:fade_in] *= equal_power(fade_in, rising=True)[:, None]
    if is_last:
        final = min(n, round(FINAL_FADE_S * rate))
        bed[n - final :] *= np.linspace(1, 0, final, dtype=np.float32)[:, None]
    else:
        tail_start = min(n, round((entry.end_s - entry.start_s) * rate))
        span = max(0, min(round(entry.crossfade_s * rate), n - tail_start))
        bed[tail_start : tail_start + span] *= equal_power(span, rising=False)[:, None]
        bed[tail_start + span :] = 0
    return bed


def mix_episode(timeline: Timeline, speech: list[SpeechClip], music: list[MusicClip], mix: MixSettings,
                out_wav: Path) -> MixedAudio:
    """Mix stage entry: every bed and voice placed on the timeline, streamed to out_wav (stereo float)."""
    rate = mix.sample_rate
    speech_by_id = {c.segment_id: c for c in speech}
    music_by_id = {c.segment_id: c for c in music}
    out = _StreamingSum(Path(out_wav), rate, round(timeline.duration_s * rate))
    previous_crossfade_s = 0.0
    try:
        for index, entry in enumerate(timeline.entries):
            start = round(entry.start_s * rate)
            out.flush_before(start)
            voice, voice_at = None, round(entry.speech_start_s * rate)
            if entry.segment_id in speech_by_id and entry.speech_end_s > entry.speech_start_s:
                clip = read_clip(speech_by_id[entry.segment_id].path, rate, 1)
                voice = loudness_normalized(clip, SPEECH_LUFS).samples[:, 0]
            if entry.segment_id in music_by_id:
                bed = read_clip(music_by_id[entry.segment_id].path, rate, 2).samples  # a fresh array: shaped in place
                bed = shaped_bed(bed, entry, previous_crossfade_s, index == len(timeline.entries) - 1, rate)
                bed *= np.float32(db_to_gain(MUSIC_CLEAR_GAIN_DB))
                if voice is not None:
                    ducking = mix if entry.duck_db is None else mix.model_copy(update={"duck_db": entry.duck_db})
                    bed *= duck_gain(bed.shape[0], rate, voice, voice_at - start, ducking)[:, None]
                out.add(start, bed)
            if voice is not None:
                out.add(voice_at, voice[:, None])  # mono voice, centred
            previous_crossfade_s = entry.crossfade_s
    finally:
        out.close()
    return MixedAudio(path=str(out_wav), sample_rate=rate, duration_s=out.total / rate, peak=out.peak)

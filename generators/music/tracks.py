"""Play a library track inside a segment's bed: the generated bridge, then the track on its downbeat.

The bridge (any generator, at the track's tempo and key) runs from the segment's start; the track
enters at the planned time, its first downbeat on the bridge's bar line, and the bridge fades out
over one beat underneath it. Both sit at the bed loudness, so the mixer treats the result like any
other bed (ducked under the DJ, who is still talking over the track's intro).
"""

from __future__ import annotations

import numpy as np

from nightcast.audio import Clip, decode_audio
from nightcast.generators.music.fitting import fit_bed
from nightcast.schema import MusicCue

MIN_BRIDGE_S = 1.0


def bridge_length_s(cue: MusicCue, track_at_s: float) -> float:
    """How much the generator must make: up to the track's entry plus the one-beat handover."""
    return max(MIN_BRIDGE_S, track_at_s + 60.0 / cue.bpm)


def lay_track(bridge: Clip, cue: MusicCue, track_at_s: float, duration_s: float) -> Clip:
    """bridge, then cue.track from its start at track_at_s, exactly duration_s long."""
    rate, channels = bridge.sample_rate, bridge.channels
    frames = round(duration_s * rate)
    at = min(frames, round(track_at_s * rate))
    out = np.zeros((frames, channels), np.float32)

    head = bridge.samples[: min(bridge.frames, frames)].copy()
    handover = min(head.shape[0] - at, round(60.0 / cue.bpm * rate)) if head.shape[0] > at else 0
    if handover > 0:
        phase = np.linspace(0.0, np.pi / 2, handover, dtype=np.float32)[:, None]
        head[at: at + handover] *= np.cos(phase)
        head = head[: at + handover]
    out[: head.shape[0]] += head

    if frames > at:
        played_s = (frames - at) / rate
        track = fit_bed(decode_audio(cue.track.path, rate, channels, max_s=played_s), played_s, channels=channels)
        out[at:] += track.samples[: frames - at]
    return Clip(out, rate)

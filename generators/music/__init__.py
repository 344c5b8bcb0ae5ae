"""Music stage: MusicCue + length → MusicClip (a WAV), by a generator chosen by name."""

from __future__ import annotations

import functools
from pathlib import Path

from nightcast.audio import write_clip
from nightcast.errors import StageError
from nightcast.registry import Registry
from nightcast.schema import MusicClip, MusicCue

GENERATORS = Registry("music generator", {"procedural": "generators.music.procedural:ProceduralGenerator"})


@functools.cache
def load_generator(name: str):
    return GENERATORS.create(name)


def make_music(cue: MusicCue, duration_s: float, segment_id: str, out_dir: Path, *, generator: str, seed: int = 0) -> MusicClip:
    """Music stage entry: render one segment's bed (pre-roll + under speech + in the clear + crossfade)."""
    backend = load_generator(generator)
    clip = backend.generate(cue, duration_s, seed=seed)
    if clip.is_silent():
        raise StageError(f"{generator} produced silence for segment {segment_id}")
    path = write_clip(clip, Path(out_dir) / f"music-{segment_id}.wav")
    return MusicClip(segment_id=segment_id, path=str(path), sample_rate=clip.sample_rate, duration_s=clip.duration_s, generator=generator)

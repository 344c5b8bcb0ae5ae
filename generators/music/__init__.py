"""Music stage: MusicCue + length → MusicClip (a WAV), by a generator chosen by name."""

from __future__ import annotations

import functools
from pathlib import Path

from nightcast.audio import Clip, write_clip
from nightcast.errors import StageError
from nightcast.generators.music.base import MusicGenerator
from nightcast.generators.music.tracks import bridge_length_s, lay_track
from nightcast.registry import Registry
from nightcast.schema import MusicClip, MusicCue
from nightcast.settings import Settings

GENERATORS = Registry("music generator", {
    "procedural": "nightcast.generators.music.procedural:ProceduralGenerator",
    "musicgen": "nightcast.generators.music.musicgen:MusicGenGenerator",
    "stems": "nightcast.generators.music.stems:StemsGenerator",
})


@functools.lru_cache(maxsize=8)
def load_generator(name: str, settings: Settings):
    """One generator per configuration, kept: a model loads its weights once per process."""
    return GENERATORS.create(name, settings=settings)


def can_batch(generator: str) -> bool:
    """Declared on the class: asking does not load a model."""
    return GENERATORS.load(generator).batches


def _publish(clip: Clip, segment_id: str, out_dir: Path, generator: str, backend: MusicGenerator,
             sample_rate: int | None) -> MusicClip:
    if clip.is_silent():
        raise StageError(f"{generator} produced silence for segment {segment_id}")
    if sample_rate:  # the chain's one rate (44.1 or 48 kHz), converted once, here, not again at mix time
        clip = clip.resampled(sample_rate)
    path = write_clip(clip, Path(out_dir) / f"music-{segment_id}.wav")
    return MusicClip(segment_id=segment_id, path=str(path), sample_rate=clip.sample_rate, duration_s=clip.duration_s,
                     generator=generator, generator_version=backend.version(), model=backend.model_name)


def make_music(cue: MusicCue, duration_s: float, segment_id: str, out_dir: Path, *, generator: str, seed: int = 0,
               settings: Settings, track_at_s: float | None = None,
               sample_rate: int | None = None) -> MusicClip:
    """Music stage entry: render one segment's bed (pre-roll + under speech + in the clear + crossfade).

    With `track_at_s` (a cue that plays a library track), the generator makes only the bridge, and
    the track enters at that offset."""
    return make_music_batch([cue], [duration_s], [segment_id], out_dir, generator=generator, seeds=[seed],
                            settings=settings, track_at_s=[track_at_s], sample_rate=sample_rate)[0]


def make_music_batch(cues: list[MusicCue], durations_s: list[float], segment_ids: list[str],
                     out_dir: Path | list[Path], *,
                     generator: str, seeds: list[int], settings: Settings,
                     track_at_s: list[float | None] | None = None,
                     sample_rate: int | None = None) -> list[MusicClip]:
    """Many beds from one generator at once, each with its own seed: batched where the generator can
    (MusicGen on a GPU). `out_dir` is one folder for all, or one per bed."""
    backend = load_generator(generator, settings)
    entries = track_at_s or [None] * len(cues)
    plays = [at is not None and cue.track is not None for cue, at in zip(cues, entries)]
    lengths = [bridge_length_s(cue, at) if play else d for cue, d, at, play in zip(cues, durations_s, entries, plays)]
    clips = backend.generate_many(cues, lengths, seeds=seeds)
    clips = [lay_track(clip, cue, at, d) if play else clip
             for clip, cue, at, d, play in zip(clips, cues, entries, durations_s, plays)]
    folders = out_dir if isinstance(out_dir, list) else [out_dir] * len(cues)
    return [_publish(clip, sid, folder, generator, backend, sample_rate)
            for clip, sid, folder in zip(clips, segment_ids, folders)]

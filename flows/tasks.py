"""Prefect tasks: one library call each. Retries sit here; results stay small (paths and models).

Caching and resume across runs come with the orchestration work; until then NO_CACHE keeps
Prefect from hashing large inputs it would never reuse.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from generators.music import make_music, make_music_batch
from generators.music.library import MusicLibrary, scan_library
from generators.script import CoHost, write_script
from nightcast.mix import master_episode, mix_episode
from nightcast.publish.feed import write_feed
from nightcast.settings import Settings
from nightcast.schema import (Chapter, EpisodeTemplate, ListenerProfile, Loudness, MixedAudio, MixSettings, MusicClip,
                              MusicCue,
                              Script, Segment, SpeechClip, Timeline, TimelineEntry)
from voices import speak_segment
from voices.cache import SpeechCache
from voices.presets import VoicePreset


@task(name="scan-library", cache_policy=NO_CACHE, retries=1)
def scan_library_task(folder: Path, cache_dir: Path) -> MusicLibrary:
    return scan_library(folder, cache_dir)


@task(name="write-script", cache_policy=NO_CACHE, retries=1)
def write_script_task(profile: ListenerProfile, template: EpisodeTemplate, date: dt.date, host: VoicePreset,
                      cohost: CoHost | None, settings: Settings, library: MusicLibrary | None = None) -> Script:
    return write_script(profile, template, date, speaker=host.id, words_per_minute=host.words_per_minute,
                        settings=settings, host_name=host.host_name, cohost=cohost,
                        library=library.tracks if library else None)


@task(name="speak-segment", cache_policy=NO_CACHE, retries=1, task_run_name="speak-{segment.id}")
def speak_task(segment: Segment, voices: dict[str, VoicePreset], out_dir: Path, sample_rate: int,
               cache_dir: Path | None) -> SpeechClip:
    return speak_segment(segment, voices, out_dir, sample_rate, cache=SpeechCache(cache_dir) if cache_dir else None)


@task(name="make-music", cache_policy=NO_CACHE, retries=1, task_run_name="music-{entry.segment_id}")
def music_task(cue: MusicCue, entry: TimelineEntry, out_dir: Path, generator: str, seed: int,
               settings: Settings, sample_rate: int | None = None) -> MusicClip:
    return make_music(cue, entry.music_s, entry.segment_id, out_dir, generator=generator, seed=seed, settings=settings,
                      track_at_s=entry.track_offset_s, sample_rate=sample_rate)


@task(name="make-music-batch", cache_policy=NO_CACHE, retries=1, task_run_name="music-batch-{generator}")
def music_batch_task(cues: list[MusicCue], entries: list[TimelineEntry], out_dir: Path, generator: str, seed: int,
                     settings: Settings, sample_rate: int | None = None) -> list[MusicClip]:
    return make_music_batch(cues, [e.music_s for e in entries], [e.segment_id for e in entries], out_dir,
                            generator=generator, seed=seed, settings=settings,
                            track_at_s=[e.track_offset_s for e in entries], sample_rate=sample_rate)


@task(name="mix", cache_policy=NO_CACHE)
def mix_task(timeline: Timeline, speech: list[SpeechClip], music: list[MusicClip], mix: MixSettings,
             out_wav: Path) -> MixedAudio:
    return mix_episode(timeline, speech, music, mix, out_wav)


@task(name="master", cache_policy=NO_CACHE)
def master_task(mixed: MixedAudio, out: Path, mix: MixSettings, chapters: list[Chapter],
                tags: dict[str, str], cover: Path | None = None) -> Loudness:
    return master_episode(mixed, out, mix, chapters, tags, cover)


@task(name="publish-feed", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def publish_feed_task(listener_dir: Path, profile: ListenerProfile, public_url: str) -> Path:
    return write_feed(listener_dir, profile, public_url)

"""Prefect tasks: one library call each. Retries sit here; results stay small (paths and models).

Script, speech and music are cached by their inputs (flows/caching.py), so a re-run reuses them.
The master is cached by what went into the mix (`StageCache.mix_key`), so a re-render whose mix would
come out the same skips the mix and the master both; the float mix itself is never kept.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from nightcast.episode_store import EpisodeStore
from nightcast.flows.caching import StageFolder, StageInputs, check_key_names
from nightcast.flows.ledger import write_sentence_keys
from nightcast.generators.music import make_music, make_music_batch
from nightcast.generators.music.library import MusicLibrary, scan_library
from nightcast.generators.script import CoHost, ScriptRequest, script_request, write_scripts
from nightcast.generators.script.memory import EpisodeMemory
from nightcast.mix import master_episode, mix_episode
from nightcast.publish.feed import write_feed
from nightcast.schema import (
    Chapter,
    EpisodeTemplate,
    ListenerProfile,
    MasteredAudio,
    MixedAudio,
    MixSettings,
    MusicClip,
    MusicCue,
    Script,
    Segment,
    SpeechClip,
    Steering,
    Timeline,
    TimelineEntry,
)
from nightcast.settings import Settings
from nightcast.voices import speak_segment
from nightcast.voices.cache import SpeechCache
from nightcast.voices.presets import VoicePreset


@task(name="scan-library", cache_policy=NO_CACHE, retries=1)
def scan_library_task(folder: Path, cache_dir: Path) -> MusicLibrary:
    return scan_library(folder, cache_dir)


# The settings each stage reads: its cache key. (The voice and generator choices arrive resolved,
# as the presets and generator names the tasks are given.)
WRITER_SETTINGS = ("settings.writer", "settings.writer_model", "settings.writer_url", "settings.generation")


@task(name="write-script", retries=1,
      cache_policy=StageInputs(stage="script", inputs=("profile", "template", "date", "host", "cohost", "memory",
                                                       "library", "steering", *WRITER_SETTINGS),
                               folders=("settings.templates_dir",)))
def write_script_task(profile: ListenerProfile, template: EpisodeTemplate, date: dt.date, host: VoicePreset,
                      cohost: CoHost | None, settings: Settings, memory: EpisodeMemory,
                      library: MusicLibrary | None = None, steering: Steering | None = None) -> Script:
    return write_scripts([script_request_of(profile, template, date, host, cohost, settings, memory, library,
                                            steering)], settings)[0]


def script_request_of(profile: ListenerProfile, template: EpisodeTemplate, date: dt.date, host: VoicePreset,
                      cohost: CoHost | None, settings: Settings, memory: EpisodeMemory,
                      library: MusicLibrary | None = None, steering: Steering | None = None) -> ScriptRequest:
    """What write_script_task asks the writer for: the nightly's script phase asks for many at once."""
    return script_request(profile, template, date, speaker=host.id, words_per_minute=host.words_per_minute,
                          settings=settings, memory=memory, host_name=host.host_name, cohost=cohost,
                          library=library.tracks if library else None, steering=steering)


@task(name="write-scripts", cache_policy=NO_CACHE, task_run_name="write-scripts-{n}-listeners")
def write_scripts_task(requests: list[ScriptRequest], settings: Settings, n: int) -> list[Script]:
    return write_scripts(requests, settings)


@task(name="speak-segment", retries=1, task_run_name="speak-{segment.id}",
      cache_policy=StageInputs(stage="speech", inputs=("segment.id", "segment.speaker", "segment.text",
                                                       "segment.lines", "voices", "sample_rate", "seed")))
def speak_task(segment: Segment, voices: dict[str, VoicePreset], folder: StageFolder, sample_rate: int,
               cache_dir: Path | None, seed: int = 0) -> SpeechClip:
    sentences = SpeechCache(cache_dir) if cache_dir else None
    out = folder.path()
    clip = speak_segment(segment, voices, out, sample_rate, seed=seed, cache=sentences)
    if sentences is not None:
        write_sentence_keys(out, sentences.used)  # whose sentences these are goes with the clip
    return clip


MUSIC_INPUTS = ("generator", "sample_rate", "settings.music_model", "settings.music_stems",
                "settings.musicgen")


@task(name="make-music", retries=1, task_run_name="music-{entry.segment_id}",
      cache_policy=StageInputs(stage="music", inputs=("cue", "entry.segment_id", "entry.music_s",
                                                      "entry.track_offset_s", "seed", *MUSIC_INPUTS)))
def music_task(cue: MusicCue, entry: TimelineEntry, folder: StageFolder, generator: str, seed: int,
               settings: Settings, sample_rate: int | None = None) -> MusicClip:
    return make_music(cue, entry.music_s, entry.segment_id, folder.path(), generator=generator, seed=seed,
                      settings=settings, track_at_s=entry.track_offset_s, sample_rate=sample_rate)


@task(name="make-music-batch", retries=1, task_run_name="music-batch-{generator}",
      cache_policy=StageInputs(stage="music-batch", inputs=("cues", "entries.segment_id", "entries.music_s",
                                                            "entries.track_offset_s", "seeds", *MUSIC_INPUTS)))
def music_batch_task(cues: list[MusicCue], entries: list[TimelineEntry], folder: StageFolder, generator: str,
                     seeds: list[int], settings: Settings, sample_rate: int | None = None) -> list[MusicClip]:
    return make_music_batch(cues, [e.music_s for e in entries], [e.segment_id for e in entries], folder.path(),
                            generator=generator, seeds=seeds, settings=settings,
                            track_at_s=[e.track_offset_s for e in entries], sample_rate=sample_rate)


@task(name="mix", cache_policy=NO_CACHE)
def mix_task(timeline: Timeline, speech: list[SpeechClip], music: list[MusicClip], mix: MixSettings,
             out_wav: Path) -> MixedAudio:
    return mix_episode(timeline, speech, music, mix, out_wav)


@task(name="master", cache_policy=StageInputs(stage="master", inputs=("mix_key", "name", "mix", "chapters", "tags"),
                                              files=("cover",)))
def master_task(mixed: MixedAudio | None, folder: StageFolder, name: str, mix: MixSettings, chapters: list[Chapter],
                tags: dict[str, str], cover: Path | None, mix_key: str | None) -> MasteredAudio:
    """`mix_key`: the mix's inputs (StageCache.mix_key), which key the result, so that a cached master
    is found before the mix is made (`mixed` is not needed then)."""
    if mixed is None:
        raise ValueError("the master is not in the cache and no mix was given")
    out = folder.path() / name
    return MasteredAudio(path=str(out), loudness=master_episode(mixed, out, mix, chapters, tags, cover))


@task(name="publish-feed", cache_policy=NO_CACHE, retries=2, retry_delay_seconds=1)
def publish_feed_task(store: EpisodeStore, profile: ListenerProfile, public_url: str) -> Path:
    return write_feed(store, profile, public_url)


check_key_names(write_script_task, speak_task, music_task, music_batch_task, master_task)

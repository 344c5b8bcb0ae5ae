"""The nightly run's batched phases: a chunk of listeners' heavy stages, stage by stage.

A render sends the GPU one listener at a time, and a GPU decoder step costs about the same for one
row as for sixty-four. So for each chunk of `nightly_batch_listeners` listeners the nightly first
runs the `batch-heavy-stages` flow:

1. **script**: every listener's script in one `write_many` call of an LLM writer that batches
   (the transformers writer fills its `batch_size` rows with many listeners' segments);
2. **speech**: every sentence of the chunk in a voice whose engine batches, synthesised into the
   sentence cache in batched calls; then each episode's speech assembled from it;
3. **music**: each episode's timeline planned, then every bed of a batching generator (MusicGen)
   in cross-episode batches, sorted into length buckets by the generator.

Each phase leaves its results in the stage cache under exactly the keys each listener's
`render-episode` run computes, so that run finds script, speech and music cached and only mixes,
masters, checks and publishes. Results are the same as a listener's render alone would make:
every batched backend draws each row from its own seed. A phase batches only what batches (an
LLM writer, a batching voice, a batching generator); anything else, and any listener whose
preparation fails, is left to its own render, which succeeds or fails on its own.

With `gpu_dispatch: pool` the flow runs as a run of its `batch-heavy-stages/gpu` deployment on a
`gpu` pool worker, like the renders' heavy stages, and does everything there (no further dispatch);
the heavy calls hold the `nightcast-gpu` limit either way.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections import defaultdict
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from pydantic import BaseModel

from nightcast.flows.caching import StageCache, StageFolder
from nightcast.flows.episode import music_requests, render_speech, script_inputs
from nightcast.flows.gpu_stages import (
    GPU_DEPLOYMENT,
    SECRETS,
    dispatch_to_pool,
    gpu_slot,
    music_batch_args,
    music_is_heavy,
    speech_is_heavy,
)
from nightcast.flows.runners import ConfiguredTaskRunner
from nightcast.flows.tasks import music_batch_task, script_request_of, write_script_task, write_scripts_task
from nightcast.generators.music import can_batch, make_music_batch
from nightcast.generators.script import WRITERS
from nightcast.render.job import RenderJob, episode_timeline, prepare_render
from nightcast.render.request import RenderRequest
from nightcast.schema import MusicClip, Script, SpeechClip
from nightcast.settings import Settings
from nightcast.voices import sentences_to_speak, synthesize_ahead
from nightcast.voices.cache import SpeechCache


class PhaseReport(BaseModel):
    chunk: int
    phase: Literal["script", "speech", "music"]
    listeners: int  # whose work this phase batched
    items: int  # scripts written, sentences synthesised, beds generated (cached ones not counted)
    # scripts per write_many call, sentences per TTS forward pass, beds per generator call (which the
    # generator sorts by length and splits into `musicgen.batch_size` rows)
    batches: list[int]
    seconds: float


@dataclass
class _Episode:
    """One listener's way through the phases."""

    job: RenderJob
    script_args: tuple
    script: Script | None = None
    speech: list[SpeechClip] = field(default_factory=list)


def _prepare(listeners: list[str], date: dt.date | None, template: str | None, settings: Settings) -> list[_Episode]:
    episodes = []
    for who in listeners:
        try:
            request = RenderRequest(listener=who, template=template, date=date)
            job = prepare_render(request.listener, request.template, request.date, settings)
            if _batches_anything(job):  # else its render does it all, as it would anyway
                episodes.append(_Episode(job=job, script_args=script_inputs(job)))
        except Exception as exc:  # noqa: BLE001 - its own render reports it, with the same message
            print(f"stage-major: {who} left to its own render: {type(exc).__name__}: {exc}")
    return episodes


def _heavy(is_heavy: bool, settings: Settings):
    return gpu_slot(settings) if is_heavy else nullcontext()


def script_phase(episodes: list[_Episode], cache: StageCache, chunk: int) -> PhaseReport | None:
    """Every script a batching writer writes, in one write_many call per configuration."""
    started = time.perf_counter()
    groups: dict[Settings, list[_Episode]] = defaultdict(list)
    for episode in episodes:
        settings = episode.job.settings
        if WRITERS.load(settings.writer).batches and not cache.holds(write_script_task, episode.script_args):
            groups[settings].append(episode)
    batches = []
    for settings, group in groups.items():
        requests = [script_request_of(*episode.script_args) for episode in group]
        with _heavy(WRITERS.load(settings.writer).runs_on_gpu, settings):
            scripts = write_scripts_task(requests, settings, len(requests))
        for episode, script in zip(group, scripts):
            cache.prefill(write_script_task, episode.script_args, script)
        batches.append(len(requests))
    for episode in episodes:  # cached now, or written the ordinary way (the template writer: cheap)
        [episode.script] = cache.run("script", write_script_task, [episode.script_args])
    if not batches:
        return None
    return PhaseReport(chunk=chunk, phase="script", listeners=sum(batches), items=sum(batches), batches=batches,
                       seconds=round(time.perf_counter() - started, 3))


@task(name="synthesize-ahead", cache_policy=NO_CACHE, task_run_name="synthesize-{n}-sentences")
def synthesize_ahead_task(sentences: list, cache: SpeechCache, n: int) -> list[int]:
    return synthesize_ahead(sentences, cache)


def speech_phase(episodes: list[_Episode], cache: StageCache, folder: StageFolder, chunk: int,
                 assemble: bool) -> PhaseReport | None:
    """Every sentence in a batching voice into the sentence cache; then, with `assemble` (the music
    phase needs each episode's timeline), each episode's speech from it."""
    started = time.perf_counter()
    rows: list[int] = []
    listeners = 0
    groups: dict[Settings, list[_Episode]] = defaultdict(list)
    for episode in episodes:
        groups[episode.job.settings].append(episode)
    for settings, group in groups.items():
        if settings.speech_cache_dir() is None:
            continue
        sentences = [item for episode in group for segment in episode.script.segments
                     for item in sentences_to_speak(segment, episode.job.voices)]
        with _heavy(any(speech_is_heavy(e.job.voices) for e in group), settings):
            made = synthesize_ahead_task(sentences, SpeechCache(settings.speech_cache_dir()), len(sentences))
        rows += made
        listeners += len(group) if made else 0
    for episode in episodes if assemble else []:  # from the sentence cache; the render finds these cached
        episode.speech = render_speech(episode.job, episode.script.segments, folder, cache)
    if not rows:
        return None
    return PhaseReport(chunk=chunk, phase="speech", listeners=listeners, items=sum(rows), batches=rows,
                       seconds=round(time.perf_counter() - started, 3))


@task(name="make-beds", cache_policy=NO_CACHE, task_run_name="make-{n}-beds-{generator}")
def make_beds_task(requests: list, settings: Settings, generator: str, n: int) -> list[list[MusicClip]]:
    """Many episodes' beds in one batched call; each episode's clips land in its own stage folder."""
    cues, lengths, ids, seeds, folders, offsets = [], [], [], [], [], []
    for request, folder in requests:
        for cue, entry, seed in zip(request.cues, request.entries, request.seeds):
            cues.append(cue)
            lengths.append(entry.music_s)
            ids.append(entry.segment_id)
            seeds.append(seed)
            folders.append(folder)
            offsets.append(entry.track_offset_s)
    clips = make_music_batch(cues, lengths, ids, folders, generator=generator, seeds=seeds, settings=settings,
                             track_at_s=offsets, sample_rate=requests[0][0].sample_rate)
    per_episode, at = [], 0
    for request, _ in requests:
        per_episode.append(clips[at:at + len(request.cues)])
        at += len(request.cues)
    return per_episode


def music_phase(episodes: list[_Episode], cache: StageCache, folder: StageFolder, chunk: int) -> PhaseReport | None:
    """Every bed of a batching generator, across the chunk's episodes, in one generator call each."""
    started = time.perf_counter()
    groups: dict[tuple, list[tuple]] = defaultdict(list)
    for episode in episodes:
        job = episode.job
        timeline = episode_timeline(job, episode.script, episode.speech)
        for request in music_requests(job, episode.script, timeline, folder):
            args = music_batch_args(request, job.settings)
            if request.batched and not cache.holds(music_batch_task, args):
                groups[(request.generator, request.sample_rate, job.settings)].append(
                    (request, args, cache.stage_dir(music_batch_task, args), job.profile.id))
    batches, listeners = [], set()
    for (generator, _, settings), group in groups.items():
        beds = sum(len(request.cues) for request, *_ in group)
        with _heavy(music_is_heavy(generator), settings):
            clips = make_beds_task([(request, where) for request, _, where, _ in group], settings, generator, beds)
        for (_, args, _, _), episode_clips in zip(group, clips):
            cache.prefill(music_batch_task, args, episode_clips)
        batches.append(beds)
        listeners.update(who for _, _, _, who in group)
    if not batches:
        return None
    return PhaseReport(chunk=chunk, phase="music", listeners=len(listeners), items=sum(batches), batches=batches,
                       seconds=round(time.perf_counter() - started, 3))


def _batches_anything(job: RenderJob) -> bool:
    """Whether any of this render's backends batches (known before its script is written)."""
    from nightcast.voices import ENGINES

    return (WRITERS.load(job.settings.writer).batches
            or any(ENGINES.load(preset.engine).batches for preset in job.voices.values())
            or any(can_batch(generator) for generator in job.generators))


def why_not_batched(settings: Settings) -> str | None:
    """Why the chunk's heavy stages cannot be batched ahead here (None: they can)."""
    if settings.nightly_batch_listeners <= 1:
        return "nightly_batch_listeners is 1"
    if not settings.stage_cache:
        return "the stage cache is off (the phases hand their results to the renders through it)"
    return None


@flow(name="batch-heavy-stages", flow_run_name="chunk-{chunk}", task_runner=ConfiguredTaskRunner(), log_prints=True,
      persist_result=True)
def batch_heavy_stages(listeners: list[str], chunk: int, date: dt.date | None = None, template: str | None = None,
                       settings: dict | None = None) -> list[dict]:
    """Script, speech and music for a chunk of listeners, batched across them, into the stage cache.

    `settings`: the nightly's, which its renders use too (so both compute the same cache keys); a
    worker adds its own secrets. Returns each phase's report as JSON: with `gpu_dispatch: pool` this
    runs on a `gpu` pool worker (deployment `batch-heavy-stages/gpu`), which may run another build."""
    here = Settings.from_env(**{**(settings or {}), "gpu_dispatch": "local"})  # already where it runs
    episodes = _prepare(listeners, date, template, here)
    if not episodes:  # the embedded CPU backends batch nothing: the renders do it all, as they would
        return []
    cache = StageCache(episodes[0].job.settings)
    reports = []
    with tempfile.TemporaryDirectory(prefix="nightcast-phases-") as work:
        folder = cache.folder(work)  # its fallback is never used: the phases need the stage cache
        reports.append(script_phase(episodes, cache, chunk))
        music_batches = any(can_batch(e.job.generator_for(segment.cue)) for e in episodes
                            for segment in e.script.segments)
        reports.append(speech_phase(episodes, cache, folder, chunk, assemble=music_batches))
        if music_batches:
            reports.append(music_phase(episodes, cache, folder, chunk))
    done = [r for r in reports if r is not None]
    for report in done:
        print(f"stage-major: chunk {chunk} {report.phase}: {report.items} made for {report.listeners} listeners "
              f"in {report.seconds:.1f} s, batches {report.batches}")
    return [report.model_dump(mode="json") for report in done]


def run_batch_ahead(listeners: list[str], chunk: int, date: dt.date | None, template: str | None,
                    settings: Settings) -> list[PhaseReport]:
    """The chunk's phases here, or (`gpu_dispatch: pool`) as a flow run on a `gpu` pool worker."""
    shared = settings.model_dump(mode="json", exclude=SECRETS)
    if settings.gpu_dispatch != "pool":
        reports = batch_heavy_stages(listeners, chunk, date=date, template=template, settings=shared)
    else:
        from nightcast.errors import StageError

        name = f"{batch_heavy_stages.name}/{GPU_DEPLOYMENT}"
        run = dispatch_to_pool(name, {"listeners": listeners, "chunk": chunk, "date": date, "template": template,
                                      "settings": shared}, settings)
        if run is None:
            raise StageError(f"{name}: the gpu pool did not take the chunk")
        if not run.state.is_completed():
            raise StageError(f"{name} ended {run.state.name}: {run.state.message or 'see the flow run in the UI'}")
        reports = run.state.result()
    return [PhaseReport.model_validate(report) for report in reports]

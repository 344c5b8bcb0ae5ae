"""The `render-episode` flow: profile → script → speech → music → mix → episode.

Runs in Prefect's local ephemeral mode with no server, and shows up in a server's UI when
PREFECT_API_URL points to one.
"""

from __future__ import annotations

import datetime as dt
import shutil
import time
from functools import partial
from pathlib import Path
from typing import NamedTuple

from prefect import flow
from prefect.futures import PrefectFuture
from pydantic import BaseModel

from nightcast.episode_store import episode_files
from nightcast.errors import ListenerErased
from nightcast.flows.caching import StageCache, StageFolder, place
from nightcast.flows.gpu_stages import MusicRequest, SpeechRequest, run_music, run_speech
from nightcast.flows.qa_gate import keep_failed_report, listen_task, meter_task, qa_task, rate_voices_task
from nightcast.flows.runners import ConfiguredTaskRunner
from nightcast.flows.tasks import master_task, mix_task, publish_feed_task, scan_library_task, write_script_task
from nightcast.generators.music import can_batch
from nightcast.generators.script.memory import recall
from nightcast.mix import spoken_segments
from nightcast.progress import stage
from nightcast.publish import chapters_for
from nightcast.publish.changes import what_changed
from nightcast.publish.files import write_cover, write_episode_files
from nightcast.qa import QAFailed, after_retry, plan_retry
from nightcast.qa.retry import RESYNTHESIS_SEED
from nightcast.render.job import RenderJob, describe_backends, episode_timeline, prepare_render
from nightcast.render.request import Backends, RenderRequest
from nightcast.schema import (
    Chapter,
    Loudness,
    MusicClip,
    QAReport,
    Script,
    Segment,
    SpeechClip,
    SpokenSegment,
    Timeline,
)
from nightcast.steering import mark_used


def render_speech(job: RenderJob, segments: list[Segment], folder: StageFolder, cache: StageCache,
                  seed: int = 0) -> list[SpeechClip]:
    """The one road into speech, for the first pass and a QA retry alike: the GPU slot, the gpu pool
    and the stage cache apply to both."""
    request = SpeechRequest(segments=segments, voices=job.voices, folder=folder, seed=seed,
                            sample_rate=job.template.mix.sample_rate, speech_cache=job.settings.speech_cache_dir())
    return run_speech(request, job.settings, cache)


def script_inputs(job: RenderJob) -> tuple:
    """write_script_task's arguments for this render: the nightly's script phase computes the same."""
    library = scan_library_task(job.library_dir, job.settings.cache_root()) if job.library_dir else None
    memory = recall(job.settings.outputs_dir, job.profile.id, job.date, job.settings.memory_days)
    return (job.profile, job.template, job.date, job.preset, job.cohost_request(), job.settings, memory, library,
            job.steering)


def music_requests(job: RenderJob, script: Script, timeline: Timeline, folder: StageFolder) -> list[MusicRequest]:
    """Every bed, grouped by generator: one batched request for a generator that batches (MusicGen),
    one bed at a time for the others. A bed's seed is its segment's place in the episode."""
    groups: dict[str, list[int]] = {}
    for index, segment in enumerate(script.segments):
        groups.setdefault(job.generator_for(segment.cue), []).append(index)
    return [MusicRequest(cues=[script.segments[i].cue for i in indices], entries=[timeline.entries[i] for i in indices],
                         seeds=indices, generator=generator, batched=can_batch(generator), folder=folder,
                         sample_rate=job.template.mix.sample_rate)
            for generator, indices in groups.items()]


def render_music(job: RenderJob, script: Script, timeline: Timeline, folder: StageFolder,
                 cache: StageCache) -> list[MusicClip]:
    clips: dict[str, MusicClip] = {}
    for request in music_requests(job, script, timeline, folder):
        clips.update((clip.segment_id, clip) for clip in run_music(request, job.settings, cache))
    return [clips[segment.id] for segment in script.segments]


class RenderedAudio(BaseModel):
    path: Path
    timeline: Timeline
    chapters: list[Chapter]
    loudness: Loudness
    spoken: list[SpokenSegment]
    music: list[MusicClip]


class Listening(NamedTuple):
    """The QA gate's work already under way: ASR of the mix, and the voices' predicted MOS (None when off).
    `heard_before`: the ASR came from the cache (the same mix was heard by an earlier render)."""

    hearing: PrefectFuture
    voices: PrefectFuture | None
    heard_before: bool = False


def render_audio(job: RenderJob, script: Script, speech: list[SpeechClip], folder: StageFolder, cache: StageCache,
                 out: Path, cover: Path | None, timings: dict[str, float],
                 ducking: dict[str, float] | None = None) -> tuple[RenderedAudio, Listening | None]:
    """speech → timeline → music → mix → master: everything after the voices, redone whole when a
    voice is synthesised again (its length moves every later segment). `ducking`: per segment, its
    music's gain under the voice in place of the format's.

    The master (and the ASR of the mix) is cached by what goes into the mix: when an earlier render
    made the same mix, neither the mix nor the master runs again. With QA on, the voices' MOS is
    predicted from here on and ASR starts listening to the mix as the master begins; their futures
    come back with the audio."""
    mix = job.template.mix
    qa = job.settings.qa
    voices = rate_voices_task.submit(speech) if qa.enabled and qa.voice_quality else None
    timeline = episode_timeline(job, script, speech)
    if ducking:
        timeline = timeline.model_copy(update={"entries": [
            e.model_copy(update={"duck_db": ducking[e.segment_id]}) if e.segment_id in ducking else e
            for e in timeline.entries]})
    spoken = spoken_segments(speech, timeline)
    with stage("music", timings):
        music_clips = render_music(job, script, timeline, folder, cache)
    chapters = chapters_for(script, timeline)
    tags = {"title": script.title, "artist": job.template.title, "album": f"nightcast: {job.profile.name}",
            "date": job.date.isoformat(), "genre": "Podcast"}
    mix_key = cache.mix_key(timeline, speech, music_clips, mix)
    mix_wav = folder.fallback / "mix.wav"
    master_args = (None, folder, out.name, mix, chapters, tags, cover, mix_key)
    listen_args = (mix_wav, spoken, qa, mix_key)
    made_before = (mix_key is not None and cache.holds(master_task, master_args)
                   and (not qa.enabled or cache.holds(listen_task, listen_args)))
    if made_before:
        timings["mix"] = 0.0
        cache.count("mix", cached=True)
    else:
        with stage("mix", timings):
            mixed = mix_task(timeline, speech, music_clips, mix, mix_wav)
        cache.count("mix", cached=False)
        master_args = (mixed, *master_args[1:])
    hearing = None
    if qa.enabled:
        if mix_key is not None:
            cache.note([cache.key_for(listen_task, listen_args)])
        hearing = cache.task(listen_task, mix_key is not None).submit(*listen_args)
    with stage("master", timings):
        [mastered] = cache.run("master", master_task, [master_args], cacheable=mix_key is not None)
        place(mastered.path, out)
    listening = Listening(hearing, voices, heard_before=made_before) if hearing else None
    return RenderedAudio(path=out, timeline=timeline, chapters=chapters, loudness=mastered.loudness, spoken=spoken,
                         music=music_clips), listening


def check_quality(job: RenderJob, script: Script, speech: list[SpeechClip], episode: RenderedAudio,
                  listening: Listening) -> QAReport:
    """The gate's verdict: meters on the encoded file while ASR of the mix finishes, then the checks.
    A failed ASR, MOS or meter raises its own error here (a task given a failed future would not run)."""
    meters = meter_task.submit(episode.path, job.settings.qa)
    heard = listening.hearing.result()
    voice_scores = listening.voices.result() if listening.voices else None
    return qa_task(episode, script, job, speech, heard, meters.result(), voice_scores)


def quality_gate(job: RenderJob, script: Script, speech: list[SpeechClip], episode: RenderedAudio,
                 listening: Listening, rerender, folder: StageFolder, cache: StageCache,
                 timings: dict[str, float]) -> tuple[QAReport, list[SpeechClip], RenderedAudio]:
    """Check; retry once what the policy (nightcast.qa.retry) says; raise QAFailed, keeping the report
    beside the episode's place, if a hard check still fails. `rerender(speech, ducking)` makes the
    episode's audio again."""
    qa = job.settings.qa
    with stage("qa", timings):
        report = check_quality(job, script, speech, episode, listening)
    if not listening.heard_before:
        timings["qa_asr"] = report.asr_seconds  # inside qa: mostly beside the master
    plan = plan_retry(report, qa, job.template.mix.duck_db)
    if plan:
        with stage("qa_retry", timings):  # the first pass's stage timings stay as they were
            if plan.resynthesise:
                print(f"qa: synthesising {', '.join(plan.resynthesise)} again (WER over {qa.wer_retry}, "
                      "or a predicted MOS under the voice's retry threshold)")
                again = render_speech(job, [s for s in script.segments if s.id in plan.resynthesise], folder, cache,
                                      seed=RESYNTHESIS_SEED)
                retaken = {clip.segment_id: clip for clip in again}
                speech = [retaken.get(clip.segment_id, clip) for clip in speech]
            if plan.remix:
                print(f"qa: the music masked {', '.join(plan.remix)}: mixing it again, ducked deeper")
            episode, listening = rerender(speech, ducking=plan.ducking)
            report = after_retry(report, check_quality(job, script, speech, episode, listening), plan)
    if not report.passed:
        keep_failed_report(job.store, job.profile.id, job.episode_id, report)
        raise QAFailed(report)
    return report, speech, episode


@flow(name="render-episode", task_runner=ConfiguredTaskRunner(), log_prints=True)
def render_episode(listener: str, template: str | None = None, date: dt.date | None = None,
                   backends: Backends | None = None, out_dir: str | None = None, qa: bool | None = None,
                   request: str | None = None) -> str:
    """Render one listener's episode; returns the finished episode directory.

    The parameters are a RenderRequest's fields (nightcast/render/request.py says what each means),
    plus `out_dir`, where this worker writes outputs (default: the outputs_dir setting)."""
    asked = RenderRequest(listener=listener, template=template, date=date, backends=backends, qa=qa, request=request)
    job = prepare_render(asked.listener, asked.template, asked.date, asked.settings(out_dir), request_text=asked.request)
    with job.store.rendering(job.profile.id, job.episode_id, job.settings.render_lock_wait_s):
        return _render_alone(job)


def _render_alone(job: RenderJob) -> str:
    """The render itself, with no other render of this episode running (render_episode holds its lock)."""
    mix = job.template.mix
    started = time.time()
    timings: dict[str, float] = {}
    cache = StageCache(job.settings, owner=job.profile.id)
    # read again under the render's lock: a render that finished since prepare_render is the one to keep from
    job = job.model_copy(update={"previous": job.store.previous_render(job.profile.id, job.episode_id)})
    with stage("script", timings):
        [script] = cache.run("script", write_script_task, [script_inputs(job)])
    with job.store.building(job.profile.id, job.episode_id) as build_dir:
        work = build_dir / "work"
        work.mkdir()
        folder = cache.folder(work)
        with stage("speech", timings):
            speech = render_speech(job, script.segments, folder, cache)
        files = episode_files(mix.format)
        cover = write_cover(build_dir, script, job.profile.name, job.template.title)
        episode, listening = render_audio(job, script, speech, folder, cache, build_dir / files["audio"], cover,
                                          timings)
        report = None
        if job.settings.qa.enabled:
            rerender = partial(render_audio, job, script, folder=folder, cache=cache, out=build_dir / files["audio"],
                               cover=cover, timings={})
            report, speech, episode = quality_gate(job, script, speech, episode, listening, rerender, folder, cache,
                                                   timings)
        shutil.rmtree(work)
        write_episode_files(build_dir, script=script, speech=speech, timeline=episode.timeline,
                            chapters=episode.chapters, loudness=episode.loudness,
                            backends=describe_backends(job, script, speech, episode.music), timings=timings,
                            listener_name=job.profile.name, show=job.template.title, target_lufs=mix.target_lufs,
                            language=job.profile.locale,
                            speaker_names={p.id: p.host_name for p in job.voices.values()}, files=files,
                            stage_cache=cache.counts, spoken=episode.spoken, qa=report,
                            requests=job.steering.requests,
                            changes=what_changed(job.previous, script, episode.timeline))
        if job.store.erased_since(job.profile.id, started):  # `nightcast listeners forget` ran meanwhile
            raise ListenerErased(f"listener {job.profile.id}'s data was erased during this render; "
                                 "nothing was published")
    publish_feed_task(job.store, job.profile, job.settings.public_url)
    mark_used(job.settings.profile_store(), job.steering, job.episode_id)
    return str(job.episode_dir)

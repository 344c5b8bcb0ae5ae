"""Speech and music stages, run here or on the `gpu` work pool, never more at once than the GPU takes.

A stage is heavy when its backend says `runs_on_gpu` (transformers/Coqui TTS, MusicGen). Heavy
stages hold a slot of the Prefect global concurrency limit `nightcast-gpu` (`gpu_concurrency`,
default 1) while they work, so renders on any number of workers never oversubscribe one GPU.

With `gpu_dispatch: pool` a heavy stage becomes a flow run of its deployment (`speech-stage/gpu`,
`music-stage/gpu`), which `nightcast deploy` puts on the `gpu` work pool: it runs on whichever
machine runs `prefect worker start --pool gpu`. Workers share the outputs and cache folders, and
Prefect's result storage, at the same paths (a shared volume). Light stages (the embedded CPU
voices and generators) always run in the render itself.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

from prefect import flow, get_client
from prefect.client.schemas.objects import StateType
from prefect.deployments import run_deployment
from prefect.states import Cancelled
from pydantic import BaseModel, ConfigDict

from nightcast.breaker import breaker_for
from nightcast.errors import StageError
from nightcast.flows.caching import StageCache, StageFolder
from nightcast.flows.limits import held_slot
from nightcast.flows.tasks import music_batch_task, music_task, speak_task
from nightcast.schema import MusicClip, MusicCue, Segment, SpeechClip, TimelineEntry
from nightcast.settings import Settings
from nightcast.voices.presets import VoicePreset

GPU_LIMIT = "nightcast-gpu"
GPU_DEPLOYMENT = "gpu"  # speech-stage/gpu and music-stage/gpu
SECRETS = {"writer_api_key", "api_tokens"}  # never in flow-run parameters; a worker has its own


class SpeechRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    segments: list[Segment]
    voices: dict[str, VoicePreset]
    folder: StageFolder
    sample_rate: int
    speech_cache: Path | None = None
    seed: int = 0  # a QA retry asks for another take


class MusicRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    cues: list[MusicCue]
    entries: list[TimelineEntry]
    seeds: list[int]  # one per bed
    generator: str
    batched: bool
    folder: StageFolder
    sample_rate: int | None = None


class StageOutcome(BaseModel):
    clips: list[SpeechClip] | list[MusicClip]
    counts: dict[str, int]  # ran / cached
    gpu_slot_s: tuple[float, float] | None = None  # when this stage held the GPU (epoch seconds)


def speak(request: SpeechRequest, cache: StageCache) -> list[SpeechClip]:
    return cache.run("speech", speak_task, [(segment, request.voices, request.folder, request.sample_rate,
                                              request.speech_cache, request.seed) for segment in request.segments])


def music_batch_args(request: MusicRequest, settings: Settings) -> tuple:
    """music_batch_task's arguments for a batched request: its cache key's inputs."""
    return (request.cues, request.entries, request.folder, request.generator, request.seeds, settings,
            request.sample_rate)


def make_beds(request: MusicRequest, settings: Settings, cache: StageCache) -> list[MusicClip]:
    if request.batched:
        [clips] = cache.run("music", music_batch_task, [music_batch_args(request, settings)])
        return clips
    return cache.run("music", music_task, [(cue, entry, request.folder, request.generator, seed, settings,
                                            request.sample_rate)
                                           for cue, entry, seed in zip(request.cues, request.entries, request.seeds)])


def speech_is_heavy(voices: dict[str, VoicePreset]) -> bool:
    from nightcast.voices import ENGINES

    return any(ENGINES.load(preset.engine).runs_on_gpu for preset in voices.values())


def music_is_heavy(generator: str) -> bool:
    from nightcast.generators.music import GENERATORS

    return GENERATORS.load(generator).runs_on_gpu


@contextmanager
def gpu_slot(settings: Settings):
    """Hold one of the `gpu_concurrency` slots; yields [acquired, None] and fills in the release time."""
    with held_slot(GPU_LIMIT, settings.gpu_concurrency):
        held = [time.time(), None]
        try:
            yield held
        finally:
            held[1] = time.time()


# The stage flows return JSON, not pickled objects: the worker may run another build of this code.


@flow(name="speech-stage", persist_result=True, log_prints=True)
def speech_stage(request: SpeechRequest, settings: dict) -> dict:
    """A render's speech, on a GPU worker."""
    worker = Settings.from_env(**settings)
    cache = StageCache(worker)
    with gpu_slot(worker) as held:
        clips = speak(request, cache)
    return StageOutcome(clips=clips, counts=cache.counts.get("speech", {}), gpu_slot_s=tuple(held)).model_dump(mode="json")


@flow(name="music-stage", persist_result=True, log_prints=True)
def music_stage(request: MusicRequest, settings: dict) -> dict:
    """A render's beds from one generator, on a GPU worker."""
    worker = Settings.from_env(**settings)
    cache = StageCache(worker)
    with gpu_slot(worker) as held:
        clips = make_beds(request, worker, cache)
    return StageOutcome(clips=clips, counts=cache.counts.get("music", {}), gpu_slot_s=tuple(held)).model_dump(mode="json")


POLL_S = 1.0
NOT_STARTED = {StateType.SCHEDULED, StateType.PENDING}


def _await_run(run_id, pickup_s: float):
    """The run once it is final, or None when no worker started it within pickup_s (then cancelled)."""
    with get_client(sync_client=True) as client:
        deadline = time.monotonic() + pickup_s
        while True:
            run = client.read_flow_run(run_id)
            if run.state is not None and run.state.is_final():
                return run
            if (run.state is None or run.state.type in NOT_STARTED) and time.monotonic() > deadline:
                client.set_flow_run_state(run_id, Cancelled(message=f"no gpu worker started it in {pickup_s:.0f} s"),
                                          force=True)
                return None
            time.sleep(POLL_S)


def dispatch_to_pool(name: str, parameters: dict, settings: Settings):
    """A flow run of deployment `name` on the gpu pool, waited for; the final run, or None when the
    pool did not take it (its breaker is open, nobody started the run in time, the worker crashed)."""
    breaker = breaker_for(settings, "gpu stage", name)
    if breaker.allow() == "open":
        print(f"{breaker.why_open()}: not dispatched")
        return None
    run = run_deployment(name, parameters=parameters, timeout=0)
    run = _await_run(run.id, settings.gpu_pickup_timeout_s)
    if run is None or run.state.type == StateType.CRASHED:
        why = "its worker crashed" if run is not None else f"no worker started it in {settings.gpu_pickup_timeout_s:.0f} s"
        breaker.record(False, why)
        print(f"{name}: {why}")
        return None
    breaker.record(True)
    return run


def on_gpu_pool(stage_flow, request: BaseModel, settings: Settings) -> StageOutcome | None:
    """Run a stage as a flow run of its gpu deployment (a subflow run of the render) and wait for it;
    None when the pool did not take it: the caller runs the stage itself."""
    name = f"{stage_flow.name}/{GPU_DEPLOYMENT}"
    run = dispatch_to_pool(name, {"request": request.model_dump(mode="json"),
                                  "settings": settings.model_dump(mode="json", exclude=SECRETS)}, settings)
    if run is None:
        print(f"{name}: running the stage in this render")
        return None
    if not run.state.is_completed():
        raise StageError(f"{name} ended {run.state.name}: {run.state.message or 'see the flow run in the Prefect UI'}")
    return StageOutcome.model_validate(run.state.result())


def run_speech(request: SpeechRequest, settings: Settings, cache: StageCache) -> list[SpeechClip]:
    if not speech_is_heavy(request.voices):
        return speak(request, cache)
    if settings.gpu_dispatch == "pool":
        outcome = on_gpu_pool(speech_stage, request, settings)
        if outcome is not None:
            return cache.merge("speech", outcome)
    with gpu_slot(settings):
        return speak(request, cache)


def run_music(request: MusicRequest, settings: Settings, cache: StageCache) -> list[MusicClip]:
    if not music_is_heavy(request.generator):
        return make_beds(request, settings, cache)
    if settings.gpu_dispatch == "pool":
        outcome = on_gpu_pool(music_stage, request, settings)
        if outcome is not None:
            return cache.merge("music", outcome)
    with gpu_slot(settings):
        return make_beds(request, settings, cache)

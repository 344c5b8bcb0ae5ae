"""The deployments, in one place: `render-episode` (runs from the UI and the API), `nightly` (cron),
and the heavy stages `speech-stage/gpu`, `music-stage/gpu` and the nightly's `batch-heavy-stages/gpu`
(used with `gpu_dispatch: pool`).

Two ways to run them, both Prefect's own:
- `serve`: one long-running process registers every deployment and executes their runs itself;
  no work pool needed. The single-machine default.
- `deploy`: register them on work pools, the flows on `cpu` and the heavy stages on `gpu`, so any
  number of `prefect worker start --pool cpu` processes and, on GPU machines,
  `prefect worker start --pool gpu` processes pick the runs up.
"""

from __future__ import annotations

from pathlib import Path

from prefect.schedules import Cron

from nightcast.flows.episode import render_episode
from nightcast.flows.form import render_description, render_form
from nightcast.flows.gpu_stages import GPU_DEPLOYMENT, music_stage, speech_stage
from nightcast.flows.nightly import nightly
from nightcast.flows.stage_major import batch_heavy_stages
from nightcast.settings import Settings

# This folder, wherever it is installed: workers load the flows from its files.
FLOWS_DIR = Path(__file__).resolve().parent
RENDER = "render-episode"
NIGHTLY = "nightly"
CPU_POOL, GPU_POOL = "cpu", "gpu"
TAGS = ["nightcast"]
STAGE_DESCRIPTION = "A render's heavy stage (GPU TTS or MusicGen), started by render-episode with gpu_dispatch: pool."
PHASES_DESCRIPTION = ("A chunk of the nightly's listeners: every script, sentence and bed in batched calls, into "
                      "the stage cache; started by nightly with gpu_dispatch: pool.")


def nightly_schedule(settings: Settings) -> Cron:
    return Cron(settings.nightly_cron, timezone=settings.timezone)


def with_form(deployment, settings: Settings):
    """The render deployment with the form flows/form.py describes. Prefect derives the schema from
    the signature and offers no argument to replace it, so the derived one is rewritten in place."""
    deployment._parameter_openapi_schema = render_form(settings, deployment._parameter_openapi_schema)
    deployment.enforce_parameter_schema = True
    return deployment


def runner_deployments(settings: Settings) -> list:
    """Both deployments, for `prefect.serve` (executed by the serving process)."""
    return [
        with_form(render_episode.to_deployment(name=RENDER, tags=TAGS, description=render_description(settings)),
                  settings),
        nightly.to_deployment(name=NIGHTLY, tags=TAGS, schedules=[nightly_schedule(settings)],
                              description=f"Every listener's episode, {settings.nightly_cron} ({settings.timezone}).",
                              concurrency_limit=1),  # one nightly run at a time; renders inside are limited too
        *(stage.to_deployment(name=GPU_DEPLOYMENT, tags=TAGS, description=STAGE_DESCRIPTION)
          for stage in (speech_stage, music_stage)),
        batch_heavy_stages.to_deployment(name=GPU_DEPLOYMENT, tags=TAGS, description=PHASES_DESCRIPTION),
    ]


def serve(settings: Settings) -> None:
    """Blocks: registers the deployments and runs what they are asked to run, here."""
    from prefect import serve as prefect_serve

    prefect_serve(*runner_deployments(settings))


def ensure_work_pools() -> None:
    """The `cpu` and `gpu` process work pools, created once."""
    from prefect import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists

    with get_client(sync_client=True) as client:
        for name, description in ((CPU_POOL, "nightcast flows, script and mix"),
                                  (GPU_POOL, "nightcast heavy stages: GPU TTS, MusicGen")):
            try:
                client.create_work_pool(WorkPoolCreate(name=name, type="process", description=description))
            except ObjectAlreadyExists:
                pass


def deploy(settings: Settings) -> list[str]:
    """Registers the flows on the `cpu` pool and the heavy stages on the `gpu` pool (code from this
    installation); returns the deployment ids.

    `RunnerDeployment.apply()` rather than `flow.deploy()`: the latter also lists the pool's online
    workers, a call Prefect 3.8.8's client sends without the limit its server requires (422)."""
    ensure_work_pools()
    render = render_episode.from_source(source=str(FLOWS_DIR), entrypoint="episode.py:render_episode")
    night = nightly.from_source(source=str(FLOWS_DIR), entrypoint="nightly.py:nightly")
    stages = [flow_.from_source(source=str(FLOWS_DIR), entrypoint=f"gpu_stages.py:{flow_.fn.__name__}")
              for flow_ in (speech_stage, music_stage)]
    phases = batch_heavy_stages.from_source(source=str(FLOWS_DIR), entrypoint="stage_major.py:batch_heavy_stages")
    return [
        str(with_form(render.to_deployment(name=RENDER, work_pool_name=CPU_POOL, tags=TAGS,
                                           description=render_description(settings)), settings).apply()),
        str(night.to_deployment(name=NIGHTLY, work_pool_name=CPU_POOL, tags=TAGS, concurrency_limit=1,
                                schedules=[nightly_schedule(settings)]).apply()),
        *(str(stage.to_deployment(name=GPU_DEPLOYMENT, work_pool_name=GPU_POOL, tags=TAGS,
                                  description=STAGE_DESCRIPTION).apply()) for stage in stages),
        str(phases.to_deployment(name=GPU_DEPLOYMENT, work_pool_name=GPU_POOL, tags=TAGS,
                                 description=PHASES_DESCRIPTION).apply()),
    ]

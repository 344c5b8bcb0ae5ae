"""The deployments, in one place: `render-episode` (runs from the UI and the API) and `nightly` (cron).

Two ways to run them, both Prefect's own:
- `serve`: one long-running process registers both deployments and executes their runs itself;
  no work pool needed. The single-machine default.
- `deploy`: register them on work pools (`cpu` for the flows) so any number of
  `prefect worker start --pool cpu` processes, on any machines that have this code, pick the runs up.
"""

from __future__ import annotations

from pathlib import Path

from prefect.schedules import Cron

from flows.episode import render_episode
from flows.nightly import nightly
from nightcast.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
RENDER = "render-episode"
NIGHTLY = "nightly"
CPU_POOL, GPU_POOL = "cpu", "gpu"
TAGS = ["nightcast"]


def nightly_schedule(settings: Settings) -> Cron:
    return Cron(settings.nightly_cron, timezone=settings.timezone)


def runner_deployments(settings: Settings) -> list:
    """Both deployments, for `prefect.serve` (executed by the serving process)."""
    return [
        render_episode.to_deployment(name=RENDER, tags=TAGS,
                                     description="Render one listener's episode (listener id or profile path)."),
        nightly.to_deployment(name=NIGHTLY, tags=TAGS, schedules=[nightly_schedule(settings)],
                              description=f"Every listener's episode, {settings.nightly_cron} ({settings.timezone}).",
                              concurrency_limit=1),  # one nightly run at a time; renders inside are limited too
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
    """Registers both deployments on the `cpu` pool (code from this checkout); returns their ids.

    `RunnerDeployment.apply()` rather than `flow.deploy()`: the latter also lists the pool's online
    workers, a call Prefect 3.8.8's client sends without the limit its server requires (422)."""
    ensure_work_pools()
    render = render_episode.from_source(source=str(ROOT), entrypoint="flows/episode.py:render_episode")
    night = nightly.from_source(source=str(ROOT), entrypoint="flows/nightly.py:nightly")
    return [
        str(render.to_deployment(name=RENDER, work_pool_name=CPU_POOL, tags=TAGS).apply()),
        str(night.to_deployment(name=NIGHTLY, work_pool_name=CPU_POOL, tags=TAGS, concurrency_limit=1,
                                schedules=[nightly_schedule(settings)]).apply()),
    ]

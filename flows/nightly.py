"""The `nightly` flow: an episode for every listener in the profile store.

Fans out one `render-listener` task per listener (each runs the `render-episode` flow as a subflow),
at most `nightly_concurrency` at a time. A listener whose render fails (a broken profile, a crashed
stage after its retries) is recorded and the others carry on; the run's summary lists both, as the
flow's result and as a markdown artifact in the Prefect UI.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.concurrency.sync import concurrency
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field

from nightcast.errors import InputError
from nightcast.flows.caching import prune_stage_cache
from nightcast.flows.episode import render_episode
from nightcast.flows.limits import ensure_global_limit
from nightcast.profile_store import open_store
from nightcast.settings import Settings

RENDER_LIMIT = "nightcast-renders"
MAX_THREADS = 16  # waiting threads are cheap; the global limit decides how many render at once


class NightlyReport(BaseModel):
    date: dt.date | None = Field(description="The episode date asked for; None: each listener's own today.")
    listeners: int
    rendered: dict[str, str] = Field(default_factory=dict, description="listener id → episode directory")
    failed: dict[str, str] = Field(default_factory=dict, description="listener id → why")

    def markdown(self) -> str:
        lines = [f"# nightly: {len(self.rendered)} of {self.listeners} listeners rendered", "",
                 "| listener | result |", "|---|---|"]
        lines += [f"| {who} | ✅ `{where}` |" for who, where in sorted(self.rendered.items())]
        lines += [f"| {who} | ❌ {why.replace('|', '/')} |" for who, why in sorted(self.failed.items())]
        return "\n".join(lines)


def _transient(task, task_run, state) -> bool:
    """Retry crashes and backend hiccups; a bad profile or name fails the same way every time."""
    try:
        state.result()
    except InputError:
        return False
    except Exception:  # noqa: BLE001 - anything else may be transient
        return True
    return False


@task(name="render-listener", task_run_name="render-{listener}", retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_transient)
def render_listener_task(listener: str, date: dt.date | None, template: str | None, out_dir: str | None) -> str:
    with concurrency(RENDER_LIMIT, occupy=1):
        return render_episode(listener, template=template, out_dir=out_dir, date=date)


def limit_renders(slots: int) -> None:
    """The server-side global concurrency limit every nightly render takes a slot of: it holds across
    workers and processes, not just this flow's threads."""
    ensure_global_limit(RENDER_LIMIT, slots)


@flow(name="nightly", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=MAX_THREADS))
def nightly(date: dt.date | None = None, template: str | None = None, out_dir: str | None = None) -> NightlyReport:
    """Render every listener's episode; one listener's failure never stops the others."""
    settings = Settings.from_env(outputs_dir=out_dir)
    store = open_store(settings.profiles_dir, settings.profile_db)
    listeners = store.listener_ids()
    print(f"nightly: {len(listeners)} listeners in the {store.describe()}, {settings.nightly_concurrency} at a time")
    limit_renders(settings.nightly_concurrency)
    pruned = prune_stage_cache(settings.cache_root(), settings.stage_cache_days)
    if pruned:
        print(f"nightly: pruned {pruned} stage cache entries older than {settings.stage_cache_days} days")
    futures = {who: render_listener_task.submit(who, date, template, out_dir) for who in listeners}
    report = NightlyReport(date=date, listeners=len(listeners))
    for who, future in futures.items():
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            report.failed[who] = f"{type(outcome).__name__}: {outcome}"
        else:
            report.rendered[who] = outcome
    create_markdown_artifact(markdown=report.markdown(), key="nightly-summary",
                             description=f"{len(report.rendered)} rendered, {len(report.failed)} failed")
    if report.failed:
        print(f"nightly: failed: {', '.join(sorted(report.failed))}")
    return report

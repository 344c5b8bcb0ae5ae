"""The `nightly` flow: an episode for every listener in the profile store.

Works through the listeners in chunks of `nightly_batch_listeners`. For each chunk it first runs
the `batch-heavy-stages` flow (flows/stage_major.py: every script, every sentence, every bed of
the chunk in batched calls, into the stage cache), then fans out one `render-listener` task per
listener (each runs the `render-episode` flow as a subflow, which finds its heavy stages cached and
mixes, masters, checks and publishes), at most `nightly_concurrency` at a time, while the next
chunk's heavy stages run. `nightly_batch_listeners: 1` renders each listener on its own, as before.

A listener whose render fails (a broken profile, a crashed stage after its retries) is recorded and
the others carry on; a chunk whose batched phases fail leaves its listeners to their own renders.
The run's summary lists both, the phases' batch sizes, and every backend circuit breaker that was
open during the run with how many episodes it sent to the fallback writer, as the flow's result and
as a markdown artifact in the Prefect UI.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from pydantic import BaseModel, Field

from nightcast.breaker import clock, openings_between
from nightcast.episode_store import EPISODE_FILES
from nightcast.errors import InputError, NightcastError
from nightcast.flows.caching import prune_stage_cache
from nightcast.flows.episode import render_episode
from nightcast.flows.limits import ensure_global_limit, held_slot
from nightcast.flows.stage_major import PhaseReport, run_batch_ahead, why_not_batched
from nightcast.qa import QAFailed
from nightcast.render.job import prepare_render
from nightcast.settings import Settings

RENDER_LIMIT = "nightcast-renders"
MAX_THREADS = 16  # waiting threads are cheap; the global limit decides how many render at once


class NightlyReport(BaseModel):
    date: dt.date | None = Field(description="The episode date asked for; None: each listener's own today.")
    listeners: int
    rendered: dict[str, str] = Field(default_factory=dict, description="listener id → episode directory")
    failed: dict[str, str] = Field(default_factory=dict, description="listener id → why")
    phases: list[PhaseReport] = Field(default_factory=list, description="The batched heavy stages, per chunk.")
    unbatched: str | None = Field(default=None, description="Why the heavy stages were not batched ahead, if not.")
    already: dict[str, str] = Field(default_factory=dict,
                                    description="listener id → their episode for this date, finished by an earlier run")
    breakers: list[str] = Field(default_factory=list,
                                description="Each backend breaker that was open during the run, and what it cost.")
    places: dict[str, int] = Field(default_factory=dict, description="listener id → their place in the night "
                                                                     "(the render task run is render-<place>)")
    cold_start: dict[str, list[str]] = Field(
        default_factory=dict, description="listener id → the starter-taste artists their episode featured, for "
                                          "each listener whose own data could not fill the show")

    def label(self, who: str) -> str:
        return f"render-{self.places[who]}" if who in self.places else "render-?"

    def anonymous(self, who: str, text: str) -> str:
        """`text` with the listener's id and episode folder left out (the summary is a Prefect artifact,
        and Prefect's event log keeps a copy of every artifact that no erasure can reach)."""
        return re.sub(rf"(?<![\w-]){re.escape(who)}(?![\w-])", self.label(who), text)

    def markdown(self) -> str:
        """By place in the night, not by listener: the render-<place> task run leads to the listener."""
        already = f", {len(self.already)} already were" if self.already else ""
        cold = f"; {len(self.cold_start)} of them new (starter taste)" if self.cold_start else ""
        lines = [f"# nightly: {len(self.rendered)} of {self.listeners} listeners rendered{already}{cold}", "",
                 "| render | result |", "|---|---|"]
        by_place = sorted([*self.rendered, *self.failed, *self.already], key=lambda who: self.places.get(who, 0))
        for who in by_place:
            if who in self.rendered:
                starter = " (starter taste)" if who in self.cold_start else ""
                lines.append(f"| {self.label(who)} | ✅ {Path(self.rendered[who]).name}{starter} |")
            elif who in self.failed:
                lines.append(f"| {self.label(who)} | ❌ {self.anonymous(who, self.failed[who]).replace('|', '/')} |")
            else:
                lines.append(f"| {self.label(who)} | ☑️ already rendered {Path(self.already[who]).name} |")
        if self.phases:
            lines += ["", "## batched heavy stages", "", "| chunk | phase | listeners | made | batches | seconds |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {p.chunk} | {p.phase} | {p.listeners} | {p.items} | {', '.join(map(str, p.batches))} | "
                      f"{p.seconds:.1f} |" for p in self.phases]
        elif self.unbatched:
            lines += ["", f"Heavy stages not batched ahead: {self.unbatched}."]
        if self.breakers:
            lines += ["", "## circuit breakers", "", *(f"- {line}" for line in self.breakers)]
        return "\n".join(lines)


def starter_picks_of(episode: Path) -> list[str]:
    """The starter-taste artists an episode featured (its script says), [] when it cannot be read."""
    try:
        return json.loads((episode / EPISODE_FILES["script"]).read_text(encoding="utf-8")).get("starter_picks", [])
    except (OSError, ValueError):
        return []


def finished_episode(listener: str, date: dt.date | None, template: str | None, settings: Settings) -> str | None:
    """The listener's finished episode for this night, if an earlier run made it (a re-run after a
    crash renders only what is missing); None when it is missing or the profile does not load."""
    try:
        job = prepare_render(listener, template, date, settings)
    except NightcastError:
        return None  # the render reports why
    return str(job.episode_dir) if job.store.file(job.profile.id, job.episode_id, "manifest") else None


def breaker_lines(folder: Path, start: float, end: float, episodes: list[str]) -> list[str]:
    """"writer openai http://… open 02:13–02:43, 412 episodes from the template writer": one line per
    breaker opening during the run; for a writer, the rendered episodes that fell back because of it."""
    reasons = []
    for episode in episodes:
        try:
            manifest = json.loads((Path(episode) / EPISODE_FILES["manifest"]).read_text())
            reasons.append(" ".join(f["reason"] for f in manifest["writer_fallbacks"]))
        except (OSError, ValueError, KeyError):
            continue
    lines = []
    for backend, opening in openings_between(folder, start, end):
        until = clock(opening.closed_at) if opening.closed_at else "still open"
        if backend.startswith("writer "):
            fell_back = sum(f"{backend}: circuit open" in reason for reason in reasons)
            cost = f"{fell_back} episodes from the template writer"
        else:  # a gpu pool: its stages ran in the renders instead
            cost = "its stages ran in the renders themselves"
        lines.append(f"{backend} open {clock(opening.opened_at)}–{until}, {cost}")
    return lines


def _transient(task, task_run, state) -> bool:
    """Retry crashes and backend hiccups; a bad profile or name, or an episode the QA gate blocked,
    fails the same way every time."""
    try:
        state.result()
    except (InputError, QAFailed):  # QAFailed: the gate already retried what a retry could change
        return False
    except Exception:  # noqa: BLE001 - anything else may be transient
        return True
    return False


# Named by its place in the night, not by the listener: Prefect's event log keeps task-run names for
# its retention period and has no per-listener delete, so no listener id goes there. Nothing cached
# or persisted: the render caches its own stages, and a persisted result would be a file naming them.
@task(name="render-listener", task_run_name="render-{place}", retries=2, retry_delay_seconds=[5, 30],
      retry_condition_fn=_transient, cache_policy=NO_CACHE, persist_result=False)
def render_listener_task(listener: str, date: dt.date | None, template: str | None, out_dir: str | None,
                         place: int = 0) -> str:
    with held_slot(RENDER_LIMIT):
        return render_episode(listener, template=template, out_dir=out_dir, date=date)


def batch_ahead(listeners: list[str], chunk: int, date: dt.date | None, template: str | None,
                settings: Settings) -> list[PhaseReport]:
    """The chunk's batched phases; if they fail, its listeners' renders do the work themselves."""
    try:
        return run_batch_ahead(listeners, chunk, date, template, settings)
    except Exception as exc:  # noqa: BLE001 - a phase's failure must cost time, never episodes
        print(f"nightly: chunk {chunk}'s batched phases failed ({type(exc).__name__}: {exc}); "
              "its listeners render on their own")
        return []


def limit_renders(slots: int) -> None:
    """The server-side global concurrency limit every nightly render takes a slot of: it holds across
    workers and processes, not just this flow's threads."""
    ensure_global_limit(RENDER_LIMIT, slots)


@flow(name="nightly", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=MAX_THREADS))
def nightly(date: dt.date | None = None, template: str | None = None, out_dir: str | None = None) -> NightlyReport:
    """Render every listener's episode; one listener's failure never stops the others."""
    settings = Settings.from_env(outputs_dir=out_dir)
    store = settings.profile_store()
    listeners = store.listener_ids()
    print(f"nightly: {len(listeners)} listeners in the {store.describe()}, {settings.nightly_concurrency} at a time")
    limit_renders(settings.nightly_concurrency)
    pruned = prune_stage_cache(settings.cache_root(), settings.stage_cache_days)
    if pruned:
        print(f"nightly: pruned {pruned} stage cache entries older than {settings.stage_cache_days} days")
    report = NightlyReport(date=date, listeners=len(listeners), unbatched=why_not_batched(settings),
                           places={who: place for place, who in enumerate(listeners, 1)})
    started = time.time()
    for who in listeners:
        if (folder := finished_episode(who, date, template, settings)) is not None:
            report.already[who] = folder
    if report.already:
        print(f"nightly: {len(report.already)} listeners already have this night's episode; rendering the rest")
        listeners = [who for who in listeners if who not in report.already]
    size = settings.nightly_batch_listeners
    futures = {}
    for chunk, start in enumerate(range(0, len(listeners), size)):
        members = listeners[start:start + size]
        if report.unbatched is None:
            report.phases += batch_ahead(members, chunk, date, template, settings)
        # The renders run while the next chunk's heavy stages do: the GPU and the CPUs both busy.
        futures.update({who: render_listener_task.submit(who, date, template, out_dir, report.places[who])
                        for who in members})
    for who, future in futures.items():
        outcome = future.result(raise_on_failure=False)
        if isinstance(outcome, BaseException):
            report.failed[who] = f"{type(outcome).__name__}: {outcome}"
        else:
            report.rendered[who] = outcome
            if starter := starter_picks_of(Path(outcome)):
                report.cold_start[who] = starter
    report.breakers = breaker_lines(settings.breakers_dir(), started, time.time(), list(report.rendered.values()))
    for line in report.breakers:
        print(f"nightly: {line}")
    create_markdown_artifact(markdown=report.markdown(), key="nightly-summary",
                             description=f"{len(report.rendered)} rendered, {len(report.failed)} failed")
    if report.failed:  # by place: the run's logs stay on the server after a listener is erased
        print(f"nightly: failed: {', '.join(report.label(who) for who in sorted(report.failed))}")
    return report

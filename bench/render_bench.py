"""Render the demo episode(s) and print each stage's wall time and real-time factor, and what the QA gate costs.

RTF = stage seconds / episode seconds (lower is faster; 0.05 means 20x faster than real time).
Each episode is rendered twice from cold caches, without and with the QA gate, in one run, after a
warm-up render (not reported) that loads the models, so neither side of a pair pays for that:
QA's cost is what the render with the gate spends beyond the render without it (the stages plus the
gate's wait), as a share of the render with it. ASR runs beside the master, so part of its time
shows as a slower master, not as a longer `qa` stage: the paired renders count both.
All numbers in one table come from one run on this machine.

    python bench/render_bench.py [--profile profiles/dre.yaml] [--template morning-drive]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parent.parent
STAGES = ("script", "speech", "music", "mix", "master")


def render(profile: str, template: str | None, date: str, qa: bool) -> tuple[dict, float, list[float]]:
    """The manifest, the flow's wall seconds, and each segment's WER (empty without QA)."""
    from nightcast.flows.episode import render_episode

    with tempfile.TemporaryDirectory() as out:  # its own outputs, so its own (cold) caches
        started = time.perf_counter()
        episode = Path(render_episode(profile, template=template, out_dir=out, date=date, qa=qa))
        wall = time.perf_counter() - started
        report = episode / "qa.json"
        wers = [s["wer"] for s in json.loads(report.read_text())["segments"] if s["wer"] is not None] if qa else []
        return json.loads((episode / "episode.json").read_text()), wall, wers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", help="profile YAML (repeatable)")
    parser.add_argument("--template", default=None)
    parser.add_argument("--date", default="2026-11-23")
    args = parser.parse_args()
    profiles = args.profile or [str(ROOT / "profiles" / "maya.yaml"), str(ROOT / "profiles" / "dre.yaml")]

    from rich.console import Console
    from rich.table import Table

    console = Console(width=220)
    console.print(f"nightcast bench · {platform.processor() or platform.machine()} · {os.cpu_count()} cores")
    render(profiles[0], args.template, args.date, qa=True)  # warm-up, not reported: loads every model once
    started = time.perf_counter()
    runs = [(profile, render(profile, args.template, args.date, qa=False), render(profile, args.template, args.date, qa=True))
            for profile in profiles]
    total_wall = time.perf_counter() - started

    stages = Table("episode", "audio s", *[f"{s} s (RTF)" for s in STAGES], "stages s", "flow wall s", "total RTF",
                   title="render with the QA gate")
    gate = Table("episode", "stages s, no QA", "stages + qa s, QA", "master s no QA → QA", "qa wait s", "ASR s (beside master)",
                 "QA adds s", "QA % of render", "flow wall s no QA → QA", "max WER", "mean WER", title="what the QA gate costs")
    for profile, (plain, plain_wall, _), (checked, checked_wall, wers) in runs:
        duration = checked["duration_s"]
        timings = checked["stage_timings_s"]
        plain_stages = sum(plain["stage_timings_s"][s] for s in STAGES)
        checked_stages = sum(timings[s] for s in STAGES)
        qa_wait = timings.get("qa", 0.0)
        added = checked_stages + qa_wait - plain_stages
        name = f"{checked['listener_id']}/{checked['template_id']}"
        stages.add_row(name, f"{duration:.1f}", *[f"{timings[s]:.2f} ({timings[s] / duration:.4f})" for s in STAGES],
                       f"{checked_stages:.2f}", f"{checked_wall:.2f}", f"{checked_stages / duration:.4f}")
        gate.add_row(name, f"{plain_stages:.2f}", f"{checked_stages + qa_wait:.2f}",
                     f"{plain['stage_timings_s']['master']:.2f} → {timings['master']:.2f}", f"{qa_wait:.2f}",
                     f"{timings.get('qa_asr', 0.0):.2f}", f"{added:.2f}",
                     f"{100 * added / (checked_stages + qa_wait):.0f} %", f"{plain_wall:.2f} → {checked_wall:.2f}",
                     f"{max(wers):.3f}" if wers else "—", f"{sum(wers) / len(wers):.3f}" if wers else "—")
    console.print(stages)
    console.print(gate)
    console.print("flow wall includes Prefect's per-run overhead, so the QA share is taken from the stages.")
    console.print(f"all renders: {total_wall:.1f} s wall")


if __name__ == "__main__":
    main()

"""Render the demo episode(s) and print each stage's wall time and real-time factor.

RTF = stage seconds / episode seconds (lower is faster; 0.05 means 20x faster than real time).
QA's cost is reported as a share of the render: qa / (stages + qa).
All numbers in one table come from one run on this machine.

    python bench/render_bench.py [--profile profiles/dre.yaml] [--template morning-drive] [--runs 1]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", help="profile YAML (repeatable)")
    parser.add_argument("--template", default=None)
    parser.add_argument("--date", default="2026-11-23")
    args = parser.parse_args()
    profiles = args.profile or [str(ROOT / "profiles" / "maya.yaml"), str(ROOT / "profiles" / "dre.yaml")]

    from rich.console import Console
    from rich.table import Table

    from flows.episode import render_episode

    console = Console(width=200)
    console.print(f"nightcast bench · {platform.processor() or platform.machine()} · {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        results = []
        for profile in profiles:
            t0 = time.perf_counter()
            episode = Path(render_episode(profile, template=args.template, out_dir=out, date=args.date))
            wall = time.perf_counter() - t0
            results.append((json.loads((episode / "episode.json").read_text()), wall))
        total_wall = time.perf_counter() - started

    table = Table("episode", "audio s", *[f"{s} s (RTF)" for s in STAGES], "stages s", "flow wall s", "total RTF",
                  "qa s (RTF)", "qa % of render")
    for manifest, wall in results:
        duration = manifest["duration_s"]
        timings = manifest["stage_timings_s"]
        cells = [f"{timings[s]:.2f} ({timings[s] / duration:.4f})" for s in STAGES]
        stages = sum(timings[s] for s in STAGES)
        qa = timings.get("qa", 0.0)  # the QA gate (ASR + meters); included in the flow wall time
        table.add_row(f"{manifest['listener_id']}/{manifest['template_id']}", f"{duration:.1f}", *cells,
                      f"{stages:.2f}", f"{wall:.2f}", f"{stages / duration:.4f}", f"{qa:.2f} ({qa / duration:.4f})",
                      f"{100 * qa / (stages + qa):.0f} %")
    console.print(table)
    console.print("flow wall includes Prefect's per-run overhead; the first run also pays the ephemeral server start.")
    console.print(f"all renders: {total_wall:.1f} s wall")


if __name__ == "__main__":
    main()

"""What the stage cache saves: one episode rendered cold, re-rendered unchanged (a crashed or
repeated run), and re-rendered after a profile edit. One run, one table, one machine.

Each row: stage seconds, how many stage tasks ran vs came from the cache, flow wall time, and the
ratio to the cold render. RTF = seconds / episode seconds.

    python bench/resume_bench.py [--profile profiles/dre.yaml] [--template morning-drive]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import yaml

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parent.parent
STAGES = ("script", "speech", "music", "mix", "master")


def edited_profile(profile: Path, folder: Path) -> Path:
    """The same listener with one interest changed: a realistic small edit."""
    data = yaml.safe_load(profile.read_text())
    data["interests"] = ["birdwatching", *data.get("interests", [])[1:]]
    path = folder / profile.name
    path.write_text(yaml.safe_dump(data))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=str(ROOT / "profiles" / "dre.yaml"))
    parser.add_argument("--template", default=None)
    parser.add_argument("--date", default="2026-11-23")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from nightcast.flows.episode import render_episode

    console = Console(width=200)
    console.print(f"nightcast resume bench · {platform.processor() or platform.machine()} · {os.cpu_count()} cores")
    render_episode(args.profile, template=args.template, out_dir=tempfile.mkdtemp(), date=args.date)  # server warm-up
    rows = []
    with tempfile.TemporaryDirectory() as out, tempfile.TemporaryDirectory() as edits:
        runs = (("cold (empty cache)", Path(args.profile)), ("re-run, unchanged", Path(args.profile)),
                ("re-run, one interest edited", edited_profile(Path(args.profile), Path(edits))))
        for label, profile in runs:
            t0 = time.perf_counter()
            episode = Path(render_episode(str(profile), template=args.template, out_dir=out, date=args.date))
            rows.append((label, json.loads((episode / "episode.json").read_text()), time.perf_counter() - t0))

    table = Table("render", "audio s", *[f"{s} s" for s in STAGES], "ran / cached", "stages s", "RTF",
                  "flow wall s", "× cold wall")
    cold_wall = rows[0][2]
    for label, manifest, wall in rows:
        timings, counts = manifest["stage_timings_s"], manifest["stage_cache"]
        ran = sum(c["ran"] for c in counts.values())
        cached = sum(c["cached"] for c in counts.values())
        stages = sum(timings[s] for s in STAGES)
        table.add_row(label, f"{manifest['duration_s']:.1f}", *[f"{timings[s]:.2f}" for s in STAGES],
                      f"{ran} / {cached}", f"{stages:.2f}", f"{stages / manifest['duration_s']:.4f}", f"{wall:.2f}",
                      f"{wall / cold_wall:.2f}")
    console.print(table)
    console.print("cold: the speech sentence cache is empty too. Mix and master always run (their input is the "
                  "whole episode).")


if __name__ == "__main__":
    main()

"""What the stage cache saves: one episode rendered cold, re-rendered unchanged (a crashed or
repeated run), and re-rendered after each of two profile edits (an interest added; the mood changed).
One run, one table, one machine.

Each row: stage seconds, how many stage tasks ran vs came from the cache, the segments spoken again and
the beds made again (the manifest's `changes`), flow wall time, and the ratio to the cold render.
RTF = seconds / episode seconds. The last lines are exactly

    edit (interest added): <W> × cold wall, <N> segments re-spoken, <B> beds again
    edit (mood changed): <W> × cold wall, <N> segments re-spoken (<ids>), <B> beds again

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


def edited_profile(profile: Path, folder: Path, edit: str) -> Path:
    """The same listener after a realistic small edit: one interest added, or their mood changed."""
    data = yaml.safe_load(profile.read_text())
    if edit == "interest":
        data["interests"] = [*data.get("interests", []), "birdwatching"]
    else:
        data["moods"] = ["wistful"]
    path = folder / edit / profile.name
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(data))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=str(ROOT / "profiles" / "maya.yaml"))
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
                ("edit (interest added)", edited_profile(Path(args.profile), Path(edits), "interest")),
                ("re-run, unchanged", Path(args.profile)),  # back to the profile as it was: all from the cache
                ("edit (mood changed)", edited_profile(Path(args.profile), Path(edits), "mood")))
        for label, profile in runs:
            t0 = time.perf_counter()
            episode = Path(render_episode(str(profile), template=args.template, out_dir=out, date=args.date))
            rows.append((label, json.loads((episode / "episode.json").read_text()), time.perf_counter() - t0))

    table = Table("render", "audio s", *[f"{s} s" for s in STAGES], "ran / cached", "re-spoken", "beds again",
                  "stages s", "RTF", "flow wall s", "× cold wall")
    cold_wall = rows[0][2]
    for label, manifest, wall in rows:
        timings, counts = manifest["stage_timings_s"], manifest["stage_cache"]
        ran = sum(c["ran"] for c in counts.values())
        cached = sum(c["cached"] for c in counts.values())
        stages = sum(timings[s] for s in STAGES)
        changes = manifest["changes"]
        spoken = [c["segment_id"] for c in changes or [] if c["spoken_again"]]
        beds = [c["segment_id"] for c in changes or [] if c["bed_again"]]
        table.add_row(label, f"{manifest['duration_s']:.1f}", *[f"{timings[s]:.2f}" for s in STAGES],
                      f"{ran} / {cached}", "all" if changes is None else str(len(spoken)),
                      "all" if changes is None else str(len(beds)), f"{stages:.2f}",
                      f"{stages / manifest['duration_s']:.4f}", f"{wall:.2f}", f"{wall / cold_wall:.2f}")
    console.print(table)
    for label, manifest, wall in rows:
        if label.startswith("edit"):
            changes = manifest["changes"] or []
            spoken = [c["segment_id"] for c in changes if c["spoken_again"]]
            print(f"{label}: {wall / cold_wall:.2f} × cold wall, {len(spoken)} segments re-spoken"
                  f"{f' ({chr(44).join(spoken)})' if 'mood' in label else ''}, "
                  f"{sum(c['bed_again'] for c in changes)} beds again")
            for change in changes:
                print(f"  {change['segment_id']}: {'; '.join(change['why'])}")
    console.print("cold: the speech sentence cache is empty too. Mix and master (and the QA's ASR of the mix) are "
                  "cached by what goes into the mix: they run again only where a clip or the timeline changed.")


if __name__ == "__main__":
    main()

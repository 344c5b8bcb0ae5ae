"""The nightly at GPU scale: the stage-major nightly against the per-listener nightly, in one run.

N synthetic listeners (built here from the example profiles: other names, shuffled tastes) are
rendered twice by the real `nightly` flow, with the transformers writer and the musicgen generator
on random-weight models built here (tiny by default: the code path's overhead; `--real-size`:
Llama-3.2-1B's and musicgen-small's shapes, for timing on a GPU; random weights are fine for
timing): once with `nightly_batch_listeners: 1` (each listener's render on its own, as before) and
once stage-major (`--batch-listeners`, default N: one chunk). Both runs render one warm-up
listener first, untimed, so model loading and the Prefect server's start cost neither.

GPU-stage seconds are the seconds spent in stages whose backend runs on a GPU (the script stage
with the transformers writer, music with musicgen, speech only with a GPU voice): for the
per-listener run the renders' own stage timings, for the stage-major run the batched phases plus
what the renders still spent in those stages (cache lookups). Episodes per hour = 3,600 × N / those
seconds. The run also checks that every episode passed QA and that both runs made the same scripts,
speech and beds (the same stage-cache keys, the same audio), and reports the batch sizes reached
and the peak memory. Its last line is exactly

    nightly: stage-major <A> episodes/h, per-listener <B> episodes/h, ratio <A/B>

    python bench/nightly_bench.py [--listeners 16] [--format nightly-digest] [--real-size]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import yaml

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the random-weight model builders the tests use
NAMES = ("Ada", "Bo", "Cleo", "Dev", "Eun", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lale", "Mo", "Nia",
         "Oren", "Pia", "Quin", "Rui", "Sol", "Tam", "Uma", "Vik", "Wen", "Xiu", "Yael", "Zed")
WARM_UP_DATE, DATE = "2026-11-22", "2026-11-23"


def synthetic_profiles(root: Path, count: int, template: str) -> Path:
    """`count` listeners in `root/store`, each an example profile with another name and its tastes
    reordered; one more, the warm-up listener, outside the store. Returns the warm-up's file."""
    rng = random.Random(7)
    bases = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / "profiles").glob("*.yaml"))]
    (root / "store").mkdir()
    for n in range(count + 1):
        data = dict(bases[n % len(bases)])
        listener = f"listener-{n:04d}"
        data.update(id=listener, name=f"{NAMES[n % len(NAMES)]} {n}", template=template)
        for key in ("favourite_artists", "favourite_genres", "interests", "moods"):
            if data.get(key):
                data[key] = rng.sample(data[key], len(data[key]))
        path = root / ("warm-up.yaml" if n == count else f"store/{listener}.yaml")
        path.write_text(yaml.safe_dump(data))
    return root / "warm-up.yaml"


def gpu_stages() -> list[str]:
    from nightcast.generators.music import GENERATORS
    from nightcast.generators.script import WRITERS
    from nightcast.settings import Settings
    from nightcast.voices import ENGINES
    from nightcast.voices.presets import load_preset

    settings = Settings.from_env()
    voice = load_preset("host", settings.presets_dir)
    heavy = {"script": WRITERS.load(settings.writer).runs_on_gpu,
             "speech": ENGINES.load(voice.engine).runs_on_gpu, "music": GENERATORS.load(settings.music).runs_on_gpu}
    return [stage for stage, on_gpu in heavy.items() if on_gpu]


def peak_memory_gb() -> float:
    try:
        import torch

        if torch.cuda.is_available():
            return torch.cuda.max_memory_allocated() / 2**30
    except ImportError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux: KiB


def reset_peak_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
    except ImportError:
        pass


def run_nightly(mode: str, batch_listeners: int, root: Path, warm_up: Path, stages: list[str]) -> dict:
    from nightcast.flows.episode import render_episode
    from nightcast.flows.nightly import nightly

    out, cache = root / mode / "outputs", root / mode / "cache"
    os.environ.update(NIGHTCAST_NIGHTLY_BATCH_LISTENERS=str(batch_listeners), NIGHTCAST_CACHE_DIR=str(cache))
    render_episode(str(warm_up), date=WARM_UP_DATE, out_dir=str(out))  # loads the models, starts the server
    reset_peak_memory()
    started = time.perf_counter()
    report = nightly(date=DATE, out_dir=str(out))
    wall = time.perf_counter() - started
    in_renders = 0.0
    passed = 0
    for who, folder in report.rendered.items():
        manifest = json.loads((Path(folder) / "episode.json").read_text())
        in_renders += sum(manifest["stage_timings_s"].get(stage, 0.0) for stage in stages)
        passed += json.loads((Path(folder) / "qa.json").read_text())["passed"] if (Path(folder) / "qa.json").exists() else 0
    in_phases = sum(p.seconds for p in report.phases if p.phase in stages)
    gpu_seconds = in_phases + in_renders
    return {"mode": mode, "rendered": len(report.rendered), "failed": report.failed, "qa_passed": passed,
            "wall_s": wall, "gpu_stage_s": gpu_seconds, "in_phases_s": in_phases, "in_renders_s": in_renders,
            "episodes_per_hour": 3600 * len(report.rendered) / gpu_seconds if gpu_seconds else float("inf"),
            "batches": {p.phase: p.batches for p in report.phases}, "peak_gb": peak_memory_gb(),
            "cache": cache, "outputs": out}


def same_episodes(a: dict, b: dict) -> tuple[bool, str]:
    """Both runs made the same scripts, speech and beds: the same stage keys and the same audio."""
    import numpy as np
    import soundfile as sf

    for script in sorted(Path(a["outputs"]).glob(f"*/{DATE}-*/script.json")):
        other = Path(b["outputs"]) / script.relative_to(a["outputs"])
        texts = [[s["text"] for s in json.loads(p.read_text())["segments"]] for p in (script, other)]
        if texts[0] != texts[1]:
            return False, f"{script.parent.parent.name}'s script differs"
    for stage in ("speech", "music"):
        files = [{f"{p.parent.name}/{p.name}": p for p in (Path(run["cache"]) / "stages").glob(f"{stage}*/*.wav")}
                 for run in (a, b)]
        if set(files[0]) != set(files[1]):
            return False, f"{stage}: different stage keys"
        for name in files[0]:
            if not np.allclose(sf.read(files[0][name])[0], sf.read(files[1][name])[0], atol=1e-4):
                return False, f"{stage}: {name} sounds different"
    return True, "same scripts, speech and beds"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=16)
    parser.add_argument("--batch-listeners", type=int, default=None, help="the stage-major chunk (default: all)")
    parser.add_argument("--format", default="nightly-digest", help="the episode format every listener gets")
    parser.add_argument("--real-size", action="store_true", help="Llama-3.2-1B and musicgen-small shapes")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from tiny_llm import build_tiny_chat_model
    from tiny_musicgen import build_tiny_musicgen

    console = Console(width=200)
    with tempfile.TemporaryDirectory(prefix="nightcast-nightly-bench-") as tmp:
        root = Path(tmp)
        warm_up = synthetic_profiles(root, args.listeners, args.format)
        chat = build_tiny_chat_model(root / "chat", ROOT / "templates", real_size=args.real_size)
        musicgen = build_tiny_musicgen(root / "musicgen", real_size=args.real_size)
        os.environ.update(NIGHTCAST_PROFILES_DIR=str(root / "store"), NIGHTCAST_WRITER="transformers",
                          NIGHTCAST_WRITER_MODEL=str(chat), NIGHTCAST_MUSIC="musicgen",
                          NIGHTCAST_MUSIC_MODEL=str(musicgen), NIGHTCAST_NIGHTLY_CONCURRENCY="1",
                          NIGHTCAST_GENERATION=json.dumps({"batch_size": 64}),
                          NIGHTCAST_MUSICGEN=json.dumps({"batch_size": 64}))
        stages = gpu_stages()
        import torch

        device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores"
        console.print(f"nightcast nightly bench · {args.listeners} listeners · {args.format} · "
                      f"{'real-size' if args.real_size else 'tiny'} random-weight models · {device} · "
                      f"{platform.processor() or platform.machine()} · GPU stages: {', '.join(stages)}")
        per_listener = run_nightly("per-listener", 1, root, warm_up, stages)
        stage_major = run_nightly("stage-major", args.batch_listeners or args.listeners, root, warm_up, stages)
        same, why = same_episodes(per_listener, stage_major)

    table = Table("nightly", "rendered", "QA passed", "GPU-stage s", "in phases s", "in renders s", "episodes/h",
                  "batches reached", "wall s", "peak GB", title="GPU stages: " + ", ".join(stages))
    for run in (per_listener, stage_major):
        table.add_row(run["mode"], f"{run['rendered']}/{args.listeners}", str(run["qa_passed"]),
                      f"{run['gpu_stage_s']:.1f}", f"{run['in_phases_s']:.1f}", f"{run['in_renders_s']:.1f}",
                      f"{run['episodes_per_hour']:.0f}", json.dumps(run["batches"]) if run["batches"] else "-",
                      f"{run['wall_s']:.1f}", f"{run['peak_gb']:.2f}")
    console.print(table)
    console.print(f"identical episodes: {'yes' if same else 'NO'} ({why})")
    for run in (per_listener, stage_major):
        if run["failed"]:
            console.print(f"{run['mode']} failed: {run['failed']}")
    a, b = stage_major["episodes_per_hour"], per_listener["episodes_per_hour"]
    print(f"nightly: stage-major {a:.0f} episodes/h, per-listener {b:.0f} episodes/h, ratio {a / b:.2f}")


if __name__ == "__main__":
    main()

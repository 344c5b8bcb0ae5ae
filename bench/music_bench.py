"""Music: seconds of audio per wall second, per generator and batch size, in one run.

`procedural` renders beds one by one (fluidsynth, CPU). `musicgen` runs a random-weight model
through the real transformers path: a tiny one by default (the code path's overhead), or one with
musicgen-small's architecture with --musicgen-small (the real model's cost; random weights are
fine for timing), or a real checkpoint with --musicgen-model DIR. Batch sizes with --batches
(the issue's GPU measurement: 1,8,32).

    python bench/music_bench.py [--seconds 10] [--batches 1,8] [--musicgen-small | --musicgen-model DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each bed")
    parser.add_argument("--batches", default="1,8", help="musicgen batch sizes, comma-separated")
    parser.add_argument("--musicgen-small", action="store_true", help="random weights, musicgen-small's size")
    parser.add_argument("--musicgen-model", default=None, help="a real MusicGen checkpoint directory")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from nightcast.generators.music import load_generator
    from nightcast.schema import MusicCue
    from nightcast.settings import Settings

    console = Console(width=140)
    device = "cpu"
    if importlib.util.find_spec("torch"):
        import torch

        device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    console.print(f"nightcast music bench · {platform.machine()} · {os.cpu_count()} cores · {device} · "
                  f"{args.seconds:g} s beds")
    cue = MusicCue(prompt="mellow jazz instrumental, 92 bpm, D minor, late night radio bed", style="jazz",
                   mood="mellow", bpm=92, key="D minor", duration_s=args.seconds, energy=0.5)
    table = Table("generator", "model", "batch", "wall s", "audio s", "audio s per wall s")

    from nightcast.generators.music.procedural import ProceduralGenerator

    for label, procedural in (("FluidR3_GM", load_generator("procedural", Settings.from_env())),
                              ("numpy synth (fallback)", ProceduralGenerator(renderer="numpy"))):
        procedural.generate(cue, 2.0)  # warm-up: soundfont load
        started = time.perf_counter()
        for seed in range(4):
            procedural.generate(cue, args.seconds, seed=seed)
        wall = time.perf_counter() - started
        table.add_row("procedural", label, "1 (×4)", f"{wall:.2f}", f"{4 * args.seconds:.0f}",
                      f"{4 * args.seconds / wall:.1f}")

    if importlib.util.find_spec("librosa"):
        from synthetic_stems import write_stems

        with tempfile.TemporaryDirectory() as tmp:
            stems = load_generator("stems", Settings.from_env(music_stems=write_stems(Path(tmp) / "stems")))
            stems.generate(cue, 2.0)  # analysis (tempo, key, beat grid) happens once per folder
            started = time.perf_counter()
            for seed in range(4):
                stems.generate(cue, args.seconds, seed=seed)
            wall = time.perf_counter() - started
            table.add_row("stems", "synthetic 3-stem song", "1 (×4)", f"{wall:.2f}", f"{4 * args.seconds:.0f}",
                          f"{4 * args.seconds / wall:.1f}")

    if importlib.util.find_spec("transformers") and importlib.util.find_spec("torch"):
        with tempfile.TemporaryDirectory() as tmp:
            model = args.musicgen_model
            label = Path(model).name if model else None
            if model is None:
                from tiny_musicgen import build_tiny_musicgen

                model = str(build_tiny_musicgen(Path(tmp) / "musicgen", real_size=args.musicgen_small))
                label = "musicgen-small size, random" if args.musicgen_small else "tiny random"
            for batch in [int(b) for b in args.batches.split(",")]:
                settings = Settings.from_env(music_model=model, musicgen={"batch_size": batch})
                generator = load_generator("musicgen", settings)
                generator.generate_many([cue], [1.0])  # warm-up
                started = time.perf_counter()
                generator.generate_many([cue] * batch, [args.seconds] * batch)
                wall = time.perf_counter() - started
                table.add_row("musicgen", label, str(batch), f"{wall:.2f}", f"{batch * args.seconds:.0f}",
                              f"{batch * args.seconds / wall:.2f}")
    console.print(table)
    if importlib.util.find_spec("librosa"):
        console.print(library_table(cue, args.seconds))


def library_table(cue, seconds: float):
    """The music library: analysing tracks on the first scan, the cached rescan, and a library bed
    (procedural bridge + the track from its downbeat) per wall second."""
    from rich.table import Table

    from nightcast.generators.music import make_music
    from nightcast.generators.music.library import scan_library
    from nightcast.settings import Settings

    from synthetic_library import write_library

    table = Table("library step", "tracks", "wall s", "per track", "audio s per wall s")
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_library(Path(tmp) / "library")
        started = time.perf_counter()
        library = scan_library(folder, Path(tmp) / "cache")
        first = time.perf_counter() - started
        started = time.perf_counter()
        scan_library(folder, Path(tmp) / "cache")
        cached = time.perf_counter() - started
        n = len(library.tracks)
        table.add_row("first scan (tags + librosa tempo/downbeat/key)", str(n), f"{first:.2f}", f"{first / n:.2f} s", "")
        table.add_row("rescan, unchanged files (cache)", str(n), f"{cached:.4f}", f"{1000 * cached / n:.2f} ms", "")
        track = library.tracks[0]
        bed = cue.model_copy(update={"track": track, "bpm": round(track.bpm), "key": track.key})
        started = time.perf_counter()
        for seed in range(4):
            make_music(bed, seconds, f"b{seed}", Path(tmp), generator="procedural", seed=seed, track_at_s=seconds / 2,
                       settings=Settings.from_env())
        wall = time.perf_counter() - started
        table.add_row("bed: bridge (procedural) + track", "1 (×4)", f"{wall:.2f}", "", f"{4 * seconds / wall:.1f}")
    return table


if __name__ == "__main__":
    main()

"""What QA's ASR costs, three ways, on the same rendered episodes in one run: seconds, RTF and WER.

- per segment, padded (faster-whisper `transcribe` on each segment's listened speech, as
  nightcast did before: every 30 s window padded to 30 s, timestamps on);
- batched windows (faster-whisper `BatchedInferencePipeline` over the same windows nightcast
  packs, each padded to 30 s);
- nightcast (`Transcriber.hear`: each window encoded at its own length).

RTF = ASR seconds / seconds of speech heard. The episodes are rendered first (without QA), then
each approach hears the encoded file. All numbers in one table come from one run on this machine.

    python bench/qa_bench.py [--profile profiles/dre.yaml] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
ROOT = Path(__file__).resolve().parent.parent


def per_segment_padded(model, listening, segments: int) -> list[str]:
    from nightcast.qa.listening import ASR_RATE

    heard = []
    for index in range(segments):
        pieces = [listening.audio[round(a * ASR_RATE):round(b * ASR_RATE)]
                  for (a, b), owner in zip(listening.windows, listening.owners) if owner == index]
        if not pieces:
            heard.append("")
            continue
        import numpy as np

        results, _ = model.transcribe(np.concatenate(pieces), language="en", beam_size=1, vad_filter=False,
                                      condition_on_previous_text=False)
        heard.append(" ".join(r.text.strip() for r in results))
    return heard


def batched_windows(model, listening, segments: int) -> list[str]:
    from faster_whisper import BatchedInferencePipeline

    results, _ = BatchedInferencePipeline(model).transcribe(
        listening.audio, language="en", beam_size=1, batch_size=8, without_timestamps=True,
        clip_timestamps=[{"start": a, "end": b} for a, b in listening.windows])
    heard: list[list[str]] = [[] for _ in range(segments)]
    starts = [a for a, _ in listening.windows]
    for result in results:
        window = min(range(len(starts)), key=lambda i: abs(starts[i] - result.start))
        heard[listening.owners[window]].append(result.text.strip())
    return [" ".join(h) for h in heard]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", action="append", help="profile YAML (repeatable)")
    parser.add_argument("--threads", type=int, default=1, help="ASR CPU threads (a render uses qa.asr_threads)")
    parser.add_argument("--date", default="2026-11-23")
    args = parser.parse_args()
    profiles = args.profile or [str(ROOT / "profiles" / "maya.yaml"), str(ROOT / "profiles" / "dre.yaml")]

    from rich.console import Console
    from rich.table import Table

    from nightcast.flows.episode import render_episode
    from nightcast.qa.asr import Transcriber
    from nightcast.qa.listening import Listening, load_for_asr, pack_segments
    from nightcast.qa.meters import meter_file
    from nightcast.qa.wer import word_error_rate
    from nightcast.schema import EpisodeManifest

    console = Console(width=200)
    console.print(f"nightcast QA bench · {platform.processor() or platform.machine()} · {os.cpu_count()} cores · "
                  f"ASR threads {args.threads}")
    transcriber = Transcriber(threads=args.threads, device="cpu")
    approaches = {"per segment, padded to 30 s": lambda l, n: per_segment_padded(transcriber.model, l, n),
                  "batched windows, padded to 30 s": lambda l, n: batched_windows(transcriber.model, l, n),
                  "nightcast: windows at their own length": transcriber.hear}
    table = Table("episode", "speech heard s", "windows", "approach", "ASR s", "RTF", "× per segment", "mean WER",
                  "max WER", "meters s")
    with tempfile.TemporaryDirectory() as out:
        for profile in profiles:
            episode = Path(render_episode(profile, out_dir=out, date=args.date, qa=False))
            manifest = EpisodeManifest.model_validate_json((episode / "episode.json").read_bytes())
            audio = episode / manifest.files["audio"]
            started = time.perf_counter()
            meter_file(audio, -50.0)
            meters_s = time.perf_counter() - started
            listening = pack_segments(load_for_asr(audio), [s.sentences for s in manifest.speech], "full")
            warm = Listening(audio=listening.audio, windows=listening.windows[:1], owners=[0])
            transcriber.hear(warm, 1)  # the first call pays the model's setup
            baseline = None
            for name, hear in approaches.items():
                started = time.perf_counter()
                heard = hear(listening, len(manifest.speech))
                seconds = time.perf_counter() - started
                baseline = baseline or seconds
                wers = [word_error_rate(ref, text) for ref, text in zip(listening.references, heard) if ref]
                table.add_row(f"{manifest.listener_id}/{manifest.template_id}", f"{listening.seconds:.1f}",
                              str(len(listening.windows)), name, f"{seconds:.2f}", f"{seconds / listening.seconds:.4f}",
                              f"{baseline / seconds:.2f}", f"{statistics.mean(wers):.3f}", f"{max(wers):.3f}",
                              f"{meters_s:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()

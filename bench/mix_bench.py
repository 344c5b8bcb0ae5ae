"""Mix + master: real-time factor for a long episode, against a naive pydub overlay of the same material.

The material: `--minutes` of episode (default 60) in 150 s segments: a real hibari voice clip under
each, over numpy-synth beds, the timeline of a real render. Two approaches, each in its own process
so peak memory is its own:

- nightcast: the streaming mixer (sidechain ducking, equal-power crossfades) → float WAV →
  limiter | encoder → ebur128-verified MP3 at the target.
- naive pydub: AudioSegment overlays onto a silent episode (flat -14 dB duck under the voice, linear
  fades), peak normalise, MP3 export: what many generators do.

    python bench/mix_bench.py [--minutes 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEGMENT_S, PRE_ROLL_S, CROSSFADE_S = 150.0, 3.0, 2.0


def rss_mb(field: str = "VmHWM") -> float:
    """VmHWM: this process's peak resident memory; VmRSS: now."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_material(folder: Path, minutes: float) -> dict:
    """One voice clip and four beds, reused along a timeline of minutes; returns the plan as JSON."""
    from nightcast.audio import write_clip
    from nightcast.generators.music.fitting import fit_bed
    from nightcast.generators.music.procedural import ProceduralGenerator
    from nightcast.schema import MusicCue, Segment
    from nightcast.voices import speak_segment
    from nightcast.voices.presets import load_preset

    text = ("Good evening, and welcome back to the late show. Tonight we start slow, with a record that "
            "sounds like rain on a window in nineteen seventy-two, and then we go somewhere warmer. "
            "Stay with me: the next hour is all yours.")
    preset = load_preset("host", ROOT / "voices" / "presets")
    cue = MusicCue(prompt="mellow jazz bed", style="jazz", mood="mellow", bpm=90, key="D minor", duration_s=20, energy=0.5)
    segment = Segment(id="s0", kind="intro", title="Welcome", speaker="host", text=text, word_budget=60, cue=cue)
    voice = speak_segment(segment, {"host": preset}, folder, 44100)
    generator = ProceduralGenerator(renderer="numpy")
    beds = []
    for i in range(4):
        bed = fit_bed(generator.generate(cue, SEGMENT_S + CROSSFADE_S, seed=i), SEGMENT_S + CROSSFADE_S, 44100)
        beds.append(str(write_clip(bed, folder / f"bed{i}.wav")))
    count = max(1, round(minutes * 60 / SEGMENT_S))
    return {"voice": voice.path, "voice_s": voice.duration_s, "beds": beds, "count": count}


def run_nightcast(material: dict, folder: Path) -> dict:
    from nightcast.mix import master_episode, mix_episode
    from nightcast.schema import MixSettings, MusicClip, SpeechClip, Timeline, TimelineEntry

    mix = MixSettings(crossfade_s=CROSSFADE_S)
    entries, speech, music = [], [], []
    for i in range(material["count"]):
        start, last = i * SEGMENT_S, i == material["count"] - 1
        entries.append(TimelineEntry(segment_id=f"s{i}", start_s=start, speech_start_s=start + PRE_ROLL_S,
                                     speech_end_s=start + PRE_ROLL_S + material["voice_s"], end_s=start + SEGMENT_S,
                                     music_s=SEGMENT_S + (0 if last else CROSSFADE_S),
                                     crossfade_s=0 if last else CROSSFADE_S))
        speech.append(SpeechClip(segment_id=f"s{i}", path=material["voice"], sample_rate=44100,
                                 duration_s=material["voice_s"], sentences=[], engine="hibari"))
        music.append(MusicClip(segment_id=f"s{i}", path=material["beds"][i % 4], sample_rate=44100,
                               duration_s=SEGMENT_S + CROSSFADE_S, generator="numpy"))
    timeline = Timeline(entries=entries, duration_s=material["count"] * SEGMENT_S)
    before = rss_mb("VmRSS")
    started = time.perf_counter()
    mixed = mix_episode(timeline, speech, music, mix, folder / "mix.wav")
    mixed_at = time.perf_counter()
    loudness = master_episode(mixed, folder / "episode.mp3", mix, [], {"title": "bench"})
    done = time.perf_counter()
    return {"mix_s": mixed_at - started, "master_s": done - mixed_at, "total_s": done - started,
            "lufs": loudness.integrated_lufs, "dbtp": loudness.true_peak_dbtp, "peak_rss_mb": rss_mb(), "growth_mb": rss_mb() - before,
            "audio_s": timeline.duration_s}


def run_pydub(material: dict, folder: Path) -> dict:
    from pydub import AudioSegment, effects

    from nightcast.mix.master import measure_loudness

    before = rss_mb("VmRSS")
    started = time.perf_counter()
    seg_ms, fade_ms = int(SEGMENT_S * 1000), int(CROSSFADE_S * 1000)
    episode = AudioSegment.silent(duration=material["count"] * seg_ms, frame_rate=44100).set_channels(2)
    voice = AudioSegment.from_wav(material["voice"]).set_channels(2)
    beds = [AudioSegment.from_wav(path).set_sample_width(2) for path in material["beds"]]
    speech_from, speech_to = int(PRE_ROLL_S * 1000), int(PRE_ROLL_S * 1000) + len(voice)
    for i in range(material["count"]):
        bed = beds[i % 4]
        ducked = bed[:speech_from] + bed[speech_from:speech_to].apply_gain(-14) + bed[speech_to:]
        ducked = ducked.fade_in(fade_ms).fade_out(fade_ms)
        episode = episode.overlay(ducked, position=i * seg_ms)  # each overlay copies the whole episode
        episode = episode.overlay(voice, position=i * seg_ms + speech_from)
    mixed_at = time.perf_counter()
    effects.normalize(episode, headroom=1.0).export(folder / "naive.mp3", format="mp3", bitrate="128k")
    done = time.perf_counter()
    loudness = measure_loudness(folder / "naive.mp3")
    return {"mix_s": mixed_at - started, "master_s": done - mixed_at, "total_s": done - started,
            "lufs": loudness.integrated_lufs, "dbtp": loudness.true_peak_dbtp, "peak_rss_mb": rss_mb(), "growth_mb": rss_mb() - before,
            "audio_s": material["count"] * SEGMENT_S}


def child(approach: str, material_json: str, folder: str) -> None:
    material = json.loads(Path(material_json).read_text())
    result = (run_nightcast if approach == "nightcast" else run_pydub)(material, Path(folder))
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from rich.console import Console
    from rich.table import Table

    console = Console(width=170)
    console.print(f"nightcast mix bench · {platform.machine()} · {os.cpu_count()} cores · {args.minutes:g}-minute episode")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        material = make_material(folder, args.minutes)
        plan = folder / "material.json"
        plan.write_text(json.dumps(material))
        for approach in ("nightcast", "pydub"):
            work = folder / approach
            work.mkdir()
            out = subprocess.run([sys.executable, __file__, "--child", approach, str(plan), str(work)],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                console.print(f"[red]{approach} failed:[/] {out.stderr.strip().splitlines()[-1:]}")
                continue
            results[approach] = json.loads(out.stdout.strip().splitlines()[-1])
            (work / "mix.wav").unlink(missing_ok=True)

    table = Table("approach", "mix s", "master + encode s", "total s", "RTF (wall / audio)", "× real time",
                  "peak RSS MB", "peak − at start MB", "LUFS", "dBTP")
    labels = {"nightcast": "nightcast (streaming mix, limiter | encoder)",
              "pydub": "naive pydub overlay, peak normalise"}
    for approach, r in results.items():
        table.add_row(labels[approach], f"{r['mix_s']:.1f}", f"{r['master_s']:.1f}", f"{r['total_s']:.1f}",
                      f"{r['total_s'] / r['audio_s']:.4f}", f"{r['audio_s'] / r['total_s']:.0f}",
                      f"{r['peak_rss_mb']:.0f}", f"{r['growth_mb']:.0f}", f"{r['lufs']:.1f}", f"{r['dbtp']:.1f}")
    console.print(table)
    if len(results) == 2:
        ours, naive = results["nightcast"], results["pydub"]
        console.print(f"nightcast / pydub wall time: {ours['total_s'] / naive['total_s']:.2f}×; "
                      f"mix step alone {ours['mix_s'] / naive['mix_s']:.2f}×; "
                      f"peak memory {ours['peak_rss_mb'] / naive['peak_rss_mb']:.2f}× "
                      f"(growth while mixing {ours['growth_mb']:.0f} MB vs {naive['growth_mb']:.0f} MB)")


if __name__ == "__main__":
    main()

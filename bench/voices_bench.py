"""Voices: real-time factor per engine on this machine: serial, parallel sentences, and cached;
and how each sounds: predicted MOS (DNSMOS P.808 and P.835 overall, nightcast/qa/mos.py) and the
word error rate of Whisper tiny.en hearing it (the QA gate's own ASR), on three paragraphs; and how
far apart every two voices measure (nightcast/qa/voiceprint.py, the two-host check's distance; the
diagonal is one voice on other paragraphs).

RTF = synthesis seconds / seconds of speech (lower is faster). Every row speaks the same
paragraph through the full speech stage (normalise → synthesise per sentence → effects →
resample to 44.1 kHz), in one run: once with one sentence at a time, once with sentences in
parallel (one worker per core; engines with a batch call get one batched call per paragraph;
engines that are not thread-safe stay serial), once from a warm
speech cache. `transformers` runs a random-weight VITS of the MMS-TTS size (a real checkpoint's
cost, though random weights speak noise and pick their own durations) and a tiny one (the code
path's overhead), unless --vits-model points at a real checkpoint.

    python bench/voices_bench.py [--vits-model DIR]
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
PARAGRAPH = (
    "Good evening, Maya. It's 11:15 pm on a Monday, and this is Nightly Digest. You played So What 14 times "
    "this week, so tonight we start with Miles Davis. Kind of Blue, recorded in 1959, is built on modes instead "
    "of fast chord changes, which is why it feels so open. After that, Bill Evans, and a little story about "
    "spiritual jazz. Stay with me."
)
# how each voice sounds is judged on three paragraphs: RTF's, and two more
MORE_PARAGRAPHS = (
    "Wait, Miles Davis again? Tell me why, Sky. Fair enough: that trumpet sounds like a street after the rain, "
    "and you keep coming back to it around midnight. Next, something newer from London, with a drummer who "
    "plays like the room is on fire.",
    "Here's one with your name all over it: Little Simz. Venom has been on repeat for you, twelve plays and "
    "counting. Some records belong to a time of day, and this one belongs to late evenings like this one. "
    "Sampling turned old soul and jazz records into new songs. Turn it up.",
)
ROUNDS = 3  # best of three: the machine's noise, not the engine's


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vits-model", default=None, help="a real VITS checkpoint directory")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from nightcast.errors import NightcastError
    from nightcast.qa.voiceprint import voice_distance
    from nightcast.settings import Settings
    from nightcast.voices import load_engine, speak, speech_workers
    from nightcast.voices.cache import SpeechCache
    from nightcast.voices.presets import VoicePreset, load_preset, preset_names

    settings = Settings.from_env()
    presets = [load_preset(name, settings.presets_dir) for name in preset_names(settings.presets_dir)]
    with tempfile.TemporaryDirectory() as tmp:
        if importlib.util.find_spec("transformers") and importlib.util.find_spec("torch"):
            model = args.vits_model
            if model is None:
                sys.path.insert(0, str(ROOT / "tests"))
                from tiny_tts import build_tiny_vits

                model = str(build_tiny_vits(Path(tmp) / "vits"))
                presets.append(VoicePreset(id="vits-36m", display_name="VITS, MMS-TTS size, random weights",
                                           engine="transformers",
                                           model=str(build_tiny_vits(Path(tmp) / "vits-36m", real_size=True))))
            presets.append(VoicePreset(id="vits", display_name="VITS via transformers" + ("" if args.vits_model else
                                       " (tiny random)"), engine="transformers", model=model))
        console = Console(width=160)
        console.print(f"nightcast voices bench · {platform.machine()} · {os.cpu_count()} cores · "
                      f"{len(PARAGRAPH.split())} words")
        workers = speech_workers()
        table = Table("preset", "engine", "speech s", "load s", "serial RTF", f"parallel×{workers} or batched RTF", "speed-up",
                      "cached RTF", "wpm", "DNSMOS P.808", "DNSMOS OVRL", "WER")
        prints = {}
        for preset in presets:
            try:
                started = time.perf_counter()
                load_engine(preset.engine, preset.model, preset.speaker)
                load_s = time.perf_counter() - started
            except NightcastError as exc:
                table.add_row(preset.id, preset.engine, "-", "-", f"unavailable: {exc}", "", "", "", "", "", "", "")
                continue
            speak("Warming up.", preset, 44100)  # lazy model parts (G2P tables, kernels) load on first use

            def timed(**kwargs) -> tuple[float, float]:
                best, clip = float("inf"), None
                for _ in range(ROUNDS):
                    started = time.perf_counter()
                    clip, _ = speak(PARAGRAPH, preset, 44100, **kwargs)
                    best = min(best, time.perf_counter() - started)
                return best, clip.duration_s

            serial, seconds = timed(workers=1)
            parallel, _ = timed(workers=workers)
            cache = SpeechCache(Path(tmp) / f"cache-{preset.id}")
            speak(PARAGRAPH, preset, 44100, cache=cache)
            cached, _ = timed(cache=cache)
            quality, wer, prints[preset.id] = how_it_sounds(preset, Path(tmp), settings)
            table.add_row(preset.id, preset.engine, f"{seconds:.1f}", f"{load_s:.1f}", f"{serial / seconds:.3f}",
                          f"{parallel / seconds:.3f}", f"{serial / parallel:.2f}×", f"{cached / seconds:.3f}",
                          f"{len(PARAGRAPH.split()) / seconds * 60:.0f}", f"{quality.p808:.2f}", f"{quality.ovrl:.2f}",
                          f"{wer:.1%}")
        console.print(table)
        apart = Table("voice distance", *prints, title="hosts apart: voice-print distance (QA needs "
                                                     f">= {settings.qa.hosts_min_distance})")
        for a, (first_a, rest_a) in prints.items():
            apart.add_row(a, *[f"{voice_distance(first_a, rest_b):.2f}" for first_b, rest_b in prints.values()])
        console.print(apart)


def how_it_sounds(preset, folder: Path, settings):
    """(predicted MOS, WER, voice prints) of the three paragraphs in this voice, as the QA gate judges
    segments: MOS averaged over the paragraphs, WER over all their words; prints of the first
    paragraph and of the other two."""
    import numpy as np

    from nightcast.audio import write_clip
    from nightcast.qa.gate import listen_isolated
    from nightcast.qa.mos import SpeechQuality, score_file
    from nightcast.qa.voiceprint import voice_print
    from nightcast.qa.wer import word_error_rate
    from nightcast.schema import SpeechClip
    from nightcast.voices import speak

    clips, scores, audio = [], [], []
    for index, text in enumerate((PARAGRAPH, *MORE_PARAGRAPHS)):
        clip, sentences = speak(text, preset, 44100)
        path = write_clip(clip, folder / f"{preset.id}-paragraph-{index}.wav")
        scores.append(score_file(path)[0])
        audio.append(clip.samples[:, 0])
        clips.append(SpeechClip(segment_id=f"s0{index + 1}-bench", path=str(path), sample_rate=44100,
                                duration_s=clip.duration_s, sentences=sentences, engine=preset.engine))
    heard = listen_isolated(clips, settings.qa)
    said = " ".join((PARAGRAPH, *MORE_PARAGRAPHS))
    by_id = {h.segment_id: h.heard for h in heard.segments}
    wer = word_error_rate(said, " ".join(by_id.get(clip.segment_id, "") for clip in clips))
    quality = SpeechQuality(**{field: round(float(np.mean([getattr(q, field) for q in scores])), 3)
                               for field in ("ovrl", "sig", "bak", "p808")})
    prints = (voice_print(audio[0], 44100), voice_print(np.concatenate(audio[1:]), 44100))
    return quality, wer, prints


if __name__ == "__main__":
    main()

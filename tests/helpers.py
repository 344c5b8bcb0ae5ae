"""What many tests share: where the example data is, the test date, and measurements made with
tools independent of the code under test (ffprobe, ffmpeg's ebur128)."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

from nightcast.settings import Settings

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


SHORT_SLOTS = [{"kind": "intro", "speech_s": 12, "music_s": 4}, {"kind": "story", "speech_s": 22, "music_s": 6},
               {"kind": "pick", "speech_s": 14, "music_s": 8}, {"kind": "outro", "speech_s": 8, "music_s": 4}]
# Two picks (one asked for, one to skip) for the steering loop, in the same 90 seconds.
TWO_PICK_SLOTS = [{"kind": "intro", "speech_s": 16, "music_s": 4}, {"kind": "pick", "speech_s": 12, "music_s": 6},
                  {"kind": "story", "speech_s": 12, "music_s": 4}, {"kind": "pick", "speech_s": 12, "music_s": 6},
                  {"kind": "outro", "speech_s": 6, "music_s": 4}]


def short_format(root: Path, slots: list[dict] = SHORT_SLOTS, **mix) -> Path:
    """A templates folder with a 90-second format, `qa-check` (by default intro, story, pick, outro),
    so the gate's render tests hear a short episode; `mix` overrides its mix settings."""
    return _derived_format(root, "nightly-digest", lambda base: {
        **base, "id": "qa-check", "title": "QA Check", "target_duration_s": 90, "min_duration_s": 70,
        "max_duration_s": 110, "slots": slots, "mix": {**base["mix"], **mix}})


def duo_format(root: Path) -> Path:
    """A templates folder with `duo-check`: the shipped two-hosts format (its slots, dialogue and
    co-hosts) at a third of its 8 minutes, so the shared two-host episode costs what a short one does."""
    return _derived_format(root, "two-hosts", lambda base: {
        **base, "id": "duo-check", "title": "Duo Check", "target_duration_s": 160, "min_duration_s": 130,
        "max_duration_s": 190, "slots": [{**slot, "speech_s": round(slot["speech_s"] / 3),
                                          "music_s": round(slot["music_s"] / 3)} for slot in base["slots"]]})


def _derived_format(root: Path, base: str, derive) -> Path:
    """`root`/templates: a copy of the repository's, plus the format `derive` makes from the shipped `base`."""
    import shutil

    import yaml

    templates = root / "templates"
    shutil.copytree(TEMPLATES, templates)
    format_ = derive(yaml.safe_load((TEMPLATES / "formats" / f"{base}.yaml").read_text()))
    (templates / "formats" / f"{format_['id']}.yaml").write_text(yaml.safe_dump(format_))
    return templates

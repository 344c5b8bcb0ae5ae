"""The loop a listener sees: request → render → feedback → render, through the real flow."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from nightcast.data_files import load_profile, load_template
from nightcast.generators.music.library import scan_library
from nightcast.profile_store import FolderStore
from nightcast.steering import take_feedback, take_request

from helpers import DATE, PROFILES, TWO_PICK_SLOTS, short_format
from synthetic_library import write_track

pytestmark = pytest.mark.slow
MAYA = load_profile(PROFILES / "maya.yaml")


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("music")
    for i, (artist, title, genre, bpm) in enumerate([
            ("Bill Evans", "Peace Piece", "Jazz", 96), ("Nina Simone", "Feeling Good", "Soul", 104),
            ("Alice Coltrane", "Journey in Satchidananda", "Spiritual Jazz", 100), ("Miles Davis", "So What", "Modal Jazz", 98),
            ("Kamasi Washington", "Truth", "Spiritual Jazz", 92), ("Pharoah Sanders", "Astral Traveling", "Spiritual Jazz", 100)]):
        write_track(folder / f"{i}.mp3", artist=artist, title=title, genre=genre, bpm=bpm, semitones_from_a=i % 3)
    return folder


def render(out: Path, library: Path, day: int) -> dict:
    from nightcast.flows.episode import render_episode
    from nightcast.render.request import Backends

    folder = Path(render_episode("maya", template="qa-check", date=DATE + dt.timedelta(days=day), out_dir=str(out),
                                 backends=Backends(music_library=str(library)), qa=False))
    return {"manifest": json.loads((folder / "episode.json").read_text()),
            "script": json.loads((folder / "script.json").read_text()), "folder": folder}


def speech_s(episode: dict) -> float:
    return sum(s["speech_end_s"] - s["speech_start_s"] for s in episode["manifest"]["speech"])


def played(episode: dict) -> set[str]:
    return {t["artist"] for t in episode["manifest"]["tracks"]}


def test_requests_and_feedback_steer_the_next_episodes(prefect_harness, library, tmp_path, monkeypatch):
    monkeypatch.setenv("NIGHTCAST_MEMORY_DAYS", "0")  # what changes, changes because the listener asked
    templates = short_format(tmp_path, TWO_PICK_SLOTS)  # four renders: 90 seconds each, two picks
    monkeypatch.setenv("NIGHTCAST_TEMPLATES_DIR", str(templates))
    out = tmp_path / "out"
    store = FolderStore(PROFILES, out / ".listeners")  # the CLI and the API use this one (listener_data_dir)
    first = render(out, library, 0)
    assert "Pharoah Sanders" not in played(first) and "Nina Simone" in played(first)

    shutil.copytree(out, tmp_path / "unasked")  # the same next render, without the request
    unasked = render(tmp_path / "unasked", library, 1)
    tracks = scan_library(library, analyse=False).tracks  # what a request can name: the library's tags too
    request = take_request(store, MAYA, "more Pharoah Sanders tonight, keep the talking short, "
                                        "and never play Nina Simone again", "api", tracks)
    asked = render(out, library, 1)

    # The requested artist in the library plays, and the pick's note cites the request.
    assert "Pharoah Sanders" in played(asked)
    pick = next(s for s in asked["script"]["segments"] if s["artist"] == "Pharoah Sanders")
    assert pick["request"] == request.id and request.id in pick["notes"]
    answered = asked["manifest"]["requests"]
    assert [a["id"] for a in answered] == [request.id] and pick["id"] in answered[0]["segments"]
    assert "more Pharoah Sanders" in answered[0]["understood"] and "less talk" in answered[0]["understood"]
    # The host answers it in its own words, never by reading the request aloud.
    intro = asked["script"]["segments"][0]["text"]
    assert "You asked" in intro or "request" in intro.lower()
    assert "never play Nina Simone" not in json.dumps(asked["script"])
    # Less talk: at least 30 % fewer seconds of speech than the same render without it; music fills.
    assert speech_s(asked) <= 0.7 * speech_s(unasked), (speech_s(asked), speech_s(unasked))
    template = load_template("qa-check", templates)
    assert template.min_duration_s <= asked["manifest"]["duration_s"] <= template.max_duration_s
    assert [r.status for r in store.requests("maya")] == ["used"]
    assert store.requests("maya")[0].episode_id == asked["manifest"]["episode_id"]

    # Feedback: skip the other pick's track, like the requested one.
    other = next(s for s in asked["script"]["segments"] if s["artist"] and s["artist"] != "Pharoah Sanders")
    take_feedback(store, "maya", asked["folder"], asked["manifest"]["episode_id"], other["id"], "skip", "cli")
    take_feedback(store, "maya", asked["folder"], asked["manifest"]["episode_id"], pick["id"], "like", "api")
    after = render(out, library, 2)
    titles = {t["title"] for t in after["manifest"]["tracks"]}
    assert other["track"] not in titles  # the skipped track sits out the next episode
    # "never" holds in every later episode: not played, not featured, not named.
    for episode in (asked, after):
        assert "Nina Simone" not in played(episode)
        assert "Nina Simone" not in json.dumps([s["text"] for s in episode["script"]["segments"]])

"""New listeners end to end: profiles with only id, name and time zone, with one favourite genre,
and with one history item each render a whole episode that passes the QA gate, inside the format's
duration range, claiming nothing their data does not hold; a nightly over the example profiles and
these three renders all six and counts the new ones apart."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from helpers import DATE, PROFILES, short_format

pytestmark = pytest.mark.slow

NEW = {"nova": {"name": "Nova Reyes", "timezone": "Europe/Berlin"},
       "gus": {"name": "Gus Lee", "timezone": "America/New_York", "favourite_genres": ["hip hop"]},
       "hana": {"name": "Hana Ito", "timezone": "Asia/Tokyo",
                "history": [{"artist": "Bill Evans", "title": "Peace Piece", "plays": 3}]}}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("new-listeners")
    (root / "profiles").mkdir()
    for example in ("maya", "hiro", "dre"):
        shutil.copy(PROFILES / f"{example}.yaml", root / "profiles")
    for listener, fields in NEW.items():
        (root / "profiles" / f"{listener}.yaml").write_text(yaml.safe_dump({"id": listener, **fields}))
    return root, short_format(root)


@pytest.mark.parametrize("listener", list(NEW))
def test_a_new_listener_gets_a_whole_episode_that_passes_qa(prefect_harness, store, listener, monkeypatch):
    from nightcast.flows.episode import render_episode

    root, templates = store
    monkeypatch.setenv("NIGHTCAST_PROFILES_DIR", str(root / "profiles"))
    monkeypatch.setenv("NIGHTCAST_TEMPLATES_DIR", str(templates))
    monkeypatch.setenv("NIGHTCAST_CACHE_DIR", str(root / "cache"))  # the nightly below finds their stages made
    episode = Path(render_episode(listener, template="qa-check", date=DATE, out_dir=str(root / "out"), qa=True))
    manifest = json.loads((episode / "episode.json").read_text())
    script = json.loads((episode / "script.json").read_text())
    report = json.loads((episode / "qa.json").read_text())
    assert report["passed"], [c for c in report["checks"] if not c["passed"]]
    assert 70 <= manifest["duration_s"] <= 110  # qa-check's range
    assert script["starter_picks"]
    assert [claim for claim in script["facts"] if claim["rests_on"] is None] == []
    assert (episode / "episode.mp3").stat().st_size > 100_000


def test_a_nightly_renders_the_examples_and_the_new_listeners_and_counts_the_new(prefect_harness, store,
                                                                                  monkeypatch):
    from nightcast.flows.nightly import nightly

    root, templates = store
    for name, value in {"PROFILES_DIR": root / "profiles", "TEMPLATES_DIR": templates,
                        "QA": json.dumps({"enabled": False}), "CACHE_DIR": root / "cache"}.items():
        monkeypatch.setenv(f"NIGHTCAST_{name}", str(value))
    report = nightly(date=DATE, template="qa-check", out_dir=str(root / "night"))
    assert sorted(report.rendered) == ["dre", "gus", "hana", "hiro", "maya", "nova"], report.failed
    assert sorted(report.cold_start) == ["gus", "hana", "nova"]
    assert "3 of them new (starter taste)" in report.markdown()

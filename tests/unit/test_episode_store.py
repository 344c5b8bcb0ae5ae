"""The outputs layout has one owner: ids, folders, file names, the feed, failed reports, finished
episodes and past scripts all come from EpisodeStore."""

from __future__ import annotations

import datetime as dt
import json

from nightcast.episode_store import EPISODE_FILES, SERVED_FILES, EpisodeStore, episode_files, episode_id


def script_json(listener: str, day: dt.date, template: str = "nightly-digest") -> str:
    return json.dumps({"episode_id": episode_id(template, day), "listener_id": listener, "template_id": template,
                       "date": day.isoformat(), "local_time": "21:00:00", "title": "A show", "writer": "template",
                       "segments": [{"id": "s01-intro", "kind": "intro", "title": "Hello", "speaker": "host",
                                     "text": "Hello there.", "word_budget": 10,
                                     "cue": {"prompt": "calm", "style": "jazz", "mood": "calm", "bpm": 90,
                                             "key": "A minor", "duration_s": 10, "energy": 0.3}}]})


def test_paths_and_names(tmp_path):
    store = EpisodeStore(tmp_path)
    day = dt.date(2026, 11, 23)
    assert episode_id("nightly-digest", day) == "2026-11-23-nightly-digest"
    assert store.episode_dir("maya", "2026-11-23-nightly-digest") == tmp_path / "maya" / "2026-11-23-nightly-digest"
    assert store.feed_path("maya") == tmp_path / "maya" / "feed.xml"
    assert store.failed_report_path("maya", "x").name == ".x.qa-failed.json"
    assert episode_files("opus")["audio"] == "episode.opus" and EPISODE_FILES["audio"] == "episode.mp3"
    assert {"episode.mp3", "episode.m4a", "episode.opus", "episode.json"} <= SERVED_FILES
    assert "feed.xml" not in SERVED_FILES and ".x.qa-failed.json" not in SERVED_FILES
    assert store.file("maya", "2026-11-23-nightly-digest", "audio") is None  # not finished


def test_past_scripts_are_the_window_newest_first_and_skip_builds_and_junk(tmp_path):
    store = EpisodeStore(tmp_path)
    for day in (19, 21, 22, 23):
        folder = store.episode_dir("maya", episode_id("nightly-digest", dt.date(2026, 11, day)))
        folder.mkdir(parents=True)
        (folder / "script.json").write_text(script_json("maya", dt.date(2026, 11, day)))
    building = tmp_path / "maya" / ".building-2026-11-20-nightly-digest-x"
    building.mkdir()
    (building / "script.json").write_text(script_json("maya", dt.date(2026, 11, 20)))
    (tmp_path / "maya" / "2026-11-18-broken").mkdir()
    (tmp_path / "maya" / "2026-11-18-broken" / "script.json").write_text("{not json")
    found = store.past_scripts("maya", dt.date(2026, 11, 18), dt.date(2026, 11, 23))
    assert [s.date.day for s in found] == [22, 21, 19]
    assert store.past_scripts("nobody", dt.date(2026, 11, 1), dt.date(2026, 12, 1)) == []

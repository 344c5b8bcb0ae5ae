"""Listener data rights, piece by piece: the cache ledger and what is whose, the stores' erasure, the
Prefect records that name a listener, and a nightly summary that names none."""

from __future__ import annotations

import json
import zipfile

import pytest
import yaml

from nightcast.errors import InputError
from nightcast.flows.ledger import keys_of, note_keys, write_sentence_keys
from nightcast.profile_store import FolderStore, SqlStore
from nightcast.rights import export_listener, import_listener
from nightcast.rights.cache_entries import cache_entries, remove_cache_entries
from nightcast.schema import ListenerProfile
from nightcast.settings import Settings
from nightcast.voices.cache import SpeechCache

from helpers import PROFILES


def maya() -> ListenerProfile:
    return ListenerProfile.model_validate(yaml.safe_load((PROFILES / "maya.yaml").read_text()))


def stage(root, key: str, sentences: list[str] = ()) -> None:
    folder = root / "stages" / key
    folder.mkdir(parents=True)
    (folder / "clip.wav").write_bytes(b"RIFF")
    (root / "results").mkdir(exist_ok=True)
    (root / "results" / key).write_text("{}")
    if sentences:
        write_sentence_keys(folder, sentences)


def test_an_entry_two_listeners_used_stays_for_the_other(tmp_path):
    settings = Settings(outputs_dir=tmp_path)
    root, speech = settings.cache_root(), SpeechCache(settings.speech_cache_dir())
    for key in ("a" * 64, "b" * 64, "c" * 64):
        speech.path_of(key).parent.mkdir(parents=True, exist_ok=True)
        speech.path_of(key).write_bytes(b"fLaC")
    stage(root, "speech-mine", ["a" * 64, "b" * 64])  # "Good evening, Maya": hers alone
    stage(root, "speech-theirs", ["b" * 64, "c" * 64])  # a sentence both were told
    stage(root, "music-shared")
    note_keys(root, "maya", ["speech-mine", "music-shared", "speech-mine"])
    note_keys(root, "hiro", ["speech-theirs", "music-shared"])
    assert keys_of(root, "maya") == ["music-shared", "speech-mine"]  # noted twice, listed once

    entries = cache_entries(settings, "maya")
    assert entries.stage_keys == ["speech-mine"] and entries.shared_keys == ["music-shared"]
    assert entries.sentences == [speech.path_of("a" * 64)]  # b is in hiro's clip too
    remove_cache_entries(settings, entries)
    assert not (root / "stages" / "speech-mine").exists() and not (root / "results" / "speech-mine").exists()
    assert (root / "stages" / "music-shared").is_dir() and (root / "stages" / "speech-theirs").is_dir()
    assert not speech.path_of("a" * 64).exists() and speech.path_of("b" * 64).exists()
    assert keys_of(root, "maya") == [] and keys_of(root, "hiro") == ["music-shared", "speech-theirs"]
    assert cache_entries(settings, "maya").stage_keys == []  # again: nothing


def test_the_sentence_cache_says_which_sentences_it_served(tmp_path):
    import numpy as np

    cache = SpeechCache(tmp_path)
    cache.put("k" * 64, np.zeros(100, np.float32), 16000)
    again = SpeechCache(tmp_path)
    assert again.get("k" * 64, 16000) is not None and again.get("x" * 64, 16000) is None
    assert again.used == {"k" * 64} and cache.used == {"k" * 64}


@pytest.mark.parametrize("kind", ["folder", "sql"])
def test_a_store_forgets_a_listener_whole_and_twice_is_not_an_error(tmp_path, kind):
    from nightcast.steering import take_request

    store = FolderStore(tmp_path / "profiles", tmp_path / "data") if kind == "folder" else SqlStore(
        f"sqlite:///{tmp_path / 'profiles.db'}")
    hiro = maya().model_copy(update={"id": "hiro", "name": "Hiro Tanaka"})
    store.save([maya(), hiro])
    take_request(store, maya(), "more Alice Coltrane", "cli")
    removed = store.forget("maya")
    assert any("profile" in line for line in removed) and any("request" in line for line in removed)
    assert store.listener_ids() == ["hiro"] and store.requests("maya") == []
    with pytest.raises(InputError, match="no profile"):
        store.load("maya")
    assert store.forget("maya") == []
    assert store.load("hiro").name == "Hiro Tanaka"


def test_an_export_holds_the_profile_requests_episodes_and_where_things_are(tmp_path):
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "maya.yaml").write_text((PROFILES / "maya.yaml").read_text())
    settings = Settings(outputs_dir=tmp_path / "out", profiles_dir=profiles)
    episode = tmp_path / "out" / "maya" / "2026-11-23-nightly-digest"
    episode.mkdir(parents=True)
    (episode / "episode.mp3").write_bytes(b"ID3")
    (tmp_path / "out" / "maya" / "feed.xml").write_text("<rss/>")
    (tmp_path / "out" / "maya" / ".2026-11-24-nightly-digest.qa-failed.json").write_text("{}")

    found = export_listener(settings, "maya", tmp_path / "maya.zip", server=False)
    with zipfile.ZipFile(tmp_path / "maya.zip") as archive:
        names = set(archive.namelist())
        holdings = json.loads(archive.read("holdings.json"))
    assert {"holdings.json", "profile.yaml", "requests.yaml", "feedback.yaml", "feed.xml",
            "episodes/2026-11-23-nightly-digest/episode.mp3", "qa-failed/2026-11-24-nightly-digest.json"} <= names
    assert {p["what"] for p in holdings["places"]} == {"profile", "episodes", "feed", "failed QA reports"}
    assert all(str(tmp_path) not in json.dumps(p) for p in holdings["places"])  # where, never a server path
    assert holdings["not_held"] and [p.what for p in found.places] == [p["what"] for p in holdings["places"]]

    (profiles / "maya.yaml").unlink()
    profile, requests, feedback = import_listener(settings, tmp_path / "maya.zip")
    assert profile == maya() and settings.profile_store().load("maya") == maya()

    with pytest.raises(InputError, match="holds nothing"):
        export_listener(settings, "zed", tmp_path / "zed.zip", server=False)
    assert not (tmp_path / "zed.zip").exists()


def test_an_import_refuses_records_of_another_listener(tmp_path):
    archive_path = tmp_path / "odd.zip"
    with zipfile.ZipFile(archive_path, "w") as archive:
        archive.writestr("profile.yaml", (PROFILES / "maya.yaml").read_text())
        archive.writestr("requests.yaml", yaml.safe_dump([{
            "id": "r-0000000000a1", "listener_id": "hiro", "received_at": "2026-11-23T10:00:00Z", "source": "cli",
            "text": "more jazz", "status": "pending"}]))
    settings = Settings(outputs_dir=tmp_path / "out", profiles_dir=tmp_path / "profiles")
    with pytest.raises(InputError, match="listener 'hiro'"):
        import_listener(settings, archive_path)
    assert not (tmp_path / "profiles" / "maya.yaml").exists()


@pytest.mark.parametrize(("flow", "parameters", "action"), [
    ("render-episode", {"listener": "maya"}, "delete"),
    ("render-episode", {"listener": "profiles/maya.yaml"}, "delete"),
    ("render-episode", {"listener": "mayan"}, None),
    ("render-episode", {"listener": "profiles/maya.yml.bak"}, None),
    ("speech-stage", {"request": {"folder": {"fallback": "/srv/out/maya/.building-2026-11-23-x/work"}}}, "delete"),
    ("music-stage", {"request": {"folder": {"fallback": "/srv/maya/out/hiro/.building-2026-11-23-x/work"}}}, None),
    ("batch-heavy-stages", {"listeners": ["dre", "maya"]}, "redact"),
    ("batch-heavy-stages", {"listeners": ["dre", "hiro"]}, None),
    ("nightly", {"date": "2026-11-23"}, None),
])
def test_the_prefect_runs_that_name_a_listener(flow, parameters, action):
    from nightcast.flows.records import _names_listener

    found = _names_listener(flow, parameters, "maya")
    assert (found[0] if found else None) == action


def test_the_nightly_summary_names_renders_by_place_not_listeners():
    from nightcast.flows.nightly import NightlyReport

    report = NightlyReport(date=None, listeners=3, places={"dre": 1, "maya": 2, "zed": 3},
                           rendered={"dre": "/srv/out/dre/2026-11-23-morning-drive",
                                     "maya": "/srv/out/maya/2026-11-23-nightly-digest"},
                           failed={"zed": "InputError: profiles/zed.yaml: field 'favourite_artists': too short"})
    summary = report.markdown()
    assert "render-2 | ✅ 2026-11-23-nightly-digest" in summary and "render-3 | ❌" in summary
    assert "favourite_artists" in summary
    assert not any(who in summary for who in ("dre", "maya", "zed", "/srv"))


def test_the_prune_leaves_each_ledger_naming_only_what_the_cache_still_holds(tmp_path):
    import os
    import time

    from nightcast.flows.caching import prune_stage_cache

    settings = Settings(outputs_dir=tmp_path)
    root = settings.cache_root()
    stage(root, "speech-old")
    stage(root, "speech-new")
    note_keys(root, "maya", ["speech-old", "speech-new"])
    note_keys(root, "maya", ["speech-new"])  # the next night's render notes it again
    old = time.time() - 3 * 86400
    for path in (root / "stages" / "speech-old", root / "results" / "speech-old"):
        os.utime(path, (old, old))
    assert prune_stage_cache(root, older_than_days=2) == 2
    assert (root / "owners" / "maya.keys").read_text() == "speech-new\n"

"""End to end through the real Prefect flow: what a listener actually gets."""

import json
import re

import pytest

from nightcast.data_files import load_profile, load_template

from helpers import DATE, PROFILES, TEMPLATES, ebur128, ffprobe_duration, short_format

pytestmark = pytest.mark.slow


def test_episode_directory_has_every_file(rendered):
    for episode in rendered.values():
        assert sorted(p.name for p in episode.iterdir()) == ["chapters.json", "cover.png", "episode.json", "episode.mp3",
                                                             "index.html", "qa.json", "script.json", "transcript.srt",
                                                             "transcript.vtt", "waveform.png"]
        # no temp dirs left behind; the render's and the feed's lock files stay (the kernel holds the locks)
        assert not [p for p in episode.parent.iterdir() if p.name.startswith(".") and p.suffix != ".lock"]


def test_mp3_decodes_with_duration_in_the_templates_range(rendered):
    for episode in rendered.values():
        name = episode.name.split("-", 3)[3]  # <date>-<template>
        template = load_template(name, rendered.templates if name == "duo-check" else TEMPLATES)
        duration = ffprobe_duration(episode / "episode.mp3")
        assert template.min_duration_s <= duration <= template.max_duration_s
        manifest = json.loads((episode / "episode.json").read_text())
        assert duration == pytest.approx(manifest["duration_s"], abs=0.2)


def test_loudness_meets_podcast_spec_measured_by_ebur128(rendered):
    for episode in rendered.values():
        measured = ebur128(episode / "episode.mp3")
        assert measured["I"] == pytest.approx(-16.0, abs=1.0)
        assert measured["TP"] <= -1.0
        manifest = json.loads((episode / "episode.json").read_text())
        assert manifest["loudness"]["integrated_lufs"] == pytest.approx(measured["I"], abs=0.1)


def test_chapters_line_up_with_segments(rendered):
    episode = rendered["maya"]
    chapters = json.loads((episode / "chapters.json").read_text())["chapters"]
    script = json.loads((episode / "script.json").read_text())
    duration = ffprobe_duration(episode / "episode.mp3")
    assert [c["title"] for c in chapters] == [s["title"] for s in script["segments"]]
    assert chapters[0]["startTime"] == 0
    for a, b in zip(chapters, chapters[1:]):
        assert a["endTime"] == pytest.approx(b["startTime"]) and a["startTime"] < b["startTime"]
    assert chapters[-1]["endTime"] == pytest.approx(duration, abs=0.2)
    # the same chapters are inside the MP3 (ID3 CHAP), for apps that read them there
    import subprocess

    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_chapters", "-of", "json",
                                       str(episode / "episode.mp3")], capture_output=True, text=True).stdout)
    assert [c["tags"]["title"] for c in probe["chapters"]] == [c["title"] for c in chapters]


def test_transcript_speaks_to_the_listener_at_the_right_times(rendered):
    episode = rendered["maya"]
    profile = load_profile(PROFILES / "maya.yaml")
    vtt = (episode / "transcript.vtt").read_text()
    assert vtt.startswith("WEBVTT")
    assert "Maya" in vtt
    assert sum(artist in vtt for artist in profile.favourite_artists + [h.artist for h in profile.history]) >= 3
    stamps = re.findall(r"(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})", vtt)
    seconds = [(int(a) * 3600 + int(b) * 60 + int(c) + int(d) / 1000, int(e) * 3600 + int(f) * 60 + int(g) + int(h) / 1000)
               for a, b, c, d, e, f, g, h in stamps]
    assert len(seconds) > 10
    assert all(start < end for start, end in seconds)
    assert all(prev[1] <= cur[0] + 1e-3 for prev, cur in zip(seconds, seconds[1:]))
    chapters = json.loads((episode / "chapters.json").read_text())["chapters"]
    assert seconds[0][0] == pytest.approx(chapters[0]["startTime"] + 3.0, abs=0.01)  # after the pre-roll


def test_manifest_records_backends_timings_and_loudness(rendered):
    manifest = json.loads((rendered["maya"] / "episode.json").read_text())
    assert manifest["listener_id"] == "maya" and manifest["template_id"] == "nightly-digest"
    assert {"script", "speech", "music", "mix", "flow"} <= set(manifest["backends"])
    assert manifest["backends"]["speech"]["name"] == "hibari" and manifest["backends"]["speech"]["version"]
    assert manifest["backends"]["flow"]["name"] == "prefect"
    assert "ffmpeg version" in manifest["backends"]["mix"]["version"]  # ffmpeg prints it on stderr
    assert "not reported" not in json.dumps(manifest["backends"])  # every stage reported what ran it
    assert {"script", "speech", "music", "mix", "master"} <= set(manifest["stage_timings_s"])
    assert manifest["loudness"]["measured_by"] == "ffmpeg ebur128"


def test_two_profiles_give_different_scripts(rendered):
    a = json.loads((rendered["maya"] / "script.json").read_text())
    b = json.loads((rendered["hiro"] / "script.json").read_text())
    assert {s["text"] for s in a["segments"]}.isdisjoint({s["text"] for s in b["segments"]})
    assert "Hiro" in " ".join(s["text"] for s in b["segments"])


def test_flow_run_is_recorded_by_prefect(prefect_harness, tmp_path, monkeypatch):
    """A real flow run with mapped task runs, as a Prefect server's UI shows it. (Rendered here: the
    shared episodes may have been rendered by another xdist worker, against its own server.)"""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort, TaskRunSort

    from nightcast.flows.episode import render_episode

    monkeypatch.setenv("NIGHTCAST_TEMPLATES_DIR", str(short_format(tmp_path)))
    render_episode(str(PROFILES / "hiro.yaml"), template="qa-check", out_dir=str(tmp_path / "out"), date=DATE)
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(limit=50, sort=FlowRunSort.START_TIME_DESC)
        [run] = [r for r in runs if r.parameters.get("out_dir") == str(tmp_path / "out")]
        tasks = [t.name for t in client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])),
                                                       limit=200, sort=TaskRunSort.EXPECTED_START_TIME_DESC)]
    assert run.state_name == "Completed"
    assert sum(name.startswith("speak-") for name in tasks) == 4  # mapped per segment
    assert sum(name.startswith("music-") for name in tasks) == 4
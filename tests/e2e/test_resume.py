"""Resume from cache: a render killed mid-way, re-run, reuses what finished; a profile edit redoes
only the segments it changed. Stage executions are counted from the manifest's `stage_cache`,
which the flow fills from Prefect's task states (Completed vs Cached)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from helpers import DATE, PROFILES, ROOT, ebur128, ffprobe_duration, short_format

EPISODE = f"{DATE.isoformat()}-nightly-digest"


def manifest(episode_dir: Path) -> dict:
    return json.loads((episode_dir / "episode.json").read_text())


def kill_when(proc: subprocess.Popen, ready, timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert proc.poll() is None, f"render ended before it could be killed:\n{proc.stderr.read().decode()[-3000:]}"
        assert time.monotonic() < deadline, "the render never got far enough to be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.fixture(scope="module")
def resumed(prefect_harness, tmp_path_factory):
    """Kill `nightcast render` after three speech segments are cached, then render again."""
    from nightcast.flows.episode import render_episode

    out = tmp_path_factory.mktemp("resume")
    results = out / ".cache" / "results"
    proc = subprocess.Popen([sys.executable, "-m", "nightcast.cli", "render", str(PROFILES / "maya.yaml"),
                             "--template", "nightly-digest", "--date", DATE.isoformat(), "--out", str(out)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    kill_when(proc, lambda: len(list(results.glob("speech-*"))) >= 3)
    killed = {"published": (out / "maya" / EPISODE).exists(),
              "builds": [p.name for p in (out / "maya").glob(".building-*")],
              "speech_cached": len(list(results.glob("speech-*")))}
    episode = Path(render_episode(str(PROFILES / "maya.yaml"), template="nightly-digest", out_dir=str(out), date=DATE, qa=False))
    return out, episode, killed


def test_killed_render_publishes_nothing_and_the_rerun_reuses_its_stages(resumed, rendered):
    out, episode, killed = resumed
    assert not killed["published"], "a killed render must not leave an episode"
    assert killed["builds"], "the kill should have caught a build in progress"
    assert not list((out / "maya").glob(".building-*")), "the re-run removes the killed run's build"

    counts = manifest(episode)["stage_cache"]
    assert counts["script"] == {"ran": 0, "cached": 1}
    assert counts["speech"]["cached"] >= killed["speech_cached"] >= 3
    assert counts["speech"]["ran"] + counts["speech"]["cached"] == 6
    assert counts["speech"]["ran"] < 6
    assert counts["music"]["ran"] + counts["music"]["cached"] == 6

    # the same episode as an uninterrupted render: the same words and the same audio
    reference = rendered["maya"]
    assert (episode / "script.json").read_text() == (reference / "script.json").read_text()
    assert ffprobe_duration(episode / "episode.mp3") == pytest.approx(ffprobe_duration(reference / "episode.mp3"),
                                                                       abs=0.03)
    # The same stage audio: every speech and music file the re-run used is the one an uninterrupted
    # render made (same key, same samples; sentences from the speech cache are 24-bit, hence not
    # bit-exact). The MP3s themselves are compared by loudness only: one LSB of input difference
    # changes the encoder's later bit allocation, which shows as coding noise 40 dB down.
    reference_stages = reference.parent.parent / ".cache" / "stages"
    stages = out / ".cache" / "stages"
    folders = sorted([*stages.glob("speech-*"), *stages.glob("music-*")])
    assert len(folders) == 12
    for folder in folders:
        for ours_file in folder.glob("*.wav"):
            ours, _ = sf.read(ours_file)
            theirs, _ = sf.read(reference_stages / folder.name / ours_file.name)
            assert ours.shape == theirs.shape
            assert 10 * np.log10(np.mean(theirs ** 2) / max(np.mean((ours - theirs) ** 2), 1e-30)) > 100, ours_file
    assert ebur128(episode / "episode.mp3")["I"] == pytest.approx(ebur128(reference / "episode.mp3")["I"], abs=0.05)


def test_profile_edit_redoes_only_the_segments_it_changed(resumed, tmp_path):
    from nightcast.flows.episode import render_episode

    out, episode, _ = resumed
    before = json.loads((episode / "script.json").read_text())
    first = manifest(episode)  # the re-render replaces this folder
    profile = yaml.safe_load((PROFILES / "maya.yaml").read_text())
    dropped, profile["interests"][0] = profile["interests"][0], "birdwatching"  # one interest for another
    edited = tmp_path / "maya.yaml"
    edited.write_text(yaml.safe_dump(profile))

    again = Path(render_episode(str(edited), template="nightly-digest", out_dir=str(out), date=DATE, qa=False))
    after = json.loads((again / "script.json").read_text())
    changed = [a["id"] for a, b in zip(before["segments"], after["segments"]) if a["text"] != b["text"]]
    # only segments that spoke of the dropped interest, or now speak of the new one, are written again
    assert 1 <= len(changed) < 6
    assert all(dropped in a["text"] or "birdwatching" in b["text"]
               for a, b in zip(before["segments"], after["segments"]) if a["id"] in changed)

    counts = manifest(again)["stage_cache"]
    assert counts["script"] == {"ran": 1, "cached": 0}
    assert counts["speech"] == {"ran": len(changed), "cached": 6 - len(changed)}
    # a bed is made again only where its own segment's speech moved, and the last bed, which takes up
    # the others' rounding: the kept music scale holds every other bed's length
    last = after["segments"][-1]["id"]
    changes = manifest(again)["changes"]
    assert [c["segment_id"] for c in changes if c["spoken_again"]] == changed
    beds = {c["segment_id"] for c in changes if c["bed_again"]}
    assert beds <= set(changed) | {last} and counts["music"]["ran"] == len(beds)
    assert all(c["why"] for c in changes) and all("its words changed" in c["why"] for c in changes if c["spoken_again"])
    assert manifest(again)["timeline"]["music_scale"] == first["timeline"]["music_scale"]
    assert first["changes"] is None  # the first published render of the episode
    assert ffprobe_duration(again / "episode.mp3") > 120


def test_a_cached_result_whose_files_were_pruned_is_made_again(resumed, tmp_path):
    """Records point at files in the stage folders; if those go, the stage runs again rather than
    handing the mixer a missing file."""
    from nightcast.flows.episode import render_episode

    out, episode, _ = resumed
    stages = out / ".cache" / "stages"
    speech_folders = sorted(stages.glob("speech-*"))
    assert speech_folders
    for folder in speech_folders:
        for file in folder.iterdir():
            file.unlink()

    again = Path(render_episode(str(PROFILES / "maya.yaml"), template="nightly-digest", out_dir=str(out), date=DATE, qa=False))
    counts = manifest(again)["stage_cache"]
    assert counts["speech"] == {"ran": 6, "cached": 0}
    assert counts["music"] == {"ran": 0, "cached": 6}
    assert counts["master"] == {"ran": 1, "cached": 0}  # new speech files: the mix is made again
    assert ffprobe_duration(again / "episode.mp3") > 120


def test_an_unchanged_rerender_reuses_the_mix_the_master_and_what_asr_heard(prefect_harness, tmp_path,
                                                                              monkeypatch):
    """The operator's re-render of an episode nothing changed in: no stage runs, not even the mix,
    the master or the QA's ASR, and the episode file is the one made before, byte for byte."""
    from nightcast.flows.episode import render_episode

    monkeypatch.setenv("NIGHTCAST_TEMPLATES_DIR", str(short_format(tmp_path)))
    render = partial(render_episode, str(PROFILES / "maya.yaml"), template="qa-check", out_dir=str(tmp_path / "out"),
                     date=DATE, qa=True)
    first = Path(render())
    audio, heard = (first / "episode.mp3").read_bytes(), json.loads((first / "qa.json").read_text())
    assert manifest(first)["stage_cache"]["master"] == {"ran": 1, "cached": 0}

    again = Path(render())
    counts = manifest(again)["stage_cache"]
    assert all(c["ran"] == 0 for c in counts.values()), counts
    assert counts["mix"] == counts["master"] == {"ran": 0, "cached": 1}
    assert "qa_asr" not in manifest(again)["stage_timings_s"]  # nothing was listened to again
    assert (again / "episode.mp3").read_bytes() == audio
    report = json.loads((again / "qa.json").read_text())
    assert report["passed"] and [s["heard"] for s in report["segments"]] == [s["heard"] for s in heard["segments"]]


def test_prune_removes_only_old_entries(tmp_path):
    from nightcast.flows.caching import prune_stage_cache

    old, new = tmp_path / "stages" / "speech-old", tmp_path / "results" / "speech-new"
    old.mkdir(parents=True)
    (old / "a.wav").write_bytes(b"x")
    new.parent.mkdir()
    new.write_text("{}")
    three_days_ago = time.time() - 3 * 86400
    os.utime(old, (three_days_ago, three_days_ago))
    assert prune_stage_cache(tmp_path, older_than_days=2) == 1
    assert not old.exists() and new.exists()


def test_stage_keys_follow_what_the_stage_reads_not_where_files_go(tmp_path):
    from nightcast.flows.caching import StageFolder, stage_key
    from nightcast.flows.tasks import music_task, write_script_task
    from nightcast.settings import Settings

    def key(task, **inputs):
        return task.cache_policy.compute_key(task_ctx=None, inputs=inputs, flow_parameters={})

    here = StageFolder(stages_root=tmp_path / "a", fallback=tmp_path)
    there = StageFolder(stages_root=tmp_path / "b", fallback=tmp_path)
    a = Settings(outputs_dir="/tmp/a", public_url="https://a.example", voice="host")
    b = Settings(outputs_dir="/tmp/b", public_url="https://b.example", nightly_concurrency=7)
    bed = dict(cue="cue", entry=None, generator="procedural", seed=1, sample_rate=44100)
    from nightcast.schema import TimelineEntry

    entry = TimelineEntry(segment_id="s01", start_s=0, speech_start_s=3, speech_end_s=20, end_s=30, music_s=32)
    moved = entry.model_copy(update={"start_s": 40.0, "speech_start_s": 43.0, "speech_end_s": 60.0, "end_s": 70.0})
    longer = entry.model_copy(update={"music_s": 33.0})
    bed["entry"] = entry
    assert key(music_task, **bed, folder=here, settings=a) == key(music_task, **bed, folder=there, settings=b)
    assert key(music_task, **bed, settings=a) == key(music_task, **{**bed, "entry": moved}, settings=a)
    assert key(music_task, **bed, settings=a) != key(music_task, **{**bed, "entry": longer}, settings=a)
    assert key(music_task, **bed, settings=a) != key(music_task, **bed, settings=Settings(music_model="/m"))

    prompts = tmp_path / "templates"
    (prompts / "prompts").mkdir(parents=True)
    (prompts / "prompts" / "host_lines.yaml").write_text("greeting: Hello")
    script_inputs = dict(profile="p", template="t", date="d", host="h", cohost=None, memory=None, library=None,
                         settings=Settings(templates_dir=prompts))
    before = key(write_script_task, **script_inputs)
    (prompts / "prompts" / "host_lines.yaml").write_text("greeting: Hi")
    assert key(write_script_task, **script_inputs) != before, "editing a prompt template must re-write scripts"
    assert stage_key("speech", {"text": "Hello."}) != stage_key("music", {"text": "Hello."})

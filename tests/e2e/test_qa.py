"""The audio QA gate: real ASR (Whisper tiny.en shipped in a wheel) on real synthesized episodes;
deliberately broken episodes fail for the right reason; a failing render is not published."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from nightcast.data_files import load_template
from nightcast.schema import EpisodeManifest, Script
from nightcast.settings import Settings

from helpers import DATE, PROFILES, ROOT, short_format


def test_wer_normalisation_is_the_tts_normaliser():
    from nightcast.qa.wer import word_error_rate

    assert word_error_rate("It's 11:15 pm, and the 1970s called.", "it is eleven fifteen p m and the nineteen seventies called") == 0
    assert word_error_rate("I'm taking that seriously.", "I am taking that seriously") == 0
    assert word_error_rate("At 11:15 pm on a Monday.", "At 11.15pm on a Monday") == 0
    assert word_error_rate("First stop, Nina Simone.", "First stop Nina Simmon") == pytest.approx(0.25)
    assert word_error_rate("Hello there.", "") == 1.0


def failures(report) -> set[str]:
    return {c.name for c in report.failures()}


def load(episode: Path) -> tuple[EpisodeManifest, Script]:
    manifest = EpisodeManifest.model_validate_json((episode / "episode.json").read_bytes())
    return manifest, Script.model_validate_json((episode / "script.json").read_bytes())


def check(episode: Path, audio: Path):
    from nightcast.qa import check_episode

    manifest, script = load(episode)
    return check_episode(audio, script, manifest.speech, load_template(manifest.template_id, templates_of(episode)),
                         {"host": 165.0, "kai": 165.0}, Settings().qa)


def templates_of(episode: Path) -> Path:
    """The templates folder `good`'s short format lives in (beside its outputs)."""
    return episode.parent.parent.parent / "templates"


def test_every_rendered_episode_carries_a_passing_qa_report(rendered):
    for key, episode in rendered.items():
        report = json.loads((episode / "qa.json").read_text())
        manifest = json.loads((episode / "episode.json").read_text())
        assert report["passed"] and manifest["qa"] == {"ran": True, "passed": True, "failed": [], "report": "qa.json"}
        wers = [s["wer"] for s in report["segments"] if s["wer"] is not None]
        assert len(wers) == len(manifest["speech"]) and max(wers) <= 0.3, (key, wers)
        assert np.mean(wers) < 0.1, (key, wers)  # the default voices: well under 10 % over an episode
        names = {c["name"] for c in report["checks"]}
        assert {"integrated loudness (LUFS)", "true peak (dBTP)", "clipped runs", "longest silence (s)",
                "duration (s)"} <= names


def reencode(samples: np.ndarray, rate: int, out: Path) -> Path:
    wav = out.with_suffix(".wav")
    sf.write(wav, samples, rate, subtype="FLOAT")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), "-c:a", "libmp3lame", "-b:a", "128k", str(out)],
                   check=True)
    return out


@pytest.fixture(scope="module")
def good(prefect_harness, tmp_path_factory) -> tuple[Path, np.ndarray, int]:
    """maya in the 90-second format with the gate on, for the tests that break it: every check they
    run hears the whole episode again, a third of what the 5-minute shared one would cost."""
    from nightcast.flows.episode import render_episode

    root = tmp_path_factory.mktemp("good")
    templates = short_format(root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NIGHTCAST_TEMPLATES_DIR", str(templates))
        episode = Path(render_episode(str(PROFILES / "maya.yaml"), template="qa-check", out_dir=str(root / "out"),
                                      date=DATE, qa=True))
    assert templates_of(episode) == templates and json.loads((episode / "qa.json").read_text())["passed"]
    audio, rate = sf.read(episode / "episode.mp3", dtype="float32", always_2d=True)
    return episode, audio, rate


def test_inserted_silence_is_caught(good, tmp_path):
    episode, audio, rate = good
    at = int(45 * rate)  # mid-episode: 6 s of nothing, the length kept by trimming the end
    broken = np.concatenate([audio[:at], np.zeros((6 * rate, 2), np.float32), audio[at:-6 * rate]])
    report = check(episode, reencode(broken, rate, tmp_path / "silence.mp3"))
    assert "longest silence (s)" in failures(report)
    silence = next(c for c in report.checks if c.name == "longest silence (s)")
    assert silence.value == pytest.approx(6.0, abs=0.3) and "from 45" in silence.detail


def test_speech_replaced_by_noise_is_caught_by_asr(good, tmp_path):
    episode, audio, rate = good
    manifest, _ = load(episode)
    spoken = manifest.speech[2]
    start, end = int(spoken.speech_start_s * rate), int(spoken.speech_end_s * rate)
    broken = audio.copy()
    broken[start:end] = np.random.default_rng(0).normal(0, 0.08, (end - start, 2)).astype(np.float32)
    report = check(episode, reencode(broken, rate, tmp_path / "noise.mp3"))
    bad = {s.segment_id: s for s in report.segments if not all(c.passed for c in s.checks)}
    assert set(bad) == {spoken.segment_id}
    assert bad[spoken.segment_id].wer > 0.8


def test_truncated_segment_is_caught_by_its_speech_rate(good, tmp_path):
    """A voice that stops half-way: the text claims twice the words the time could hold."""
    from nightcast.qa import check_episode

    episode, audio, rate = good
    manifest, script = load(episode)
    spoken = manifest.speech[1]
    cut = spoken.speech_start_s + (spoken.speech_end_s - spoken.speech_start_s) * 0.4
    truncated = spoken.model_copy(update={"speech_end_s": cut,
                                          "sentences": [s for s in spoken.sentences if s.end_s <= cut]})
    start, end = int(cut * rate), int(spoken.speech_end_s * rate)
    broken = audio.copy()
    broken[start:end] *= 0.02  # the music bed carries on, the voice is gone
    speech = [truncated if s.segment_id == spoken.segment_id else s for s in manifest.speech]
    report = check_episode(reencode(broken, rate, tmp_path / "cut.mp3"), script, speech,
                           load_template(manifest.template_id, templates_of(episode)), {"host": 165.0}, Settings().qa)
    segment = next(s for s in report.segments if s.segment_id == spoken.segment_id)
    assert [c.name for c in segment.checks if not c.passed] == ["speech rate (words/min)"]


def test_a_clipped_master_is_caught(good, tmp_path):
    episode, audio, rate = good
    clipped = tmp_path / "clipped.wav"
    sf.write(clipped, np.clip(audio * 4.0, -1, 1), rate, subtype="PCM_16")
    assert {"clipped runs", "true peak (dBTP)", "integrated loudness (LUFS)"} <= failures(check(episode, clipped))


def test_qa_command_exit_codes(good, tmp_path):
    episode, audio, rate = good
    exe = [sys.executable, "-m", "nightcast.cli", "qa"]
    env = {**os.environ, "NIGHTCAST_TEMPLATES_DIR": str(templates_of(episode))}
    ok = subprocess.run([*exe, str(episode)], capture_output=True, text=True, cwd=ROOT, env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "intelligibility (WER)" in ok.stdout and "passed" in ok.stdout

    broken = tmp_path / "broken"
    shutil.copytree(episode, broken)
    sf.write(broken / "episode.mp3.wav", np.clip(audio * 4.0, -1, 1), rate, subtype="PCM_16")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(broken / "episode.mp3.wav"), "-c:a", "libmp3lame",
                    str(broken / "episode.mp3")], check=True)
    bad = subprocess.run([*exe, str(broken)], capture_output=True, text=True, cwd=ROOT, env=env)
    assert bad.returncode == 1 and "clipped runs" in bad.stdout and "FAIL" in bad.stdout
    assert not json.loads((broken / "qa.json").read_text())["passed"]

    missing = subprocess.run([*exe, str(tmp_path / "nowhere")], capture_output=True, text=True, cwd=ROOT, env=env)
    assert missing.returncode == 2 and "episode.json is missing" in missing.stderr


def test_the_gate_blocks_publication_and_the_feed_keeps_the_previous_episode(prefect_harness, tmp_path, monkeypatch):
    """One segment's voice comes out as noise (and stays noise when synthesised again), another is
    cut short: the render fails naming both, nothing is published, yesterday's episode stays."""
    import nightcast.flows.tasks
    from nightcast.audio import Clip, write_clip
    from nightcast.flows.episode import render_episode
    from nightcast.qa import QAFailed

    monkeypatch.setenv("NIGHTCAST_TEMPLATES_DIR", str(short_format(tmp_path)))
    yesterday = Path(render_episode(str(PROFILES / "hiro.yaml"), template="qa-check", out_dir=str(tmp_path / "out"),
                                    date=DATE.replace(day=22), qa=False))
    feed_before = (yesterday.parent / "feed.xml").read_text()
    assert not (yesterday / "qa.json").exists() and json.loads((yesterday / "episode.json").read_text())["qa"]["ran"] is False

    real = nightcast.flows.tasks.speak_segment
    calls = []

    def faulty(segment, voices, out_dir, sample_rate, seed=0, cache=None):
        clip = real(segment, voices, out_dir, sample_rate, seed=seed, cache=None)
        calls.append(segment.id)
        if segment.id.startswith("s03"):  # noise where the voice should be
            samples, _ = sf.read(clip.path, dtype="float32")
            noise = np.random.default_rng(seed).normal(0, 0.1, samples.shape).astype(np.float32)
            write_clip(Clip(noise.reshape(len(noise), -1), sample_rate), clip.path)
        if segment.id.startswith("s02"):  # the engine stopped 40 % of the way in; the text still says it all
            samples, _ = sf.read(clip.path, dtype="float32")
            keep = int(len(samples) * 0.4)
            write_clip(Clip(samples[:keep].reshape(keep, -1), sample_rate), clip.path)
            clip = clip.model_copy(update={"duration_s": keep / sample_rate,
                                           "sentences": [s for s in clip.sentences if s.end_s <= keep / sample_rate]})
        return clip

    monkeypatch.setattr(nightcast.flows.tasks, "speak_segment", faulty)
    monkeypatch.setenv("NIGHTCAST_STAGE_CACHE", "false")
    with pytest.raises(QAFailed) as failed:
        render_episode(str(PROFILES / "hiro.yaml"), template="qa-check", out_dir=str(tmp_path / "out"), date=DATE, qa=True)

    report = failed.value.report
    bad = {s.segment_id: [c.name for c in s.checks if not c.passed] for s in report.segments
           if not all(c.passed for c in s.checks)}
    assert any(k.startswith("s03") and "intelligibility (WER)" in v for k, v in bad.items()), bad
    assert any(k.startswith("s02") and "speech rate (words/min)" in v for k, v in bad.items()), bad
    assert [s.resynthesised for s in report.segments if s.segment_id.startswith("s03")] == [True]
    assert sum(c.startswith("s03") for c in calls) == 2  # synthesised, then once more, then given up
    assert "QA failed, episode not published" in str(failed.value)

    listener = yesterday.parent
    assert sorted(p.name for p in listener.iterdir() if p.is_dir()) == [yesterday.name]  # nothing half-built
    assert (listener / "feed.xml").read_text() == feed_before
    kept = listener / f".{DATE.isoformat()}-qa-check.qa-failed.json"
    assert not json.loads(kept.read_text())["passed"]


def test_music_that_masks_a_clear_voice_is_mixed_again_ducked_deeper(prefect_harness, tmp_path, monkeypatch):
    """One segment's bed is loud noise and the format does not duck: ASR cannot hear that segment in
    the mix, hears its voice clearly on its own, so the gate re-mixes it with the bed further down
    (not a pointless resynthesis), and the episode ships."""
    import pyloudnorm

    import nightcast.flows.tasks
    from nightcast.audio import Clip, write_clip
    from nightcast.flows.episode import render_episode

    real = nightcast.flows.tasks.make_music

    def noise_bed(cue, music_s, segment_id, out_dir, **kwargs):
        clip = real(cue, music_s, segment_id, out_dir, **kwargs)
        if segment_id.startswith("s02"):
            samples, rate = sf.read(clip.path, dtype="float32", always_2d=True)
            noise = np.random.default_rng(0).normal(0, 0.1, samples.shape)
            noise *= 10 ** ((-3.0 - pyloudnorm.Meter(rate).integrated_loudness(noise)) / 20)  # -3 LUFS: 15 over the voice
            write_clip(Clip(noise.astype(np.float32), rate), clip.path)
        return clip

    monkeypatch.setattr(nightcast.flows.tasks, "make_music", noise_bed)
    monkeypatch.setenv("NIGHTCAST_STAGE_CACHE", "false")
    monkeypatch.setenv("NIGHTCAST_TEMPLATES_DIR", str(short_format(tmp_path, duck_db=0)))  # not ducked
    episode = Path(render_episode(str(PROFILES / "hiro.yaml"), template="qa-check", out_dir=str(tmp_path / "out"),
                                  date=DATE, qa=True))

    report = json.loads((episode / "qa.json").read_text())
    by_id = {s["segment_id"]: s for s in report["segments"]}
    [masked] = [s for s in by_id if s.startswith("s02")]
    segment = by_id[masked]
    assert report["passed"], report
    assert segment["cause"] == "masking" and segment["remixed"] and not segment["resynthesised"], segment
    assert segment["first_wer"] > 0.5 and segment["wer_isolated"] <= 0.3 and segment["wer"] <= 0.3, segment
    assert [s for s, v in by_id.items() if v["remixed"] or v["resynthesised"]] == [masked]
    manifest = json.loads((episode / "episode.json").read_text())
    assert manifest["qa"]["passed"] and manifest["stage_timings_s"]["qa_retry"] > 0


def test_asr_listens_while_the_master_encodes(rendered):
    """In each QA'd render, the listen task starts before the master task ends (ASR hears the mix
    beside the encoder), and the meters start once the encoded file exists."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName
    from prefect.client.schemas.sorting import TaskRunSort

    by_flow: dict = {}
    with get_client(sync_client=True) as client:
        for name in ("listen", "master", "meter"):
            for run in client.read_task_runs(task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_=f"{name}-")),
                                             sort=TaskRunSort.EXPECTED_START_TIME_DESC, limit=200):  # 3.8.8 sends null
                if run.state_name == "Completed" and run.name.startswith(f"{name}-"):
                    by_flow.setdefault(run.flow_run_id, {})[name] = run
    overlapped = [runs for runs in by_flow.values() if len(runs) == 3]
    # this worker's QA'd renders: the gate's above, and the shared episodes it rendered itself
    assert overlapped and len(rendered) == 3
    for runs in overlapped:
        assert runs["listen"].start_time < runs["master"].end_time
        assert runs["meter"].start_time >= runs["master"].end_time

import numpy as np
import pytest
import soundfile as sf

from conftest import DATE, PROFILES, SETTINGS, TEMPLATES, ebur128
from generators.script import write_script
from nightcast.audio import Clip
from nightcast.loading import load_profile, load_template
from nightcast.mix import master_episode, mix_episode, plan_timeline
from nightcast.mix.mixer import duck_envelope
from nightcast.schema import MixSettings, MusicClip, SpeechClip, TimedText

MIX = MixSettings(pre_roll_s=3, crossfade_s=2, duck_db=-14, min_music_s=4)


@pytest.fixture(scope="module")
def script():
    return write_script(load_profile(PROFILES / "maya.yaml"), load_template("nightly-digest", TEMPLATES), DATE,
                        speaker="host", words_per_minute=180, settings=SETTINGS)


def fake_speech(script, seconds: float, tmp_path) -> list[SpeechClip]:
    clips = []
    for seg in script.segments:
        path = tmp_path / f"speech-{seg.id}.wav"
        t = np.arange(int(seconds * 44100)) / 44100
        sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32), 44100)
        clips.append(SpeechClip(segment_id=seg.id, path=str(path), sample_rate=44100, duration_s=seconds,
                                sentences=[TimedText(start_s=0, end_s=seconds, text="x")], engine="test"))
    return clips


def test_timeline_hits_the_target_and_orders_every_part(script, tmp_path):
    speech = fake_speech(script, 20.0, tmp_path)
    timeline = plan_timeline(script, speech, MIX, 300)
    assert timeline.duration_s == pytest.approx(300, abs=0.01)
    previous_end = 0.0
    for entry in timeline.entries:
        assert entry.start_s == pytest.approx(previous_end)
        assert entry.speech_start_s == pytest.approx(entry.start_s + MIX.pre_roll_s)
        assert entry.speech_end_s - entry.speech_start_s == pytest.approx(20.0)
        assert entry.end_s - entry.speech_end_s >= MIX.min_music_s
        previous_end = entry.end_s
    assert all(e.music_s == pytest.approx(e.end_s - e.start_s + MIX.crossfade_s, abs=1e-3) for e in timeline.entries[:-1])
    assert timeline.entries[-1].music_s == pytest.approx(timeline.entries[-1].end_s - timeline.entries[-1].start_s, abs=1e-3)


def test_timeline_never_squeezes_music_below_minimum_when_speech_overruns(script, tmp_path):
    timeline = plan_timeline(script, fake_speech(script, 60.0, tmp_path), MIX, 300)
    assert all(e.end_s - e.speech_end_s >= MIX.min_music_s - 1e-6 for e in timeline.entries)
    assert timeline.duration_s > 300


def test_duck_envelope_ramps_before_speech_and_releases_after():
    env = duck_envelope(44100 * 10, 44100, offset_s=0.0, speech=(3.0, 6.0), mix=MIX)
    at = lambda s: env[int(s * 44100)]
    assert at(1.0) == pytest.approx(1.0)
    assert at(3.0) == pytest.approx(10 ** (-14 / 20), rel=1e-3) and at(5.0) == pytest.approx(at(3.0))
    assert at(2.95) < 1.0  # attack starts before the first word
    assert at(6.0 + MIX.duck_release_ms / 2000) > at(5.0)
    assert at(9.0) == pytest.approx(1.0)


def test_mix_places_voice_on_ducked_music_with_smooth_crossfades(script, tmp_path):
    speech = fake_speech(script, 10.0, tmp_path)
    timeline = plan_timeline(script, speech, MIX, 150)
    music = []
    for entry in timeline.entries:
        path = tmp_path / f"music-{entry.segment_id}.wav"
        n = int(entry.music_s * 44100)
        noise = np.random.default_rng(0).normal(0, 0.1, (n, 2)).astype(np.float32)
        sf.write(path, noise, 44100)
        music.append(MusicClip(segment_id=entry.segment_id, path=str(path), sample_rate=44100, duration_s=entry.music_s, generator="test"))
    mixed = mix_episode(timeline, speech, music, MIX)
    assert mixed.duration_s == pytest.approx(timeline.duration_s, abs=1e-3)
    rms = lambda a, b: float(np.sqrt(np.mean(mixed.samples[int(a * 44100): int(b * 44100)] ** 2)))
    first, second = timeline.entries[:2]
    music_alone = rms(first.start_s + 0.5, first.speech_start_s - 0.5)
    in_clear = rms(first.speech_end_s + 1.0, first.end_s - 0.2)
    assert music_alone > 0.05 and in_clear > 0.05
    # equal-power crossfade: no dip or bump of more than ~1.5 dB through the boundary
    around = rms(second.start_s - 0.3, second.start_s + 0.3)
    assert 0.84 < around / in_clear < 1.19
    assert rms(mixed.duration_s - 0.05, mixed.duration_s) < 0.01  # fades out at the end


def test_master_meets_podcast_loudness_measured_independently(tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(44100 * 40) / 44100
    music = 0.05 * rng.normal(size=(t.size, 2))
    voice = (0.6 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 2 * t) > 0))[:, None]  # bursts with hot peaks
    clip = Clip((music + voice).astype(np.float32), 44100)
    out = tmp_path / "episode.mp3"
    reported = master_episode(clip, tmp_path, out, MixSettings(), [], {"title": "t"})
    measured = ebur128(out)
    assert measured["I"] == pytest.approx(-16.0, abs=0.5)
    assert measured["TP"] <= -1.0
    assert reported.integrated_lufs == pytest.approx(measured["I"], abs=0.05)


def test_master_refuses_silence(tmp_path):
    from nightcast.errors import StageError

    with pytest.raises(StageError, match="silent"):
        master_episode(Clip.silence(5, 44100, 2), tmp_path, tmp_path / "e.mp3", MixSettings(), [], {})
    assert not (tmp_path / "e.mp3").exists()

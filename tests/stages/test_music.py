import numpy as np
import pytest

from nightcast.errors import UnknownNameError
from nightcast.generators.music import GENERATORS, make_music
from nightcast.generators.music.arrangements import STYLES
from nightcast.generators.music.procedural import PITCH_CLASSES, SCALES, ProceduralGenerator
from nightcast.schema import MusicCue

from helpers import SETTINGS


def cue(style="jazz", bpm=100, key="D minor", energy=0.6) -> MusicCue:
    return MusicCue(prompt="p", style=style, mood="calm", bpm=bpm, key=key, duration_s=10, energy=energy)


@pytest.fixture(scope="module")
def generator():
    return ProceduralGenerator()


def test_a_bed_that_would_clip_at_the_bed_level_comes_out_quieter_instead():
    from nightcast.audio import Clip
    from nightcast.generators.music.fitting import fit_bed

    spikes = np.zeros(44100 * 3, np.float32)
    spikes[::4410] = 1.0  # ten clicks a second: loud peaks, little loudness
    bed = fit_bed(Clip.from_mono(spikes, 44100), 3.0)
    assert np.abs(bed.samples).max() == pytest.approx(10 ** (-1 / 20), abs=1e-4)


def test_a_bed_riding_on_dc_keeps_its_audible_level():
    from nightcast.audio import Clip, loudness_normalized
    from nightcast.generators.music.fitting import BED_LUFS, fit_bed

    tone = 0.05 * np.sin(2 * np.pi * 220 * np.arange(44100 * 3) / 44100)
    bed = fit_bed(Clip.from_mono((tone + 0.9).astype(np.float32), 44100), 3.0)  # a DC offset takes the peaks
    assert abs(float(bed.samples[4410:-4410].mean())) < 0.01
    assert loudness_normalized(bed, BED_LUFS).samples.max() == pytest.approx(bed.samples.max(), rel=0.01)


@pytest.mark.parametrize("rate, to_rate, seconds", [(32000, 44100, 4.0), (44100, 48000, 2.5), (44100, None, 1.0)])
def test_a_mono_bed_is_fitted_once_and_spread_the_same_as_its_two_channels(rate, to_rate, seconds):
    """MusicGen's beds are mono: fitted as mono (resampled, filtered, metered once), then spread over
    two channels, they are the very samples fitting two identical channels gives, at the bed's loudness."""
    import pyloudnorm

    from nightcast.audio import Clip
    from nightcast.generators.music.fitting import BED_LUFS, fit_bed

    rng = np.random.default_rng(3)
    mono = (0.1 * rng.standard_normal(int(rate * seconds)) * np.sin(np.linspace(0, 40, int(rate * seconds)))).astype(np.float32)
    from_mono = fit_bed(Clip.from_mono(mono, rate), seconds, to_rate)
    from_stereo = fit_bed(Clip.from_mono(mono, rate).as_channels(2), seconds, to_rate)
    assert from_mono.samples.shape == from_stereo.samples.shape == (round(seconds * (to_rate or rate)), 2)
    np.testing.assert_allclose(from_mono.samples, from_stereo.samples, rtol=0, atol=1e-6)
    assert pyloudnorm.Meter(from_mono.sample_rate).integrated_loudness(from_mono.samples) == pytest.approx(BED_LUFS, abs=0.01)


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_style_renders_exact_length_stereo_music(generator, style):
    clip = generator.generate(cue(style), 12.5, seed=3)
    assert clip.sample_rate == 44100 and clip.channels == 2
    assert clip.frames == round(12.5 * 44100)
    rms = np.sqrt(np.mean(clip.samples ** 2))
    assert rms > 0.02  # audible at the bed level
    # a real arrangement is not a sine beep: energy spread over many frequency bands
    spectrum = np.abs(np.fft.rfft(clip.samples[:, 0]))
    bands = np.array_split(spectrum[: len(spectrum) // 4], 32)
    assert sum(b.mean() > spectrum.mean() * 0.05 for b in bands) >= 12


def test_arrangement_has_the_parts_and_honours_tempo_and_key(generator):
    midi = generator.compose(cue("hiphop", bpm=90, key="A minor"), 20.0, seed=1)
    names = {i.name for i in midi.instruments}
    assert {"drums", "bass", "chords", "pad", "riser"} <= names
    assert midi.get_tempo_changes()[1][0] == pytest.approx(90)
    kicks = sorted(n.start for i in midi.instruments if i.is_drum for n in i.notes if n.pitch == 36)
    bar_s = 4 * 60 / 90
    assert kicks[0] == pytest.approx(0, abs=0.01) and kicks[3] == pytest.approx(bar_s, abs=0.01)
    scale = {(PITCH_CLASSES["A"] + step) % 12 for step in SCALES["minor"]}
    tonal = [n.pitch % 12 for i in midi.instruments if not i.is_drum and i.name != "riser" for n in i.notes]
    assert tonal and set(tonal) <= scale


def test_major_key_uses_major_scale(generator):
    midi = generator.compose(cue("classical", key="G major"), 10.0, seed=2)
    scale = {(7 + step) % 12 for step in SCALES["major"]}
    assert {n.pitch % 12 for i in midi.instruments if i.name in ("chords", "bass") for n in i.notes} <= scale


def test_different_seeds_and_cues_give_different_music(generator):
    a = generator.generate(cue(), 6, seed=1).samples
    b = generator.generate(cue(), 6, seed=2).samples
    c = generator.generate(cue("electronic", bpm=124), 6, seed=1).samples
    assert not np.allclose(a, b) and not np.allclose(a, c)


def test_make_music_writes_a_clip(tmp_path):
    clip = make_music(cue(), 5.0, "s01-intro", tmp_path, generator="procedural", settings=SETTINGS)
    assert clip.duration_s == pytest.approx(5.0) and (tmp_path / "music-s01-intro.wav").is_file()


def test_unknown_generator_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid: musicgen, procedural, stems"):
        GENERATORS.target("musicgen-xl")


# ---------------------------------------------------------------- what a listener hears


def detected_bpm(samples: np.ndarray, rate: int) -> float:
    librosa = pytest.importorskip("librosa")
    tempo, _ = librosa.beat.beat_track(y=samples.mean(axis=1), sr=rate, units="time")
    return float(np.atleast_1d(tempo)[0])


@pytest.mark.parametrize("style, bpm", [("hiphop", 90), ("electronic", 124), ("rock", 112), ("lofi", 80)])
def test_the_beat_is_at_the_cues_tempo(generator, style, bpm):
    clip = generator.generate(cue(style, bpm=bpm), 20.0, seed=5)
    measured = detected_bpm(clip.samples, clip.sample_rate)
    # beat trackers may lock to half or double time; the pulse itself must be within 3 %
    assert min(abs(measured * f - bpm) / bpm for f in (0.5, 1, 2)) < 0.03, measured


def test_beds_are_exact_unclipped_and_start_and_end_without_clicks(generator):
    for seconds in (3.3, 17.25):
        clip = generator.generate(cue("rock", energy=1.0), seconds, seed=1)
        assert abs(clip.duration_s - seconds) < 0.05
        assert np.count_nonzero(np.abs(clip.samples) >= 0.999) == 0
        assert np.abs(clip.samples[0]).max() < 1e-3 and np.abs(clip.samples[-1]).max() < 1e-3  # faded edges
        edge = round(0.001 * clip.sample_rate)  # the first and last millisecond: a cut without a fade clicks here
        level = np.sqrt(np.mean(clip.samples ** 2))
        for part in (clip.samples[:edge], clip.samples[-edge:]):
            assert np.sqrt(np.mean(part ** 2)) < 0.1 * level


@pytest.mark.parametrize("style, bpm", [("hiphop", 90), ("electronic", 124), ("lofi", 80), ("jazz", 120)])
def test_without_fluidsynth_the_numpy_synth_keeps_time_and_key(style, bpm):
    """Where fluidsynth or a soundfont is missing, the same arrangement through the built-in synth."""
    numpy_generator = ProceduralGenerator(renderer="numpy")
    assert numpy_generator.renderer == "numpy" and "numpy synth" in numpy_generator.version()
    clip = numpy_generator.generate(cue(style, bpm=bpm), 20.0, seed=5)
    assert clip.frames == 20 * 44100 and clip.channels == 2 and not clip.is_silent()
    assert np.count_nonzero(np.abs(clip.samples) >= 0.999) == 0
    measured = detected_bpm(clip.samples, clip.sample_rate)
    assert min(abs(measured * f - bpm) / bpm for f in (0.5, 1, 2)) < 0.03, measured
    assert np.array_equal(clip.samples, numpy_generator.generate(cue(style, bpm=bpm), 20.0, seed=5).samples)


def test_auto_renderer_falls_back_when_fluidsynth_is_missing(monkeypatch):
    import nightcast.generators.music.procedural as procedural

    monkeypatch.setattr(procedural, "require", lambda *a: (_ for _ in ()).throw(
        procedural.BackendUnavailableError("'fluidsynth' not found")))
    assert ProceduralGenerator().renderer == "numpy"
    with pytest.raises(procedural.BackendUnavailableError):
        ProceduralGenerator(renderer="fluidsynth")


def test_the_same_seed_gives_the_same_music(generator):
    assert np.array_equal(generator.generate(cue(), 5, seed=9).samples, generator.generate(cue(), 5, seed=9).samples)


# ---------------------------------------------------------------- musicgen (transformers, tiny random weights)


@pytest.fixture(scope="module")
def tiny_musicgen(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_musicgen import build_tiny_musicgen

    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen"))


def read_samples(path) -> np.ndarray:
    import soundfile as sf

    return sf.read(path, dtype="float32")[0]


def musicgen_settings(model, **musicgen):
    from nightcast.settings import Settings

    return Settings.from_env(music_model=str(model), musicgen=musicgen)


def test_musicgen_batches_every_bed_in_one_generate_call(tiny_musicgen, tmp_path, monkeypatch):
    import pyloudnorm
    import soundfile as sf

    from nightcast.generators.music import load_generator, make_music_batch

    settings = musicgen_settings(tiny_musicgen, batch_size=8, max_chunk_s=4)
    backend = load_generator("musicgen", settings)
    calls = []
    real = backend._generate
    monkeypatch.setattr(backend, "_generate", lambda prompts, *a: calls.append(len(prompts)) or real(prompts, *a))
    cues = [cue(style, bpm) for style, bpm in (("jazz", 92), ("lofi", 80), ("electronic", 124))]
    clips = make_music_batch(cues, [2.5, 3.0, 9.0], ["a", "b", "c"], tmp_path, generator="musicgen",
                             seeds=[0, 1, 2], settings=settings)
    assert calls == [3]  # three beds, one batched generate
    for clip, seconds in zip(clips, (2.5, 3.0, 9.0)):
        audio, rate = sf.read(clip.path, always_2d=True)
        assert rate == 44100 and audio.shape == (round(seconds * 44100), 2)  # 9 s: a 4 s chunk looped
        assert np.count_nonzero(np.abs(audio) >= 0.999) == 0
        # at the bed level, or (random weights make spiky noise) quieter with its peak at −1 dBFS
        loudness, peak = pyloudnorm.Meter(rate).integrated_loudness(audio), np.abs(audio).max()
        assert loudness == pytest.approx(-20.0, abs=1.0) or loudness < -20 and peak == pytest.approx(0.891, abs=0.01)
        assert np.abs(audio[0]).max() < 1e-3 and np.abs(audio[-1]).max() < 1e-3
    assert clips[0].generator == "musicgen"


@pytest.mark.gpu
def test_musicgen_runs_in_half_precision_on_cuda(tiny_musicgen, tmp_path):
    """The GPU path as a worker runs it: fp16 on CUDA, the manifest's version naming the device."""
    from nightcast.generators.music import make_music_batch

    settings = musicgen_settings(tiny_musicgen, device="auto", dtype="auto")
    clips = make_music_batch([cue(), cue("lofi", 80)], [2.0, 2.0], ["a", "b"], tmp_path, generator="musicgen",
                             seeds=[0, 1], settings=settings)
    assert all("on cuda" in clip.generator_version for clip in clips)
    assert all(np.isfinite(read_samples(clip.path)).all() for clip in clips)


def test_musicgen_is_seeded_and_respects_batch_size(tiny_musicgen, monkeypatch):
    from nightcast.generators.music import load_generator

    backend = load_generator("musicgen", musicgen_settings(tiny_musicgen, batch_size=2, guidance_scale=1.0))
    calls = []
    real = backend._generate
    monkeypatch.setattr(backend, "_generate", lambda prompts, *a: calls.append(len(prompts)) or real(prompts, *a))
    first = backend.generate_many([cue()] * 3, [1.0] * 3, seeds=[4, 5, 6])
    again = backend.generate_many([cue()] * 3, [1.0] * 3, seeds=[4, 5, 6])
    assert calls == [2, 1, 2, 1]
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(first, again))
    assert not np.array_equal(first[0].samples, first[1].samples)  # same cue, another seed
    alone = backend.generate_many([cue()], [1.0], seeds=[5])
    # A bed is its cue, length and seed (its codes are equal; EnCodec's batched convolutions round differently)
    np.testing.assert_allclose(alone[0].samples, first[1].samples, atol=1e-5)


def test_a_musicgen_batch_the_gpu_has_no_memory_for_runs_again_in_halves(tiny_musicgen, monkeypatch, caplog):
    """Out of GPU memory at 4 beds a batch: the beds come in batches of 2, equal to the beds an
    unbroken batch of 4 makes (a bed is its cue, length and seed), and later calls start at 2."""
    import torch

    from nightcast.generators.music import GENERATORS

    settings = musicgen_settings(tiny_musicgen, batch_size=4, guidance_scale=1.0)
    cues = [cue(style, bpm) for style, bpm in (("jazz", 92), ("lofi", 80), ("electronic", 124), ("ambient", 70))]
    whole = GENERATORS.create("musicgen", settings=settings).generate_many(cues, [1.0] * 4, seeds=[1, 2, 3, 4])
    backend = GENERATORS.create("musicgen", settings=settings)  # its own: the batch size it learns stays with it
    tried = []
    real = backend._generate

    def small_gpu(prompts, *args):
        tried.append(len(prompts))
        if len(prompts) > 2:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(prompts, *args)

    monkeypatch.setattr(backend, "_generate", small_gpu)
    with caplog.at_level("WARNING", logger="nightcast.batching"):
        halves = backend.generate_many(cues, [1.0] * 4, seeds=[1, 2, 3, 4])
    assert tried == [4, 2, 2]
    assert "out of device memory at 4 beds a batch: 2 from now on" in caplog.text
    for a, b in zip(whole, halves):
        np.testing.assert_allclose(a.samples, b.samples, atol=1e-5)
    tried.clear()
    backend.generate_many(cues[:3], [1.0] * 3, seeds=[1, 2, 3])
    assert tried == [2, 1]


@pytest.fixture(scope="module")
def tiny_melody(tmp_path_factory):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_musicgen import build_tiny_musicgen

    return build_tiny_musicgen(tmp_path_factory.mktemp("melody"), melody=True)


def test_melody_chroma_marks_the_pitch_class_heard():
    pytest.importorskip("transformers")
    from nightcast.generators.music.melody import RATE, melody_chroma, null_chroma

    t = np.arange(2 * RATE) / RATE
    a440 = melody_chroma(np.sin(2 * np.pi * 440 * t), 30)
    assert a440.shape == (30, 12) and set(a440.argmax(axis=1)) == {9}  # A (chroma starts at C)
    assert set(melody_chroma(np.sin(2 * np.pi * 392 * t), 8).argmax(axis=1)) == {7}  # G
    assert set(null_chroma(4).argmax(axis=1)) == {0}


def test_musicgen_melody_conditions_a_bridge_on_the_track_it_leads_into(tiny_melody, tmp_path, monkeypatch):
    from nightcast.generators.music import load_generator
    from nightcast.schema import TrackRef

    from synthetic_library import write_track

    path = write_track(tmp_path / "song.flac", artist="A", title="B", bpm=100, semitones_from_a=-2)  # G minor
    track = TrackRef(path=str(path), artist="A", title="B", duration_s=40, bpm=100, key="G minor")
    backend = load_generator("musicgen", musicgen_settings(tiny_melody, batch_size=8))
    assert backend.melody and "melody" in backend.version()
    seen = []
    real = backend._model.generate
    monkeypatch.setattr(backend._model, "generate",
                        lambda **kw: seen.append(kw["input_features"].clone()) or real(**kw))
    bridge = cue("jazz", 100).model_copy(update={"track": track, "key": "G minor"})
    clips = backend.generate_many([bridge, cue("soul", 90)], [3.0, 2.0], seeds=[1, 2])
    assert [c.duration_s for c in clips] == [3.0, 2.0]
    assert len(seen) == 2  # a melody checkpoint: one bed per stock generate call, shortest first
    features = {tuple(f.shape): f for f in seen}
    assert set(features) == {(1, backend._model.config.chroma_length, 12)}
    soul, bridge_features = (f[0].argmax(dim=-1) for f in seen)
    in_chord = np.isin(bridge_features.numpy(), [7, 10, 2]).mean()
    assert in_chord > 0.9  # G minor's tonic, third and fifth (G, Bb, D), but for the drum-hit frames
    assert set(soul.tolist()) == {0}  # no melody for a bed that leads into nothing


def test_musicgen_without_a_checkpoint_names_the_option(tmp_path):
    from nightcast.errors import InputError
    from nightcast.generators.music.musicgen import MusicGenGenerator
    from nightcast.settings import Settings

    with pytest.raises(InputError, match="--music-model.*checkpoint"):
        MusicGenGenerator.check(Settings.from_env())
    with pytest.raises(InputError, match="no config.json"):
        MusicGenGenerator.check(Settings.from_env(music_model=str(tmp_path)))


@pytest.mark.slow
def test_a_template_slot_can_ask_for_musicgen(prefect_harness, tiny_musicgen, tmp_path, monkeypatch):
    """Per-slot generators through the real flow: procedural beds mapped per segment, the musicgen
    slots in one batched task, one episode."""
    import json
    import shutil

    import yaml
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.sorting import TaskRunSort

    from nightcast.flows.episode import render_episode

    from helpers import DATE, PROFILES, TEMPLATES

    templates = tmp_path / "templates"
    shutil.copytree(TEMPLATES, templates)
    data = yaml.safe_load((templates / "formats" / "nightly-digest.yaml").read_text())
    data["id"] = "mixed-music"
    for index in (2, 4):  # the two picks
        data["slots"][index]["music"] = "musicgen"
    (templates / "formats" / "mixed-music.yaml").write_text(yaml.safe_dump(data))
    monkeypatch.setenv("NIGHTCAST_TEMPLATES_DIR", str(templates))
    monkeypatch.setenv("NIGHTCAST_MUSIC_MODEL", str(tiny_musicgen))
    episode = render_episode(str(PROFILES / "maya.yaml"), template="mixed-music", out_dir=str(tmp_path / "out"),
                             date=DATE, qa=False)  # the gate's own tests hear episodes
    manifest = json.loads((tmp_path / "out" / "maya" / f"{DATE}-mixed-music" / "episode.json").read_text())
    assert str(episode).endswith("mixed-music")
    assert manifest["backends"]["music"]["name"] == "procedural"
    assert manifest["backends"]["music-musicgen"]["model"] == tiny_musicgen.name
    script = json.loads((tmp_path / "out" / "maya" / f"{DATE}-mixed-music" / "script.json").read_text())
    assert [s["cue"]["generator"] for s in script["segments"]] == [None, None, "musicgen", None, "musicgen", None]
    with get_client(sync_client=True) as client:
        names = [t.name for t in client.read_task_runs(limit=200, sort=TaskRunSort.EXPECTED_START_TIME_DESC)]
    assert "music-batch-musicgen" in names

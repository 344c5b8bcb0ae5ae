import numpy as np
import pytest

from generators.music import GENERATORS, make_music
from generators.music.procedural import PITCH_CLASSES, SCALES, ProceduralGenerator
from generators.music.styles import STYLES
from nightcast.errors import UnknownNameError
from nightcast.schema import MusicCue


def cue(style="jazz", bpm=100, key="D minor", energy=0.6) -> MusicCue:
    return MusicCue(prompt="p", style=style, mood="calm", bpm=bpm, key=key, duration_s=10, energy=energy)


@pytest.fixture(scope="module")
def generator():
    return ProceduralGenerator()


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
    clip = make_music(cue(), 5.0, "s01-intro", tmp_path, generator="procedural")
    assert clip.duration_s == pytest.approx(5.0) and (tmp_path / "music-s01-intro.wav").is_file()


def test_unknown_generator_lists_valid_names():
    with pytest.raises(UnknownNameError, match="valid: procedural"):
        GENERATORS.target("musicgen-xl")

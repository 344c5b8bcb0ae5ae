"""The stems generator: analysis of a stems folder, and beds remixed from it at the cue's tempo and key."""

from __future__ import annotations

import numpy as np
import pytest

from nightcast.errors import InputError
from nightcast.generators.music.fitting import BED_LUFS
from nightcast.schema import MusicCue
from nightcast.settings import Settings

from synthetic_stems import write_stems

librosa = pytest.importorskip("librosa")


def cue(bpm=120, key="C minor") -> MusicCue:
    return MusicCue(prompt="p", style="hiphop", mood="calm", bpm=bpm, key=key, duration_s=10, energy=0.5)


@pytest.fixture(scope="module")
def stems_dir(tmp_path_factory):
    return write_stems(tmp_path_factory.mktemp("song") / "stems", bpm=100)


@pytest.fixture(scope="module")
def generator(stems_dir):
    from nightcast.generators.music import load_generator

    return load_generator("stems", Settings.from_env(music_stems=stems_dir))


def test_tempo_key_and_beat_grid_are_estimated_when_not_given(stems_dir):
    from nightcast.generators.music.stems import load_stems

    stems = load_stems(str(stems_dir))
    assert stems.bpm == pytest.approx(100, rel=0.01)
    assert stems.key == "A minor"
    beat = 60 / stems.bpm
    phase = stems.first_beat_s % beat
    assert min(phase, beat - phase) < 0.03  # the loop starts on a beat


def test_a_bed_is_at_the_cues_tempo_and_key_exact_and_clean(generator):
    from nightcast.generators.music.analysis import estimate_key

    clip = generator.generate(cue(120, "C minor"), 20.0, seed=1)
    assert clip.sample_rate == 44100 and clip.channels == 2 and clip.frames == 20 * 44100
    mono = clip.samples.mean(axis=1)
    tempo, _ = librosa.beat.beat_track(y=mono, sr=44100)
    assert float(np.atleast_1d(tempo)[0]) == pytest.approx(120, rel=0.03)
    assert estimate_key(mono, 44100) == "C minor"  # stretched to 120 bpm and shifted up 3 semitones
    assert np.count_nonzero(np.abs(clip.samples) >= 0.999) == 0
    level = np.sqrt(np.mean(clip.samples ** 2))
    for edge in (clip.samples[:44], clip.samples[-44:]):
        assert np.sqrt(np.mean(edge ** 2)) < 0.1 * level
    import pyloudnorm

    assert pyloudnorm.Meter(44100).integrated_loudness(clip.samples) == pytest.approx(BED_LUFS, abs=1.0)
    assert np.array_equal(clip.samples, generator.generate(cue(120, "C minor"), 20.0, seed=1).samples)


def band_profile(samples: np.ndarray) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=samples, sr=44100, n_mels=40)
    return np.log(mel.mean(axis=1) + 1e-9)


def test_a_remix_keeps_the_stems_timbre(generator, stems_dir):
    """The bed is the stems, re-timed: its spectral envelope correlates with theirs, and not with
    unrelated music at the same tempo."""
    import soundfile as sf

    from nightcast.generators.music.procedural import ProceduralGenerator

    source = sum(sf.read(stems_dir / f"{n}.wav")[0] for n in ("drums", "bass", "other"))
    remix = generator.generate(cue(100, "A minor"), 20.0).samples.mean(axis=1)
    other = ProceduralGenerator().generate(cue(100, "A minor").model_copy(update={"style": "rock"}), 20.0).samples.mean(axis=1)
    same = np.corrcoef(band_profile(source), band_profile(remix))[0, 1]
    different = np.corrcoef(band_profile(source), band_profile(other))[0, 1]
    assert same > 0.9 and same > different, (same, different)


def test_stems_yaml_gives_tempo_and_key_and_is_validated(tmp_path):
    from nightcast.generators.music.stems import StemSet

    folder = write_stems(tmp_path / "given", bpm=90)
    (folder / "stems.yaml").write_text("bpm: 90\nkey: A minor\nfirst_beat_s: 0\n")
    stems = StemSet(folder)
    assert (stems.bpm, stems.key, stems.first_beat_s) == (90, "A minor", 0)
    (folder / "stems.yaml").write_text("bpm: fast\n")
    with pytest.raises(InputError, match="stems.yaml.*bpm must be a number"):
        StemSet(folder)
    (folder / "stems.yaml").write_text("key: H minor\n")
    with pytest.raises(InputError, match="'H minor' is not a key"):
        StemSet(folder)


def test_a_folder_without_stems_names_the_option(tmp_path):
    from nightcast.generators.music.stems import StemsGenerator

    with pytest.raises(InputError, match="--stems.*needs a folder"):
        StemsGenerator.check(Settings.from_env())
    with pytest.raises(InputError, match="--stems.*holds no drums/bass/other/vocals"):
        StemsGenerator.check(Settings.from_env(music_stems=tmp_path))

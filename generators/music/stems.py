"""`stems`: transitions remixed from a folder of stems (drums / bass / other / vocals, as demucs writes).

The folder may hold `stems.yaml` with `bpm:` and `key:`; without it, tempo and key are estimated
once (librosa beat tracking; chroma against the Krumhansl-Kessler key profiles) and kept for the
process. A bed is built from them: time-stretched to the cue's tempo and pitch-shifted to its key
(rubberband through pedalboard), a loop of whole bars from the first downbeat, the drums entering
through an opening low-pass sweep, a noise riser over the last bar, and the cut on a bar line.
Vocals stay out of beds by default: the DJ talks over them.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import yaml

from nightcast.audio import Clip, read_clip
from nightcast.errors import BackendUnavailableError, InputError
from nightcast.generators.music.analysis import estimate_key, estimate_tempo
from nightcast.generators.music.base import MusicGenerator
from nightcast.generators.music.fitting import fit_bed
from nightcast.keys import semitones_between
from nightcast.schema import KEY_PATTERN, MusicCue
from nightcast.settings import Settings

RATE = 44_100
STEM_NAMES = ("drums", "bass", "other", "vocals")
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
BED_STEMS = ("drums", "bass", "other")
LOOP_BARS = 4


def find_stems(folder: Path) -> dict[str, Path]:
    """name → file for every known stem in folder (any of wav/flac/mp3/ogg)."""
    found = {}
    for name in STEM_NAMES:
        for suffix in AUDIO_SUFFIXES:
            if (folder / f"{name}{suffix}").is_file():
                found[name] = folder / f"{name}{suffix}"
                break
    return found


class StemSet:
    """A stems folder, loaded and analysed once."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.paths = find_stems(folder)
        if not self.paths:
            raise InputError(f"no stems in '{folder}' (want {', '.join(n + '.wav/.flac/.mp3' for n in STEM_NAMES)})",
                             source="--stems")
        self.audio = {name: read_clip(path, RATE, 2).samples for name, path in self.paths.items()}
        frames = max(a.shape[0] for a in self.audio.values())
        self.audio = {n: np.pad(a, ((0, frames - a.shape[0]), (0, 0))) for n, a in self.audio.items()}
        meta = self._metadata()
        if not {"bpm", "key"} <= meta.keys():
            try:
                import librosa  # noqa: F401
            except ImportError as exc:
                raise BackendUnavailableError("estimating the stems' tempo and key needs librosa: pip install "
                                              "'nightcast[stems]', or give 'bpm' and 'key' in stems.yaml") from exc
        rhythm = self.audio.get("drums", self.mix(STEM_NAMES)).mean(axis=1)
        tonal = self.mix([n for n in ("bass", "other") if n in self.audio] or list(self.audio)).mean(axis=1)
        if "bpm" in meta:
            self.bpm, self.first_beat_s = float(meta["bpm"]), float(meta.get("first_beat_s", 0.0))
        else:
            self.bpm, self.first_beat_s = estimate_tempo(rhythm, RATE, harmony=tonal)
        self.key = meta.get("key") or estimate_key(tonal, RATE)

    def _metadata(self) -> dict:
        path = self.folder / "stems.yaml"
        if not path.is_file():
            return {}
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(data, dict):
            raise InputError("must be a mapping with 'bpm' and/or 'key'", source=path)
        if "key" in data and not re.match(KEY_PATTERN, str(data["key"])):
            raise InputError(f"'{data['key']}' is not a key like 'A minor'", source=path, field="key")
        if "bpm" in data and not (isinstance(data["bpm"], (int, float)) and 40 <= data["bpm"] <= 220):
            raise InputError("bpm must be a number from 40 to 220", source=path, field="bpm")
        return data

    def mix(self, names) -> np.ndarray:
        return sum(self.audio[n] for n in names if n in self.audio)


@functools.lru_cache(maxsize=4)
def load_stems(folder: str) -> StemSet:
    return StemSet(Path(folder).expanduser())


class StemsGenerator(MusicGenerator):
    name = "stems"
    sample_rate = RATE

    @staticmethod
    def _folder_problem(settings: Settings) -> str | None:
        if not settings.music_stems:
            return "the stems generator needs a folder of stems"
        folder = Path(settings.music_stems).expanduser()
        if not folder.is_dir() or not find_stems(folder):
            return f"'{folder}' holds no drums/bass/other/vocals audio files"
        return None

    @classmethod
    def check(cls, settings: Settings) -> None:
        problem = cls._folder_problem(settings)
        if problem:
            raise InputError(problem, source="--stems")

    def __init__(self, settings: Settings, **_unused):
        problem = self._folder_problem(settings)
        if problem:
            raise BackendUnavailableError(f"{problem}: --stems DIR")
        self.folder = str(Path(settings.music_stems).expanduser())
        self.model_name = Path(self.folder).name

    def generate(self, cue: MusicCue, duration_s: float, *, seed: int = 0) -> Clip:
        import pedalboard

        stems = load_stems(self.folder)
        # Only the loop (plus a bar of margin for the stretcher) is stretched, not the whole song.
        source_bar = 4 * 60 / stems.bpm * RATE
        first = round(stems.first_beat_s * RATE)
        section = slice(first, first + round((LOOP_BARS + 1) * source_bar))
        shift = float(semitones_between(stems.key, cue.key))
        try:
            stems_ready = {name: pedalboard.time_stretch(
                stems.audio[name][section].T.copy(), RATE, stretch_factor=cue.bpm / stems.bpm,
                pitch_shift_in_semitones=0.0 if name == "drums" else shift).T
                for name in BED_STEMS if name in stems.audio}
        except RuntimeError as exc:
            raise BackendUnavailableError(f"rubberband could not stretch the stems: {exc}") from exc
        bar = round(4 * 60 / cue.bpm * RATE)
        start = 0
        available = min(a.shape[0] for a in stems_ready.values())
        bars = max(1, min(LOOP_BARS, available // bar))
        loops = {n: a[start:start + bars * bar] for n, a in stems_ready.items()}
        frames = round(duration_s * RATE)
        repeats = -(-frames // (bars * bar)) + 1
        layers = {n: np.tile(loop, (repeats, 1))[:frames] for n, loop in loops.items()}
        if "drums" in layers:
            layers["drums"] = _sweep_open(layers["drums"], min(frames, 2 * bar))
        bed = sum(layers.values()) + _riser(frames, bar, seed)
        return fit_bed(Clip(bed.astype(np.float32), RATE), duration_s)

    def version(self) -> str:
        from importlib.metadata import version

        stems = load_stems(self.folder)
        return f"pedalboard {version('pedalboard')} (rubberband); stems {self.model_name} at {stems.bpm:.1f} bpm, {stems.key}"


def _sweep_open(audio: np.ndarray, frames: int, blocks: int = 32) -> np.ndarray:
    """A low-pass opening from 300 Hz to fully open over `frames`, block by block with one filter's
    state carried across blocks (no clicks at block edges)."""
    import pedalboard

    if frames <= 0:
        return audio
    out = audio.copy()
    lowpass = pedalboard.LowpassFilter(cutoff_frequency_hz=300)
    edges = np.linspace(0, frames, blocks + 1).astype(int)
    for i, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
        lowpass.cutoff_frequency_hz = float(300 * (18000 / 300) ** (i / (blocks - 1)))
        out[a:b] = lowpass.process(audio[a:b].T.copy(), RATE, reset=(i == 0)).T
    return out


def _riser(frames: int, bar: int, seed: int) -> np.ndarray:
    """Filtered noise swelling over the last bar, into the next section's downbeat."""
    import pedalboard

    length = min(frames, bar)
    out = np.zeros((frames, 2), np.float32)
    if length <= 0:
        return out
    noise = np.random.default_rng(seed).standard_normal((2, length)).astype(np.float32) * 0.05
    noise = pedalboard.Pedalboard([pedalboard.HighpassFilter(2000), pedalboard.Reverb(room_size=0.6)])(noise, RATE)
    out[frames - length:] = noise.T * np.linspace(0, 1, length, dtype=np.float32)[:, None] ** 2
    return out

"""The audio clip type shared by every stage, and its file I/O.

Clips are float32 arrays shaped (frames, channels). Stages hand each other files (WAV), so
results are small, persistable and cacheable; this module is the one place that reads and writes them.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pyloudnorm
import soundfile as sf
from scipy.signal import butter, resample_poly, sosfilt


@dataclass(frozen=True)
class Clip:
    samples: np.ndarray  # float32, (frames, channels)
    sample_rate: int

    def __post_init__(self):
        if self.samples.ndim != 2:
            raise ValueError("Clip samples must be 2-D (frames, channels)")

    @classmethod
    def from_mono(cls, samples: np.ndarray, sample_rate: int) -> Clip:
        return cls(np.asarray(samples, dtype=np.float32).reshape(-1, 1), sample_rate)

    @classmethod
    def silence(cls, duration_s: float, sample_rate: int, channels: int = 1) -> Clip:
        return cls(np.zeros((round(duration_s * sample_rate), channels), np.float32), sample_rate)

    @property
    def frames(self) -> int:
        return self.samples.shape[0]

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate

    def resampled(self, sample_rate: int) -> Clip:
        if sample_rate == self.sample_rate:
            return self
        ratio = Fraction(sample_rate, self.sample_rate)
        out = resample_poly(self.samples, ratio.numerator, ratio.denominator, axis=0)
        return Clip(out.astype(np.float32), sample_rate)

    def is_silent(self, threshold: float = 1e-4) -> bool:
        return self.frames == 0 or float(np.abs(self.samples).max()) < threshold

    def as_channels(self, channels: int) -> Clip:
        if channels == self.channels:
            return self
        if self.channels == 1:
            return Clip(np.repeat(self.samples, channels, axis=1), self.sample_rate)
        mono = self.samples.mean(axis=1, keepdims=True)
        return Clip(np.repeat(mono, channels, axis=1) if channels > 1 else mono, self.sample_rate)


def read_clip(path: str | Path, sample_rate: int | None = None, channels: int | None = None) -> Clip:
    data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    clip = Clip(data, sr)
    if sample_rate:
        clip = clip.resampled(sample_rate)
    if channels:
        clip = clip.as_channels(channels)
    return clip


def decode_audio(path: str | Path, sample_rate: int, channels: int, max_s: float | None = None) -> Clip:
    """Any audio file a listener may own (WAV/FLAC/OGG/MP3 through libsndfile; AAC/M4A/Opus and the
    rest through ffmpeg), optionally only its first max_s seconds."""
    try:
        with sf.SoundFile(str(path)) as f:
            frames = -1 if max_s is None else min(f.frames, round(max_s * f.samplerate))
            clip = Clip(f.read(frames, dtype="float32", always_2d=True), f.samplerate)
        return clip.resampled(sample_rate).as_channels(channels)
    except sf.LibsndfileError:
        pass
    from nightcast.binaries import ffmpeg

    cmd = [ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), *(["-t", f"{max_s:.3f}"] if max_s else []),
           "-f", "f32le", "-ac", str(channels), "-ar", str(sample_rate), "-"]
    proc = subprocess.run(cmd, capture_output=True)
    if proc.returncode != 0:
        lines = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ValueError(lines[-1] if lines else "ffmpeg could not decode it")
    samples = np.frombuffer(proc.stdout, dtype=np.float32).reshape(-1, channels)
    return Clip(samples.copy(), sample_rate)


def write_clip(clip: Clip, path: str | Path) -> Path:
    """Write a 32-bit float WAV atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    sf.write(str(tmp), clip.samples, clip.sample_rate, subtype="FLOAT", format="WAV")
    os.replace(tmp, path)
    return path


# DC and rumble under 20 Hz are inaudible (the loudness meter's K-weighting ignores them too) but they
# take a signal's peaks: left in, they set a limiter's or a peak ceiling's gain for the audible part.
SUBSONIC_HZ = 20


def subsonic_removed(clip: Clip) -> Clip:
    """A 2nd-order high-pass at SUBSONIC_HZ: the same filter the master runs (ffmpeg's highpass)."""
    sos = butter(2, SUBSONIC_HZ, btype="highpass", fs=clip.sample_rate, output="sos")
    return Clip(sosfilt(sos, clip.samples, axis=0).astype(np.float32), clip.sample_rate)


def db_to_gain(db: float) -> float:
    return float(10 ** (db / 20))


def loudness_normalized(clip: Clip, target_lufs: float, played_on: int | None = None) -> Clip:
    """Gain the clip to target_lufs (BS.1770 via pyloudnorm); clips too short or too quiet to gate stay as they are.
    `played_on`: a mono clip that will be played on that many identical front channels, which BS.1770
    sums: the target is for that, measured once on the mono (+10·log10(n) dB)."""
    if clip.duration_s < 0.5:
        return clip
    loudness = pyloudnorm.Meter(clip.sample_rate).integrated_loudness(clip.samples)
    if not np.isfinite(loudness):
        return clip
    if played_on and clip.channels == 1:
        loudness += 10 * np.log10(played_on)
    return Clip((clip.samples * db_to_gain(target_lufs - loudness)).astype(np.float32), clip.sample_rate)

"""Stems written by the test: a drum loop, a bass line and a pad in a known tempo and key."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 44_100


def write_stems(folder: Path, bpm: float = 100.0, bars: int = 12, tonic_hz: float = 110.0) -> Path:
    """A minor (tonic 110 Hz = A2) at `bpm`: kick on every beat (accented downbeats), hats on the
    off-beats, bass on the tonic and fifth, a minor-triad pad."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, signal in song(bpm, bars, tonic_hz).items():
        sf.write(folder / f"{name}.wav", (0.5 * signal).astype(np.float32), RATE)
    return folder


def song(bpm: float, bars: int, tonic_hz: float, minor: bool = True) -> dict[str, np.ndarray]:
    """drums / bass / other signals of a little song in the key of tonic_hz."""
    beat = 60.0 / bpm
    frames = int(bars * 4 * beat * RATE)
    t = np.arange(frames) / RATE
    drums = np.zeros(frames)
    rng = np.random.default_rng(0)
    for i in range(bars * 4):
        start = int(i * beat * RATE)
        hit = np.arange(int(0.2 * RATE)) / RATE
        kick = np.sin(2 * np.pi * (55 * hit + 60 * 0.03 * (1 - np.exp(-hit / 0.03)))) * np.exp(-hit / 0.08)
        drums[start:start + kick.size] += kick[: frames - start] * (1.0 if i % 4 == 0 else 0.7)
        off = start + int(beat / 2 * RATE)
        hat = rng.standard_normal(int(0.03 * RATE)) * np.exp(-np.arange(int(0.03 * RATE)) / RATE / 0.008) * 0.2
        drums[off:off + hat.size] += hat[: max(0, frames - off)]
    bar = np.floor(t / (4 * beat)).astype(int)
    bass_hz = np.where(bar % 2 == 0, tonic_hz, tonic_hz * 1.5)
    bass = 0.4 * np.sin(2 * np.pi * np.cumsum(bass_hz) / RATE)
    third = 1.189 if minor else 1.26
    pad = sum(0.12 * np.sin(2 * np.pi * tonic_hz * 2 * ratio * t) for ratio in (1.0, third, 1.498))
    return {"drums": drums, "bass": bass, "other": pad}

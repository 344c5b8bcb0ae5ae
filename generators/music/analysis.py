"""Musical facts read from audio: tempo and beat grid, and key.

Shared by the stems generator and the music library. Estimates use librosa (the `stems` extra);
key names follow the cue schema ('A minor', 'Eb major'); key arithmetic is in nightcast.keys.
"""

from __future__ import annotations

import numpy as np

from nightcast.keys import NOTE_NAMES

# Krumhansl-Kessler key profiles (major, minor), the standard template for chroma key estimates.
MAJOR_PROFILE = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
MINOR_PROFILE = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def estimate_tempo(samples: np.ndarray, rate: int, harmony: np.ndarray | None = None) -> tuple[float, float]:
    """(bpm, first downbeat in seconds) of a mono signal (a drums stem, or a whole track).

    Beats are tracked on the low band's onset strength, where kicks are (hats would pull the
    tracker onto the off-beats); the tempo is the slope of the tracked beats (finer than the
    tracker's tempo grid). The downbeat is the beat phase (of four) where the harmony changes most,
    since chords change on bar lines, helped by the kick accents; `harmony` is the signal to read
    chords from (the tonal stems), else samples. It is then stepped back by whole bars to the start."""
    import librosa

    strength = librosa.onset.onset_strength(y=samples, sr=rate, fmax=200, n_mels=8)
    tempo, frames = librosa.beat.beat_track(onset_envelope=strength, sr=rate)
    beats = librosa.frames_to_time(frames, sr=rate)
    if len(beats) < 8:
        return float(np.atleast_1d(tempo)[0]), float(beats[0]) if len(beats) else 0.0
    period = float(np.polyfit(np.arange(len(beats)), beats, 1)[0])
    chroma = librosa.feature.chroma_cqt(y=samples if harmony is None else harmony, sr=rate)
    # Column k + 1 of the beat-synchronous chroma spans beat k to beat k + 1 (column 0 is the lead-in).
    per_beat = librosa.util.sync(chroma, frames, aggregate=np.median)
    change = np.linalg.norm(np.diff(per_beat, axis=1), axis=0)[: len(frames)]
    kick = np.array([strength[max(0, f - 2): f + 3].max() for f in frames])
    phases = [np.mean(change[i::4]) / (change.mean() + 1e-9) + 0.5 * np.mean(kick[i::4]) / (kick.mean() + 1e-9)
              for i in range(4)]
    downbeat = float(beats[int(np.argmax(phases))])
    bar = 4 * period
    return 60.0 / period, downbeat - np.floor(downbeat / bar + 1e-6) * bar


def estimate_key(samples: np.ndarray, rate: int) -> str:
    import librosa

    chroma = librosa.feature.chroma_cqt(y=samples, sr=rate).mean(axis=1)
    scores = []
    for tonic in range(12):
        for mode, profile in (("major", MAJOR_PROFILE), ("minor", MINOR_PROFILE)):
            scores.append((np.corrcoef(chroma, np.roll(profile, tonic))[0, 1], f"{NOTE_NAMES[tonic]} {mode}"))
    return max(scores)[1]

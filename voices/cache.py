"""Synthesised sentences kept on disk, keyed by what determines the audio.

Key: the spoken (normalised) text, the engine, its version, model, speaker, speed and the seed.
A re-render, or a profile edit that changes one segment, synthesises only the sentences whose key
is new. Entries are the engine's raw output (before the preset's effects), written atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf


class SpeechCache:
    """`used`: the keys this instance read or wrote, so a speech stage can say which sentences made
    its clip (erasing a listener's data removes them too)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.used: set[str] = set()

    @staticmethod
    def key(text: str, *, engine: str, engine_version: str, model: str | None, speaker: str | None,
            speed: float, seed: int) -> str:
        identity = json.dumps([text, engine, engine_version, model, speaker, round(speed, 4), seed])
        return hashlib.sha256(identity.encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.flac"

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    def path_of(self, key: str) -> Path:
        return self._path(key)

    def get(self, key: str, sample_rate: int) -> np.ndarray | None:
        path = self._path(key)
        try:
            samples, rate = sf.read(path, dtype="float32")
        except (OSError, RuntimeError, sf.LibsndfileError):
            return None  # missing or unreadable: synthesise again
        if rate != sample_rate:
            return None
        self.used.add(key)
        return samples

    def put(self, key: str, samples: np.ndarray, sample_rate: int) -> np.ndarray:
        """Store a sentence; returns it as every later `get` will (24-bit, within ±1), so the render
        that synthesised it hears what later renders hear. A float a 24-bit step away is inaudible,
        but a pitch shifter's transient detection can turn it into 100 ms of different waveform."""
        self.used.add(key)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            # FLAC at 24-bit: lossless enough for speech, a third of the size of float WAV
            sf.write(tmp, np.clip(samples, -1, 1), sample_rate, format="FLAC", subtype="PCM_24")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        stored = self.get(key, sample_rate)
        return samples if stored is None else stored

"""espeak-ng: robotic but always available and very fast; the floor for tests and fallbacks."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

from nightcast.binaries import require, version_of
from nightcast.voices.base import TTSEngine


class EspeakEngine(TTSEngine):
    name = "espeak"
    sample_rate = 22_050
    max_chars = 2000
    concurrent = True  # one subprocess per call

    @classmethod
    def check(cls, model: str | None, speaker: str | None) -> None:
        require("espeak-ng", "espeak-ng")

    def __init__(self, model: str | None = None, speaker: str | None = None):
        self._binary = require("espeak-ng", "espeak-ng")
        self._voice = speaker or model or "en-us"

    def synthesize(self, text: str, *, speed: float = 1.0, seed: int = 0) -> np.ndarray:
        words_per_minute = str(round(165 * speed))
        with tempfile.TemporaryDirectory() as tmp:
            wav = Path(tmp) / "speech.wav"
            # Text goes in on stdin, never as an argument: a line starting with '-' stays text.
            subprocess.run(
                [self._binary, "-v", self._voice, "-s", words_per_minute, "-w", str(wav), "--stdin"],
                input=text, text=True, check=True, capture_output=True,
            )
            samples, rate = sf.read(str(wav), dtype="float32")
        self.sample_rate = rate
        return samples.reshape(-1)

    def version(self) -> str:
        return version_of(self._binary)

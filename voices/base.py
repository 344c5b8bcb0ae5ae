"""The one interface every TTS engine implements; the embedded CPU voices and GPU engines alike."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class TTSEngine(Protocol):
    name: str
    sample_rate: int
    max_chars: int  # longest text one call handles well; the speech stage chunks by sentence below it
    # Optional `concurrent = True`: synthesize() may run from several threads at once (the speech
    # stage then synthesises a segment's sentences in parallel); engines without it are called serially.

    def synthesize(self, text: str, *, speed: float = 1.0, seed: int = 0) -> np.ndarray:
        """Speak already-normalised text; return mono float32 samples at `sample_rate`."""
        ...

    def version(self) -> str: ...

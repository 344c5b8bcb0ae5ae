"""The one interface every TTS engine implements; the embedded CPU voices and GPU engines alike.

What an engine can do is declared here, on the class, with defaults; the speech stage and the flows
read these class attributes and never probe an instance.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np


class TTSEngine:
    name: ClassVar[str]
    sample_rate: int
    max_chars: ClassVar[int]  # longest text one call handles well; the speech stage chunks by sentence below it
    runs_on_gpu: ClassVar[bool] = False  # a heavy stage: the GPU slot, and the gpu pool with gpu_dispatch: pool
    concurrent: ClassVar[bool] = False  # synthesize() may run from several threads at once
    batches: ClassVar[bool] = False  # synthesize_batch() does better than one call per sentence (a padded batch)
    # sentences per forward pass in synthesize_batch, for engines that batch (a GPU engine lowers its
    # own when a pass does not fit in the device's memory: nightcast/batching.py)
    batch_size: ClassVar[int] = 1

    @classmethod
    def check(cls, model: str | None, speaker: str | None) -> None:
        """Raise BackendUnavailableError, saying what is missing, where this engine cannot run here with
        this model; without loading the model (choosing a co-host must not load a GPU voice)."""

    def synthesize(self, text: str, *, speed: float = 1.0, seed: int = 0) -> np.ndarray:
        """Speak already-normalised text; return mono float32 samples at `sample_rate`."""
        raise NotImplementedError

    def synthesize_batch(self, texts: list[str], *, speed: float = 1.0, seeds: list[int]) -> list[np.ndarray]:
        """Several sentences, each with its own seed; engines that batch (`batches = True`) override
        this with one forward pass, where each sentence must still sound as it does alone."""
        return [self.synthesize(text, speed=speed, seed=seed) for text, seed in zip(texts, seeds)]

    def version(self) -> str:
        raise NotImplementedError

"""hibari (Apache-2.0): one natural US voice shipped in its wheel, ONNX on CPU, RTF ≈ 0.03–0.05."""

from __future__ import annotations

import threading
from importlib.metadata import version
from importlib.util import find_spec

import numpy as np

from nightcast.errors import BackendUnavailableError
from nightcast.voices.base import TTSEngine

MISSING = "hibari is not installed: pip install 'hibari-tts[fast]==0.2.1'"


class HibariEngine(TTSEngine):
    name = "hibari"
    sample_rate = 24_000
    max_chars = 400
    concurrent = True  # ONNX runs and the vocoder release the GIL; only the G2P step is serialised

    @classmethod
    def check(cls, model: str | None, speaker: str | None) -> None:
        if find_spec("hibari") is None:
            raise BackendUnavailableError(MISSING)

    def __init__(self, model: str | None = None, speaker: str | None = None):
        try:
            from hibari import Hibari
        except ImportError as exc:
            raise BackendUnavailableError(MISSING) from exc
        self._tts = Hibari()  # one intra-op thread per call: parallelism comes from concurrent sentences
        self._g2p_lock = threading.Lock()  # the G2P's tagger and lexicon caches are not thread-safe

    def synthesize(self, text: str, *, speed: float = 1.0, seed: int = 0) -> np.ndarray:
        with self._g2p_lock:
            phonemes = self._tts.phonemize(text)
        rng = np.random.default_rng(seed)
        parts = [self._tts.from_ids(self._tts.ids(p), speed, rng) for p in phonemes]
        return np.concatenate(parts).astype(np.float32) if parts else np.zeros(0, np.float32)

    def version(self) -> str:
        return version("hibari-tts")

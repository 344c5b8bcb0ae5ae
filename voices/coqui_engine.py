"""`coqui` engine: Coqui TTS (the maintained `coqui-tts` fork, same `TTS` import) on GPU workers.

XTTS-v2 (multilingual; clones a voice from a reference clip the user supplies) and VITS-family
checkpoints, loaded from a local model directory (`model.pth` or the XTTS checkpoint files beside
a `config.json`). The preset's `speaker` is either a reference clip (.wav/.flac/.mp3: voice
cloning) or a speaker name of a multi-speaker model. It needs a torchaudio that matches torch,
which PyPI only ships for CUDA, so this engine runs in a GPU worker's environment.
"""

from __future__ import annotations

import threading
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from nightcast.errors import BackendUnavailableError
from nightcast.voices.base import TTSEngine

REFERENCE_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg")
LANGUAGE = "en"


class CoquiEngine(TTSEngine):
    name = "coqui"
    runs_on_gpu = True  # a heavy stage: the gpu pool and the nightcast-gpu limit (flows/gpu_stages.py)
    max_chars = 250  # XTTS warns past ~250 characters for English; sentences stay below it

    @classmethod
    def check(cls, model: str | None, speaker: str | None) -> None:
        """Files and the package, not an import: importing coqui-tts needs the GPU worker's torchaudio."""
        if not model:
            raise BackendUnavailableError("the coqui engine needs a preset 'model': a local Coqui model directory")
        model_dir = Path(model).expanduser()
        if not (model_dir / "config.json").is_file():
            raise BackendUnavailableError(f"'{model_dir}' is not a Coqui model directory (no config.json)")
        if find_spec("TTS") is None:
            raise BackendUnavailableError("coqui-tts is not installed; it runs on GPU workers")

    def __init__(self, model: str | None = None, speaker: str | None = None):
        self.check(model, speaker)
        model_dir = Path(model).expanduser()
        try:
            import torch
            from TTS.api import TTS
        except (ImportError, OSError) as exc:  # OSError: torchaudio's CUDA libraries missing on a CPU machine
            raise BackendUnavailableError(f"coqui-tts cannot be imported here ({exc}); it runs on GPU workers") from exc
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self._tts = TTS(model_path=str(model_dir), config_path=str(model_dir / "config.json"),
                        progress_bar=False).to(self.device)
        self.sample_rate = int(self._tts.synthesizer.output_sample_rate)
        self._voice: dict[str, str] = {}
        if speaker and speaker.lower().endswith(REFERENCE_SUFFIXES):
            reference = Path(speaker).expanduser()
            if not reference.is_file():
                raise BackendUnavailableError(f"reference clip '{reference}' not found")
            self._voice["speaker_wav"] = str(reference)
        elif speaker:
            self._voice["speaker"] = speaker
        if getattr(self._tts, "is_multi_lingual", False):
            self._voice["language"] = LANGUAGE
        self._lock = threading.Lock()

    def synthesize(self, text: str, *, speed: float = 1.0, seed: int = 0) -> np.ndarray:
        import torch

        with self._lock:  # one model; the seed goes through torch's global generator
            torch.manual_seed(seed)
            samples = self._tts.tts(text=text, speed=speed, **self._voice)
        return np.asarray(samples, dtype=np.float32).reshape(-1)

    def version(self) -> str:
        try:
            return f"coqui-tts {version('coqui-tts')}"
        except PackageNotFoundError:
            return "coqui-tts (unknown version)"

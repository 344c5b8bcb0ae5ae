"""Word error rate between what the script says and what ASR heard, after one shared normalisation.

Both sides go through the TTS normaliser first (`nightcast.text`), so "1970s", "11:15 pm" and
"nineteen seventies", "eleven fifteen p m" compare equal; then case, punctuation, hyphens and
common contractions are folded."""

from __future__ import annotations

import re

import jiwer

from nightcast.text import normalize_for_speech

_CONTRACTIONS = {"i'm": "i am", "you're": "you are", "it's": "it is", "that's": "that is", "let's": "let us",
                 "we're": "we are", "they're": "they are", "don't": "do not", "can't": "cannot", "won't": "will not",
                 "isn't": "is not", "i've": "i have", "we've": "we have", "you've": "you have", "i'll": "i will",
                 "we'll": "we will", "you'll": "you will", "here's": "here is", "there's": "there is",
                 "what's": "what is", "didn't": "did not", "doesn't": "does not", "i'd": "i would"}


_CONTRACTION = re.compile(r"\b(" + "|".join(re.escape(c) for c in _CONTRACTIONS) + r")\b", re.IGNORECASE)


_DOTTED_TIME = re.compile(r"\b(\d{1,2})\.(\d{2})\s*([aApP]\.?[mM]\.?)")


def words_for_wer(text: str) -> str:
    # contractions first: the TTS normaliser drops apostrophes ("I'm" → "Im")
    text = _CONTRACTION.sub(lambda m: _CONTRACTIONS[m.group(0).lower()], text.replace("’", "'"))
    text = _DOTTED_TIME.sub(r"\1:\2 \3", text)  # Whisper writes 11:15 pm as "11.15pm"
    text = normalize_for_speech(text).lower()
    text = re.sub(r"[-–—/]", " ", text)
    text = re.sub(r"[^\w' ]+", " ", text)
    text = re.sub(r"(?<!\w)'|'(?!\w)", " ", text)
    return re.sub(r"\s+", " ", text).strip()


def word_error_rate(reference: str, heard: str) -> float:
    ref, hyp = words_for_wer(reference), words_for_wer(heard)
    if not ref:
        return 0.0 if not hyp else 1.0
    return float(jiwer.wer(ref, hyp or "<nothing>"))

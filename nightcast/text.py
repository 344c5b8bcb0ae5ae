"""Text as the pipeline speaks and hears it: written text turned into what a host would say
(numbers, years, decades, times, symbols), sentences split where a host breathes, and compared by
their words.

Shared vocabulary: the script stage counts and dedupes sentences, the speech stage speaks them, and
QA normalises both the script and what ASR heard, so "1970s" and "nineteen seventies" compare equal.
"""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words

_ABBREVIATIONS = {
    r"\bfeat\.": "featuring",
    r"\bft\.": "featuring",
    r"\bvs\.?": "versus",
    r"\bDr\.": "Doctor",
    r"\bMr\.": "Mister",
    r"\bMrs\.": "Missus",
    r"\bMs\.": "Miz",
    r"\bNo\.\s*(?=\d)": "number ",
    r"\betc\.": "et cetera",
    r"\be\.g\.": "for example",
    r"\bi\.e\.": "that is",
    r"\bDJ\b": "D J",
    r"\bBPM\b": "B P M",
}
_SYMBOLS = {"&": " and ", "+": " plus ", "@": " at ", "%": " percent", "#": " number "}


def _year(n: int) -> str:
    return num2words(n, to="year").replace("-", " ")


def _plural(words: str) -> str:
    return words[:-1] + "ies" if words.endswith("y") else words + "s"


def _time(match: re.Match) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    suffix = match.group(3)
    spoken = num2words(hour)
    if minute == 0:
        spoken += "" if suffix else " o'clock"
    elif minute < 10:
        spoken += " oh " + num2words(minute)
    else:
        spoken += " " + num2words(minute)
    if suffix:
        spoken += " " + " ".join(suffix.replace(".", "").upper())
    return spoken.replace("-", " ")


def _number(match: re.Match) -> str:
    raw = match.group(0).replace(",", "")
    if "." in raw:
        whole, frac = raw.split(".", 1)
        return f"{num2words(int(whole))} point {' '.join(num2words(int(d)) for d in frac)}".replace("-", " ")
    n = int(raw)
    if 1100 <= n <= 2099 and len(raw) == 4:
        return _year(n)
    return num2words(n).replace("-", " ").replace(",", "")


_CURRENCIES = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny")}
_URL = re.compile(r"\b(?:https?://)?(?:www\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|org|net|io|fm|co|uk|de|fr))(/[\w/-]*)?\b",
                  re.IGNORECASE)
_ACRONYM_WITH_DOTS = re.compile(r"\b((?:[A-Z]\.){2,})")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']{1,}\b")


def _money(match: re.Match) -> str:
    unit, small = _CURRENCIES[match.group(1)]
    whole = int(match.group(2).replace(",", ""))
    spoken = f"{whole} {unit}{'' if whole == 1 else 's'}"
    if match.group(3):
        cents = int(match.group(3).ljust(2, "0"))
        if cents:
            plural = "pence" if small == "penny" else small + "s"
            spoken += f" and {cents} {small if cents == 1 else plural}"
    return spoken


def _url(match: re.Match) -> str:
    host = match.group(1).replace(".", " dot ").replace("-", " dash ")
    path = (match.group(2) or "").strip("/")
    return host + (" slash " + path.replace("/", " slash ") if path else "")


def _caps(match: re.Match) -> str:
    """ALL-CAPS words: read a pronounceable band name as a word (ABBA → Abba), spell the rest (MGMT)."""
    word = match.group(0)
    letters = word.replace("'", "")
    if len(letters) >= 4 and any(v in letters for v in "AEIOUY"):
        return word.capitalize()
    return " ".join(letters)  # USA, AC/DC, MGMT: letter by letter


def _no_emoji(text: str) -> str:
    return "".join(ch for ch in text if unicodedata.category(ch) != "So" and not 0xFE00 <= ord(ch) <= 0xFE0F
                   and ord(ch) != 0x200D)


def normalize_for_speech(text: str, pronunciations: dict[str, str] | None = None) -> str:
    for written, spoken in (pronunciations or {}).items():
        text = re.sub(rf"(?<!\w){re.escape(written)}(?!\w)", spoken, text)
    text = _no_emoji(text)
    # A beat before a quoted title, as a DJ leaves one: the comma is the pause every engine honours.
    text = re.sub(r"(?<=[\w])\s+“", ", “", text)
    text = _URL.sub(_url, text)
    for pattern, spoken in _ABBREVIATIONS.items():
        text = re.sub(pattern, spoken, text)
    text = _ACRONYM_WITH_DOTS.sub(lambda m: " ".join(m.group(1).replace(".", "")) + " ", text)
    text = re.sub(r"(?<=[A-Z])/(?=[A-Z])", " ", text)
    text = _CAPS_WORD.sub(_caps, text)
    text = re.sub(r"(?<=[A-Za-z])(?=\d)", " ", text)  # U2 → U 2
    text = re.sub(r"([$€£])(\d[\d,]*)(?:\.(\d{1,2}))?\b", _money, text)
    text = re.sub(r"\b(\d{1,2}):(\d{2})\s*([aApP]\.?[mM]\.?)?", _time, text)
    text = re.sub(r"\b(1[1-9]|20)(\d)0s\b", lambda m: _plural(_year(int(m.group(1) + m.group(2) + "0"))), text)
    text = re.sub(r"(?<!\w)[’']?([2-9])0s\b", lambda m: _plural(num2words(int(m.group(1)) * 10)), text)
    text = re.sub(r"\b(\d+)(st|nd|rd|th)\b", lambda m: num2words(int(m.group(1)), to="ordinal").replace("-", " "), text)
    text = re.sub(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?", _number, text)
    for symbol, spoken in _SYMBOLS.items():
        text = text.replace(symbol, spoken)
    text = re.sub(r"\s+([!?.,;:])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"”’)]?\s+(?=[\"“‘(]?[A-Z0-9])")
_NOT_A_SENTENCE_END = re.compile(r"\b(feat|ft|vs|Dr|Mr|Mrs|Ms|No|St|etc|e\.g|i\.e)\.$")


def split_sentences(text: str) -> list[str]:
    """Split into sentences without breaking on 'feat.', 'Dr.', decimals or initials."""
    pieces = [p for p in _SENTENCE_END.split(text.strip()) if p.strip()]
    merged: list[str] = []
    for piece in pieces:
        if merged and (_NOT_A_SENTENCE_END.search(merged[-1]) or re.search(r"\b[A-Z]\.$", merged[-1])):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece.strip())
    return merged


def sentence_key(sentence: str) -> str:
    """Compare sentences by their words, ignoring case and punctuation."""
    return " ".join(re.findall(r"[\w']+", sentence.lower()))

"""Listener-controlled text (requests, feedback notes, library tags): bounded, cleaned, and never obeyed.

Nothing here tries to understand such text; it makes it safe to store, match and show. What a
request means comes from matching it against names the listener's own data already holds
(nightcast/steering/interpret.py), so a request can only ever pick among those names.
"""

from __future__ import annotations

import re
import unicodedata

from nightcast.errors import InputError

REQUEST_MAX_CHARS = 500
NOTE_MAX_CHARS = 280
TAG_MAX_CHARS = 120

_INVISIBLE = {"Cc", "Cf", "Co", "Cs"}  # control, format (bidi marks, zero-width), private use, surrogates
_SPACE = re.compile(r"\s+")
# Phrases that address a language model or a reader of instructions rather than name a song, in the
# languages hostile requests were seen in. A tag that contains one is not read aloud.
_INSTRUCTION = re.compile(
    r"ignore (?:all |the |any |your )?(?:previous|prior|above|earlier)|disregard|system prompt|instructions?\b|"
    r"repeat after me|you are now|as an ai|jailbreak|developer mode|"
    r"ignoriere|vorherigen anweisungen|ignora (?:las|le|todas)|instrucciones|ignorez|instructions précédentes|"
    r"игнорируй|инструкци|忽略|指令|指示を無視|無視して", re.IGNORECASE)
_MARKUP = re.compile(r"[{}<>`\\]|https?://|www\.|&[a-z]+;", re.IGNORECASE)  # brackets stay: "[Live]"


def clean(text: str, *, max_chars: int, field: str, source: str | None = None) -> str:
    """One line of printable text: NFKC-normalised, invisible characters removed, spaces collapsed.

    Too long, or nothing left: InputError naming the field (HTTP 422 / exit 2)."""
    if not isinstance(text, str):
        raise InputError("must be text", source=source, field=field)
    if len(text) > max_chars:
        raise InputError(f"is {len(text)} characters; at most {max_chars}", source=source, field=field)
    cleaned = strip_invisible(text)
    if not cleaned:
        raise InputError("is empty (after removing control and formatting characters)", source=source, field=field)
    return cleaned


def strip_invisible(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    kept = "".join(" " if ch in "\t\n\r\v\f" else ch for ch in text if ch in "\t\n\r\v\f"
                   or unicodedata.category(ch) not in _INVISIBLE)
    return _SPACE.sub(" ", kept).strip()


def reads_like_instructions(text: str) -> str | None:
    """Why this name or tag should not be spoken on air (it addresses a model, or carries markup), or None."""
    if _INSTRUCTION.search(text):
        return "it reads like an instruction, not a name"
    if _MARKUP.search(text):
        return "it carries markup or a web address"
    return None


def clean_tag(value: str | None) -> str | None:
    """A library tag (artist, title, album, genre) as it may be shown: cleaned, at most TAG_MAX_CHARS."""
    if value is None:
        return None
    cleaned = strip_invisible(value)[:TAG_MAX_CHARS].strip()
    return cleaned or None

"""Musical keys as text and numbers: parsing DJ-software key tags, pitch classes, the Camelot wheel.

Shared vocabulary: track picks order songs by Camelot distance, the music stage transposes to a
cue's key, the library reads key tags. Key names follow the cue schema ('A minor', 'Eb major').
"""

from __future__ import annotations

import re

PITCH_CLASSES = {"C": 0, "C#": 1, "Db": 1, "D": 2, "D#": 3, "Eb": 3, "E": 4, "F": 5, "F#": 6, "Gb": 6,
                 "G": 7, "G#": 8, "Ab": 8, "A": 9, "A#": 10, "Bb": 10, "B": 11}
NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
_KEY_TAG = re.compile(r"^\s*([A-Ga-g])\s*([#b♯♭]?)\s*(maj(?:or)?|min(?:or)?|m)?\s*$")
_CAMELOT_TAG = re.compile(r"^\s*(1[0-2]|[1-9])\s*([ABab])\s*$")


def semitones_between(source_key: str, target_key: str) -> int:
    """The smallest shift (−6…+5) taking the source tonic to the target's; modes are kept."""
    shift = (PITCH_CLASSES[target_key.split()[0]] - PITCH_CLASSES[source_key.split()[0]]) % 12
    return shift - 12 if shift > 5 else shift


def parse_key(text: str) -> str | None:
    """A key tag as DJ software writes it ('Am', 'F#m', 'Bb major', 'Ebmin', Camelot '8A') → 'A minor';
    None when it is not a key."""
    camelot = _CAMELOT_TAG.match(text)
    if camelot:
        number, letter = int(camelot[1]), camelot[2].upper()
        major_pc = (7 * (number - 8)) % 12  # 8B is C major; each step clockwise is a fifth up
        return f"{NOTE_NAMES[major_pc]} major" if letter == "B" else f"{NOTE_NAMES[(major_pc - 3) % 12]} minor"
    match = _KEY_TAG.match(text)
    if not match:
        return None
    accidental = {"♯": "#", "♭": "b"}.get(match[2], match[2])
    tonic = PITCH_CLASSES[match[1].upper() + accidental]
    suffix = (match[3] or "").lower()
    mode = "minor" if suffix in ("m", "min", "minor") else "major"
    return f"{NOTE_NAMES[tonic]} {mode}"


def camelot(key: str) -> tuple[int, str]:
    """The key's place on the Camelot wheel: (1–12, 'A' minor / 'B' major); neighbours mix well."""
    tonic, mode = key.split()
    major_pc = PITCH_CLASSES[tonic] + (3 if mode == "minor" else 0)
    return (7 * (major_pc + 1)) % 12 + 1, "A" if mode == "minor" else "B"


def key_distance(a: str, b: str) -> int:
    """Steps on the Camelot wheel: 0 same key, 1 a fifth apart or the relative major/minor."""
    (na, la), (nb, lb) = camelot(a), camelot(b)
    around = abs(na - nb)
    return min(around, 12 - around) + (la != lb)

"""The procedural generator's arrangement recipe for each style family (nightcast.styles): General
MIDI programs, grooves, progressions."""

from __future__ import annotations

from dataclasses import dataclass

# 16 steps per bar; each entry lists the steps a drum voice hits.
KICK, SNARE, CLAP, RIM, HAT, OPEN_HAT, PEDAL_HAT, RIDE, CRASH, SHAKER = 36, 38, 39, 37, 42, 46, 44, 51, 49, 70
GROOVES: dict[str, dict[int, tuple[int, ...]]] = {
    "boom_bap": {KICK: (0, 7, 10), SNARE: (4, 12), HAT: (0, 2, 4, 6, 8, 10, 12, 14)},
    "trap": {KICK: (0, 6, 11), CLAP: (8,), HAT: tuple(range(16))},
    "four_floor": {KICK: (0, 4, 8, 12), CLAP: (4, 12), OPEN_HAT: (2, 6, 10, 14), HAT: tuple(range(16))},
    "swing": {RIDE: (0, 4, 7, 8, 12, 15), PEDAL_HAT: (4, 12), KICK: (0,)},
    "rock": {KICK: (0, 8, 10), SNARE: (4, 12), HAT: (0, 2, 4, 6, 8, 10, 12, 14)},
    "lofi": {KICK: (0, 7, 10), RIM: (4, 12), HAT: (2, 6, 10, 14)},
    "soft": {KICK: (0, 8), RIM: (4, 12), SHAKER: (0, 2, 4, 6, 8, 10, 12, 14)},
    "none": {},
}


@dataclass(frozen=True)
class Style:
    groove: str
    bass: int  # GM program numbers (0-based)
    chords: int
    pad: int | None
    lead: int | None
    bass_mode: str  # "root" | "walking" | "pulse" | "sustain"
    comp: str  # chord rhythm: "stabs" | "sustain" | "arpeggio" | "offbeat"
    sevenths: bool
    swing: float  # 0 straight … 0.33 full triplet swing
    progressions_major: tuple[tuple[int, ...], ...]
    progressions_minor: tuple[tuple[int, ...], ...]


POP_MAJOR = ((0, 4, 5, 3), (0, 5, 3, 4), (5, 3, 0, 4))
POP_MINOR = ((0, 5, 2, 6), (0, 3, 4, 0), (0, 6, 5, 6))
JAZZ = ((1, 4, 0, 0), (0, 5, 1, 4), (2, 5, 1, 4))

STYLES: dict[str, Style] = {
    "jazz": Style("swing", 32, 4, None, 65, "walking", "stabs", True, 0.3, JAZZ, JAZZ),
    "hiphop": Style("boom_bap", 33, 4, 89, None, "root", "stabs", True, 0.18, POP_MAJOR, POP_MINOR),
    "classical": Style("none", 42, 48, 49, 46, "sustain", "arpeggio", False, 0.0, POP_MAJOR, POP_MINOR),
    "electronic": Style("four_floor", 38, 81, 89, 80, "pulse", "offbeat", False, 0.0, POP_MAJOR, POP_MINOR),
    "lofi": Style("lofi", 33, 4, 89, None, "root", "stabs", True, 0.22, JAZZ, POP_MINOR),
    "ambient": Style("none", 38, 88, 89, 11, "sustain", "sustain", True, 0.0, POP_MAJOR, POP_MINOR),
    "rock": Style("rock", 33, 29, None, 30, "pulse", "sustain", False, 0.0, POP_MAJOR, POP_MINOR),
    "soul": Style("soft", 33, 4, 48, 61, "root", "stabs", True, 0.12, POP_MAJOR, POP_MINOR),
    "folk": Style("soft", 32, 25, None, 73, "root", "arpeggio", False, 0.0, POP_MAJOR, POP_MINOR),
    "pop": Style("rock", 38, 0, 89, 80, "pulse", "offbeat", False, 0.0, POP_MAJOR, POP_MINOR),
}

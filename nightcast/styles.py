"""Style families: what a genre sounds like to the music stage, and the tempo range it asks for.

Shared vocabulary: the script stage picks a cue's style and tempo from the listener's genres, the
music stage arranges for it, and the CLI names it.
"""

from __future__ import annotations

# Style families, matched by keywords in genre names: what the script asks the music for.
STYLE_KEYWORDS = {
    "hiphop": ("hip hop", "hip-hop", "hiphop", "rap", "trap", "boom bap", "grime", "drill"),
    "jazz": ("jazz", "bebop", "swing", "bossa", "fusion", "blues"),
    "classical": ("classical", "baroque", "orchestral", "opera", "chamber", "romantic", "piano", "minimalism"),
    "electronic": ("electronic", "house", "techno", "edm", "trance", "dance", "synth", "drum and bass", "garage"),
    "lofi": ("lo-fi", "lofi", "chillhop", "downtempo", "trip hop", "trip-hop"),
    "ambient": ("ambient", "new age", "drone", "soundtrack", "score"),
    "rock": ("rock", "punk", "metal", "grunge", "indie", "alternative", "shoegaze"),
    "soul": ("soul", "r&b", "rnb", "funk", "gospel", "motown", "neo-soul"),
    "folk": ("folk", "country", "americana", "acoustic", "singer-songwriter", "bluegrass"),
    "pop": ("pop", "k-pop", "disco", "latin", "reggaeton", "afrobeats"),
}
STYLE_TEMPO = {  # (calm bpm, driving bpm)
    "hiphop": (84, 98), "jazz": (92, 150), "classical": (66, 112), "electronic": (112, 128),
    "lofi": (72, 88), "ambient": (60, 80), "rock": (100, 140), "soul": (80, 108), "folk": (84, 116),
    "pop": (96, 122),
}


def style_for(genre: str) -> str:
    lowered = genre.lower()
    for style, words in STYLE_KEYWORDS.items():
        if any(w in lowered for w in words):
            return style
    return "pop"

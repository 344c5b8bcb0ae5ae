"""Facts about a listener at render time, derived once and shared by every writer.

Profile text stays data here: it is copied into fields, never interpreted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field

from generators.script.memory import EpisodeMemory
from nightcast.schema import EpisodeTemplate, HistoryItem, ListenerProfile

# Style families the procedural music generator knows, matched by keywords in genre names.
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
DAYPARTS = ((5, "morning"), (12, "afternoon"), (17, "evening"), (22, "night"))
DEFAULT_LOCAL_TIME = {"morning": dt.time(7, 30), "night": dt.time(22, 30)}
UPBEAT_MOODS = ("happy", "upbeat", "energetic", "pumped", "hyped", "motivated", "bright", "playful", "focused")


def style_for(genre: str) -> str:
    lowered = genre.lower()
    for style, words in STYLE_KEYWORDS.items():
        if any(w in lowered for w in words):
            return style
    return "pop"


def daypart_for(time: dt.time) -> str:
    part = "night"
    for hour, name in DAYPARTS:
        if time.hour >= hour:
            part = name
    return "night" if time.hour < 5 else part


@dataclass(frozen=True)
class Pick:
    artist: str
    genre: str
    style: str
    track: HistoryItem | None  # the listener's own most-played track by this artist, if any


@dataclass(frozen=True)
class ListenerContext:
    profile: ListenerProfile
    date: dt.date
    local_time: dt.time
    daypart: str
    weekday: str
    mood: str
    picks: list[Pick]
    top_track: HistoryItem | None
    total_plays: int
    seed: int
    rng: random.Random = field(compare=False, repr=False)
    memory: EpisodeMemory | None = None

    @property
    def previous(self) -> tuple[str, str] | None:
        """(artist featured last episode, when that was) for a callback line, if there was one."""
        if self.memory is None or self.memory.last is None:
            return None
        last = self.memory.last
        artists = [s.artist for s in last.segments if s.artist and not self.profile.avoids(s.artist)]
        return (artists[0], self.memory.when(last.date, self.daypart)) if artists else None

    @property
    def is_upbeat(self) -> bool:
        return any(word in self.mood.lower() for word in UPBEAT_MOODS)


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def _freshest_first(artists: list[str], memory: EpisodeMemory | None) -> list[str]:
    """Artists not featured in the memory window first (in their order), then the least recent."""
    if memory is None:
        return artists
    recent = set(memory.recent_artists())
    fresh = [a for a in artists if a not in recent]
    stale = sorted((a for a in artists if a in recent), key=lambda a: memory.last_featured(a) or dt.date.min)
    return fresh + stale


def build_context(profile: ListenerProfile, template: EpisodeTemplate, date: dt.date,
                  memory: EpisodeMemory | None = None) -> ListenerContext:
    seed = _seed(profile.id, template.id, date.isoformat())
    rng = random.Random(seed)
    local_time = profile.listens_at or DEFAULT_LOCAL_TIME["morning" if "morning" in template.id else "night"]
    daypart = daypart_for(local_time)
    mood = rng.choice(profile.moods) if profile.moods else ("easy" if daypart in ("night", "evening") else "bright")

    history = [h for h in profile.history if not profile.avoids(h.artist) and not profile.avoids(h.title)]
    history.sort(key=lambda h: (-h.plays, h.artist))
    artists: list[str] = []
    for name in [h.artist for h in history] + list(profile.favourite_artists):
        if name not in artists and not profile.avoids(name):
            artists.append(name)
    # Keep the most-played first, shuffle the rest so each date brings a different running order.
    head, tail = artists[:1], artists[1:]
    rng.shuffle(tail)
    genres = [g for g in profile.favourite_genres if not profile.avoids(g)] or ["pop"]
    genre_offset = rng.randrange(len(genres))
    picks = []
    for index, artist in enumerate(_freshest_first(head + tail, memory)):
        genre = genres[(index + genre_offset) % len(genres)]
        track = next((h for h in history if h.artist == artist), None)
        picks.append(Pick(artist=artist, genre=genre, style=style_for(genre), track=track))
    return ListenerContext(
        profile=profile,
        date=date,
        local_time=local_time,
        daypart=daypart,
        weekday=date.strftime("%A"),
        mood=mood,
        picks=picks,
        top_track=history[0] if history else None,
        total_plays=sum(h.plays for h in history),
        seed=seed,
        rng=rng,
        memory=memory,
    )

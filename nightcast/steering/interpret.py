"""A listener's request, read offline: its words matched against the names their own data holds.

The embedded default needs no model. A request is split into clauses; each clause's polarity comes
from its cue words ("never … again" excludes for good, "no" / "skip" / "not tonight" leaves out of the
next episode, anything else favours), and what it is about comes from matching the clause against
the listener's artists and tracks (library, history, favourites), genres (theirs, their library's,
the style vocabulary), a mood and activity vocabulary, and phrases for the talk amount and length.
Only those known names reach the result, so the request's own words never reach the script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from nightcast.schema import ListenerProfile, ListenerRequest, TrackName, TrackRef
from nightcast.untrusted import strip_invisible
from nightcast.styles import STYLE_KEYWORDS

# Activities and feelings a listener names → the mood the episode takes (the cue's mood and energy).
MOOD_WORDS = {
    "calm": ("calm", "relax", "relaxing", "unwind", "wind down", "chill", "chilled", "sleep", "sleepy", "quiet",
             "gentle", "soft"),
    "cosy": ("cosy", "cozy", "bake", "baking", "cook", "cooking", "rainy", "rain", "snow", "fireside"),
    "focused": ("focus", "focused", "study", "studying", "work", "working", "concentrate", "reading", "coding"),
    "upbeat": ("upbeat", "happy", "party", "dance", "dancing", "energy", "energetic", "pumped", "workout", "run",
               "running", "gym", "drive", "driving"),
    "mellow": ("mellow", "melancholy", "sad", "reflective", "moody", "late night", "late-night", "dreamy"),
}
_TALK_LESS = re.compile(
    r"\b(?:keep|make)\b.{0,24}\b(?:talk|talking|chat|chatter|speaking)\b.{0,12}\b(?:short|brief|down|minimum|light)\b|"
    r"\b(?:less|fewer|minimal)\s+(?:talk|talking|chat|chatter|words|speaking|dj)\b|\btalk\s+less\b|"
    r"\b(?:just|only)\s+(?:the\s+)?(?:music|songs|records|tracks)\b|\bshut up\b|\bstop talking\b|"
    r"\bno\s+(?:talk|talking|chatter)\b|\bquiet(?:er)?\s+dj\b", re.IGNORECASE)
_TALK_MORE = re.compile(
    r"\b(?:more|longer)\s+(?:talk|talking|chat|chatter|stories|story|background|trivia)\b|\btalk\s+more\b|"
    r"\btell me more\b", re.IGNORECASE)
_MINUTES = re.compile(r"\b(\d{1,3})\s*(?:-\s*)?(?:min|mins|minute|minutes)\b", re.IGNORECASE)
_SHORT_SHOW = re.compile(r"\b(?:short|quick|brief)\s+(?:show|episode|one|set)\b", re.IGNORECASE)
_LONG_SHOW = re.compile(r"\b(?:long|longer|extended)\s+(?:show|episode|one|set)\b", re.IGNORECASE)
_FOR_GOOD = re.compile(r"\bnever\b|\bban\b|\bever again\b|\bfor good\b|\bhate\b|\bstop playing\b|"
                       r"\bdon'?t ever\b|\bdo not ever\b|\bno longer\b|\bremove\b", re.IGNORECASE)
_NOT_TONIGHT = re.compile(r"\bno\b|\bnot\b|\bwithout\b|\bskip\b|\bavoid\b|\bdon'?t\b|\bdo not\b|\bless\b|"
                          r"\bfewer\b|\benough\b|\bexcept\b|\bbut no\b|\bhold off\b", re.IGNORECASE)
_CLAUSES = re.compile(r"[.;!?\n]+|,|\bbut\b|\band then\b|\balso\b", re.IGNORECASE)
SURNAME_MIN_CHARS = 4


@dataclass(frozen=True)
class Vocabulary:
    """The names a request can refer to, from this listener's data and the style vocabulary."""

    artists: tuple[str, ...]
    tracks: tuple[TrackName, ...]
    genres: tuple[str, ...]
    surnames: dict[str, str] = field(default_factory=dict)  # unique last name (casefolded) → artist

    @classmethod
    def of(cls, profile: ListenerProfile, library: list[TrackRef] | None = None) -> Vocabulary:
        library = library or []
        artists = _unique([*(t.artist for t in library), *(h.artist for h in profile.history),
                           *profile.favourite_artists])
        tracks = _unique_tracks([*(TrackName(artist=t.artist, title=t.title) for t in library),
                                 *(TrackName(artist=h.artist, title=h.title) for h in profile.history)])
        genres = _unique([*profile.favourite_genres, *(t.genre for t in library if t.genre),
                          *(word for words in STYLE_KEYWORDS.values() for word in words)])
        last_names: dict[str, list[str]] = {}
        for artist in artists:
            parts = artist.split()
            if len(parts) > 1 and len(parts[-1]) >= SURNAME_MIN_CHARS:
                last_names.setdefault(parts[-1].casefold(), []).append(artist)
        surnames = {name: found[0] for name, found in last_names.items() if len(found) == 1}
        return cls(artists=tuple(artists), tracks=tuple(tracks), genres=tuple(genres), surnames=surnames)


def _unique(names) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(name.casefold(), name)
    return list(seen.values())


def _unique_tracks(tracks: list[TrackName]) -> list[TrackName]:
    seen: dict[tuple[str, str], TrackName] = {}
    for track in tracks:
        seen.setdefault((track.artist.casefold(), track.title.casefold()), track)
    return list(seen.values())


def _find(name: str, text: str) -> re.Match | None:
    return re.search(rf"(?<![\w]){re.escape(name.casefold())}(?![\w])", text)


class _Clause:
    """One clause's text, with what has been matched in it blanked out so a name is matched once."""

    def __init__(self, text: str):
        self.text = text.casefold()

    def take(self, name: str) -> bool:
        found = _find(name, self.text)
        if found is None:
            return False
        self.text = self.text[:found.start()] + " " * len(found.group()) + self.text[found.end():]
        return True


def interpret(text: str, profile: ListenerProfile, library: list[TrackRef] | None = None) -> ListenerRequest:
    """What the request asks, from names in the listener's data; `understood` is empty if nothing matched."""
    vocabulary = Vocabulary.of(profile, library)
    found: dict[str, list] = {key: [] for key in (
        "favour_artists", "favour_genres", "favour_moods", "favour_tracks", "avoid_artists", "avoid_genres",
        "avoid_tracks", "exclude_artists", "exclude_tracks")}
    understood: list[str] = []
    text = strip_invisible(text)
    talk = "usual"
    if _TALK_LESS.search(text):
        talk = "less"
        understood.append("less talk")
    elif _TALK_MORE.search(text):
        talk = "more"
        understood.append("more talk")
    length_min = _length(text)
    if length_min is not None:
        understood.append(f"about {length_min:g} minutes")
    for raw in filter(None, (part.strip() for part in _CLAUSES.split(text))):
        clause = _Clause(raw)
        mode = "exclude" if _FOR_GOOD.search(raw) else "avoid" if _NOT_TONIGHT.search(raw) else "favour"
        if mode != "favour" and (_TALK_LESS.search(raw) or _TALK_MORE.search(raw)):
            continue  # "no talking" is about the talk, not about leaving music out
        for track in sorted(vocabulary.tracks, key=lambda t: -len(t.title)):
            quoted = re.search(rf"[\"“‘']{re.escape(track.title.casefold())}[\"”’']", clause.text)
            if (len(track.title.split()) >= 2 or quoted) and clause.take(track.title):
                clause.take(track.artist)
                _add(found, understood, mode, "tracks", track, f"“{track.title}” by {track.artist}")
        for artist in sorted(vocabulary.artists, key=len, reverse=True):
            if clause.take(artist):
                _add(found, understood, mode, "artists", artist, artist)
        for surname, artist in vocabulary.surnames.items():
            if artist not in found[f"{mode}_artists"] and clause.take(surname):
                _add(found, understood, mode, "artists", artist, artist)
        for genre in sorted(vocabulary.genres, key=len, reverse=True):
            if clause.take(genre):
                _add(found, understood, mode, "genres", genre, genre)
        if mode == "favour":
            for mood, words in MOOD_WORDS.items():
                if any(clause.take(word) for word in sorted(words, key=len, reverse=True)):
                    if mood not in found["favour_moods"]:
                        found["favour_moods"].append(mood)
                        understood.append(f"{'an' if mood[0] in 'aeiou' else 'a'} {mood} mood")
    return ListenerRequest(**found, talk=talk, length_min=length_min, understood=understood)


READ_KINDS = ("favour", "avoid", "exclude")


def _track_label(track: TrackName) -> str:
    return f"{track.title} — {track.artist}"


def request_schema(vocabulary: Vocabulary) -> dict:
    """What an LLM may answer when it reads a request: a ListenerRequest whose every name is one of
    the listener's own (JSON-schema enums), so constrained decoding cannot produce anything else."""
    def names(values: list[str]) -> dict:
        return {"type": "array", "items": {"type": "string", "enum": values}} if values else \
            {"type": "array", "maxItems": 0, "items": {"type": "string"}}

    artists, genres = list(vocabulary.artists), list(vocabulary.genres)
    tracks = [_track_label(t) for t in vocabulary.tracks]
    properties: dict = {}
    for kind in READ_KINDS:
        properties[f"{kind}_artists"] = names(artists)
        properties[f"{kind}_tracks"] = names(tracks)
        if kind != "exclude":
            properties[f"{kind}_genres"] = names(genres)
    properties["favour_moods"] = names(list(MOOD_WORDS))
    properties["talk"] = {"type": "string", "enum": ["less", "usual", "more"]}
    properties["length_min"] = {"type": ["number", "null"]}
    return {"title": "ListenerRequest", "type": "object", "properties": properties,
            "required": list(properties), "additionalProperties": False}


def from_reply(data: dict, vocabulary: Vocabulary, interpreter: str) -> ListenerRequest:
    """A model's reading of a request, kept only where it names the listener's own things; what was
    understood is phrased here, by code, from those names (never from the model's words)."""
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    found: dict[str, list] = {}
    understood: list[str] = []
    tracks = {_track_label(t).casefold(): t for t in vocabulary.tracks}
    known = {"artists": {a.casefold(): a for a in vocabulary.artists},
             "genres": {g.casefold(): g for g in vocabulary.genres}, "tracks": tracks}
    for kind in READ_KINDS:
        for what in ("artists", "tracks", "genres"):
            key = f"{kind}_{what}"
            found.setdefault(key, [])
            if key not in ListenerRequest.model_fields:
                continue
            for value in data.get(key) or []:
                name = known[what].get(str(value).casefold()) if isinstance(value, str) else None
                if name is not None:
                    label = f"“{name.title}” by {name.artist}" if what == "tracks" else name
                    _add(found, understood, kind, what, name, label)
    moods = [m for m in data.get("favour_moods") or [] if m in MOOD_WORDS]
    understood += [f"{'an' if m[0] in 'aeiou' else 'a'} {m} mood" for m in moods]
    talk = data.get("talk") if data.get("talk") in ("less", "more") else "usual"
    if talk != "usual":
        understood.insert(0, f"{talk} talk")
    length = data.get("length_min")
    length_min = float(length) if isinstance(length, (int, float)) and 2 <= length <= 120 else None
    if length_min is not None:
        understood.append(f"about {length_min:g} minutes")
    found = {k: v for k, v in found.items() if k in ListenerRequest.model_fields}
    return ListenerRequest(**found, favour_moods=moods, talk=talk, length_min=length_min, understood=understood,
                           interpreter=interpreter)


def _add(found: dict[str, list], understood: list[str], mode: str, kind: str, value, label: str) -> None:
    if mode == "exclude" and kind == "genres":
        mode = "avoid"  # a whole genre is left out of the next show, never banned for good from one sentence
    key = f"{mode}_{kind}"
    found.setdefault(key, [])
    if value in found[key]:
        return
    found[key].append(value)
    understood.append({"favour": f"more {label}", "avoid": f"no {label} this time",
                       "exclude": f"never {label} again"}[mode])


def _length(text: str) -> float | None:
    minutes = _MINUTES.search(text)
    if minutes:
        value = float(minutes.group(1))
        return value if 2 <= value <= 120 else None
    if _SHORT_SHOW.search(text):
        return 2.0  # the shortest the format allows: the render clamps a length to the format's range
    if _LONG_SHOW.search(text):
        return 120.0
    return None

"""Facts about a listener at render time, derived once and shared by every writer.

Profile text stays data here: it is copied into fields, never interpreted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from dataclasses import dataclass, field, replace

from nightcast.generators.script.memory import EpisodeMemory
from nightcast.generators.script.track_picks import choose_tracks, history_item
from nightcast.schema import EpisodeTemplate, HistoryItem, ListenerProfile, SegmentKind, Steering, StoredRequest, TrackRef
from nightcast.styles import style_for

DAYPARTS = ((5, "morning"), (12, "afternoon"), (17, "evening"), (22, "night"))
DEFAULT_LOCAL_TIME = {"morning": dt.time(7, 30), "night": dt.time(22, 30)}
UPBEAT_MOODS = ("happy", "upbeat", "energetic", "pumped", "hyped", "motivated", "bright", "playful", "focused")


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
    record: TrackRef | None = None  # the library track this pick plays, when the listener has a library
    requested: StoredRequest | None = None  # the listener's request that brought this pick in
    requested_what: str = ""  # what that request asked for: the artist, a track, a genre
    starter: bool = False  # from the starter taste: nothing in the listener's data is about this artist


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
    steering: Steering = Steering()
    mood_requested: StoredRequest | None = None  # the request that set the mood, if one did
    library_size: int = 0

    @property
    def getting_to_know(self) -> bool:
        """No artist of their own yet (no favourites, history or library): the show says so."""
        return not (self.profile.favourite_artists or self.profile.history or self.library_size)

    @property
    def first_show(self) -> bool:
        """Getting to know them, and no earlier episode of theirs in memory."""
        return self.getting_to_know and (self.memory is None or self.memory.last is None)

    def for_segment(self, index: int, kind: str, artist: str) -> ListenerContext:
        """This context with a segment's own random stream, seeded by what the segment is (its place,
        its kind, its featured artist): an edit that changes one segment's choices leaves the other
        segments' words as they were, so their speech and beds come from the cache."""
        return replace(self, rng=random.Random(_seed(self.seed, index, kind, artist)))

    def stable_choice(self, options: list[str], *key: object) -> str:
        """One of `options` for `key`, the same whatever else is in the list unless the winner changes
        (rendezvous hashing): a new interest changes only the segments it would win, not every draw
        after it. Empty when there are none."""
        return min(options, key=lambda option: _seed(self.seed, *key, option)) if options else ""

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


def steered_profile(profile: ListenerProfile, steering: Steering) -> ListenerProfile:
    """The profile with what the listener asked to leave out (for good, or this time) on its avoid list,
    so every writer's avoid rules keep those artists and genres off the air."""
    leave_out = [*steering.excluded_artists, *steering.asked("avoid_artists"), *steering.asked("avoid_genres")]
    avoid = list(dict.fromkeys([*profile.avoid, *(name for name in leave_out if not profile.avoids(name))]))
    return profile if len(avoid) == len(profile.avoid) else profile.model_copy(update={"avoid": avoid[:50]})


def library_picks(tracks: list[TrackRef], count: int, profile: ListenerProfile, genres: list[str],
                  rng: random.Random, memory: EpisodeMemory | None, steering: Steering | None = None) -> list[Pick]:
    """Picks that play the listener's own tracks: the track's genre tag where it has one, else the
    favourite genre of the same style family."""
    from nightcast.generators.script.track_picks import Taste

    taste = Taste.of(profile, memory, steering)
    picks = []
    for record in choose_tracks(tracks, profile, count, rng, memory, steering):
        # The listener's own word for the style ("modal jazz" for a track tagged "Jazz") reads better.
        style = style_for(record.genre) if record.genre else None
        genre = next((g for g in genres if style_for(g) == style), record.genre) if style else genres[0]
        request, what = taste.request_behind(record)
        picks.append(Pick(artist=record.artist, genre=genre, style=style_for(genre), track=history_item(record, profile),
                          record=record, requested=request, requested_what=what))
    return picks


def starter_picks(starter: list[dict], have: list[Pick], needed: int, profile: ListenerProfile,
                  memory: EpisodeMemory | None, rng: random.Random) -> list[Pick]:
    """Picks from the starter taste for the slots the listener's own artists cannot fill: styles of
    their favourite genres first (what little we know), then the others, the ones not featured lately
    first; one artist per style, so the first feedback tells the show something."""
    taken = {p.artist.casefold() for p in have}
    entries = [e for e in starter if e["artist"].casefold() not in taken and not profile.avoids(e["artist"])
               and not profile.avoids(e["genre"])]
    rng.shuffle(entries)
    theirs = {style_for(g) for g in profile.favourite_genres}
    entries.sort(key=lambda e: style_for(e["genre"]) not in theirs)  # stable: shuffled within each group
    by_name = {e["artist"]: e for e in entries}
    ordered = _freshest_first([e["artist"] for e in entries], memory)
    return [Pick(artist=name, genre=by_name[name]["genre"], style=style_for(by_name[name]["genre"]), track=None,
                 starter=True) for name in ordered[:max(0, needed - len(have))]]


def build_context(profile: ListenerProfile, template: EpisodeTemplate, date: dt.date,
                  memory: EpisodeMemory | None = None, library: list[TrackRef] | None = None,
                  steering: Steering | None = None, starter: list[dict] | None = None) -> ListenerContext:
    """The listener's facts for this date; with a library, the format's pick slots play their own tracks.
    `steering` (their requests and feedback) re-ranks the picks and may set the mood. `starter`: the
    starter taste, which fills the pick and story slots the listener's own artists cannot."""
    steering = steering or Steering()
    seed = _seed(profile.id, template.id, date.isoformat())
    rng = random.Random(seed)
    local_time = profile.listens_at or DEFAULT_LOCAL_TIME["morning" if "morning" in template.id else "night"]
    daypart = daypart_for(local_time)
    # hashed, not drawn: a new list of moods changes the mood, not every draw after it
    mood = min(profile.moods, key=lambda m: _seed(seed, "mood", m)) if profile.moods else \
        ("easy" if daypart in ("night", "evening") else "bright")
    asked_moods = steering.asked("favour_moods")
    mood_requested = None
    if asked_moods:
        mood, mood_requested = asked_moods[0], steering.request_for("favour_moods", asked_moods[0])

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
    asked = {a.casefold(): steering.request_for("favour_artists", a) for a in steering.asked("favour_artists")}
    ordered = _freshest_first(head + tail, memory)
    ordered = [a for a in ordered if a.casefold() in asked] + [a for a in ordered if a.casefold() not in asked]
    picks = []
    for index, artist in enumerate(ordered):
        genre = genres[(index + genre_offset) % len(genres)]
        track = next((h for h in history if h.artist == artist), None)
        request = asked.get(artist.casefold())
        picks.append(Pick(artist=artist, genre=genre, style=style_for(genre), track=track, requested=request,
                          requested_what=artist if request else ""))
    if library:
        slots = sum(1 for slot in template.expanded_slots() if slot.kind == SegmentKind.pick)
        playing = library_picks(library, slots, profile, genres, rng, memory, steering)
        # Pick slots take the tracks in mixing order; stories take the artists not already playing.
        picks = playing + [p for p in picks if p.artist.casefold() not in {q.artist.casefold() for q in playing}]
    featured = sum(1 for slot in template.expanded_slots() if slot.kind in (SegmentKind.pick, SegmentKind.story))
    if len(picks) < max(featured, 1) and starter:
        picks += starter_picks(starter, picks, max(featured, 1), profile, memory, random.Random(_seed(seed, "starter")))
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
        steering=steering,
        mood_requested=mood_requested,
        library_size=len(library or ()),
    )

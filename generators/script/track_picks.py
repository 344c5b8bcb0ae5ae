"""Which of the listener's own tracks an episode plays, and in what order.

Each track is scored for this listener: their most-played songs first, then their favourite
artists, then tracks in their favourite genres; anything they avoid is out, and tracks featured in
recent episodes step back. What the listener asked for (nightcast/steering/) weighs on top: a
requested track or artist outranks the history, an excluded or skipped one is out, a liked artist
ranks up. The chosen tracks are then ordered like a DJ would mix them: each next
track a short step away on the Camelot wheel and close in tempo.
"""

from __future__ import annotations

import itertools
import math
import random
from dataclasses import dataclass

from nightcast.generators.script.memory import EpisodeMemory
from nightcast.keys import key_distance
from nightcast.schema import HistoryItem, ListenerProfile, Steering, StoredRequest, TrackName, TrackRef
from nightcast.styles import style_for

TEMPO_STEP = 0.06  # a 6 % tempo jump costs as much as one step on the Camelot wheel
# What the listener's requests and feedback weigh, against a most-played track's 3 + log(plays):
REQUESTED_TRACK = 12.0  # a requested track or artist outranks anything the history says
REQUESTED_ARTIST = 10.0
REQUESTED_GENRE = 2.5
LIKED_ARTIST = 1.5
LIKED_TRACK = 1.0
SKIPPED_LONG_AGO = -2.0
SKIPPED_ARTIST = -1.5


def _key(track: TrackRef | TrackName) -> tuple[str, str]:
    return track.artist.casefold(), track.title.casefold()


@dataclass(frozen=True)
class Taste:
    """What scoring a track needs from the profile and recent episodes, gathered once per episode
    (a library can hold thousands of tracks)."""

    profile: ListenerProfile
    genre_styles: dict[str, str]  # favourite genre → its style family
    plays: dict[tuple[str, str], int]  # (artist, title), casefolded → plays
    artist_plays: dict[str, int]
    favourites: frozenset[str]
    recent: dict[str, str]  # artist featured in recent episodes → the track cited with them
    steering: Steering = Steering()

    @classmethod
    def of(cls, profile: ListenerProfile, memory: EpisodeMemory | None, steering: Steering | None = None) -> Taste:
        plays = {(h.artist.casefold(), h.title.casefold()): h.plays for h in profile.history}
        artist_plays: dict[str, int] = {}
        for (artist, _), count in plays.items():
            artist_plays[artist] = artist_plays.get(artist, 0) + count
        recent = {} if memory is None else {
            (s.artist or "").casefold(): (s.track or "").casefold() for e in memory.episodes for s in e.segments}
        return cls(profile=profile,
                   genre_styles={g: style_for(g) for g in profile.favourite_genres if not profile.avoids(g)},
                   plays=plays, artist_plays=artist_plays,
                   favourites=frozenset(a.casefold() for a in profile.favourite_artists), recent=recent,
                   steering=steering or Steering())

    def score(self, track: TrackRef) -> float | None:
        """How surely this track belongs in the listener's show; None when they asked to avoid it."""
        if any(self.profile.avoids(text) for text in (track.artist, track.title, track.genre or "")):
            return None
        steer = self.steering
        key = _key(track)
        artist, title = key
        out = {*map(_key, steer.excluded_tracks), *map(_key, steer.resting_tracks), *map(_key, steer.asked("avoid_tracks"))}
        banned = {a.casefold() for a in (*steer.excluded_artists, *steer.asked("avoid_artists"))}
        if key in out or artist in banned or any(_genre_matches(g, track.genre) for g in steer.asked("avoid_genres")):
            return None
        score = self._asked_for(track)
        if (artist, title) in self.plays:
            score += 3 + math.log1p(self.plays[(artist, title)])
        elif self.artist_plays.get(artist):
            score += 2 + math.log1p(self.artist_plays[artist]) / 2
        if artist in self.favourites:
            score += 2
        if track.genre:
            genre = track.genre.casefold()
            if any(g.casefold() in genre or genre in g.casefold() for g in self.genre_styles):
                score += 1.5
            elif style_for(track.genre) in self.genre_styles.values():
                score += 0.75
        if self.recent.get(artist) == title:
            score -= 2.5
        elif artist in self.recent:
            score -= 0.5
        return score

    def _asked_for(self, track: TrackRef) -> float:
        """What the requests and the feedback add to a track's score."""
        steer, key = self.steering, _key(track)
        score = 0.0
        if key in {_key(t) for t in steer.asked("favour_tracks")}:
            score += REQUESTED_TRACK
        if key[0] in {a.casefold() for a in steer.asked("favour_artists")}:
            score += REQUESTED_ARTIST
        if any(_genre_matches(g, track.genre) for g in steer.asked("favour_genres")):
            score += REQUESTED_GENRE
        if key[0] in {a.casefold() for a in steer.liked_artists}:
            score += LIKED_ARTIST
        if key in {_key(t) for t in steer.liked_tracks}:
            score += LIKED_TRACK
        if key in {_key(t) for t in steer.stepped_back_tracks}:
            score += SKIPPED_LONG_AGO
        if key[0] in {a.casefold() for a in steer.skipped_artists}:
            score += SKIPPED_ARTIST
        return score

    def request_behind(self, track: TrackRef) -> tuple[StoredRequest | None, str]:
        """The request that brought this track in, and what it asked for (a pick's note cites it)."""
        steer, key = self.steering, _key(track)
        for attribute, matches, said in (("favour_tracks", lambda t: _key(t) == key, lambda t: f"“{t.title}”"),
                                         ("favour_artists", lambda a: a.casefold() == key[0], lambda a: track.artist),
                                         ("favour_genres", lambda g: _genre_matches(g, track.genre), lambda g: g)):
            for value in steer.asked(attribute):
                if matches(value):
                    return steer.request_for(attribute, value), said(value)
        return None, ""


def _genre_matches(asked: str, genre: str | None) -> bool:
    """A requested genre matches a track's tag by words ("jazz" in "Modal Jazz") or by style family."""
    if not genre:
        return False
    asked_, genre_ = asked.casefold(), genre.casefold()
    return asked_ in genre_ or genre_ in asked_ or style_for(asked) == style_for(genre) != "pop"


def choose_tracks(tracks: list[TrackRef], profile: ListenerProfile, count: int, rng: random.Random,
                  memory: EpisodeMemory | None = None, steering: Steering | None = None) -> list[TrackRef]:
    """Up to `count` tracks, best fit first, one per artist while the library allows, in mixing order."""
    taste = Taste.of(profile, memory, steering)
    scored = []
    for track in tracks:
        score = taste.score(track)
        if score is not None:
            scored.append((score + rng.random() * 0.3, track))  # a little day-to-day variety among equals
    scored.sort(key=lambda pair: -pair[0])
    chosen: list[TrackRef] = []
    artists: set[str] = set()
    for rank in (0, 1):  # first one track per artist, then repeats if the library is small
        for _, track in scored:
            if len(chosen) == count:
                break
            if track not in chosen and (rank or track.artist.casefold() not in artists):
                chosen.append(track)
                artists.add(track.artist.casefold())
    return mixing_order(chosen)


def transition_cost(a: TrackRef, b: TrackRef) -> float:
    """How hard it is to go from a to b: Camelot steps plus tempo jumps, unknowns costing a little."""
    keys = key_distance(a.key, b.key) if a.key and b.key else 1.5
    tempo = abs(math.log(b.bpm / a.bpm)) / TEMPO_STEP if a.bpm and b.bpm else 1.0
    return keys + tempo


def mixing_order(tracks: list[TrackRef]) -> list[TrackRef]:
    """The best-fit track opens; the rest follow in the order with the smallest total transition cost
    (exhaustive up to 7 tracks, nearest-neighbour beyond)."""
    if len(tracks) <= 2:
        return list(tracks)
    first, rest = tracks[0], tracks[1:]
    if len(rest) <= 6:
        best = min(itertools.permutations(rest),
                   key=lambda order: sum(transition_cost(a, b) for a, b in zip((first, *order), order)))
        return [first, *best]
    ordered = [first]
    while rest:
        nearest = min(rest, key=lambda t: transition_cost(ordered[-1], t))
        ordered.append(nearest)
        rest.remove(nearest)
    return ordered


def history_item(track: TrackRef, profile: ListenerProfile) -> HistoryItem | None:
    """The listener's play history entry for this very track, if they have one."""
    return next((h for h in profile.history if h.artist.casefold() == track.artist.casefold()
                 and h.title.casefold() == track.title.casefold()), None)

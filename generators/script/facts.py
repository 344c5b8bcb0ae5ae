"""Every sentence that states a fact about the listener, and the data it rests on: the fact ledger.

A host that says "you put Miles Davis on your favourites" when he is only in their history is
telling the listener something false about themselves. This module finds the sentences that make
such claims (favourites, plays and play counts, most played, last played, mood, interests, requests),
whoever wrote them, and looks each up in the listener's data: the profile, their library, and the
requests this episode answers. A claim it can ground becomes a ledger entry naming the field it
rests on; one it cannot is ungrounded, and the writer may not use that text.

Claims are recognised by the phrasings hosts use for them (the phrase bank's and the usual LLM
ones), and the names in a sentence by matching the listener's own artists, tracks, genres, moods
and interests, so the check needs no model.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from nightcast.schema import FactClaim, ListenerProfile, Script, Steering, TrackRef
from nightcast.text import split_sentences

# What a sentence claims about the listener → the phrasings that make that claim.
CLAIM_PATTERNS: dict[str, re.Pattern] = {
    "favourite": re.compile(r"\bfavou?rites?\b|\bheart of your taste\b|\byour all[- ]time\b", re.I),
    "play_count": re.compile(r"\b(\d[\d,]*)\s+(?:plays?|times|spins|listens)\b", re.I),
    "most_played": re.compile(r"\bmost[- ]played\b|\bkeeps? winning\b|\byou keep coming back to\b|\bheavy rotation\b|"
                              r"\bon repeat\b|\bplaying a lot\b", re.I),
    "played": re.compile(r"\byou(?:'ve| have)? (?:played|had|spun|streamed|listened to)\b|\byour (?:listening )?history\b|"
                         r"\bin your listening\b|\byour rotation\b|\byou listen to a lot of\b|"
                         r"\bthe sound you keep coming home to\b|\byour (?:other )?(?:\w+ )?records\b", re.I),
    "mood": re.compile(r"\byou(?:'re| are) feeling\b|\byou told me you(?:'re| are)\b|\bmood file\b|"
                       r"\bsaw the word \w+ on the file\b|\bbecause that's where you are\b", re.I),
    "interest": re.compile(r"\byou(?:'re| are) into\b|\bon your mind\b|\ba little bird told me\b|\byou love\b", re.I),
    "request": re.compile(r"\byou asked\b|\byour request\b|\bby request\b|\byou wanted\b|\byour note\b", re.I),
}
DATE_WORDS = re.compile(r"\b(earlier today|yesterday|\d+ days ago)\b", re.I)


@dataclass(frozen=True)
class ListenerData:
    """What can ground a claim: the profile, the library, and this episode's requests."""

    profile: ListenerProfile
    library: tuple[TrackRef, ...] = ()
    steering: Steering = Steering()
    today: dt.date | None = None  # the episode's date: "yesterday you had …" is checked against it

    @classmethod
    def of(cls, request) -> ListenerData:
        """What the facts of a ScriptRequest's episode can rest on."""
        return cls(profile=request.profile, library=tuple(request.library or ()), steering=request.steering,
                   today=request.date)

    def artists_in(self, sentence: str) -> list[str]:
        names = {*(h.artist for h in self.profile.history), *self.profile.favourite_artists,
                 *(t.artist for t in self.library)}
        return [n for n in names if _names(n, sentence)]

    def genres_in(self, sentence: str) -> list[str]:
        names = {*self.profile.favourite_genres, *(t.genre for t in self.library if t.genre)}
        return [n for n in names if _names(n, sentence)]

    def titles_in(self, sentence: str) -> list[tuple[str, str]]:
        tracks = {*((h.artist, h.title) for h in self.profile.history), *((t.artist, t.title) for t in self.library)}
        return [t for t in tracks if _names(t[1], sentence)]


def _names(name: str, sentence: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", sentence.casefold()) is not None


def _favourite(sentence: str, data: ListenerData) -> str | None:
    """Every artist the sentence names must be a favourite; with none named, a favourite genre must be."""
    profile = data.profile
    artists = data.artists_in(sentence)
    if artists:
        if all(a in profile.favourite_artists for a in artists):
            return f"favourite_artists: {', '.join(sorted(artists))}"
        return None
    genres = [g for g in data.genres_in(sentence) if g in profile.favourite_genres]
    return f"favourite_genres: {', '.join(sorted(genres))}" if genres else None


def _play_count(sentence: str, data: ListenerData) -> str | None:
    history = data.profile.history
    for match in CLAIM_PATTERNS["play_count"].finditer(sentence):
        count = int(match.group(1).replace(",", ""))
        titles = data.titles_in(sentence)
        items = [h for h in history if (h.artist, h.title) in titles or h.artist in data.artists_in(sentence)]
        if any(h.plays == count for h in items):
            item = next(h for h in items if h.plays == count)
            return f"history: {item.artist} – {item.title}, plays {count}"
        if count == sum(h.plays for h in history if not data.profile.avoids(h.artist) and not data.profile.avoids(h.title)):
            return f"history: {count} plays in all"
        return None
    return None


def _most_played(sentence: str, data: ListenerData) -> str | None:
    history = sorted((h for h in data.profile.history if not data.profile.avoids(h.artist)), key=lambda h: -h.plays)
    if not history:
        return None
    top = history[0]
    titles = data.titles_in(sentence)
    if titles:
        return f"history: {top.artist} – {top.title} is the most played" if (top.artist, top.title) in titles else None
    artists = data.artists_in(sentence)
    frequent = {h.artist for h in history if h.plays >= top.plays / 2}
    if artists and all(a in frequent for a in artists):
        return f"history: {', '.join(sorted(artists))} among the most played"
    return None


def _played(sentence: str, data: ListenerData) -> str | None:
    """What they played: a named track must be theirs (history or library), a "yesterday" must be its
    last_played, a named artist must be in their history, library or favourites."""
    from nightcast.generators.script.template_writer import days_ago

    profile = data.profile
    played_artists = {h.artist for h in profile.history} | {t.artist for t in data.library} | set(profile.favourite_artists)
    titles = data.titles_in(sentence)
    artists = data.artists_in(sentence)
    genres = data.genres_in(sentence)
    if titles:
        when = DATE_WORDS.search(sentence)
        if when:
            said = when.group(1).lower()
            match = [h for h in profile.history if (h.artist, h.title) in titles and data.today
                     and days_ago(h.last_played, data.today) == said]
            return f"history: {match[0].title}, last played {match[0].last_played}" if match else None
        return f"history: {titles[0][0]} – {titles[0][1]}"
    if artists:
        return f"history: {', '.join(sorted(artists))}" if all(a in played_artists for a in artists) else None
    if genres:
        return f"favourite_genres: {', '.join(sorted(genres))}"
    return "history" if profile.history or data.library else None


def _mood(sentence: str, data: ListenerData) -> str | None:
    moods = [m for m in data.profile.moods if _names(m, sentence)]
    if moods:
        return f"moods: {moods[0]}"
    asked = [m for m in data.steering.asked("favour_moods") if _names(m, sentence)]
    return f"request {data.steering.request_for('favour_moods', asked[0]).id}: a {asked[0]} mood" if asked else None


def _interest(sentence: str, data: ListenerData) -> str | None:
    interests = [i for i in data.profile.interests if _names(i, sentence)]
    if interests:
        return f"interests: {interests[0]}"
    if "you love" in sentence.lower():  # "you love" about music they play is a favourite / history claim
        return _favourite(sentence, data) or _played(sentence, data)
    return None


def _request(sentence: str, data: ListenerData) -> str | None:
    answered = [r for r in data.steering.requests if r.interpretation and r.interpretation.asks_anything]
    return f"request {answered[0].id}" if answered else None


GROUNDS = {"favourite": _favourite, "play_count": _play_count, "most_played": _most_played, "played": _played,
           "mood": _mood, "interest": _interest, "request": _request}


def claims_in(segment_id: str, text: str, data: ListenerData) -> list[FactClaim]:
    """One entry per listener fact each sentence states: what it claims and the field it rests on
    (`rests_on` None: the data does not support it)."""
    ledger = []
    previous = ""
    for sentence in split_sentences(text):
        for kind, pattern in CLAIM_PATTERNS.items():
            if pattern.search(sentence):
                # A claim may name its subject in the sentence before ("Mr. Blue Sky … 31 times").
                rests_on = GROUNDS[kind](sentence, data) or (GROUNDS[kind](f"{previous} {sentence}", data)
                                                             if previous else None)
                ledger.append(FactClaim(segment_id=segment_id, sentence=sentence, claim=kind, rests_on=rests_on))
        previous = sentence
    return ledger


def fact_ledger(script: Script, data: ListenerData) -> list[FactClaim]:
    return [claim for segment in script.segments for claim in claims_in(segment.id, segment.text, data)]


def ungrounded(claims: list[FactClaim]) -> list[FactClaim]:
    return [c for c in claims if c.rests_on is None]

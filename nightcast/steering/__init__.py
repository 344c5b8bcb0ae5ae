"""The listener's voice: requests and feedback in, one episode's Steering out.

Intake (`take_request`, `take_feedback`) cleans and bounds the listener's text, reads a request
against their own data and stores both in the profile store. A render gathers what applies to its
episode (`steering_for`) and, once the episode is published, marks the requests it answered
(`mark_used`). Effects are applied by the stages that own them: track scoring and the writers read
the Steering; the render job scales the talk and the length.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from pathlib import Path

from nightcast.errors import InputError, TooManyMessages
from nightcast.profile_store import ProfileStore
from nightcast.schema import (
    Feedback,
    FeedbackVerdict,
    ListenerProfile,
    ListenerRequest,
    RequestSource,
    Steering,
    StoredRequest,
    TrackName,
    TrackRef,
)
from nightcast.steering.interpret import interpret
from nightcast.untrusted import NOTE_MAX_CHARS, REQUEST_MAX_CHARS, clean

SKIP_REST_DAYS = 14  # a skipped track sits out the episodes of the next two weeks, then ranks lower
NOT_UNDERSTOOD = ("nothing in it matched an artist, track or genre in your library or profile, a mood, "
                  "the amount of talk, or a length")

__all__ = ["SKIP_REST_DAYS", "mark_used", "steering_for", "take_feedback", "take_request"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def check_rate(store: ProfileStore, listener_id: str, per_hour: int) -> None:
    """At most per_hour requests and feedback together in the last hour, counted from the store (so
    every API process and the CLI share the count)."""
    hour_ago = _now() - dt.timedelta(hours=1)
    sent = sorted(r.received_at for r in [*store.requests(listener_id), *store.feedback(listener_id)]
                  if r.received_at > hour_ago)
    if len(sent) >= per_hour:
        retry = int((sent[-per_hour] - hour_ago).total_seconds()) + 1
        raise TooManyMessages(f"listener '{listener_id}' sent {len(sent)} requests and feedback in the last hour; "
                              f"the limit is {per_hour} (listener_messages_per_hour)", retry_after_s=retry,
                              field="listener")


def take_request(store: ProfileStore, profile: ListenerProfile, text: str, source: RequestSource,
                 library: list[TrackRef] | None = None, per_hour: int | None = None,
                 reader: Callable[[str, ListenerProfile, list[TrackRef] | None], ListenerRequest] = interpret,
                 ) -> StoredRequest:
    """Clean, read and store one request. Stored either way: pending, or rejected with why.
    `reader`: what reads it (the offline reader, or an LLM writer's `read_request`)."""
    cleaned = clean(text, max_chars=REQUEST_MAX_CHARS, field="request")
    if per_hour is not None:
        check_rate(store, profile.id, per_hour)
    understood = reader(cleaned, profile, library)
    request = StoredRequest(id=f"r-{secrets.token_hex(6)}", listener_id=profile.id, text=cleaned, source=source,
                            received_at=_now(), interpretation=understood,
                            status="pending" if understood.asks_anything else "rejected",
                            reason=None if understood.asks_anything else NOT_UNDERSTOOD)
    store.add_request(request)
    return request


def take_feedback(store: ProfileStore, listener_id: str, episode_dir: Path, episode_id: str, segment_id: str,
                  verdict: FeedbackVerdict, source: RequestSource, target: str = "track",
                  note: str | None = None, per_hour: int | None = None) -> Feedback:
    """Store a verdict on one segment of a published episode; the segment must exist in its script."""
    from nightcast.schema import Script

    if per_hour is not None:
        check_rate(store, listener_id, per_hour)
    script_path = episode_dir / "script.json"
    if not script_path.is_file():
        raise InputError(f"no published episode '{episode_id}' for listener '{listener_id}'", field="episode")
    script = Script.model_validate_json(script_path.read_text(encoding="utf-8"))
    segment = next((s for s in script.segments if s.id == segment_id), None)
    if segment is None:
        valid = ", ".join(s.id for s in script.segments)
        raise InputError(f"episode '{episode_id}' has no segment '{segment_id}'; its segments: {valid}", field="segment")
    if segment.artist is None and verdict != "like":
        raise InputError(f"segment '{segment_id}' plays no artist to skip or ban; give feedback on a pick", field="segment")
    feedback = Feedback(id=f"f-{secrets.token_hex(6)}", listener_id=listener_id, episode_id=episode_id,
                        segment_id=segment_id, verdict=verdict, target=target, artist=segment.artist,
                        title=segment.track, source=source, received_at=_now(),
                        note=clean(note, max_chars=NOTE_MAX_CHARS, field="note") if note else None)
    store.add_feedback(feedback)
    return feedback


def _episode_date(episode_id: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(episode_id[:10])
    except ValueError:
        return None


def steering_for(store: ProfileStore, listener_id: str, episode_id: str, date: dt.date) -> Steering:
    """What this episode answers: the pending requests (and those it already answered, so a re-render
    makes the same episode), every exclusion asked for so far, and the feedback on earlier episodes."""
    requests = store.requests(listener_id)
    answering = [r for r in requests if r.status == "pending" or (r.status == "used" and r.episode_id == episode_id)]
    excluded_artists: list[str] = []
    excluded_tracks: list[TrackName] = []
    for request in requests:
        if request.status == "rejected" or request.interpretation is None:
            continue
        excluded_artists += request.interpretation.exclude_artists
        excluded_tracks += request.interpretation.exclude_tracks
    resting, stepped_back, skipped_artists, liked_artists, liked_tracks = [], [], [], [], []
    for verdict in store.feedback(listener_id):
        given_on = _episode_date(verdict.episode_id)
        if given_on is None or given_on >= date or verdict.artist is None:
            continue  # only episodes after the one it was given on
        track = TrackName(artist=verdict.artist, title=verdict.title) if verdict.title else None
        if verdict.verdict == "never":
            if verdict.target == "artist" or track is None:
                excluded_artists.append(verdict.artist)
            else:
                excluded_tracks.append(track)
        elif verdict.verdict == "skip":
            if verdict.target == "artist" or track is None:
                skipped_artists.append(verdict.artist)
            else:
                (resting if (date - given_on).days <= SKIP_REST_DAYS else stepped_back).append(track)
        else:
            liked_artists.append(verdict.artist)
            if track:
                liked_tracks.append(track)
    unique = lambda items: list(dict.fromkeys(items))  # noqa: E731 - order kept, each once
    return Steering(requests=answering, excluded_artists=unique(excluded_artists),
                    excluded_tracks=unique(excluded_tracks), resting_tracks=unique(resting),
                    stepped_back_tracks=unique(stepped_back), skipped_artists=unique(skipped_artists),
                    liked_artists=unique(liked_artists), liked_tracks=unique(liked_tracks))


def mark_used(store: ProfileStore, steering: Steering, episode_id: str) -> list[StoredRequest]:
    """After publication: each pending request this episode answered now says so."""
    used = [r.model_copy(update={"status": "used", "episode_id": episode_id})
            for r in steering.requests if r.status == "pending"]
    if used:
        store.update_requests(used)
    return used

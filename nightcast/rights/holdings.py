"""Every place nightcast keeps something about a listener, as a machine-readable list: what an
export's manifest says and what an erasure goes through."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from nightcast import __version__
from nightcast.errors import InputError
from nightcast.profile_store import check_listener_id
from nightcast.rights.cache_entries import cache_entries
from nightcast.settings import Settings

# What nightcast does not keep per listener, said so an auditor need not guess.
NOT_HELD = [
    "predicted-MOS scores: remembered in the rendering process's memory only, by the clip's bytes",
    "music-library analysis: of the operator's library (music_library), the same for every listener",
    "Prefect's event log: nightcast's run names there carry no listener id (renders are named by place)",
]


class Place(BaseModel):
    what: str = Field(description="profile, requests, feedback, episodes, feed, failed QA reports, stage cache, "
                                  "shared stage cache, sentence cache, cache ledger, Prefect server")
    location: str = Field(description="Which store: the profile store, the outputs folder, the cache, the Prefect "
                                      "server (by kind, never a path on the server).")
    items: int
    detail: list[str] = Field(default_factory=list, description="File names, cache keys or record ids.")
    erasure: Literal["removed", "redacted", "kept"] = Field(
        description="What `nightcast listeners forget` does to it: kept only for entries other listeners share.")


class Holdings(BaseModel):
    listener_id: str
    made_at: dt.datetime
    nightcast_version: str = __version__
    places: list[Place]
    not_held: list[str] = NOT_HELD


def holdings(settings: Settings, listener_id: str, server: bool = True) -> Holdings:
    """`server`: also ask the Prefect server (PREFECT_API_URL) for the records that name them."""
    check_listener_id(listener_id)
    store, episodes = settings.profile_store(), settings.episode_store()
    places = []
    where = "profile store (database)" if settings.profile_db else "profile store (folder)"
    try:
        store.load(listener_id)
        places.append(Place(what="profile", location=where, items=1, erasure="removed"))
    except InputError as exc:
        if exc.field != "listener":
            raise
    for what, records in (("requests", store.requests(listener_id)), ("feedback", store.feedback(listener_id))):
        if records:
            places.append(Place(what=what, location=where, items=len(records),
                                detail=[r.id for r in records], erasure="removed"))
    folder = episodes.listener_dir(listener_id)
    if folder.is_dir():
        finished = [e.name for e in sorted(folder.iterdir()) if e.is_dir() and not e.name.startswith(".")]
        reports = [e.name for e in sorted(folder.glob(".*.qa-failed.json"))]
        if finished:
            places.append(Place(what="episodes", location=f"outputs: {listener_id}/", items=len(finished), detail=finished,
                                erasure="removed"))
        if episodes.feed_path(listener_id).is_file():
            places.append(Place(what="feed", location=f"outputs: {listener_id}/feed.xml", items=1, erasure="removed"))
        if reports:
            places.append(Place(what="failed QA reports", location=f"outputs: {listener_id}/", items=len(reports), detail=reports,
                                erasure="removed"))
    cache = cache_entries(settings, listener_id)
    if cache.stage_keys:
        places.append(Place(what="stage cache", location="cache: results/ and stages/", items=len(cache.stage_keys),
                            detail=cache.stage_keys, erasure="removed"))
    if cache.shared_keys:
        places.append(Place(what="shared stage cache", location="cache: results/ and stages/", items=len(cache.shared_keys),
                            detail=cache.shared_keys, erasure="kept"))
    if cache.sentences:
        places.append(Place(what="sentence cache", location="cache: speech/",
                            items=len(cache.sentences), detail=[p.name for p in cache.sentences], erasure="removed"))
    if cache.ledger is not None:
        places.append(Place(what="cache ledger", location=f"cache: owners/{listener_id}.keys", items=1,
                            erasure="removed"))
    if server:
        from nightcast.flows.records import find_records

        records = find_records(listener_id)
        if records:
            places.append(Place(what="Prefect server", location="Prefect server", items=len(records),
                                detail=[f"{r.kind} {r.id} ({r.name}): {r.why}" for r in records],
                                erasure="removed" if all(r.action == "delete" for r in records) else "redacted"))
    return Holdings(listener_id=listener_id, made_at=dt.datetime.now(dt.timezone.utc), places=places)

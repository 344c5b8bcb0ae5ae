"""Erasing a listener (`nightcast listeners forget`, `DELETE /v1/listeners/{id}`).

In this order, so nothing new appears behind the erasure: the profile leaves the store (no render
can start for them), the Prefect server's records go (a render still running is cancelled), then
their episodes, feed and reports, then their cache entries. A render that was already past the
store check publishes nothing: it sees the erasure mark before it publishes (EpisodeStore.erased_since).
Running it again finds nothing more to remove and says so.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from nightcast.profile_store import check_listener_id
from nightcast.rights.cache_entries import cache_entries, remove_cache_entries
from nightcast.settings import Settings


class ErasureReceipt(BaseModel):
    listener_id: str
    erased_at: dt.datetime
    removed: list[str] = Field(description="What went, one line per place.")
    redacted: list[str] = Field(default_factory=list, description="Records shared with other listeners, "
                                                                     "kept with this listener taken out.")
    kept: list[str] = Field(default_factory=list, description="What stays, and why.")
    failed: list[str] = Field(default_factory=list, description="What could not be erased this time (run it again).")

    @property
    def nothing_found(self) -> bool:
        return not (self.removed or self.redacted or self.failed)


def forget_listener(settings: Settings, listener_id: str, server: bool = True) -> ErasureReceipt:
    """`server`: also the Prefect server's records (PREFECT_API_URL, or the API prefect_api() gives)."""
    check_listener_id(listener_id)
    removed = settings.profile_store().forget(listener_id)
    redacted: list[str] = []
    failed: list[str] = []
    if server:
        from nightcast.flows.records import erase_records

        try:
            for record in erase_records(listener_id):
                line = f"Prefect {record.kind} {record.name}: {record.why}"
                (removed if record.action == "delete" else redacted).append(line)
        except Exception as exc:  # noqa: BLE001 - the server down must not stop the local erasure
            failed.append(f"the Prefect server's records ({type(exc).__name__}: {str(exc)[:200]}): "
                          "run forget again when it is up")
        else:
            from nightcast.flows.records import compact_database

            compacted = compact_database() if removed or redacted else None
            if compacted and compacted.startswith("not"):
                failed.append(f"the Prefect database file: {compacted}")
            elif compacted:
                removed.append(f"the Prefect database file {compacted}")
    removed += settings.episode_store().forget(listener_id)
    entries = cache_entries(settings, listener_id)
    count = remove_cache_entries(settings, entries)
    if count:
        removed.append(f"{len(entries.stage_keys)} stage cache entries and {len(entries.sentences)} synthesised "
                       "sentences")
    kept = [f"{len(entries.shared_keys)} stage cache entries other listeners' renders also used (a bed made from "
            "the same cue, length and seed): kept for them, no longer noted as this listener's"] if entries.shared_keys else []
    return ErasureReceipt(listener_id=listener_id, erased_at=dt.datetime.now(dt.timezone.utc), removed=removed,
                          redacted=redacted, kept=kept, failed=failed)

"""Prefect global concurrency limits: server-side slots that hold across workers and processes."""

from __future__ import annotations

from prefect import get_client
from prefect.exceptions import ObjectAlreadyExists, PrefectHTTPStatusError


def ensure_global_limit(name: str, slots: int) -> None:
    """Create the limit or set its slots. Two renders starting together may both find it missing;
    the loser of that race updates the one the winner made."""
    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(name, slots)
        except (ObjectAlreadyExists, PrefectHTTPStatusError):  # SQLite servers answer the race with a 500
            client.upsert_global_concurrency_limit_by_name(name, slots)

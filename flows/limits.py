"""Prefect global concurrency limits: server-side slots that hold across workers and processes.

A slot is held through a lease the holder renews. Two ways a slot outlives its holder:
- the holder is killed: its lease expires, and a Prefect server's `repossessor` service frees the
  slot, but the temporary server a CLI render starts does not run that service;
- the server restarts: Prefect keeps leases in the server's memory by default, so they vanish while
  the count of held slots stays in the database, and every later render waits for it forever.
So nightcast keeps leases in files under PREFECT_HOME (`flows/__init__.py` sets the storage), which
survive a restart, and when it uses the temporary server it does the repossessor's work itself:
before it waits, and again every `RECHECK_S` while it waits.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import get_current_settings
from prefect.utilities.asyncutils import run_coro_as_sync

RECHECK_S = 15.0
LEASE_S = 60.0  # how long a dead holder keeps its slot; the live holder renews well inside it
# A count that no lease explains is only a leak once it has stood still this long: a holder's
# increment and its lease file are two writes, and another process may look in between.
SETTLE_S = 30.0

log = logging.getLogger(__name__)


class _ExpectedWaitTimeout(logging.Filter):
    """Prefect logs an ERROR each time a slot wait times out; `held_slot` times out on purpose, to look
    for dead holders, and waits again."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("ConcurrencySlotAcquisitionWithLeaseService" in message and "TimeoutError" in message)


logging.getLogger("prefect._internal.concurrency").addFilter(_ExpectedWaitTimeout())


def ensure_global_limit(name: str, slots: int) -> None:
    """Create the limit or set its slots. Two renders starting together may both find it missing;
    the loser of that race updates the one the winner made."""
    with get_client(sync_client=True) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(name, slots)
        except (ObjectAlreadyExists, PrefectHTTPStatusError):  # SQLite servers answer the race with a 500
            client.upsert_global_concurrency_limit_by_name(name, slots)


def on_temporary_server() -> bool:
    """A temporary server on PREFECT_HOME's database (Prefect's, when no PREFECT_API_URL is set, or
    nightcast's own): no server service looks after leases."""
    from nightcast.flows.prefect_server import TEMPORARY_URL_ENV

    url = get_current_settings().api.url
    return not url or url == os.environ.get(TEMPORARY_URL_ENV)


def _lease_storage():
    """The lease files the temporary server writes: it shares this process's PREFECT_HOME."""
    from prefect.server.concurrency.lease_storage.filesystem import ConcurrencyLeaseStorage

    return ConcurrencyLeaseStorage()


def _leases(storage, expired: bool) -> list:
    async def read() -> list:
        ids = await (storage.read_expired_lease_ids(limit=10_000) if expired
                     else storage.read_active_lease_ids(limit=10_000))
        return [lease for lease in [await storage.read_lease(i) for i in ids] if lease is not None]

    return run_coro_as_sync(read())


def reclaim_leaked_slots(name: str, settle_s: float = SETTLE_S) -> int:
    """Free the slots of `name` whose holders are gone; returns how many. On a long-running server
    its repossessor does this, so only the temporary server's slots are reclaimed here."""
    if not on_temporary_server():
        return 0
    storage = _lease_storage()
    with get_client(sync_client=True) as client:
        try:
            limit = client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return 0
        freed = 0
        for lease in _leases(storage, expired=True):
            if limit.id in lease.resource_ids:
                client.release_concurrency_slots_with_lease(lease.id)  # the server decrements and revokes it
                freed += lease.metadata.slots if lease.metadata else 0
        limit = client.read_global_concurrency_limit_by_name(name)
        leased = sum(lease.metadata.slots for lease in _leases(storage, expired=False)
                     if limit.id in lease.resource_ids and lease.metadata)
        unexplained = limit.active_slots - leased
        if unexplained > 0 and time.time() - limit.updated.timestamp() >= settle_s:
            client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=leased))
            freed += unexplained
    if freed:
        log.warning("freed %d slot(s) of the %s limit whose holders had died", freed, name)
    return freed


@contextmanager
def held_slot(name: str, slots: int | None = None, recheck_s: float = RECHECK_S,
              lease_s: float = LEASE_S) -> Iterator[None]:
    """Hold one slot of `name` (made a limit of `slots` first, if given), waiting as long as others
    hold them all, but not for a holder that died."""
    if slots is not None:
        ensure_global_limit(name, slots)
    reclaim_leaked_slots(name)
    with ExitStack() as stack:
        while True:
            try:
                stack.enter_context(concurrency(name, occupy=1, timeout_seconds=recheck_s, lease_duration=lease_s))
                break
            except TimeoutError:
                reclaim_leaked_slots(name)
        yield

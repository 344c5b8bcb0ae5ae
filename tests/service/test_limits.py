"""Slots of nightcast's concurrency limits are never held by a holder that is gone: a render killed
while it held the GPU slot, or a count left behind when Prefect forgot its leases, must not make
every later render wait forever. Each process here uses Prefect's temporary server, as the CLI does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import json
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

HOLD_AND_HANG = """
import time
import nightcast.flows
from nightcast.flows.limits import held_slot
with held_slot("test-gpu", 1):
    print("held", flush=True)
    time.sleep(600)
"""

TAKE = """
import time
import nightcast.flows
from nightcast.flows.limits import held_slot
start = time.monotonic()
with held_slot("test-gpu", 1, recheck_s=3):
    print(f"acquired after {time.monotonic() - start:.1f} s", flush=True)
"""

LEAK_WITHOUT_LEASE = """
import nightcast.flows
from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate
from nightcast.flows.limits import ensure_global_limit, reclaim_leaked_slots
ensure_global_limit("test-gpu", 1)
with get_client(sync_client=True) as client:  # what a server restart left with leases in memory
    client.update_global_concurrency_limit("test-gpu", GlobalConcurrencyLimitUpdate(active_slots=1))
assert reclaim_leaked_slots("test-gpu", settle_s=60) == 0, "a count that just moved is not a leak yet"
print("freed", reclaim_leaked_slots("test-gpu", settle_s=0), flush=True)
"""


def _env(home) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    # Prefect's ephemeral server gets 20 s to start by default: on two busy cores that is a flake
    return {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING", "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120"}


def _python(code: str, home, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=_env(home), capture_output=True,
                          text=True, timeout=timeout)


def _age_leases(home: Path, seconds: float) -> None:
    """Move every lease's expiry `seconds` back: the minute a killed holder's lease takes to run out
    (Prefect's shortest lease), without waiting for it."""
    for path in (home / "concurrency_leases").glob("*.json"):
        data = json.loads(path.read_text())
        if path.name == "expirations.json":
            data = {key: _earlier(value, seconds) for key, value in data.items()}
        else:
            data["expiration"] = _earlier(data["expiration"], seconds)
        path.write_text(json.dumps(data))


def _earlier(stamp: str, seconds: float) -> str:
    from datetime import datetime, timedelta

    return (datetime.fromisoformat(stamp) - timedelta(seconds=seconds)).isoformat()


def test_a_killed_holders_slot_is_taken_over_once_its_lease_expires(tmp_path, prefect_home):
    prefect_home(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_AND_HANG], env=_env(tmp_path), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert holder.stdout.readline().strip() == "held", holder.stderr.read()
    finally:
        os.killpg(holder.pid, signal.SIGKILL)  # the render and its temporary server, as `kill -9` on a group
        holder.wait()
    _age_leases(tmp_path, 61)
    started = time.monotonic()
    taker = _python(TAKE, tmp_path, timeout=120)
    assert taker.returncode == 0, taker.stderr[-3000:]
    assert "acquired" in taker.stdout
    assert time.monotonic() - started < 60
    assert "whose holders had died" in taker.stderr


def test_a_count_no_lease_explains_is_freed_once_it_has_stood_still(tmp_path, prefect_home):
    prefect_home(tmp_path)
    fixer = _python(LEAK_WITHOUT_LEASE, tmp_path, timeout=120)
    assert fixer.returncode == 0, fixer.stderr[-3000:]
    assert "freed 1" in fixer.stdout
    taker = _python(TAKE, tmp_path, timeout=120)
    assert taker.returncode == 0, taker.stderr[-3000:]

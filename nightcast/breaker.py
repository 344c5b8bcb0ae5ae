"""Circuit breakers for remote and heavy backends, shared by every render that uses the same cache
folder (a nightly's workers, the API's renders, CLI runs).

After `failures` calls in a row that got no answer (timeouts, refused connections, 5xx after the
client's own retries) the breaker opens: callers fall back at once for `cooloff_s`. Then one caller
is let through as the probe; its answer closes the breaker, its failure opens it again. A probe that
never reports (its process died) is replaced after `cooloff_s`.

State lives in one JSON file per backend under `<cache>/breakers/`, read and written under a file
lock, with the history of openings kept for the manifest and the nightly summary.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

from nightcast.file_lock import file_lock

if TYPE_CHECKING:
    from nightcast.settings import Settings

LOCK_WAIT_S = 10.0
HISTORY_KEPT = 200

Verdict = Literal["closed", "probe", "open"]


class Opening(BaseModel):
    opened_at: float
    closed_at: float | None = None
    failures: int = Field(description="Calls in a row that failed when it opened.")
    reason: str = ""


class BreakerState(BaseModel):
    backend: str
    state: Literal["closed", "open", "half_open"] = "closed"
    consecutive_failures: int = 0
    open_until: float = 0.0
    probe_since: float | None = None
    last_error: str = ""
    history: list[Opening] = Field(default_factory=list)


def clock(t: float) -> str:
    return time.strftime("%H:%M", time.localtime(t))


@dataclass(frozen=True)
class CircuitBreaker:
    """One backend's breaker, e.g. `CircuitBreaker.for_backend(folder, "writer openai", url)`."""

    backend: str
    path: Path
    failures: int = 3
    cooloff_s: float = 300.0

    @classmethod
    def for_backend(cls, folder: Path, kind: str, address: str, *, failures: int = 3,
                    cooloff_s: float = 300.0) -> CircuitBreaker:
        key = hashlib.sha256(f"{kind}\n{address}".encode()).hexdigest()[:16]
        return cls(backend=f"{kind} {address}", path=Path(folder) / f"{key}.json", failures=failures,
                   cooloff_s=cooloff_s)

    # ------------------------------------------------------------------ state on disk

    def read(self) -> BreakerState:
        try:
            return BreakerState.model_validate_json(self.path.read_bytes())
        except (OSError, ValueError):
            return BreakerState(backend=self.backend)

    def _write(self, state: BreakerState) -> None:
        state.history = state.history[-HISTORY_KEPT:]
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(state.model_dump_json(), encoding="utf-8")
        os.replace(tmp, self.path)

    def _locked(self):
        return file_lock(self.path.with_suffix(".lock"), LOCK_WAIT_S)

    # ------------------------------------------------------------------ the protocol

    def is_open(self, now: float | None = None) -> bool:
        """Would a call now be refused? (No probe is taken: `allow` does that.)"""
        now = time.time() if now is None else now
        state = self.read()
        if state.state == "closed":
            return False
        if now < state.open_until:
            return True
        return state.state == "half_open" and state.probe_since is not None and now - state.probe_since < self.cooloff_s

    def allow(self, now: float | None = None) -> Verdict:
        """"closed": call as usual; "probe": call once and report; "open": fall back without calling."""
        now = time.time() if now is None else now
        with self._locked():
            state = self.read()
            if state.state == "closed":
                return "closed"
            if now < state.open_until:
                return "open"
            if state.state == "half_open" and state.probe_since is not None and now - state.probe_since < self.cooloff_s:
                return "open"  # someone else's probe is out
            state.state, state.probe_since = "half_open", now
            self._write(state)
            return "probe"

    def record(self, ok: bool, error: str = "", now: float | None = None) -> None:
        """Report one call's outcome."""
        now = time.time() if now is None else now
        with self._locked():
            state = self.read()
            if ok:
                if state.state != "closed" and state.history and state.history[-1].closed_at is None:
                    state.history[-1].closed_at = now
                state.state, state.consecutive_failures, state.probe_since = "closed", 0, None
            else:
                state.consecutive_failures += 1
                state.last_error = error[:300]
                if state.state == "half_open" or (state.state == "closed"
                                                   and state.consecutive_failures >= self.failures):
                    if state.state == "closed":
                        state.history.append(Opening(opened_at=now, failures=state.consecutive_failures,
                                                     reason=state.last_error))
                    state.state, state.open_until, state.probe_since = "open", now + self.cooloff_s, None
            self._write(state)

    def why_open(self) -> str:
        state = self.read()
        since = state.history[-1].opened_at if state.history else state.open_until - self.cooloff_s
        return (f"{self.backend}: circuit open since {clock(since)} after {state.consecutive_failures} failed calls "
                f"in a row (last: {state.last_error or 'no answer'}); next probe after {clock(state.open_until)}")


def breaker_for(settings: Settings, kind: str, address: str) -> CircuitBreaker:
    """`kind` at `address`'s breaker, with the `breaker` settings, in the settings' cache folder."""
    return CircuitBreaker.for_backend(settings.breakers_dir(), kind, address, failures=settings.breaker.failures,
                                      cooloff_s=settings.breaker.cooloff_s)


def openings_between(folder: Path, start: float, end: float) -> list[tuple[str, Opening]]:
    """Every breaker opening in [start, end] under `folder`, as (backend, opening), oldest first."""
    found = []
    for path in Path(folder).glob("*.json"):
        try:
            state = BreakerState.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            continue
        found += [(state.backend, o) for o in state.history
                  if o.opened_at <= end and (o.closed_at is None or o.closed_at >= start)]
    return sorted(found, key=lambda item: item[1].opened_at)

"""Who may call the render API, for which listeners, and how often.

Tokens come from the `api_tokens` setting or `NIGHTCAST_API_TOKENS` (comma-separated). A bare token
may act for every listener; `token:maya|hiro` only for those. Tokens are compared in constant time
(hmac.compare_digest against every configured token, no early exit). Another listener's data
answers 404, as if it did not exist, so ids cannot be probed.
"""

from __future__ import annotations

import hmac
import threading
import time
from dataclasses import dataclass, field

from fastapi import HTTPException, Request


@dataclass(frozen=True)
class Grant:
    token: str
    listeners: frozenset[str] | None  # None: every listener

    def may_see(self, listener_id: str) -> bool:
        return self.listeners is None or listener_id in self.listeners


def parse_tokens(spec: str) -> list[Grant]:
    grants = []
    for item in filter(None, (part.strip() for part in spec.split(","))):
        token, _, listeners = item.partition(":")
        if len(token) < 16:
            raise ValueError("API tokens must be at least 16 characters")
        grants.append(Grant(token, frozenset(filter(None, listeners.split("|"))) if listeners else None))
    return grants


def authenticate(grants: list[Grant], header: str | None) -> Grant:
    scheme, _, presented = (header or "").partition(" ")
    found = None
    if scheme.lower() == "bearer" and presented:
        for grant in grants:  # every comparison runs: the time does not say which token was close
            if hmac.compare_digest(grant.token.encode(), presented.strip().encode()):
                found = grant
    if found is None:
        raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})
    return found


@dataclass
class RateLimiter:
    """A token bucket per API token: `per_minute` requests, refilled continuously."""

    per_minute: int
    buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, key: str) -> None:
        now = time.monotonic()
        with self.lock:
            tokens, last = self.buckets.get(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * self.per_minute / 60)
            if tokens < 1:
                retry = max(1, round((1 - tokens) * 60 / self.per_minute))
                raise HTTPException(429, "rate limit exceeded", headers={"Retry-After": str(retry)})
            self.buckets[key] = (tokens - 1, now)


def client_grant(request: Request) -> Grant:
    state = request.app.state
    grant = authenticate(state.grants, request.headers.get("authorization"))
    state.limiter.check(grant.token)
    return grant

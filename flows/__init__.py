"""Prefect flows: the only package that imports prefect. Flows are thin; tasks call library functions."""

import os

# The ephemeral server's telemetry heartbeat races our flow for its SQLite file and logs tracebacks at exit.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Leases on concurrency slots in files under PREFECT_HOME, not in a server's memory: they outlive a
# restart, so a slot held when the server stopped is freed when its lease expires (flows/limits.py).
os.environ.setdefault("PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE",
                      "prefect.server.concurrency.lease_storage.filesystem")

"""Prefect flows: the only package that imports prefect. Flows are thin; tasks call library functions."""

import os

# The ephemeral server's telemetry heartbeat races our flow for its SQLite file and logs tracebacks at exit.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

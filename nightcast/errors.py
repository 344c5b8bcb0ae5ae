"""Every error a user can cause, in one place.

Messages say what was wrong and what is allowed; the CLI prints them on one line and exits 2.
"""

from __future__ import annotations

from pathlib import Path


class NightcastError(Exception):
    """Base class for errors nightcast raises on purpose."""


class InputError(NightcastError):
    """Bad user input: a profile, a template, a name, a date. Exit code 2 at the CLI."""

    def __init__(self, message: str, *, source: str | Path | None = None, field: str | None = None):
        self.source = str(source) if source is not None else None
        self.field = field
        self.reason = message
        where = self.source or ""
        if field:
            where = f"{where}: field '{field}'" if where else f"field '{field}'"
        super().__init__(f"{where}: {message}" if where else message)


class UnknownNameError(InputError):
    """A backend, template or preset name that is not registered."""

    def __init__(self, kind: str, name: str, valid: list[str], **kwargs):
        choices = ", ".join(sorted(valid)) or "(none)"
        super().__init__(f"unknown {kind} '{name}'; valid: {choices}", **kwargs)


class BackendUnavailableError(NightcastError):
    """A backend was chosen but its libraries, model files or binaries are missing here."""


class StageError(NightcastError):
    """A pipeline stage produced something unusable (silence, wrong length, failed encode)."""


class TooManyMessages(InputError):
    """A listener sent more requests or feedback than listener_messages_per_hour allows (HTTP 429)."""

    def __init__(self, message: str, retry_after_s: int, **kwargs):
        self.retry_after_s = retry_after_s
        super().__init__(message, **kwargs)


class EpisodeBusy(NightcastError):
    """Another process is rendering the same listener's episode for the same date and format."""


class ListenerErased(NightcastError):
    """The listener's data was erased while their episode was being rendered: nothing is published."""

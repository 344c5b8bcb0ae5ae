"""Where listener profiles live: a folder of YAML files (default) or a SQL database.

The nightly run and the render API ask a store for listener ids and profiles; neither knows which
kind it is. The SQL store (SQLAlchemy: SQLite by default, PostgreSQL supported) holds each profile
as validated JSON, for deployments with many listeners; `nightcast profiles import` fills it from
YAML files. A profile that fails validation is reported for that listener alone, with its source,
so one bad profile never hides the others.

Both kinds also keep what listeners send: their requests (pending until an episode uses them) and
their feedback on episodes. The YAML store keeps them per listener under `listener_data_dir`
(`<id>/requests.yaml`, `<id>/feedback.yaml`, each rewritten whole under a lock); the SQL store in
two more tables, created beside the profiles table when missing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import yaml
from pydantic import TypeAdapter, ValidationError

from nightcast.data_files import load_profile, parse_model, read_yaml
from nightcast.episode_store import write_text_atomic
from nightcast.errors import InputError
from nightcast.file_lock import file_lock
from nightcast.schema import LISTENER_ID_PATTERN, Feedback, ListenerProfile, StoredRequest

LOCK_WAIT_S = 30.0


class ProfileStore(Protocol):
    def listener_ids(self) -> list[str]: ...

    def load(self, listener_id: str) -> ListenerProfile: ...

    def describe(self) -> str: ...

    def add_request(self, request: StoredRequest) -> None: ...

    def requests(self, listener_id: str) -> list[StoredRequest]:
        """Every request this listener sent, oldest first."""

    def update_requests(self, updated: list[StoredRequest]) -> None:
        """Replace stored requests by id (a status change: pending → used or rejected)."""

    def add_feedback(self, feedback: Feedback) -> None: ...

    def feedback(self, listener_id: str) -> list[Feedback]:
        """Every verdict this listener gave, oldest first."""

    def save(self, profiles: Iterable[ListenerProfile]) -> int:
        """Insert or replace each profile; returns how many were written."""

    def forget(self, listener_id: str) -> list[str]:
        """Remove the listener's profile, requests and feedback; what was removed, one line each
        (nothing when there was nothing: forgetting twice is not an error)."""


def check_listener_id(listener_id: str) -> str:
    if not re.fullmatch(LISTENER_ID_PATTERN, listener_id):
        raise InputError(f"{listener_id!r} is not a listener id (must match [a-z0-9][a-z0-9_-]{{0,63}})",
                         field="listener")
    return listener_id


class FolderStore:
    """profiles/<listener_id>.yaml; the id inside must match the file name. Requests and feedback in
    <data_dir>/<listener_id>/ (the profile folder may be read-only: the examples ship in the package)."""

    def __init__(self, folder: Path, data_dir: Path | None = None):
        self.folder = Path(folder)
        self.data_dir = Path(data_dir) if data_dir is not None else self.folder / ".listener-data"

    def describe(self) -> str:
        return f"folder {self.folder}"

    def listener_ids(self) -> list[str]:
        if not self.folder.is_dir():
            raise InputError("profile folder not found", source=self.folder)
        return sorted(p.stem for p in self.folder.glob("*.yaml") if re.fullmatch(LISTENER_ID_PATTERN, p.stem))

    def path_for(self, listener_id: str) -> Path:
        return self.folder / f"{check_listener_id(listener_id)}.yaml"

    def load(self, listener_id: str) -> ListenerProfile:
        path = self.path_for(listener_id)
        if not path.is_file():
            raise InputError(f"no profile for listener '{listener_id}'", source=self.folder, field="listener")
        profile = load_profile(path)
        if profile.id != listener_id:
            raise InputError(f"id '{profile.id}' must match the file name '{listener_id}'", source=path, field="id")
        return profile

    # ------------------------------------------------------------ what listeners send

    def _records(self, listener_id: str, kind: str) -> Path:
        return self.data_dir / check_listener_id(listener_id) / f"{kind}.yaml"

    def _read(self, path: Path, model):
        if not path.is_file():
            return []
        data = read_yaml(path) or []
        try:
            return TypeAdapter(list[model]).validate_python(data)
        except ValidationError as exc:
            raise InputError(f"stored records are not valid ({exc.errors()[0]['msg']})", source=path) from None

    def _rewrite(self, path: Path, model, change) -> None:
        with file_lock(path.with_name(f".{path.name}.lock"), LOCK_WAIT_S):
            records = change(self._read(path, model))
            write_text_atomic(path, yaml.safe_dump([r.model_dump(mode="json", exclude_none=True) for r in records],
                                                   sort_keys=False, allow_unicode=True))

    def add_request(self, request: StoredRequest) -> None:
        self._rewrite(self._records(request.listener_id, "requests"), StoredRequest, lambda rs: [*rs, request])

    def requests(self, listener_id: str) -> list[StoredRequest]:
        return self._read(self._records(listener_id, "requests"), StoredRequest)

    def update_requests(self, updated: list[StoredRequest]) -> None:
        for listener_id in {r.listener_id for r in updated}:
            by_id = {r.id: r for r in updated if r.listener_id == listener_id}
            self._rewrite(self._records(listener_id, "requests"), StoredRequest,
                          lambda rs, by_id=by_id: [by_id.get(r.id, r) for r in rs])

    def add_feedback(self, feedback: Feedback) -> None:
        self._rewrite(self._records(feedback.listener_id, "feedback"), Feedback, lambda fs: [*fs, feedback])

    def feedback(self, listener_id: str) -> list[Feedback]:
        return self._read(self._records(listener_id, "feedback"), Feedback)

    # ------------------------------------------------------------ data rights

    def save(self, profiles: Iterable[ListenerProfile]) -> int:
        written = 0
        for profile in profiles:
            path = self.path_for(profile.id)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                write_text_atomic(path, yaml.safe_dump(profile.model_dump(mode="json", exclude_none=True),
                                                       sort_keys=False, allow_unicode=True))
            except OSError as exc:
                raise InputError(f"cannot write the profile ({exc.strerror})", source=path) from None
            written += 1
        return written

    def forget(self, listener_id: str) -> list[str]:
        removed = []
        path = self.path_for(listener_id)
        if path.is_file():
            try:
                path.unlink()
            except OSError as exc:
                raise InputError(f"cannot remove the profile ({exc.strerror})", source=path) from None
            removed.append(f"profile {path.name} (profile folder)")
        for kind, model in (("requests", StoredRequest), ("feedback", Feedback)):
            records = self._records(listener_id, kind)
            if records.is_file():
                removed.append(f"{len(self._read(records, model))} {kind} (listener data folder)")
                records.unlink()
        folder = self.data_dir / listener_id
        if folder.is_dir():
            shutil.rmtree(folder)  # the lock files beside the records
        return removed


class SqlStore:
    """One row per listener: id, the profile as JSON, when it last changed."""

    def __init__(self, url: str):
        import sqlalchemy as sa

        self.url = url
        self.engine = sa.create_engine(url, future=True)
        self.metadata = sa.MetaData()
        self.table = sa.Table(
            "listener_profiles", self.metadata,
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("profile", sa.Text, nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        )
        # What listeners send: one row each, the validated record as JSON, keyed for the per-listener reads.
        self.requests_table = sa.Table(
            "listener_requests", self.metadata,
            sa.Column("id", sa.String(16), primary_key=True),
            sa.Column("listener_id", sa.String(64), nullable=False, index=True),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("record", sa.Text, nullable=False),
        )
        self.feedback_table = sa.Table(
            "listener_feedback", self.metadata,
            sa.Column("id", sa.String(16), primary_key=True),
            sa.Column("listener_id", sa.String(64), nullable=False, index=True),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("record", sa.Text, nullable=False),
        )
        self.metadata.create_all(self.engine)  # creates only the tables that are missing

    def describe(self) -> str:
        return f"database {self.engine.url.render_as_string(hide_password=True)}"

    def listener_ids(self) -> list[str]:
        import sqlalchemy as sa

        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(self.table.c.id).order_by(self.table.c.id)).scalars())

    def load(self, listener_id: str) -> ListenerProfile:
        import sqlalchemy as sa

        check_listener_id(listener_id)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(self.table.c.profile).where(self.table.c.id == listener_id)).scalar()
        if row is None:
            raise InputError(f"no profile for listener '{listener_id}'", source=self.describe(), field="listener")
        try:
            data = json.loads(row)
        except json.JSONDecodeError as exc:
            raise InputError(f"stored profile is not JSON ({exc.msg})", source=f"{self.describe()} [{listener_id}]") from None
        return parse_model(data, ListenerProfile, f"{self.describe()} [{listener_id}]")

    def save(self, profiles: Iterable[ListenerProfile]) -> int:
        """Insert or replace each profile (validated models only); returns how many were written."""
        import sqlalchemy as sa

        rows = [{"id": p.id, "profile": p.model_dump_json(exclude_none=True),
                 "updated_at": dt.datetime.now(dt.timezone.utc)} for p in profiles]
        with self.engine.begin() as conn:  # one transaction: an import is all or nothing
            for row in rows:
                conn.execute(sa.delete(self.table).where(self.table.c.id == row["id"]))
                conn.execute(sa.insert(self.table), row)
        return len(rows)


    # ------------------------------------------------------------ what listeners send

    def _rows(self, table, listener_id: str, model):
        import sqlalchemy as sa

        check_listener_id(listener_id)
        query = sa.select(table.c.record).where(table.c.listener_id == listener_id).order_by(table.c.received_at, table.c.id)
        with self.engine.connect() as conn:
            return [model.model_validate_json(row) for row in conn.execute(query).scalars()]

    def add_request(self, request: StoredRequest) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            conn.execute(sa.insert(self.requests_table), {
                "id": request.id, "listener_id": request.listener_id, "received_at": request.received_at,
                "status": request.status, "record": request.model_dump_json(exclude_none=True)})

    def requests(self, listener_id: str) -> list[StoredRequest]:
        return self._rows(self.requests_table, listener_id, StoredRequest)

    def update_requests(self, updated: list[StoredRequest]) -> None:
        import sqlalchemy as sa

        table = self.requests_table
        with self.engine.begin() as conn:
            for request in updated:
                conn.execute(sa.update(table).where(table.c.id == request.id).values(
                    status=request.status, record=request.model_dump_json(exclude_none=True)))

    def add_feedback(self, feedback: Feedback) -> None:
        import sqlalchemy as sa

        with self.engine.begin() as conn:
            conn.execute(sa.insert(self.feedback_table), {
                "id": feedback.id, "listener_id": feedback.listener_id, "received_at": feedback.received_at,
                "record": feedback.model_dump_json(exclude_none=True)})

    def feedback(self, listener_id: str) -> list[Feedback]:
        return self._rows(self.feedback_table, listener_id, Feedback)

    def forget(self, listener_id: str) -> list[str]:
        import sqlalchemy as sa

        check_listener_id(listener_id)
        removed = []
        with self.engine.begin() as conn:  # one transaction: all of the listener's rows, or none
            for table, what in ((self.table, "profile"), (self.requests_table, "requests"),
                                (self.feedback_table, "feedback")):
                column = table.c.id if table is self.table else table.c.listener_id
                count = conn.execute(sa.delete(table).where(column == listener_id)).rowcount
                if count:
                    removed.append(f"{count} {what} row(s) in {table.name} (database)")
        return removed


def open_store(profiles_dir: Path, database_url: str | None, data_dir: Path | None = None) -> ProfileStore:
    return SqlStore(database_url) if database_url else FolderStore(profiles_dir, data_dir)


def import_profiles(paths: Iterable[Path], store: SqlStore) -> list[ListenerProfile]:
    """Validate every file first; write none unless all are valid (a clear error names the bad one)."""
    files: list[Path] = []
    for path in map(Path, paths):
        files += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise InputError("no profile files to import")
    profiles = [load_profile(f) for f in files]
    seen: dict[str, Path] = {}
    for profile, path in zip(profiles, files):
        if profile.id in seen:
            raise InputError(f"listener id '{profile.id}' is also in {seen[profile.id]}", source=path, field="id")
        seen[profile.id] = path
    store.save(profiles)
    return profiles

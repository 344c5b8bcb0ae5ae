"""Where listener profiles live: a folder of YAML files (default) or a SQL database.

The nightly run and the render API ask a store for listener ids and profiles; neither knows which
kind it is. The SQL store (SQLAlchemy: SQLite by default, PostgreSQL supported) holds each profile
as validated JSON, for deployments with many listeners; `nightcast profiles import` fills it from
YAML files. A profile that fails validation is reported for that listener alone, with its source,
so one bad profile never hides the others.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from nightcast.data_files import load_profile, parse_model
from nightcast.errors import InputError
from nightcast.schema import LISTENER_ID_PATTERN, ListenerProfile


class ProfileStore(Protocol):
    def listener_ids(self) -> list[str]: ...

    def load(self, listener_id: str) -> ListenerProfile: ...

    def describe(self) -> str: ...


def check_listener_id(listener_id: str) -> str:
    if not re.fullmatch(LISTENER_ID_PATTERN, listener_id):
        raise InputError(f"{listener_id!r} is not a listener id (must match [a-z0-9][a-z0-9_-]{{0,63}})",
                         field="listener")
    return listener_id


class FolderStore:
    """profiles/<listener_id>.yaml; the id inside must match the file name."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

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
        self.metadata.create_all(self.engine)

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


def open_store(profiles_dir: Path, database_url: str | None) -> ProfileStore:
    return SqlStore(database_url) if database_url else FolderStore(profiles_dir)


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

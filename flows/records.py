"""What the Prefect server holds about a listener, and erasing it.

Prefect cannot filter runs by parameter values, so nightcast's own flows' runs are read page by page
and matched here, each flow by the parameter that names a listener:

    render-episode              `listener` (an id, or a profile file named <id>.yaml)     deleted
    speech-stage, music-stage   the render's work folder, <outputs>/<id>/.building-…      deleted
    batch-heavy-stages          `listeners`, one chunk of the night                        redacted
    nightly                     a summary artifact with a row for them (written before     redacted
                                summaries named renders by place)

Deleting a flow run deletes its task runs and states with it (the server cascades); a run still
going is cancelled first. A persisted result of a deleted run is removed where it is a local file.
Names that reach Prefect's event log (which has no per-listener delete) carry no listener id: the
nightly's render task runs are named by their place in the night, its summary lists renders by
place, and the render deployment's form counts listeners without naming them (flows/form.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

PAGE = 200
ERASED = "(erased listener)"
NAMING_FLOWS = ("render-episode", "speech-stage", "music-stage", "batch-heavy-stages")
SUMMARY_KEY = "nightly-summary"


class ServerRecord(BaseModel):
    """One record on the Prefect server that names the listener, and what erasure does (did) to it."""

    kind: Literal["flow run", "artifact"]
    id: str
    name: str
    action: Literal["delete", "redact"]
    why: str


def _work_folder_owner(folder: str | None) -> str | None:
    parts = Path(folder).parts if folder else ()
    for i, part in enumerate(parts):
        if part.startswith(".building-") and i > 0:
            return parts[i - 1]
    return None


def _names_listener(flow_name: str, parameters: dict, listener_id: str) -> tuple[str, str] | None:
    """(action, why) when this run's parameters name the listener."""
    if flow_name == "render-episode":
        value = str(parameters.get("listener") or "")
        if value == listener_id or (value.endswith((".yaml", ".yml")) and Path(value).stem == listener_id):
            return "delete", f"its parameter listener is {value!r}"
    elif flow_name in ("speech-stage", "music-stage"):
        folder = ((parameters.get("request") or {}).get("folder") or {}).get("fallback")
        if _work_folder_owner(folder) == listener_id:
            return "delete", "a stage of their render (its work folder is theirs)"
    elif flow_name == "batch-heavy-stages":
        if listener_id in (parameters.get("listeners") or []):
            return "redact", "their id in the chunk's `listeners`"
    return None


def _client():
    from prefect import get_client

    return get_client(sync_client=True)


def _our_runs(client) -> Iterator:
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    names: dict = {}
    offset = 0
    while True:
        # the sort is given: Prefect's client otherwise sends `sort: null`, which its server refuses
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=list(NAMING_FLOWS))),
                                     limit=PAGE, offset=offset, sort=FlowRunSort.ID_DESC)
        for run in runs:
            if run.flow_id not in names:
                names[run.flow_id] = client.read_flow(run.flow_id).name
            yield names[run.flow_id], run
        if len(runs) < PAGE:
            return
        offset += PAGE


def _summaries(client, listener_id: str) -> Iterator:
    from prefect.client.schemas.objects import Artifact

    offset = 0
    pattern = _row_pattern(listener_id)
    while True:
        # straight to the endpoint: the client's read_artifacts sends null (refused) or empty filters
        # (which match only artifacts of a task run) for the flow-run and task-run filters
        response = client.request("POST", "/artifacts/filter", json={
            "artifacts": {"key": {"any_": [SUMMARY_KEY]}}, "limit": PAGE, "offset": offset, "sort": "ID_DESC"})
        artifacts = [Artifact.model_validate(item) for item in response.json()]
        for artifact in artifacts:
            if isinstance(artifact.data, str) and pattern.search(artifact.data):
                yield artifact
        if len(artifacts) < PAGE:
            return
        offset += PAGE


def _row_pattern(listener_id: str) -> re.Pattern:
    return re.compile(rf"^\| {re.escape(listener_id)} \|.*$", re.MULTILINE)


def _their_runs(client, listener_id: str) -> Iterator[tuple]:
    """(run, its record) for each flow run whose parameters name the listener."""
    for flow_name, run in _our_runs(client):
        found = _names_listener(flow_name, run.parameters or {}, listener_id)
        if found:
            yield run, ServerRecord(kind="flow run", id=str(run.id), name=f"{flow_name}/{run.name}",
                                    action=found[0], why=found[1])


def find_records(listener_id: str) -> list[ServerRecord]:
    """Every record on the server (PREFECT_API_URL) that names the listener."""
    with _client() as client:
        records = [record for _, record in _their_runs(client, listener_id)]
        records += [ServerRecord(kind="artifact", id=str(a.id), name=a.key or "", action="redact",
                                 why="a nightly summary with a row for them") for a in _summaries(client, listener_id)]
    return records


def erase_records(listener_id: str) -> Iterator[ServerRecord]:
    """Delete or redact every record find_records finds. Yields each record as it is done (a failure
    part way still tells what was). Running it twice finds nothing the second time."""
    from prefect.client.schemas.actions import ArtifactCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.states import Cancelling

    with _client() as client:
        for run, record in list(_their_runs(client, listener_id)):  # listed first: deleting shifts the pages
            try:
                if record.action == "delete":
                    if run.state and not run.state.is_final():
                        client.set_flow_run_state(run.id, Cancelling(message="the listener's data was erased"),
                                                  force=True)
                    _remove_result_file(run)
                    client.delete_flow_run(run.id)
                else:
                    parameters = dict(run.parameters)
                    parameters["listeners"] = [ERASED if who == listener_id else who
                                               for who in parameters.get("listeners", [])]
                    client.update_flow_run(run.id, parameters=parameters)
                    _remove_result_file(run, mentioning=listener_id)
            except ObjectNotFound:
                continue  # gone meanwhile
            yield record
        pattern = _row_pattern(listener_id)
        for artifact in list(_summaries(client, listener_id)):
            client.create_artifact(ArtifactCreate(key=artifact.key, type=artifact.type, description=artifact.description,
                                                  data=pattern.sub(f"| {ERASED} | (erased) |", artifact.data),
                                                  flow_run_id=artifact.flow_run_id, task_run_id=artifact.task_run_id))
            client.delete_artifact(artifact.id)
            yield ServerRecord(kind="artifact", id=str(artifact.id), name=artifact.key or "", action="redact",
                               why="a nightly summary with a row for them (written again without it)")


def _remove_result_file(run, mentioning: str | None = None) -> None:
    """A persisted result kept as a local file (the stage flows' results hold their clips' sentences)."""
    data = getattr(run.state, "data", None) if run.state else None
    metadata = getattr(data, "metadata", data)
    key = getattr(metadata, "storage_key", None)
    if not key:
        return
    path = Path(key)
    if not path.is_absolute():
        from prefect.settings import get_current_settings

        path = Path(get_current_settings().results.local_storage_path) / key
    if path.is_file() and (mentioning is None or mentioning.encode() in path.read_bytes()):
        path.unlink()


def compact_database() -> str | None:
    """Deleted rows stay in a SQLite file's free pages and write-ahead log until it is vacuumed: a
    search of the file would still find them. When the Prefect database is a local SQLite file, fold
    the log in and vacuum it; returns what was done, or why not (None: not a local SQLite file)."""
    import sqlite3

    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url
    url = url.get_secret_value() if url is not None and hasattr(url, "get_secret_value") else url
    if not url or not url.startswith("sqlite") or ":///" not in url:
        return None
    path = Path(url.split(":///", 1)[1])
    if not path.is_file():
        return None
    try:
        with sqlite3.connect(path, timeout=10) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db = sqlite3.connect(path, timeout=10, isolation_level=None)
        try:
            db.execute("VACUUM")
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            db.close()
    except sqlite3.Error as exc:
        return f"not vacuumed ({exc}): deleted rows stay in its free pages until it is; run forget again later"
    return "vacuumed (deleted rows no longer in its free pages or write-ahead log)"

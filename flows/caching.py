"""Stage results cached by their inputs, so a crashed or edited render redoes only what changed.

Each heavy stage task (script, speech, music) has a `StageInputs` cache policy: its key hashes
only the inputs that decide the result (a segment's text and voices, a bed's cue and length,
the content settings), never where files go. The task writes its audio into a folder named by
that key under `<cache>/stages/`, and Prefect persists the small result (paths, durations) under
the same key in `<cache>/results/`. A re-run computes the same keys, finds the records and skips
the work; a changed segment gets a new key and only it is redone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import os
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.transactions import get_transaction
from pydantic import BaseModel, ConfigDict
from pydantic_core import to_json

from nightcast import __version__
from nightcast.flows.ledger import compact_ledgers, note_keys
from nightcast.settings import Settings


@dataclass
class StageInputs(CachePolicy):
    """Key = the stage, the nightcast version and the named inputs (settings by their content).

    A name may reach into an input (`entry.music_s`): a bed depends on its length, not on where
    it sits in the episode, so an earlier segment growing does not invalidate it."""

    stage: str = ""
    inputs: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()  # inputs naming folders the stage reads: keyed by their files' contents
    files: tuple[str, ...] = ()  # inputs naming single files the stage reads (or None): keyed by their bytes

    def compute_key(self, task_ctx, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs) -> str:
        return stage_key(self.stage, {**{name: _lookup(inputs, name) for name in self.inputs},
                                      **{name: folder_digest(_lookup(inputs, name)) for name in self.folders},
                                      **{name: file_digest(_lookup(inputs, name)) for name in self.files}})


def check_key_names(*tasks) -> None:
    """Raise at import if a task's StageInputs names a parameter the task does not have: a renamed
    parameter must not silently key every result on nothing."""
    for task in tasks:
        policy = task.cache_policy
        parameters = inspect.signature(task.fn).parameters
        for dotted in (*policy.inputs, *policy.folders, *policy.files):
            if dotted.split(".")[0] not in parameters:
                raise TypeError(f"task {task.name}: cache key input '{dotted}' names no parameter of "
                                f"{task.fn.__name__}{inspect.signature(task.fn)}")


def _lookup(inputs: dict[str, Any], dotted: str) -> Any:
    name, *attributes = dotted.split(".")
    value = inputs.get(name)  # a parameter left at its default is not in inputs; names are checked at import
    for attribute in attributes:  # over a list: that attribute of each item
        value = [getattr(v, attribute) for v in value] if isinstance(value, list) else getattr(value, attribute)
    return value


def stage_key(stage: str, inputs: dict[str, Any]) -> str:
    digest = hashlib.sha256(to_json([stage, __version__, sorted(inputs.items())], fallback=str)).hexdigest()
    return f"{stage}-{digest[:40]}"


def folder_digest(folder: Path) -> str:
    """Every file's relative path and bytes: editing a prompt template changes the scripts' keys.
    Bytecode is not content (an installed data package gets a __pycache__ that pip writes)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def file_digest(path: Path | str | None) -> str | None:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest() if path is not None else None


def clip_identity(path: str) -> tuple[str, int, int]:
    """A cached clip as an input to a later stage: its content-addressed path, and its size and mtime
    so that a clip computed again after a prune (same path, maybe other bytes) counts as new."""
    stat = Path(path).stat()
    return path, stat.st_size, stat.st_mtime_ns


def place(source: Path | str, destination: Path) -> None:
    """Put a finished file from the cache where it is published: a hard link where the filesystem
    allows (a night of episodes is not stored twice), else a copy; atomic either way."""
    destination = Path(destination)
    staging = destination.with_name(f".{destination.name}.placing")
    staging.unlink(missing_ok=True)
    try:
        os.link(source, staging)
    except OSError:
        shutil.copyfile(source, staging)
    os.replace(staging, destination)


class StageFolder(BaseModel):
    """Where a stage task writes its files: the cache folder of its key, or `fallback` uncached."""

    model_config = ConfigDict(frozen=True)
    stages_root: Path | None
    fallback: Path

    def path(self) -> Path:
        transaction = get_transaction()
        key = transaction.key if transaction is not None else None
        if self.stages_root is None or not key:
            return self.fallback
        folder = self.stages_root / key
        folder.mkdir(parents=True, exist_ok=True)  # files land atomically, so a rewrite is safe
        return folder


class StageCache:
    """A render's view of the cache: task options, the folders tasks write to, and what was reused.
    `owner`: the listener the render is for; every key it uses is noted in their ledger (flows/ledger.py)."""

    def __init__(self, settings: Settings, owner: str | None = None):
        self.enabled = settings.stage_cache
        self.root = settings.cache_root()
        self.days = settings.stage_cache_days
        self.owner = owner
        self.counts: dict[str, dict[str, int]] = {}

    def note(self, keys: Sequence[str | None]) -> None:
        if self.enabled and self.owner:
            note_keys(self.root, self.owner, [k for k in keys if k])

    def entry_of(self, path: str | Path) -> str | None:
        """The key of the stage-cache entry a file lives in; None for a file outside the cache."""
        if not self.enabled:
            return None
        try:
            inside = Path(path).resolve().relative_to((self.root / "stages").resolve()).parts
        except ValueError:
            return None
        return inside[0] if len(inside) > 1 else None

    def note_files(self, paths: Sequence[str]) -> None:
        """The keys of stage folders these files live in (results made elsewhere: a GPU worker)."""
        self.note([self.entry_of(p) for p in paths])

    def folder(self, work: Path) -> StageFolder:
        return StageFolder(stages_root=self.root / "stages" if self.enabled else None, fallback=work)

    def task(self, task, cacheable: bool = True):
        """The task with results persisted and cached by its policy, or with caching off (the cache
        off, or this call's inputs not ones a result can be keyed by)."""
        if not (self.enabled and cacheable):
            return task.with_options(cache_policy=NO_CACHE, persist_result=False)
        return task.with_options(persist_result=True, result_storage=self.root / "results",
                                 cache_expiration=dt.timedelta(days=self.days))

    def run(self, stage: str, task, calls: Sequence[tuple], cacheable: bool = True) -> list:
        """Submit `task` once per argument tuple, all at once; their results in order, counting what
        came from the cache. A cached result whose files were pruned meanwhile is computed again."""
        if cacheable and self.enabled and self.owner:
            self.note([self.key_for(task, args) for args in calls])  # before the work: a crash leaves the note
        task = self.task(task, cacheable)
        futures = [task.submit(*args) for args in calls]
        results = []
        for args, future in zip(calls, futures):
            result = future.result()
            cached = future.state.name == "Cached"
            if cached and not all(Path(p).exists() for p in _files(result)):
                result, cached = task.with_options(refresh_cache=True).submit(*args).result(), False
            self.count(stage, cached)
            results.append(result)
        return results

    def mix_key(self, timeline, speech: Sequence, music: Sequence, settings: BaseModel) -> str | None:
        """What decides the mix: the timeline, the mix settings and every clip by its identity. None
        when a clip is not a cached one (the cache off; a file in the render's own work folder): then
        the mix, and all that is keyed by it, is not cached."""
        clips = [clip.path for clip in (*speech, *music)]
        if not all(self.entry_of(p) for p in clips):
            return None
        return stage_key("mix", {"timeline": timeline, "settings": settings,
                                 "clips": [clip_identity(p) for p in clips]})

    def key_for(self, task, args: tuple) -> str:
        """The key `task.submit(*args)` will look its result up by (the task's StageInputs policy)."""
        from prefect.utilities.callables import get_call_parameters

        return task.cache_policy.compute_key(None, get_call_parameters(task.fn, args, {}), {})

    def _store(self, task):
        from prefect.results import get_result_store

        return get_result_store().update_for_task(self.task(task))

    def holds(self, task, args: tuple) -> bool:
        """Whether `task.submit(*args)` would come from the cache, its files still there."""
        if not self.enabled:
            return False
        store, key = self._store(task), self.key_for(task, args)
        if not store.exists(key):
            return False
        return all(Path(p).exists() for p in _files(store.read(key).result))

    def stage_dir(self, task, args: tuple) -> Path:
        """The folder the task's files go in when it runs with `args` (StageFolder.path() inside it)."""
        folder = self.root / "stages" / self.key_for(task, args)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def prefill(self, task, args: tuple, result) -> None:
        """Record `result` as what `task.submit(*args)` returns, computed elsewhere (a batch across
        listeners): the render that submits it next finds it cached. Its files must already be in
        `stage_dir(task, args)`."""
        if not self.enabled:
            raise ValueError("prefilling needs the stage cache (stage_cache: true)")
        self._store(task).write(result, key=self.key_for(task, args),
                                expiration=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=self.days))

    def count(self, stage: str, cached: bool, n: int = 1) -> None:
        tally = self.counts.setdefault(stage, {"ran": 0, "cached": 0})
        tally["cached" if cached else "ran"] += n

    def merge(self, stage: str, outcome) -> list:
        """A stage that ran elsewhere (a GPU worker): its clips, its counts added to ours."""
        for kind, n in outcome.counts.items():
            self.count(stage, kind == "cached", n)
        self.note_files([clip.path for clip in outcome.clips])
        return outcome.clips


def _files(result: Any) -> list[str]:
    """The files a stage result points to (clips have a `path`; a script has none)."""
    items = result if isinstance(result, list) else [result]
    return [item.path for item in items if hasattr(item, "path")]


def prune_stage_cache(cache_root: Path, older_than_days: float) -> int:
    """Remove cached stage folders and result records not written for `older_than_days`; returns
    how many went. Expired records are never reused anyway; this gives their disk back."""
    cutoff = time.time() - older_than_days * 86400
    removed = 0
    for folder in (cache_root / "stages", cache_root / "results"):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # another render pruned it first
    compact_ledgers(cache_root)  # the listeners' ledgers name only what is still there
    return removed

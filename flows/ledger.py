"""Which cache entries each listener's renders used: what erasure and export go by.

Stage keys are content hashes, so an entry does not say whose it is. Every render notes the keys it
looks up or makes, before the stage runs (a crash still leaves the note), in
`<cache>/owners/<listener>.keys`, one key per line, appended. A speech stage folder also lists the
sentence-cache entries its clip was made from (`SENTENCES_FILE`). An entry two listeners' renders
used (a bed both heard) is theirs together: erasing one keeps it for the other.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from nightcast.episode_store import write_text_atomic
from nightcast.file_lock import file_lock

OWNERS = "owners"
SENTENCES_FILE = "sentences.keys"
LOCK_WAIT_S = 30.0


def ledger_path(cache_root: Path, listener_id: str) -> Path:
    return Path(cache_root) / OWNERS / f"{listener_id}.keys"


def _locked(path: Path):
    return file_lock(path.with_suffix(".lock"), LOCK_WAIT_S)


def note_keys(cache_root: Path, listener_id: str, keys: Iterable[str]) -> None:
    lines = "".join(f"{key}\n" for key in keys if key)
    if not lines:
        return
    path = ledger_path(cache_root, listener_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):  # against compact_ledgers rewriting it meanwhile
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, lines.encode())
        finally:
            os.close(fd)


def compact_ledgers(cache_root: Path) -> int:
    """Drop from every ledger the keys whose entries the prune removed, and the repeats (each render
    notes its keys again): a ledger then holds what the cache holds, not every night ever rendered.
    Returns how many lines went."""
    cache_root = Path(cache_root)
    dropped = 0
    for listener_id in listeners_noted(cache_root):
        path = ledger_path(cache_root, listener_id)
        with _locked(path):
            lines = path.read_text().split() if path.is_file() else []
            kept = sorted({key for key in lines
                           if (cache_root / "results" / key).exists() or (cache_root / "stages" / key).exists()})
            if len(kept) < len(lines):
                dropped += len(lines) - len(kept)
                write_text_atomic(path, "".join(f"{key}\n" for key in kept))
    return dropped


def forget_ledger(cache_root: Path, listener_id: str) -> None:
    path = ledger_path(cache_root, listener_id)
    path.unlink(missing_ok=True)
    path.with_suffix(".lock").unlink(missing_ok=True)


def keys_of(cache_root: Path, listener_id: str) -> list[str]:
    path = ledger_path(cache_root, listener_id)
    if not path.is_file():
        return []
    return sorted({line.strip() for line in path.read_text().splitlines() if line.strip()})


def listeners_noted(cache_root: Path) -> list[str]:
    folder = Path(cache_root) / OWNERS
    return sorted(p.stem for p in folder.glob("*.keys")) if folder.is_dir() else []


def sentence_keys(stage_folder: Path) -> list[str]:
    """The sentence-cache entries a speech stage folder's clip was made from."""
    path = Path(stage_folder) / SENTENCES_FILE
    return path.read_text().split() if path.is_file() else []


def write_sentence_keys(stage_folder: Path, keys: Iterable[str]) -> None:
    (Path(stage_folder) / SENTENCES_FILE).write_text("".join(f"{key}\n" for key in sorted(keys)))

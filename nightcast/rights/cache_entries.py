"""A listener's entries in the cache: the stage results their renders used (their ledger), and the
synthesised sentences those speech clips were made from. An entry another listener's ledger also
holds is shared (a bed both heard) and stays for them."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from nightcast.flows.ledger import forget_ledger, keys_of, ledger_path, listeners_noted, sentence_keys
from nightcast.settings import Settings
from nightcast.voices.cache import SpeechCache


@dataclass
class CacheEntries:
    stage_keys: list[str] = field(default_factory=list)  # theirs alone: results/<key>, stages/<key>/
    shared_keys: list[str] = field(default_factory=list)  # also in another listener's ledger: kept
    sentences: list[Path] = field(default_factory=list)  # sentence-cache files only their clips used
    ledger: Path | None = None


def _others_keys(root: Path, listener_id: str) -> set[str]:
    return {key for other in listeners_noted(root) if other != listener_id for key in keys_of(root, other)}


def cache_entries(settings: Settings, listener_id: str) -> CacheEntries:
    root = settings.cache_root()
    mine = keys_of(root, listener_id)
    ledger = ledger_path(root, listener_id)
    if not mine:
        return CacheEntries(ledger=ledger if ledger.is_file() else None)
    others = _others_keys(root, listener_id)
    own = [k for k in mine if k not in others]
    sentences: set[Path] = set()
    if (speech_dir := settings.speech_cache_dir()) is not None:
        kept = {s for k in others for s in sentence_keys(root / "stages" / k)}
        speech = SpeechCache(speech_dir)
        sentences = {speech.path_of(s) for k in own for s in sentence_keys(root / "stages" / k) if s not in kept}
    return CacheEntries(stage_keys=own, shared_keys=[k for k in mine if k in others],
                        sentences=sorted(p for p in sentences if p.is_file()), ledger=ledger)


def remove_cache_entries(settings: Settings, entries: CacheEntries) -> int:
    """Remove the listener's own entries and their ledger; how many files and folders went."""
    root = settings.cache_root()
    removed = 0
    for key in entries.stage_keys:  # the sentences are listed before their speech folders go
        for path in (root / "results" / key, root / "stages" / key):
            if path.is_dir():
                shutil.rmtree(path)
                removed += 1
            elif path.exists():
                path.unlink()
                removed += 1
    for path in entries.sentences:
        path.unlink(missing_ok=True)
        removed += 1
    if entries.ledger is not None:
        forget_ledger(root, entries.ledger.stem)
    return removed

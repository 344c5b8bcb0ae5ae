"""The listener's own music library: a folder of audio files, read once and remembered.

Artist, title, album, genre and duration come from the tags (mutagen); tempo and key from the
tags too where DJ software wrote them (TBPM/TKEY, bpm/initialkey), else they are estimated with
librosa from the opening ANALYSIS_S seconds, with the first downbeat. Results are cached per file by
size and modification time, so a nightly run over an unchanged library decodes nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from pathlib import Path

from pydantic import BaseModel, ValidationError

from nightcast.audio import decode_audio
from nightcast.errors import InputError
from nightcast.generators.music.analysis import estimate_key, estimate_tempo
from nightcast.keys import parse_key
from nightcast.schema import TrackRef
from nightcast.untrusted import TAG_MAX_CHARS, clean_tag, reads_like_instructions

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = {".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".mp4", ".aac", ".wav", ".aif", ".aiff"}
ANALYSIS_S = 90.0  # an intro and a chorus: enough for a tempo, a grid and a key
ANALYSIS_RATE = 22_050
CACHE_VERSION = 2  # 2: tags cleaned of control and bidi characters
MIN_TRACK_S = 20.0  # shorter files are jingles or samples, not tracks a DJ introduces
_FILENAME = re.compile(r"^(?:\d+[\s.\-_]+)?(?P<artist>.+?)\s+-\s+(?P<title>.+)$")  # "03 - Artist - Title"


class MusicLibrary(BaseModel):
    folder: str
    tracks: list[TrackRef]
    skipped: dict[str, str] = {}  # file (relative) → why it is not playable

    def describe(self) -> str:
        analysed = sum(1 for t in self.tracks if t.bpm and t.key)
        return f"{len(self.tracks)} tracks ({analysed} with tempo and key), {len(self.skipped)} skipped"


def library_folder(root: str | Path, listener_id: str) -> Path:
    """A shared library root may hold one folder per listener; theirs wins when it is there."""
    root = Path(root).expanduser()
    own = root / listener_id
    return own if own.is_dir() else root


def check_library(folder: str | Path) -> None:
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"'{folder}' is not a folder of audio files", source="--library")


def scan_library(folder: str | Path, cache_dir: str | Path | None = None, *, analyse: bool = True) -> MusicLibrary:
    """Every playable track under folder (recursively), tags read and tempo/key known where possible."""
    folder = Path(folder).expanduser().resolve()
    check_library(folder)
    cache = _Cache(Path(cache_dir) / "library" if cache_dir else None, folder)
    tracks, skipped = [], {}
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file()):
        relative = str(path.relative_to(folder))
        stat = path.stat()
        stamp = [stat.st_size, stat.st_mtime_ns]
        wants_analysis = analyse and _can_estimate()
        track = cache.get(relative, stamp, analysed=wants_analysis)
        if track is None:
            try:
                track = read_track(path, analyse=analyse)
            except (ValueError, OSError, ValidationError) as exc:
                skipped[relative] = str(exc).splitlines()[0][:200]
                continue
            cache.put(relative, stamp, track, analysed=wants_analysis)
        if track.duration_s < MIN_TRACK_S:
            skipped[relative] = f"{track.duration_s:.1f} s is too short for a track"
            continue
        tracks.append(track)
    cache.save()
    if not tracks:
        detail = f"; skipped: {', '.join(f'{k} ({v})' for k, v in list(skipped.items())[:3])}" if skipped else ""
        raise InputError(f"no playable tracks in '{folder}'{detail}", source="--library")
    for relative, reason in skipped.items():
        log.warning("music library: skipping %s: %s", relative, reason)
    return MusicLibrary(folder=str(folder), tracks=tracks, skipped=skipped)


def read_track(path: Path, *, analyse: bool = True) -> TrackRef:
    """One file's tags and duration, with tempo, downbeat and key from its tags or its audio."""
    import mutagen

    try:
        audio = mutagen.File(str(path), easy=True)
    except mutagen.MutagenError as exc:
        raise ValueError(f"unreadable tags: {exc}") from exc
    if audio is None or not getattr(audio.info, "length", 0):
        raise ValueError("not an audio file mutagen can read")
    tags = audio.tags or {}
    artist, title = _first(tags, "artist"), _first(tags, "title")
    if not (artist and title):
        named = _FILENAME.match(path.stem)
        artist = artist or (named["artist"] if named else "Unknown artist")
        title = title or (named["title"] if named else path.stem)
    artist, title = clean_tag(artist) or "Unknown artist", clean_tag(title) or path.stem[:TAG_MAX_CHARS]
    for name, value in (("artist", artist), ("title", title), ("genre", _first(tags, "genre") or "")):
        # The host says a track's artist and title aloud: a tag written to steer a model is refused.
        why = reads_like_instructions(value)
        if why:
            raise ValueError(f"its {name} tag is not used: {why}")
    bpm = _number(_first(tags, "bpm"))
    key = parse_key(_raw_key(path) or "")
    first_beat_s = 0.0
    if analyse and _can_estimate():  # the beat grid's phase is never in the tags: always listen for it
        mono = decode_audio(path, ANALYSIS_RATE, 1, max_s=ANALYSIS_S).samples[:, 0]
        estimated_bpm, first_beat_s = estimate_tempo(mono, ANALYSIS_RATE)
        bpm = bpm or estimated_bpm
        key = key or estimate_key(mono, ANALYSIS_RATE)
    return TrackRef(
        path=str(path), artist=artist, title=title, album=clean_tag(_first(tags, "album")),
        genre=clean_tag(_first(tags, "genre")), duration_s=float(audio.info.length),
        bpm=round(bpm, 2) if bpm and 40 <= bpm <= 220 else None, key=key, first_beat_s=round(first_beat_s, 4),
    )


def _first(tags, name: str) -> str | None:
    try:
        values = tags.get(name) or []
    except (KeyError, ValueError):
        return None
    value = str(values[0]).strip() if values else ""
    return value or None


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _raw_key(path: Path) -> str | None:
    """The musical key tag, which the easy tag interfaces do not all expose."""
    import mutagen

    tags = getattr(mutagen.File(str(path)), "tags", None)
    if not tags:
        return None
    for name in ("TKEY", "initialkey", "INITIALKEY", "key", "KEY", "----:com.apple.iTunes:initialkey"):
        try:
            value = tags.get(name)
        except (KeyError, ValueError):
            continue
        if value:
            first = value.text[0] if hasattr(value, "text") else value[0]
            return first.decode() if isinstance(first, bytes) else str(first)
    return None


def _can_estimate() -> bool:
    try:
        import librosa  # noqa: F401
    except ImportError:
        return False
    return True


class _Cache:
    """file → TrackRef, valid while the file's size and mtime are unchanged; one JSON per library."""

    def __init__(self, folder: Path | None, library: Path):
        self.path = folder / f"{hashlib.sha256(str(library).encode()).hexdigest()[:16]}.json" if folder else None
        self.entries: dict = {}
        self.dirty = False
        if self.path and self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
                if data.get("version") == CACHE_VERSION:
                    self.entries = data.get("tracks", {})
            except (OSError, ValueError):
                self.entries = {}  # a damaged cache is rebuilt, never trusted

    def get(self, relative: str, stamp: list[int], *, analysed: bool) -> TrackRef | None:
        entry = self.entries.get(relative)
        if not entry or entry.get("stamp") != stamp or (analysed and not entry.get("analysed")):
            return None
        try:
            return TrackRef.model_validate(entry["track"])
        except (ValidationError, KeyError):
            return None

    def put(self, relative: str, stamp: list[int], track: TrackRef, *, analysed: bool) -> None:
        self.entries[relative] = {"stamp": stamp, "analysed": analysed, "track": track.model_dump()}
        self.dirty = True

    def save(self) -> None:
        if not (self.path and self.dirty):
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"version": CACHE_VERSION, "tracks": self.entries}), encoding="utf-8")
        os.replace(tmp, self.path)

"""Where episodes live, and the only code that knows: ids, folders, file names, the feed, failed QA
reports, build folders, and listing what is finished.

    <outputs>/<listener>/feed.xml                         the listener's podcast feed
    <outputs>/<listener>/<date>-<format>/episode.mp3 ...  one finished episode (EPISODE_FILES)
    <outputs>/<listener>/.<episode>.qa-failed.json        the report of an episode QA blocked
    <outputs>/<listener>/.building-<episode>-*            a render in progress (renamed into place when done)
    <outputs>/<listener>/.<episode>.lock                  held by the one render of that episode at a time
    <outputs>/<listener>/.feed.lock                       held while the feed is rebuilt
    <outputs>/.erased/<sha256 of an id>                   when a listener's data was erased (no id in it)

An episode directory appears only when complete: it is built in a hidden sibling and renamed, and
its manifest is written last, so a folder with a manifest is a finished episode.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from pydantic import ValidationError

from nightcast.errors import EpisodeBusy, InputError
from nightcast.file_lock import LockTimeout, file_lock
from nightcast.schema import AudioFormat, EpisodeManifest, Script

log = logging.getLogger(__name__)

EPISODE_FILES = {
    "audio": "episode.mp3",
    "script": "script.json",
    "transcript": "transcript.vtt",
    "transcript_srt": "transcript.srt",
    "chapters": "chapters.json",
    "cover": "cover.png",
    "waveform": "waveform.png",
    "page": "index.html",
    "manifest": "episode.json",
    "qa": "qa.json",  # absent when the render ran with --no-qa
}
FEED_FILE = "feed.xml"


def episode_files(audio_format: str = "mp3") -> dict[str, str]:
    """The episode directory's file names; the audio's extension follows the format (mp3, m4a, opus)."""
    return {**EPISODE_FILES, "audio": f"episode.{audio_format}"}


# nothing else is ever served from an episode folder: its own file names, in every audio format
SERVED_FILES = frozenset(name for audio_format in get_args(AudioFormat) for name in episode_files(audio_format).values())


EPISODE_ID_PATTERN = r"^\d{4}-\d{2}-\d{2}-[a-z0-9][a-z0-9_-]{0,63}$"


def episode_id(template_id: str, date: dt.date) -> str:
    return f"{date.isoformat()}-{template_id}"


def check_episode_id(episode: str) -> str:
    """An episode id as a listener or client gives it: the date and the format, nothing that walks paths."""
    if not re.fullmatch(EPISODE_ID_PATTERN, episode):
        raise InputError(f"{episode[:80]!r} is not an episode id (YYYY-MM-DD-format, e.g. 2026-11-23-nightly-digest)",
                         field="episode")
    return episode


@dataclass(frozen=True)
class FinishedEpisode:
    folder: Path
    manifest: EpisodeManifest
    script: Script


@dataclass(frozen=True)
class EpisodeStore:
    """The outputs folder, read and written by listener and episode id."""

    root: Path

    def listener_dir(self, listener: str) -> Path:
        return Path(self.root) / listener

    def episode_dir(self, listener: str, episode: str) -> Path:
        return self.listener_dir(listener) / episode

    def feed_path(self, listener: str) -> Path:
        return self.listener_dir(listener) / FEED_FILE

    def failed_report_path(self, listener: str, episode: str) -> Path:
        """A blocked episode leaves only its report, hidden beside where it would have been."""
        return self.listener_dir(listener) / f".{episode}.qa-failed.json"

    def file(self, listener: str, episode: str, role: str) -> Path | None:
        """A finished episode's file by role ('audio', 'manifest', ...), as its manifest names it; None
        when the episode is not finished."""
        manifest = self.episode_dir(listener, episode) / EPISODE_FILES["manifest"]
        if not manifest.is_file():
            return None
        if role == "manifest":
            return manifest
        return manifest.parent / EpisodeManifest.model_validate_json(manifest.read_bytes()).files[role]

    def previous_render(self, listener: str, episode: str) -> tuple[EpisodeManifest, Script] | None:
        """This episode as it was last rendered (manifest and script), for a re-render to keep what an
        edit did not touch; None when there is none or it cannot be read (then nothing is kept)."""
        manifest = self.file(listener, episode, "manifest")
        try:
            if manifest is None:
                return None
            found = EpisodeManifest.model_validate_json(manifest.read_bytes())
            return found, Script.model_validate_json((manifest.parent / found.files["script"]).read_bytes())
        except (OSError, ValidationError, KeyError):
            return None

    # ------------------------------------------------------------ erasure

    def _erased_mark(self, listener: str) -> Path:
        return Path(self.root) / ".erased" / hashlib.sha256(listener.encode()).hexdigest()

    def forget(self, listener: str) -> list[str]:
        """Remove everything under the listener's folder: episodes, feed, failed QA reports, builds
        and locks. Marks the time, so a render that started before and publishes after is discarded
        (`erased_since`). What was removed, one line each."""
        mark = self._erased_mark(listener)
        mark.parent.mkdir(parents=True, exist_ok=True)
        mark.touch()
        folder = self.listener_dir(listener)
        if not folder.is_dir():
            return []
        entries = sorted(folder.iterdir())
        episodes = [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
        reports = [e.name for e in entries if e.name.endswith(".qa-failed.json")]
        builds = [e.name for e in entries if e.name.startswith(".building-")]
        shutil.rmtree(folder, ignore_errors=True)
        if folder.exists():  # a render's build appeared while removing: once more
            shutil.rmtree(folder)
        removed = [f"{len(episodes)} episode(s): {', '.join(episodes)}" if episodes else None,
                   "their feed" if FEED_FILE in {e.name for e in entries} else None,
                   f"{len(reports)} failed-QA report(s)" if reports else None,
                   f"{len(builds)} unfinished build(s)" if builds else None]
        return [line for line in removed if line] or ["their outputs folder (locks only)"]

    def erased_since(self, listener: str, started: float) -> bool:
        """Whether the listener's data was erased after `started` (a time.time()): the render that
        started then must not publish."""
        try:
            return self._erased_mark(listener).stat().st_mtime >= started
        except FileNotFoundError:
            return False

    def building(self, listener: str, episode: str):
        """A hidden build folder for the episode, renamed into place when the block succeeds."""
        return building(self.episode_dir(listener, episode))

    def rendering(self, listener: str, episode: str, wait_s: float):
        """Be the one render of this episode: wait up to wait_s for another to finish, then raise
        EpisodeBusy naming it."""
        return exclusive(self.listener_dir(listener) / f".{episode}.lock", wait_s, f"{listener}/{episode}")

    def feed_writer(self, listener: str):
        """Held while the feed is rebuilt from the episodes on disk, so one rebuild never overwrites
        another that saw an episode more."""
        return exclusive(self.listener_dir(listener) / ".feed.lock", FEED_LOCK_WAIT_S, f"{listener}'s feed",
                         doing="being rebuilt")

    def finished(self, listener: str) -> list[FinishedEpisode]:
        """Every complete episode of the listener (its manifest written last), newest first."""
        found = []
        for manifest_path in self.listener_dir(listener).glob(f"*/{EPISODE_FILES['manifest']}"):
            folder = manifest_path.parent
            if folder.name.startswith("."):
                continue  # a build in progress or abandoned
            manifest = EpisodeManifest.model_validate_json(manifest_path.read_text(encoding="utf-8"))
            script = Script.model_validate_json((folder / manifest.files["script"]).read_text(encoding="utf-8"))
            found.append(FinishedEpisode(folder, manifest, script))
        return sorted(found, key=lambda e: (e.manifest.date, e.manifest.created_at), reverse=True)

    def past_scripts(self, listener: str, since: dt.date, before: dt.date) -> list[Script]:
        """The listener's published scripts dated in [since, before), newest first. Unreadable or
        invalid ones are skipped with a warning: they only feed the writers' memory."""
        scripts: list[Script] = []
        for path in self.listener_dir(listener).glob(f"*/{EPISODE_FILES['script']}"):
            if path.parent.name.startswith("."):
                continue
            try:
                script = Script.model_validate_json(path.read_bytes())
            except (OSError, ValidationError) as exc:
                log.warning("memory: skipping %s: %s", path, str(exc).splitlines()[0])
                continue
            if script.listener_id == listener and since <= script.date < before:
                scripts.append(script)
        return sorted(scripts, key=lambda s: (s.date, s.episode_id), reverse=True)


FEED_LOCK_WAIT_S = 60.0  # a rebuild takes well under a second


@contextmanager
def exclusive(lock_path: Path, wait_s: float, what: str, doing: str = "being rendered") -> Iterator[None]:
    """Hold lock_path (see nightcast.file_lock); EpisodeBusy naming the holder after wait_s."""
    def waiting(holder: str) -> None:
        log.warning("%s is %s by %s; waiting up to %.0f s", what, doing, holder, wait_s)

    with ExitStack() as held:
        try:
            held.enter_context(file_lock(lock_path, wait_s, on_wait=waiting))
        except LockTimeout as busy:
            raise EpisodeBusy(f"{what} is {doing} by {busy.holder}; waited {wait_s:.0f} s. "
                              "Run it again when that one has finished.") from None
        yield


OWNER_FILE = ".nightcast-build"  # "host pid" of the process building; removed before the rename


@contextmanager
def building(final_dir: Path) -> Iterator[Path]:
    """Yield a temporary directory beside final_dir; on success it replaces final_dir in one rename.

    On any failure the temporary directory is removed and an existing final_dir is left untouched.
    A build whose process was killed (nothing could clean up) is removed by the next build of the
    same episode.
    """
    final_dir = Path(final_dir)
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_abandoned_builds(final_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".building-{final_dir.name}-", dir=final_dir.parent))
    owner = tmp / OWNER_FILE
    owner.write_text(f"{socket.gethostname()} {os.getpid()}\n")
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp makes 0700; a published episode gets normal permissions
    try:
        yield tmp
        owner.unlink()
        if final_dir.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".replaced-{final_dir.name}-", dir=final_dir.parent))
            os.replace(final_dir, retired / "old")
            os.replace(tmp, final_dir)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(tmp, final_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_abandoned_builds(final_dir: Path) -> list[Path]:
    """Remove builds of final_dir left by a process on this host that no longer runs.

    Builds from other hosts (a shared outputs folder) and from live processes are left alone."""
    removed = []
    for build in final_dir.parent.glob(f".building-{final_dir.name}-*"):
        try:
            host, pid = (build / OWNER_FILE).read_text().split()
        except (OSError, ValueError):
            continue  # just created, or not ours to judge
        if host == socket.gethostname() and not _alive(int(pid)):
            shutil.rmtree(build, ignore_errors=True)
            removed.append(build)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)

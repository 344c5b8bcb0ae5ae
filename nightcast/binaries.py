"""External programs the defaults need, found once, with an install hint when missing."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

from nightcast.errors import BackendUnavailableError, StageError

SOUNDFONT_CANDIDATES = (
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/TimGM6mb.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
    "/usr/share/soundfonts/default.sf2",
    "/usr/share/soundfonts/FluidR3_GM.sf2",
)


@functools.cache
def ffmpeg() -> str:
    """System ffmpeg (Debian's has every filter we use); imageio-ffmpeg's bundled binary otherwise."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except Exception as exc:  # noqa: BLE001 - any failure means "not available"
        raise BackendUnavailableError(
            "ffmpeg not found: run 'make setup' or 'apt-get install ffmpeg'"
        ) from exc


def require(binary: str, apt_package: str) -> str:
    found = shutil.which(binary)
    if not found:
        raise BackendUnavailableError(f"'{binary}' not found: run 'make setup' or 'apt-get install {apt_package}'")
    return found


@functools.cache
def soundfont() -> Path:
    for candidate in SOUNDFONT_CANDIDATES:
        if Path(candidate).is_file():
            return Path(candidate)
    raise BackendUnavailableError(
        "no General MIDI soundfont found: run 'make setup' or 'apt-get install fluid-soundfont-gm'"
    )


def _failed(what: str, returncode: int, output: str) -> StageError:
    """A program that ran and failed: a stage error the CLI reports (exit 1), with its last words."""
    tail = output.strip().splitlines()[-3:]
    return StageError(f"{what} failed (exit {returncode}): {' | '.join(tail)}")


def run(cmd: list[str], what: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise _failed(what, proc.returncode, proc.stderr or proc.stdout)
    return proc


def run_piped(first: list[str], second: list[str], what: str) -> None:
    """first | second, as two processes: on two cores a limiter and an encoder run side by side."""
    import tempfile

    with tempfile.TemporaryFile() as err1, tempfile.TemporaryFile() as err2:
        producer = subprocess.Popen(first, stdout=subprocess.PIPE, stderr=err1)
        consumer = subprocess.Popen(second, stdin=producer.stdout, stdout=subprocess.DEVNULL, stderr=err2)
        producer.stdout.close()  # the consumer owns the pipe now: a dead consumer stops the producer
        consumer.wait()
        producer.wait()
        for proc, err in ((producer, err1), (consumer, err2)):
            if proc.returncode != 0:
                err.seek(0)
                raise _failed(what, proc.returncode, err.read().decode(errors="replace"))


@functools.cache  # asked per clip and per cached sentence; a binary does not change under a running process
def version_of(binary: str) -> str:
    try:
        proc = subprocess.run([binary, "--version"], capture_output=True, text=True)
    except OSError:
        return "unknown"
    out = proc.stdout.strip() or proc.stderr.strip()  # ffmpeg prints its banner to stderr
    return out.splitlines()[0].strip() if out else "unknown"

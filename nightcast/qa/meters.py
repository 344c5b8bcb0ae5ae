"""What a meter says about the finished file: its length, clipped runs and longest silence, in one pass.

The file is decoded once at its own rate (clipping is a property of the delivered samples: a
resampled copy would smear flat tops) and streamed in blocks, so an hour costs one block of memory.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nightcast.binaries import ffmpeg
from nightcast.errors import StageError

BLOCK_S = 5.0
SILENCE_WINDOW_S = 0.05
CLIP_LEVEL = 0.9995  # full scale after decoding, with room for the decoder's rounding
CLIP_RUN = 3  # consecutive samples: one sample at full scale is a peak, three are a flat top


@dataclass(frozen=True)
class FileMeters:
    duration_s: float
    clipped_runs: int
    longest_silence_s: float
    silence_at_s: float
    seconds: float = 0.0  # how long metering took


def sample_rate_of(path: Path) -> int:
    """The first audio stream's rate, from ffmpeg's own description of the file."""
    proc = subprocess.run([ffmpeg(), "-hide_banner", "-nostdin", "-i", str(path)], capture_output=True, text=True)
    found = re.search(r"Audio: .*?(\d+) Hz", proc.stderr)
    if not found:
        raise StageError(f"{Path(path).name} has no audio stream ffmpeg can read")
    return int(found.group(1))


class _Runs:
    """Runs of True across blocks: how many reached `minimum`, and the longest with where it started."""

    def __init__(self, minimum: int):
        self.minimum, self.count, self.open, self.position = minimum, 0, 0, 0
        self.longest, self.longest_at = 0, 0

    def add(self, flags: np.ndarray) -> None:
        edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        lengths, begins = ends - starts, starts + self.position
        if self.open:
            if len(starts) and starts[0] == 0:  # the run left open by the last block goes on
                lengths[0] += self.open
                begins[0] -= self.open
            else:
                self._close(np.array([self.open]), np.array([self.position - self.open]))
            self.open = 0
        if len(ends) and ends[-1] == flags.size:  # still going at the block's end: the next block decides
            self.open = int(lengths[-1])
            lengths, begins = lengths[:-1], begins[:-1]
        self._close(lengths, begins)
        self.position += flags.size

    def _close(self, lengths: np.ndarray, begins: np.ndarray) -> None:
        self.count += int(np.count_nonzero(lengths >= self.minimum))
        if lengths.size:
            longest = int(np.argmax(lengths))
            if lengths[longest] > self.longest:
                self.longest, self.longest_at = int(lengths[longest]), int(begins[longest])

    def finish(self) -> None:
        if self.open:
            self._close(np.array([self.open]), np.array([self.position - self.open]))
            self.open = 0


def meter_file(path: Path, silence_dbfs: float) -> FileMeters:
    """Duration, runs of CLIP_RUN+ frames at full scale in either channel, and the longest run of
    50 ms windows under `silence_dbfs` (mono), streamed from one decode."""
    started = time.perf_counter()
    rate = sample_rate_of(path)
    window = max(1, round(rate * SILENCE_WINDOW_S))
    block_frames = int(rate * BLOCK_S) // window * window
    clips, quiet = _Runs(CLIP_RUN), _Runs(1)
    frames_total, leftover = 0, np.zeros(0, np.float32)
    proc = subprocess.Popen([ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-ac", "2", "-f", "f32le", "-"],
                            stdout=subprocess.PIPE)
    try:
        while chunk := proc.stdout.read(block_frames * 8):
            frames = np.frombuffer(chunk[: len(chunk) // 8 * 8], dtype=np.float32).reshape(-1, 2)
            left, right = frames[:, 0], frames[:, 1]  # column-wise: reductions over an axis of 2 are slow
            frames_total += frames.shape[0]
            clips.add((np.abs(left) >= CLIP_LEVEL) | (np.abs(right) >= CLIP_LEVEL))
            mono = (left + right) * np.float32(0.5)
            mono = np.concatenate([leftover, mono]) if leftover.size else mono
            whole = mono.size // window * window
            leftover = mono[whole:]
            windows = mono[:whole].reshape(-1, window)
            power = np.einsum("ij,ij->i", windows, windows, dtype=np.float64) / window
            quiet.add(10 * np.log10(np.maximum(power, 1e-20)) < silence_dbfs)
    finally:
        proc.stdout.close()
        if proc.wait() != 0:
            raise StageError(f"could not decode {Path(path).name} for metering")
    clips.finish()
    quiet.finish()
    return FileMeters(duration_s=frames_total / rate, clipped_runs=clips.count,
                      longest_silence_s=quiet.longest * SILENCE_WINDOW_S, silence_at_s=quiet.longest_at * SILENCE_WINDOW_S,
                      seconds=round(time.perf_counter() - started, 2))

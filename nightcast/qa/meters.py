"""What a meter says about the finished file: clipping, silences, and the audio QA listens to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from nightcast.qa.asr import ASR_RATE
from nightcast.tools import ffmpeg

BLOCK_S = 5.0
SILENCE_WINDOW_S = 0.05
CLIP_LEVEL = 0.9995  # full scale after decoding, with room for the decoder's rounding
CLIP_RUN = 3  # consecutive samples: one sample at full scale is a peak, three are a flat top


def clipped_runs(path: Path) -> int:
    """Runs of CLIP_RUN+ consecutive frames at full scale in either channel, streamed in blocks."""
    proc = subprocess.Popen([ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-ac", "2", "-f", "f32le", "-"],
                            stdout=subprocess.PIPE)
    runs, open_run = 0, 0  # open_run: frames of a run still going at the end of the last block
    block_bytes = int(48000 * BLOCK_S) * 2 * 4
    while chunk := proc.stdout.read(block_bytes):
        frames = np.frombuffer(chunk[: len(chunk) // 8 * 8], dtype=np.float32).reshape(-1, 2)
        loud = (np.abs(frames).max(axis=1) >= CLIP_LEVEL).astype(np.int8)
        edges = np.diff(np.concatenate(([0], loud, [0])))
        starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        lengths = ends - starts
        if open_run and len(starts) and starts[0] == 0:
            lengths[0] += open_run
        elif open_run >= CLIP_RUN:
            runs += 1
        still_open = len(ends) and ends[-1] == loud.size
        open_run = int(lengths[-1]) if still_open else 0
        runs += int(np.count_nonzero((lengths[:-1] if still_open else lengths) >= CLIP_RUN))
    proc.wait()
    return runs + (open_run >= CLIP_RUN)


def listening_copy(path: Path) -> np.ndarray:
    """The episode as ASR and the silence meter hear it: mono, 16 kHz, float."""
    proc = subprocess.run([ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-ac", "1", "-ar", str(ASR_RATE),
                           "-f", "f32le", "-"], capture_output=True, check=True)
    return np.frombuffer(proc.stdout, dtype=np.float32)


def longest_silence(samples: np.ndarray, threshold_dbfs: float, rate: int = ASR_RATE) -> tuple[float, float]:
    """(seconds, where it starts) of the longest run of 50 ms windows quieter than threshold_dbfs."""
    window = int(rate * SILENCE_WINDOW_S)
    n = samples.size // window
    if n == 0:
        return 0.0, 0.0
    rms = np.sqrt(np.mean(samples[: n * window].reshape(n, window).astype(np.float64) ** 2, axis=1))
    quiet = 20 * np.log10(np.maximum(rms, 1e-10)) < threshold_dbfs
    edges = np.diff(np.concatenate(([0], quiet.view(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if not len(starts):
        return 0.0, 0.0
    longest = int(np.argmax(ends - starts))
    return float((ends[longest] - starts[longest]) * SILENCE_WINDOW_S), float(starts[longest] * SILENCE_WINDOW_S)

"""What QA listens to: each segment's sentences, cut out of a recording and packed into ASR windows.

Whisper hears at most 30 s at a time. A segment's sentences are cut out with a little padding, the
long pauses between them shortened (ASR time follows the audio it is given), and the result split
into windows of at most WINDOW_S at those joins. Every window belongs to one segment, so what ASR
hears maps back to its segment exactly, with no timestamps to place.

`load_for_asr` decodes with ffmpeg rather than `nightcast.audio.decode_audio`: for a 5-minute mix
ffmpeg's mixdown and resample take 0.5 s, and decode_audio's resample_poly 0.8 s.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nightcast.binaries import ffmpeg
from nightcast.schema import TimedText

ASR_RATE = 16000
WINDOW_S = 29.5  # under Whisper's 30 s, so nothing is cut at the end of a window
PAD_BEFORE_S, PAD_AFTER_S = 0.15, 0.35  # sentence times are trimmed speech: keep onsets and decays
KEEP_PAUSE_S = 0.6  # pauses up to this stay as they are; longer ones become JOIN_S of silence
JOIN_S = 0.3


def load_for_asr(path: str | Path) -> np.ndarray:
    """Any audio file as ASR hears it: mono, 16 kHz, float32."""
    proc = subprocess.run([ffmpeg(), "-v", "error", "-nostdin", "-i", str(path), "-ac", "1", "-ar", str(ASR_RATE),
                           "-f", "f32le", "-"], capture_output=True, check=True)
    return np.frombuffer(proc.stdout, dtype=np.float32)


def listened_sentences(sentences: list[TimedText], coverage: str) -> list[TimedText]:
    """full: every sentence; sample: the first, middle and last."""
    if coverage == "full" or len(sentences) <= 3:
        return sentences
    return [sentences[0], sentences[len(sentences) // 2], sentences[-1]]


@dataclass
class Listening:
    """One recording's listened sentences, packed: `audio` is what ASR gets, `windows` its cut points
    (seconds into `audio`), `owners` the segment each window belongs to."""

    audio: np.ndarray
    windows: list[tuple[float, float]] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)
    references: list[str] = field(default_factory=list)  # per segment: the text of the sentences heard
    counts: list[tuple[int, int]] = field(default_factory=list)  # per segment: (heard, all) sentences

    @property
    def seconds(self) -> float:
        return self.audio.size / ASR_RATE


def _spans(sentences: list[TimedText], limit_s: float) -> list[tuple[float, float]]:
    """Padded sentence spans, merged where the pause between them is short enough to keep."""
    spans: list[list[float]] = []
    for s in sentences:
        start, end = max(0.0, s.start_s - PAD_BEFORE_S), min(limit_s, s.end_s + PAD_AFTER_S)
        if end <= start:
            continue
        if spans and start - spans[-1][1] <= KEEP_PAUSE_S:
            spans[-1][1] = max(spans[-1][1], end)
        else:
            spans.append([start, end])
    return [(a, b) for a, b in spans]


def _pack(lengths: list[float]) -> list[tuple[float, float]]:
    """Windows over pieces laid end to end with JOIN_S between them: each ends at a join where it can,
    and a piece longer than a window is cut into window-sized parts."""
    windows, start, cursor = [], 0.0, 0.0
    for length in lengths:
        end = cursor + length
        if end - start > WINDOW_S and cursor > start:  # close the window at the join before this piece
            windows.append((start, cursor - JOIN_S))
            start = cursor
        while end - start > WINDOW_S:  # one piece longer than a window
            windows.append((start, start + WINDOW_S))
            start += WINDOW_S
        cursor = end + JOIN_S
    if cursor - JOIN_S > start:
        windows.append((start, cursor - JOIN_S))
    return windows


def pack_segments(recording: np.ndarray, segments: list[list[TimedText]], coverage: str) -> Listening:
    """Cut each segment's listened sentences out of `recording` (16 kHz, times in its seconds)."""
    limit_s = recording.size / ASR_RATE
    join = np.zeros(round(JOIN_S * ASR_RATE), np.float32)
    pieces: list[np.ndarray] = []
    listening = Listening(audio=np.zeros(0, np.float32))
    offset = 0.0
    for index, sentences in enumerate(segments):
        heard = listened_sentences(sentences, coverage)
        listening.references.append(" ".join(s.text for s in heard))
        listening.counts.append((len(heard), len(sentences)))
        cuts = [recording[round(a * ASR_RATE):round(b * ASR_RATE)] for a, b in _spans(heard, limit_s)]
        cuts = [c for c in cuts if c.size]
        if not cuts:
            continue
        for start, end in _pack([c.size / ASR_RATE for c in cuts]):
            listening.windows.append((offset + start, offset + end))
            listening.owners.append(index)
        for cut in cuts:
            pieces += [cut, join]
        offset += sum(c.size for c in cuts) / ASR_RATE + JOIN_S * len(cuts)
    if pieces:
        listening.audio = np.concatenate(pieces)
    return listening

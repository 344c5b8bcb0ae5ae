"""Predicted speech quality: DNSMOS P.835 (signal, background, overall) and P.808, offline.

Microsoft's DNSMOS models (MIT) ship as ONNX files inside the `speechmos` wheel; nightcast reads
them from there and runs them with onnxruntime (already installed for the default voice), one thread
per session. The P.808 model takes a log-mel spectrogram; it is computed here in numpy exactly as
the reference implementation's librosa call does (tests/stages/test_mos.py compares the two), so
the default install needs neither librosa nor the reference package's own imports.

A clip is scored in 9.01 s windows (a shorter clip is looped to fill one), P.835's raw outputs
mapped by its published polynomials, and the windows averaged. The reference slides its window by one
second; nightcast's windows follow one another (the last one ends at the clip's end), which scores
within 0.02 of the reference on voice clips at a ninth of the cost.
"""

from __future__ import annotations

import functools
import hashlib
import io
import threading
from collections import OrderedDict
import time
from importlib.resources import files
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict

MOS_RATE = 16_000
WINDOW_S = 9.01
N_FFT, HOP, N_MELS = 321, 160, 120
# P.835's raw outputs → MOS (the reference implementation's non-personalised polynomials)
_OVRL = np.poly1d([-0.06766283, 1.11546468, 0.04602535])
_SIG = np.poly1d([-0.08397278, 1.22083953, 0.0052439])
_BAK = np.poly1d([-0.13166888, 1.60915514, -0.39604546])


class SpeechQuality(BaseModel):
    """Predicted MOS, 1 (bad) … 5 (excellent)."""

    model_config = ConfigDict(frozen=True)
    ovrl: float  # P.835 overall
    sig: float  # P.835 speech signal
    bak: float  # P.835 background noise
    p808: float  # P.808 overall
    model: str = "DNSMOS P.835 + P.808 (speechmos 0.0.1.1)"


def _model_dir() -> Path:
    return Path(str(files("speechmos"))) / "dnsmos_models"


@functools.cache
def _sessions():
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    folder = _model_dir()
    return (ort.InferenceSession(str(folder / "sig_bak_ovr.onnx"), options, providers=["CPUExecutionProvider"]),
            ort.InferenceSession(str(folder / "model_v8.onnx"), options, providers=["CPUExecutionProvider"]))


_LOCK = threading.Lock()  # one scoring at a time: the sessions hold one thread each by design


def _hz_to_mel(hz):
    """Slaney's mel scale: linear under 1 kHz, logarithmic above."""
    hz = np.asanyarray(hz, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(hz >= min_log_hz, min_log_mel + np.log(np.maximum(hz, 1e-10) / min_log_hz) / logstep, hz / f_sp)


def _mel_to_hz(mel):
    mel = np.asanyarray(mel, dtype=np.float64)
    f_sp, min_log_hz = 200.0 / 3, 1000.0
    min_log_mel, logstep = min_log_hz / f_sp, np.log(6.4) / 27.0
    return np.where(mel >= min_log_mel, min_log_hz * np.exp(logstep * (mel - min_log_mel)), f_sp * mel)


@functools.cache
def mel_filters(n_fft: int = N_FFT, n_mels: int = N_MELS, low_hz: float = 0.0,
                high_hz: float = MOS_RATE / 2) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) triangular filters at 16 kHz, Slaney-normalised (librosa.filters.mel's
    defaults for P.808's input; qa/voiceprint.py asks for its own size and band)."""
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / MOS_RATE)
    mel_hz = _mel_to_hz(np.linspace(_hz_to_mel(low_hz), _hz_to_mel(high_hz), n_mels + 2))
    widths = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    return (weights * (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]).astype(np.float32)


def mel_db(audio: np.ndarray) -> np.ndarray:
    """(frames, N_MELS): the P.808 input. Power mel spectrogram (centred frames, zero padding, a
    periodic Hann window), in dB against its maximum, floored 80 dB down, scaled as (dB + 40) / 40."""
    padded = np.pad(audio.astype(np.float32), N_FFT // 2)
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
    power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
    mel = power @ mel_filters().T
    db = 10.0 * np.log10(np.maximum(mel, 1e-10))
    db -= 10.0 * np.log10(max(float(mel.max()), 1e-10))
    db = np.maximum(db, db.max() - 80.0)
    return ((db + 40.0) / 40.0).astype(np.float32)


def score(samples: np.ndarray, rate: int) -> SpeechQuality:
    """A mono voice clip's predicted quality. `samples`: float in −1…1 at any rate (resampled to 16 kHz)."""
    audio = at_16k(np.asarray(samples, dtype=np.float32), rate)
    if not audio.size:
        raise ValueError("an empty clip has no quality to predict")
    audio = np.clip(audio, -1.0, 1.0)
    needed = int(WINDOW_S * MOS_RATE)
    while audio.size < needed:
        audio = np.concatenate([audio, audio])
    starts = list(range(0, audio.size - needed + 1, needed))
    if audio.size - (starts[-1] + needed) >= MOS_RATE:  # more than a second left over: one more, ending at the end
        starts.append(audio.size - needed)
    primary, p808 = _sessions()
    raw, p808_scores = [], []
    with _LOCK:
        for start in starts:
            window = audio[start:start + needed]
            raw.append(primary.run(None, {"input_1": window[np.newaxis, :]})[0][0])
            p808_scores.append(p808.run(None, {"input_1": mel_db(window[:-160])[np.newaxis, :, :]})[0][0][0])
    sig, bak, ovrl = np.mean([[_SIG(r[0]), _BAK(r[1]), _OVRL(r[2])] for r in raw], axis=0)
    return SpeechQuality(ovrl=round(float(ovrl), 3), sig=round(float(sig), 3), bak=round(float(bak), 3),
                         p808=round(float(np.mean(p808_scores)), 3))


def at_16k(audio: np.ndarray, rate: int) -> np.ndarray:
    """Mono (channels averaged) at the 16 kHz both speech models here take."""
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if rate == MOS_RATE:
        return audio
    from scipy.signal import resample_poly

    divisor = np.gcd(rate, MOS_RATE)
    return resample_poly(audio, MOS_RATE // divisor, rate // divisor).astype(np.float32)


_SCORED: OrderedDict[str, SpeechQuality] = OrderedDict()  # clip bytes' digest → its scores
_SCORED_MAX = 2048


def score_file(path: str | Path) -> tuple[SpeechQuality, float]:
    """A voice clip file's predicted quality, and the seconds it took.

    Scores are remembered by the file's bytes, within this process (a CLI render, a worker's night):
    after a QA retry only the clips that were spoken again cost anything."""
    import soundfile as sf

    started = time.perf_counter()
    data = Path(path).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    with _LOCK:
        known = _SCORED.get(digest)
        if known is not None:
            _SCORED.move_to_end(digest)
            return known, time.perf_counter() - started
    samples, rate = sf.read(io.BytesIO(data), dtype="float32", always_2d=False)
    quality = score(samples, rate)
    with _LOCK:
        _SCORED[digest] = quality
        while len(_SCORED) > _SCORED_MAX:
            _SCORED.popitem(last=False)
    return quality, time.perf_counter() - started

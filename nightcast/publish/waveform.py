"""The episode's waveform and short-term loudness as one PNG for the episode page (Pillow, no plotting stack)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyloudnorm
from PIL import Image, ImageDraw, ImageFont

from nightcast.audio import decode_audio
from nightcast.schema import Chapter

WIDTH_PX, HEIGHT_PX = 1200, 260
RATE = 16_000
WINDOW_S, HOP_S = 3.0, 1.0  # EBU R128 short-term loudness: 3 s windows
FLOOR_LUFS, CEILING_LUFS = -40.0, -6.0


def short_term_loudness(samples: np.ndarray, rate: int) -> np.ndarray:
    """LUFS of each 3 s window, one per second (BS.1770 K-weighting via pyloudnorm)."""
    meter = pyloudnorm.Meter(rate, block_size=0.4)
    window, hop = round(WINDOW_S * rate), round(HOP_S * rate)
    values = []
    for start in range(0, max(1, len(samples) - window + 1), hop):
        with np.errstate(divide="ignore"):
            values.append(meter.integrated_loudness(samples[start:start + window]))
    return np.clip(np.nan_to_num(np.array(values), neginf=FLOOR_LUFS), FLOOR_LUFS, CEILING_LUFS)


def draw_waveform(audio: Path, out: Path, chapters: list[Chapter], target_lufs: float) -> Path:
    samples = decode_audio(audio, RATE, 1).samples[:, 0]
    duration_s = len(samples) / RATE
    image = Image.new("RGB", (WIDTH_PX, HEIGHT_PX), (18, 20, 32))
    draw = ImageDraw.Draw(image)
    mid = HEIGHT_PX // 2
    columns = np.array_split(np.abs(samples), WIDTH_PX)
    for x, column in enumerate(columns):  # peak envelope
        peak = float(column.max()) if column.size else 0.0
        draw.line([(x, mid - peak * (mid - 8)), (x, mid + peak * (mid - 8))], fill=(90, 120, 200))
    for chapter in chapters:  # chapter boundaries
        x = round(chapter.start_s / duration_s * (WIDTH_PX - 1))
        draw.line([(x, 0), (x, HEIGHT_PX)], fill=(70, 70, 90))

    def y_for(lufs: float) -> float:
        return HEIGHT_PX - 6 - (lufs - FLOOR_LUFS) / (CEILING_LUFS - FLOOR_LUFS) * (HEIGHT_PX - 12)

    loudness = short_term_loudness(samples, RATE)
    if len(loudness) > 1:
        xs = (np.arange(len(loudness)) * HOP_S + WINDOW_S / 2) / duration_s * (WIDTH_PX - 1)
        draw.line(list(zip(xs.tolist(), [y_for(v) for v in loudness])), fill=(250, 200, 90), width=2)
    draw.line([(0, y_for(target_lufs)), (WIDTH_PX, y_for(target_lufs))], fill=(200, 90, 90))
    font = ImageFont.load_default(size=16)
    draw.text((8, 6), f"short-term loudness (LUFS), target {target_lufs:g}", font=font, fill=(250, 200, 90))
    tmp = Path(out).with_name(f".{Path(out).name}.tmp")
    image.save(tmp, format="PNG", optimize=True)
    tmp.replace(out)
    return Path(out)

"""Master to the podcast loudness spec and encode, checked by the same meter listeners' apps trust.

−16 LUFS integrated, true peak ≤ −1 dBTP (Apple Podcasts; BS.1770 / EBU R128 measurement).
Gain comes from pyloudnorm; ffmpeg's alimiter runs at 4× the sample rate so inter-sample peaks are
caught (a true-peak limiter), and the limited audio is measured in the same pass until it sits on
target. The MP3 is encoded once, then measured again with ebur128: that is what the manifest reports.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyloudnorm

from nightcast.audio import Clip, db_to_gain, write_clip
from nightcast.errors import StageError
from nightcast.schema import Chapter, Loudness, MixSettings
from nightcast.tools import ffmpeg, run

OVERSAMPLE = 4
LOUDNESS_TOLERANCE_LU = 0.5
MP3_TOLERANCE_LU = 0.3  # aim inside the spec's ±0.5 so a re-measure elsewhere still passes
PEAK_MARGIN_DB = 0.5  # limiter ceiling below the spec: lossy encoding adds a little overshoot
MAX_PASSES = 5
# Joint-stereo CBR MP3 reads ~0.3-0.5 LU quieter than its source; the loop corrects the rest.
ENCODER_LOSS_PRIOR_LU = 0.4


def _ebur128_summary(stderr: str, keys: tuple[str, ...], what: str) -> dict[str, float]:
    """Values from ebur128's final Summary block (the lines before it are running values)."""
    summary = stderr[stderr.rfind("Summary:"):]
    found = {key: re.search(rf"{key}:\s+(-?[\d.]+|-inf)", summary) for key in keys}
    if not all(found.values()):
        raise StageError(f"could not read the loudness of {what}")
    return {key: float(match.group(1)) for key, match in found.items()}


def measure_loudness(path: str | Path) -> Loudness:
    """Integrated loudness, loudness range and true peak from ffmpeg's ebur128 summary."""
    proc = run([ffmpeg(), "-hide_banner", "-nostats", "-i", str(path), "-filter_complex", "ebur128=peak=true",
                "-f", "null", "-"], "ebur128 measurement")
    value = _ebur128_summary(proc.stderr, ("I", "LRA", "Peak"), str(path))
    return Loudness(integrated_lufs=value["I"], loudness_range_lu=value["LRA"], true_peak_dbtp=value["Peak"])


def limit(wav: Path, out_wav: Path, gain_db: float, ceiling_dbtp: float, sample_rate: int) -> float:
    """Gain, then a lookahead limiter at 4x the sample rate (catches inter-sample peaks); returns the
    integrated loudness, measured in the same pass (true peak is measured once, on the final MP3)."""
    limiter = f"alimiter=limit={db_to_gain(ceiling_dbtp):.5f}:attack=5:release=80:level=false"
    chain = (f"volume={gain_db:.3f}dB,aresample={sample_rate * OVERSAMPLE}:resampler=soxr,{limiter},"
             f"aresample={sample_rate}:resampler=soxr,ebur128")
    proc = run([ffmpeg(), "-hide_banner", "-nostats", "-y", "-i", str(wav), "-af", chain, "-c:a", "pcm_f32le",
                str(out_wav)], "limiter")
    return _ebur128_summary(proc.stderr, ("I",), str(out_wav))["I"]


def _ffmetadata(chapters: list[Chapter], tags: dict[str, str]) -> str:
    def esc(text: str) -> str:
        return re.sub(r"([=;#\\\n])", r"\\\1", text)

    lines = [";FFMETADATA1", *(f"{k}={esc(v)}" for k, v in tags.items())]
    for ch in chapters:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(ch.start_s * 1000)}",
                  f"END={round(ch.end_s * 1000)}", f"title={esc(ch.title)}"]
    return "\n".join(lines) + "\n"


def encode_mp3(wav: Path, mp3: Path, mix: MixSettings, chapters: list[Chapter], tags: dict[str, str],
               cover: Path | None = None) -> None:
    """MP3 with ID3v2 tags, chapters (CHAP/CTOC, in order) and the cover (APIC), written atomically."""
    meta = wav.with_suffix(".ffmeta")
    meta.write_text(_ffmetadata(chapters, tags), encoding="utf-8")
    tmp = mp3.with_name(f".{mp3.name}.{os.getpid()}.tmp.mp3")
    picture = ["-map", "2:v", "-c:v", "copy", "-disposition:v", "attached_pic",
               "-metadata:s:v", "title=Cover", "-metadata:s:v", "comment=Cover (front)"] if cover else []
    run([ffmpeg(), "-hide_banner", "-y", "-i", str(wav), "-i", str(meta), *(["-i", str(cover)] if cover else []),
         "-map", "0:a", *picture, "-map_metadata", "1", "-map_chapters", "1", "-c:a", "libmp3lame",
         "-b:a", f"{mix.mp3_bitrate_kbps}k", "-ar", str(mix.sample_rate),
         "-id3v2_version", "3", "-write_xing", "1", str(tmp)], "mp3 encode")
    os.replace(tmp, mp3)


def _within(measured: Loudness, mix: MixSettings, tolerance_lu: float, ceiling_dbtp: float) -> bool:
    return abs(measured.integrated_lufs - mix.target_lufs) <= tolerance_lu and measured.true_peak_dbtp <= ceiling_dbtp


def master_episode(mix_clip: Clip, work_dir: Path, mp3: Path, mix: MixSettings,
                   chapters: list[Chapter], tags: dict[str, str], cover: Path | None = None) -> Loudness:
    """Master stage entry: mix → mastered MP3 at the loudness target; returns what ebur128 measured on the MP3."""
    if mix_clip.is_silent():
        raise StageError("the mix is silent; refusing to master it")
    work_dir = Path(work_dir)
    wav, limited = write_clip(mix_clip, work_dir / "mix.wav"), work_dir / "mastered.wav"
    gain_db = mix.target_lufs - pyloudnorm.Meter(mix_clip.sample_rate).integrated_loudness(mix_clip.samples)
    ceiling = mix.true_peak_dbtp - PEAK_MARGIN_DB
    encoder_loss_lu = ENCODER_LOSS_PRIOR_LU
    for _ in range(MAX_PASSES):
        wav_target = mix.target_lufs + encoder_loss_lu
        limited_lufs = limit(wav, limited, gain_db, ceiling, mix.sample_rate)
        if abs(limited_lufs - wav_target) > 0.15:
            gain_db += wav_target - limited_lufs  # the limiter ate some loudness
            continue
        encode_mp3(limited, mp3, mix, chapters, tags, cover)
        final = measure_loudness(mp3)
        if _within(final, mix, MP3_TOLERANCE_LU, mix.true_peak_dbtp):
            return final
        encoder_loss_lu += mix.target_lufs - final.integrated_lufs
        gain_db += mix.target_lufs - final.integrated_lufs
        if final.true_peak_dbtp > mix.true_peak_dbtp:
            ceiling -= final.true_peak_dbtp - mix.true_peak_dbtp + 0.2
    raise StageError(
        f"mastering missed the target after {MAX_PASSES} passes: last limited pass {limited_lufs:.1f} LUFS "
        f"(want {mix.target_lufs:.1f} ± {LOUDNESS_TOLERANCE_LU} LUFS, ≤ {mix.true_peak_dbtp:.1f} dBTP)"
    )

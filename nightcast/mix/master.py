"""Master to the podcast loudness spec and encode, checked by the same meter listeners' apps trust.

−16 LUFS integrated (from config), true peak ≤ −1 dBTP (Apple Podcasts; BS.1770 / EBU R128).
One ffmpeg pass per try: a high-pass below hearing, gain, a lookahead limiter at 4× the sample rate (so inter-sample peaks are
caught: a true-peak limiter), then straight into the encoder with chapters, tags and cover; no
mastered WAV in between. The encoded file is measured with ebur128 and the gain corrected until it
sits on target: what the manifest reports is what the listener's file measures.

Formats: MP3 (ID3v2.3 CHAP/CTOC + APIC), M4A/AAC (QuickTime chapters + covr, faststart for
streaming) and Opus in Ogg (48 kHz; Vorbis-comment chapters, cover as METADATA_BLOCK_PICTURE).
"""

from __future__ import annotations

import base64
import logging
import os
import re
from pathlib import Path

from nightcast.audio import SUBSONIC_HZ, db_to_gain
from nightcast.binaries import ffmpeg, run, run_piped
from nightcast.errors import StageError
from nightcast.schema import Chapter, Loudness, MixedAudio, MixSettings

OVERSAMPLE = 4
LOUDNESS_TOLERANCE_LU = 0.5
FINAL_TOLERANCE_LU = 0.3  # aim inside the spec's ±0.5 so a re-measure elsewhere still passes
# Limiter ceiling below the spec: lossy codecs overshoot the limited peaks (AAC the most), first guesses.
PEAK_MARGIN_DB = {"mp3": 0.5, "m4a": 3.2, "opus": 1.5}
MAX_PASSES = 5
# Encoded files read a little off the limited audio (joint-stereo MP3 quieter, Opus louder); first guesses,
# corrected by measurement.
ENCODER_LOSS_PRIOR_LU = {"mp3": 0.4, "m4a": 0.1, "opus": -0.2}
LIMITER_LOSS_PRIOR_LU = 0.2

log = logging.getLogger(__name__)


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


def integrated_loudness(path: str | Path) -> float:
    """Integrated loudness only (no true-peak oversampling): a quick streaming read of a long WAV."""
    proc = run([ffmpeg(), "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
               "ebur128 measurement")
    return _ebur128_summary(proc.stderr, ("I",), str(path))["I"]


def _ffmetadata(chapters: list[Chapter], tags: dict[str, str]) -> str:
    def esc(text: str) -> str:
        return re.sub(r"([=;#\\\n])", r"\\\1", text)

    lines = [";FFMETADATA1", *(f"{k}={esc(v)}" for k, v in tags.items())]
    for ch in chapters:
        lines += ["[CHAPTER]", "TIMEBASE=1/1000", f"START={round(ch.start_s * 1000)}",
                  f"END={round(ch.end_s * 1000)}", f"title={esc(ch.title)}"]
    return "\n".join(lines) + "\n"


def _encoder_args(mix: MixSettings, has_cover: bool) -> list[str]:
    picture = ["-map", "2:v", "-c:v", "copy", "-disposition:v", "attached_pic"] if has_cover else []
    bitrate = ["-b:a", f"{mix.bitrate}k", "-ar", str(mix.sample_rate)]
    if mix.format == "mp3":
        return [*picture, *(["-metadata:s:v", "title=Cover", "-metadata:s:v", "comment=Cover (front)"] if has_cover else []),
                "-c:a", "libmp3lame", *bitrate, "-id3v2_version", "3", "-write_xing", "1"]
    if mix.format == "m4a":
        return [*picture, "-c:a", "aac", *bitrate, "-movflags", "+faststart"]
    return ["-c:a", "libopus", *bitrate, "-application", "audio"]  # Ogg takes the cover afterwards (mutagen)


def _embed_opus_cover(path: Path, cover: Path) -> None:
    from mutagen.flac import Picture
    from mutagen.oggopus import OggOpus

    picture = Picture()
    picture.type, picture.mime, picture.desc = 3, "image/png", "Cover (front)"
    picture.data = cover.read_bytes()
    audio = OggOpus(str(path))
    audio["metadata_block_picture"] = [base64.b64encode(picture.write()).decode("ascii")]
    audio.save()


def limit_and_encode(mixed: MixedAudio, out: Path, gain_db: float, ceiling_dbtp: float, mix: MixSettings,
                     chapters: list[Chapter], tags: dict[str, str], cover: Path | None) -> None:
    """One pass: gain → 4× oversampled limiter | encoder (with chapters, tags, cover), written atomically.
    Two processes joined by a pipe, so the limiter and the (single-threaded) encoder share the cores."""
    out = Path(out)
    meta = out.with_name(f".{out.name}.ffmeta")
    meta.write_text(_ffmetadata(chapters, tags), encoding="utf-8")
    tmp = out.with_name(f".{out.stem}.{os.getpid()}.tmp{out.suffix}")
    limiter = f"alimiter=limit={db_to_gain(ceiling_dbtp):.5f}:attack=5:release=80:level=false"
    chain = (f"highpass=f={SUBSONIC_HZ}:poles=2,volume={gain_db:.3f}dB,aresample={mixed.sample_rate * OVERSAMPLE}:resampler=soxr,{limiter},"
             f"aresample={mix.sample_rate}:resampler=soxr")
    limit = [ffmpeg(), "-hide_banner", "-nostats", "-i", mixed.path, "-af", chain, "-f", "f32le", "-"]
    use_ffmpeg_cover = cover is not None and mix.format != "opus"
    encode = [ffmpeg(), "-hide_banner", "-nostats", "-y", "-f", "f32le", "-ar", str(mix.sample_rate), "-ac", "2",
              "-i", "-", "-i", str(meta), *(["-i", str(cover)] if use_ffmpeg_cover else []), "-map", "0:a",
              "-map_metadata", "1", "-map_chapters", "1", *_encoder_args(mix, use_ffmpeg_cover), str(tmp)]
    try:
        run_piped(limit, encode, f"{mix.format} master")
        if cover is not None and mix.format == "opus":
            _embed_opus_cover(tmp, cover)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
        meta.unlink(missing_ok=True)


def _within(measured: Loudness, mix: MixSettings, tolerance_lu: float) -> bool:
    return (round(abs(measured.integrated_lufs - mix.target_lufs), 2) <= tolerance_lu
            and measured.true_peak_dbtp <= mix.true_peak_dbtp)


def master_episode(mixed: MixedAudio, out: Path, mix: MixSettings, chapters: list[Chapter],
                   tags: dict[str, str], cover: Path | None = None) -> Loudness:
    """Master stage entry: mix → mastered, tagged episode file at the loudness target; returns what
    ebur128 measured on that file."""
    if mixed.peak < 1e-4:
        raise StageError("the mix is silent; refusing to master it")
    mix_lufs = integrated_loudness(mixed.path)
    gain_db = mix.target_lufs - mix_lufs + LIMITER_LOSS_PRIOR_LU + ENCODER_LOSS_PRIOR_LU[mix.format]
    ceiling = mix.true_peak_dbtp - PEAK_MARGIN_DB[mix.format]
    for attempt in range(1, MAX_PASSES + 1):
        limit_and_encode(mixed, out, gain_db, ceiling, mix, chapters, tags, cover)
        final = measure_loudness(out)
        log.info("master pass %d: gain %+.2f dB, ceiling %.2f dBTP → %s at %.2f LUFS, %.2f dBTP", attempt, gain_db,
                 ceiling, mix.format, final.integrated_lufs, final.true_peak_dbtp)
        if _within(final, mix, FINAL_TOLERANCE_LU):
            return final
        gain_db += mix.target_lufs - final.integrated_lufs
        if final.true_peak_dbtp > mix.true_peak_dbtp:
            ceiling -= final.true_peak_dbtp - mix.true_peak_dbtp + 0.2
    Path(out).unlink(missing_ok=True)  # never leave an off-spec episode where a finished one belongs
    raise StageError(
        f"mastering missed the target after {MAX_PASSES} passes: last {final.integrated_lufs:.1f} LUFS, "
        f"{final.true_peak_dbtp:.1f} dBTP (want {mix.target_lufs:.1f} ± {LOUDNESS_TOLERANCE_LU} LUFS, "
        f"≤ {mix.true_peak_dbtp:.1f} dBTP)"
    )

"""A music library written by the test: little songs in known tempos and keys, tagged with mutagen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

from nightcast.binaries import ffmpeg

from synthetic_stems import RATE, song

A2_HZ = 110.0


def write_track(path: Path, *, artist: str | None, title: str | None, genre: str | None = None, bpm: float = 100,
                semitones_from_a: int = 0, minor: bool = True, bars: int = 16, lead_in_s: float = 0.25,
                bpm_tag: str | None = None, key_tag: str | None = None) -> Path:
    """A stereo song (lead_in_s of silence, then drums, bass and pad) encoded by the file's suffix,
    with whichever tags are given."""
    parts = song(bpm, bars, A2_HZ * 2 ** (semitones_from_a / 12), minor=minor)
    mono = 0.45 * (parts["drums"] + parts["bass"] + parts["other"])
    mono = np.concatenate([np.zeros(round(lead_in_s * RATE)), mono])
    stereo = np.stack([mono, mono * 0.9], axis=1).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    wav = path.with_suffix(".src.wav")
    sf.write(wav, stereo, RATE)
    if path.suffix == ".wav":
        wav.rename(path)
    else:
        subprocess.run([ffmpeg(), "-v", "error", "-y", "-i", str(wav), "-map_metadata", "-1", str(path)], check=True)
        wav.unlink()
    _tag(path, artist=artist, title=title, genre=genre, bpm=bpm_tag, key=key_tag)
    return path


def _tag(path: Path, **tags) -> None:
    import mutagen
    from mutagen.id3 import ID3, TKEY

    tags = {k: v for k, v in tags.items() if v}
    if not tags or path.suffix == ".wav":
        return
    key = tags.pop("key", None)
    audio = mutagen.File(str(path), easy=True)
    if audio.tags is None:
        audio.add_tags()
    for name, value in tags.items():
        audio[name] = value
    audio.save()
    if key and path.suffix == ".mp3":
        id3 = ID3(str(path))
        id3.add(TKEY(encoding=3, text=key))
        id3.save()
    elif key and path.suffix == ".m4a":
        from mutagen.mp4 import MP4FreeForm

        audio = mutagen.File(str(path))
        audio["----:com.apple.iTunes:initialkey"] = [MP4FreeForm(key.encode())]
        audio.save()
    elif key:  # Vorbis comments (FLAC, Ogg)
        audio = mutagen.File(str(path))
        audio["initialkey"] = key
        audio.save()


def write_library(folder: Path) -> Path:
    """Six tracks for the profile in tests (jazz lover; avoids smooth jazz) across formats:
    tags, tags with DJ-software tempo/key, a filename-only track, a too-short clip and a broken file."""
    write_track(folder / "evans" / "peace.mp3", artist="Bill Evans", title="Peace Piece", genre="Jazz", bpm=96)
    write_track(folder / "simone.flac", artist="Nina Simone", title="Feeling Good", genre="Soul", bpm=110,
                semitones_from_a=3, minor=False)  # C major
    write_track(folder / "coltrane.m4a", artist="Alice Coltrane", title="Journey in Satchidananda",
                genre="Spiritual Jazz", bpm=120, semitones_from_a=-2, bpm_tag="120", key_tag="Gm")
    write_track(folder / "Kenny G - Songbird.mp3", artist=None, title=None, genre="Smooth Jazz", bpm=90)  # named by file; avoided
    write_track(folder / "stranger.ogg", artist="Unknown Band", title="Elsewhere", genre="Polka", bpm=130)
    write_track(folder / "jingle.wav", artist=None, title=None, bars=2)
    (folder / "broken.mp3").write_bytes(b"ID3 not really an mp3")
    return folder

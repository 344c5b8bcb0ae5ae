"""Write the episode's side files: script, transcripts, chapters, cover art (also embedded in the MP3) and,
last, the manifest: an episode with an episode.json is complete."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from nightcast import __version__
from nightcast.publish.chapters import podcasting20_chapters
from nightcast.publish.episode_dir import write_text_atomic
from nightcast.publish.cover import embed_cover, make_cover
from nightcast.publish.transcript import srt, webvtt
from nightcast.schema import (BackendInfo, Chapter, EpisodeManifest, Loudness, PlayedTrack, Script, SpeechClip,
                              Timeline)

EPISODE_FILES = {
    "audio": "episode.mp3",
    "script": "script.json",
    "transcript": "transcript.vtt",
    "transcript_srt": "transcript.srt",
    "chapters": "chapters.json",
    "cover": "cover.png",
    "manifest": "episode.json",
}


def write_episode_files(episode_dir: Path, *, script: Script, speech: list[SpeechClip], timeline: Timeline,
                        chapters: list[Chapter], loudness: Loudness, backends: dict[str, BackendInfo],
                        timings: dict[str, float], listener_name: str, show: str,
                        speaker_names: dict[str, str] | None = None) -> EpisodeManifest:
    write_text_atomic(episode_dir / EPISODE_FILES["script"], script.model_dump_json(indent=2))
    write_text_atomic(episode_dir / EPISODE_FILES["transcript"], webvtt(script, speech, timeline))
    write_text_atomic(episode_dir / EPISODE_FILES["transcript_srt"], srt(script, speech, timeline, speaker_names))
    cover = make_cover(episode_dir / EPISODE_FILES["cover"], show=show, listener_first_name=listener_name.split()[0],
                       date=script.date, mood=script.segments[0].cue.mood)
    embed_cover(episode_dir / EPISODE_FILES["audio"], cover)
    write_text_atomic(episode_dir / EPISODE_FILES["chapters"], json.dumps(podcasting20_chapters(chapters), indent=2))
    manifest = EpisodeManifest(
        nightcast_version=__version__,
        episode_id=script.episode_id,
        listener_id=script.listener_id,
        listener_name=listener_name,
        template_id=script.template_id,
        title=script.title,
        date=script.date,
        created_at=dt.datetime.now(dt.timezone.utc),
        backends=backends,
        segment_writers={s.id: s.written_by or script.writer for s in script.segments if s.text},
        writer_fallbacks=script.fallbacks,
        stage_timings_s=timings,
        duration_s=timeline.duration_s,
        loudness=loudness,
        chapters=chapters,
        tracks=played_tracks(script, timeline),
        files=EPISODE_FILES,
    )
    write_text_atomic(episode_dir / EPISODE_FILES["manifest"], manifest.model_dump_json(indent=2))
    return manifest


def played_tracks(script: Script, timeline: Timeline) -> list[PlayedTrack]:
    return [PlayedTrack(segment_id=segment.id, artist=segment.cue.track.artist, title=segment.cue.track.title,
                        path=segment.cue.track.path, start_s=entry.track_start_s, end_s=entry.end_s)
            for segment, entry in zip(script.segments, timeline.entries)
            if segment.cue.track is not None and entry.track_start_s is not None]

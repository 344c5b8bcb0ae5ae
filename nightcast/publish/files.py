"""Write the episode's side files: script, transcripts, chapters, cover art (also embedded in the MP3) and,
last, the manifest: an episode with an episode.json is complete."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from nightcast import __version__
from nightcast.episode_store import EPISODE_FILES, write_text_atomic
from nightcast.publish.chapters import podcasting20_chapters
from nightcast.publish.cover import make_cover
from nightcast.publish.page import write_page
from nightcast.publish.transcript import srt, webvtt
from nightcast.publish.waveform import draw_waveform
from nightcast.schema import (
    AnsweredRequest,
    BackendInfo,
    Chapter,
    EpisodeManifest,
    Loudness,
    PlayedTrack,
    QAReport,
    QASummary,
    Script,
    SegmentChange,
    SpeechClip,
    SpokenSegment,
    StoredRequest,
    Timeline,
)


def write_cover(episode_dir: Path, script: Script, listener_name: str, show: str) -> Path:
    """Before mastering: the encoder embeds it in the episode file in the same pass as the chapters."""
    return make_cover(Path(episode_dir) / EPISODE_FILES["cover"], show=show, listener_first_name=listener_name.split()[0],
                      date=script.date, mood=script.segments[0].cue.mood)


def write_episode_files(episode_dir: Path, *, script: Script, speech: list[SpeechClip], timeline: Timeline,
                        chapters: list[Chapter], loudness: Loudness, backends: dict[str, BackendInfo],
                        timings: dict[str, float], listener_name: str, show: str, target_lufs: float,
                        language: str = "en", speaker_names: dict[str, str] | None = None,
                        files: dict[str, str] = EPISODE_FILES,
                        stage_cache: dict[str, dict[str, int]] | None = None,
                        spoken: list[SpokenSegment] | None = None, qa: QAReport | None = None,
                        requests: list[StoredRequest] | None = None,
                        changes: list[SegmentChange] | None = None) -> EpisodeManifest:
    """Every file of a finished episode but the audio, and last the manifest. `requests`: the
    listener's requests this episode answers; the manifest says what was understood of each (never
    their words) and which segments each shaped; `changes`: what a re-render made again, and why."""
    write_text_atomic(episode_dir / files["script"], script.model_dump_json(indent=2))
    write_text_atomic(episode_dir / files["transcript"], webvtt(script, speech, timeline))
    write_text_atomic(episode_dir / files["transcript_srt"], srt(script, speech, timeline, speaker_names))
    draw_waveform(episode_dir / files["audio"], episode_dir / files["waveform"], chapters,
                  target_lufs=target_lufs)
    write_page(episode_dir, script=script, speech=speech, timeline=timeline, chapters=chapters, loudness=loudness,
               files=files, listener=listener_name, show=show, language=language, speaker_names=speaker_names)
    write_text_atomic(episode_dir / files["chapters"], json.dumps(podcasting20_chapters(chapters), indent=2))
    if qa is not None:
        write_text_atomic(episode_dir / files["qa"], qa.model_dump_json(indent=2))
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
        shared=script.shared,
        stage_timings_s=timings,
        stage_cache=stage_cache or {},
        speech=spoken or [],
        qa=QASummary(ran=qa is not None, passed=qa.passed if qa else None,
                     failed=[c.name for c in qa.failures()] if qa else [], report=files["qa"] if qa else None),
        duration_s=timeline.duration_s,
        loudness=loudness,
        chapters=chapters,
        tracks=played_tracks(script, timeline),
        requests=[AnsweredRequest(id=r.id, source=r.source, understood=r.interpretation.understood,
                                  interpreter=r.interpretation.interpreter,
                                  segments=[s.id for s in script.segments if s.request == r.id])
                  for r in requests or [] if r.interpretation is not None],
        timeline=timeline,
        changes=changes,
        files=files,
    )
    write_text_atomic(episode_dir / files["manifest"], manifest.model_dump_json(indent=2))
    return manifest


def played_tracks(script: Script, timeline: Timeline) -> list[PlayedTrack]:
    return [PlayedTrack(segment_id=segment.id, artist=segment.cue.track.artist, title=segment.cue.track.title,
                        path=segment.cue.track.path, start_s=entry.track_start_s, end_s=entry.end_s)
            for segment, entry in zip(script.segments, timeline.entries)
            if segment.cue.track is not None and entry.track_start_s is not None]

"""Plan where every segment sits, from the real speech lengths, so the episode hits its target length.

Each segment: music alone (pre-roll) → DJ over the ducked bed → music in the clear → crossfade
into the next segment's bed. Music-in-the-clear absorbs the difference between what the voice
actually took and the format's target, within [min_music_s, 2.5 × the slot's nominal].

Beat-aware: a generated bed (at its cue's tempo, downbeat at 0) ends on one of its bar lines, and the
crossfade into the next bed is a whole number of its beats, so the incoming downbeat lands on the
outgoing bar line and the fade never smears two grids against each other.

A segment that plays a library track: the track enters while the DJ is still talking (up to
talk_over_s before the speech ends), with its first downbeat on a bar line of the bridge bed, and
the segment ends on one of the track's own bar lines, never past the track's end.
"""

from __future__ import annotations

import math

from nightcast.schema import (
    MixSettings,
    MusicCue,
    Script,
    SpeechClip,
    SpokenSegment,
    TimedText,
    Timeline,
    TimelineEntry,
)

FINAL_FADE_S = 4.0


def plan_timeline(script: Script, speech: list[SpeechClip], mix: MixSettings, target_duration_s: float,
                  keep_scale: float | None = None, duration_range: tuple[float, float] | None = None) -> Timeline:
    """Where every segment sits. The beds' clear music is their nominal length × one scale that makes
    the episode its target length; each bed ends on its own nearest bar line, and the last bed takes
    up what the rounding left over, so a bed's length follows only its own segment's speech.

    `keep_scale`: the scale of this episode's previous render. Kept while the episode stays within
    `duration_range`, so after an edit only the beds of segments whose speech changed (and the last)
    move: the others come from the cache, and the episode's length absorbs the change where it happened."""
    by_id = {clip.segment_id: clip for clip in speech}
    speech_s = [by_id[s.id].duration_s if s.id in by_id else 0.0 for s in script.segments]
    nominal = [s.cue.duration_s for s in script.segments]
    fixed = sum(mix.pre_roll_s + d for d in speech_s)
    # rounded as stored, so a kept scale places every bed exactly where this one did
    scale = round(max(0.0, target_duration_s - fixed) / sum(nominal), 6) if sum(nominal) else 0.0
    if keep_scale is not None and duration_range is not None:
        kept = _placed(script, speech_s, nominal, keep_scale, mix)
        if duration_range[0] <= kept.duration_s <= duration_range[1]:
            return kept.model_copy(update={"target_s": target_duration_s})
    return _placed(script, speech_s, nominal, scale, mix).model_copy(update={"target_s": target_duration_s})


def _placed(script: Script, speech_s: list[float], nominal: list[float], scale: float, mix: MixSettings) -> Timeline:
    clear = [min(max(n * scale, mix.min_music_s), max(n * 2.5, mix.min_music_s)) for n in nominal]
    entries: list[TimelineEntry] = []
    cursor = planned_end = 0.0
    last = len(script.segments) - 1
    for index, (segment, spoken, music) in enumerate(zip(script.segments, speech_s, clear)):
        speech_start = cursor + mix.pre_roll_s
        planned_end += mix.pre_roll_s + spoken + music
        # every bed its own length; the last one also takes up the others' rounding (the running plan)
        wanted = planned_end - cursor if index == last else mix.pre_roll_s + spoken + music
        outgoing_bpm = segment.cue.track.bpm if segment.cue.track and segment.cue.track.bpm else segment.cue.bpm
        tail = 0.0 if index == last else beat_crossfade_s(outgoing_bpm, mix.crossfade_s)
        track_start = None
        if segment.cue.track is not None:
            clear_s = max(mix.min_music_s, wanted - mix.pre_roll_s - spoken)
            track_at, played = place_track(segment.cue, mix.pre_roll_s, spoken, clear_s, tail, mix)
            track_start = cursor + track_at
            end = track_start + played
        else:
            end = cursor + on_bar_line(wanted, segment.cue.bpm,
                                       earliest_s=mix.pre_roll_s + spoken + min(music, mix.min_music_s))
        entries.append(
            TimelineEntry(
                segment_id=segment.id,
                start_s=round(cursor, 4),
                speech_start_s=round(speech_start, 4),
                speech_end_s=round(speech_start + spoken, 4),
                end_s=round(end, 4),
                music_s=round(end - cursor + tail, 4),
                crossfade_s=round(tail, 4),
                track_start_s=None if track_start is None else round(track_start, 4),
            )
        )
        cursor = end
    return Timeline(entries=entries, duration_s=round(cursor, 4), music_scale=scale)


def beat_crossfade_s(bpm: float, longest_s: float) -> float:
    """Whole beats of the outgoing bed, as many as fit in longest_s (one beat at least, if it fits)."""
    beat = 60.0 / bpm
    return math.floor(longest_s / beat) * beat if longest_s >= beat else longest_s


def on_bar_line(length_s: float, bpm: float, earliest_s: float) -> float:
    """The bar line of a bed (at bpm, downbeat at 0) nearest length_s, not before earliest_s: the next
    bed's first downbeat then lands on this bed's bar line, so the crossfade stays in time."""
    bar = 240.0 / bpm
    return max(round(length_s / bar), math.ceil(earliest_s / bar - 1e-9)) * bar


def place_track(cue: MusicCue, pre_roll_s: float, spoken_s: float, clear_s: float, tail_s: float,
                mix: MixSettings) -> tuple[float, float]:
    """(where the track enters, from the bed's start; how long it plays before the segment ends).

    The entry is talk_over_s before the speech ends, moved to the nearest bar line of the bridge
    (which is at the cue's tempo, from 0) minus the track's first downbeat, so the two grids meet.
    The play length ends on the track's own bar line nearest the planned end, leaving the crossfade
    tail inside the track."""
    track = cue.track
    speech_end = pre_roll_s + spoken_s
    track_at = max(0.0, speech_end - min(mix.talk_over_s, spoken_s))
    bridge_bar = 240.0 / cue.bpm
    if track.bpm:
        bars = max(0, round((track_at + track.first_beat_s) / bridge_bar))
        track_at = bars * bridge_bar - track.first_beat_s
        while track_at < 0:
            track_at += bridge_bar
    wanted = speech_end + clear_s - track_at
    longest = track.duration_s - tail_s - 0.05
    played = min(wanted, longest)
    if track.bar_s:
        bars = math.floor((longest - track.first_beat_s) / track.bar_s)
        played = track.first_beat_s + min(bars, max(1, round((wanted - track.first_beat_s) / track.bar_s))) * track.bar_s
    # The DJ must finish before the segment ends, whatever the track's length.
    return track_at, max(played, speech_end - track_at + 1.0)


def spoken_segments(speech: list[SpeechClip], timeline: Timeline) -> list[SpokenSegment]:
    """Each segment's sentences in episode time."""
    return [SpokenSegment(segment_id=clip.segment_id, speech_start_s=entry.speech_start_s,
                          speech_end_s=entry.speech_end_s,
                          sentences=[TimedText(start_s=entry.speech_start_s + s.start_s,
                                               end_s=entry.speech_start_s + s.end_s, text=s.text, speaker=s.speaker)
                                     for s in clip.sentences])
            for clip, entry in zip(speech, timeline.entries)]

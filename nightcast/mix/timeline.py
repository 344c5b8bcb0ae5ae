"""Plan where every segment sits, from the real speech lengths, so the episode hits its target length.

Each segment: music alone (pre-roll) → DJ over the ducked bed → music in the clear → crossfade
into the next segment's bed. Music-in-the-clear absorbs the difference between what the voice
actually took and the format's target, within [min_music_s, 2.5 × the slot's nominal].
"""

from __future__ import annotations

from nightcast.schema import MixSettings, Script, SpeechClip, Timeline, TimelineEntry

FINAL_FADE_S = 4.0


def plan_timeline(script: Script, speech: list[SpeechClip], mix: MixSettings, target_duration_s: float) -> Timeline:
    by_id = {clip.segment_id: clip for clip in speech}
    speech_s = [by_id[s.id].duration_s if s.id in by_id else 0.0 for s in script.segments]
    nominal = [s.cue.duration_s for s in script.segments]
    fixed = sum(mix.pre_roll_s + d for d in speech_s)
    scale = max(0.0, target_duration_s - fixed) / sum(nominal) if sum(nominal) else 0.0
    clear = [min(max(n * scale, mix.min_music_s), max(n * 2.5, mix.min_music_s)) for n in nominal]

    entries: list[TimelineEntry] = []
    cursor = 0.0
    last = len(script.segments) - 1
    for index, (segment, spoken, music) in enumerate(zip(script.segments, speech_s, clear)):
        speech_start = cursor + mix.pre_roll_s
        end = speech_start + spoken + music
        tail = 0.0 if index == last else mix.crossfade_s
        entries.append(
            TimelineEntry(
                segment_id=segment.id,
                start_s=round(cursor, 4),
                speech_start_s=round(speech_start, 4),
                speech_end_s=round(speech_start + spoken, 4),
                end_s=round(end, 4),
                music_s=round(end - cursor + tail, 4),
            )
        )
        cursor = end
    return Timeline(entries=entries, duration_s=round(cursor, 4))

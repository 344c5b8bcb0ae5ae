"""What a re-render of an episode made again, segment by segment, and why: the manifest's `changes`."""

from __future__ import annotations

from nightcast.schema import EpisodeManifest, Script, SegmentChange, Timeline


def what_changed(previous: tuple[EpisodeManifest, Script] | None, script: Script,
                 timeline: Timeline) -> list[SegmentChange] | None:
    """Each segment whose speech or bed differs from the episode's previous render; None for a first render."""
    if previous is None:
        return None
    manifest, old_script = previous
    old_segments = {s.id: s for s in old_script.segments}
    old_entries = {e.segment_id: e for e in manifest.timeline.entries} if manifest.timeline else {}
    entries = {e.segment_id: e for e in timeline.entries}
    last = script.segments[-1].id if script.segments else None
    changes = []
    for segment in script.segments:
        old, entry, old_entry = old_segments.get(segment.id), entries[segment.id], old_entries.get(segment.id)
        why = []
        spoken_again = old is None or old.text != segment.text or old.lines != segment.lines
        if old is None:
            why.append("a new segment")
        elif spoken_again:
            why.append("its words changed")
        bed_again = old is None or old_entry is None or old.cue != segment.cue or \
            round(old_entry.music_s, 3) != round(entry.music_s, 3)
        if old is not None and old.cue != segment.cue:
            why.append("its music cue changed")
        elif old is not None and old_entry is None:
            why.append("the previous render kept no timeline to compare with")
        elif old_entry is not None and bed_again:
            said = round(entry.speech_end_s - entry.speech_start_s, 2)
            was = round(old_entry.speech_end_s - old_entry.speech_start_s, 2)
            because = ("its speech is longer or shorter" if said != was else
                       "the episode's length was planned again" if manifest.timeline.music_scale != timeline.music_scale
                       else "the last bed takes up the others' rounding" if segment.id == last else "its place moved")
            why.append(f"its bed is {entry.music_s:.1f} s, was {old_entry.music_s:.1f} s: {because}")
        if spoken_again or bed_again:
            changes.append(SegmentChange(segment_id=segment.id, spoken_again=spoken_again, bed_again=bed_again,
                                         why=why))
    return changes

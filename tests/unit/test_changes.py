"""What a re-render reports it made again: the manifest's `changes`, from the previous render and this one."""

from __future__ import annotations

import datetime as dt

from nightcast.publish.changes import what_changed
from nightcast.schema import EpisodeManifest, Loudness, MusicCue, Script, Segment, SegmentKind, Timeline, TimelineEntry

CUE = MusicCue(prompt="p", style="jazz", mood="calm", bpm=90, key="A minor", duration_s=10)


def script(*texts: str, mood: str = "calm") -> Script:
    return Script(episode_id="2026-11-23-x", listener_id="maya", template_id="x", date=dt.date(2026, 11, 23),
                  local_time=dt.time(23, 15), title="t", writer="template", segments=[
                      Segment(id=f"s0{i + 1}-pick", kind=SegmentKind.pick, title="T", speaker="host", text=text,
                              word_budget=40, cue=CUE.model_copy(update={"mood": mood}))
                      for i, text in enumerate(texts)])


def timeline(*speech_s: float, music_s: float = 20.0, scale: float = 1.0) -> Timeline:
    entries, at = [], 0.0
    for i, spoken in enumerate(speech_s):
        entries.append(TimelineEntry(segment_id=f"s0{i + 1}-pick", start_s=at, speech_start_s=at + 2,
                                     speech_end_s=at + 2 + spoken, end_s=at + music_s, music_s=music_s + spoken,
                                     crossfade_s=1.0))
        at += music_s
    return Timeline(entries=entries, duration_s=at, music_scale=scale)


def previous(words: Script, placed: Timeline):
    manifest = EpisodeManifest(nightcast_version="0", episode_id=words.episode_id, listener_id="maya",
                               listener_name="Maya", template_id="x", title="t", date=words.date,
                               created_at=dt.datetime.now(dt.timezone.utc), backends={}, stage_timings_s={},
                               duration_s=placed.duration_s, chapters=[], files={},
                               loudness=Loudness(integrated_lufs=-16, true_peak_dbtp=-1, loudness_range_lu=5),
                               timeline=placed)
    return manifest, words


def test_a_first_render_has_no_changes():
    assert what_changed(None, script("a", "b"), timeline(5, 5)) is None


def test_an_unchanged_re_render_changes_nothing():
    assert what_changed(previous(script("a", "b"), timeline(5, 5)), script("a", "b"), timeline(5, 5)) == []


def test_new_words_are_spoken_again_and_their_bed_follows_their_length():
    [change] = what_changed(previous(script("a", "b"), timeline(5, 5)), script("a", "b b"), timeline(5, 7))
    assert change.segment_id == "s02-pick" and change.spoken_again and change.bed_again
    assert change.why == ["its words changed", "its bed is 27.0 s, was 25.0 s: its speech is longer or shorter"]


def test_a_new_mood_makes_every_bed_again_and_says_why():
    changes = what_changed(previous(script("a", "b"), timeline(5, 5)), script("a", "b", mood="wistful"),
                           timeline(5, 5))
    assert [(c.spoken_again, c.bed_again, c.why) for c in changes] == [(False, True, ["its music cue changed"])] * 2

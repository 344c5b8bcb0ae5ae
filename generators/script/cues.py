"""Music cues derived from the listener context: what the music stage plays under each segment."""

from __future__ import annotations

from nightcast.generators.script.context import ListenerContext, Pick
from nightcast.schema import MusicCue, SegmentKind, Slot
from nightcast.styles import STYLE_TEMPO

ROOTS = ("C", "D", "Eb", "E", "F", "G", "A", "Bb")


def music_cue(slot: Slot, ctx: ListenerContext, pick: Pick) -> MusicCue:
    calm_bpm, driving_bpm = STYLE_TEMPO[pick.style]
    energy = slot.energy
    if ctx.daypart in ("night", "evening") and slot.kind != SegmentKind.pick:
        energy *= 0.8
    bpm = round(calm_bpm + (driving_bpm - calm_bpm) * energy + ctx.rng.randint(-3, 3))
    mode = "major" if ctx.is_upbeat or (ctx.daypart == "morning" and energy > 0.5) else "minor"
    key = f"{ctx.rng.choice(ROOTS)} {mode}"
    record = pick.record if slot.kind == SegmentKind.pick else None
    if record is not None:  # the bed is the bridge into the listener's track: its tempo, its key
        bpm = round(_bridge_bpm(record.bpm)) if record.bpm else bpm
        key = record.key or key
        prompt = (f"{ctx.mood} {pick.genre} instrumental, {bpm} bpm, {key}, building into "
                  f"\u201c{record.title}\u201d by {record.artist}, {ctx.daypart} radio talk-up bed")
    else:
        prompt = (f"{ctx.mood} {pick.genre} instrumental, {bpm} bpm, {key}, "
                  f"in the spirit of {pick.artist}, {ctx.daypart} radio {slot.kind.value} bed")
    return MusicCue(
        prompt=prompt, style=pick.style, mood=ctx.mood, bpm=bpm, key=key, duration_s=slot.music_s, energy=energy,
        generator=slot.music, track=record,
    )


def _bridge_bpm(track_bpm: float) -> float:
    """The track's tempo, or its half/double time where that is outside what a bed can play."""
    while track_bpm > 200:
        track_bpm /= 2
    while track_bpm < 40:
        track_bpm *= 2
    return track_bpm

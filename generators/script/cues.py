"""Music cues derived from the listener context: what the music stage plays under each segment."""

from __future__ import annotations

from generators.script.context import STYLE_TEMPO, ListenerContext, Pick
from nightcast.schema import MusicCue, SegmentKind, Slot

ROOTS = ("C", "D", "Eb", "E", "F", "G", "A", "Bb")


def music_cue(slot: Slot, ctx: ListenerContext, pick: Pick) -> MusicCue:
    calm_bpm, driving_bpm = STYLE_TEMPO[pick.style]
    energy = slot.energy
    if ctx.daypart in ("night", "evening") and slot.kind != SegmentKind.pick:
        energy *= 0.8
    bpm = round(calm_bpm + (driving_bpm - calm_bpm) * energy + ctx.rng.randint(-3, 3))
    mode = "major" if ctx.is_upbeat or (ctx.daypart == "morning" and energy > 0.5) else "minor"
    key = f"{ctx.rng.choice(ROOTS)} {mode}"
    prompt = (
        f"{ctx.mood} {pick.genre} instrumental, {bpm} bpm, {key}, "
        f"in the spirit of {pick.artist}, {ctx.daypart} radio {slot.kind.value} bed"
    )
    return MusicCue(
        prompt=prompt, style=pick.style, mood=ctx.mood, bpm=bpm, key=key, duration_s=slot.music_s, energy=energy,
        generator=slot.music,
    )

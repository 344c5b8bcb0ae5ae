"""The one interface every music generator implements: a cue and a length in, a clip out."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from nightcast.audio import Clip
from nightcast.schema import MusicCue


@runtime_checkable
class MusicGenerator(Protocol):
    name: str
    sample_rate: int

    def generate(self, cue: MusicCue, duration_s: float, *, seed: int = 0) -> Clip:
        """Return exactly duration_s of music for the cue, starting on a downbeat, with a riser
        building into its last crossfade so the next section lands on a fresh downbeat."""
        ...

    def version(self) -> str: ...

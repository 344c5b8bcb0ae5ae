"""The one interface every music generator implements: a cue and a length in, a clip out.

What a generator can do is declared here, on the class, with defaults; the stage and the flows read
these class attributes and never probe an instance (loading one may load a model).
"""

from __future__ import annotations

from typing import ClassVar

from nightcast.audio import Clip
from nightcast.schema import MusicCue
from nightcast.settings import Settings


class MusicGenerator:
    name: ClassVar[str]
    sample_rate: int
    runs_on_gpu: ClassVar[bool] = False  # a heavy stage: the GPU slot, and the gpu pool with gpu_dispatch: pool
    batches: ClassVar[bool] = False  # generate_many does better than one generate per cue (one batched call)
    takes_melody: ClassVar[bool] = False  # conditions on a melody (a library track's opening, stems)
    model_name: str | None = None  # the checkpoint or stems folder it was made with, for the manifest

    @classmethod
    def check(cls, settings: Settings) -> None:
        """Fail before a render starts, naming the option to fix, if these settings cannot work."""

    def generate(self, cue: MusicCue, duration_s: float, *, seed: int = 0) -> Clip:
        """Return exactly duration_s of music for the cue, starting on a downbeat, with a riser
        building into its last crossfade so the next section lands on a fresh downbeat."""
        raise NotImplementedError

    def generate_many(self, cues: list[MusicCue], durations_s: list[float], *, seeds: list[int]) -> list[Clip]:
        """Many beds, each with its own seed; generators that batch (`batches = True`) override this
        with batched calls. Either way a bed depends on its cue, length and seed only, never on the
        others in the call: the nightly run batches beds across listeners and caches each."""
        return [self.generate(cue, d, seed=seed) for cue, d, seed in zip(cues, durations_s, seeds)]

    def version(self) -> str:
        raise NotImplementedError

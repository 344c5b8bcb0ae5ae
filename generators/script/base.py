"""The script writer interface: ScriptRequest in, validated Script out, for every backend.

LLM writers (llama.cpp, transformers, OpenAI-compatible) receive the same request, including the
derived ListenerContext, and must return a Script that passes the same validation.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from nightcast.generators.script.memory import EpisodeMemory
from nightcast.schema import EpisodeTemplate, ListenerProfile, ListenerRequest, Script, Steering, TrackRef
from nightcast.settings import Settings


class CoHost(BaseModel):
    """The second voice of a two-host format."""

    model_config = ConfigDict(frozen=True)
    voice: str  # voice preset id: what the script writes as a line's speaker
    name: str  # on-air name, what the other host calls them


class ScriptRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    profile: ListenerProfile
    template: EpisodeTemplate
    date: dt.date
    episode_id: str
    speaker: str  # voice preset id
    words_per_minute: float  # the preset's speaking rate: turns seconds into word budgets
    memory: EpisodeMemory | None = None  # recent episodes, to avoid repeats and call back
    host_name: str = "your host"  # the host voice's on-air name
    cohost: CoHost | None = None  # set when the format has dialogue slots: they become two-host turns
    library: list[TrackRef] | None = None  # the listener's own tracks: pick slots introduce and play them
    steering: Steering = Steering()  # the listener's requests and feedback for this episode

    def recalled(self) -> EpisodeMemory:
        return self.memory or EpisodeMemory(today=self.date)


class ScriptWriter:
    """What every writer is. What a writer can do is declared on the class, with defaults."""

    name: ClassVar[str]
    batches: ClassVar[bool] = False  # write_many batches prompts across listeners (LLM writers)
    runs_on_gpu: ClassVar[bool] = False  # a local model on the GPU: the nightly's script phase holds the GPU slot
    reads_requests: ClassVar[bool] = False  # its model reads listeners' requests (else the offline reader does)

    @classmethod
    def check(cls, settings: Settings) -> None:
        """Fail before a render starts, naming the option to fix (InputError), if these settings cannot work."""

    def write(self, request: ScriptRequest) -> Script:
        raise NotImplementedError

    def write_many(self, requests: list[ScriptRequest]) -> list[Script]:
        """Many scripts at once (the nightly run); writers that batch override this."""
        return [self.write(r) for r in requests]

    def read_request(self, text: str, profile: ListenerProfile, library: list[TrackRef] | None) -> ListenerRequest:
        """What a listener's request asks of their next episode; the offline reader by default."""
        from nightcast.steering.interpret import interpret

        return interpret(text, profile, library)

    def model(self) -> str | None:
        """The model that writes, for the manifest; None for the embedded writer."""
        return None

    def version(self) -> str:
        raise NotImplementedError


def word_budget(speech_s: float, words_per_minute: float) -> int:
    return int(speech_s * words_per_minute / 60)

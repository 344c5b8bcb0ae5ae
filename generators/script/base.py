"""The script writer interface: ScriptRequest in, validated Script out, for every backend.

LLM writers (llama.cpp, transformers, OpenAI-compatible) receive the same request, including the
derived ListenerContext, and must return a Script that passes the same validation.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from nightcast.schema import EpisodeTemplate, ListenerProfile, Script


class ScriptRequest(BaseModel):
    model_config = ConfigDict(frozen=True)
    profile: ListenerProfile
    template: EpisodeTemplate
    date: dt.date
    episode_id: str
    speaker: str  # voice preset id
    words_per_minute: float  # the preset's speaking rate: turns seconds into word budgets


@runtime_checkable
class ScriptWriter(Protocol):
    name: str

    def write(self, request: ScriptRequest) -> Script: ...

    def version(self) -> str: ...


def word_budget(speech_s: float, words_per_minute: float) -> int:
    return int(speech_s * words_per_minute / 60)

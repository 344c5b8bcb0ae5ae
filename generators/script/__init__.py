"""Script stage: ListenerProfile + EpisodeTemplate → Script, by a writer chosen by name.

`template` is the embedded CPU writer and every LLM writer's fallback; `llamacpp`, `transformers`
and `openai` write each segment with an LLM (generators/script/llm/).
"""

from __future__ import annotations

import datetime as dt
import functools

from nightcast.episode_store import episode_id
from nightcast.generators.script.base import CoHost, ScriptRequest, ScriptWriter, word_budget
from nightcast.generators.script.facts import ListenerData, fact_ledger
from nightcast.generators.script.memory import EpisodeMemory, recall
from nightcast.registry import Registry
from nightcast.schema import EpisodeTemplate, ListenerProfile, Script, Steering, TrackRef
from nightcast.settings import Settings

WRITERS = Registry("script writer", {
    "template": "nightcast.generators.script.template_writer:TemplateWriter",
    "llamacpp": "nightcast.generators.script.llm.llamacpp:LlamaCppWriter",
    "transformers": "nightcast.generators.script.llm.transformers_lm:TransformersWriter",
    "openai": "nightcast.generators.script.llm.openai_chat:OpenAIWriter",
})

__all__ = ["WRITERS", "CoHost", "ScriptRequest", "ScriptWriter", "load_writer", "script_request", "word_budget",
           "write_script", "write_scripts"]


@functools.lru_cache(maxsize=4)
def load_writer(settings: Settings) -> ScriptWriter:
    """One writer per configuration, kept: an LLM loads its weights once per process."""
    return WRITERS.create(settings.writer, templates_dir=settings.templates_dir, settings=settings)


def script_request(profile: ListenerProfile, template: EpisodeTemplate, date: dt.date, *, speaker: str,
                   words_per_minute: float, settings: Settings, memory: EpisodeMemory | None = None,
                   host_name: str | None = None, cohost: CoHost | None = None,
                   library: list[TrackRef] | None = None, steering: Steering | None = None) -> ScriptRequest:
    """`steering`: the listener's requests and feedback; what they asked to leave out joins the
    profile's avoid list, so every writer's avoid rules apply to it."""
    from nightcast.generators.script.context import steered_profile

    if memory is None:
        memory = recall(settings.outputs_dir, profile.id, date, settings.memory_days)
    steering = steering or Steering()
    return ScriptRequest(profile=steered_profile(profile, steering), template=template, date=date,
                         episode_id=episode_id(template.id, date), speaker=speaker, words_per_minute=words_per_minute,
                         memory=memory, host_name=host_name or speaker.capitalize(), cohost=cohost, library=library,
                         steering=steering)


def write_script(profile: ListenerProfile, template: EpisodeTemplate, date: dt.date, *, speaker: str,
                 words_per_minute: float, settings: Settings, memory: EpisodeMemory | None = None,
                 host_name: str | None = None, cohost: CoHost | None = None,
                 library: list[TrackRef] | None = None, steering: Steering | None = None) -> Script:
    """Script stage entry: one listener's script, remembering their recent episodes.

    `speaker` is the host's voice preset; with a `cohost`, the format's dialogue slots are written
    as turns between the two, each line carrying its speaker. With a `library` (the listener's own
    tracks), pick slots introduce and play tracks from it. `steering`: the listener's requests and
    feedback this episode answers."""
    request = script_request(profile, template, date, speaker=speaker, words_per_minute=words_per_minute,
                             settings=settings, memory=memory, host_name=host_name, cohost=cohost, library=library,
                             steering=steering)
    return write_scripts([request], settings)[0]


def write_scripts(requests: list[ScriptRequest], settings: Settings) -> list[Script]:
    """Many scripts in one go (the nightly run): LLM writers batch prompts across listeners. Each
    script carries its fact ledger: every sentence that states a listener fact, and what it rests on."""
    writer = load_writer(settings)
    scripts = writer.write_many(requests)
    return [Script.model_validate({**s.model_dump(), "writer_version": writer.version(),
                                   "facts": fact_ledger(s, ListenerData.of(r))}) for s, r in zip(scripts, requests)]

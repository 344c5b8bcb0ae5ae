"""Script stage: ListenerProfile + EpisodeTemplate → Script, by a writer chosen by name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from generators.script.base import ScriptRequest, ScriptWriter, word_budget
from nightcast.registry import Registry
from nightcast.schema import EpisodeTemplate, ListenerProfile, Script

WRITERS = Registry("script writer", {"template": "generators.script.template_writer:TemplateWriter"})

__all__ = ["WRITERS", "ScriptRequest", "ScriptWriter", "episode_id_for", "word_budget", "write_script"]


def episode_id_for(template: EpisodeTemplate, date: dt.date) -> str:
    return f"{date.isoformat()}-{template.id}"


def write_script(
    profile: ListenerProfile,
    template: EpisodeTemplate,
    date: dt.date,
    *,
    speaker: str,
    words_per_minute: float,
    writer: str = "template",
    templates_dir: Path,
) -> Script:
    """Script stage entry."""
    request = ScriptRequest(
        profile=profile,
        template=template,
        date=date,
        episode_id=episode_id_for(template, date),
        speaker=speaker,
        words_per_minute=words_per_minute,
    )
    backend: ScriptWriter = WRITERS.create(writer, templates_dir=templates_dir)
    return Script.model_validate(backend.write(request).model_dump())

"""What a render is asked to do: one model for the CLI's flags, the API's body and the Prefect UI's
form (the `render-episode` flow's parameters). Its field descriptions are the help text everywhere:
the CLI reads them for `--help`, the API's OpenAPI schema and Prefect's form show them as they are.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nightcast.settings import Settings


class Backends(BaseModel):
    """Which engines render an episode; an empty field keeps the configured choice, then the template's."""

    model_config = ConfigDict(extra="forbid")
    writer: str | None = Field(default=None, description="Script writer: template, llamacpp, transformers, openai.")
    writer_model: str | None = Field(default=None, description="GGUF file, model directory, or served model name.")
    writer_url: str | None = Field(default=None, description="OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1.")
    voice: str | None = Field(default=None, description="Voice preset, overriding the profile's.")
    music: str | None = Field(default=None, description="Music generator for every slot, overriding the template's.")
    music_model: str | None = Field(default=None, description="musicgen: a local MusicGen checkpoint directory.")
    music_stems: str | None = Field(default=None, description="stems: a folder of drums/bass/other/vocals files.")
    music_library: str | None = Field(default=None,
                                      description="The listener's own audio files: pick slots play tracks from it.")
    audio_format: Literal["mp3", "m4a", "opus"] | None = Field(
        default=None, description="Episode file: mp3 (default), m4a (AAC) or opus.")


class RenderRequest(BaseModel):
    """One episode to render. JSON-ready: it travels as flow-run parameters to whichever worker runs it."""

    model_config = ConfigDict(extra="forbid")
    listener: str = Field(description="A listener id in the profile store, or a path to a profile YAML file.")
    template: str | None = Field(default=None, description="Episode format (see `nightcast templates`); "
                                                           "default: the profile's.")
    date: dt.date | None = Field(default=None, description="Episode date YYYY-MM-DD; default: today in the "
                                                          "listener's time zone.")
    backends: Backends | None = Field(default=None, description="Engines for this render; empty fields keep the "
                                                                "configuration's choice.")
    qa: bool | None = Field(default=None, description="Check the episode (ASR + meters) before publishing it; "
                                                      "default: on (config qa.enabled).")

    def settings(self, outputs_dir: str | None = None) -> Settings:
        """The settings this render runs with: the configuration, with the request's choices on top."""
        settings = Settings.from_env(outputs_dir=outputs_dir, **(self.backends or Backends()).model_dump())
        if self.qa is not None:
            settings = settings.model_copy(update={"qa": settings.qa.model_copy(update={"enabled": self.qa})})
        return settings


OUT_DIR_HELP = "Output root (default: outputs/, or the outputs_dir setting)."


def help_for(field: str) -> str:
    """A request field's description: the one help text for its CLI option."""
    model = RenderRequest if field in RenderRequest.model_fields else Backends
    return model.model_fields[field].description or ""

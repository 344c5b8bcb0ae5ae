"""What a render is asked to do: one model for the CLI's flags, the API's body and the Prefect UI's
form (the `render-episode` flow's parameters). Its field descriptions are the help text everywhere:
the CLI reads them for `--help`, the API's OpenAPI schema and Prefect's form show them as they are;
a backend choice's description is its setting's (nightcast/settings.py), so it is written once.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nightcast.settings import Settings


def _described(field: str) -> str | None:
    """The setting's own description: a backend choice is documented once, where the setting is."""
    return Settings.model_fields[field].description


class Backends(BaseModel):
    """Which engines render an episode; an empty field keeps the configured choice, then the template's."""

    model_config = ConfigDict(extra="forbid")
    writer: str | None = Field(default=None, description=_described("writer"))
    writer_model: str | None = Field(default=None, description=_described("writer_model"))
    writer_url: str | None = Field(default=None, description=_described("writer_url"))
    voice: str | None = Field(default=None, description=_described("voice"))
    music: str | None = Field(default=None, description=_described("music"))
    music_model: str | None = Field(default=None, description=_described("music_model"))
    music_stems: str | None = Field(default=None, description=_described("music_stems"))
    music_library: str | None = Field(default=None, description=_described("music_library"))
    audio_format: Literal["mp3", "m4a", "opus"] | None = Field(default=None, description=_described("audio_format"))


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
    request: str | None = Field(default=None, max_length=500,
                                description="The listener's request for this episode, in their words (e.g. 'more "
                                            "Alice Coltrane, keep the talking short'); kept with their other requests.")

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

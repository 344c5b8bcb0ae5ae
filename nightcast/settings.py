"""Where things live and which backends run: parsed once at the edge, passed down typed.

Every field can be overridden by an environment variable NIGHTCAST_<FIELD> (e.g.
NIGHTCAST_WRITER=template, NIGHTCAST_OUTPUTS_DIR=/srv/episodes).
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    templates_dir: Path = PROJECT_ROOT / "templates"
    profiles_dir: Path = PROJECT_ROOT / "profiles"
    presets_dir: Path = PROJECT_ROOT / "voices" / "presets"
    outputs_dir: Path = Path("outputs")
    writer: str = "template"
    music: str | None = None  # None: the template's music_backend
    voice: str | None = None  # None: the profile's preset

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        values = {}
        for name in cls.model_fields:
            env = os.environ.get(f"NIGHTCAST_{name.upper()}")
            if env:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

"""DJ personas as data: voices/presets/*.yaml → VoicePreset → engine + effect chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from nightcast.data_files import load_named, names_in
from nightcast.schema import Name

# Only these may appear in a preset's chain: pedalboard plugins, and our DeEsser (pedalboard has
# none); kwargs pass straight through.
ALLOWED_EFFECTS = {
    "HighpassFilter", "LowpassFilter", "HighShelfFilter", "LowShelfFilter", "PeakFilter",
    "Compressor", "Gain", "Limiter", "NoiseGate", "Reverb", "DeEsser",
}


class Effect(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: str
    params: dict[str, float] = Field(default_factory=dict)

    @field_validator("type")
    @classmethod
    def _allowed(cls, value: str) -> str:
        if value not in ALLOWED_EFFECTS:
            raise ValueError(f"unknown effect '{value}'; allowed: {', '.join(sorted(ALLOWED_EFFECTS))}")
        return value


class VoicePreset(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: Name
    display_name: str
    on_air_name: str | None = Field(default=None, max_length=40,
                                    description="What a co-host calls this voice; the display name's first word by default.")
    description: str = ""
    engine: str
    model: str | None = None
    speaker: str | None = None
    speed: float = Field(default=1.0, gt=0.5, le=2.0)
    words_per_minute: float = Field(default=160, ge=80, le=260, description="Measured rate; sets word budgets.")
    pitch_semitones: float = Field(default=0.0, ge=-12, le=12,
                                   description="Shift after synthesis (pedalboard PitchShift): a new persona from one model.")
    sentence_pause_ms: float = Field(default=250, ge=0, le=2000)
    gain_db: float = Field(default=0.0, ge=-24, le=24)
    effects: list[Effect] = Field(default_factory=list)
    pronunciations: dict[str, str] = Field(default_factory=dict)

    @property
    def host_name(self) -> str:
        return self.on_air_name or self.display_name.split("—")[0].split()[0]


def preset_names(presets_dir: Path) -> list[str]:
    return names_in(presets_dir)


def load_preset(name: str, presets_dir: Path) -> VoicePreset:
    return load_named(name, presets_dir, VoicePreset, "voice preset", "voice")


class SpeechChain:
    """The preset's effects in order: runs of pedalboard plugins as one Pedalboard, our own stages between."""

    def __init__(self, stages: list[Any]):
        self.stages = stages

    def __call__(self, samples: np.ndarray, sample_rate: float) -> np.ndarray:
        for stage in self.stages:
            samples = stage(samples, sample_rate)
        return samples


def effect_chain(preset: VoicePreset) -> SpeechChain:
    import pedalboard

    from nightcast.voices.deesser import DeEsser

    stages: list[Any] = []
    plugins = [pedalboard.PitchShift(semitones=preset.pitch_semitones)] if preset.pitch_semitones else []
    for effect in preset.effects:
        if effect.type == "DeEsser":
            stages += [pedalboard.Pedalboard(plugins)] if plugins else []
            stages.append(DeEsser(**effect.params))
            plugins = []
        else:
            plugins.append(getattr(pedalboard, effect.type)(**effect.params))
    stages += [pedalboard.Pedalboard(plugins)] if plugins else []
    return SpeechChain(stages)

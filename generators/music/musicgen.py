"""MusicGen through transformers (`MusicgenForConditionalGeneration`): the GPU path for beds.

Loads a local checkpoint directory (musicgen-small / medium / large, or any directory with the
same layout). Every bed of an episode goes through `generate_many`, so the music stage makes one
batched `generate` call per `musicgen.batch_size` cues (the nightly run batches across episodes
the same way). fp16 on a GPU, fp32 on CPU (which works, slowly). Prompts are the cue's: mood,
genre, tempo, key, the featured artist's spirit, time of day. MusicGen writes at most
`max_chunk_s` at once; a longer bed loops its chunk with equal-power crossfades.

A MusicGen-Melody checkpoint (model_type musicgen_melody) loads as
`MusicgenMelodyForConditionalGeneration` and is conditioned on a melody where one is at hand: the
opening of the library track a bridge leads into, else the melodic stems (--stems); other beds
in the same batch get the model's "no melody" input.
"""

from __future__ import annotations

import threading
from importlib.metadata import version
from pathlib import Path

import numpy as np

from nightcast.audio import Clip, decode_audio
from nightcast.errors import BackendUnavailableError, InputError
from nightcast.generators.music.base import MusicGenerator
from nightcast.generators.music.fitting import fit_bed, looped
from nightcast.schema import MusicCue
from nightcast.settings import MusicGenSettings, Settings

OUTPUT_RATE = 44_100
LOOP_CROSSFADE_S = 1.5


class MusicGenGenerator(MusicGenerator):
    name = "musicgen"
    takes_melody = True  # with a MusicGen-Melody checkpoint; other checkpoints ignore the melody
    batches = True  # generate_many: every bed of a batch in one generate call
    runs_on_gpu = True  # a heavy stage: the gpu pool and the nightcast-gpu limit (flows/gpu_stages.py)
    sample_rate = OUTPUT_RATE

    @staticmethod
    def _checkpoint_problem(settings: Settings) -> str | None:
        if not settings.music_model:
            return "the musicgen generator needs a local checkpoint directory"
        if not (Path(settings.music_model).expanduser() / "config.json").is_file():
            return f"'{settings.music_model}' is not a MusicGen checkpoint directory (no config.json)"
        return None

    @classmethod
    def check(cls, settings: Settings) -> None:
        """Before any work: the checkpoint directory must exist (InputError naming --music-model)."""
        problem = cls._checkpoint_problem(settings)
        if problem:
            raise InputError(problem, source="--music-model")

    def __init__(self, settings: Settings, **_unused):
        problem = self._checkpoint_problem(settings)
        if problem:
            raise BackendUnavailableError(f"{problem}: --music-model DIR")
        model = settings.music_model
        path = Path(model).expanduser()
        try:
            import torch  # noqa: F401
            from transformers import (
                AutoConfig,
                AutoTokenizer,
                MusicgenForConditionalGeneration,
                MusicgenMelodyForConditionalGeneration,
            )
        except ImportError as exc:
            raise BackendUnavailableError("musicgen needs torch and transformers: pip install 'nightcast[transformers]'") from exc
        from nightcast.devices import pick_device, pick_dtype

        self.options: MusicGenSettings = settings.musicgen
        self.device = pick_device(self.options.device)
        self.model_name = path.name
        try:
            self.melody = AutoConfig.from_pretrained(str(path)).model_type == "musicgen_melody"
            model_class = MusicgenMelodyForConditionalGeneration if self.melody else MusicgenForConditionalGeneration
            self._tokenizer = AutoTokenizer.from_pretrained(str(path))
            self._model = model_class.from_pretrained(
                str(path), dtype=pick_dtype(self.options.dtype, self.device, gpu_default="float16")).to(self.device).eval()
        except (OSError, ValueError, RuntimeError) as exc:
            raise BackendUnavailableError(f"transformers could not load the MusicGen model '{model}': {exc}") from exc
        self.native_rate = int(self._model.config.audio_encoder.sampling_rate)
        self.frame_rate = float(self._model.config.audio_encoder.frame_rate)
        self._lock = threading.Lock()  # one model; the flow's threads take turns
        self.melody_stems = Path(settings.music_stems).expanduser() if settings.music_stems else None

    def generate(self, cue: MusicCue, duration_s: float, *, seed: int = 0) -> Clip:
        return self.generate_many([cue], [duration_s], seed=seed)[0]

    def generate_many(self, cues: list[MusicCue], durations_s: list[float], *, seed: int = 0) -> list[Clip]:
        """One bed per cue, `batch_size` cues per generate call."""
        size = self.options.batch_size
        beds: list[Clip] = []
        for start in range(0, len(cues), size):
            chunk = list(zip(cues[start:start + size], durations_s[start:start + size]))
            seconds = min(max(d for _, d in chunk), self.options.max_chunk_s)
            melodies = [self.melody_for(cue, seconds) for cue, _ in chunk] if self.melody else None
            raw = self._generate([cue.prompt for cue, _ in chunk], seconds, seed + start, melodies)
            for (cue, duration), audio in zip(chunk, raw):
                clip = Clip.from_mono(audio[: round(min(duration, self.options.max_chunk_s) * self.native_rate)],
                                      self.native_rate)
                beds.append(fit_bed(looped(clip, duration, LOOP_CROSSFADE_S), duration, OUTPUT_RATE))
        return beds

    def melody_for(self, cue: MusicCue, seconds: float) -> np.ndarray | None:
        """32 kHz mono melody reference for a cue: the track it leads into, else the melodic stems."""
        from nightcast.generators.music.melody import RATE

        if cue.track is not None:
            return decode_audio(cue.track.path, RATE, 1, max_s=seconds).samples[:, 0]
        if self.melody_stems is not None:
            from nightcast.generators.music.stems import find_stems

            found = find_stems(self.melody_stems)
            parts = [decode_audio(found[n], RATE, 1, max_s=seconds).samples[:, 0] for n in ("other", "vocals") if n in found]
            if parts:
                length = min(len(p) for p in parts)
                return sum(p[:length] for p in parts)
        return None

    def _generate(self, prompts: list[str], seconds: float, seed: int,
                  melodies: list[np.ndarray | None] | None = None) -> list[np.ndarray]:
        import torch

        inputs = self._tokenizer(prompts, return_tensors="pt", padding=True).to(self.device)
        if melodies is not None:  # MusicGen-Melody: one chroma sequence per prompt, "no melody" where none
            from nightcast.generators.music.melody import melody_chroma, null_chroma

            frames = int(self._model.config.chroma_length)
            chroma = np.stack([null_chroma(frames) if m is None else melody_chroma(m, frames) for m in melodies])
            inputs["input_features"] = torch.from_numpy(chroma).to(self.device, self._model.dtype)
        tokens = int(np.ceil(seconds * self.frame_rate)) + 1
        options = self.options
        with self._lock, torch.inference_mode():
            torch.manual_seed(seed)
            audio = self._model.generate(**inputs, do_sample=True, guidance_scale=options.guidance_scale,
                                         temperature=options.temperature, top_k=options.top_k, max_new_tokens=tokens)
        return [a for a in audio[:, 0].float().cpu().numpy()]  # (batch, channel 0, samples)

    def version(self) -> str:
        import torch

        kind = " (melody-conditioned)" if self.melody else ""
        return f"transformers {version('transformers')}; torch {torch.__version__}; {self.model_name}{kind} on {self.device}"

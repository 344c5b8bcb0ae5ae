"""MusicGen through transformers (`MusicgenForConditionalGeneration`): the GPU path for beds.

Loads a local checkpoint directory (musicgen-small / medium / large, or any directory with the
same layout). Every bed of an episode goes through `generate_many`: beds sorted by length,
`musicgen.batch_size` per batch, through nightcast's decoding loop (musicgen_decoding.py), where
each bed depends on its prompt, length and seed only, so the nightly run batches beds across
listeners (flows/nightly.py) and each still sounds as it would alone. fp16 on a GPU, fp32 on CPU
(which works, slowly). Prompts are the cue's: mood, genre, tempo, key, the featured artist's
spirit, time of day. MusicGen writes at most `max_chunk_s` at once; a longer bed loops its chunk
with equal-power crossfades.

A MusicGen-Melody checkpoint (model_type musicgen_melody) loads as
`MusicgenMelodyForConditionalGeneration` and is conditioned on a melody where one is at hand: the
opening of the library track a bridge leads into, else the melodic stems (--stems); other beds
in the same batch get the model's "no melody" input. Its conditioning does not go through
nightcast's loop yet, so a melody checkpoint generates one bed per stock `generate` call.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import numpy as np

from nightcast.audio import Clip, decode_audio
from nightcast.batching import Batcher
from nightcast.errors import BackendUnavailableError, InputError
from nightcast.generators.music.base import MusicGenerator
from nightcast.generators.music.fitting import fit_bed, looped
from nightcast.generators.music.musicgen_decoding import CPU_DECODE_LIMIT, INDEX_LIMIT, Sampling
from nightcast.schema import MusicCue
from nightcast.settings import MusicGenSettings, Settings

OUTPUT_RATE = 44_100
LOOP_CROSSFADE_S = 1.5


def _fitted(clip: Clip, duration_s: float) -> Clip:
    return fit_bed(looped(clip, duration_s, LOOP_CROSSFADE_S), duration_s, OUTPUT_RATE)


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
        from nightcast.devices import out_of_memory_errors, pick_device, pick_dtype, release_memory

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
        self.sampling = Sampling(guidance_scale=self.options.guidance_scale, temperature=self.options.temperature,
                                 top_k=self.options.top_k, rng=self.options.sampler)
        self.on_cuda = str(self.device).startswith("cuda")
        self.decoder_step = self._decoder_step(self.options.decoder_step)
        self.decode_limit = INDEX_LIMIT if self.on_cuda else CPU_DECODE_LIMIT
        self.batcher = Batcher(self.options.batch_size, too_big=out_of_memory_errors(),
                               release=lambda: release_memory(self.device), what="beds")

    def _decoder_step(self, asked: str) -> str:
        """The decoder step this model and device run: `asked`, or for auto the fastest that applies."""
        from nightcast.generators.music.musicgen_step import unsupported_because

        why = None if self.melody else unsupported_because(self._model)
        if asked == "auto":
            return "stock" if why else ("graph" if self.on_cuda else "static")
        if asked != "stock" and why:
            raise BackendUnavailableError(f"musicgen.decoder_step: {asked} cannot run '{self.model_name}': {why}")
        if asked == "graph" and not self.on_cuda:
            raise BackendUnavailableError(f"musicgen.decoder_step: graph needs a CUDA device, not {self.device}")
        return asked

    def generate(self, cue: MusicCue, duration_s: float, *, seed: int = 0) -> Clip:
        return self.generate_many([cue], [duration_s], seeds=[seed])[0]

    def generate_many(self, cues: list[MusicCue], durations_s: list[float], *, seeds: list[int]) -> list[Clip]:
        """One bed per cue. Beds are sorted by length and generated `batch_size` at a time, so a
        batch holds beds of about one length (an 8 s bed is not generated for 28 s); a batch the GPU
        has no memory for runs again in halves (nightcast/batching.py)."""
        seconds = [min(d, self.options.max_chunk_s) for d in durations_s]
        # Looping, resampling and metering a bed is CPU work: it runs on every core while the model
        # makes the next batch, not on the model's time (on a GPU worker the GPU would wait for it).
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="fit-bed") as fitting:
            def generate(batch: list[int]) -> list[Future]:
                waves = self._generate([cues[i] for i in batch], [seconds[i] for i in batch], [seeds[i] for i in batch])
                return [fitting.submit(_fitted, Clip.from_mono(wave[: round(seconds[i] * self.native_rate)], self.native_rate),
                                       durations_s[i]) for i, wave in zip(batch, waves)]

            return [bed.result() for bed in self.batcher.run(seconds, generate)]

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

    def _generate(self, cues: list[MusicCue], seconds: list[float], seeds: list[int]) -> list[np.ndarray]:
        import torch

        from nightcast.generators.music.musicgen_decoding import decode_codes, frames_for, generate_codes

        if self.melody:  # its conditioning does not go through our loop: one bed per stock call
            return [self._generate_melody(cue, s, seed) for cue, s, seed in zip(cues, seconds, seeds)]
        inputs = self._tokenizer([cue.prompt for cue in cues], return_tensors="pt", padding=True).to(self.device)
        codebooks = self._model.decoder.num_codebooks
        frames = [frames_for(s, self.frame_rate, codebooks) for s in seconds]
        with self._lock, torch.inference_mode():
            codes = generate_codes(self._model, inputs["input_ids"], inputs["attention_mask"], frames, seeds,
                                   self.sampling, step=self.decoder_step)
            return decode_codes(self._model.audio_encoder, codes, limit=self.decode_limit)

    def _generate_melody(self, cue: MusicCue, seconds: float, seed: int) -> np.ndarray:
        import torch

        from nightcast.generators.music.melody import melody_chroma, null_chroma

        inputs = self._tokenizer([cue.prompt], return_tensors="pt", padding=True).to(self.device)
        melody = self.melody_for(cue, seconds)
        frames = int(self._model.config.chroma_length)
        chroma = null_chroma(frames) if melody is None else melody_chroma(melody, frames)
        inputs["input_features"] = torch.from_numpy(chroma[None]).to(self.device, self._model.dtype)
        options = self.options
        with self._lock, torch.inference_mode():
            torch.manual_seed(seed)
            audio = self._model.generate(**inputs, do_sample=True, guidance_scale=options.guidance_scale,
                                         temperature=options.temperature, top_k=options.top_k,
                                         max_new_tokens=int(np.ceil(seconds * self.frame_rate)) + 1)
        return audio[0, 0].float().cpu().numpy()

    def version(self) -> str:
        import torch

        kind = " (melody-conditioned)" if self.melody else ""
        return (f"transformers {version('transformers')}; torch {torch.__version__}; {self.model_name}{kind} on "
                f"{self.device}; {self.decoder_step} decoder step")

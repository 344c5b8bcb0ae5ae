"""`transformers` writer: a local Hugging Face causal LM with a chat template, batched.

On a GPU it runs in bf16 (fp16 where bf16 is unsupported); on CPU in fp32. Prompts are padded on
the left and generated in batches of `generation.batch_size`, sorted by length so a batch wastes
little on padding: the nightly run writes every listener's segments through the same batches.
`generation.kv_cache: static` gives generate a fixed-size cache, which it compiles on a GPU.
A `.gguf` file works too (transformers dequantises it; needs the `gguf` package).
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from nightcast.batching import Batcher
from nightcast.devices import out_of_memory_errors, pick_device, pick_dtype, release_memory
from nightcast.errors import BackendUnavailableError, InputError
from nightcast.generators.script.llm.base import ChatRequest, Completion
from nightcast.generators.script.llm.writer import LLMWriter
from nightcast.sampling import row_keys, sample_rows
from nightcast.settings import GenerationSettings, Settings

STATIC_PAD_TO = 256  # generation.kv_cache static: prompt lengths are padded to a multiple of this


class TransformersClient:
    def __init__(self, model: str, generation: GenerationSettings):
        try:
            import torch  # noqa: F401
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendUnavailableError(
                "the transformers writer needs torch and transformers: pip install 'nightcast[llm]'") from exc
        self.generation = generation
        path = Path(model).expanduser()
        source, extra = (str(path.parent), {"gguf_file": path.name}) if path.suffix == ".gguf" else (model, {})
        self.model_name = path.name if path.exists() else model
        self.device = pick_device(generation.device)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, **extra)
            self.model = AutoModelForCausalLM.from_pretrained(
                source, dtype=pick_dtype(generation.dtype, self.device), **extra).to(self.device).eval()
        except (OSError, ValueError, ImportError, RuntimeError) as exc:
            raise BackendUnavailableError(f"transformers could not load '{model}': {exc}") from exc
        if not self.tokenizer.chat_template:
            raise BackendUnavailableError(f"'{model}' has no chat template; use an instruct/chat model")
        self.tokenizer.padding_side = "left"  # generation continues from the right edge of every row
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batcher = Batcher(generation.batch_size, too_big=out_of_memory_errors(),
                               release=lambda: release_memory(self.device), what="prompts")

    def version(self) -> str:
        import torch

        return f"transformers {version('transformers')}; torch {torch.__version__}; {self.device}"

    def complete(self, requests: list[ChatRequest], deadline: float | None = None) -> list[Completion | Exception]:
        prompts = [self.tokenizer.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
                   for r in requests]

        def generate(batch: list[int]) -> list[Completion | Exception]:
            try:
                return self._generate([prompts[i] for i in batch], [requests[i] for i in batch])
            except self.batcher.too_big:
                raise  # the batcher runs it again in halves
            except RuntimeError as exc:  # a bad device, a kernel's error: this batch fails, the writer falls back
                return [exc] * len(batch)

        # A prompt that does not fit even alone fails alone; the writer falls back for its segment.
        return self.batcher.run([len(prompt) for prompt in prompts], generate, failed_row=lambda exc: exc)

    def _generate(self, prompts: list[str], requests: list[ChatRequest]) -> list[Completion]:
        import torch

        gen = self.generation
        from transformers import LogitsProcessorList

        static = gen.kv_cache == "static"
        # A static cache is shaped by its batch: prompts padded to a few lengths and the cache sized for
        # max_new_tokens whatever the batch asks keep the shapes, and so the compiled steps, few.
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False,
                                 pad_to_multiple_of=STATIC_PAD_TO if static else None).to(self.device)
        processors = LogitsProcessorList()
        if gen.temperature > 0:
            processors.append(RowSampler([r.seed for r in requests], gen.temperature, gen.top_p, self.device))
        longest = max(r.max_tokens for r in requests)
        length = {"max_new_tokens": longest}
        if static:  # the cache sized for max_new_tokens, the batch stopped where its longest request ends
            length = {"cache_implementation": "static", "max_new_tokens": max(longest, gen.max_new_tokens),
                      "stopping_criteria": [StopAtLength(encoded["input_ids"].shape[1] + longest)]}
        with torch.inference_mode():  # greedy over the sampler's choice: a sampled row is its seed's draw
            output = self.model.generate(**encoded, pad_token_id=self.tokenizer.pad_token_id, do_sample=False,
                                         logits_processor=processors, **length)
        new_tokens = output[:, encoded["input_ids"].shape[1]:]
        completions = []
        for row, mask, request in zip(new_tokens, encoded["attention_mask"], requests):
            row = row[:request.max_tokens]  # the batch ran to its longest; this reply stops where it would alone
            generated = int((row != self.tokenizer.pad_token_id).sum())
            completions.append(Completion(text=self.tokenizer.decode(row, skip_special_tokens=True),
                                          prompt_tokens=int(mask.sum()), completion_tokens=generated))
        return completions


class StopAtLength:
    """Stops generate at `length` tokens, prompt included: a static cache is sized for more tokens
    than a batch may ask for (transformers' own length criterion would size the cache too)."""

    def __init__(self, length: int):
        self.length = length

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        return torch.full((input_ids.shape[0],), input_ids.shape[1] >= self.length, dtype=torch.bool,
                          device=input_ids.device)


class RowSampler:
    """Samples each row from its own seed (nightcast/sampling.py) and leaves only that token for
    greedy search to pick: a reply depends on its prompt and seed, not on the batch it shared
    (`generate`'s own sampling draws every row from one stream). The nightly run batches many
    listeners' segments together, so this is what keeps their scripts the same as alone."""

    def __init__(self, seeds: list[int], temperature: float, top_p: float, device):
        from transformers.generation.logits_process import TemperatureLogitsWarper, TopPLogitsWarper

        self.warpers = [TemperatureLogitsWarper(temperature), TopPLogitsWarper(top_p)]
        self.keys = row_keys(seeds, device)
        self.step = 0

    def __call__(self, input_ids, scores):
        import torch

        for warper in self.warpers:
            scores = warper(input_ids, scores)
        chosen = sample_rows(scores, self.keys, self.step)
        self.step += 1
        only = torch.full_like(scores, float("-inf"))
        return only.scatter_(1, chosen[:, None], 0.0)


class TransformersWriter(LLMWriter):
    name = "transformers"
    runs_on_gpu = True

    @classmethod
    def check(cls, settings: Settings) -> None:
        model = settings.writer_model
        if not model:
            raise InputError("the transformers writer needs a model directory (or a cached hub id)",
                             source="--writer-model")
        path = Path(model).expanduser()
        looks_local = path.exists() or model.startswith((".", "/", "~"))
        if looks_local and not (path.is_dir() and (path / "config.json").is_file() or path.suffix == ".gguf" and path.is_file()):
            raise InputError(f"'{model}' is not a model directory with a config.json (or a .gguf file)",
                             source="--writer-model")

    def make_client(self) -> TransformersClient:
        self.check(self.settings)
        return TransformersClient(self.settings.writer_model, self.settings.generation)

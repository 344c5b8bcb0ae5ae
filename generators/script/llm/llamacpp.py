"""`llamacpp` writer: a local GGUF model through llama-cpp-python, on CPU or offloaded to a GPU.

Decoding is constrained by a GBNF grammar compiled from the reply's JSON schema, so the model
cannot produce a structurally invalid reply; the content checks still apply. The model's own chat
template (from the GGUF metadata) formats the messages.
"""

from __future__ import annotations

import functools
import json
import threading
from importlib.metadata import version
from pathlib import Path

from nightcast.errors import BackendUnavailableError
from nightcast.generators.script.llm.base import ChatRequest, Completion
from nightcast.generators.script.llm.writer import LLMWriter, require_model_path
from nightcast.settings import Settings


class LlamaCppClient:
    def __init__(self, model_path: Path, settings: Settings):
        try:
            from llama_cpp import Llama, LlamaRAMCache
        except ImportError as exc:
            raise BackendUnavailableError(
                "the llamacpp writer needs llama-cpp-python: pip install 'nightcast[llamacpp]'") from exc
        gen = settings.generation
        self.generation = gen
        self.model_name = model_path.name
        try:
            self.llm = Llama(model_path=str(model_path), n_ctx=gen.n_ctx, n_gpu_layers=gen.n_gpu_layers,
                             n_threads=gen.n_threads, seed=gen.seed, verbose=False)
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailableError(f"llama.cpp could not load {model_path}: {exc}") from exc
        if gen.prompt_cache_mb:
            # llama.cpp's own context keeps only the last prompt; a repair repeats its segment's whole
            # prompt after the other segments' prompts have replaced it, and a regeneration repeats it exactly.
            self.llm.set_cache(LlamaRAMCache(capacity_bytes=gen.prompt_cache_mb << 20))
        self._lock = threading.Lock()  # one context, one sequence at a time

    def version(self) -> str:
        return f"llama-cpp-python {version('llama-cpp-python')}"

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def _grammar(schema_json: str):
        from llama_cpp import LlamaGrammar

        return LlamaGrammar.from_json_schema(schema_json, verbose=False)

    def complete(self, requests: list[ChatRequest], deadline: float | None = None) -> list[Completion | Exception]:
        # Requests with the same system prompt and few-shot turns back to back: llama.cpp keeps the
        # shared prefix in its KV cache, so only each request's own tail is evaluated.
        order = sorted(range(len(requests)), key=lambda i: [m["content"] for m in requests[i].messages[:-1]])
        replies: dict[int, Completion | Exception] = {i: self._complete_one(requests[i]) for i in order}
        return [replies[i] for i in range(len(requests))]

    def _complete_one(self, request: ChatRequest) -> Completion | Exception:
        grammar = self._grammar(json.dumps(request.schema))
        try:
            with self._lock:
                out = self.llm.create_chat_completion(
                    messages=request.messages, grammar=grammar, max_tokens=request.max_tokens,
                    temperature=self.generation.temperature, top_p=self.generation.top_p, seed=request.seed)
        except (ValueError, RuntimeError) as exc:  # e.g. the prompt does not fit n_ctx
            return exc
        usage = out.get("usage") or {}
        return Completion(text=out["choices"][0]["message"]["content"] or "",
                          prompt_tokens=usage.get("prompt_tokens", 0), completion_tokens=usage.get("completion_tokens", 0))


class LlamaCppWriter(LLMWriter):
    name = "llamacpp"

    @classmethod
    def check(cls, settings: Settings) -> None:
        require_model_path(settings, "a .gguf model file", directory=False)

    def make_client(self) -> LlamaCppClient:
        return LlamaCppClient(require_model_path(self.settings, "a .gguf model file", directory=False), self.settings)

"""The one interface every LLM backend implements: a batch of chat requests in, replies out.

A backend only turns messages into text. Prompting, validation, repair and fallback live in
`LLMWriter`, so llama.cpp, transformers and OpenAI-compatible servers behave identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class ChatRequest:
    messages: list[dict[str, str]]
    schema: dict  # JSON schema the reply must follow; backends that can constrain decoding use it
    max_tokens: int
    seed: int


@dataclass(frozen=True)
class Completion:
    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


@runtime_checkable
class LLMClient(Protocol):
    model_name: str

    def complete(self, requests: list[ChatRequest], deadline: float | None = None) -> list[Completion | Exception]:
        """One reply per request, in order. A request that failed (timeout, HTTP error, ...) comes
        back as its exception, so one bad request never costs the others their replies.
        `deadline` (time.monotonic()): a remote backend sends nothing after it and gives a request in
        flight no more than the time left; an in-process model, which cannot hang on a network, may
        ignore it."""
        ...

    def version(self) -> str: ...

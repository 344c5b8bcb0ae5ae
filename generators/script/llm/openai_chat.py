"""`openai` writer: any OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, hosted).

Uses the official `openai` client, one HTTP call per try: connection errors, 429 and 5xx are tried
again with exponential backoff (`http_retries`), a timeout is not. Replies are constrained with `response_format` JSON schema;
a server that rejects that (llama.cpp's Python server answers 500, others 400/422) gets
`json_object` with the schema beside it (llama.cpp's server turns that into a grammar), then plain
`json_object`, then no response_format — stepping down once per writer, not per request — and
validation catches whatever the server let through.

A dead or hung server costs seconds, not the night: every request goes through the server's circuit
breaker (shared by every render using the same cache folder; nightcast/breaker.py), and no request is
sent after the writer's deadline or given more than the time left before it.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version

from nightcast.breaker import CircuitBreaker, breaker_for
from nightcast.errors import BackendUnavailableError, InputError
from nightcast.generators.script.llm.base import ChatRequest, Completion
from nightcast.generators.script.llm.writer import LLMWriter
from nightcast.settings import Settings

NO_KEY = "not-needed"  # local servers ignore the key; the client insists on one
MODELS_TIMEOUT_S = 15.0  # listing models is instant on a live server
RETRY_BACKOFF_S = 0.5  # then 1 s, 2 s, ...


class CircuitOpen(Exception):
    """Not sent: the server's breaker is open."""


class PastDeadline(TimeoutError):
    """Not sent: the writer's time for this episode is spent."""


class OpenAIChatClient:
    def __init__(self, base_url: str, model: str | None, api_key: str | None, settings: Settings,
                 breaker: CircuitBreaker | None = None):
        from openai import OpenAI

        gen = settings.generation
        self.generation = gen
        self.breaker = breaker
        self.client = OpenAI(base_url=base_url, api_key=api_key or NO_KEY, timeout=gen.timeout_s,
                             max_retries=gen.http_retries)
        self.formats = ["json_schema", "json_object+schema", "json_object", None] if gen.json_schema else [None]
        self._lock = threading.Lock()
        self._flow = threading.Condition()  # see _admit
        self._in_flight, self._suspect = 0, False
        if breaker is not None and breaker.is_open():
            raise BackendUnavailableError(breaker.why_open())
        self.model_name = model or self._served_model()

    def _served_model(self) -> str:
        from openai import OpenAIError

        try:
            models = self.client.with_options(timeout=min(self.generation.timeout_s, MODELS_TIMEOUT_S),
                                              max_retries=0).models.list().data
        except OpenAIError as exc:
            if self.breaker is not None:
                self.breaker.record(False, f"{type(exc).__name__}: {exc}")
            raise BackendUnavailableError(f"cannot list models at {self.client.base_url}: {exc}") from exc
        if not models:
            raise BackendUnavailableError(f"{self.client.base_url} serves no models; pass --writer-model")
        return models[0].id

    def version(self) -> str:
        return f"openai {version('openai')}; {self.client.base_url}"

    def complete(self, requests: list[ChatRequest], deadline: float | None = None) -> list[Completion | Exception]:
        with ThreadPoolExecutor(max_workers=self.generation.concurrency) as pool:
            return list(pool.map(lambda request: self._guarded(request, deadline), requests))

    def _guarded(self, request: ChatRequest, deadline: float | None) -> Completion | Exception:
        """One request through the breaker, within the deadline. Each try is one HTTP call that the
        breaker hears about; a connection error, 429 or 5xx is tried again (http_retries, with
        backoff), a timeout is not: a server that did not answer in timeout_s will not in twice that."""
        gen = self.generation
        for attempt in range(gen.http_retries + 1):
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 1.0:
                return PastDeadline("the writer's time for this episode was spent before this request")
            self._admit()
            ok = False
            try:
                if self.breaker is not None and self.breaker.allow() == "open":
                    return CircuitOpen(self.breaker.why_open())
                timeout = gen.timeout_s if left is None else min(gen.timeout_s, left)
                reply = self._complete_one(request, self.client.with_options(timeout=timeout, max_retries=0))
                ok = not _server_failed(reply)
                if self.breaker is not None:
                    self.breaker.record(ok, f"{type(reply).__name__}: {reply}"[:300])
            finally:
                self._release(ok)
            if not _worth_retrying(reply) or attempt == gen.http_retries:
                return reply
            time.sleep(RETRY_BACKOFF_S * 2**attempt)
        return reply

    def _admit(self) -> None:
        """Start a request, but not while a failed one is unexplained by a later success and others
        are still out: against a hung server the whole first wave times out together, and without
        this the first threads back would send the next wave before the breaker had heard the rest."""
        with self._flow:
            while self._suspect and self._in_flight > 0:
                self._flow.wait()
            self._in_flight += 1

    def _release(self, ok: bool) -> None:
        with self._flow:
            self._in_flight -= 1
            self._suspect = not ok
            self._flow.notify_all()

    def _complete_one(self, request: ChatRequest, client) -> Completion | Exception:
        from openai import APIStatusError, OpenAIError

        while True:
            response_format = self.formats[0]
            try:
                response = client.chat.completions.create(
                    model=self.model_name, messages=request.messages, max_tokens=request.max_tokens,
                    temperature=self.generation.temperature, top_p=self.generation.top_p, seed=request.seed,
                    **_response_format(response_format, request.schema))
            except APIStatusError as exc:
                if response_format is None or not _rejects_format(exc):
                    return exc
                with self._lock:  # this server does not take that format: step down for every request
                    if self.formats and self.formats[0] == response_format:
                        self.formats.pop(0)
                continue
            except OpenAIError as exc:
                return exc
            if not response.choices or response.choices[0].message.content is None:
                return ValueError("the server returned no message content")
            usage = response.usage
            return Completion(text=response.choices[0].message.content,
                              prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                              completion_tokens=getattr(usage, "completion_tokens", 0) or 0)


def _worth_retrying(reply: Completion | Exception) -> bool:
    from openai import APITimeoutError, RateLimitError

    return not isinstance(reply, APITimeoutError) and (isinstance(reply, RateLimitError) or _server_failed(reply))


def _server_failed(reply: Completion | Exception) -> bool:
    """No answer, or a 5xx: what the breaker counts. A 4xx is the server answering."""
    from openai import APIStatusError

    if isinstance(reply, APIStatusError):
        return reply.status_code >= 500
    return isinstance(reply, Exception) and not isinstance(reply, ValueError)


def _rejects_format(exc) -> bool:
    return exc.status_code in (400, 422) or "response_format" in str(exc)


def _response_format(kind: str | None, schema: dict) -> dict:
    if kind == "json_object+schema":
        return {"response_format": {"type": "json_object", "schema": schema}}
    if kind == "json_schema":
        return {"response_format": {"type": "json_schema",
                                    "json_schema": {"name": "segment_draft", "schema": schema, "strict": True}}}
    if kind == "json_object":
        return {"response_format": {"type": "json_object"}}
    return {}


def is_loopback_url(url: str | None) -> bool:
    """Whether a server URL is on this machine's loopback: `localhost`, 127.0.0.0/8, ::1, or a name
    every address of which is loopback. Another address of this machine counts as remote (traffic
    to it can leave through a proxy or a forwarded port); a name that does not resolve too."""
    import ipaddress
    import socket
    from urllib.parse import urlsplit

    host = urlsplit(url or "").hostname
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addresses) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses)


class OpenAIWriter(LLMWriter):
    name = "openai"

    @classmethod
    def check(cls, settings: Settings) -> None:
        url = settings.writer_url
        if not url:
            raise InputError("the openai writer needs a server: pass --writer-url, e.g. http://127.0.0.1:8000/v1",
                             source="--writer-url")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"'{url}' is not an http(s) URL", source="--writer-url")

    def remote_address(self) -> str | None:
        return None if is_loopback_url(self.settings.writer_url) else self.settings.writer_url

    def make_client(self) -> OpenAIChatClient:
        try:
            import openai  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailableError("the openai writer needs the 'llm' extra: pip install 'nightcast[llm]'") from exc
        self.check(self.settings)
        return OpenAIChatClient(self.settings.writer_url, self.settings.writer_model, self.settings.api_key(),
                                self.settings, breaker=self.breaker())

    def breaker(self) -> CircuitBreaker:
        """One per server URL, shared by every render that uses this cache folder."""
        return breaker_for(self.settings, f"writer {self.name}", self.settings.writer_url)

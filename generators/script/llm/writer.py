"""LLMWriter: the template writer's plan, with each segment's words written by an LLM.

For each segment with words to say: generate → (rejected) one targeted repair turn quoting the
problem → (still rejected) regenerate from scratch with another seed → (still rejected) the
embedded writer's text for that segment, recorded in the script's `fallbacks`. A backend that
cannot load at all falls back for the whole script, also recorded. An episode never fails
because a model misbehaved.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from nightcast import __version__
from nightcast.errors import BackendUnavailableError, InputError
from nightcast.generators.script.base import ScriptRequest, ScriptWriter
from nightcast.generators.script.llm.base import ChatRequest, Completion, LLMClient
from nightcast.generators.script.llm.prompts import PromptSet, SegmentPrompt
from nightcast.generators.script.llm.reply_checks import Draft, DraftRejected, accept
from nightcast.generators.script.template_writer import ScriptPlan, TemplateWriter
from nightcast.schema import DataShared, ListenerProfile, ListenerRequest, Script, Segment, TrackRef, WriterFallback, WritingStats
from nightcast.settings import Settings

log = logging.getLogger(__name__)
REGENERATE_SEED_OFFSET = 7919
TOKENS_PER_WORD = 2  # generous: English runs ≈1.3 tokens a word in common tokenizers
TOKENS_PER_TURN = 12  # a conversation's JSON per line: {"speaker": "Name", "text": ...}
REQUEST_READING_TOKENS = 400  # a ListenerRequest's JSON with a few names in it


@dataclass
class _Job:
    """One segment's way through the attempts."""

    script: int
    segment: int
    prompt: SegmentPrompt
    seed: int
    attempts: list[str] = field(default_factory=list)
    draft: Draft | None = None
    last_reply: str | None = None
    problem: str = "no reply"


class LLMWriter(ScriptWriter):
    batches = True  # write_many sends every request's segments to the LLM together
    reads_requests = True
    name = "llm"  # subclasses: "llamacpp", "transformers", "openai"

    def __init__(self, templates_dir: Path, settings: Settings, client: LLMClient | None = None):
        self.templates_dir = Path(templates_dir)
        self.settings = settings
        self.fallback = TemplateWriter(templates_dir, settings)
        self._client = client

    # ---------------------------------------------------------------- backend hooks

    def make_client(self) -> LLMClient:
        raise NotImplementedError

    def client(self) -> LLMClient:
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def model(self) -> str | None:
        return self._client.model_name if self._client is not None else self.settings.writer_model

    def remote_address(self) -> str | None:
        """Where the listener's data goes when it leaves this machine (a server at a non-loopback
        address); None for a model in this process or on loopback."""
        return None

    def share_policy(self) -> str:
        """What a segment's data block carries: the whole of it unless it leaves this machine."""
        return self.settings.remote_share if self.remote_address() else "full"

    def version(self) -> str:
        try:
            return f"nightcast {__version__}; {self.client().version()}"
        except BackendUnavailableError:
            return f"nightcast {__version__}; unavailable"

    # ---------------------------------------------------------------- reading a listener's request

    def read_request(self, text: str, profile: ListenerProfile, library: list[TrackRef] | None) -> ListenerRequest:
        """The model reads the request, its answer constrained to a schema whose names are the
        listener's own (nightcast/steering/interpret.py); if it cannot, the offline reader does."""
        from nightcast.generators.script.llm.prompts import user_turn
        from nightcast.steering.interpret import Vocabulary, from_reply, interpret, request_schema

        if self.share_policy() == "minimal":  # the listener's own words stay on this machine
            return interpret(text, profile, library).model_copy(
                update={"interpreter": "parser (remote_share: minimal keeps a request's words here)"})
        vocabulary = Vocabulary.of(profile, library)
        messages = [{"role": "system", "content": PromptSet(self.templates_dir, "host").render("read_request")},
                    {"role": "user", "content": user_turn("Read this listener's request.", {"request": text})}]
        ask = ChatRequest(messages=messages, schema=request_schema(vocabulary), max_tokens=REQUEST_READING_TOKENS, seed=0)
        try:
            [reply] = self.client().complete([ask], deadline=time.monotonic() + self.settings.generation.timeout_s)
            if not isinstance(reply, Exception):  # a failed request comes back as its exception
                start, end = reply.text.find("{"), reply.text.rfind("}")
                return from_reply(json.loads(reply.text[start:end + 1]) if 0 <= start < end else None, vocabulary,
                                  interpreter=f"{self.name}:{self.model()}")
            problem: Exception = reply
        except (BackendUnavailableError, ValueError, OSError, TimeoutError) as exc:
            problem = exc
        log.warning("%s could not read a request (%s); the offline reader did", self.name, type(problem).__name__)
        return interpret(text, profile, library).model_copy(
            update={"interpreter": f"parser (the {self.name} writer failed: {str(problem)[:120]})"})

    # ---------------------------------------------------------------- writing

    def write(self, request: ScriptRequest) -> Script:
        return self.write_many([request])[0]

    def write_many(self, requests: list[ScriptRequest]) -> list[Script]:
        plans = [self.fallback.plan(r) for r in requests]
        try:
            client = self.client()
        except BackendUnavailableError as exc:
            log.warning("%s writer unavailable, using %s: %s", self.name, self.fallback.name, exc)
            whole = WriterFallback(segment_id=None, reason=str(exc), used=self.fallback.name)
            return [plan.script(r, self.fallback.name, fallbacks=[whole]) for r, plan in zip(requests, plans)]

        prompts = {name: PromptSet(self.templates_dir, name) for name in {r.template.prompt for r in requests}}
        share = self.share_policy()
        jobs = [
            _Job(script=i, segment=j, prompt=prompts[request.template.prompt].segment_prompt(request, plan, j, share),
                 seed=self.settings.generation.seed + j)  # not its place in the batch: the same alone
            for i, (request, plan) in enumerate(zip(requests, plans))
            for j, planned in enumerate(plan.segments) if planned.segment.word_budget > 0
        ]
        stats = [WritingStats() for _ in requests]

        def original(job: _Job) -> list[dict[str, str]]:
            return job.prompt.messages

        def repair(job: _Job) -> list[dict[str, str]]:
            prompt_set = prompts[requests[job.script].template.prompt]
            return prompt_set.repair_messages(job.prompt, job.last_reply, job.problem)

        # Only a remote server can hang; an in-process model ignores the deadline.
        deadline = time.monotonic() + self.settings.generation.episode_budget_s * len(requests)
        reachable = self._attempt(client, jobs, stats, "generate", original, 0, deadline)
        if reachable:  # when every request failed outright the backend is down: fall back, don't wait again
            repairable = [j for j in jobs if j.draft is None and j.last_reply is not None]
            self._attempt(client, repairable, stats, "repair", repair, 0, deadline)
            self._attempt(client, [j for j in jobs if j.draft is None], stats, "regenerate", original,
                          REGENERATE_SEED_OFFSET, deadline)
        return [self._assemble(request, plan, [j for j in jobs if j.script == i], stats[i])
                for i, (request, plan) in enumerate(zip(requests, plans))]

    def _attempt(self, client: LLMClient, jobs: list[_Job], stats: list[WritingStats], stage: str,
                 messages, seed_offset: int, deadline: float) -> bool:
        """One round over `jobs`; False when every request failed without a reply."""
        if not jobs:
            return True
        started = time.perf_counter()
        batch = [ChatRequest(messages=messages(j), schema=j.prompt.schema, max_tokens=self._max_tokens(j),
                             seed=j.seed + seed_offset) for j in jobs]
        try:
            replies = client.complete(batch, deadline=deadline)
        except Exception as exc:  # a backend bug must not cost the episode: every job records it
            log.exception("%s writer: %s failed", self.name, stage)
            replies = [exc] * len(jobs)
        share = (time.perf_counter() - started) / len(jobs)
        for job, reply in zip(jobs, replies):
            s = stats[job.script]
            usage = reply if isinstance(reply, Completion) else Completion("")
            stats[job.script] = WritingStats(calls=s.calls + 1, prompt_tokens=s.prompt_tokens + usage.prompt_tokens,
                                             completion_tokens=s.completion_tokens + usage.completion_tokens,
                                             seconds=round(s.seconds + share, 3))
            if isinstance(reply, Exception):
                job.last_reply = None
                job.problem = f"{type(reply).__name__}: {str(reply)[:200]}"
                job.attempts.append(f"{stage}: {job.problem}")
                continue
            job.last_reply = reply.text
            try:
                job.draft = accept(reply.text, job.prompt.rules)
                job.attempts.append(f"{stage}: accepted")
            except DraftRejected as exc:
                job.problem = str(exc)
                job.attempts.append(f"{stage}: {exc}")
        return not all(isinstance(reply, Exception) for reply in replies)

    def _max_tokens(self, job: _Job) -> int:
        """Room for a reply at the word budget (≈1.3 tokens a word, plus the JSON around it) and a
        margin, not more: a model that rambles past it would be trimmed anyway, and each token costs."""
        rules = job.prompt.rules
        turns = 8 * TOKENS_PER_TURN if rules.hosts else 0
        return min(self.settings.generation.max_new_tokens + turns, TOKENS_PER_WORD * rules.segment.word_budget + 48 + turns)

    def _assemble(self, request: ScriptRequest, plan: ScriptPlan, jobs: list[_Job], stats: WritingStats) -> Script:
        by_llm = f"{self.name}:{self.model()}"
        segments = [p.segment for p in plan.segments]
        fallbacks = []
        for job in jobs:
            planned = segments[job.segment]
            if job.draft is not None:
                lines = [{"speaker": voice, "text": text} for voice, text in job.draft.lines]
                segments[job.segment] = Segment.model_validate(
                    {**planned.model_dump(), "text": job.draft.text, "lines": lines, "title": job.draft.title[:120],
                     "written_by": by_llm})
            else:
                fallbacks.append(WriterFallback(segment_id=planned.id, reason=job.problem, attempts=job.attempts,
                                                used=self.fallback.name))
        script = plan.script(request, self.name, segments, writer_model=self.model(), fallbacks=fallbacks, stats=stats)
        remote = self.remote_address()
        if remote and jobs:
            sent = sorted(set().union(*(job.prompt.sent for job in jobs)))
            script = script.model_copy(update={"shared": DataShared(with_url=remote, policy=self.share_policy(),
                                                                    fields=sent)})
        return script


def require_model_path(settings: Settings, what: str, *, directory: bool) -> Path:
    """The --writer-model path for backends that load local files, checked before any work."""
    if not settings.writer_model:
        raise InputError(f"the {settings.writer} writer needs a model: {what}", source="--writer-model")
    path = Path(settings.writer_model).expanduser()
    if directory and not path.is_dir() or not directory and not path.is_file():
        raise InputError(f"'{path}' is not {what}", source="--writer-model")
    return path

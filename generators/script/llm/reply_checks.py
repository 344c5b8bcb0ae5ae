"""What an LLM must return for one segment, and every check its reply must pass before it is used.

The reply contract is `SegmentDraft`, the model-writable part of `nightcast.schema.Segment`, or
`DialogueDraft` for a two-host segment; its JSON schema is what llama.cpp's grammar and OpenAI's
`response_format` constrain generation to.
Everything else about a segment (id, kind, speaker, budget, music cue) is decided by code.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from nightcast.generators.script.facts import ListenerData, claims_in, ungrounded
from nightcast.schema import ListenerProfile, Segment
from nightcast.text import sentence_key, split_sentences

MAX_TITLE_CHARS = 80
MIN_SHARE_OF_BUDGET = 0.35  # shorter than this leaves dead air the timeline has to fill
LEAK_SHINGLE_WORDS = 7  # this many words in a row from the prompt means the model is echoing it
SELF_TALK = ("as an ai", "language model", "system prompt", "my instructions", "listener_data", "json",
             "i cannot", "i can't help", "previous instructions")
_MARKUP = re.compile(r"[{}<>\[\]*#|`_~]|https?://|www\.", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-zÀ-ÿ][A-Za-zÀ-ÿ'’-]*")
_NUMBER = re.compile(r"\d[\d,.:]*")


class SegmentDraft(BaseModel):
    """One segment as an LLM writes it."""

    model_config = ConfigDict(extra="forbid")
    # A long or odd title is replaced by the planned one in `accept`: never worth a regeneration.
    title: str = Field(min_length=1, max_length=2000, description="Short segment title, under 8 words.")
    text: str = Field(min_length=1, max_length=4000, description="What the host says, spoken English.")


class DraftLine(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speaker: str = Field(min_length=1, max_length=40)
    text: str = Field(min_length=1, max_length=2000)


class DialogueDraft(BaseModel):
    """A two-host segment as an LLM writes it: turns by the hosts' on-air names."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(min_length=1, max_length=2000)
    lines: list[DraftLine] = Field(min_length=1, max_length=24)


@dataclass(frozen=True)
class Draft:
    """An accepted reply: title and text, and for a conversation the turns as (voice preset, text)."""

    title: str
    text: str
    lines: tuple[tuple[str, str], ...] = ()


def dialogue_schema(names: list[str]) -> dict:
    """DialogueDraft's structure for constrained decoding, speakers limited to the two hosts' names."""
    line = {"type": "object", "properties": {"speaker": {"type": "string", "enum": list(names)}, "text": {"type": "string"}},
            "required": ["speaker", "text"], "additionalProperties": False}
    return {"title": "DialogueDraft", "type": "object",
            "properties": {"title": {"type": "string"}, "lines": {"type": "array", "items": line}},
            "required": ["title", "lines"], "additionalProperties": False}


def draft_schema() -> dict:
    """SegmentDraft's JSON schema for constrained decoding: structure only.

    Length bounds are left to max_tokens and `accept` (a grammar that counts characters explodes in
    size), and strict servers want `additionalProperties: false` spelled out.
    """
    schema = SegmentDraft.model_json_schema()
    for prop in schema["properties"].values():
        for key in ("minLength", "maxLength", "description"):
            prop.pop(key, None)
    schema["additionalProperties"] = False
    return schema


class DraftRejected(ValueError):
    """The reply cannot be used; the message says why, in words a repair prompt can quote."""


@dataclass(frozen=True)
class DraftRules:
    """What one segment's reply is checked against."""

    segment: Segment
    profile: ListenerProfile
    must_name: str | None  # the pick's artist, for pick segments
    known_numbers: frozenset[str]  # every number the prompt's data contains
    prompt_shingles: frozenset[tuple[str, ...]]  # of the system and task instructions
    anchors: frozenset[str] = frozenset()  # lower-case names from the data; a usable reply uses one
    foreign: frozenset[str] = frozenset()  # names and titles only the few-shot examples use
    said: frozenset[str] = frozenset()  # sentence keys from this listener's recent episodes
    hosts: tuple[tuple[str, str], ...] = ()  # (on-air name, voice preset) of both hosts: a conversation
    listener: ListenerData | None = None  # what a claim about the listener may rest on (the fact check)

    @property
    def min_words(self) -> int:
        return min_words_for(self.segment.word_budget)


def min_words_for(word_budget: int) -> int:
    return max(3, int(word_budget * MIN_SHARE_OF_BUDGET))


def shingles(text: str, size: int = LEAK_SHINGLE_WORDS) -> frozenset[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return frozenset(tuple(words[i:i + size]) for i in range(len(words) - size + 1))


def numbers_in(text: str) -> frozenset[str]:
    return frozenset(n.rstrip(",.:") for n in _NUMBER.findall(text))


def parse_reply(reply: str, model: type[BaseModel] = SegmentDraft):
    """The JSON object in a reply (tolerating code fences and chatter around it), schema-checked."""
    start = reply.find("{")
    if start < 0:
        raise DraftRejected("it is not a JSON object")
    end = _closing_brace(reply, start)
    if end is None:
        raise DraftRejected("the JSON object was cut off before it closed: the text is far too long")
    try:
        data = json.loads(reply[start:end + 1])
    except json.JSONDecodeError as exc:
        raise DraftRejected(f"it is not valid JSON ({exc.msg} at character {exc.pos})") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "the object"
        raise DraftRejected(f"field '{where}': {error['msg']}") from None


def _closing_brace(reply: str, start: int) -> int | None:
    """Where the object opened at `start` closes, braces inside strings not counted; None when the
    reply stops first. A reply cut off by its token limit inside a dialogue still holds the closing
    braces of its finished turns, so the last `}` in it says nothing about the object's own end."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, len(reply)):
        char = reply[i]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return i
    return None


def trim_to_budget(text: str, budget: int) -> str:
    """Whole sentences, in order, up to the word budget."""
    kept: list[str] = []
    count = 0
    for sentence in split_sentences(text):
        words = len(sentence.split())
        if count + words > budget:
            break
        kept.append(sentence)
        count += words
    return " ".join(kept)


def _turns(draft: DialogueDraft, rules: DraftRules) -> list[tuple[str, str]]:
    """(voice preset, text) per turn, a speaker's consecutive turns merged; both hosts must speak."""
    voices = {name.lower(): voice for name, voice in rules.hosts}
    turns: list[tuple[str, str]] = []
    for line in draft.lines:
        voice = voices.get(line.speaker.strip().lower())
        if voice is None:
            names = " or ".join(f"'{name}'" for name, _ in rules.hosts)
            raise DraftRejected(f"a line's speaker is '{line.speaker[:40]}'; each speaker must be {names}")
        text = " ".join(line.text.split())
        if turns and turns[-1][0] == voice:
            turns[-1] = (voice, f"{turns[-1][1]} {text}")
        elif text:
            turns.append((voice, text))
    if len({voice for voice, _ in turns}) < 2:
        raise DraftRejected("only one host speaks; it must be a conversation with turns for both hosts")
    return turns


def _trim_turns(turns: list[tuple[str, str]], budget: int) -> list[tuple[str, str]]:
    """Whole turns up to the word budget; the turn that crosses it cut at a sentence boundary."""
    kept, count = [], 0
    for voice, text in turns:
        room = budget - count
        words = len(text.split())
        if words > room:
            text = trim_to_budget(text, room)
            if text:
                kept.append((voice, text))
            break
        kept.append((voice, text))
        count += words
    return kept


def accept(reply: str, rules: DraftRules) -> Draft:
    """The reply as a usable draft (trimmed to budget at a sentence boundary), or DraftRejected."""
    turns: list[tuple[str, str]] = []
    if rules.hosts:
        draft = parse_reply(reply, DialogueDraft)
        turns = _turns(draft, rules)
        text = " ".join(t for _, t in turns)
    else:
        draft = parse_reply(reply)
        text = " ".join(draft.text.split())
    lowered = text.lower()
    if _MARKUP.search(text):
        raise DraftRejected("the text contains markup, code or a web address")
    if any(phrase in lowered for phrase in SELF_TALK):
        raise DraftRejected("the text talks about the instructions or the assistant instead of the music")
    if shingles(text) & rules.prompt_shingles:
        raise DraftRejected("the text repeats the instructions instead of speaking to the listener")
    keys = [sentence_key(sentence) for sentence in split_sentences(text)]
    if len(set(keys)) < len(keys):
        raise DraftRejected("the text says the same sentence twice")
    if rules.said & set(keys):
        raise DraftRejected("the text repeats a line from a recent episode (see do_not_repeat)")
    words = text.split()
    if words and len(_WORD.findall(text)) < 0.8 * len(words):
        raise DraftRejected("the text is not readable English")
    borrowed = sorted(name for name in rules.foreign if re.search(rf"\b{re.escape(name)}\b", lowered))
    if borrowed:
        raise DraftRejected(f"the text uses names from the examples ({', '.join(borrowed)}), not this listener's data")
    if rules.anchors and not any(anchor in lowered for anchor in rules.anchors):
        raise DraftRejected("the text names nothing from the listener data (their name, artists, genres, tracks)")
    banned = rules.profile.avoided_in(text)
    if banned:
        raise DraftRejected(f"the text mentions '{banned}', which is on the avoid list")
    invented = sorted(numbers_in(text) - rules.known_numbers)
    if invented:
        raise DraftRejected(f"the text states numbers that are not in the data: {', '.join(invented[:3])}")
    if rules.must_name and rules.must_name.lower() not in lowered:
        raise DraftRejected("the text never names the artist in pick.artist")
    if rules.listener is not None:
        false = ungrounded(claims_in(rules.segment.id, text, rules.listener))
        if false:
            raise DraftRejected(f"the text says something about the listener that their data does not support "
                                f"(“{false[0].sentence[:160]}”): use only pick.is_favourite, listener_track, "
                                f"listener.moods, listener.interests and requests")
    budget = rules.segment.word_budget
    if len(words) > budget:  # enforce the budget by cutting whole sentences; too little left is a rejection
        if turns:
            turns = _trim_turns(turns, budget)
            text = " ".join(t for _, t in turns)
        else:
            text = trim_to_budget(text, budget)
        if len(text.split()) < rules.min_words or (rules.must_name and rules.must_name.lower() not in text.lower()):
            raise DraftRejected(f"the text is {len(words)} words; the limit is {budget}")
    elif len(words) < rules.min_words:
        raise DraftRejected(f"the text is {len(words)} words; it needs at least {rules.min_words}")
    title = " ".join(draft.title.split())
    if len(title) > MAX_TITLE_CHARS or _MARKUP.search(title) or rules.profile.avoids(title) \
            or any(name in title.lower() for name in rules.foreign):
        title = rules.segment.title  # the planned title: a bad title is not worth a regeneration
    if turns and len({voice for voice, _ in turns}) < 2:
        raise DraftRejected(f"the conversation is {len(words)} words; the limit is {budget}, with both hosts inside it")
    return Draft(title=title, text=text, lines=tuple(turns))

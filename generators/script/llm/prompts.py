"""Chat prompts for one segment, from a prompt set in templates/prompts/llm/<name>/.

A prompt set is editorial data: `system.j2` (the host and the rules), one task template per
segment kind, `repair.j2`, and `examples.yaml` (few-shot turns). Templates see only trusted values
(the show's title and style, word limits). Everything that came from a profile or from past
episodes goes into one JSON block between <listener_data> tags, with the characters that could
close that block or open markup replaced, so profile text is always quoted data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from nightcast.data_files import read_yaml
from nightcast.errors import InputError
from nightcast.generators.script.base import ScriptRequest
from nightcast.generators.script.facts import ListenerData
from nightcast.generators.script.llm.reply_checks import (
    DraftRules,
    dialogue_schema,
    draft_schema,
    min_words_for,
    numbers_in,
    shingles,
)
from nightcast.generators.script.template_writer import PlannedSegment, ScriptPlan, clock, days_ago
from nightcast.schema import SegmentKind

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
_UNSAFE = str.maketrans({"<": "‹", ">": "›", "`": "'", "{": "(", "}": ")"})
SMALL_NUMBERS = frozenset(str(n) for n in range(13))  # "one of 2 records", "top 10": not facts about anyone
MEMORY_EPISODES = 3
DO_NOT_REPEAT_LINES = 8
STORY_FACTS = 4
EVERYTHING = None
# What a segment's data block keeps for a writer on another machine (`remote_share: minimal`): the
# greeting, the hour and the mood, the pick and its public facts, and what requests were understood.
# Not the full name (the block never has it), interests, mood list, avoid list (the reply checks
# enforce it here), play counts and last-played dates, or past episodes and our earlier lines.
MINIMAL_SHARE = {
    "listener": {"first_name": EVERYTHING, "local_time": EVERYTHING, "daypart": EVERYTHING, "weekday": EVERYTHING,
                 "mood": EVERYTHING, "requests": EVERYTHING, "getting_to_know": EVERYTHING, "first_show": EVERYTHING},
    "segment": EVERYTHING,
    "pick": {"artist": EVERYTHING, "genre": EVERYTHING, "is_favourite": EVERYTHING, "starter": EVERYTHING,
             "requested": EVERYTHING,
             "listener_track": {"title": EVERYTHING}, "plays_next": EVERYTHING},
    "next_artist": EVERYTHING,
    "facts": EVERYTHING,
}


def kept(data, allowed):
    """`data` with only the keys `allowed` names (None: all of it), nested."""
    if allowed is EVERYTHING or not isinstance(data, dict):
        return data
    return {key: kept(value, allowed[key]) for key, value in data.items() if key in allowed}


def field_paths(data: dict, prefix: str = "") -> set[str]:
    """Every field of a data block as a dotted path, for the manifest's record of what was shared."""
    paths = set()
    for key, value in data.items():
        path = f"{prefix}{key}"
        paths |= field_paths(value, f"{path}.") if isinstance(value, dict) and value else {path}
    return paths


def quoted(value):
    """Untrusted text made inert inside the data block (and the block made impossible to close)."""
    if isinstance(value, str):
        return value.translate(_UNSAFE)
    if isinstance(value, list):
        return [quoted(v) for v in value]
    if isinstance(value, dict):
        return {k: quoted(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class SegmentPrompt:
    messages: list[dict[str, str]]
    schema: dict
    rules: DraftRules
    task: str  # the last user turn's instructions, for the repair turn
    sent: frozenset[str] = frozenset()  # the data block's fields, as dotted paths


class PromptSet:
    def __init__(self, templates_dir: Path, name: str):
        self.name = name
        self.root = Path(templates_dir) / "prompts" / "llm" / name
        if not self.root.is_dir():
            raise InputError(f"no prompt set '{name}' in {self.root.parent}", field="prompt")
        self._templates: dict = {}  # per instance: a method-level functools.cache would keep every PromptSet alive
        self._examples = read_yaml(self.root / "examples.yaml") if (self.root / "examples.yaml").is_file() else {}

    def _template(self, name: str):
        if name not in self._templates:
            path = self.root / f"{name}.j2"
            if not path.is_file():
                raise InputError(f"prompt set '{self.name}' has no {path.name}", source=self.root)
            self._templates[name] = _ENV.from_string(path.read_text(encoding="utf-8"))
        return self._templates[name]

    def render(self, name: str, **values) -> str:
        text = self._template(name).render(**values).strip()
        return text if name == "system" else " ".join(text.split())  # the system prompt keeps its layout

    # ------------------------------------------------------------------ building

    def segment_prompt(self, request: ScriptRequest, plan: ScriptPlan, index: int,
                       share: str = "full") -> SegmentPrompt:
        """`share`: "minimal" keeps only MINIMAL_SHARE of the data block (a writer on another machine)."""
        planned = plan.segments[index]
        segment = planned.segment
        template = request.template
        system = self.render("system", show=template.title, style=template.style)
        limits = {"word_limit": segment.word_budget, "min_words": min_words_for(segment.word_budget)}
        hosts = conversation_hosts(request, planned)
        task = self._task(segment.kind.value, hosts, **limits)
        data = segment_data(request, plan, index)
        if share == "minimal":
            data = kept(data, MINIMAL_SHARE)
        messages = [{"role": "system", "content": system}]
        example = self._examples.get("dialogue" if hosts else segment.kind.value)
        if example:
            example_limit = example["data"]["segment"]["word_limit"]
            example_hosts = tuple((name, name) for name in example.get("hosts", [])) if hosts else ()
            example_task = self._task(example["data"]["segment"]["kind"], example_hosts, word_limit=example_limit,
                                      min_words=min_words_for(example_limit))
            messages += [{"role": "user", "content": user_turn(example_task, example["data"])},
                         {"role": "assistant", "content": json.dumps(example["reply"], ensure_ascii=False)}]
        messages.append({"role": "user", "content": user_turn(task, data)})
        trusted_text = " ".join([system, task, self.render("repair", problem="", conversation=bool(hosts), **limits)]
                                + [json.dumps(e["reply"]) for e in self._examples.values()])
        rules = DraftRules(
            segment=segment,
            profile=request.profile,
            must_name=planned.pick.artist if segment.kind == SegmentKind.pick else None,
            known_numbers=numbers_in(json.dumps(data)) | _parts(data["listener"]["local_time"]) | SMALL_NUMBERS,
            prompt_shingles=shingles(trusted_text),
            anchors=anchors(data),
            foreign=self._example_names() - anchors(data) - {name.lower() for name, _ in hosts},
            said=frozenset(plan.said),
            hosts=hosts,
            listener=ListenerData.of(request),
        )
        schema = dialogue_schema([name for name, _ in hosts]) if hosts else draft_schema()
        return SegmentPrompt(messages=messages, schema=schema, rules=rules, task=task, sent=frozenset(field_paths(data)))

    def _task(self, kind: str, hosts: tuple[tuple[str, str], ...], **limits) -> str:
        """The segment kind's task; for a two-host segment, followed by how to write the conversation."""
        task = self.render(kind, **limits)
        if hosts:
            task += " " + self.render("dialogue", host=hosts[0][0], cohost=hosts[1][0], **limits)
        return task

    def _example_names(self) -> frozenset[str]:
        """Who and what the few-shot examples are about: a reply that uses them copied the example."""
        names = set()
        for example in self._examples.values():
            data = example["data"]
            names.update([data["listener"]["first_name"], data["pick"]["artist"], data["next_artist"],
                          example["reply"]["title"], *example.get("hosts", [])])
        return frozenset(n.lower() for n in names)

    def repair_messages(self, prompt: SegmentPrompt, reply: str, problem: str) -> list[dict[str, str]]:
        repair = self.render("repair", problem=problem, word_limit=prompt.rules.segment.word_budget,
                             min_words=prompt.rules.min_words, conversation=bool(prompt.rules.hosts))
        return [*prompt.messages, {"role": "assistant", "content": reply[:4000]}, {"role": "user", "content": repair}]


def conversation_hosts(request: ScriptRequest, planned: PlannedSegment) -> tuple[tuple[str, str], ...]:
    """(on-air name, voice preset) of host and co-host when the plan made this segment a conversation.

    The names are ours (voice presets), never profile text, so they may appear in instructions."""
    if not planned.segment.lines or request.cohost is None:
        return ()
    return ((request.host_name.translate(_UNSAFE), request.speaker),
            (request.cohost.name.translate(_UNSAFE), request.cohost.voice))


def user_turn(task: str, data: dict) -> str:
    block = json.dumps(quoted(data), ensure_ascii=False, indent=1)
    return f"{task}\n\n<listener_data>\n{block}\n</listener_data>"


def anchors(data: dict) -> frozenset[str]:
    """Names a reply can use to show it is about this listener: their name, artists, genres, tracks."""
    listener, pick = data["listener"], data["pick"]
    names = [listener["first_name"], pick["artist"], pick["genre"], data["next_artist"],
             *listener.get("favourite_genres", []), *listener.get("interests", [])]
    if pick["listener_track"]:
        names.append(pick["listener_track"]["title"])
    if pick.get("plays_next"):
        names.append(pick["plays_next"]["title"])
    return frozenset(n.lower() for n in names if n)


def _parts(clock_text: str) -> frozenset[str]:
    digits = clock_text.split()[0]
    return frozenset([digits, *digits.split(":")])


def segment_data(request: ScriptRequest, plan: ScriptPlan, index: int) -> dict:
    """Everything the model may use for one segment, as plain data."""
    ctx = plan.context
    profile = request.profile
    planned: PlannedSegment = plan.segments[index]
    pick = planned.pick
    track = pick.track
    memory = request.recalled()
    return {
        "listener": {
            "first_name": profile.first_name,
            "local_time": clock(ctx),
            "daypart": ctx.daypart,
            "weekday": ctx.weekday,
            "mood": ctx.mood,
            # (set only for a listener with no taste data yet: getting_to_know, and first_show)
            **({"getting_to_know": True, "first_show": ctx.first_show} if ctx.getting_to_know else {}),
            "favourite_genres": [g for g in profile.favourite_genres if not profile.avoids(g)],
            "interests": [i for i in profile.interests if not profile.avoids(i)],
            "moods": list(profile.moods),
            "avoid": list(profile.avoid),
            # what their requests asked of this episode, as understood (never their raw words)
            "requests": [phrase for r in request.steering.requests if r.interpretation
                         for phrase in r.interpretation.understood],
        },
        "segment": {"kind": planned.segment.kind.value, "number": f"{index + 1} of {len(plan.segments)}",
                    "word_limit": planned.segment.word_budget},
        "pick": {
            "artist": pick.artist,
            "genre": pick.genre,
            "is_favourite": pick.artist in profile.favourite_artists,
            # from the starter taste: nothing in their data is about this artist (set only then)
            **({"starter": True} if pick.starter else {}),
            "requested": pick.requested_what or None,
            "listener_track": {"title": track.title, "plays": track.plays,
                               "last_played": days_ago(track.last_played, request.date) or None} if track else None,
            "plays_next": {"title": pick.record.title, "artist": pick.record.artist}
            if pick.record and planned.segment.kind == SegmentKind.pick else None,
        },
        "next_artist": planned.following.artist,
        "facts": planned.lore[:STORY_FACTS] if planned.segment.kind == SegmentKind.story else [],
        "previous_episodes": [
            {"when": memory.when(script.date, ctx.daypart),
             "featured": [s.artist for s in script.segments if s.artist and not profile.avoids(s.artist)]}
            for script in memory.episodes[:MEMORY_EPISODES]
        ],
        "do_not_repeat": memory.recent_lines(DO_NOT_REPEAT_LINES),
    }

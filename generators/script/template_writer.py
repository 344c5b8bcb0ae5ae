"""The embedded default writer: a sandboxed jinja2 phrase bank filled with the listener's facts.

No usable instruct LLM ships in a registry package, so this writer is what runs on CPU out of the
box. It is specific (name, artists, plays, time of day, mood), varied (seeded by listener, format
and date) and never exceeds a segment's word budget.
"""

from __future__ import annotations

import datetime as dt
import functools
import itertools
import random
from dataclasses import dataclass
from pathlib import Path

from jinja2 import StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from nightcast import __version__
from nightcast.data_files import read_yaml
from nightcast.generators.script.base import ScriptRequest, ScriptWriter, word_budget
from nightcast.generators.script.context import ListenerContext, Pick, build_context, style_for
from nightcast.generators.script.cues import music_cue
from nightcast.generators.script.facts import ListenerData, claims_in, ungrounded
from nightcast.schema import Line, Script, Segment, SegmentKind, Slot
from nightcast.settings import Settings
from nightcast.text import sentence_key, split_sentences

_ENV = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
# Phrase-bank parts that only make sense when the listener's data has the fact they quote.
NEEDS = {"history_link": "other_track", "track_memory": "last_played", "interest_nod": "interest",
         "history_stat": "top_track", "callback": "previous_artist", "mood_line": "mood_stated",
         "co_mood": "mood_stated", "request_ack": "ack_kind", "talk_ack": "talk_asked",
         "invite": "uses_starter", "listener_note": "knows_taste"}
# What a show that does not know the listener's taste (yet, or well) says in place of these parts.
NEW_LISTENER_PARTS = {"show": "show_new", "co_hello": "co_hello_new"}
KNOWN_ARTISTS = 3  # own artists (favourites, history, library) before the show talks as if it knows their taste
ACK_PARTS = {"favour": "request_ack", "mood": "ack_mood", "leave_out": "ack_leave_out"}


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


@functools.cache
def _bank(templates_dir: Path) -> tuple[dict, dict[str, list[str]]]:
    bank = read_yaml(templates_dir / "prompts" / "host_lines.yaml")
    lore = read_yaml(templates_dir / "prompts" / "lore.yaml")
    return bank, lore


@functools.cache
def starter_taste(templates_dir: Path, locale: str) -> list[dict]:
    """The starter taste for a locale (templates/starter_taste.yaml): the locale's list, else the default."""
    path = templates_dir / "starter_taste.yaml"
    if not path.is_file():
        return []
    taste = read_yaml(path) or {}
    return list((taste.get("locales") or {}).get(locale) or taste.get("default") or [])


def _words(text: str) -> int:
    return len(text.split())


def clock(ctx: ListenerContext) -> str:
    hour = ctx.local_time.hour % 12 or 12
    suffix = "am" if ctx.local_time.hour < 12 else "pm"
    return f"{hour}:{ctx.local_time.minute:02d} {suffix}"


def days_ago(day: dt.date | None, today: dt.date) -> str:
    if day is None or day > today or (today - day).days > 14:
        return ""
    days = (today - day).days
    return {0: "earlier today", 1: "yesterday"}.get(days, f"{days} days ago")


@dataclass(frozen=True)
class PlannedSegment:
    """One segment as the template writer would deliver it, plus the facts it was built from.

    LLM writers keep everything but the words (id, kind, speaker, budget, cue, notes): the script's
    structure is decided here, by code, so nothing in a profile or a model's output can change it.
    """

    segment: Segment
    pick: Pick
    following: Pick
    lore: list[str]  # vetted facts for stories, the pick's style first


@dataclass(frozen=True)
class ScriptPlan:
    context: ListenerContext
    title: str
    segments: list[PlannedSegment]
    said: dict[str, dt.date]  # sentence keys from recent episodes, and when each was last said

    @property
    def starter_picks(self) -> list[str]:
        return list(dict.fromkeys(p.pick.artist for p in self.segments
                                  if p.pick.starter and p.segment.kind in (SegmentKind.pick, SegmentKind.story)))

    def script(self, request: ScriptRequest, writer: str, segments: list[Segment] | None = None, **extra) -> Script:
        """The plan as a Script; `segments` replaces the planned ones (an LLM writer's versions)."""
        return Script(
            episode_id=request.episode_id,
            listener_id=request.profile.id,
            template_id=request.template.id,
            date=request.date,
            local_time=self.context.local_time,
            title=self.title,
            writer=writer,
            segments=segments if segments is not None else [p.segment for p in self.segments],
            starter_picks=self.starter_picks,
            **extra,
        )


def _running_order(slots: list[Slot], picks: list[Pick]) -> list[tuple[Pick, Pick]]:
    """(the artist a slot is about, the one after it) per slot.

    Pick slots take the freshest artists (`picks` comes freshest first, so a listener does not hear
    the same picks on consecutive days); story slots take the artists after those; intro, interludes
    and outro speak about the next featured artist, the outro about the show's first.
    """
    n_picks = sum(1 for slot in slots if slot.kind == SegmentKind.pick)
    pick_queue = itertools.cycle(picks)
    story_queue = itertools.cycle(picks[n_picks:] or picks)
    featured = [next(pick_queue) if slot.kind == SegmentKind.pick else next(story_queue) if slot.kind == SegmentKind.story
                else None for slot in slots]
    sequence = [f for f in featured if f is not None] or picks[:1]
    order = []
    for index, artist in enumerate(featured):
        if artist is None:
            ahead = [f for f in featured[index + 1:] if f is not None]
            artist = ahead[0] if ahead else sequence[0]
        position = sequence.index(artist)
        following = sequence[(position + 1) % len(sequence)] if len(sequence) > 1 else picks[(picks.index(artist) + 1) % len(picks)]
        order.append((artist, following))
    return order


class TemplateWriter(ScriptWriter):
    name = "template"

    def __init__(self, templates_dir: Path, settings: Settings | None = None):
        self.templates_dir = Path(templates_dir)  # the plan reads only the templates; settings are the LLMs'

    def version(self) -> str:
        return __version__

    def write(self, request: ScriptRequest) -> Script:
        return self.plan(request).script(request, self.name)

    def plan(self, request: ScriptRequest) -> ScriptPlan:
        bank, lore = _bank(self.templates_dir)
        memory = request.recalled()
        ctx = build_context(request.profile, request.template, request.date, memory, library=request.library,
                            steering=request.steering, starter=starter_taste(self.templates_dir, request.profile.locale))
        grounds = ListenerData.of(request)
        said = memory.said_keys()
        used: set[str] = set()
        lore_pool = {style: [f for f in facts if sentence_key(f) not in said] for style, facts in lore.items()}
        for facts in lore_pool.values():
            ctx.rng.shuffle(facts)
        slots = request.template.expanded_slots()
        running_order = _running_order(slots, ctx.picks)
        planned = []
        episode_ctx = ctx
        for index, slot in enumerate(slots):
            pick, following = running_order[index]
            ctx = episode_ctx.for_segment(index, slot.kind.value, pick.artist)
            variables = self._variables(request, ctx, pick, following, index)
            # drawn before the words, whose number of draws follows the listener's data
            cue = music_cue(slot, ctx, pick)
            title = self._render(ctx.rng.choice(bank["titles"][slot.kind.value]), variables)[:120]
            budget = word_budget(slot.speech_s, request.words_per_minute)
            story_facts = self._candidates("lore", bank, lore_pool, variables, pick, ctx.rng)[:6]
            choose = self._chooser(bank, lore_pool, variables, ctx, pick, used, said, grounds)
            text, lines = "", []
            if budget and slot.dialogue and request.cohost is not None:
                lines = self._compose_dialogue(slot, bank, choose, ctx, budget, request)
            elif budget:
                text = self._compose(slot, bank, choose, ctx, budget)
            is_pick = slot.kind == SegmentKind.pick
            answered = ctx.steering.requests[0].id if ctx.steering.requests else None
            shaped_by = (pick.requested.id if is_pick and pick.requested else
                         answered if slot.kind == SegmentKind.intro and variables["ack_kind"] and budget else None)
            segment = Segment(
                id=f"s{index + 1:02d}-{slot.kind.value}",
                kind=slot.kind,
                title=title,
                speaker=request.speaker,
                text=text,
                lines=lines,
                word_budget=budget,
                cue=cue,
                notes=self._notes(slot, ctx, pick),
                artist=pick.artist if is_pick else None,
                track=(pick.record or pick.track).title if is_pick and (pick.record or pick.track) else None,
                written_by=self.name,
                request=shaped_by,
            )
            planned.append(PlannedSegment(segment=segment, pick=pick, following=following, lore=story_facts))
        ctx = episode_ctx
        title = f"{request.template.title} for {ctx.profile.first_name}, {ctx.weekday} {request.date:%B} {request.date.day}"
        return ScriptPlan(context=ctx, title=title[:120], segments=planned, said=said)

    # ------------------------------------------------------------ pieces

    @staticmethod
    def _variables(request: ScriptRequest, ctx: ListenerContext, pick: Pick, following: Pick, index: int) -> dict:
        profile = ctx.profile
        interests = [i for i in profile.interests if not profile.avoids(i)]
        top = ctx.top_track
        others = {f"{h.artist}\x1f{h.title}": h for h in profile.history
                  if h.artist != pick.artist and not profile.avoids(h.artist)}
        other = others.get(ctx.stable_choice(list(others), index, "other"))
        previous_artist, previous_when = ctx.previous or ("", "")
        own = [p for p in ctx.picks if not p.starter]
        steer = ctx.steering
        tracks = [f"“{t.title}”" for t in steer.asked("favour_tracks")]
        asked_for = [*steer.asked("favour_artists"), *tracks, *steer.asked("favour_genres")]
        leave_out = steer.asked("exclude_artists") + steer.asked("avoid_artists") + steer.asked("avoid_genres") \
            + steer.asked("exclude_tracks") + steer.asked("avoid_tracks")
        ack_kind = "favour" if asked_for else "mood" if ctx.mood_requested else "leave_out" if leave_out else ""
        return {
            "name": profile.first_name,
            "show": request.template.title,
            "daypart": ctx.daypart,
            "greeting": "evening" if ctx.daypart == "night" else ctx.daypart,
            "last_played": days_ago(pick.track.last_played, request.date) if pick.track else "",
            "weekday": ctx.weekday,
            "date_long": f"{ctx.weekday}, {request.date:%B} {request.date.day}",
            "clock": clock(ctx),
            "mood": ctx.mood,
            "artist": pick.artist,
            "genre": pick.genre,
            "track": f"“{pick.track.title}”" if pick.track else "",
            "plays": pick.track.plays if pick.track else 0,
            "now_playing": f"“{pick.record.title}”" if pick.record else "",
            "interest": ctx.stable_choice(interests, index, "interest"),
            "next_artist": following.artist,
            "total_plays": ctx.total_plays,
            "top_artist": top.artist if top else pick.artist,
            "top_track": f"“{top.title}”" if top else "",
            "other_artist": other.artist if other else "",
            "other_track": f"“{other.title}”" if other else "",
            "artist_count": len(own),
            "genres": [g for g in profile.favourite_genres if not profile.avoids(g)],
            "previous_artist": previous_artist,
            "previous_when": previous_when,
            "host": request.host_name,
            "cohost": request.cohost.name if request.cohost else "",
            "asked_for": _and(asked_for[:3]) if asked_for else "",
            "ack_kind": ack_kind,
            "talk_asked": "" if steer.talk == "usual" else steer.talk,
            "mood_stated": ctx.mood in profile.moods and ctx.mood_requested is None,
            "is_favourite": pick.artist in profile.favourite_artists,
            "in_history": any(h.artist == pick.artist for h in profile.history),
            "requested": pick.requested is not None,
            "requested_what": pick.requested_what,
            "starter": pick.starter,
            "getting_to_know": ctx.getting_to_know,
            "first_show": ctx.first_show,
            "uses_starter": len(own) < len(ctx.picks),
            "knows_taste": len(own) >= KNOWN_ARTISTS,
        }

    @staticmethod
    def _render(line: str, variables: dict) -> str:
        return " ".join(_ENV.from_string(line).render(**variables).split())

    def _candidates(self, part: str, bank: dict, lore_pool: dict, variables: dict, pick: Pick, rng: random.Random) -> list[str]:
        """Rendered options for one part of a segment, in a seeded random order."""
        if part == "lore":  # the pick's own style first, then the listener's other styles
            styles = [pick.style] + [style_for(g) for g in variables["genres"]]
            return [fact for style in dict.fromkeys(styles) for fact in lore_pool.get(style, [])]
        if part in NEEDS and not variables[NEEDS[part]]:
            return []  # e.g. no history: no "you played it 14 times" line
        if not variables["knows_taste"] and part in NEW_LISTENER_PARTS:
            part = NEW_LISTENER_PARTS[part]
            if part == "show_new" and variables["first_show"]:
                part = "show_first"
            elif part == "show_new" and not variables["getting_to_know"]:
                part = "show_some"  # a little of theirs, the rest new ground
        if part == "request_ack":
            part = ACK_PARTS[variables["ack_kind"]]
        elif part == "talk_ack":
            part = f"talk_{variables['talk_asked']}"
        elif part == "why":
            part = self._why(variables, rng)
        if part == "handoff" and variables["now_playing"]:
            part = "handoff_track"  # a real track from their library plays next: name it
        lines = list(bank["lines"][part])
        rng.shuffle(lines)
        return [self._render(line, variables) for line in lines]

    @staticmethod
    def _why(variables: dict, rng: random.Random) -> str:
        """Why this pick, saying only what the listener's data makes true: a request, their plays, their
        favourites, their history, their library, or (knowing nothing) why it fits the hour."""
        if variables["requested"]:
            return "why_requested_artist" if variables["requested_what"] == variables["artist"] else "why_requested"
        if variables["starter"]:
            return "why_starter"
        if variables["track"] and (rng.random() < 0.7 or not variables["is_favourite"]):
            return "why_track"
        if variables["is_favourite"]:
            return "why_favourite"
        if variables["in_history"]:
            return "why_history"
        return "why_library" if variables["now_playing"] else "why_fit"

    def _chooser(self, bank, lore_pool, variables, ctx: ListenerContext, pick: Pick, used: set[str],
                 said: dict[str, dt.date], grounds: ListenerData):
        """choose(part, required) → one rendered line for a part of a segment, or None.

        `used`: sentence keys spoken earlier in this episode (never repeated); `said`: keys from
        recent episodes (avoided; when a required part has nothing else, the line said longest ago
        is reused). A line that states something about the listener their data does not support
        (`grounds`: the fact ledger's check) is never a candidate: a new listener hears no "the sound
        you keep coming home to"."""
        profile = ctx.profile

        def choose(part: str, required: bool = False) -> str | None:
            options = [o for o in self._candidates(part, bank, lore_pool, variables, pick, ctx.rng)
                       if o and not profile.avoids(o) and not ungrounded(claims_in("", o, grounds))]
            passes = [(options, used | said.keys())]
            if required:
                def last_said(option: str) -> dt.date:
                    return max((said.get(sentence_key(s), dt.date.min) for s in split_sentences(option)), default=dt.date.min)
                passes.append((sorted(options, key=last_said), used))
            for ordered, avoid in passes:
                for option in ordered:
                    keys = {sentence_key(s) for s in split_sentences(option)}
                    if keys & avoid:
                        continue
                    used.update(keys)
                    if part == "lore":
                        for facts in lore_pool.values():
                            if option in facts:
                                facts.remove(option)
                    return option
            return None

        return choose

    @staticmethod
    def _fit_required(required: list[tuple[str, str]], budget: int, protect: set[str]) -> list[str]:
        """Shrink (part, line) pairs to budget by dropping inner parts first: keep the opening line, the
        hand-off, and the protected parts (the answer to the listener's request) to the last."""
        required = list(required)
        while len(required) > 1 and sum(_words(line) for _, line in required) > budget:
            inner = [i for i in range(1, len(required) - 1) if required[i][0] not in protect] or \
                list(range(1, len(required) - 1)) or [0]
            required.pop(inner[len(inner) // 2])
        if required and _words(required[0][1]) > budget:
            return []
        return [line for _, line in required]

    def _compose(self, slot: Slot, bank, choose, ctx: ListenerContext, budget: int) -> str:
        """One voice's text for a segment: required parts, then extras while the budget lasts."""
        structure = bank["structure"][slot.kind.value]
        required = [(part, line) for part in structure["required"] if (line := choose(part, required=True))]
        required = self._fit_required(required, budget, set(bank.get("protect", [])))
        body, closing = required[:-1], required[-1:]
        extras = list(structure.get("extra", []))
        ctx.rng.shuffle(extras)
        for part in extras:  # each extra part at most as often as the bank lists it
            remaining = budget - sum(map(_words, body + closing))
            if remaining < 6:
                break
            option = choose(part)
            if option and _words(option) <= remaining:
                body.append(option)
        return " ".join(body + closing)

    def _compose_dialogue(self, slot: Slot, bank, choose, ctx: ListenerContext, budget: int,
                          request: ScriptRequest) -> list[Line]:
        """Host and co-host turns for a segment, in the bank's order, within the word budget."""
        turns = bank["dialogue"][slot.kind.value]
        voices = {"host": request.speaker, "cohost": request.cohost.voice}
        required = [i for i, turn in enumerate(turns) if not turn.get("optional")]
        lines = {i: line for i in required if (line := choose(turns[i]["part"], required=True))}
        kept = self._fit_required([(turns[i]["part"], line) for i, line in lines.items()], budget,
                                  set(bank.get("protect", [])))
        chosen = {i: line for i, line in lines.items() if line in kept}
        optional = [i for i, turn in enumerate(turns) if turn.get("optional")]
        ctx.rng.shuffle(optional)
        for i in optional:
            remaining = budget - sum(map(_words, chosen.values()))
            if remaining < 6:
                break
            option = choose(turns[i]["part"])
            if option and _words(option) <= remaining:
                chosen[i] = option
        merged: list[Line] = []
        for i in sorted(chosen):
            speaker = voices[turns[i]["who"]]
            if merged and merged[-1].speaker == speaker:  # a dropped turn between two of the same voice
                merged[-1] = Line(speaker=speaker, text=f"{merged[-1].text} {chosen[i]}")
            else:
                merged.append(Line(speaker=speaker, text=chosen[i]))
        return merged

    @staticmethod
    def _notes(slot: Slot, ctx: ListenerContext, pick: Pick) -> str:
        """Why this pick, in the show notes: each reason true of the listener's data, a request cited by id."""
        if slot.kind != SegmentKind.pick:
            return ""
        favourite = pick.artist in ctx.profile.favourite_artists
        if pick.track:
            reason = f"{pick.track.plays} plays of “{pick.track.title}”"
        elif pick.record:
            reason = "from your library" + (", and a favourite artist" if favourite else "")
        else:
            reason = "a favourite artist" if favourite else "in your history" if any(
                h.artist == pick.artist for h in ctx.profile.history) else "a fit for the hour"
        if pick.starter:
            reason = "from the starter taste, while your own is unknown: like or skip it to steer the show"
        if pick.requested:
            reason = f"you asked for {pick.requested_what} (request {pick.requested.id}); {reason}"
        playing = f" (“{pick.record.title}”)" if pick.record else ""
        return f"{pick.artist}{playing}: {reason}; {pick.genre} for a {ctx.mood} {ctx.daypart}."

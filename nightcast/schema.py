"""The shared models of the data path, in one home.

profile → script → speech → music → mix → episode:
ListenerProfile + EpisodeTemplate → Script → SpeechClip[] → Timeline → MusicClip[] → EpisodeManifest
"""

from __future__ import annotations

import datetime as dt
import re
from enum import Enum
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

LISTENER_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
KEY_PATTERN = r"^[A-G][#b]? (major|minor)$"

# Profile text is data: bounded, single-line, no control characters.
ShortText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def known_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone '{value}' (e.g. 'Europe/Berlin', 'America/New_York')") from None
    return value


TimeZoneName = Annotated[str, AfterValidator(known_timezone)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# ---------------------------------------------------------------- profile


class HistoryItem(Strict):
    artist: ShortText
    title: ShortText
    plays: int = Field(default=1, ge=1, le=100_000)
    last_played: dt.date | None = None


class ListenerProfile(Strict):
    id: Annotated[str, StringConstraints(pattern=LISTENER_ID_PATTERN)]
    name: ShortText
    locale: Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z]{2})?$")] = "en-US"
    timezone: TimeZoneName = "UTC"
    listens_at: dt.time | None = Field(
        default=None, description="When they usually press play, local time; sets the time of day."
    )
    # A new listener has no taste data yet: their first shows draw on templates/starter_taste.yaml.
    favourite_artists: list[ShortText] = Field(default_factory=list, max_length=50)
    favourite_genres: list[ShortText] = Field(default_factory=list, max_length=20)
    history: list[HistoryItem] = Field(default_factory=list, max_length=500)
    moods: list[ShortText] = Field(default_factory=list, max_length=20)
    interests: list[ShortText] = Field(default_factory=list, max_length=30)
    preferred_length_min: float | None = Field(default=None, ge=2, le=120)
    voice: Name = "host"
    template: Name | None = Field(default=None, description="Episode format used when none is given.")
    avoid: list[ShortText] = Field(default_factory=list, max_length=50)


    @model_validator(mode="after")
    def _no_control_characters(self) -> ListenerProfile:
        for value in self._all_text():
            if _CONTROL_CHARS.search(value):
                raise ValueError(f"text contains control characters: {value!r}")
        return self

    def _all_text(self) -> list[str]:
        texts = [self.name, *self.favourite_artists, *self.favourite_genres, *self.moods]
        texts += [*self.interests, *self.avoid]
        texts += [t for h in self.history for t in (h.artist, h.title)]
        return texts

    @property
    def first_name(self) -> str:
        return self.name.split()[0]

    def avoided_in(self, text: str) -> str | None:
        """The first 'avoid' entry that text mentions, if any."""
        lowered = text.lower()
        return next((a for a in self.avoid if a.lower() in lowered), None)

    def avoids(self, text: str) -> bool:
        return self.avoided_in(text) is not None

    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


# ---------------------------------------------------------------- the listener's voice: requests and feedback

RequestSource = Literal["cli", "api", "ui"]
TalkAmount = Literal["less", "usual", "more"]


class TrackName(Strict):
    artist: str
    title: str


class ListenerRequest(Strict):
    """What one request asks of the next episode, as nightcast understood it.

    Every name here comes from the listener's own data (their library, history and favourites) or
    the style vocabulary, never from the request's words: a request can choose among things the
    listener already has, and cannot put text on air."""

    favour_artists: list[str] = Field(default_factory=list)
    favour_genres: list[str] = Field(default_factory=list)
    favour_moods: list[str] = Field(default_factory=list)
    favour_tracks: list[TrackName] = Field(default_factory=list)
    avoid_artists: list[str] = Field(default_factory=list, description="Left out of the next episode only.")
    avoid_genres: list[str] = Field(default_factory=list, description="Left out of the next episode only.")
    avoid_tracks: list[TrackName] = Field(default_factory=list, description="Left out of the next episode only.")
    exclude_artists: list[str] = Field(default_factory=list, description="Never played or featured again.")
    exclude_tracks: list[TrackName] = Field(default_factory=list, description="Never played again.")
    talk: TalkAmount = "usual"
    length_min: float | None = Field(default=None, ge=2, le=120)
    understood: list[str] = Field(default_factory=list, description="What was understood, in words built from "
                                                                     "the names above (shown in the manifest).")
    interpreter: str = Field(default="parser", description="What read the request: the offline parser or an LLM.")

    @property
    def asks_anything(self) -> bool:
        return bool(self.understood)


class StoredRequest(Strict):
    """A request as the profile store keeps it: pending until an episode uses it, or rejected with why."""

    id: Annotated[str, StringConstraints(pattern=r"^r-[0-9a-f]{12}$")]
    listener_id: Annotated[str, StringConstraints(pattern=LISTENER_ID_PATTERN)]
    text: str = Field(max_length=500, description="The listener's words, cleaned; data only, never read aloud.")
    source: RequestSource
    received_at: dt.datetime
    status: Literal["pending", "used", "rejected"] = "pending"
    episode_id: str | None = Field(default=None, description="The episode that used it.")
    reason: str | None = Field(default=None, description="Why it was rejected.")
    interpretation: ListenerRequest | None = None


FeedbackVerdict = Literal["like", "skip", "never"]


class Feedback(Strict):
    """A listener's verdict on one segment of an episode (a pick: its track and artist)."""

    id: Annotated[str, StringConstraints(pattern=r"^f-[0-9a-f]{12}$")]
    listener_id: Annotated[str, StringConstraints(pattern=LISTENER_ID_PATTERN)]
    episode_id: str
    segment_id: str
    verdict: FeedbackVerdict
    target: Literal["track", "artist"] = Field(default="track", description="What a skip or never applies to.")
    artist: str | None = Field(default=None, description="The segment's artist, as the episode had it.")
    title: str | None = Field(default=None, description="The track it played, if any.")
    note: str | None = Field(default=None, max_length=280)
    source: RequestSource
    received_at: dt.datetime


class Steering(Strict):
    """What the listener's requests and feedback ask of one episode, gathered at render time."""

    requests: list[StoredRequest] = Field(default_factory=list, description="The requests this episode answers.")
    excluded_artists: list[str] = Field(default_factory=list, description="Never again: requests and 'never' verdicts.")
    excluded_tracks: list[TrackName] = Field(default_factory=list)
    resting_tracks: list[TrackName] = Field(default_factory=list, description="Skipped lately: left out for now.")
    stepped_back_tracks: list[TrackName] = Field(default_factory=list, description="Skipped a while ago: rank lower.")
    skipped_artists: list[str] = Field(default_factory=list)
    liked_artists: list[str] = Field(default_factory=list)
    liked_tracks: list[TrackName] = Field(default_factory=list)

    def asked(self, attribute: str) -> list:
        """One kind of wish across this episode's requests, in order, each once."""
        seen: list = []
        for request in self.requests:
            for value in getattr(request.interpretation, attribute) if request.interpretation else []:
                if value not in seen:
                    seen.append(value)
        return seen

    def request_for(self, attribute: str, value) -> StoredRequest | None:
        """The request that asked for it, to cite."""
        return next((r for r in self.requests if r.interpretation and value in getattr(r.interpretation, attribute)),
                    None)

    @property
    def talk(self) -> TalkAmount:
        asked = [r.interpretation.talk for r in self.requests if r.interpretation and r.interpretation.talk != "usual"]
        return asked[-1] if asked else "usual"

    @property
    def length_min(self) -> float | None:
        asked = [r.interpretation.length_min for r in self.requests if r.interpretation and r.interpretation.length_min]
        return asked[-1] if asked else None


# ---------------------------------------------------------------- template


class SegmentKind(str, Enum):
    intro = "intro"  # greeting: name, time of day, mood, what's coming
    pick = "pick"  # why this artist / track fits the listener, then music
    story = "story"  # a small story about a genre or artist they love
    interlude = "interlude"  # a short line linking to an interest, or music only
    outro = "outro"  # sign-off


class Slot(Strict):
    kind: SegmentKind
    speech_s: float = Field(ge=0, le=600, description="Target seconds of DJ speech.")
    music_s: float = Field(ge=0, le=300, description="Seconds of music in the clear after the speech.")
    repeat: int = Field(default=1, ge=1, le=20)
    energy: float = Field(default=0.5, ge=0, le=1, description="0 calm … 1 driving; shapes the music.")
    dialogue: bool = Field(default=False, description="Host and co-host talk it through (needs the template's cohosts).")
    music: Name | None = Field(default=None, description="Music generator for this slot; else the template's music_backend.")


AudioFormat = Literal["mp3", "m4a", "opus"]
DEFAULT_BITRATE_KBPS = {"mp3": 128, "m4a": 128, "opus": 96}


class MixSettings(Strict):
    pre_roll_s: float = Field(default=3.0, ge=0, le=20, description="Music alone before the DJ talks.")
    crossfade_s: float = Field(default=2.5, ge=0, le=10)
    duck_db: float = Field(default=-14.0, le=0, ge=-40, description="Music gain under speech.")
    duck_attack_ms: float = Field(default=120, ge=1, le=2000)
    duck_hold_ms: float = Field(default=350, ge=0, le=3000,
                                description="How long the music stays down after the voice stops (bridges sentence pauses).")
    duck_release_ms: float = Field(default=600, ge=1, le=5000)
    min_music_s: float = Field(default=4.0, ge=0, description="Shortest music-in-the-clear a slot may get.")
    talk_over_s: float = Field(default=6.0, ge=0, le=30, description="How far the DJ talks over a library track's intro.")
    target_lufs: float = Field(default=-16.0, ge=-30, le=-8)
    true_peak_dbtp: float = Field(default=-1.0, ge=-6, le=0)
    format: AudioFormat = Field(default="mp3", description="Episode file: mp3, m4a (AAC) or opus.")
    bitrate_kbps: int | None = Field(default=None, ge=32, le=320,
                                     description="Encoder bitrate; by default 128 for mp3 and m4a, 96 for opus.")
    sample_rate: int | None = Field(default=None, description="44100 or 48000, the whole chain; opus is 48000 only.")

    @model_validator(mode="before")
    @classmethod
    def _rate_for_format(cls, data):
        if isinstance(data, dict) and data.get("sample_rate") is None:
            data = {**data, "sample_rate": 48000 if data.get("format") == "opus" else 44100}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> MixSettings:
        if self.pre_roll_s < self.crossfade_s:
            raise ValueError("pre_roll_s must be at least crossfade_s so speech never starts inside a crossfade")
        if self.sample_rate not in (44100, 48000):
            raise ValueError(f"sample_rate must be 44100 or 48000, not {self.sample_rate}")
        if self.format == "opus" and self.sample_rate != 48000:
            raise ValueError("opus is 48 kHz only: set sample_rate: 48000, or leave it out")
        return self

    @property
    def bitrate(self) -> int:
        return self.bitrate_kbps or DEFAULT_BITRATE_KBPS[self.format]


class EpisodeTemplate(Strict):
    id: Name
    title: ShortText
    description: str = ""
    style: str = Field(default="dj", pattern=r"^(dj|digest)$", description="dj: a music show; digest: a talk-led podcast")
    prompt: Name = Field(default="host", description="LLM prompt set: templates/prompts/llm/<prompt>/.")
    target_duration_s: float = Field(gt=0, le=7200)
    min_duration_s: float = Field(gt=0)
    max_duration_s: float = Field(gt=0)
    slots: list[Slot] = Field(min_length=2)
    mix: MixSettings = MixSettings()
    music_backend: Name = "procedural"
    cohosts: list[Name] = Field(
        default_factory=list, max_length=8,
        description="Voice presets for the second host, in order of preference: the first that is not the "
                    "listener's own voice joins the dialogue slots.",
    )

    @model_validator(mode="after")
    def _durations_consistent(self) -> EpisodeTemplate:
        if not self.min_duration_s <= self.target_duration_s <= self.max_duration_s:
            raise ValueError("need min_duration_s <= target_duration_s <= max_duration_s")
        kinds = [s.kind for s in self.slots]
        if kinds[0] != SegmentKind.intro or kinds[-1] != SegmentKind.outro:
            raise ValueError("slots must start with an 'intro' and end with an 'outro'")
        if any(s.dialogue for s in self.slots) and not self.cohosts:
            raise ValueError("a slot with 'dialogue: true' needs 'cohosts': the voice presets a second host may use")
        return self

    @property
    def has_dialogue(self) -> bool:
        return any(s.dialogue for s in self.slots)

    def expanded_slots(self) -> list[Slot]:
        return [slot for slot in self.slots for _ in range(slot.repeat)]


# ---------------------------------------------------------------- script


class TrackRef(Strict):
    """A real track from the listener's music library, with what mixing it needs to know."""

    path: str
    artist: ShortText
    title: ShortText
    album: str | None = None
    genre: str | None = None
    duration_s: float = Field(gt=0)
    bpm: float | None = Field(default=None, ge=40, le=220)
    key: Annotated[str, StringConstraints(pattern=KEY_PATTERN)] | None = None
    first_beat_s: float = Field(default=0.0, ge=0, description="The first downbeat: where the bar grid starts.")

    @property
    def bar_s(self) -> float | None:
        return 240.0 / self.bpm if self.bpm else None


class MusicCue(Strict):
    """What the music stage should play under and after a segment's speech."""

    prompt: str = Field(min_length=1, max_length=500, description="Text prompt (MusicGen-style).")
    style: str = Field(description="Style family for the procedural generator, e.g. 'jazz'.")
    mood: str
    bpm: int = Field(ge=40, le=200)
    key: Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
    duration_s: float = Field(ge=0, le=300, description="Seconds of music in the clear after speech.")
    energy: float = Field(default=0.5, ge=0, le=1)
    generator: Name | None = Field(default=None, description="The slot's music generator, if it names one.")
    track: TrackRef | None = Field(
        default=None, description="A library track that enters under the end of the speech and plays in the clear; "
                                  "the generator then makes only the bridge into it (at the track's tempo and key).")


class Line(Strict):
    """One turn of a two-host conversation: who says it (a voice preset id) and what they say."""

    speaker: Name
    text: str = Field(min_length=1, max_length=5_000)


class Segment(Strict):
    id: Name
    kind: SegmentKind
    title: ShortText
    speaker: Name = Field(description="The voice preset that hosts this segment (and speaks it, without lines).")
    text: str = Field(default="", max_length=20_000, description="Everything said; the lines joined, for dialogue.")
    lines: list[Line] = Field(default_factory=list, description="Dialogue turns, in order; empty: one voice speaks text.")
    word_budget: int = Field(ge=0)
    cue: MusicCue
    notes: str = Field(default="", description="Why this segment fits the listener (for show notes).")
    artist: str | None = Field(default=None, description="The artist this segment is about, if any.")
    track: str | None = Field(default=None, description="The listener's own track it cites, if any.")
    written_by: str | None = Field(default=None, description="Backend (and model) that wrote the text.")
    request: str | None = Field(default=None, description="The listener's request that shaped it (a request id).")

    @model_validator(mode="before")
    @classmethod
    def _text_from_lines(cls, data):
        if isinstance(data, dict) and data.get("lines") and not data.get("text"):
            data = {**data, "text": " ".join(_line_text(line) for line in data["lines"])}
        return data

    @model_validator(mode="after")
    def _lines_match_text(self) -> Segment:
        if self.lines and " ".join(line.text for line in self.lines) != self.text:
            raise ValueError("text must be the dialogue lines joined by spaces")
        return self

    @property
    def word_count(self) -> int:
        return len(self.text.split())

    def turns(self) -> list[Line]:
        """Who says what, in order: the dialogue lines, or the host saying the whole text."""
        if self.lines:
            return list(self.lines)
        return [Line(speaker=self.speaker, text=self.text)] if self.text.strip() else []

    @property
    def speakers(self) -> list[str]:
        return list(dict.fromkeys(line.speaker for line in self.turns())) or [self.speaker]


def _line_text(line) -> str:
    return line.text if isinstance(line, Line) else str(line.get("text", ""))


class WriterFallback(Strict):
    """A segment (or a whole script) the chosen writer could not deliver, and what replaced it."""

    segment_id: str | None = Field(description="None: the whole script fell back.")
    reason: str
    attempts: list[str] = Field(default_factory=list, description="What each try returned, in order.")
    used: str = Field(description="The writer whose text was used instead.")


class WritingStats(Strict):
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0


ClaimKind = Literal["favourite", "play_count", "most_played", "played", "mood", "interest", "request"]


class FactClaim(Strict):
    """One sentence that states a fact about the listener, and the data it rests on."""

    segment_id: str
    sentence: str
    claim: ClaimKind
    rests_on: str | None = Field(description="The profile field, history item or request that supports it; "
                                             "None: nothing does (an ungrounded claim).")


class DataShared(Strict):
    """What of the listener's data went to a writer on another machine, and which."""

    with_url: str = Field(description="The writer's server (not loopback).")
    policy: Literal["minimal", "full"]
    fields: list[str] = Field(description="Every field sent, as a dotted path in the segment's data block.")


class Script(Strict):
    episode_id: Name
    listener_id: str
    template_id: Name
    date: dt.date
    local_time: dt.time
    title: ShortText
    writer: str
    writer_model: str | None = None
    writer_version: str | None = Field(default=None, description="The writer's own version, as it reported it.")
    segments: list[Segment] = Field(min_length=1)
    fallbacks: list[WriterFallback] = Field(default_factory=list)
    stats: WritingStats | None = None
    facts: list[FactClaim] = Field(default_factory=list, description="The fact ledger: every sentence that states "
                                                                     "a listener fact, and what it rests on.")
    shared: DataShared | None = Field(default=None, description="Listener data sent to a writer on another machine "
                                                                "(None: none left this machine).")
    starter_picks: list[str] = Field(default_factory=list, description="Artists featured from the starter taste "
                                     "(templates/starter_taste.yaml) because the listener's own data had too few.")

    @model_validator(mode="after")
    def _unique_segment_ids(self) -> Script:
        ids = [s.id for s in self.segments]
        if len(ids) != len(set(ids)):
            raise ValueError("segment ids must be unique")
        return self


# ---------------------------------------------------------------- audio stages


class TimedText(Strict):
    start_s: float
    end_s: float
    text: str
    speaker: str | None = Field(default=None, description="Voice preset id; None in single-voice clips.")


class SpeechClip(Strict):
    segment_id: Name
    path: str
    sample_rate: int
    duration_s: float
    sentences: list[TimedText] = Field(description="Times relative to the clip start.")
    engine: str
    engine_versions: dict[str, str] = Field(default_factory=dict,
                                            description="Each voice preset that spoke → its engine's version.")


class TimelineEntry(Strict):
    segment_id: Name
    start_s: float  # where this segment's music fades in
    speech_start_s: float
    speech_end_s: float
    end_s: float  # where the next segment starts (its crossfade begins)
    music_s: float  # length of the music clip to generate, crossfade tail included
    crossfade_s: float = 0.0  # equal-power crossfade into the next segment, whole beats of this bed
    track_start_s: float | None = None  # where a library track enters (on the bridge's bar line)
    duck_db: float | None = Field(default=None, le=0, ge=-40,
                                  description="This segment's music under speech, in place of the format's duck_db "
                                              "(QA ducks a bed deeper when it masked the voice).")

    @property
    def track_offset_s(self) -> float | None:
        """Where the track enters, from the start of this segment's bed."""
        return None if self.track_start_s is None else self.track_start_s - self.start_s


class Timeline(Strict):
    entries: list[TimelineEntry]
    duration_s: float
    music_scale: float | None = Field(default=None, description="The beds' clear music as a share of their "
                                                                "nominal length; a re-render of the episode keeps it.")
    target_s: float | None = Field(default=None, description="The length it was planned for.")


class MixedAudio(Strict):
    """The unmastered mix, streamed to a float WAV (an hour of stereo is too big to pass around in memory)."""

    path: str
    sample_rate: int
    duration_s: float
    peak: float  # largest absolute sample: a silent mix is refused before mastering


class MasteredAudio(Strict):
    """The finished, tagged episode file and what ebur128 measured on it."""

    path: str
    loudness: "Loudness"


class MusicClip(Strict):
    segment_id: Name
    path: str
    sample_rate: int
    duration_s: float
    generator: str
    generator_version: str | None = Field(default=None, description="As the generator that made it reported it "
                                                                  "(where it ran: a GPU worker says so).")
    model: str | None = None


# ---------------------------------------------------------------- episode


class BackendInfo(Strict):
    name: str
    version: str
    model: str | None = None


class Loudness(Strict):
    integrated_lufs: float
    true_peak_dbtp: float
    loudness_range_lu: float
    measured_by: str = "ffmpeg ebur128"


class Chapter(Strict):
    start_s: float
    end_s: float
    title: str
    segment_id: str


class PlayedTrack(Strict):
    """A library track the episode plays: where it enters (under the DJ) and where its segment ends."""

    segment_id: str
    artist: str
    title: str
    path: str
    start_s: float
    end_s: float


class SpokenSegment(Strict):
    """Where a segment's voice sits in the finished episode: what QA listens to."""

    segment_id: Name
    speech_start_s: float
    speech_end_s: float
    sentences: list[TimedText] = Field(description="Times in the episode.")


class QACheck(Strict):
    name: str
    value: float | None = Field(description="What was measured (None: could not be measured).")
    threshold: str = Field(description="What passes, e.g. '<= 0.30' or '-16.0 ± 1.0'.")
    passed: bool
    hard: bool = Field(default=True, description="A failed hard check stops publication.")
    detail: str = ""


class HeardSegment(Strict):
    """What ASR heard of one segment, against the sentences it was given to hear."""

    segment_id: Name
    reference: str = Field(description="The script text of the sentences listened to.")
    heard: str
    wer: float = Field(description="Word error rate of `heard` against `reference`.")
    sentences_heard: int
    sentences: int


class Hearing(Strict):
    """What ASR heard of a recording's segments, and how long it took."""

    segments: list[HeardSegment]
    seconds: float
    model: str = Field(description="The ASR that heard it.")


class VoiceQuality(Strict):
    """Predicted MOS of a voice clip, 1 (bad) … 5 (excellent): DNSMOS P.835 and P.808 (nightcast/qa/mos.py)."""

    ovrl: float = Field(description="P.835 overall quality.")
    sig: float = Field(description="P.835 speech signal.")
    bak: float = Field(description="P.835 background (noise, buzz).")
    p808: float = Field(description="P.808 overall: catches a dull, band-limited voice that P.835 misses.")


class SegmentQA(Strict):
    segment_id: Name
    words: int
    speech_s: float
    wer: float | None = Field(default=None, description="Word error rate of what ASR heard in the final mix.")
    heard: str = ""
    wer_isolated: float | None = Field(
        default=None, description="WER of the voice on its own, measured when the mix's WER is over the retry "
                                  "threshold: it tells a voice at fault from a voice masked by its music.")
    heard_isolated: str = ""
    cause: Literal["voice", "masking"] | None = Field(
        default=None, description="Why the mix was not intelligible: the voice itself, or music masking a good voice.")
    first_wer: float | None = Field(default=None, description="WER before the retry, for a retried segment.")
    resynthesised: bool = Field(default=False, description="The voice was synthesised again (another seed).")
    quality: VoiceQuality | None = Field(default=None, description="Predicted MOS of the segment's voice clip.")
    quality_retry: bool = Field(default=False, description="Its predicted quality was under the voice's retry "
                                                          "threshold: it is synthesised again once.")
    first_quality: VoiceQuality | None = Field(default=None, description="Predicted MOS before the retry.")
    remixed: bool = Field(default=False, description="The music under it was mixed again, ducked deeper.")
    checks: list[QACheck] = Field(default_factory=list)


class QAReport(Strict):
    passed: bool
    checks: list[QACheck]
    segments: list[SegmentQA] = Field(default_factory=list)
    asr_model: str = ""
    seconds: float = Field(default=0.0, description="Wall time of the meters and checks (ASR apart: asr_seconds).")
    asr_seconds: float = Field(default=0.0, description="ASR's own time; in a render it runs beside the master.")
    quality_seconds: float = Field(default=0.0, description="Predicting every voice clip's MOS.")

    def failures(self) -> list[QACheck]:
        return [c for c in [*self.checks, *(c for s in self.segments for c in s.checks)] if c.hard and not c.passed]


class QASummary(Strict):
    ran: bool
    passed: bool | None = None
    failed: list[str] = Field(default_factory=list, description="Names of failed hard checks.")
    report: str | None = Field(default=None, description="The full report's file, qa.json.")


class AnsweredRequest(Strict):
    """A request as the episode answered it: what was understood, and the segments it shaped."""

    id: str
    source: RequestSource
    understood: list[str]
    interpreter: str
    segments: list[str] = Field(default_factory=list, description="Segments whose pick or words it shaped.")


class SegmentChange(Strict):
    """What a re-render of an episode made again for one segment, and why (the rest came from the cache)."""

    segment_id: str
    spoken_again: bool
    bed_again: bool
    why: list[str]


class EpisodeManifest(Strict):
    nightcast_version: str
    episode_id: str
    listener_id: str
    listener_name: str
    template_id: str
    title: str
    date: dt.date
    created_at: dt.datetime
    backends: dict[str, BackendInfo]
    segment_writers: dict[str, str] = Field(default_factory=dict, description="Who wrote each segment's text.")
    writer_fallbacks: list[WriterFallback] = Field(default_factory=list)
    shared: DataShared | None = Field(default=None, description="Listener data sent to a writer on another machine, "
                                                                "with whom, under which policy, which fields.")
    stage_timings_s: dict[str, float]
    stage_cache: dict[str, dict[str, int]] = Field(
        default_factory=dict, description="Per stage: tasks that ran and results reused from the stage cache.")
    speech: list[SpokenSegment] = Field(default_factory=list, description="Each segment's voice in the episode.")
    qa: QASummary | None = None
    duration_s: float
    loudness: Loudness
    chapters: list[Chapter]
    tracks: list[PlayedTrack] = Field(default_factory=list, description="Library tracks played, in order.")
    requests: list[AnsweredRequest] = Field(default_factory=list,
                                            description="The listener's requests this episode answers, and how.")
    timeline: Timeline | None = Field(default=None, description="Where every segment sits.")
    changes: list[SegmentChange] | None = Field(
        default=None, description="A re-render: the segments made again since this episode's previous render, "
                                  "and why (None: its first render).")
    files: dict[str, str]

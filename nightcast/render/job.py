"""Everything a render needs, validated up front: a bad profile or name fails here, before any output."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nightcast.data_files import load_profile, load_template
from nightcast.episode_store import EpisodeStore, episode_id
from nightcast.errors import InputError, NightcastError
from nightcast.schema import (
    BackendInfo,
    EpisodeManifest,
    EpisodeTemplate,
    ListenerProfile,
    MixSettings,
    MusicClip,
    MusicCue,
    Script,
    SpeechClip,
    Steering,
    TalkAmount,
    Timeline,
)
from nightcast.settings import Settings
from nightcast.voices.presets import VoicePreset, load_preset


class RenderJob(BaseModel):
    model_config = ConfigDict(frozen=True)
    profile: ListenerProfile
    template: EpisodeTemplate
    preset: VoicePreset
    cohost: VoicePreset | None = None  # the second voice, for formats with dialogue slots
    date: dt.date
    episode_id: str
    writer: str
    music: str  # the template's default generator; a slot may name another, --music overrides every slot
    library_dir: Path | None = None  # the listener's own tracks, when configured
    target_duration_s: float
    templates_dir: Path
    settings: Settings
    steering: Steering = Steering()  # the listener's requests and feedback this episode answers
    # this episode's last render (manifest, script), if any: what a re-render keeps and reports changes against
    previous: tuple[EpisodeManifest, Script] | None = None

    @property
    def store(self) -> EpisodeStore:
        return self.settings.episode_store()

    @property
    def episode_dir(self) -> Path:
        return self.store.episode_dir(self.profile.id, self.episode_id)

    @property
    def voices(self) -> dict[str, VoicePreset]:
        """Every voice in this episode by preset id: what a script line's `speaker` names."""
        return {p.id: p for p in (self.preset, self.cohost) if p is not None}

    @property
    def generators(self) -> set[str]:
        """Every music generator this render may use: --music, else the format's and its slots'."""
        return generators_for(self.template, self.settings)

    def generator_for(self, cue: MusicCue) -> str:
        return self.settings.music or cue.generator or self.music

    def cohost_request(self):
        from nightcast.generators.script import CoHost

        return CoHost(voice=self.cohost.id, name=self.cohost.host_name) if self.cohost else None


def choose_cohost(template: EpisodeTemplate, host: VoicePreset, presets_dir: Path) -> VoicePreset | None:
    """The template's first co-host preference that is not the host's voice and can run here.

    Preferences are data (`cohosts` in the format); one whose engine cannot run here is skipped (e.g.
    the optional piper voices), and the last preference that can is the floor. Asked of the engine's
    class: no model is loaded into the render process (a GPU voice runs on the gpu pool)."""
    from nightcast.voices import ENGINES

    wanted = [name for name in template.cohosts if name != host.id] if template.has_dialogue else []
    problems = []
    for name in wanted:
        try:
            preset = load_preset(name, presets_dir)
        except InputError as exc:
            raise InputError(exc.reason, source=f"template '{template.id}'", field="cohosts") from None
        try:
            ENGINES.load(preset.engine).check(preset.model, preset.speaker)
            return preset
        except NightcastError as exc:
            problems.append(f"{name}: {exc}")
    if problems:
        raise InputError(f"no co-host voice can run here ({'; '.join(problems)})", source=f"template '{template.id}'",
                         field="cohosts")
    return None


def parse_date_option(value: str | None) -> dt.date | None:
    """A --date flag: YYYY-MM-DD, or none (the listener's today, resolved with their profile)."""
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(f"'{value}' is not a date in the form YYYY-MM-DD", source="--date") from None


def parse_date(value: str | dt.date | None, profile: ListenerProfile) -> dt.date:
    """The episode's date: as given, else today in the listener's time zone."""
    if value is None:
        return dt.datetime.now(profile.tz()).date()
    if isinstance(value, dt.date):
        return value
    return parse_date_option(value)


TALK_SCALE = {"less": 0.5, "usual": 1.0, "more": 1.35}  # speech seconds per slot; the music fills the rest


def with_talk(template: EpisodeTemplate, talk: TalkAmount) -> EpisodeTemplate:
    """The format with each slot's speech scaled to the talk the listener asked for."""
    scale = TALK_SCALE[talk]
    if scale == 1.0:
        return template
    slots = [slot.model_copy(update={"speech_s": round(min(600.0, slot.speech_s * scale), 2)}) for slot in template.slots]
    return template.model_copy(update={"slots": slots})


def target_duration_s(template: EpisodeTemplate, profile: ListenerProfile, requested_min: float | None = None) -> float:
    """A length the listener requested, brought into the format's range; else their preferred length
    where the format allows it; else the format's target."""
    if requested_min:
        return min(max(requested_min * 60, template.min_duration_s), template.max_duration_s)
    if profile.preferred_length_min:
        wanted = profile.preferred_length_min * 60
        if template.min_duration_s <= wanted <= template.max_duration_s:
            return wanted
    return template.target_duration_s


def with_audio_format(template: EpisodeTemplate, audio_format: str) -> EpisodeTemplate:
    """The template with another output format; the chain's sample rate follows it (opus is 48 kHz)
    unless the template chose a rate the new format can also take."""
    settings = template.mix.model_dump(exclude_unset=True)
    if audio_format == "opus" and settings.get("sample_rate") != 48000:
        settings.pop("sample_rate", None)
    return template.model_copy(update={"mix": MixSettings(**{**settings, "format": audio_format})})


def resolve_profile(listener: str | Path, settings: Settings) -> tuple[ListenerProfile, str]:
    """A profile YAML file, or a listener id looked up in the profile store; and where it came from."""
    text = str(listener)
    if text.endswith((".yaml", ".yml")) or "/" in text or "\\" in text:
        return load_profile(text), text
    store = settings.profile_store()
    return store.load(text), f"{store.describe()} [{text}]"


def generators_for(template: EpisodeTemplate, settings: Settings) -> set[str]:
    if settings.music:
        return {settings.music}
    return {template.music_backend, *(s.music for s in template.slots if s.music)}


def prepare_render(listener: str | Path, template_name: str | None, date: str | dt.date | None,
                   settings: Settings, request_text: str | None = None, request_source: str = "ui") -> RenderJob:
    """`request_text`: a request sent with this render (the UI form's `request`): stored like any
    other, and answered by this episode."""
    from nightcast.generators.music import GENERATORS
    from nightcast.generators.script import WRITERS
    from nightcast.steering import steering_for

    profile, profile_path = resolve_profile(listener, settings)
    name = template_name or profile.template
    if name is None:
        raise InputError("no template given: pass --template or set 'template' in the profile", source=profile_path, field="template")
    try:
        template = load_template(name, settings.templates_dir)
        preset = load_preset(settings.voice or profile.voice, settings.presets_dir)
        cohost = choose_cohost(template, preset, settings.presets_dir)
    except InputError as exc:
        if exc.source is None:  # the name came from the profile or the command line: point there
            raise InputError(exc.reason, source=profile_path, field=exc.field) from None
        raise
    if settings.audio_format and settings.audio_format != template.mix.format:
        template = with_audio_format(template, settings.audio_format)
    when = parse_date(date, profile)
    music = settings.music or template.music_backend
    generators = generators_for(template, settings)
    backends = [("--writer", WRITERS, settings.writer)]
    backends += [("--music" if settings.music else f"template '{template.id}'", GENERATORS, g) for g in sorted(generators)]
    for option, registry, backend in backends:
        try:
            registry.target(backend)  # unknown backend names fail now, not mid-render
        except InputError as exc:
            raise InputError(exc.reason, source=option) from None
        registry.load(backend).check(settings)  # a missing model file or server URL fails now, naming the option
    library_dir = listener_library_dir(settings, profile.id)
    episode = episode_id(template.id, when)
    if request_text:
        take_listener_request(settings, profile, request_text, request_source)
    steering = steering_for(settings.profile_store(), profile.id, episode, when)
    return RenderJob(
        profile=profile, template=with_talk(template, steering.talk), preset=preset, cohost=cohost, date=when,
        episode_id=episode, writer=settings.writer, music=music,
        target_duration_s=target_duration_s(template, profile, steering.length_min),
        templates_dir=settings.templates_dir, settings=settings, library_dir=library_dir, steering=steering,
        previous=settings.episode_store().previous_render(profile.id, episode),
    )


def episode_timeline(job: RenderJob, script: Script, speech: list[SpeechClip]) -> Timeline:
    """Where every segment sits: a re-render keeps its previous render's music scale while the episode
    stays in the format's range and is planned for the same length (nightcast/mix/timeline.py)."""
    from nightcast.mix import plan_timeline

    before = job.previous[0].timeline if job.previous else None
    keep = before.music_scale if before is not None and before.target_s == job.target_duration_s else None
    return plan_timeline(script, speech, job.template.mix, job.target_duration_s, keep_scale=keep,
                         duration_range=(job.template.min_duration_s, job.template.max_duration_s))


def listener_library_dir(settings: Settings, listener_id: str) -> Path | None:
    """The listener's own music folder when a library is configured (checked first), else None."""
    from nightcast.generators.music.library import check_library, library_folder

    if settings.music_library is None:
        return None
    check_library(settings.music_library)
    return library_folder(settings.music_library, listener_id)


def take_listener_request(settings: Settings, profile: ListenerProfile, text: str, source: str,
                          per_hour: int | None = None):
    """A request taken in the one way every face takes it: read by the configured writer against the
    listener's own names (their library's tags included), stored, within `per_hour` if given."""
    from nightcast.generators.script import load_writer
    from nightcast.steering import take_request

    tracks = library_tracks(listener_library_dir(settings, profile.id), settings)
    return take_request(settings.profile_store(), profile, text, source, tracks, per_hour=per_hour,
                        reader=load_writer(settings).read_request)


def library_tracks(library_dir: Path | None, settings: Settings):
    """The listener's library tracks by their tags (no audio analysis): what a request can name."""
    if library_dir is None:
        return None
    from nightcast.generators.music.library import scan_library

    return scan_library(library_dir, settings.cache_root(), analyse=False).tracks


def describe_backends(job: RenderJob, script: Script, speech: list[SpeechClip],
                      music: list[MusicClip]) -> dict[str, BackendInfo]:
    """Which backend ran each stage, with versions and models, for the manifest: as the stages
    reported them, wherever they ran (a GPU worker), never by loading a backend again here."""
    from importlib.metadata import version

    from nightcast.binaries import ffmpeg, version_of

    spoke = {preset: v for clip in speech for preset, v in clip.engine_versions.items()}

    def voice(preset: VoicePreset) -> BackendInfo:
        return BackendInfo(name=preset.engine, version=spoke.get(preset.id, "unknown (not reported)"),
                           model=preset.model or preset.id)

    first_clip = {}
    for clip in music:
        first_clip.setdefault(clip.generator, clip)
    return {
        "script": BackendInfo(name=script.writer, version=script.writer_version or "unknown (not reported)",
                              model=script.writer_model),
        "speech": voice(job.preset),
        **({"cohost-speech": voice(job.cohost)} if job.cohost else {}),
        **{("music" if i == 0 else f"music-{name}"): BackendInfo(
            name=name, version=clip.generator_version or "unknown (not reported)", model=clip.model)
           for i, (name, clip) in enumerate(first_clip.items())},
        "mix": BackendInfo(name="numpy+ffmpeg", version=f"numpy {version('numpy')}; {version_of(ffmpeg()).split(' Copyright')[0]}"),
        "flow": BackendInfo(name="prefect", version=version("prefect")),
    }

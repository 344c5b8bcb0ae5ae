"""The QA gate's tasks in the render flow: listen while mastering, meter, judge; keep a blocked report.

ASR listens to the mix while the master encodes it (`listen_task`, submitted after the mix), the
voices' predicted MOS is computed while music and mix are made (`rate_voices_task`, submitted after
the speech), and the encoded file is metered while ASR finishes (`meter_task`): on two cores the
gate costs the part of its work that does not fit beside the other stages, not all of it end to end.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from nightcast.episode_store import EpisodeStore, write_text_atomic
from nightcast.flows.caching import StageInputs, check_key_names
from nightcast.idle_priority import at_idle_priority
from nightcast.qa import check_episode, listen
from nightcast.qa.gate import score_voices
from nightcast.qa.meters import FileMeters, meter_file
from nightcast.schema import Hearing, QAReport, Script, SpeechClip, SpokenSegment, VoiceQuality
from nightcast.settings import QASettings


@task(name="listen", cache_policy=StageInputs(stage="hearing", inputs=("mix_key", "spoken", "qa")))
def listen_task(mix_wav: Path, spoken: list[SpokenSegment], qa: QASettings, mix_key: str | None = None) -> Hearing:
    """`mix_key` (StageCache.mix_key) keys what was heard by what went into the mix: a re-render whose
    mix would be the same needs neither the mix nor the ASR."""
    # lowest priority: ASR should fill the cores the master's encoder leaves idle, not slow it down
    return at_idle_priority(lambda: listen(mix_wav, spoken, qa))


@task(name="rate-voices", cache_policy=NO_CACHE)
def rate_voices_task(speech: list[SpeechClip]) -> tuple[dict[str, VoiceQuality], float]:
    # submitted as the voices exist: predicted MOS fills the cores music and mix leave idle
    return at_idle_priority(lambda: score_voices(speech))


@task(name="meter", cache_policy=NO_CACHE)
def meter_task(audio: Path, qa: QASettings) -> FileMeters:
    return meter_file(audio, qa.silence_dbfs)


@task(name="qa", cache_policy=NO_CACHE)
def qa_task(episode, script: Script, job, speech: list[SpeechClip], heard: Hearing, meters: FileMeters,
            voice_scores: tuple[dict[str, VoiceQuality], float] | None) -> QAReport:
    return check_episode(episode.path, script, episode.spoken, job.template,
                         {p.id: p.words_per_minute for p in job.voices.values()}, job.settings.qa, episode.loudness,
                         heard=heard, meters=meters, speech=speech, voice_scores=voice_scores)


def keep_failed_report(store: EpisodeStore, listener: str, episode: str, report: QAReport) -> Path:
    """A blocked episode leaves only its report, beside where it would have been (feeds list folders only)."""
    path = store.failed_report_path(listener, episode)
    write_text_atomic(path, report.model_dump_json(indent=2))
    return path


check_key_names(listen_task)

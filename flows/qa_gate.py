"""The QA gate in the render flow: listen while mastering, meter, retry what was unclear, block what fails.

ASR listens to the mix while the master encodes it (`listen_task`, submitted after the mix), and
the encoded file is metered while ASR finishes (`meter_task`): on two cores the gate costs the
part of ASR that does not fit beside the encoder, not ASR plus meters end to end.
"""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from nightcast.idle_priority import at_background_priority
from nightcast.publish.episode_dir import write_text_atomic
from nightcast.qa import check_episode, listen
from nightcast.qa.meters import FileMeters, meter_file
from nightcast.schema import Hearing, QAReport, Script, SpeechClip, SpokenSegment
from nightcast.settings import QASettings
from nightcast.voices import speak_segment
from nightcast.voices.cache import SpeechCache

RESYNTHESIS_SEED = 1  # another seed: sampling engines (VITS, XTTS, piper's noise) say it differently
DEEPER_DUCK_DB = 18.0  # a masked segment's music goes this much further down under the voice (it comes back in pauses)
DEEPEST_DUCK_DB = -40.0


@task(name="listen", cache_policy=NO_CACHE)
def listen_task(mix_wav: Path, spoken: list[SpokenSegment], qa: QASettings) -> Hearing:
    # lowest priority: ASR should fill the cores the master's encoder leaves idle, not slow it down
    return at_background_priority(lambda: listen(mix_wav, spoken, qa))


@task(name="meter", cache_policy=NO_CACHE)
def meter_task(audio: Path, qa: QASettings) -> FileMeters:
    return meter_file(audio, qa.silence_dbfs)


@task(name="qa", cache_policy=NO_CACHE)
def qa_task(episode, script: Script, job, speech: list[SpeechClip], heard: Hearing, meters: FileMeters) -> QAReport:
    return check_episode(episode.path, script, episode.spoken, job.template,
                         {p.id: p.words_per_minute for p in job.voices.values()}, job.settings.qa, episode.loudness,
                         heard=heard, meters=meters, speech=speech)


def resynthesise(job, script: Script, speech: list[SpeechClip], segment_ids: list[str], work: Path) -> list[SpeechClip]:
    cache_dir = job.settings.speech_cache_dir()
    redo = {s.id: s for s in script.segments if s.id in segment_ids}
    return [speak_segment(redo[clip.segment_id], job.voices, work, job.template.mix.sample_rate, seed=RESYNTHESIS_SEED,
                          cache=SpeechCache(cache_dir) if cache_dir else None)
            if clip.segment_id in redo else clip for clip in speech]


def deeper_ducking(duck_db: float, segment_ids: list[str]) -> dict[str, float]:
    return {segment_id: max(DEEPEST_DUCK_DB, duck_db - DEEPER_DUCK_DB) for segment_id in segment_ids}


def after_retry(first: QAReport, second: QAReport, resynthesised: list[str], remixed: list[str]) -> QAReport:
    """The second check, saying what was retried and why: a retried segment keeps its first WER and
    the first check's diagnosis (the second only diagnoses what is still unclear)."""
    before = {s.segment_id: s for s in first.segments}
    segments = []
    for segment in second.segments:
        if segment.segment_id in resynthesised or segment.segment_id in remixed:
            earlier = before[segment.segment_id]
            segment = segment.model_copy(update={
                "first_wer": earlier.wer, "resynthesised": segment.segment_id in resynthesised,
                "remixed": segment.segment_id in remixed,
                **({} if segment.cause else {"cause": earlier.cause, "wer_isolated": earlier.wer_isolated,
                                             "heard_isolated": earlier.heard_isolated})})
        segments.append(segment)
    return second.model_copy(update={"segments": segments, "asr_seconds": first.asr_seconds + second.asr_seconds})


def keep_failed_report(episode_dir: Path, report: QAReport) -> Path:
    """A blocked episode leaves only its report, beside where it would have been (feeds list folders only)."""
    path = episode_dir.parent / f".{episode_dir.name}.qa-failed.json"
    write_text_atomic(path, report.model_dump_json(indent=2))
    return path

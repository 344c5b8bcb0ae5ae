"""The QA gate in the render flow: check, resynthesise what was not intelligible, block what fails."""

from __future__ import annotations

from pathlib import Path

from prefect import task
from prefect.cache_policies import NO_CACHE

from nightcast.publish.episode_dir import write_text_atomic
from nightcast.qa import check_episode
from nightcast.schema import QAReport, Script, SpeechClip
from voices import speak_segment
from voices.cache import SpeechCache

RESYNTHESIS_SEED = 1  # another seed: sampling engines (VITS, XTTS, piper's noise) say it differently


@task(name="qa", cache_policy=NO_CACHE)
def qa_task(episode, script: Script, job) -> QAReport:
    return check_episode(episode.path, script, episode.spoken, job.template,
                         {p.id: p.words_per_minute for p in job.voices.values()}, job.settings.qa, episode.loudness)


def resynthesise(job, script: Script, speech: list[SpeechClip], segment_ids: list[str], work: Path) -> list[SpeechClip]:
    cache_dir = job.settings.speech_cache_dir()
    redo = {s.id: s for s in script.segments if s.id in segment_ids}
    return [speak_segment(redo[clip.segment_id], job.voices, work, job.template.mix.sample_rate, seed=RESYNTHESIS_SEED,
                          cache=SpeechCache(cache_dir) if cache_dir else None)
            if clip.segment_id in redo else clip for clip in speech]


def mark_resynthesised(report: QAReport, segment_ids: list[str]) -> QAReport:
    return report.model_copy(update={"segments": [s.model_copy(update={"resynthesised": s.segment_id in segment_ids})
                                                  for s in report.segments]})


def keep_failed_report(episode_dir: Path, report: QAReport) -> Path:
    """A blocked episode leaves only its report, beside where it would have been (feeds list folders only)."""
    path = episode_dir.parent / f".{episode_dir.name}.qa-failed.json"
    write_text_atomic(path, report.model_dump_json(indent=2))
    return path

"""The QA gate's retry policy, in one place: what is done, once, about each unclear segment.

A segment over `wer_retry` was diagnosed by the gate (its voice heard on its own):
- `masking`, a clear voice under music that hid it: the segment is mixed again with its bed ducked
  `DEEPER_DUCK_DB` further (no deeper than `DEEPEST_DUCK_DB`); a new take of a good voice would not help.
- `voice`, the voice itself unclear: it is synthesised again with `RESYNTHESIS_SEED` (sampling
  engines, VITS, XTTS, piper's noise, say it differently), through the speech stage as any first
  pass is.
A segment whose voice clip's predicted MOS is under its voice's retry threshold is synthesised
again the same way.
Each is tried once; the second report keeps what the first said about the retried segments.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from nightcast.schema import QAReport
from nightcast.settings import QASettings

RESYNTHESIS_SEED = 1
DEEPER_DUCK_DB = 18.0  # the masked segment's music goes this much further down under the voice (back up in pauses)
DEEPEST_DUCK_DB = -40.0


class RetryPlan(BaseModel):
    model_config = ConfigDict(frozen=True)
    resynthesise: list[str] = []  # segment ids whose voice is synthesised again
    ducking: dict[str, float] = {}  # segment id → its music's gain under the voice, in place of the format's

    @property
    def remix(self) -> list[str]:
        return list(self.ducking)

    def __bool__(self) -> bool:
        return bool(self.resynthesise or self.ducking)


def needs_resynthesis(report: QAReport, qa: QASettings) -> list[str]:
    """Segments whose voice was unclear (over the retry threshold, not masked) or predicted poor
    (under its MOS retry threshold), not yet resynthesised."""
    return [s.segment_id for s in report.segments if not s.resynthesised and (
        (s.wer is not None and s.wer > qa.wer_retry and s.cause != "masking") or s.quality_retry)]


def needs_remix(report: QAReport, qa: QASettings) -> list[str]:
    """Segments whose clear voice was masked by its music, not yet mixed again."""
    return [s.segment_id for s in report.segments
            if s.wer is not None and s.wer > qa.wer_retry and s.cause == "masking" and not s.remixed]


def plan_retry(report: QAReport, qa: QASettings, duck_db: float) -> RetryPlan:
    """What to retry after the first check; empty when nothing is unclear. `duck_db`: the format's."""
    deeper = max(DEEPEST_DUCK_DB, duck_db - DEEPER_DUCK_DB)
    return RetryPlan(resynthesise=needs_resynthesis(report, qa),
                     ducking={segment_id: deeper for segment_id in needs_remix(report, qa)})


def after_retry(first: QAReport, second: QAReport, plan: RetryPlan) -> QAReport:
    """The second check, saying what was retried and why: a retried segment keeps its first WER and
    the first check's diagnosis (the second only diagnoses what is still unclear)."""
    before = {s.segment_id: s for s in first.segments}
    segments = []
    for segment in second.segments:
        if segment.segment_id in plan.resynthesise or segment.segment_id in plan.ducking:
            earlier = before[segment.segment_id]
            segment = segment.model_copy(update={
                "first_wer": earlier.wer, "first_quality": earlier.quality,
                "resynthesised": segment.segment_id in plan.resynthesise,
                "remixed": segment.segment_id in plan.ducking,
                **({} if segment.cause else {"cause": earlier.cause, "wer_isolated": earlier.wer_isolated,
                                             "heard_isolated": earlier.heard_isolated})})
        segments.append(segment)
    return second.model_copy(update={"segments": segments, "asr_seconds": first.asr_seconds + second.asr_seconds,
                                     "quality_seconds": first.quality_seconds + second.quality_seconds})

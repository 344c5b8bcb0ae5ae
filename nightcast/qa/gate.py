"""The QA gate: listen to the finished episode (ASR) and meter it before it is published.

`check_episode` measures; the flow decides: a segment over `wer_retry` is synthesised again once,
and an episode that still fails a hard check is not published."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from nightcast.errors import StageError
from nightcast.mix.master import measure_loudness
from nightcast.qa.asr import ASR_RATE, Transcriber
from nightcast.qa.meters import clipped_runs, listening_copy, longest_silence
from nightcast.qa.wer import word_error_rate
from nightcast.schema import EpisodeTemplate, Loudness, QACheck, QAReport, Script, SegmentQA, SpokenSegment, TimedText
from nightcast.settings import QASettings

GAP_S = 0.5  # silence between the sentences a segment's sample is built from
PAD_BEFORE_S, PAD_AFTER_S = 0.15, 0.35


class QAFailed(StageError):
    def __init__(self, report: QAReport):
        self.report = report
        reasons = "; ".join(f"{c.name} {c.value} (needs {c.threshold})" for c in report.failures())
        super().__init__(f"QA failed, episode not published: {reasons}")


def _listened(sentences: list[TimedText], coverage: str) -> list[TimedText]:
    if coverage == "full" or len(sentences) <= 3:
        return sentences
    return [sentences[0], sentences[len(sentences) // 2], sentences[-1]]


def _segment_audio(audio: np.ndarray, sentences: list[TimedText]) -> np.ndarray:
    gap = np.zeros(int(GAP_S * ASR_RATE), dtype=np.float32)
    pieces = []
    for s in sentences:
        start = max(0, int((s.start_s - PAD_BEFORE_S) * ASR_RATE))
        pieces += [audio[start:int((s.end_s + PAD_AFTER_S) * ASR_RATE)], gap]
    return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.float32)


def check(name: str, value: float | None, passed: bool, threshold: str, detail: str = "", hard: bool = True) -> QACheck:
    return QACheck(name=name, value=None if value is None else round(float(value), 3), threshold=threshold,
                   passed=passed, hard=hard, detail=detail)


def check_segments(audio: np.ndarray, script: Script, spoken: list[SpokenSegment], words_per_minute: dict[str, float],
                   qa: QASettings, transcriber: Transcriber) -> list[SegmentQA]:
    results = []
    for segment, where in zip(script.segments, spoken):
        words = len(segment.text.split())
        speech_s = where.speech_end_s - where.speech_start_s
        if not words:
            results.append(SegmentQA(segment_id=segment.id, words=0, speech_s=round(speech_s, 2)))
            continue
        listened = _listened(where.sentences, qa.asr_coverage)
        heard = transcriber.transcribe(_segment_audio(audio, listened))
        wer = word_error_rate(" ".join(s.text for s in listened), heard)
        rate = words / max(speech_s, 1e-3) * 60
        wpm = words_per_minute.get(segment.speaker, 160.0)
        results.append(SegmentQA(segment_id=segment.id, words=words, speech_s=round(speech_s, 2), wer=round(wer, 3),
                                 heard=heard, checks=[
            check("intelligibility (WER)", wer, wer <= qa.wer_max, f"<= {qa.wer_max}",
                  f"{len(listened)} of {len(where.sentences)} sentences heard in the final mix"),
            check("speech rate (words/min)", rate, rate <= wpm * qa.max_speech_rate,
                  f"<= {wpm * qa.max_speech_rate:.0f}", "faster than the voice can speak means audio is missing"),
        ]))
    return results


def check_episode(audio_path: Path, script: Script, spoken: list[SpokenSegment], template: EpisodeTemplate,
                  words_per_minute: dict[str, float], qa: QASettings, loudness: Loudness | None = None,
                  transcriber: Transcriber | None = None) -> QAReport:
    """Every check on a finished episode file; nothing here changes the episode."""
    started = time.perf_counter()
    transcriber = transcriber or Transcriber(qa.asr_threads)
    audio = listening_copy(audio_path)
    duration = audio.size / ASR_RATE
    loudness = loudness or measure_loudness(audio_path)
    mix = template.mix
    silence_s, silence_at = longest_silence(audio, qa.silence_dbfs)
    clips = clipped_runs(audio_path)
    checks = [
        check("duration (s)", duration, template.min_duration_s - 1 <= duration <= template.max_duration_s + 1,
              f"{template.min_duration_s:.0f}–{template.max_duration_s:.0f}"),
        check("integrated loudness (LUFS)", loudness.integrated_lufs,
              abs(loudness.integrated_lufs - mix.target_lufs) <= qa.loudness_tolerance_lu,
              f"{mix.target_lufs} ± {qa.loudness_tolerance_lu}"),
        check("true peak (dBTP)", loudness.true_peak_dbtp, loudness.true_peak_dbtp <= mix.true_peak_dbtp + qa.true_peak_margin_db,
              f"<= {mix.true_peak_dbtp + qa.true_peak_margin_db}"),
        check("loudness range (LU)", loudness.loudness_range_lu, loudness.loudness_range_lu <= 20, "<= 20", hard=False),
        check("clipped runs", clips, clips <= qa.max_clipped_runs, f"<= {qa.max_clipped_runs}",
              "runs of 3+ samples at full scale"),
        check("longest silence (s)", silence_s, silence_s <= qa.max_silence_s, f"<= {qa.max_silence_s}",
              f"under {qa.silence_dbfs} dBFS, from {silence_at:.1f} s" if silence_s else ""),
    ]
    segments = check_segments(audio, script, spoken, words_per_minute, qa, transcriber)
    report = QAReport(passed=True, checks=checks, segments=segments, asr_model=transcriber.name,
                      seconds=round(time.perf_counter() - started, 2))
    return report.model_copy(update={"passed": not report.failures()})


def needs_resynthesis(report: QAReport, qa: QASettings) -> list[str]:
    """Segments whose WER is over the retry threshold (not yet resynthesised)."""
    return [s.segment_id for s in report.segments
            if s.wer is not None and s.wer > qa.wer_retry and not s.resynthesised]

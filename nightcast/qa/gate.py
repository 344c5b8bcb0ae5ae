"""The QA gate: listen to the finished episode (ASR) and meter it before it is published.

`check_episode` measures, diagnoses a segment over `wer_retry` by hearing its voice track on its
own, and predicts each voice clip's MOS (qa/mos.py); what is done about it is the retry policy
(retry.py); an episode that still fails a hard check is not published.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from nightcast.errors import StageError
from nightcast.mix.master import measure_loudness
from nightcast.qa.asr import Transcriber
from nightcast.qa.listening import ASR_RATE, load_for_asr, pack_segments
from nightcast.qa.meters import FileMeters, meter_file
from nightcast.qa.wer import word_error_rate
from nightcast.schema import (
    EpisodeTemplate,
    HeardSegment,
    Hearing,
    Loudness,
    QACheck,
    QAReport,
    Script,
    SegmentQA,
    SpeechClip,
    SpokenSegment,
    TimedText,
    VoiceQuality,
)
from nightcast.settings import QASettings


class QAFailed(StageError):
    def __init__(self, report: QAReport):
        self.report = report
        reasons = "; ".join(f"{c.name} {c.value} (needs {c.threshold})" for c in report.failures())
        super().__init__(f"QA failed, episode not published: {reasons}")


def transcriber_for(qa: QASettings) -> Transcriber:
    return Transcriber(qa.asr_threads, str(qa.asr_model) if qa.asr_model else None, qa.asr_device)


def _hear(recording: np.ndarray, owners: list[tuple[str, list[TimedText]]], qa: QASettings,
          transcriber: Transcriber | None, started: float) -> Hearing:
    """`started`: when listening began (decoding the recording counts as listening)."""
    transcriber = transcriber or transcriber_for(qa)
    listening = pack_segments(recording, [sentences for _, sentences in owners], qa.asr_coverage)
    texts = transcriber.hear(listening, len(owners))
    wers = [word_error_rate(reference, text) for reference, text in zip(listening.references, texts)]
    unclear = {i for i, wer in enumerate(wers) if wer > qa.wer_retry}
    if unclear:  # a second opinion the standard way (30 s windows) before a segment counts as unclear
        for i, text in enumerate(transcriber.hear(listening, len(owners), padded=True, only=unclear)):
            if i in unclear and (wer := word_error_rate(listening.references[i], text)) < wers[i]:
                texts[i], wers[i] = text, wer
    heard = [HeardSegment(segment_id=segment_id, reference=reference, heard=text, wer=round(wer, 3),
                          sentences_heard=heard, sentences=total)
             for (segment_id, _), reference, text, wer, (heard, total)
             in zip(owners, listening.references, texts, wers, listening.counts)]
    return Hearing(segments=heard, seconds=round(time.perf_counter() - started, 2), model=transcriber.name)


def listen(audio_path: Path, spoken: list[SpokenSegment], qa: QASettings,
           transcriber: Transcriber | None = None) -> Hearing:
    """ASR over every segment's voice in a recording of the episode (the mix, or the encoded file)."""
    started = time.perf_counter()
    return _hear(load_for_asr(audio_path), [(s.segment_id, s.sentences) for s in spoken], qa, transcriber, started)


def listen_isolated(speech: list[SpeechClip], qa: QASettings, transcriber: Transcriber | None = None) -> Hearing:
    """ASR over voice clips on their own, in one batch: the clips laid end to end."""
    started = time.perf_counter()
    recordings, owners, offset = [], [], 0.0
    for clip in speech:
        recording = load_for_asr(clip.path)
        recordings.append(recording)
        owners.append((clip.segment_id, [s.model_copy(update={"start_s": s.start_s + offset, "end_s": s.end_s + offset})
                                         for s in clip.sentences]))
        offset += recording.size / ASR_RATE
    return _hear(np.concatenate(recordings) if recordings else np.zeros(0, np.float32), owners, qa, transcriber,
                 started)


def check(name: str, value: float | None, passed: bool, threshold: str, detail: str = "", hard: bool = True) -> QACheck:
    return QACheck(name=name, value=None if value is None else round(float(value), 3), threshold=threshold,
                   passed=passed, hard=hard, detail=detail)


def check_segments(script: Script, spoken: list[SpokenSegment], heard: Hearing,
                   words_per_minute: dict[str, float], qa: QASettings) -> list[SegmentQA]:
    heard_by_id = {h.segment_id: h for h in heard.segments}
    results = []
    for segment, where in zip(script.segments, spoken):
        words = len(segment.text.split())
        speech_s = where.speech_end_s - where.speech_start_s
        if not words:
            results.append(SegmentQA(segment_id=segment.id, words=0, speech_s=round(speech_s, 2)))
            continue
        hearing = heard_by_id[segment.id]
        wer = hearing.wer
        rate = words / max(speech_s, 1e-3) * 60
        wpm = words_per_minute.get(segment.speaker, 160.0)
        results.append(SegmentQA(segment_id=segment.id, words=words, speech_s=round(speech_s, 2), wer=wer,
                                 heard=hearing.heard, checks=[
            check("intelligibility (WER)", wer, wer <= qa.wer_max, f"<= {qa.wer_max}",
                  f"{hearing.sentences_heard} of {hearing.sentences} sentences heard in the final mix"),
            check("speech rate (words/min)", rate, rate <= wpm * qa.max_speech_rate,
                  f"<= {wpm * qa.max_speech_rate:.0f}", "faster than the voice can speak means audio is missing"),
        ]))
    return results


def diagnose(segments: list[SegmentQA], speech: list[SpeechClip], qa: QASettings,
             transcriber: Transcriber | None = None) -> tuple[list[SegmentQA], float]:
    """For each segment over `wer_retry`, hear its voice clip alone: a clean voice means the music
    masked it. Returns the segments and the ASR seconds this took."""
    unclear = {s.segment_id for s in segments if s.wer is not None and s.wer > qa.wer_retry}
    clips = [c for c in speech if c.segment_id in unclear]
    if not clips:
        return segments, 0.0
    hearing = listen_isolated(clips, qa, transcriber)
    alone = {h.segment_id: h for h in hearing.segments}
    diagnosed = []
    for segment in segments:
        if segment.segment_id in alone:
            heard_alone = alone[segment.segment_id]
            segment = segment.model_copy(update={"wer_isolated": heard_alone.wer, "heard_isolated": heard_alone.heard,
                                                 "cause": "masking" if heard_alone.wer <= qa.wer_retry else "voice"})
        diagnosed.append(segment)
    return diagnosed, hearing.seconds


def score_voices(speech: list[SpeechClip]) -> tuple[dict[str, VoiceQuality], float]:
    """Each voice clip's predicted MOS (DNSMOS), by segment id, and the seconds it took. A render
    starts this as soon as the voices exist, so that it runs beside the music and the mix."""
    from nightcast.qa.mos import score_file

    started = time.perf_counter()
    scores = {}
    for clip in speech:
        if Path(clip.path).is_file() and clip.duration_s > 0:
            predicted, _ = score_file(clip.path)
            scores[clip.segment_id] = VoiceQuality(ovrl=predicted.ovrl, sig=predicted.sig, bak=predicted.bak,
                                                   p808=predicted.p808)
    return scores, round(time.perf_counter() - started, 2)


def rate_voices(segments: list[SegmentQA], script: Script, speech: list[SpeechClip], qa: QASettings,
                scored: tuple[dict[str, VoiceQuality], float] | None = None) -> tuple[list[SegmentQA], float]:
    """Each spoken segment's voice clip, on its own, held to its voice's thresholds; returns the
    segments and the seconds the scoring took. `scored`: score_voices(speech), when it already ran."""
    if not qa.voice_quality:
        return segments, 0.0
    scores, seconds = scored if scored is not None else score_voices(speech)
    voices = {segment.id: segment.speakers for segment in script.segments}
    rated = []
    for segment in segments:
        quality = scores.get(segment.segment_id)
        if not segment.words or quality is None:
            rated.append(segment)
            continue
        limits = qa.thresholds_for(voices.get(segment.segment_id, []))
        rated.append(segment.model_copy(update={
            "quality": quality,
            "quality_retry": quality.p808 < limits.p808_retry or quality.ovrl < limits.ovrl_retry,
            "checks": [*segment.checks,
                       check("voice quality (DNSMOS P.808)", quality.p808, quality.p808 >= limits.p808_min,
                             f">= {limits.p808_min}", "predicted MOS of the voice alone: dull or band-limited "
                                                      "speech scores low"),
                       check("voice quality (DNSMOS OVRL)", quality.ovrl, quality.ovrl >= limits.ovrl_min,
                             f">= {limits.ovrl_min}", "predicted MOS of the voice alone: buzz, noise or "
                                                      "distortion score low")]}))
    return rated, seconds


def hosts_apart(script: Script, speech: list[SpeechClip], qa: QASettings) -> QACheck | None:
    """In an episode with more than one voice, the closest two voices' distance (qa/voiceprint.py),
    held to hosts_min_distance; None for a one-voice episode."""
    import soundfile as sf

    from nightcast.qa.voiceprint import voice_distance, voice_print

    default_speaker = {segment.id: segment.speaker for segment in script.segments}
    by_speaker: dict[str, list[np.ndarray]] = {}
    for clip in speech:
        if not clip.sentences or not Path(clip.path).is_file():
            continue
        samples, rate = sf.read(clip.path, dtype="float32", always_2d=True)
        for sentence in clip.sentences:
            speaker = sentence.speaker or default_speaker.get(clip.segment_id)
            if speaker:
                by_speaker.setdefault(speaker, []).append(
                    samples[round(sentence.start_s * rate):round(sentence.end_s * rate), 0])
    if len(by_speaker) < 2:
        return None
    prints = {speaker: voice_print(np.concatenate(parts), rate) for speaker, parts in by_speaker.items()}
    names = sorted(prints)
    pairs = [(voice_distance(prints[a], prints[b]), a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    measured = [pair for pair in pairs if pair[0] is not None]
    if not measured:
        return check("hosts apart (voice distance)", None, True, f">= {qa.hosts_min_distance}",
                     "too little speech from a host to measure", hard=False)
    distance, a, b = min(measured)
    return check("hosts apart (voice distance)", distance, distance >= qa.hosts_min_distance,
                 f">= {qa.hosts_min_distance}", f"{a} and {b}: MFCC means apart in pooled standard deviations "
                                                 "(one voice measures about 0.1)")


def check_episode(audio_path: Path, script: Script, spoken: list[SpokenSegment], template: EpisodeTemplate,
                  words_per_minute: dict[str, float], qa: QASettings, loudness: Loudness | None = None,
                  transcriber: Transcriber | None = None, heard: Hearing | None = None,
                  meters: FileMeters | None = None, speech: list[SpeechClip] | None = None,
                  voice_scores: tuple[dict[str, VoiceQuality], float] | None = None) -> QAReport:
    """Every check on a finished episode file; nothing here changes the episode.

    A render passes what it already has: `heard`, ASR of the mix made while it was being mastered;
    `meters` and `loudness` of the encoded file. Missing ones are measured here, from the file.
    `speech`: the voice clips, so that an unclear segment can be told masked from badly voiced;
    `voice_scores`: score_voices(speech), when the render already ran it beside the mix."""
    started = time.perf_counter()
    metered_elsewhere = meters.seconds if meters else 0.0  # a render meters in its own task
    meters = meters or meter_file(audio_path, qa.silence_dbfs)
    loudness = loudness or measure_loudness(audio_path)
    mix = template.mix
    checks = [
        check("duration (s)", meters.duration_s,
              template.min_duration_s - 1 <= meters.duration_s <= template.max_duration_s + 1,
              f"{template.min_duration_s:.0f}–{template.max_duration_s:.0f}"),
        check("integrated loudness (LUFS)", loudness.integrated_lufs,
              abs(loudness.integrated_lufs - mix.target_lufs) <= qa.loudness_tolerance_lu,
              f"{mix.target_lufs} ± {qa.loudness_tolerance_lu}"),
        check("true peak (dBTP)", loudness.true_peak_dbtp, loudness.true_peak_dbtp <= mix.true_peak_dbtp + qa.true_peak_margin_db,
              f"<= {mix.true_peak_dbtp + qa.true_peak_margin_db}"),
        check("loudness range (LU)", loudness.loudness_range_lu, loudness.loudness_range_lu <= 20, "<= 20", hard=False),
        check("clipped runs", meters.clipped_runs, meters.clipped_runs <= qa.max_clipped_runs,
              f"<= {qa.max_clipped_runs}", "runs of 3+ samples at full scale"),
        check("longest silence (s)", meters.longest_silence_s, meters.longest_silence_s <= qa.max_silence_s,
              f"<= {qa.max_silence_s}",
              f"under {qa.silence_dbfs} dBFS, from {meters.silence_at_s:.1f} s" if meters.longest_silence_s else ""),
    ]
    listened_here = heard is None
    heard = heard or listen(audio_path, spoken, qa, transcriber)
    segments = check_segments(script, spoken, heard, words_per_minute, qa)
    asr_seconds, asr_here = heard.seconds, heard.seconds if listened_here else 0.0
    quality_s = scored_here = 0.0
    if speech:
        segments, diagnosis_s = diagnose(segments, speech, qa, transcriber)
        asr_seconds, asr_here = asr_seconds + diagnosis_s, asr_here + diagnosis_s
        scoring_started = time.perf_counter()
        segments, quality_s = rate_voices(segments, script, speech, qa, voice_scores)
        scored_here = time.perf_counter() - scoring_started if voice_scores is None else 0.0
        checks += [apart] if (apart := hosts_apart(script, speech, qa)) else []
    report = QAReport(passed=True, checks=checks, segments=segments, asr_model=heard.model,
                      seconds=round(time.perf_counter() - started - asr_here - scored_here + metered_elsewhere, 2),
                      asr_seconds=round(asr_seconds, 2), quality_seconds=quality_s)
    return report.model_copy(update={"passed": not report.failures()})

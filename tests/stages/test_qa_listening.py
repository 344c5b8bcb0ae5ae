"""QA's parts on material made here: how speech is packed into ASR windows, the one-pass meters,
background priority, and telling a masked voice from a bad one (real ASR on a real hibari voice)."""

from __future__ import annotations

import datetime as dt
import os
import threading

import numpy as np
import pytest
import soundfile as sf

from nightcast.qa.listening import ASR_RATE, JOIN_S, WINDOW_S, pack_segments
from nightcast.schema import TimedText

from helpers import DATE, PRESETS


def sentences(*spans: tuple[float, float]) -> list[TimedText]:
    return [TimedText(start_s=a, end_s=b, text=f"sentence {i}") for i, (a, b) in enumerate(spans)]


def test_windows_hold_one_segment_each_and_never_exceed_whisper_s_30_s():
    recording = np.random.default_rng(0).normal(0, 0.1, 200 * ASR_RATE).astype(np.float32)
    long_segment = sentences(*[(2 + 4 * i, 5.5 + 4 * i) for i in range(12)])  # 12 × 3.5 s, 0.5 s pauses: one span
    short_segment = sentences((60, 63), (70, 74))  # a 7 s pause between them is shortened
    listening = pack_segments(recording, [long_segment, [], short_segment], "full")

    assert all(end - start <= WINDOW_S + 1e-9 for start, end in listening.windows)
    assert set(listening.owners) == {0, 2}  # the segment with no speech gets no window
    assert listening.counts == [(12, 12), (0, 0), (2, 2)]
    heard_long = sum(e - s for (s, e), o in zip(listening.windows, listening.owners) if o == 0)
    assert heard_long == pytest.approx(48.0, abs=0.01)  # 1.85 → 49.85 s padded: one span, cut into two windows
    assert sum(o == 0 for o in listening.owners) == 2
    short = [(s, e) for (s, e), o in zip(listening.windows, listening.owners) if o == 2]
    assert len(short) == 1 and short[0][1] - short[0][0] == pytest.approx(3.5 + JOIN_S + 4.5, abs=0.01)
    assert listening.seconds == pytest.approx(48.0 + 3.5 + 4.5 + 3 * JOIN_S, abs=0.01)
    # the audio a window points at is the recording's, from the padded sentence start
    first = listening.windows[0][0]
    assert np.array_equal(listening.audio[round(first * ASR_RATE):][:100], recording[round(1.85 * ASR_RATE):][:100])


def test_windows_end_at_the_joins_between_sentences():
    recording = np.zeros(120 * ASR_RATE, np.float32)
    segment = sentences(*[(2 + 10 * i, 10 + 10 * i) for i in range(6)])  # 8 s sentences, 2 s pauses
    listening = pack_segments(recording, [segment], "full")
    lengths = [round(e - s, 2) for s, e in listening.windows]
    # each sentence is 8.5 s padded; three and two joins make 26.1 s: no sentence is cut
    assert lengths == [pytest.approx(3 * 8.5 + 2 * JOIN_S)] * 2


def test_sample_coverage_hears_the_first_middle_and_last_sentence():
    recording = np.zeros(60 * ASR_RATE, np.float32)
    segment = [TimedText(start_s=2 + 5 * i, end_s=5 + 5 * i, text=f"line {i}") for i in range(7)]
    listening = pack_segments(recording, [segment], "sample")
    assert listening.references == ["line 0 line 3 line 6"]
    assert listening.counts == [(3, 7)]


def write_wav(path, samples: np.ndarray, rate: int):
    sf.write(path, samples, rate, subtype="FLOAT")
    return path


def test_meters_count_clipped_runs_across_blocks_and_find_the_longest_silence(tmp_path):
    from nightcast.qa.meters import BLOCK_S, meter_file

    rate = 44100
    audio = np.full((12 * rate, 2), 0.1, np.float32)  # a steady -20 dBFS tone stand-in
    audio[2 * rate:2 * rate + 2, 0] = 1.0  # two samples at full scale: a peak, not a run
    audio[3 * rate:3 * rate + 5, 1] = -1.0  # a flat top of five in one channel
    at = int(BLOCK_S * rate)  # a run straddling the decoder's block boundary
    audio[at - 2:at + 2] = 1.0
    audio[int(7.2 * rate):int(11.2 * rate)] = 0.0  # 4 s of digital silence
    meters = meter_file(write_wav(tmp_path / "a.wav", audio, rate), silence_dbfs=-50)
    assert meters.clipped_runs == 2
    assert meters.duration_s == pytest.approx(12.0)
    assert meters.longest_silence_s == pytest.approx(4.0, abs=0.06)
    assert meters.silence_at_s == pytest.approx(7.2, abs=0.06)


def test_at_idle_priority_lowers_only_its_own_thread():
    from nightcast.idle_priority import at_idle_priority

    def priority():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), os.sched_getscheduler(0)

    mine = priority()
    assert at_idle_priority(priority) == (19, os.SCHED_IDLE)
    assert priority() == mine
    with pytest.raises(ZeroDivisionError):
        at_idle_priority(lambda: 1 / 0)


def one_segment_script():
    from nightcast.schema import MusicCue, Script, Segment

    text = ("Quick history lesson, because you've earned it. Alice Coltrane brought the harp into spiritual jazz. "
            "Her records still sound like tomorrow. Here's one more for the late hours.")
    cue = MusicCue(prompt="warm jazz bed", style="jazz", mood="warm", bpm=90, key="A minor", duration_s=5)
    segment = Segment(id="s02-story", kind="story", title="History", speaker="host", text=text, word_budget=40, cue=cue)
    return Script(episode_id="2026-11-23-nightly-digest", listener_id="maya", template_id="nightly-digest",
                  date=DATE, local_time=dt.time(23, 15), title="t", writer="template", segments=[segment])


@pytest.fixture(scope="module")
def voice(tmp_path_factory):
    """A real hibari segment on its own, as the speech stage writes it."""
    from nightcast.voices import speak_segment
    from nightcast.voices.presets import load_preset

    [segment] = one_segment_script().segments
    return speak_segment(segment, {"host": load_preset("host", PRESETS)}, tmp_path_factory.mktemp("voice"), 44100)


def episode_of(voice, tmp_path, noise_db: float | None):
    """The voice 2 s into a 'mix', with white noise at noise_db relative to the voice (None: no noise)."""
    from nightcast.schema import SpokenSegment

    samples, rate = sf.read(voice.path, dtype="float32")
    mix = np.zeros(len(samples) + 4 * rate, np.float32)
    mix[2 * rate:2 * rate + len(samples)] = samples
    if noise_db is not None:
        noise = np.random.default_rng(1).normal(0, 1, mix.size).astype(np.float32)
        mix += noise * np.sqrt(np.mean(samples ** 2)) * np.float32(10 ** (noise_db / 20))
    spoken = SpokenSegment(segment_id=voice.segment_id, speech_start_s=2.0, speech_end_s=2 + voice.duration_s,
                           sentences=[s.model_copy(update={"start_s": s.start_s + 2, "end_s": s.end_s + 2})
                                      for s in voice.sentences])
    return write_wav(tmp_path / "mix.wav", np.stack([mix, mix], axis=1), rate), spoken


def diagnosed(voice, mix, spoken, speech):
    from nightcast.qa.gate import check_segments, diagnose, listen, transcriber_for
    from nightcast.settings import Settings

    qa = Settings().qa
    transcriber = transcriber_for(qa)
    segments = check_segments(one_segment_script(), [spoken], listen(mix, [spoken], qa, transcriber),
                              {"host": 165.0}, qa)
    return diagnose(segments, speech, qa, transcriber)[0][0]


def test_a_clear_voice_under_loud_noise_is_masking(voice, tmp_path):
    from nightcast.qa import needs_remix, needs_resynthesis
    from nightcast.schema import QAReport
    from nightcast.settings import Settings

    mix, spoken = episode_of(voice, tmp_path, noise_db=12)  # a bed of noise 12 dB over the voice
    segment = diagnosed(voice, mix, spoken, [voice])
    assert segment.wer > 0.5 and segment.wer_isolated <= 0.1 and segment.cause == "masking", segment
    report = QAReport(passed=False, checks=[], segments=[segment])
    assert needs_remix(report, Settings().qa) == [voice.segment_id] and needs_resynthesis(report, Settings().qa) == []


def test_a_bad_voice_is_the_voice(voice, tmp_path):
    from nightcast.audio import Clip, write_clip

    samples, rate = sf.read(voice.path, dtype="float32")
    noisy = voice.model_copy(update={"path": str(write_clip(
        Clip(np.random.default_rng(2).normal(0, 0.1, (len(samples), 1)).astype(np.float32), rate), tmp_path / "v.wav"))})
    mix, spoken = episode_of(noisy, tmp_path, noise_db=None)
    segment = diagnosed(voice, mix, spoken, [noisy])
    assert segment.wer > 0.8 and segment.wer_isolated > 0.8 and segment.cause == "voice", segment


def test_a_clear_segment_is_not_heard_twice(voice, tmp_path):
    mix, spoken = episode_of(voice, tmp_path, noise_db=-20)
    segment = diagnosed(voice, mix, spoken, [voice])
    assert segment.wer <= 0.1 and segment.wer_isolated is None and segment.cause is None


def test_an_unclear_segment_gets_a_second_opinion_from_padded_windows():
    """The fast path (windows at their own length) never fails a segment alone: one that scores over
    wer_retry is heard again padded to 30 s, and the better hearing counts."""
    from nightcast.qa.gate import _hear
    from nightcast.settings import Settings

    class Transcriber:
        name = "stub"
        calls = []

        def hear(self, listening, segments, padded=False, only=None):
            self.calls.append((padded, only))
            good = [listening.references[0], listening.references[1]]
            return good if padded else [good[0], "static hiss"]

    recording = np.zeros(30 * ASR_RATE, np.float32)
    owners = [("s01-intro", sentences((1, 4))), ("s02-story", sentences((10, 14), (15, 18)))]
    transcriber = Transcriber()
    heard = _hear(recording, owners, Settings().qa, transcriber, started=0.0)
    assert [h.heard for h in heard.segments] == ["sentence 0", "sentence 0 sentence 1"]
    assert [h.wer for h in heard.segments] == [0.0, 0.0] and heard.model == "stub"
    assert transcriber.calls == [(False, None), (True, {1})]


def test_a_segment_longer_than_a_window_is_heard_whole_at_its_own_length_and_padded(voice):
    """Three takes of the voice back to back (about 30 s): two windows of one segment, heard by the
    real model both ways, each a clean transcript of all three."""
    from nightcast.qa.gate import transcriber_for
    from nightcast.qa.listening import load_for_asr
    from nightcast.qa.wer import word_error_rate
    from nightcast.settings import Settings

    take = load_for_asr(voice.path)
    recording = np.concatenate([take, take, take])
    length_s = take.size / ASR_RATE
    spoken = [s.model_copy(update={"start_s": s.start_s + k * length_s, "end_s": s.end_s + k * length_s})
              for k in range(3) for s in voice.sentences]
    listening = pack_segments(recording, [spoken], "full")
    assert len(listening.windows) == 2 and listening.owners == [0, 0]
    transcriber = transcriber_for(Settings().qa)
    for padded in (False, True):
        [heard] = transcriber.hear(listening, 1, padded=padded)
        assert word_error_rate(listening.references[0], heard) <= 0.15, (padded, heard)

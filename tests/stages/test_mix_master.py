import numpy as np
import pytest
import soundfile as sf

from nightcast.audio import Clip, loudness_normalized, write_clip
from nightcast.data_files import load_profile, load_template
from nightcast.generators.script import write_script
from nightcast.mix import master_episode, mix_episode, plan_timeline
from nightcast.mix.ducking import duck_gain
from nightcast.schema import MixedAudio, MixSettings, MusicClip, SpeechClip, TimedText

from helpers import DATE, PROFILES, SETTINGS, TEMPLATES, ebur128

MIX = MixSettings(pre_roll_s=3, crossfade_s=2, duck_db=-14, min_music_s=4)


@pytest.fixture(scope="module")
def script():
    return write_script(load_profile(PROFILES / "maya.yaml"), load_template("nightly-digest", TEMPLATES), DATE,
                        speaker="host", words_per_minute=180, settings=SETTINGS)


def fake_speech(script, seconds: float, tmp_path) -> list[SpeechClip]:
    clips = []
    for seg in script.segments:
        path = tmp_path / f"speech-{seg.id}.wav"
        t = np.arange(int(seconds * 44100)) / 44100
        sf.write(path, (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t)) / 2).astype(np.float32), 44100)
        clips.append(SpeechClip(segment_id=seg.id, path=str(path), sample_rate=44100, duration_s=seconds,
                                sentences=[TimedText(start_s=0, end_s=seconds, text="x")], engine="test"))
    return clips


def test_timeline_hits_the_target_and_orders_every_part(script, tmp_path):
    speech = fake_speech(script, 20.0, tmp_path)
    timeline = plan_timeline(script, speech, MIX, 300)
    longest_bar = max(240 / s.cue.bpm for s in script.segments)
    assert timeline.duration_s == pytest.approx(300, abs=longest_bar / 2)  # ends snap to bar lines
    previous_end = 0.0
    for entry in timeline.entries:
        assert entry.start_s == pytest.approx(previous_end)
        assert entry.speech_start_s == pytest.approx(entry.start_s + MIX.pre_roll_s)
        assert entry.speech_end_s - entry.speech_start_s == pytest.approx(20.0)
        assert entry.end_s - entry.speech_end_s >= MIX.min_music_s
        previous_end = entry.end_s
    assert all(e.music_s == pytest.approx(e.end_s - e.start_s + e.crossfade_s, abs=1e-3) for e in timeline.entries[:-1])
    assert timeline.entries[-1].crossfade_s == 0
    assert timeline.entries[-1].music_s == pytest.approx(timeline.entries[-1].end_s - timeline.entries[-1].start_s, abs=1e-3)


def test_timeline_never_squeezes_music_below_minimum_when_speech_overruns(script, tmp_path):
    timeline = plan_timeline(script, fake_speech(script, 60.0, tmp_path), MIX, 300)
    assert all(e.end_s - e.speech_end_s >= MIX.min_music_s - 1e-6 for e in timeline.entries)
    assert timeline.duration_s > 300


def test_beds_end_on_bar_lines_and_crossfade_in_whole_beats(script, tmp_path):
    timeline = plan_timeline(script, fake_speech(script, 20.0, tmp_path), MIX, 300)
    for segment, entry in zip(script.segments, timeline.entries):
        bar, beat = 240 / segment.cue.bpm, 60 / segment.cue.bpm
        bars = (entry.end_s - entry.start_s) / bar
        assert bars == pytest.approx(round(bars), abs=1e-3), entry.segment_id
        if entry is not timeline.entries[-1]:
            beats = entry.crossfade_s / beat
            assert beats == pytest.approx(round(beats), abs=1e-3) and 0 < entry.crossfade_s <= MIX.crossfade_s


def words_with_pauses(rate: int, pattern: list[tuple[float, float]]) -> np.ndarray:
    """A voice-like signal: 180 Hz bursts over each (start, end) span, silence between."""
    total = max(end for _, end in pattern)
    t = np.arange(int(total * rate)) / rate
    voice = np.zeros_like(t)
    for start, end in pattern:
        span = (t >= start) & (t < end)
        voice[span] = 0.2 * np.sin(2 * np.pi * 180 * t[span])
    return voice.astype(np.float32)


def test_sidechain_ducking_follows_the_voice_with_attack_hold_and_release():
    rate, mix = 44100, MixSettings(duck_db=-14, duck_attack_ms=120, duck_hold_ms=350, duck_release_ms=600)
    # words 0-2 s, a sentence pause of 0.25 s, words to 4 s, a 3 s pause, words 7-8 s (times from the voice start)
    voice = words_with_pauses(rate, [(0, 2), (2.25, 4), (7, 8)])
    gain = duck_gain(rate * 12, rate, voice, voice_offset_frames=rate * 2, mix=mix)  # voice starts 2 s into the bed
    db = lambda s: 20 * np.log10(gain[int(s * rate)])
    assert db(1.0) == pytest.approx(0, abs=0.01)  # music in full before
    assert -14 < db(1.95) < -0.5  # the attack is under way before the first word...
    assert db(2.0) == pytest.approx(-14, abs=0.3)  # ...and complete as it starts
    assert db(4.1) == pytest.approx(-14, abs=0.3)  # a sentence pause is held, no pumping
    assert db(6.0 + 0.35 + 0.3) > -9  # a long pause: released on the way back up
    assert db(8.5) == pytest.approx(0, abs=0.5)  # back in full between 4 s + hold + release and the next words
    assert db(9.05) == pytest.approx(-14, abs=0.3)
    assert db(11.9) == pytest.approx(0, abs=0.01)  # released after the last word


def test_ducking_depth_is_the_templates_setting():
    rate = 44100
    voice = words_with_pauses(rate, [(0, 2)])
    for depth in (-8, -20):
        gain = duck_gain(rate * 4, rate, voice, 0, MixSettings(duck_db=depth))
        assert 20 * np.log10(gain[rate]) == pytest.approx(depth, abs=0.1)


def noise_beds(timeline, tmp_path, bed_lufs: float = -20.0) -> list[MusicClip]:
    """A bed per segment at the level the generators deliver (BED_LUFS)."""
    music = []
    for entry in timeline.entries:
        path = tmp_path / f"music-{entry.segment_id}.wav"
        noise = np.random.default_rng(0).normal(0, 0.1, (int(entry.music_s * 44100), 2)).astype(np.float32)
        write_clip(loudness_normalized(Clip(noise, 44100), bed_lufs), path)
        music.append(MusicClip(segment_id=entry.segment_id, path=str(path), sample_rate=44100, duration_s=entry.music_s, generator="test"))
    return music


def test_mix_places_voice_on_ducked_music_with_smooth_crossfades(script, tmp_path):
    speech = fake_speech(script, 10.0, tmp_path)
    timeline = plan_timeline(script, speech, MIX, 150)
    result = mix_episode(timeline, speech, noise_beds(timeline, tmp_path), MIX, tmp_path / "mix.wav")
    samples, rate = sf.read(result.path, dtype="float32")
    assert rate == 44100 and samples.shape[1] == 2
    assert result.duration_s == pytest.approx(timeline.duration_s, abs=1e-3)
    assert samples.shape[0] == round(timeline.duration_s * 44100)
    assert result.peak == pytest.approx(float(np.abs(samples).max()))
    rms = lambda a, b: float(np.sqrt(np.mean(samples[int(a * 44100): int(b * 44100)] ** 2)))
    first, second = timeline.entries[:2]
    music_alone = rms(first.start_s + 0.5, first.speech_start_s - 0.5)
    in_clear = rms(first.speech_end_s + 1.0, first.end_s - 0.2)
    assert music_alone > 0.05 and in_clear > 0.05
    # equal-power crossfade: no dip or bump of more than ~1.5 dB through the boundary
    around = rms(second.start_s - 0.3, second.start_s + 0.3)
    assert 0.84 < around / in_clear < 1.19
    assert rms(result.duration_s - 0.05, result.duration_s) < 0.01  # fades out at the end


def test_music_in_the_clear_sits_just_under_the_voice(script, tmp_path):
    """Radio balance: the music never drops a step when the talking stops (within 3 LU of the voice,
    and not above it)."""
    import pyloudnorm

    speech = fake_speech(script, 12.0, tmp_path)
    timeline = plan_timeline(script, speech, MIX, 200)
    result = mix_episode(timeline, speech, noise_beds(timeline, tmp_path), MIX, tmp_path / "mix.wav")
    samples, rate = sf.read(result.path, dtype="float32")
    meter = pyloudnorm.Meter(rate)
    entry = timeline.entries[1]
    voice = meter.integrated_loudness(samples[int((entry.speech_start_s + 1) * rate): int((entry.speech_end_s - 1) * rate)])
    clear = meter.integrated_loudness(samples[int((entry.speech_end_s + 1.5) * rate): int((entry.end_s - 0.5) * rate)])
    assert voice - 3.0 <= clear <= voice + 0.5, (voice, clear)


def test_mix_streams_a_sixty_minute_episode_in_bounded_memory(tmp_path):
    """An hour of stereo float is 1.27 GB; the mixer holds one segment at a time, not the episode."""
    import tracemalloc

    from nightcast.schema import Timeline, TimelineEntry

    rate, segment_s, speech_s, count = 44100, 90.0, 30.0, 40
    bed_path, voice_path = tmp_path / "bed.wav", tmp_path / "voice.wav"
    bed = np.random.default_rng(0).normal(0, 0.05, (int((segment_s + 2) * rate), 2)).astype(np.float32)
    sf.write(bed_path, bed, rate, subtype="PCM_16")
    sf.write(voice_path, words_with_pauses(rate, [(0, speech_s)]), rate, subtype="PCM_16")
    entries, speech, music = [], [], []
    for i in range(count):
        start = i * segment_s
        entries.append(TimelineEntry(segment_id=f"s{i}", start_s=start, speech_start_s=start + 3,
                                     speech_end_s=start + 3 + speech_s, end_s=start + segment_s,
                                     music_s=segment_s + 2, crossfade_s=0 if i == count - 1 else 2.0))
        speech.append(SpeechClip(segment_id=f"s{i}", path=str(voice_path), sample_rate=rate, duration_s=speech_s,
                                 sentences=[], engine="test"))
        music.append(MusicClip(segment_id=f"s{i}", path=str(bed_path), sample_rate=rate, duration_s=segment_s + 2,
                               generator="test"))
    timeline = Timeline(entries=entries, duration_s=count * segment_s)
    tracemalloc.start()
    try:
        result = mix_episode(timeline, speech, music, MixSettings(), tmp_path / "mix.wav")
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.duration_s == pytest.approx(3600)
    assert sf.info(result.path).frames == 3600 * rate
    one_copy = 3600 * rate * 2 * 4
    print(f"mixer peak {peak_bytes / 1e6:.0f} MB for a {one_copy / 1e6:.0f} MB mix")
    assert peak_bytes < one_copy / 10, f"peak {peak_bytes / 1e6:.0f} MB for a {one_copy / 1e6:.0f} MB mix"


def as_mix(clip: Clip, tmp_path) -> MixedAudio:
    path = write_clip(clip, tmp_path / "mix.wav")
    return MixedAudio(path=str(path), sample_rate=clip.sample_rate, duration_s=clip.duration_s,
                      peak=float(np.abs(clip.samples).max()))


def test_master_meets_podcast_loudness_measured_independently(tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(44100 * 40) / 44100
    music = 0.05 * rng.normal(size=(t.size, 2))
    voice = (0.6 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 2 * t) > 0))[:, None]  # bursts with hot peaks
    mixed = as_mix(Clip((music + voice).astype(np.float32), 44100), tmp_path)
    out = tmp_path / "episode.mp3"
    reported = master_episode(mixed, out, MixSettings(), [], {"title": "t"})
    measured = ebur128(out)
    assert measured["I"] == pytest.approx(-16.0, abs=0.5)
    assert measured["TP"] <= -1.0
    assert reported.integrated_lufs == pytest.approx(measured["I"], abs=0.05)
    from nightcast.audio import decode_audio

    decoded = decode_audio(out, 44100, 2).samples
    assert np.count_nonzero(np.abs(decoded) >= 0.999) == 0  # no clipped samples


@pytest.mark.parametrize("rumble", ["dc offset", "8 Hz sine"])
def test_master_reaches_the_target_when_inaudible_rumble_carries_the_peaks(tmp_path, rumble):
    """A generator's bed can ride on DC or sub-bass (random-weight EnCodec does): inaudible, but left
    in it would set the limiter's gain and the episode would never reach -16 LUFS."""
    rng = np.random.default_rng(0)
    t = np.arange(44100 * 20) / 44100
    voice = 0.05 * rng.standard_normal(t.size) * (np.sin(2 * np.pi * 0.5 * t) > 0)
    low = 0.9 if rumble == "dc offset" else 0.9 * np.sin(2 * np.pi * 8 * t)
    mixed = as_mix(Clip.from_mono((voice + low).astype(np.float32), 44100).as_channels(2), tmp_path)
    measured = master_episode(mixed, tmp_path / "episode.mp3", MixSettings(), [], {"title": "t"})
    assert measured.integrated_lufs == pytest.approx(-16.0, abs=0.5)
    assert measured.true_peak_dbtp <= -1.0


def test_master_refuses_silence(tmp_path):
    from nightcast.errors import StageError

    with pytest.raises(StageError, match="silent"):
        master_episode(as_mix(Clip.silence(5, 44100, 2), tmp_path), tmp_path / "e.mp3", MixSettings(), [], {})
    assert not (tmp_path / "e.mp3").exists()


@pytest.mark.parametrize("audio_format, rate, codec", [("m4a", 44100, "aac"), ("opus", 48000, "opus")])
def test_other_formats_master_on_target_with_chapters_and_cover(tmp_path, audio_format, rate, codec):
    import json
    import subprocess

    import mutagen
    from PIL import Image

    from nightcast.schema import Chapter

    mix = MixSettings(format=audio_format)
    assert mix.sample_rate == rate
    t = np.arange(rate * 30) / rate
    music = 0.05 * np.random.default_rng(2).normal(size=(t.size, 2))
    voice = (0.5 * np.sin(2 * np.pi * 200 * t) * (np.sin(2 * np.pi * 1.5 * t) > 0))[:, None]
    mixed = as_mix(Clip((music + voice).astype(np.float32), rate), tmp_path)
    cover = tmp_path / "cover.png"
    Image.new("RGB", (64, 64), (200, 40, 90)).save(cover)
    chapters = [Chapter(start_s=0, end_s=12, title="Hello", segment_id="intro"),
                Chapter(start_s=12, end_s=30, title="Night music", segment_id="pick-1")]
    out = tmp_path / f"episode.{audio_format}"
    reported = master_episode(mixed, out, mix, chapters, {"title": "t"}, cover)
    measured = ebur128(out)
    assert measured["I"] == pytest.approx(-16.0, abs=0.5) and measured["TP"] <= -1.0
    assert reported.integrated_lufs == pytest.approx(measured["I"], abs=0.05)
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_chapters", "-show_streams", "-of", "json", str(out)],
                                      capture_output=True, text=True, check=True).stdout)
    audio = [s for s in probe["streams"] if s["codec_type"] == "audio"][0]
    assert audio["codec_name"] == codec and int(audio["sample_rate"]) == rate
    assert [c["tags"]["title"] for c in probe["chapters"]] == ["Hello", "Night music"]
    assert float(probe["chapters"][1]["start_time"]) == pytest.approx(12, abs=0.05)
    tags = mutagen.File(out)
    pictures = tags.get("covr") if audio_format == "m4a" else tags.get("metadata_block_picture")
    assert pictures, "the cover is embedded"
    assert not list(tmp_path.glob(".*")), "no temp files left behind"


def test_opus_at_44_1_khz_is_refused_with_the_fix():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="opus is 48 kHz only"):
        MixSettings(format="opus", sample_rate=44100)
    with pytest.raises(ValidationError, match="44100 or 48000"):
        MixSettings(sample_rate=22050)


def test_format_override_moves_the_whole_chain_to_the_formats_rate():
    from nightcast.render.job import with_audio_format

    template = load_template("nightly-digest", TEMPLATES)
    opus = with_audio_format(template, "opus")
    assert (opus.mix.format, opus.mix.sample_rate) == ("opus", 48000)
    assert opus.mix.duck_db == template.mix.duck_db and opus.mix.crossfade_s == template.mix.crossfade_s
    m4a = with_audio_format(template, "m4a")
    assert (m4a.mix.format, m4a.mix.sample_rate, m4a.mix.bitrate) == ("m4a", 44100, 128)

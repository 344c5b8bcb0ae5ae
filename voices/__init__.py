"""Speech stage: Segment text → SpeechClip (a WAV with per-sentence timings).

Engines are chosen by name from ENGINES through a voice preset (voices/presets/*.yaml).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np

from nightcast.audio import Clip, db_to_gain, write_clip
from nightcast.errors import StageError
from nightcast.registry import Registry
from nightcast.schema import Segment, SpeechClip, TimedText
from voices.cache import SpeechCache
from voices.normalize import normalize_for_speech, split_sentences
from voices.presets import VoicePreset, effect_chain

ENGINES = Registry(
    "TTS engine",
    {
        "hibari": "voices.hibari_engine:HibariEngine",
        "piper": "voices.piper_engine:PiperEngine",
        "espeak": "voices.espeak_engine:EspeakEngine",
        "transformers": "voices.transformers_engine:TransformersVitsEngine",
        "coqui": "voices.coqui_engine:CoquiEngine",
    },
)


@functools.cache
def load_engine(name: str, model: str | None = None, speaker: str | None = None):
    """One engine instance per process and configuration: model loading is the slow part."""
    return ENGINES.create(name, model=model, speaker=speaker)


def _trim_silence(samples: np.ndarray, threshold: float = 1e-3) -> np.ndarray:
    loud = np.flatnonzero(np.abs(samples) > threshold)
    if loud.size == 0:
        return samples[:0]
    return samples[loud[0] : loud[-1] + 1]


def sentence_seed(spoken: str, seed: int) -> int:
    """A sentence's seed follows its words, not its position: the same line sounds the same in any
    episode, which is what lets the cache reuse it."""
    return (seed + int.from_bytes(hashlib.sha256(spoken.encode()).digest()[:4], "big")) % 2**31


def _synthesize(engine, spoken: str, preset: VoicePreset, seed: int, cache: SpeechCache | None) -> np.ndarray:
    if cache is None:
        return engine.synthesize(spoken, speed=preset.speed, seed=seed)
    key = SpeechCache.key(spoken, engine=preset.engine, engine_version=engine.version(), model=preset.model,
                          speaker=preset.speaker, speed=preset.speed, seed=seed)
    samples = cache.get(key, engine.sample_rate)
    if samples is None:
        samples = engine.synthesize(spoken, speed=preset.speed, seed=seed)
        cache.put(key, samples, engine.sample_rate)
    return samples


def speak(text: str, preset: VoicePreset, sample_rate: int, seed: int = 0,
          cache: SpeechCache | None = None) -> tuple[Clip, list[TimedText]]:
    """Speak text sentence by sentence with the preset; return the clip and where each sentence sits."""
    engine = load_engine(preset.engine, preset.model, preset.speaker)
    pause = np.zeros(round(engine.sample_rate * preset.sentence_pause_ms / 1000), np.float32)
    pieces: list[np.ndarray] = []
    spans: list[TimedText] = []
    cursor = 0
    for sentence in split_sentences(text):
        spoken = normalize_for_speech(sentence, preset.pronunciations)
        if not spoken:
            continue
        audio = _trim_silence(_synthesize(engine, spoken, preset, sentence_seed(spoken, seed), cache))
        if audio.size == 0:
            raise StageError(f"{preset.engine} produced silence for: {sentence[:60]!r}")
        if pieces:
            pieces.append(pause)
            cursor += pause.size
        spans.append(TimedText(start_s=cursor / engine.sample_rate, end_s=(cursor + audio.size) / engine.sample_rate, text=sentence))
        pieces.append(audio)
        cursor += audio.size
    if not pieces:
        return Clip.silence(0, sample_rate), []
    native = Clip.from_mono(np.concatenate(pieces), engine.sample_rate)
    processed = effect_chain(preset)(native.samples.T, native.sample_rate).T * db_to_gain(preset.gain_db)
    return Clip(processed.astype(np.float32), native.sample_rate).resampled(sample_rate), spans


def speak_segment(segment: Segment, preset: VoicePreset, out_dir: Path, sample_rate: int, seed: int = 0,
                  cache: SpeechCache | None = None) -> SpeechClip:
    """Speech stage entry: one script segment → one WAV in out_dir."""
    clip, spans = speak(segment.text, preset, sample_rate, seed, cache)
    path = write_clip(clip, Path(out_dir) / f"speech-{segment.id}.wav")
    return SpeechClip(
        segment_id=segment.id,
        path=str(path),
        sample_rate=sample_rate,
        duration_s=clip.duration_s,
        sentences=spans,
        engine=preset.engine,
    )


def engine_version(preset: VoicePreset) -> str:
    return load_engine(preset.engine, preset.model, preset.speaker).version()

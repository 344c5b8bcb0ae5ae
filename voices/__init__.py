"""Speech stage: Segment text → SpeechClip (a WAV with per-sentence timings).

Engines are chosen by name from ENGINES through a voice preset (voices/presets/*.yaml).
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from nightcast.audio import Clip, db_to_gain, loudness_normalized, write_clip
from nightcast.errors import StageError
from nightcast.registry import Registry
from nightcast.schema import Line, Segment, SpeechClip, TimedText
from nightcast.text import normalize_for_speech, split_sentences
from nightcast.voices.cache import SpeechCache
from nightcast.voices.presets import VoicePreset, effect_chain

ENGINES = Registry(
    "TTS engine",
    {
        "hibari": "nightcast.voices.hibari_engine:HibariEngine",
        "kokoro": "nightcast.voices.kokoro_engine:KokoroEngine",
        "piper": "nightcast.voices.piper_engine:PiperEngine",
        "espeak": "nightcast.voices.espeak_engine:EspeakEngine",
        "transformers": "nightcast.voices.transformers_engine:TransformersVitsEngine",
        "coqui": "nightcast.voices.coqui_engine:CoquiEngine",
    },
)


TURN_REFERENCE_LUFS = -20.0  # every voice of a conversation is matched to this (plus its preset's gain)
TURN_GAP_MS = 220  # between two hosts' turns: quicker than a sentence pause, as in real banter


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


def _cache_key(engine, spoken: str, preset: VoicePreset, seed: int) -> str:
    return SpeechCache.key(spoken, engine=preset.engine, engine_version=engine.version(), model=preset.model,
                           speaker=preset.speaker, speed=preset.speed, seed=seed)


def _synthesize(engine, spoken: str, preset: VoicePreset, seed: int, cache: SpeechCache | None) -> np.ndarray:
    if cache is None:
        return engine.synthesize(spoken, speed=preset.speed, seed=seed)
    key = _cache_key(engine, spoken, preset, seed)
    samples = cache.get(key, engine.sample_rate)
    if samples is None:
        samples = cache.put(key, engine.synthesize(spoken, speed=preset.speed, seed=seed), engine.sample_rate)
    return samples


def _synthesize_batched(engine, spoken: list[str], preset: VoicePreset, seed: int,
                        cache: SpeechCache | None) -> list[np.ndarray]:
    """Engines that batch (GPU models): cached sentences from the cache, the rest in one call."""
    seeds = [sentence_seed(text, seed) for text in spoken]
    keys = [_cache_key(engine, text, preset, s) for text, s in zip(spoken, seeds)] if cache else []
    audio: list[np.ndarray | None] = [cache.get(key, engine.sample_rate) for key in keys] if cache else [None] * len(spoken)
    missing = [i for i, samples in enumerate(audio) if samples is None]
    if missing:
        texts = [spoken[i] for i in missing]
        fresh = engine.synthesize_batch(texts, speed=preset.speed, seeds=[seeds[i] for i in missing])
        for i, samples in zip(missing, fresh):
            audio[i] = cache.put(keys[i], samples, engine.sample_rate) if cache else samples
    return [_trim_silence(samples) for samples in audio]


def speech_workers() -> int:
    """Sentences synthesised at once, process-wide: one per core (NIGHTCAST_SPEECH_WORKERS overrides)."""
    configured = os.environ.get("NIGHTCAST_SPEECH_WORKERS")
    return max(1, int(configured)) if configured else max(1, os.cpu_count() or 1)


@functools.cache
def _sentence_pool(workers: int) -> ThreadPoolExecutor:
    # One pool for the whole process: mapped speak tasks share it, so parallel segments and parallel
    # sentences together never run more synthesis calls than there are workers.
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="nightcast-tts")


def synthesize_sentences(engine, spoken: list[str], preset: VoicePreset, seed: int,
                         cache: SpeechCache | None, workers: int | None = None) -> list[np.ndarray]:
    """Each sentence's audio, silence-trimmed, in order: batched where the engine `batches`,
    else in parallel where it is thread-safe, else one after another."""
    def one(text: str) -> np.ndarray:
        return _trim_silence(_synthesize(engine, text, preset, sentence_seed(text, seed), cache))

    if len(spoken) > 1 and engine.batches:
        return _synthesize_batched(engine, spoken, preset, seed, cache)
    workers = speech_workers() if workers is None else workers
    if workers <= 1 or len(spoken) < 2 or not engine.concurrent:
        return [one(text) for text in spoken]
    return list(_sentence_pool(workers).map(one, spoken))


def _sentences(text: str, preset: VoicePreset) -> list[tuple[str, str]]:
    """(sentence as written, as the engine is given it) for each sentence with anything to say."""
    return [(sentence, spoken) for sentence in split_sentences(text)
            if (spoken := normalize_for_speech(sentence, preset.pronunciations))]


def _turn_voices(segment: Segment, voices: Mapping[str, VoicePreset] | VoicePreset):
    """The segment's turns and the voice(s) that speak them: one preset where one voice speaks it all."""
    turns = segment.turns()
    if isinstance(voices, Mapping) and len({t.speaker for t in turns}) <= 1 and segment.speaker in voices:
        voices = voices[turns[0].speaker if turns else segment.speaker]
    return turns, voices


def sentences_to_speak(segment: Segment, voices: Mapping[str, VoicePreset] | VoicePreset) -> list[tuple[VoicePreset, str]]:
    """Every sentence speak_segment will synthesise for this segment, with its voice: what the
    nightly's speech phase synthesises ahead, across listeners, into the sentence cache."""
    turns, voices = _turn_voices(segment, voices)
    if isinstance(voices, VoicePreset):
        if len({turn.speaker for turn in turns}) <= 1:
            return [(voices, spoken) for _, spoken in _sentences(" ".join(t.text for t in turns), voices)]
        voices = {turn.speaker: voices for turn in turns}
    return [(voices[turn.speaker], spoken) for turn in turns if turn.speaker in voices
            for _, spoken in _sentences(turn.text, voices[turn.speaker])]


def synthesize_ahead(sentences: list[tuple[VoicePreset, str]], cache: SpeechCache, seed: int = 0) -> list[int]:
    """Synthesise into the sentence cache every sentence whose engine batches, one batched call per
    voice over all of them (the cached ones skipped); returns the rows of each batched forward pass
    (at the engine's batch size after the call, which is smaller once a pass ran out of memory)."""
    by_voice: dict[str, tuple[VoicePreset, dict[str, None]]] = {}
    for preset, spoken in sentences:
        by_voice.setdefault(preset.model_dump_json(), (preset, {}))[1][spoken] = None
    rows: list[int] = []
    for preset, texts in by_voice.values():
        engine = load_engine(preset.engine, preset.model, preset.speaker)
        if not engine.batches:
            continue
        missing = [text for text in texts if _cache_key(engine, text, preset, sentence_seed(text, seed)) not in cache]
        if missing:
            _synthesize_batched(engine, missing, preset, seed, cache)
            size = engine.batch_size
            rows += [min(size, len(missing) - at) for at in range(0, len(missing), size)]
    return rows


def speak(text: str, preset: VoicePreset, sample_rate: int, seed: int = 0, cache: SpeechCache | None = None,
          workers: int | None = None) -> tuple[Clip, list[TimedText]]:
    """Speak text sentence by sentence with the preset; return the clip and where each sentence sits."""
    engine = load_engine(preset.engine, preset.model, preset.speaker)
    sentences = _sentences(text, preset)
    audio = synthesize_sentences(engine, [spoken for _, spoken in sentences], preset, seed, cache, workers)
    pause = np.zeros(round(engine.sample_rate * preset.sentence_pause_ms / 1000), np.float32)
    pieces: list[np.ndarray] = []
    spans: list[TimedText] = []
    cursor = 0
    for (sentence, _), samples in zip(sentences, audio):
        if samples.size == 0:
            raise StageError(f"{preset.engine} produced silence for: {sentence[:60]!r}")
        if pieces:
            pieces.append(pause)
            cursor += pause.size
        spans.append(TimedText(start_s=cursor / engine.sample_rate, end_s=(cursor + samples.size) / engine.sample_rate, text=sentence))
        pieces.append(samples)
        cursor += samples.size
    if not pieces:
        return Clip.silence(0, sample_rate), []
    native = Clip.from_mono(np.concatenate(pieces), engine.sample_rate)
    processed = effect_chain(preset)(native.samples.T, native.sample_rate).T * db_to_gain(preset.gain_db)
    return Clip(processed.astype(np.float32), native.sample_rate).resampled(sample_rate), spans


def speak_turns(turns: list[Line], voices: Mapping[str, VoicePreset] | VoicePreset, sample_rate: int, seed: int = 0,
                cache: SpeechCache | None = None) -> tuple[Clip, list[TimedText]]:
    """Speak a conversation: each turn in its speaker's voice, levels matched, one clip.

    A single preset speaks every turn (previews, tests); a mapping gives each speaker id its voice.
    """
    if isinstance(voices, VoicePreset):
        if len({turn.speaker for turn in turns}) <= 1:
            return speak(" ".join(turn.text for turn in turns), voices, sample_rate, seed, cache)
        voices = {turn.speaker: voices for turn in turns}
    missing = sorted({turn.speaker for turn in turns} - set(voices))
    if missing:
        raise StageError(f"no voice preset for speaker(s) {', '.join(missing)}")
    pieces: list[np.ndarray] = []
    spans: list[TimedText] = []
    cursor = 0
    for turn in turns:
        preset = voices[turn.speaker]
        clip, sentences = speak(turn.text, preset, sample_rate, seed, cache)
        if clip.frames == 0:
            continue
        # Engines differ by several dB; each voice is matched to one reference so neither host shouts.
        clip = loudness_normalized(clip, TURN_REFERENCE_LUFS + preset.gain_db)
        if pieces:
            gap = np.zeros(round(sample_rate * TURN_GAP_MS / 1000), np.float32)
            pieces.append(gap)
            cursor += gap.size
        offset = cursor / sample_rate
        spans += [s.model_copy(update={"start_s": s.start_s + offset, "end_s": s.end_s + offset, "speaker": turn.speaker})
                  for s in sentences]
        pieces.append(clip.samples[:, 0])
        cursor += clip.frames
    if not pieces:
        return Clip.silence(0, sample_rate), []
    return Clip.from_mono(np.concatenate(pieces), sample_rate), spans


def speak_segment(segment: Segment, voices: Mapping[str, VoicePreset] | VoicePreset, out_dir: Path, sample_rate: int,
                  seed: int = 0, cache: SpeechCache | None = None) -> SpeechClip:
    """Speech stage entry: one script segment → one WAV in out_dir (every line in its speaker's voice)."""
    turns, voices = _turn_voices(segment, voices)
    clip, spans = speak_turns(turns, voices, sample_rate, seed, cache)
    path = write_clip(clip, Path(out_dir) / f"speech-{segment.id}.wav")
    presets = [voices] if isinstance(voices, VoicePreset) else [voices[s] for s in segment.speakers]
    engines = [p.engine for p in presets]
    return SpeechClip(
        segment_id=segment.id,
        path=str(path),
        sample_rate=sample_rate,
        duration_s=clip.duration_s,
        sentences=spans,
        engine="+".join(dict.fromkeys(engines)),
        engine_versions={p.id: load_engine(p.engine, p.model, p.speaker).version() for p in presets},
    )


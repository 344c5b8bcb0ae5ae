"""MusicGen's decoding loop, written out so a bed depends on its own prompt, length and seed only.

`transformers`' `generate` samples every row of a batch from one random stream and runs every row
to the batch's longest length, so a bed changes when its batch does (another listener joins the
night, a longer bed shares its batch); and it decodes the whole batch through EnCodec at once,
which fails past 2^31 elements ("input tensor must fit into 32-bit index math"). This loop is the
same computation as `generate` (its tokens equal stock `generate`'s for one row and one seed, greedy
and, with the torch sampler, sampled: the tests check) with three differences:

- each row samples from its own seed: by default with noise hashed from it (nightcast/sampling.py,
  one vectorised step for the whole batch), or (`rng="torch"`) from its own torch generator, which
  draws exactly what stock `generate` draws for that row alone;
- each row keeps its own delay pattern and length: past its end it is fed the padding it would
  see alone, and its extra tokens are dropped;
- EnCodec decodes rows of equal length together, in chunks that stay under the 32-bit bound.

So the nightly run can batch beds across listeners and cache each one: the batch it happened to
share changes its cost, not its sound.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nightcast.sampling import row_keys, sample_rows

INDEX_LIMIT = 2**31 - 1  # elements in one tensor before CUDA kernels fall back to failing 32-bit index math
# On a CPU a decode is fastest in chunks whose activations stay small: measured on 2 cores (tiny
# model, 30 s beds), 1–4 rows per call 0.28–0.30 s a bed, 32 rows 0.47–0.71 s a bed, and a night's
# 64-row decode took 11 GB. 2^25 elements is 128 MiB of float32 per activation.
CPU_DECODE_LIMIT = 2**25
DECODER_WIDTH_MARGIN = 2  # EnCodec's widest tensor, per output sample, in units of `num_filters` (with its padding)


@dataclass(frozen=True)
class Sampling:
    """How tokens are drawn; `greedy` takes the most likely token (for tests and debugging)."""

    guidance_scale: float = 3.0
    temperature: float = 1.0
    top_k: int = 250
    greedy: bool = False
    rng: str = "counter"  # counter: nightcast/sampling.py; torch: a torch.Generator per row, as stock generate


def frames_for(seconds: float, frame_rate: float, codebooks: int) -> int:
    """EnCodec frames `generate(max_new_tokens=ceil(s·rate)+1)` returns: the delay pattern costs
    `codebooks − 1` steps."""
    return int(np.ceil(seconds * frame_rate)) + 2 - codebooks


def decode_rows_per_chunk(audio_config, frames: int, limit: int = INDEX_LIMIT) -> int:
    """How many rows of `frames` EnCodec frames one decode call takes with no tensor past `limit`
    elements: the widest activation is about `num_filters × samples` per row (times a margin for
    the residual branches and padding)."""
    samples = frames * int(np.prod(audio_config.upsampling_ratios))
    per_row = audio_config.num_filters * DECODER_WIDTH_MARGIN * (samples + 64)
    return max(1, limit // per_row)


def generate_codes(model, input_ids, attention_mask, frames: list[int], seeds: list[int], sampling: Sampling,
                   static_cache: bool = True, step: str = "stock"):
    """EnCodec codes, one `(codebooks, frames[i])` LongTensor per row, from a standard (not melody)
    MusicGen. Rows run together until the longest is done; each row's tokens depend only on its
    prompt, its own length and its seed. `step`: "stock" runs transformers' forward each step;
    "static" the fixed-shape step (musicgen_step.py); "graph" that step captured as a CUDA graph
    and replayed (CUDA only)."""
    import torch
    from transformers.generation.logits_process import (
        ClassifierFreeGuidanceLogitsProcessor,
        LogitsProcessorList,
        TemperatureLogitsWarper,
        TopKLogitsWarper,
    )
    from transformers.modeling_outputs import BaseModelOutput

    decoder = model.decoder
    device = input_ids.device
    codebooks = decoder.num_codebooks
    start = model.generation_config.decoder_start_token_id
    pad = model.generation_config.pad_token_id
    rows = len(frames)
    guided = sampling.guidance_scale is not None and sampling.guidance_scale > 1

    encoded = model.text_encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
    if guided:  # the unconditional half: a null text, as `generate` builds it
        encoded = torch.cat([encoded, torch.zeros_like(encoded)])
        attention_mask = torch.cat([attention_mask, torch.zeros_like(attention_mask)])
    encoder_outputs = BaseModelOutput(last_hidden_state=encoded)

    # Each row's delay pattern at its own length: what it would be fed generating alone.
    lengths = [f + codebooks for f in frames]  # decoder positions, the start token included
    longest = max(lengths)
    first = torch.full((rows * codebooks, 1), start, dtype=torch.long, device=device)
    patterns = torch.full((rows, codebooks, longest), pad, dtype=torch.long, device=device)
    for row, length in enumerate(lengths):
        _, pattern = decoder.build_delay_pattern_mask(first[:codebooks], pad_token_id=start, max_length=length)
        patterns[row, :, :length] = pattern.reshape(codebooks, length)
    patterns = patterns.reshape(rows * codebooks, longest)

    processors = LogitsProcessorList()
    if guided:
        processors.append(ClassifierFreeGuidanceLogitsProcessor(sampling.guidance_scale))
    if not sampling.greedy:
        if sampling.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(sampling.temperature))
        if sampling.top_k and sampling.top_k < model.decoder.config.vocab_size:  # else it keeps every token
            processors.append(TopKLogitsWarper(sampling.top_k))
    if sampling.rng == "torch":
        generators = [torch.Generator(device=device).manual_seed(int(seed)) for seed in seeds]
    keys = row_keys(seeds, device)

    if step == "stock":
        cache = _static_cache(model, longest) if static_cache else None

        def logits_at(step_input, position: int):
            nonlocal cache
            output = model(encoder_outputs=encoder_outputs, attention_mask=attention_mask,
                           decoder_input_ids=step_input, past_key_values=cache, use_cache=True)
            cache = output.past_key_values
            return output.logits[:, -1, :]
    else:
        from nightcast.generators.music.musicgen_step import StaticDecoderStep

        logits_at = StaticDecoderStep(model, encoded, attention_mask, longest, graph=step == "graph")

    tokens = torch.empty((rows * codebooks, longest), dtype=torch.long, device=device)
    tokens[:, :1] = first
    for position in range(longest - 1):
        # The delay pattern, column by column: where it holds a token (start or padding), that token.
        column = patterns[:, position:position + 1]
        step_input = torch.where(column == -1, tokens[:, position:position + 1], column)
        if guided:
            step_input = step_input.repeat((2, 1))
        scores = processors(tokens[:, :position + 1], logits_at(step_input, position).float())
        if sampling.greedy:
            chosen = scores.argmax(dim=-1)
        elif sampling.rng == "torch":
            probs = torch.softmax(scores, dim=-1).reshape(rows, codebooks, -1)
            chosen = torch.cat([torch.multinomial(probs[row], 1, generator=generators[row]).squeeze(1)
                                for row in range(rows)])
        else:
            chosen = sample_rows(scores.reshape(rows, codebooks, -1), keys, position).reshape(-1)
        tokens[:, position + 1] = chosen

    tokens = decoder.apply_delay_pattern_mask(tokens, patterns).reshape(rows, codebooks, longest)
    codes = []
    for row, length in enumerate(lengths):
        # Undo the delay: codebook k's frames sit k+1 positions in.
        codes.append(torch.stack([tokens[row, k, k + 1: k + 1 + frames[row]] for k in range(codebooks)]))
    return codes


def _static_cache(model, length: int):
    """Self-attention keys and values in buffers allocated once for the whole bed (no copy of the
    growing cache per step); cross-attention's are computed at the first step and kept."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache, StaticCache

    config = model.decoder.config
    return EncoderDecoderCache(StaticCache(config=config, max_cache_len=length), DynamicCache(config=config))


def decode_codes(audio_encoder, codes: list, limit: int = INDEX_LIMIT) -> list[np.ndarray]:
    """Each row's waveform (channel 0, float32): rows of equal length decoded together, in chunks
    that keep every tensor under `limit` elements."""
    import torch

    waves: list[np.ndarray | None] = [None] * len(codes)
    by_length: dict[int, list[int]] = {}
    for row, row_codes in enumerate(codes):
        by_length.setdefault(int(row_codes.shape[-1]), []).append(row)
    for frames, members in by_length.items():
        size = decode_rows_per_chunk(audio_encoder.config, frames, limit)
        for at in range(0, len(members), size):
            chunk = members[at:at + size]
            stacked = torch.stack([codes[row] for row in chunk])[None]  # (1 frame chunk, rows, codebooks, frames)
            audio = audio_encoder.decode(stacked, audio_scales=[None] * len(chunk)).audio_values
            for row, wave in zip(chunk, audio[:, 0].float().cpu().numpy()):
                waves[row] = wave
    return waves

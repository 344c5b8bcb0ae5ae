"""nightcast's MusicGen decoding loop: the same tokens as stock `generate` for one row (through
transformers' forward and through the fixed-shape step a CUDA graph captures), a bed that does not
depend on its batch, and EnCodec decodes that stay under the 32-bit index bound."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def tiny_musicgen_dir(tmp_path_factory):
    from tiny_musicgen import build_tiny_musicgen

    return build_tiny_musicgen(tmp_path_factory.mktemp("musicgen"))


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_musicgen_dir):
    from transformers import AutoTokenizer, MusicgenForConditionalGeneration

    path = tiny_musicgen_dir
    return MusicgenForConditionalGeneration.from_pretrained(path).eval(), AutoTokenizer.from_pretrained(path)


def encode(tokenizer, prompts):
    return tokenizer(prompts, return_tensors="pt", padding=True)


@pytest.mark.parametrize("sampling", [
    {"greedy": True, "guidance_scale": 3.0},
    {"greedy": False, "guidance_scale": 3.0, "temperature": 1.0, "top_k": 250, "rng": "torch"},
    {"greedy": False, "guidance_scale": 3.0, "temperature": 0.7, "top_k": 20, "rng": "torch"},
    {"greedy": False, "guidance_scale": 1.0, "temperature": 1.0, "top_k": 0, "rng": "torch"},
], ids=["greedy", "sampled", "sampled-warm-topk", "sampled-unguided"])
@pytest.mark.parametrize("step", ["stock", "static"])
def test_one_row_equals_stock_generate(model_and_tokenizer, sampling, step):
    from nightcast.generators.music.musicgen_decoding import Sampling, decode_codes, frames_for, generate_codes

    model, tokenizer = model_and_tokenizer
    inputs = encode(tokenizer, ["mellow late night jazz radio bed"])
    seconds, seed = 0.7, 11
    tokens = int(np.ceil(seconds * model.config.audio_encoder.frame_rate)) + 1
    with torch.inference_mode():
        torch.manual_seed(seed)
        stock = model.generate(**inputs, max_new_tokens=tokens, do_sample=not sampling["greedy"],
                               guidance_scale=sampling["guidance_scale"],
                               **({} if sampling["greedy"] else {"temperature": sampling["temperature"],
                                                                  "top_k": sampling["top_k"]}))  # the torch sampler
        frames = frames_for(seconds, model.config.audio_encoder.frame_rate, model.decoder.num_codebooks)
        codes = generate_codes(model, inputs["input_ids"], inputs["attention_mask"], [frames], [seed],
                               Sampling(**sampling), step=step)
        [ours] = decode_codes(model.audio_encoder, codes)
    assert ours.shape == stock[0, 0].shape
    assert np.array_equal(ours, stock[0, 0].numpy())


@pytest.mark.parametrize("rng,step", [("counter", "stock"), ("torch", "stock"), ("counter", "static")])
def test_a_bed_depends_on_its_prompt_length_and_seed_only(model_and_tokenizer, rng, step):
    """Alone, or in a batch with longer and shorter beds, other prompts and other seeds: the same codes."""
    from nightcast.generators.music.musicgen_decoding import Sampling, generate_codes

    model, tokenizer = model_and_tokenizer
    sampling = Sampling(guidance_scale=3.0, temperature=1.0, top_k=250, rng=rng)
    prompts = ["mellow late night jazz", "warm morning soul radio bed in the spirit of a classical pick",
               "electronic", "calm ambient instrumental"]
    frames, seeds = [20, 41, 7, 33], [3, 99, 3, 5]
    with torch.inference_mode():
        inputs = encode(tokenizer, prompts)
        together = generate_codes(model, inputs["input_ids"], inputs["attention_mask"], frames, seeds, sampling,
                                  step=step)
        for i, prompt in enumerate(prompts):
            one = encode(tokenizer, [prompt])
            [alone] = generate_codes(model, one["input_ids"], one["attention_mask"], [frames[i]], [seeds[i]], sampling,
                                     step="stock")
            assert together[i].shape == (model.decoder.num_codebooks, frames[i])
            assert torch.equal(alone, together[i]), f"row {i} changed with its batch"
        reseeded = generate_codes(model, inputs["input_ids"][:1], inputs["attention_mask"][:1], [20], [4], sampling)
    assert not torch.equal(reseeded[0], together[0])


def test_the_static_step_gives_the_stock_forwards_logits_at_every_position(model_and_tokenizer):
    """Step by step, guided batch of three prompts with padding: the fixed-shape step's logits are
    transformers' forward's (to float rounding), whichever slots the cache has filled."""
    from transformers.cache_utils import DynamicCache, EncoderDecoderCache
    from transformers.modeling_outputs import BaseModelOutput

    from nightcast.generators.music.musicgen_step import StaticDecoderStep

    model, tokenizer = model_and_tokenizer
    inputs = encode(tokenizer, ["jazz", "warm morning soul radio bed", "calm ambient instrumental bed"])
    codebooks, vocab = model.decoder.num_codebooks, model.decoder.config.vocab_size
    generator = torch.Generator().manual_seed(1)
    with torch.inference_mode():
        encoded = model.text_encoder(**inputs).last_hidden_state
        encoded = torch.cat([encoded, torch.zeros_like(encoded)])
        mask = torch.cat([inputs["attention_mask"], torch.zeros_like(inputs["attention_mask"])])
        step = StaticDecoderStep(model, encoded, mask, length=12)
        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        for position in range(12):
            ids = torch.randint(0, vocab + 1, (6 * codebooks, 1), generator=generator)
            stock = model(encoder_outputs=BaseModelOutput(last_hidden_state=encoded), attention_mask=mask,
                          decoder_input_ids=ids, past_key_values=cache, use_cache=True)
            cache = stock.past_key_values
            torch.testing.assert_close(step(ids, position), stock.logits[:, -1, :], rtol=1e-5, atol=1e-5)


def test_the_generator_picks_its_decoder_step(tiny_musicgen_dir, monkeypatch):
    """auto: the static step on a CPU (graph is CUDA's); graph asked on a CPU is refused by name."""
    from nightcast.errors import BackendUnavailableError
    from nightcast.generators.music import load_generator
    from nightcast.settings import Settings

    def settings(step):
        return Settings(music="musicgen", music_model=str(tiny_musicgen_dir),
                        musicgen={"device": "cpu", "decoder_step": step})

    assert load_generator("musicgen", settings("auto")).decoder_step == "static"
    assert load_generator("musicgen", settings("stock")).decoder_step == "stock"
    with pytest.raises(BackendUnavailableError, match="decoder_step: graph needs a CUDA device"):
        load_generator("musicgen", settings("graph"))
    from nightcast.generators.music import musicgen_step
    from nightcast.generators.music.musicgen import MusicGenGenerator

    monkeypatch.setattr(musicgen_step, "unsupported_because", lambda model: "a decoder it does not follow")
    assert MusicGenGenerator(settings("auto")).decoder_step == "stock"  # not load_generator: it keeps instances
    with pytest.raises(BackendUnavailableError, match="static cannot run .*a decoder it does not follow"):
        MusicGenGenerator(settings("static"))


@pytest.mark.gpu
def test_the_cuda_graph_step_makes_the_static_steps_tokens(tiny_musicgen_dir):
    """On CUDA: the captured graph, replayed every step, gives the eager static step's tokens."""
    from transformers import AutoTokenizer, MusicgenForConditionalGeneration

    from nightcast.generators.music.musicgen_decoding import Sampling, generate_codes

    model = MusicgenForConditionalGeneration.from_pretrained(tiny_musicgen_dir).to("cuda").eval()
    inputs = encode(AutoTokenizer.from_pretrained(tiny_musicgen_dir), ["mellow jazz", "warm morning soul radio bed"]).to("cuda")
    with torch.inference_mode():
        runs = [generate_codes(model, inputs["input_ids"], inputs["attention_mask"], [40, 23], [1, 2], Sampling(), step=s)
                for s in ("static", "graph")]
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_decode_is_chunked_under_the_index_bound_and_sounds_the_same(model_and_tokenizer, monkeypatch):
    from nightcast.generators.music.musicgen_decoding import decode_codes, decode_rows_per_chunk

    model, _ = model_and_tokenizer
    encoder = model.audio_encoder
    generator = torch.Generator().manual_seed(0)
    codes = [torch.randint(0, 64, (4, frames), generator=generator) for frames in (30, 30, 30, 30, 30, 12, 30)]
    with torch.inference_mode():
        whole = decode_codes(encoder, codes)
        limit = 3 * encoder.config.num_filters * 2 * (30 * 640 + 64)  # room for three 30-frame rows
        assert decode_rows_per_chunk(encoder.config, 30, limit) == 3
        calls = []
        real = encoder.decode
        monkeypatch.setattr(encoder, "decode", lambda codes, **kw: calls.append(codes.shape[1]) or real(codes, **kw))
        chunked = decode_codes(encoder, codes, limit=limit)
    assert sorted(calls) == [1, 3, 3]  # six 30-frame rows in two chunks of three; the 12-frame row alone
    for a, b, c in zip(whole, chunked, codes):
        assert a.shape == b.shape == (c.shape[-1] * 640,)
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_the_crashing_night_batch_is_split_under_the_bound():
    """Measured on an H200: 48 rows × 28 s of musicgen-small in one EnCodec decode crossed 2^31 elements."""
    from transformers import EncodecConfig

    from nightcast.generators.music.musicgen_decoding import INDEX_LIMIT, decode_rows_per_chunk, frames_for

    config = EncodecConfig(sampling_rate=32000, num_filters=64, upsampling_ratios=[8, 5, 4, 4])
    frames = frames_for(28.0, 50.0, 4)
    rows = decode_rows_per_chunk(config, frames)
    widest = config.num_filters * frames * 640  # the activation that failed (_pad1d of the last block)
    assert 48 * widest > INDEX_LIMIT  # the measured crash, by this arithmetic
    assert 1 <= rows < 48 and rows * widest <= INDEX_LIMIT

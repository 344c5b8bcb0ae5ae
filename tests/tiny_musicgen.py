"""A tiny random-weight MusicGen (T5 text encoder + EnCodec + decoder) with a word-level tokenizer,
built on the spot: noise, but through the same load → batched generate → decode path as
facebook/musicgen-small. `real_size=True` gives musicgen-small's architecture (random weights),
for timing."""

from __future__ import annotations

from pathlib import Path

WORDS = ("mellow calm warm late night morning evening jazz soul hip hop classical ambient electronic rock pop "
         "instrumental bpm major minor radio bed intro pick story outro interlude in the spirit of a an and").split()


def build_tiny_musicgen(out_dir: Path, real_size: bool = False, melody: bool = False) -> Path:
    """`melody=True`: a MusicGen-Melody (chroma-conditioned) of the same size."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import (
        EncodecConfig,
        MusicgenConfig,
        MusicgenDecoderConfig,
        MusicgenForConditionalGeneration,
        MusicgenMelodyConfig,
        MusicgenMelodyDecoderConfig,
        MusicgenMelodyForConditionalGeneration,
        PreTrainedTokenizerFast,
        T5Config,
    )

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = ["<pad>", "</s>", "<unk>", *WORDS]
    tokenizer = Tokenizer(models.WordLevel({w: i for i, w in enumerate(vocab)}, unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(out_dir)
    if real_size:  # musicgen-small: T5-base encoder, EnCodec 32 kHz, 24-layer 1024-wide decoder
        text = T5Config(vocab_size=len(vocab), d_model=768, d_kv=64, d_ff=3072, num_layers=12, num_heads=12)
        audio = EncodecConfig(target_bandwidths=[2.2], sampling_rate=32000, audio_channels=1, num_filters=64,
                              upsampling_ratios=[8, 5, 4, 4], codebook_size=2048, hidden_size=128,
                              num_lstm_layers=2, use_causal_conv=False, normalize=False)
        decoder = MusicgenDecoderConfig(vocab_size=2048, pad_token_id=2048, bos_token_id=2048, num_codebooks=4)
    else:
        text = T5Config(vocab_size=len(vocab), d_model=16, d_kv=4, d_ff=32, num_layers=1, num_heads=2)
        audio = EncodecConfig(target_bandwidths=[2.2], sampling_rate=32000, audio_channels=1, hidden_size=16,
                              num_filters=4, num_residual_layers=1, upsampling_ratios=[8, 5, 4, 4], codebook_size=64,
                              codebook_dim=16, num_lstm_layers=1, use_causal_conv=False)
        decoder = MusicgenDecoderConfig(vocab_size=64, pad_token_id=64, bos_token_id=64, hidden_size=16,
                                        num_hidden_layers=1, num_attention_heads=2, ffn_dim=32, num_codebooks=4)
    import torch

    torch.manual_seed(0)  # the same random model every run: a failure found with it can be found again
    if melody:
        decoder = MusicgenMelodyDecoderConfig(**{k: v for k, v in decoder.to_dict().items()
                                                 if k in MusicgenMelodyDecoderConfig().to_dict() and k != "model_type"})
        model = MusicgenMelodyForConditionalGeneration(
            MusicgenMelodyConfig(text_encoder=text, audio_encoder=audio, decoder=decoder))
    else:
        model = MusicgenForConditionalGeneration(MusicgenConfig(text_encoder=text, audio_encoder=audio, decoder=decoder))

    with torch.no_grad():  # EnCodec's codebooks start at zero (they are learned buffers): every code would sound alike
        generator = torch.Generator().manual_seed(0)
        for layer in model.audio_encoder.quantizer.layers:
            layer.codebook.embed.copy_(torch.randn(layer.codebook.embed.shape, generator=generator))
    model.generation_config.decoder_start_token_id = decoder.bos_token_id
    model.generation_config.pad_token_id = decoder.pad_token_id
    model.save_pretrained(out_dir)
    return out_dir

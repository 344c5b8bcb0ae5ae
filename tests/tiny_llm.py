"""A tiny random-weight chat model built on the spot: a real BPE tokenizer trained on the
project's own text with a ChatML chat template, and a 2-layer Llama. It writes gibberish, which is
the point: the transformers writer must take it down the repair/fallback path to a valid script."""

from __future__ import annotations

from pathlib import Path

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]


def build_tiny_chat_model(out_dir: Path, corpus_dir: Path, vocab_size: int = 600, real_size: bool = False) -> Path:
    """real_size: Llama-3.2-1B's shape (random weights, for timing), with the tiny tokenizer's
    vocabulary: its output layer is 600 rows, not 128,256 (about a fifth less compute per token)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = [p.read_text(encoding="utf-8") for p in sorted(Path(corpus_dir).rglob("*")) if p.suffix in (".yaml", ".j2")]
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL,
                                                       initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<pad>",
                                        bos_token="<|endoftext|>")
    tokenizer.chat_template = CHATML
    tokenizer.save_pretrained(out_dir)
    shape = (dict(hidden_size=2048, intermediate_size=8192, num_hidden_layers=16, num_attention_heads=32,
                  num_key_value_heads=8, head_dim=64, rope_theta=500000.0, tie_word_embeddings=True) if real_size else
             dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2))
    config = LlamaConfig(vocab_size=len(tokenizer), max_position_embeddings=8192, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id, **shape)
    LlamaForCausalLM(config).save_pretrained(out_dir)
    return Path(out_dir)

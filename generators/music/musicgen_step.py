"""MusicGen's decoder step with fixed shapes, so a CUDA graph can capture it once and replay it.

A MusicGen decoder step is small (one token per row through 24 layers for musicgen-small), so on
a GPU its cost is launching the step's kernels, not running them: measured on an H200 through
transformers' forward, ~60 ms a step whatever the batch. transformers' forward cannot be captured
as a graph: it reads the cache length back to Python every step and builds its masks from it.

This step is the same computation written with every shape fixed for a whole bed: the
self-attention keys and values live in buffers sized for the longest row; the position is a
tensor on the device; the masks are computed from it on the device; cross-attention's keys and
values are projected once from the text. Each step copies the new tokens and the position into
fixed input buffers and replays the graph. On CUDA (`graph=True`) that is one launch per step; on
a CPU it runs eagerly (the same tokens: the tests compare them with stock `generate`).

It reads the weights of a loaded `MusicgenForConditionalGeneration` and follows its decoder layer
for layer (pre-norm self-attention, cross-attention, feed-forward; sinusoidal positions; one
embedding and one head per codebook). A checkpoint whose decoder it does not follow is refused
(`unsupported_because` says why) and the stock forward runs instead.
"""

from __future__ import annotations


def unsupported_because(model) -> str | None:
    """Why the fixed-shape step cannot stand in for this model's decoder, or None when it can."""
    decoder = getattr(model, "decoder", None)
    config = getattr(decoder, "config", None)
    if config is None or getattr(config, "model_type", "") != "musicgen_decoder":
        return "not a MusicGen decoder"
    if getattr(config, "cross_attention_hidden_size", None) not in (None, config.hidden_size):
        return "a cross-attention width other than the decoder's"
    if config.hidden_size % config.num_attention_heads:
        return "a hidden size the heads do not divide"
    return None


class StaticDecoderStep:
    """One decoder step for `rows` (the guided batch: conditional and unconditional halves) at a
    position held on the device. `__call__(ids, position)` returns the logits, shaped as
    transformers' `(rows × codebooks, vocab)`; the returned tensor is a buffer the next call
    overwrites."""

    def __init__(self, model, encoded, text_mask, length: int, graph: bool = False):
        import torch

        decoder = model.decoder.model.decoder
        config = model.decoder.config
        self.decoder, self.heads = decoder, model.decoder.lm_heads
        self.codebooks = config.num_codebooks
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.length = length
        rows, device, dtype = encoded.shape[0], encoded.device, decoder.layer_norm.weight.dtype
        self.rows = rows

        if model.text_encoder.config.hidden_size != config.hidden_size and config.cross_attention_hidden_size is None:
            encoded = model.enc_to_dec_proj(encoded)
        encoded = (encoded * text_mask[..., None]).to(dtype)  # as the stock forward masks the text
        minimum = torch.finfo(dtype).min
        # Additive masks, as transformers' eager attention applies them: a row whose text is all
        # masked (the unconditional half) attends uniformly to zeros, exactly as it does there.
        self.text_bias = ((1.0 - text_mask[:, None, None, :].to(dtype)) * minimum)
        self.cross = [(self._split(layer.encoder_attn.k_proj(encoded)), self._split(layer.encoder_attn.v_proj(encoded)))
                      for layer in decoder.layers]
        shape = (rows, self.num_heads, length, self.head_dim)
        self.keys = [torch.zeros(shape, device=device, dtype=dtype) for _ in decoder.layers]
        self.values = [torch.zeros(shape, device=device, dtype=dtype) for _ in decoder.layers]
        self.slots = torch.arange(length, device=device)
        self.minimum = minimum
        self.positions = decoder.embed_positions.weights.to(device, dtype)
        if self.positions.shape[0] < length:
            raise ValueError(f"a bed of {length} steps is longer than the decoder's {self.positions.shape[0]} positions")
        self.ids = torch.zeros((rows, self.codebooks), dtype=torch.long, device=device)
        self.position = torch.zeros((1,), dtype=torch.long, device=device)
        self.graph = None
        if graph:
            self._capture()

    def _split(self, states):
        rows, length, _ = states.shape
        return states.view(rows, length, self.num_heads, self.head_dim).transpose(1, 2)

    def _attend(self, module, hidden, keys, values, bias):
        import torch

        query = self._split(module.q_proj(hidden))
        weights = torch.softmax(torch.matmul(query, keys.transpose(2, 3)) * self.head_dim ** -0.5 + bias, dim=-1)
        out = torch.matmul(weights, values).transpose(1, 2).reshape(hidden.shape)
        return module.out_proj(out)

    def _forward(self, filled: int | None = None):
        """`filled`: in eager mode, the slots written so far, so attention reads only those (a
        graph must read all `length` slots, the unwritten ones masked)."""
        import torch

        hidden = sum(self.decoder.embed_tokens[k](self.ids[:, k]) for k in range(self.codebooks))[:, None, :]
        hidden = hidden + self.positions.index_select(0, self.position)
        slots = self.slots if filled is None else self.slots[:filled]
        causal = torch.where(slots <= self.position, 0.0, self.minimum).to(hidden.dtype)[None, None, None, :]
        for layer, keys, values, (cross_keys, cross_values) in zip(self.decoder.layers, self.keys, self.values, self.cross):
            attention = layer.self_attn
            normed = layer.self_attn_layer_norm(hidden)
            keys.index_copy_(2, self.position, self._split(attention.k_proj(normed)))
            values.index_copy_(2, self.position, self._split(attention.v_proj(normed)))
            if filled is not None:
                keys, values = keys[:, :, :filled], values[:, :, :filled]
            hidden = hidden + self._attend(attention, normed, keys, values, causal)
            normed = layer.encoder_attn_layer_norm(hidden)
            hidden = hidden + self._attend(layer.encoder_attn, normed, cross_keys, cross_values, self.text_bias)
            normed = layer.final_layer_norm(hidden)
            hidden = hidden + layer.fc2(layer.activation_fn(layer.fc1(normed)))
        hidden = self.decoder.layer_norm(hidden)
        logits = torch.stack([head(hidden) for head in self.heads], dim=1)  # (rows, codebooks, 1, vocab)
        return logits.reshape(self.rows * self.codebooks, -1)

    def _capture(self) -> None:
        """Warm up on a side stream (the allocator and cuBLAS settle), then record one step. The
        warm-up writes only the keys and values at position 0, which the real first step overwrites."""
        import torch

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(2):
                self._forward()
        torch.cuda.current_stream().wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.logits = self._forward()

    def __call__(self, ids, position: int):
        """Logits for `ids` ((rows × codebooks) tokens) at decoder position `position`."""
        self.ids.copy_(ids.view(self.rows, self.codebooks))
        self.position.fill_(position)
        if self.graph is None:
            return self._forward(filled=position + 1)
        self.graph.replay()
        return self.logits

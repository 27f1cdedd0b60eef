"""Whisper's text pass: the decoder's cross-attention keys and values of 30 s of silence,
projected once per adapter instead of in every layer of every text batch."""

from __future__ import annotations

import inspect

import torch
from torch import nn


class SilenceProjections:
    """Every decoder layer's cross-attention (keys, values) of the stored silence, by batch
    variant, taken again whenever a cross-attention weight of the decoder changes."""

    def __init__(self, decoder: nn.Module, silence: torch.Tensor):
        self.decoder = decoder
        self.silence = silence  # the encoder output of the silence, [1, frames, dim]
        self._by_variant: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._for_autograd: dict[int, list[tuple[torch.Tensor, torch.Tensor]]] = {}
        self._weights: tuple = ()

    def cache(self, rows: int, for_autograd: bool = False) -> dict | None:
        """The decoder's cache argument for a text batch of `rows` items: an EncoderDecoderCache
        whose cross-attention part holds every layer's keys and values of the silence (views of
        one projection, never copied), marked as filled, so WhisperAttention reads them instead of
        projecting 1,500 frames again in every layer of every batch. None (the plain path) with a
        transformers that lacks these cache classes.

        The projections are taken once per adapter, from the stored silence (hooks a task puts on
        the encoder cannot reach them), and again whenever a cross-attention weight of the
        decoder changes. They are computed as the decoder computes them for a batch: a linear
        layer's rounding differs between 1 row and several (~1e-7), so a batch of one text gets a
        projection of one row, any other batch one of two rows (equal to any larger batch's).

        `for_autograd`: copies made outside inference mode (kept too), for a pass that autograd
        differentiates (first-order steering effects): it cannot save inference tensors.
        """
        try:
            from transformers.cache_utils import (
                Cache,
                DynamicCache,
                DynamicLayer,
                EncoderDecoderCache,
            )
        except ImportError:
            return None
        params = inspect.signature(self.decoder.forward).parameters
        name = next((n for n in ("cache", "past_key_values") if n in params), None)
        if name is None:
            return None
        weights = tuple(
            (p.data_ptr(), p._version)
            for layer in self.decoder.layers
            for proj in (layer.encoder_attn.k_proj, layer.encoder_attn.v_proj)
            for p in proj.parameters()
        )
        if weights != self._weights:
            self._by_variant, self._for_autograd, self._weights = {}, {}, weights
        variant = min(rows, 2)
        if variant not in self._by_variant:
            self._by_variant[variant] = self.projections(variant)
        kept = self._by_variant[variant]
        if for_autograd:
            if variant not in self._for_autograd:
                with torch.inference_mode(False), torch.no_grad():
                    self._for_autograd[variant] = [(k.clone(), v.clone()) for k, v in kept]
            kept = self._for_autograd[variant]
        layers = []
        for key, value in kept:
            layer = DynamicLayer()
            layer.lazy_initialization(key, value)
            layer.keys = key.expand(rows, -1, -1, -1)
            layer.values = value.expand(rows, -1, -1, -1)
            layers.append(layer)
        return {name: EncoderDecoderCache(DynamicCache(), Cache(layers=layers))}

    def projections(self, rows: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Each decoder layer's cross-attention (keys, values) [1, heads, frames, head_dim] of
        the silence, as WhisperAttention projects them for a batch of `rows` items (without the
        modules' hooks)."""
        silence = self.silence.expand(rows, -1, -1)
        out = []
        for layer in self.decoder.layers:
            attn = layer.encoder_attn
            shape = (rows, -1, attn.num_heads, attn.head_dim)
            kv = []
            for proj in (attn.k_proj, attn.v_proj):
                x = nn.functional.linear(silence, proj.weight, proj.bias)
                kv.append(x.view(shape).transpose(1, 2).contiguous()[:1])
            out.append((kv[0], kv[1]))
        return out

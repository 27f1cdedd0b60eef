"""Self-supervised speech encoders: wav2vec2 (and its conformer variant), HuBERT, WavLM,
data2vec-audio, UniSpeech(-SAT).

One stack, `encoder` (speech). Layers: "embeddings" (the input of layer 1: the projected conv
features after the positional convolution, and for post-norm models its layer norm) and
"layer_1".."layer_N" (each transformer layer's raw output; the final norm of stable-layer-norm
models is not a layer). Every layer has 50 positions per second (`frame_seconds` = the conv strides'
product / 16 kHz = 0.02); the mask is the feature extractor's attention mask through the conv length
formula (`_get_feat_extract_output_lengths`).

A conv feature encoder with group normalisation (wav2vec2-base, HuBERT-base: `feat_extract_norm=
"group"`) normalises over each whole clip, padding included, so a padded batch would change every
item; data2vec-audio's stacked positional convolutions carry padding states into an item's last
frames. Such models run each clip alone (batch-invariant, slower); the others run batched with the
attention mask. (A hook on a layer module then fires once per clip.)
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import torch
from torch import nn

from benchmark.models.base import SAMPLE_RATE, AdapterInfo, BatchInputs, LayerStates
from benchmark.models.common import (
    LayeredAdapter,
    input_device,
    layer_table,
    load_checked,
    merge_settings,
    same_positions,
    torch_dtype,
)
from benchmark.models.family import N_LAYERS, Family, Stack
from benchmark.models.hooks import Positions, Tap, lengths_to_mask
from benchmark.models.registry import register_family

ADAPTER_VERSION = "1"
DEFAULTS = {"dtype": "float32"}


def conv_lengths(model, lengths: torch.Tensor) -> torch.Tensor:
    """Frames the conv feature encoder makes of `lengths` samples (no adapter layers)."""
    try:
        return model._get_feat_extract_output_lengths(lengths, add_adapter=False).long()
    except TypeError:  # families whose formula takes no add_adapter
        return model._get_feat_extract_output_lengths(lengths).long()


def pad_items(per_item: list[dict[str, LayerStates]]) -> dict[str, LayerStates]:
    """Single-item states -> one batch, zero-padded to the longest item."""
    out = {}
    for name in per_item[0]:
        states = [item[name] for item in per_item]
        width = max(s.hidden.shape[1] for s in states)
        first = states[0].hidden
        hidden = first.new_zeros((len(states), width, first.shape[-1]))
        mask = torch.zeros((len(states), width), dtype=torch.bool, device=first.device)
        for i, s in enumerate(states):
            hidden[i, : s.hidden.shape[1]] = s.hidden[0]
            mask[i, : s.mask.shape[1]] = s.mask[0]
        out[name] = LayerStates(hidden, mask, frame_seconds=states[0].frame_seconds)
    return out


class SpeechEncoderAdapter(LayeredAdapter):
    stacks = {"encoder": ("speech",)}

    def __init__(self, model, feature_extractor, model_id: str, settings=None):
        super().__init__()
        self.settings = merge_settings("speech-encoder", DEFAULTS, settings)
        self.model = model.eval()
        self.feature_extractor = feature_extractor
        self.model_id = model_id
        self.device = next(model.parameters()).device
        config = model.config
        layers = model.encoder.layers
        group_norm = getattr(config, "feat_extract_norm", "layer") == "group"
        stacked_positions = getattr(config, "model_type", "") == "data2vec-audio"
        self.one_at_a_time = group_norm or stacked_positions
        stride = math.prod(getattr(config, "conv_stride", (320,)))
        self.frame_seconds = stride / SAMPLE_RATE
        # the shortest clip that gives one frame (400 samples for wav2vec2's receptive field)
        self.min_samples = next(
            n for n in range(1, SAMPLE_RATE) if int(conv_lengths(model, torch.tensor([n]))[0]) >= 1
        )
        tap = Tap()
        self._tables = {"encoder": layer_table(tap, layers)}
        self._taps = {"encoder": [(tap, layers[0])]}
        self._runners = {("encoder", "speech"): self._encoder_speech}
        self.info = AdapterInfo(
            family="speech-encoder",
            adapter_version=ADAPTER_VERSION,
            settings={
                **self.settings,
                "model_type": getattr(config, "model_type", None),
                "attn_implementation": getattr(config, "_attn_implementation", None),
                "layers": "encoder layers (raw outputs); embeddings = input of layer 1",
                "mask": "feature-extractor attention mask through the conv length formula",
                "frame_seconds": self.frame_seconds,
                "batching": "one clip at a time ("
                + ("group-norm feature encoder" if group_norm else "stacked positional convs")
                + ")"
                if self.one_at_a_time
                else "batched with the attention mask",
            },
        )

    def forward(self, batch: BatchInputs) -> dict[str, LayerStates]:
        if self.one_at_a_time and batch.audio is not None and len(batch.audio) > 1:
            one = super().forward  # each clip alone (a group norm spans the whole clip)
            return pad_items([one(dataclasses.replace(batch, audio=[a])) for a in batch.audio])
        return super().forward(batch)

    def replay_prefix(self, modality, stack=None) -> list[nn.Module]:
        """What steered passes replay before the layers: the conv feature encoder and the
        convolutional position embedding (where the model has them)."""
        self.resolve_stack(modality, stack)
        parts = (
            getattr(self.model, "feature_extractor", None),
            getattr(getattr(self.model, "encoder", None), "pos_conv_embed", None),
        )
        return [part for part in parts if isinstance(part, nn.Module)]

    def _encoder_speech(self, batch: BatchInputs) -> dict[str, Positions]:
        audio = [np.asarray(a, dtype=np.float32).reshape(-1) for a in batch.audio]
        for i, clip in enumerate(audio):
            if clip.size < self.min_samples:
                raise ValueError(
                    f"{self.model_id}: batch item {i} has {clip.size} samples; the conv feature "
                    f"encoder needs at least {self.min_samples} ({self.min_samples / SAMPLE_RATE * 1000:.0f} ms)"
                )
        enc = self.feature_extractor(
            audio,
            sampling_rate=SAMPLE_RATE,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        samples = enc["attention_mask"]
        weight_dtype = next(self.model.parameters()).dtype
        self.model(
            enc["input_values"].to(self.device, weight_dtype),
            attention_mask=samples.to(self.device),
        )
        lengths = conv_lengths(self.model, samples.sum(-1))
        width = int(conv_lengths(self.model, torch.tensor([samples.shape[1]]))[0])
        mask = lengths_to_mask(lengths, width)
        return same_positions(self._tables["encoder"], mask, frame_seconds=self.frame_seconds)


def load_speech_encoder(
    source: str, model_id: str, revision=None, device="cpu", settings=None, **kw
) -> SpeechEncoderAdapter:
    from transformers import AutoFeatureExtractor, AutoModel

    merged = merge_settings("speech-encoder", DEFAULTS, settings)
    model = load_checked(
        AutoModel,
        source,
        optional=("masked_spec_embed",),  # used only for training-time masking
        revision=revision,
        dtype=torch_dtype("speech-encoder", merged["dtype"]),
        device=device,
        device_map=merged.get("device_map"),
        **kw,
    )
    feature_extractor = AutoFeatureExtractor.from_pretrained(source, revision=revision)
    adapter = SpeechEncoderAdapter(model, feature_extractor, model_id, settings)
    adapter.device = input_device(model) if merged.get("device_map") else adapter.device
    return adapter


FAMILY = register_family(
    Family(
        name="speech-encoder",
        description="Self-supervised speech encoders (wav2vec2, HuBERT, WavLM, data2vec-audio, "
        "...): 20 ms frames from the conv feature encoder's length formula",
        version=ADAPTER_VERSION,
        stacks={
            "encoder": Stack(
                ("speech",),
                layers=N_LAYERS + " (embeddings: projected conv features + positional conv)",
            )
        },
        load=load_speech_encoder,
        defaults=DEFAULTS,
        model_types=(
            "wav2vec2",
            "wav2vec2-conformer",
            "hubert",
            "wavlm",
            "data2vec-audio",
            "unispeech",
            "unispeech-sat",
        ),  # fmt: skip
        architectures=(
            "Wav2Vec2Model",
            "Wav2Vec2ForCTC",
            "HubertModel",
            "WavLMModel",
            "Data2VecAudioModel",
        ),  # fmt: skip
    )
)

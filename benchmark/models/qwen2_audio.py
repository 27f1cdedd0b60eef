"""Qwen2-Audio: audio and text through one language model (the in-library analogue of SALMONN).

Stacks:
- `audio_encoder` (speech): the Whisper-style audio tower on 30 s log-mel windows (128 bins), with
  the padded frames masked out of attention as Qwen2AudioModel does. Layers: "embeddings" (input of
  layer 1: convolutions + positions), "layer_1".."layer_N" (0.02 s per position), and "pooled"
  (the tower's output after its stride-2 average pooling and final norm: 0.04 s per position,
  what the projector hands the language model).
- `language_model` (text and speech): the LM. Text is written into `prompt_template` (as for
  decoder LMs; mask: every real non-special token, char spans on the text's own tokens). Speech is
  written into `speech_template` ("{audio}" becomes the clip's audio positions, one per 40 ms, as
  Qwen2AudioProcessor expands `<|AUDIO|>`); the mask covers the audio positions only. Layers:
  "embeddings" (input of layer 1: the token embeddings with the projected audio in place) and
  "layer_1".."layer_N". The output head is the LM's unembedding after its final norm.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmark.models.base import SAMPLE_RATE, AdapterInfo, BatchInputs, OutputHead
from benchmark.models.common import (
    LayeredAdapter,
    layer_table,
    load_checked,
    merge_settings,
    same_positions,
    torch_dtype,
)
from benchmark.models.decoder_lm import (
    check_template,
    encode_prompts,
    find_decoder_parts,
    lm_head,
    token_limit,
)
from benchmark.models.family import N_LAYERS, Family, Stack
from benchmark.models.hooks import Positions, Tap, lengths_to_mask
from benchmark.models.registry import register_family

ADAPTER_VERSION = "1"
STACKS = {"audio_encoder": ("speech",), "language_model": ("text", "speech")}
DEFAULTS = {
    "prompt_template": "{text}",
    "speech_template": "<|audio_bos|>{audio}<|audio_eos|>",
    "add_special_tokens": True,
    "dtype": "float32",
}
FRAME_SECONDS = 0.02  # audio tower frames: mel hop 10 ms x conv2 stride 2


def check_settings(merged: dict) -> None:
    check_template("qwen2_audio", merged["prompt_template"])
    if merged["speech_template"].count("{audio}") != 1:
        raise ValueError(
            "qwen2_audio adapter settings: speech_template must hold {audio} exactly once, got "
            f"{merged['speech_template']!r}"
        )


class Qwen2AudioAdapter(LayeredAdapter):
    stacks = STACKS

    def __init__(self, model, processor, model_id: str, settings=None):
        super().__init__()
        self.settings = merge_settings("qwen2_audio", DEFAULTS, settings)
        check_settings(self.settings)
        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.feature_extractor = processor.feature_extractor
        self.model_id = model_id
        inner = getattr(model, "model", model)  # transformers 5: the parts sit in .model
        self.inner = inner
        self.tower = inner.audio_tower
        self.projector = inner.multi_modal_projector
        self.lm, lm_path, lm_layers, self.final_norm = find_decoder_parts(inner.language_model)
        self.audio_token_id = int(model.config.audio_token_id)
        self.device = self.lm.get_input_embeddings().weight.device
        self.limit = token_limit(model.config.text_config)
        conv = self.tower.conv1.stride[0] * self.tower.conv2.stride[0]
        self.window_frames = self.tower.config.max_source_positions * conv  # mel frames
        hop = getattr(self.feature_extractor, "hop_length", 160)
        self.max_samples = self.window_frames * hop

        audio_tap, lm_tap = Tap(), Tap()
        audio = layer_table(audio_tap, self.tower.layers)
        audio["pooled"] = self.tower.layer_norm
        self._tables = {"audio_encoder": audio, "language_model": layer_table(lm_tap, lm_layers)}
        self._taps = {
            "audio_encoder": [(audio_tap, self.tower.layers[0])],
            "language_model": [(lm_tap, lm_layers[0])],
        }
        self._runners = {
            ("audio_encoder", "speech"): self._audio_encoder_speech,
            ("language_model", "text"): self._lm_text,
            ("language_model", "speech"): self._lm_speech,
        }
        self._heads = {"language_model": self._head}
        self.info = AdapterInfo(
            family="qwen2_audio",
            adapter_version=ADAPTER_VERSION,
            settings={
                **self.settings,
                "attn_implementation": getattr(model.config, "_attn_implementation", None),
                "audio_layers": "audio tower; embeddings = input of layer 1; pooled = after the "
                "stride-2 average pooling and final norm",
                "audio_mask": "feature-extractor attention mask through the conv length formula",
                "lm_layers": f"{type(self.lm).__name__}.{lm_path}; embeddings = input of layer 1",
                "lm_speech_mask": "the audio positions (one per 40 ms)",
                "lm_text_mask": "every real token of the prompt but special tokens",
                "window": "30 s log-mel window per clip, as Qwen2AudioProcessor pads",
            },
        )

    # --- audio ------------------------------------------------------------------------------

    def _features(self, batch: BatchInputs):
        audio = [np.asarray(a, dtype=np.float32).reshape(-1) for a in batch.audio]
        for i, clip in enumerate(audio):
            if clip.size == 0 or clip.size > self.max_samples:
                raise ValueError(
                    f"{self.model_id}: batch item {i} has {clip.size / SAMPLE_RATE:.2f} s of audio; "
                    f"Qwen2-Audio's encoder takes 0 < duration <= "
                    f"{self.max_samples / SAMPLE_RATE:.0f} s (split longer clips)"
                )
        enc = self.feature_extractor(
            audio,
            sampling_rate=SAMPLE_RATE,
            return_attention_mask=True,
            padding="max_length",
            return_tensors="pt",
        )
        weight = self.tower.conv1.weight
        features = enc["input_features"].to(weight.device, weight.dtype)
        feature_mask = enc["attention_mask"].to(weight.device)
        frames, tokens = self.tower._get_feat_extract_output_lengths(feature_mask.sum(-1))
        return features, feature_mask, frames.cpu(), tokens.cpu()

    def _audio_encoder_speech(self, batch: BatchInputs) -> dict[str, Positions]:
        from transformers.masking_utils import create_bidirectional_mask

        features, _, frames, tokens = self._features(batch)
        width = self.tower.config.max_source_positions
        frame_mask = lengths_to_mask(frames, width)
        dummy = torch.zeros((len(frames), width, 1), dtype=features.dtype, device=features.device)
        attention = create_bidirectional_mask(
            config=self.tower.config,
            inputs_embeds=dummy,
            attention_mask=frame_mask.long().to(features.device),
        )
        self.tower(features, attention_mask=attention)
        positions = same_positions(self._tables["audio_encoder"], frame_mask, FRAME_SECONDS)
        positions["pooled"] = Positions(lengths_to_mask(tokens, width // 2), 2 * FRAME_SECONDS)
        return positions

    def _lm_speech(self, batch: BatchInputs) -> dict[str, Positions]:
        features, feature_mask, _, tokens = self._features(batch)
        before, after = self.settings["speech_template"].split("{audio}")
        head = self.tokenizer(before, add_special_tokens=False).input_ids if before else []
        tail = self.tokenizer(after, add_special_tokens=False).input_ids if after else []
        rows = [[*head, *([self.audio_token_id] * int(n)), *tail] for n in tokens]
        width = max(map(len, rows))
        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else (self.tokenizer.eos_token_id or 0)
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            attention[i, : len(row)] = 1
        self.inner(
            input_ids=input_ids.to(self.device),
            attention_mask=attention.to(self.device),
            input_features=features,
            feature_attention_mask=feature_mask,
            use_cache=False,
        )
        mask = (input_ids == self.audio_token_id) & attention.bool()
        return same_positions(self._tables["language_model"], mask, 2 * FRAME_SECONDS)

    # --- text -------------------------------------------------------------------------------

    def _lm_text(self, batch: BatchInputs) -> dict[str, Positions]:
        input_ids, attention, mask, char_spans = encode_prompts(
            self.tokenizer,
            list(batch.texts),
            self.settings["prompt_template"],
            self.settings["add_special_tokens"],
            self.limit,
            self.model_id,
        )
        self.lm(
            input_ids=input_ids.to(self.device),
            attention_mask=attention.to(self.device),
            use_cache=False,
        )
        return same_positions(self._tables["language_model"], mask, char_spans=char_spans)

    def replay_prefix(self, modality, stack=None) -> list:
        """What steered passes replay before the layers: the tower's convolutions (audio
        encoder), the whole audio tower (the language model over speech)."""
        stack = self.resolve_stack(modality, stack)
        if stack == "audio_encoder":
            return [self.tower.conv1, self.tower.conv2]
        return [self.tower] if modality == "speech" else []

    def _head(self) -> OutputHead | None:
        return lm_head(self.model, self.model.config.text_config, self.final_norm, self.tokenizer)


def load_qwen2_audio(
    source: str, model_id: str, revision=None, device="cpu", settings=None, **kw
) -> Qwen2AudioAdapter:
    from transformers import AutoProcessor, Qwen2AudioForConditionalGeneration

    merged = merge_settings("qwen2_audio", DEFAULTS, settings)
    check_settings(merged)
    model = load_checked(
        Qwen2AudioForConditionalGeneration,
        source,
        revision=revision,
        dtype=torch_dtype("qwen2_audio", merged["dtype"]),
        device=device,
        device_map=merged.get("device_map"),
        **kw,
    )
    processor = AutoProcessor.from_pretrained(source, revision=revision)
    return Qwen2AudioAdapter(model, processor, model_id, settings)


FAMILY = register_family(
    Family(
        name="qwen2_audio",
        description="Qwen2-Audio: audio and text through one language model (the in-library "
        "analogue of SALMONN): the Whisper-style audio encoder, and the LM over a prompt with the "
        "audio's positions (speech) or the text (text)",
        version=ADAPTER_VERSION,
        stacks={
            "audio_encoder": Stack(
                ("speech",),
                layers=N_LAYERS + ", pooled (after the stride-2 pooling and final norm)",
            ),
            "language_model": Stack(
                ("text", "speech"),
                head=True,
                layers=N_LAYERS + " (speech: the audio positions inside the prompt)",
            ),
        },
        load=load_qwen2_audio,
        defaults=DEFAULTS,
        model_types=("qwen2_audio",),
        architectures=("Qwen2AudioForConditionalGeneration",),
        check_settings=check_settings,
    )
)

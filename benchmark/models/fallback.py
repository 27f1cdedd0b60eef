"""The fallback for architectures no family covers: the Auto class for the config, and every layer
from `output_hidden_states`.

It guesses, and says so in a warning when the model is planned and in the result's adapter
settings: the modality (speech if transformers lists the model type among its CTC, audio
classification, audio frame classification, x-vector or speech-to-text types; else text), the Auto
class (AutoModel; an encoder-decoder model is read through its encoder only), the tokenizer or
feature extractor, and the layers: entry 0 of `hidden_states` is named "hidden_states_0" (the
embeddings, usually) and entry i "hidden_states_i". Two facts of `output_hidden_states` hold here
(see the stack notes): the last entry is the model's final output, after its final norm, and for
some encoders it is shorter than the others (after a length adaptor or pooling); each entry gets a
mask of its own length (the attention mask through the conv length formula for speech when the
model has one; all positions when an entry's length matches nothing known, with a warning).
The fallback's layers are not module outputs, so `layer_module` refuses: steering needs a family
adapter or a custom one (docs/models.md).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from benchmark.models.base import SAMPLE_RATE, AdapterInfo, BatchInputs, LayerStates
from benchmark.models.common import load_checked, merge_settings, torch_dtype
from benchmark.models.family import Family, Stack
from benchmark.models.hooks import lengths_to_mask
from benchmark.models.registry import register_family

log = logging.getLogger(__name__)
ADAPTER_VERSION = "1"
DEFAULTS = {"dtype": "float32", "max_length": 512}
LAYERS = "hidden_states_0 .. hidden_states_N (the Auto model's own hidden states)"


def guess_modality(config) -> tuple[str, str]:
    """(modality, why) for a config no family covers."""
    from transformers.models.auto import modeling_auto as auto

    model_type = getattr(config, "model_type", "")
    for table in (
        "MODEL_FOR_CTC_MAPPING_NAMES",
        "MODEL_FOR_AUDIO_CLASSIFICATION_MAPPING_NAMES",
        "MODEL_FOR_AUDIO_FRAME_CLASSIFICATION_MAPPING_NAMES",
        "MODEL_FOR_AUDIO_XVECTOR_MAPPING_NAMES",
        "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES",
    ):
        if model_type in getattr(auto, table, {}):
            return "speech", f"transformers lists {model_type!r} in {table}"
    return "text", f"{model_type!r} is in none of transformers' speech model tables"


def plan_stacks(model_id: str, config) -> dict[str, Stack]:
    """The fallback's one stack, named "model", with the guessed modality (and the warning)."""
    modality, why = guess_modality(config)
    encoder_decoder = bool(getattr(config, "is_encoder_decoder", False))
    log.warning(
        "%s: no adapter family for model_type %r; using the generic fallback. Guessed: modality "
        "%s (%s); AutoModel%s; layers = output_hidden_states (the last entry is the final output, "
        "post-norm; each entry masked at its own length); no hookable layer modules. Write an "
        "adapter (docs/models.md) for exact layers.",
        model_id,
        getattr(config, "model_type", None),
        modality,
        why,
        " (encoder only)" if encoder_decoder else "",
    )
    return {"model": Stack((modality,), layers=LAYERS)}


class FallbackAdapter:
    """Any AutoModel through `output_hidden_states` (see the module docstring)."""

    def __init__(self, model, processor, model_id: str, modality: str, settings=None):
        self.settings = merge_settings("auto", DEFAULTS, settings)
        self.model = model.eval()
        self.processor = processor
        self.model_id = model_id
        self.device = next(model.parameters()).device
        self.stacks = {"model": (modality,)}
        self.modalities = (modality,)
        self.encoder_only = bool(getattr(model.config, "is_encoder_decoder", False))
        self.reader = model.get_encoder() if self.encoder_only else model
        self._names: list[str] | None = None
        _, why = guess_modality(model.config)
        self.info = AdapterInfo(
            family="auto",
            adapter_version=ADAPTER_VERSION,
            settings={
                **self.settings,
                "model_type": getattr(model.config, "model_type", None),
                "auto_class": type(model).__name__,
                "guessed_modality": f"{modality} ({why})",
                "read": "encoder only" if self.encoder_only else "whole model",
                "layers": "output_hidden_states: hidden_states_0 (embeddings) .. hidden_states_N "
                "(final output, post-norm)",
                "layer_modules": "none (output_hidden_states are not module outputs)",
            },
        )

    def default_stack(self, modality: str) -> str:
        self._check(modality)
        return "model"

    def _check(self, modality: str, stack: str | None = None) -> None:
        if modality not in self.modalities:
            raise ValueError(
                f"{self.model_id} (auto) has no {modality!r} modality; it has "
                f"{', '.join(self.modalities)} (guessed from its config)"
            )
        if stack not in (None, "model"):
            raise KeyError(f"{self.model_id} (auto): the fallback has one stack, 'model'")

    def layer_names(self, modality: str, stack: str | None = None) -> list[str]:
        self._check(modality, stack)
        if self._names is None:
            n = getattr(self.model.config, "num_hidden_layers", None)
            if n is None:  # learn it from one forward pass
                probe = "hello" if modality == "text" else np.zeros(SAMPLE_RATE, np.float32)
                key = "texts" if modality == "text" else "audio"
                self.forward(BatchInputs(modality, "en_us", **{key: [probe]}))
            else:
                self._names = [f"hidden_states_{i}" for i in range(n + 1)]
        return list(self._names)

    def layer_module(self, modality: str, name: str, stack: str | None = None) -> nn.Module:
        raise NotImplementedError(
            f"{self.model_id}: the generic fallback reads output_hidden_states, which are not each "
            f"a module's output, so layer {name!r} has no module to hook; use a family adapter or "
            "write one (docs/models.md)"
        )

    def output_head(self, stack: str | None = None):
        return None

    def forward(self, batch: BatchInputs) -> dict[str, LayerStates]:
        self._check(batch.modality, batch.stack)
        with torch.inference_mode():
            if batch.modality == "text":
                enc, lengths = self._text_inputs(batch)
            else:
                enc, lengths = self._speech_inputs(batch)
            out = self.reader(**enc, output_hidden_states=True)
            hidden = out.hidden_states
            states = {}
            for i, h in enumerate(hidden):
                mask = self._mask_for(h.shape[1], lengths, i)
                h = h.clone().masked_fill_(~mask.to(h.device)[..., None], 0.0)
                states[f"hidden_states_{i}"] = LayerStates(h, mask.to(h.device))
        self._names = list(states)
        return states

    def _text_inputs(self, batch: BatchInputs):
        for i, text in enumerate(batch.texts):
            if not text or not text.strip():
                raise ValueError(f"{self.model_id}: batch item {i} is an empty text")
        enc = self.processor(
            list(batch.texts),
            padding=True,
            truncation=True,
            max_length=self.settings["max_length"],
            return_tensors="pt",
        )
        enc = {k: v.to(self.device) for k, v in enc.items() if k in ("input_ids", "attention_mask")}
        return enc, {"tokens": enc["attention_mask"].sum(1).cpu()}

    def _speech_inputs(self, batch: BatchInputs):
        audio = [np.asarray(a, dtype=np.float32).reshape(-1) for a in batch.audio]
        enc = self.processor(
            audio,
            sampling_rate=SAMPLE_RATE,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        dtype = next(self.model.parameters()).dtype
        enc = {k: v.to(self.device) for k, v in enc.items()}
        enc = {k: v.to(dtype) if v.is_floating_point() else v for k, v in enc.items()}
        lengths = {}
        samples = enc.get("attention_mask")
        if samples is not None and hasattr(self.model, "_get_feat_extract_output_lengths"):
            lengths["frames"] = self.model._get_feat_extract_output_lengths(samples.sum(-1)).cpu()
        return enc, lengths

    def _mask_for(self, width: int, lengths: dict, index: int) -> torch.Tensor:
        for found in lengths.values():
            if int(found.max()) == width:
                return lengths_to_mask(found, width)
        n = len(next(iter(lengths.values()))) if lengths else None
        if n is None:
            raise RuntimeError(f"{self.model_id}: no input lengths to mask hidden states with")
        log.warning(
            "%s: hidden_states_%d has %d positions, matching no known input length; all are "
            "masked in",
            self.model_id,
            index,
            width,
        )
        return torch.ones((n, width), dtype=torch.bool)


def load_fallback(source: str, model_id: str, revision=None, device="cpu", settings=None, **kw):
    from transformers import AutoConfig, AutoFeatureExtractor, AutoModel, AutoTokenizer

    merged = merge_settings("auto", DEFAULTS, settings)
    remote = {"trust_remote_code": True} if kw.get("trust_remote_code") else {}
    config = AutoConfig.from_pretrained(source, revision=revision, **remote)
    modality, _ = guess_modality(config)
    model = load_checked(
        AutoModel,
        source,
        revision=revision,
        dtype=torch_dtype("auto", merged["dtype"]),
        device=device,
        device_map=merged.get("device_map"),
        **kw,
    )
    loader = AutoTokenizer if modality == "text" else AutoFeatureExtractor
    try:
        processor = loader.from_pretrained(source, revision=revision, **remote)
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{model_id}: the fallback guessed modality {modality} but found no "
            f"{'tokenizer' if modality == 'text' else 'feature extractor'} ({err})"
        ) from None
    return FallbackAdapter(model, processor, model_id, modality, settings)


def _auto_model(config) -> bool:
    """Anything transformers' AutoModel can build (tried after every other family)."""
    from transformers.models.auto.modeling_auto import MODEL_MAPPING_NAMES

    return getattr(config, "model_type", None) in MODEL_MAPPING_NAMES


FAMILY = register_family(
    Family(
        name="auto",
        description="Fallback for other architectures: AutoModel for the config (an "
        "encoder-decoder's encoder), every layer from `output_hidden_states` (no hookable layer "
        "modules), the modality guessed from the config (speech for transformers' speech model "
        "types, else text); a warning names what it guessed",
        version=ADAPTER_VERSION,
        stacks={"model": Stack(("text", "speech"), layers=LAYERS)},
        load=load_fallback,
        defaults=DEFAULTS,
        accepts=_auto_model,
        priority=100,
        plan_stacks=plan_stacks,
    )
)

"""Text encoders (BERT, RoBERTa, XLM-R, e5, DistilBERT, ...): any AutoModel with a list of layers.

Layers: "embeddings" (the input of the first layer = the embeddings module's output) and
"layer_1".."layer_N" (each layer's raw output). The mask is the tokenizer's attention mask (special
tokens included unless `pool_special_tokens=False`).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from benchmark.models.base import AdapterInfo, BatchInputs, Modality
from benchmark.models.common import (
    LayeredAdapter,
    layer_table,
    load_checked,
    merge_settings,
    torch_dtype,
)
from benchmark.models.hooks import Tap

log = logging.getLogger(__name__)

ADAPTER_VERSION = "1"
DEFAULTS = {
    "prefix": "",  # e.g. "query: " for e5 models
    "max_length": 512,  # tokens; longer texts are truncated (and logged)
    "pool_special_tokens": True,  # False: mask out [CLS]/[SEP]/<s>/</s>
    "dtype": "float32",
}
# Where encoder families keep their layer list, tried in order.
LAYER_PATHS = ("encoder.layer", "encoder.layers", "transformer.layer", "layers", "layer")


def find_layers(model: nn.Module) -> tuple[str, nn.ModuleList]:
    for path in LAYER_PATHS:
        module: object = model
        for part in path.split("."):
            module = getattr(module, part, None)
        if isinstance(module, nn.ModuleList) and len(module) > 0:
            return path, module
    raise ValueError(
        f"{type(model).__name__} has no layer list at any of {', '.join(LAYER_PATHS)}; "
        f"it is not a text encoder this adapter supports"
    )


def _token_limit(model: nn.Module, tokenizer) -> int:
    """How many tokens the model takes: the tokenizer's model_max_length when it sets one (512 for
    BERT/XLM-R even though RoBERTa-style position tables hold 514), else the position table less
    2 (RoBERTa-style models start positions after the padding index)."""
    limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(limit, int) and 0 < limit < 1_000_000:
        return limit
    positions = getattr(model.config, "max_position_embeddings", None)
    return positions - 2 if isinstance(positions, int) and positions > 2 else 1_000_000


class TextEncoderAdapter(LayeredAdapter):
    modalities: tuple[Modality, ...] = ("text",)

    def __init__(self, model, tokenizer, model_id: str, settings=None):
        super().__init__()
        self.settings = merge_settings("text-encoder", DEFAULTS, settings)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = next(model.parameters()).device
        path, layers = find_layers(model)
        self.max_length = min(self.settings["max_length"], _token_limit(model, tokenizer))
        tap = Tap()
        self._tables = {"text": layer_table(tap, layers)}
        self._taps = {"text": [(tap, layers[0])]}
        self.info = AdapterInfo(
            family="text-encoder",
            adapter_version=ADAPTER_VERSION,
            settings={
                **self.settings,
                "max_length": self.max_length,
                "truncation": True,
                "model_type": getattr(model.config, "model_type", None),
                "layers_at": path,
                "attn_implementation": getattr(model.config, "_attn_implementation", None),
                "mask": "attention mask"
                + ("" if self.settings["pool_special_tokens"] else " minus special tokens"),
            },
        )

    def _forward_text(self, batch: BatchInputs) -> dict[str, torch.Tensor]:
        texts = [self.settings["prefix"] + t for t in batch.texts]
        for i, text in enumerate(batch.texts):
            if not text or not text.strip():
                raise ValueError(f"{self.model_id}: batch item {i} is an empty text")
        enc = self.tokenizer(
            texts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            return_special_tokens_mask=True,
        )
        special = enc.pop("special_tokens_mask").bool()
        mask = enc["attention_mask"].bool()
        if mask.shape[1] >= self.max_length:
            full = self.tokenizer(texts, add_special_tokens=True).input_ids
            cut = [i for i, ids in enumerate(full) if len(ids) > self.max_length]
            if cut:
                log.warning(
                    "%s: truncated %d texts to %d tokens", self.model_id, len(cut), self.max_length
                )
        if not self.settings["pool_special_tokens"]:
            mask = mask & ~special
        self.model(**{k: v.to(self.device) for k, v in enc.items()})
        return dict.fromkeys(self._tables["text"], mask)


def load_text_encoder(
    source: str, model_id: str, revision=None, device="cpu", settings=None, **kw
) -> TextEncoderAdapter:
    from transformers import AutoModel, AutoTokenizer

    merged = merge_settings("text-encoder", DEFAULTS, settings)
    dtype = torch_dtype("text-encoder", merged["dtype"])
    # the pooler is not among the layers read; converted checkpoints may leave it out
    model = load_checked(
        AutoModel, source, optional=("pooler.",), revision=revision, dtype=dtype, **kw
    ).to(device)
    tokenizer_kw = {"trust_remote_code": True} if kw.get("trust_remote_code") else {}
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, **tokenizer_kw)
    return TextEncoderAdapter(model, tokenizer, model_id, settings)

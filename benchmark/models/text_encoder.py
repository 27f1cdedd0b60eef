"""Text encoders (BERT, RoBERTa, XLM-R, e5, DistilBERT, ...): any AutoModel with a list of layers.

One stack, `encoder` (text). Layers: "embeddings" (the input of the first layer = the embeddings
module's output) and "layer_1".."layer_N" (each layer's raw output). The mask is the tokenizer's
attention mask (special tokens included unless `pool_special_tokens=False`). The `prefix` setting
(e5's "query: ", LaBSE and MiniLM need none) is written before each text; its tokens are masked in
like the text's, and their character spans are (-1, -1).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from benchmark.models.base import AdapterInfo, BatchInputs
from benchmark.models.common import (
    LayeredAdapter,
    input_device,
    layer_table,
    load_checked,
    merge_settings,
    same_positions,
    torch_dtype,
)
from benchmark.models.family import Family, Stack
from benchmark.models.hooks import Positions, Tap
from benchmark.models.registry import register_family
from benchmark.models.spans import Formatted, spans_of

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
    stacks = {"encoder": ("text",)}

    def __init__(self, model, tokenizer, model_id: str, settings=None):
        super().__init__()
        self.settings = merge_settings("text-encoder", DEFAULTS, settings)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = input_device(model)
        path, layers = find_layers(model)
        self.max_length = min(self.settings["max_length"], _token_limit(model, tokenizer))
        tap = Tap()
        self._tables = {"encoder": layer_table(tap, layers)}
        self._taps = {"encoder": [(tap, layers[0])]}
        self._runners = {("encoder", "text"): self._encoder_text}
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

    def _encoder_text(self, batch: BatchInputs) -> dict[str, Positions]:
        formatted = [Formatted.around(t, before=self.settings["prefix"]) for t in batch.texts]
        texts = [f.string for f in formatted]
        for i, text in enumerate(batch.texts):
            if not text or not text.strip():
                raise ValueError(f"{self.model_id}: batch item {i} is an empty text")
        kwargs = {
            "padding": True,
            "truncation": True,
            "max_length": self.max_length,
            "return_tensors": "pt",
            "return_special_tokens_mask": True,
        }
        try:
            enc = self.tokenizer(texts, return_offsets_mapping=True, **kwargs)
        except (NotImplementedError, TypeError, ValueError):  # a slow tokenizer: no offsets
            enc = self.tokenizer(texts, **kwargs)
        offsets = enc.pop("offset_mapping", None)
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
        char_spans = None
        if offsets is not None:
            char_spans = torch.tensor(
                [spans_of(f, off.tolist()) for f, off in zip(formatted, offsets, strict=True)],
                dtype=torch.int64,
            ).reshape(*mask.shape, 2)
            char_spans[special] = -1  # special tokens have empty offsets; padding too
        self.model(**{k: v.to(self.device) for k, v in enc.items()})
        return same_positions(self._tables["encoder"], mask, char_spans=char_spans)


def load_text_encoder(
    source: str, model_id: str, revision=None, device="cpu", settings=None, **kw
) -> TextEncoderAdapter:
    from transformers import AutoModel, AutoTokenizer

    merged = merge_settings("text-encoder", DEFAULTS, settings)
    dtype = torch_dtype("text-encoder", merged["dtype"])
    # the pooler is not among the layers read; converted checkpoints may leave it out
    model = load_checked(
        AutoModel,
        source,
        optional=("pooler.",),
        revision=revision,
        dtype=dtype,
        device=device,
        device_map=merged.get("device_map"),
        **kw,
    )
    tokenizer_kw = {"trust_remote_code": True} if kw.get("trust_remote_code") else {}
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, **tokenizer_kw)
    return TextEncoderAdapter(model, tokenizer, model_id, settings)


def _masked_lm_encoder(config) -> bool:
    """Other encoder-only masked-LM model types are text encoders too."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    encoder_only = not getattr(config, "is_encoder_decoder", False) and not getattr(
        config, "is_decoder", False
    )
    return getattr(config, "model_type", None) in MODEL_FOR_MASKED_LM_MAPPING_NAMES and encoder_only


FAMILY = register_family(
    Family(
        name="text-encoder",
        description="BERT-style text encoders (BERT, RoBERTa, XLM-R, LaBSE, e5, MiniLM, "
        "DistilBERT, ...; `prefix` setting for e5's 'query: '); other encoder-only masked-LM model "
        "types are routed here automatically",
        version=ADAPTER_VERSION,
        stacks={"encoder": Stack(("text",))},
        load=load_text_encoder,
        defaults=DEFAULTS,
        model_types=(
            "bert",
            "roberta",
            "xlm-roberta",
            "xlm-roberta-xl",
            "distilbert",
            "camembert",
            "electra",
        ),  # fmt: skip
        architectures=("BertModel", "RobertaModel", "XLMRobertaModel", "DistilBertModel"),
        accepts=_masked_lm_encoder,
        priority=0,
    )
)

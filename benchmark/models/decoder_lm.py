"""Decoder language models (Llama, Qwen2/3, Gemma, Mistral, Phi-3, GPT-2, ...): text through the
decoder stack, read inside a prompt template.

One stack, `decoder` (text). Each text is written into the `prompt_template` setting (default
"{text}"; the semantic-hub study reads "{text} This represents" at its last token) and tokenized
with the tokenizer's own special tokens (Llama's and Gemma's BOS). Layers: "embeddings" (the input
of layer 1: token embeddings, scaled where the model scales them) and "layer_1".."layer_N" (each
decoder layer's raw output; the final norm is not a layer: the output head applies it). The mask
covers every real token but the special ones (the BOS attention sink would dominate a mean), so
the template's words count: `pooling=last` reads the template's last token, `pooling=mean` the
mean over template and text (use the bare "{text}" template for the text alone). Char spans mark
the text's own tokens. Padding is on the right, so positions are those of the prompt alone.

Pooling is chosen per model with the common `pooling` setting (last or mean), not only per task.
The output head is the model's unembedding (W_U) after its final norm, with Gemma 2's logit
softcapping where the config sets it.
"""

from __future__ import annotations

import torch
from torch import nn

from benchmark.models.base import AdapterInfo, BatchInputs, OutputHead
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
from benchmark.models.hooks import Positions, Tap
from benchmark.models.registry import register_family
from benchmark.models.spans import Formatted, spans_of, spans_tensor

ADAPTER_VERSION = "1"
DEFAULTS = {
    "prompt_template": "{text}",  # must hold {text} once, e.g. "{text} This represents"
    "add_special_tokens": True,  # the tokenizer's own (BOS for Llama and Gemma)
    "dtype": "float32",
}
LAYER_PATHS = ("layers", "h", "decoder.layers", "blocks", "layer")
NORM_PATHS = ("norm", "ln_f", "final_layernorm", "final_layer_norm", "decoder.final_layer_norm")


def _attr(module: nn.Module, path: str):
    for part in path.split("."):
        module = getattr(module, part, None)
        if module is None:
            return None
    return module


def find_decoder_parts(model: nn.Module) -> tuple[nn.Module, str, nn.ModuleList, nn.Module | None]:
    """(the base model without the LM head, where its layers are, the layers, the final norm)."""
    base = getattr(model, "base_model", model)
    for path in LAYER_PATHS:
        layers = _attr(base, path)
        if isinstance(layers, nn.ModuleList) and len(layers) > 0:
            norm = next((n for p in NORM_PATHS if (n := _attr(base, p)) is not None), None)
            return base, path, layers, norm
    raise ValueError(
        f"{type(model).__name__} has no decoder layer list at any of {', '.join(LAYER_PATHS)}; "
        "it is not a decoder language model this adapter supports (see docs/models.md for a "
        "custom adapter)"
    )


def check_template(family: str, template: str) -> None:
    if template.count("{text}") != 1:
        raise ValueError(
            f"{family} adapter settings: prompt_template must hold {{text}} exactly once, "
            f"got {template!r}"
        )


def encode_prompts(tokenizer, texts, template: str, add_special_tokens: bool, limit: int, who: str):
    """Right-padded ids of each text inside `template`: (input_ids, attention_mask, the mask of
    non-special real tokens, char spans [B, T, 2] of the text's own tokens or None)."""
    for i, text in enumerate(texts):
        if not text or not text.strip():
            raise ValueError(f"{who}: batch item {i} is an empty text")
    formatted = [Formatted.template(template, t) for t in texts]
    kwargs = {"add_special_tokens": add_special_tokens, "return_special_tokens_mask": True}
    try:
        enc = tokenizer([f.string for f in formatted], return_offsets_mapping=True, **kwargs)
    except (NotImplementedError, TypeError, ValueError):  # a slow tokenizer: no offsets
        enc = tokenizer([f.string for f in formatted], **kwargs)
    rows, special = enc["input_ids"], enc["special_tokens_mask"]
    for i, row in enumerate(rows):
        if len(row) > limit:
            raise ValueError(
                f"{who}: batch item {i} has {len(row)} tokens in its prompt; the model holds at "
                f"most {limit} (shorten or split the text)"
            )
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id
    if pad is None:
        pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (row, flags) in enumerate(zip(rows, special, strict=True)):
        input_ids[i, : len(row)] = torch.tensor(row)
        attention[i, : len(row)] = 1
        mask[i, : len(row)] = ~torch.tensor(flags, dtype=torch.bool)
    char_spans = None
    if "offset_mapping" in enc:
        spans = [
            [s if not flag else (-1, -1) for s, flag in zip(spans_of(f, off), flags, strict=True)]
            for f, off, flags in zip(formatted, enc["offset_mapping"], special, strict=True)
        ]
        char_spans = spans_tensor(spans, width)
    return input_ids, attention, mask, char_spans


def check_settings(merged: dict) -> None:
    check_template("decoder-lm", merged["prompt_template"])


def token_limit(config) -> int:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return 1_000_000


def lm_head(model: nn.Module, config, base_norm: nn.Module | None, tokenizer) -> OutputHead | None:
    """The output head of a causal LM: its output embeddings (W_U, bias) after the final norm."""
    try:
        head = model.get_output_embeddings()
    except (AttributeError, NotImplementedError):
        head = None
    if head is None or not isinstance(getattr(head, "weight", None), torch.Tensor):
        return None
    softcap = getattr(config, "final_logit_softcapping", None)
    return OutputHead(head.weight, base_norm, tokenizer, getattr(head, "bias", None), softcap)


class DecoderLMAdapter(LayeredAdapter):
    stacks = {"decoder": ("text",)}

    def __init__(self, model, tokenizer, model_id: str, settings=None):
        super().__init__()
        self.settings = merge_settings("decoder-lm", DEFAULTS, settings)
        check_template("decoder-lm", self.settings["prompt_template"])
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = input_device(model)
        self.base, path, layers, self.final_norm = find_decoder_parts(model)
        self.limit = token_limit(model.config)
        tap = Tap()
        self._tables = {"decoder": layer_table(tap, layers)}
        self._taps = {"decoder": [(tap, layers[0])]}
        self._runners = {("decoder", "text"): self._decoder_text}
        self._heads = {"decoder": self._head}
        self.info = AdapterInfo(
            family="decoder-lm",
            adapter_version=ADAPTER_VERSION,
            settings={
                **self.settings,
                "model_type": getattr(model.config, "model_type", None),
                "layers_at": f"{type(self.base).__name__}.{path}",
                "attn_implementation": getattr(model.config, "_attn_implementation", None),
                "mask": "every real token of the prompt but special tokens (BOS)",
                "padding": "right",
                "final_norm": "applied by the output head, not a layer",
            },
        )

    def _decoder_text(self, batch: BatchInputs) -> dict[str, Positions]:
        input_ids, attention, mask, char_spans = encode_prompts(
            self.tokenizer,
            list(batch.texts),
            self.settings["prompt_template"],
            self.settings["add_special_tokens"],
            self.limit,
            self.model_id,
        )
        self.base(
            input_ids=input_ids.to(self.device),
            attention_mask=attention.to(self.device),
            use_cache=False,
        )
        return same_positions(self._tables["decoder"], mask, char_spans=char_spans)

    def _head(self) -> OutputHead | None:
        return lm_head(self.model, self.model.config, self.final_norm, self.tokenizer)


def load_decoder_lm(
    source: str, model_id: str, revision=None, device="cpu", settings=None, **kw
) -> DecoderLMAdapter:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    merged = merge_settings("decoder-lm", DEFAULTS, settings)
    check_template("decoder-lm", merged["prompt_template"])
    model = load_checked(
        AutoModelForCausalLM,
        source,
        revision=revision,
        dtype=torch_dtype("decoder-lm", merged["dtype"]),
        device=device,
        device_map=merged.get("device_map"),
        **kw,
    )
    tokenizer_kw = {"trust_remote_code": True} if kw.get("trust_remote_code") else {}
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision, **tokenizer_kw)
    return DecoderLMAdapter(model, tokenizer, model_id, settings)


def _causal_lm(config) -> bool:
    """Other decoder-only causal-LM model types are decoder LMs too."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return getattr(config, "model_type", None) in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not getattr(
        config, "is_encoder_decoder", False
    )


FAMILY = register_family(
    Family(
        name="decoder-lm",
        description="Decoder language models (Llama, Qwen2/3, Gemma 1-3, Mistral/Mixtral, Phi-3, "
        "GPT-2, ...): text in a `prompt_template` (e.g. '{text} This represents'), last-token or "
        "mean pooling per model (`pooling`); other causal-LM model types are routed here "
        "automatically",
        version=ADAPTER_VERSION,
        stacks={
            "decoder": Stack(
                ("text",),
                head=True,
                layers=N_LAYERS + " (pre final norm; the output head applies it)",
            )
        },
        load=load_decoder_lm,
        defaults=DEFAULTS,
        model_types=(
            "llama",
            "mistral",
            "mixtral",
            "qwen2",
            "qwen3",
            "gemma",
            "gemma2",
            "gemma3_text",
            "phi3",
            "gpt2",
        ),  # fmt: skip
        architectures=(
            "LlamaForCausalLM",
            "MistralForCausalLM",
            "Qwen2ForCausalLM",
            "GemmaForCausalLM",
        ),  # fmt: skip
        accepts=_causal_lm,
        priority=1,
        check_settings=check_settings,
    )
)

"""Model adapters: any supported Hugging Face model -> every layer's hidden states with masks.

`load_adapter(model_id)` resolves the model (Hub id, local folder, or offline registry copy via
`benchmark.models.offline`), reads its config, picks the adapter family from the config's
`model_type` / `architectures` and returns a `ModelAdapter` (see `base.py`) with `.resolved` set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from benchmark.models.base import ModelAdapter
from benchmark.models.common import did_you_mean
from benchmark.models.offline import resolve_pretrained


@dataclass(frozen=True)
class Family:
    description: str
    model_types: tuple[str, ...]
    architectures: tuple[str, ...]
    loader: str  # "module:function", imported on use


FAMILIES: dict[str, Family] = {
    "whisper": Family(
        "Whisper: speech through the encoder, text teacher-forced through the decoder",
        ("whisper",),
        ("WhisperForConditionalGeneration", "WhisperModel"),
        "benchmark.models.whisper:load_whisper",
    ),
    "seamless_m4t_v2": Family(
        "SeamlessM4T v2: speech encoder (+ length adaptor) and text encoder",
        ("seamless_m4t_v2",),
        ("SeamlessM4Tv2Model",),
        "benchmark.models.seamless:load_seamless",
    ),
    "seamless_m4t": Family(
        "SeamlessM4T v1: speech encoder (+ length adaptor) and text encoder",
        ("seamless_m4t",),
        ("SeamlessM4TModel",),
        "benchmark.models.seamless:load_seamless",
    ),
    "text-encoder": Family(
        "BERT-style text encoders (BERT, RoBERTa, XLM-R, e5, DistilBERT, ...); other encoder-only "
        "masked-LM model types are routed here automatically",
        ("bert", "roberta", "xlm-roberta", "xlm-roberta-xl", "distilbert", "camembert", "electra"),
        ("BertModel", "RobertaModel", "XLMRobertaModel", "DistilBertModel"),
        "benchmark.models.text_encoder:load_text_encoder",
    ),
}


def list_families() -> dict[str, str]:
    """Family name -> what it covers (and which model types route to it)."""
    return {
        name: f"{fam.description} [model_type: {', '.join(fam.model_types)}]"
        for name, fam in FAMILIES.items()
    }


def detect_family(config) -> str:
    """The family for a transformers config, from its model_type, then its architectures, then
    (for encoder-only masked-LM model types not listed) the text-encoder fallback."""
    model_type = getattr(config, "model_type", None) or ""
    architectures = list(getattr(config, "architectures", None) or [])
    for name, fam in FAMILIES.items():
        if model_type in fam.model_types or set(architectures) & set(fam.architectures):
            return name
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    encoder_only = not getattr(config, "is_encoder_decoder", False) and not getattr(
        config, "is_decoder", False
    )
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES and encoder_only:
        return "text-encoder"
    known = sorted({t for fam in FAMILIES.values() for t in fam.model_types})
    raise ValueError(
        f"No adapter for model_type {model_type!r} (architectures {architectures or 'unknown'}). "
        + did_you_mean("model type", model_type, known)
        + " Families: "
        + "; ".join(f"{n} ({', '.join(f.model_types)})" for n, f in FAMILIES.items())
        + ". Pass family=... to force one."
    )


def load_adapter(
    model_id: str,
    revision: str | None = None,
    device: str = "cpu",
    trust_remote_code: bool = False,
    settings: dict | None = None,
    *,
    family: str | None = None,
) -> ModelAdapter:
    """Load `model_id` (Hub id or local folder) as an adapter.

    `family` (or `settings["family"]`) forces a family from `list_families()`; by default it is
    detected from the config. The remaining `settings` go to the adapter (each family lists its
    own: whisper `window`, text-encoder `prefix`/`max_length`, ...) and are recorded in
    `adapter.info.settings`.
    """
    import importlib

    from transformers import AutoConfig

    settings = dict(settings or {})
    family = family or settings.pop("family", None)
    if family is not None and family not in FAMILIES:
        raise ValueError(did_you_mean("model family", family, list(FAMILIES)))
    resolved = resolve_pretrained(model_id, revision=revision)
    config = AutoConfig.from_pretrained(
        resolved.source, revision=resolved.revision, trust_remote_code=trust_remote_code
    )
    family = family or detect_family(config)
    module_name, func_name = FAMILIES[family].loader.split(":")
    loader: Callable = getattr(importlib.import_module(module_name), func_name)
    kwargs = {"trust_remote_code": trust_remote_code} if trust_remote_code else {}
    if family.startswith("seamless"):
        kwargs["model_type"] = family
    adapter = loader(
        resolved.source,
        model_id=model_id,
        revision=resolved.revision,
        device=device,
        settings=settings,
        **kwargs,
    )
    adapter.resolved = resolved
    return adapter


__all__ = ["FAMILIES", "detect_family", "list_families", "load_adapter"]

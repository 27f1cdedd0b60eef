"""Model adapters: any supported Hugging Face model -> every layer's hidden states with masks.

Two steps, so that a run whose representations are all cached never loads weights:
  - `plan_model(model_id, ...)` resolves the model (Hub id, local folder, or offline registry copy
    via `benchmark.models.offline`), reads its config, picks the adapter family from the config's
    `model_type` / `architectures`, and validates the adapter settings against the family's
    defaults. The resulting `ModelPlan` holds everything about the model that changes a result
    (its `key_fields()`), known without loading weights.
  - `load_adapter(plan, device)` loads the weights and returns a `ModelAdapter` (see `base.py`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from benchmark.errors import ModelUnavailableError, UsageError, did_you_mean
from benchmark.models.base import ModelAdapter
from benchmark.models.offline import ResolvedModel, resolve_pretrained


@dataclass(frozen=True)
class Family:
    description: str
    model_types: tuple[str, ...]
    architectures: tuple[str, ...]
    loader: str  # "module:function"; the module also defines ADAPTER_VERSION and DEFAULTS
    modalities: tuple[str, ...]

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.loader.split(":")[0])


FAMILIES: dict[str, Family] = {
    "whisper": Family(
        "Whisper: speech through the encoder, text teacher-forced through the decoder",
        ("whisper",),
        ("WhisperForConditionalGeneration", "WhisperModel"),
        "benchmark.models.whisper:load_whisper",
        ("speech", "text"),
    ),
    "seamless_m4t_v2": Family(
        "SeamlessM4T v2: speech encoder (+ length adaptor) and text encoder",
        ("seamless_m4t_v2",),
        ("SeamlessM4Tv2Model",),
        "benchmark.models.seamless:load_seamless",
        ("speech", "text"),
    ),
    "seamless_m4t": Family(
        "SeamlessM4T v1: speech encoder (+ length adaptor) and text encoder",
        ("seamless_m4t",),
        ("SeamlessM4TModel",),
        "benchmark.models.seamless:load_seamless",
        ("speech", "text"),
    ),
    "text-encoder": Family(
        "BERT-style text encoders (BERT, RoBERTa, XLM-R, e5, DistilBERT, ...); other encoder-only "
        "masked-LM model types are routed here automatically",
        ("bert", "roberta", "xlm-roberta", "xlm-roberta-xl", "distilbert", "camembert", "electra"),
        ("BertModel", "RobertaModel", "XLMRobertaModel", "DistilBertModel"),
        "benchmark.models.text_encoder:load_text_encoder",
        ("text",),
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
    raise UsageError(
        f"No adapter for model_type {model_type!r} (architectures {architectures or 'unknown'}). "
        + did_you_mean("model type", model_type, known)
        + " Families: "
        + "; ".join(f"{n} ({', '.join(f.model_types)})" for n, f in FAMILIES.items())
        + ". Pass --model-setting family=NAME to force one."
    )


@dataclass(frozen=True)
class ModelPlan:
    """A model as it will be run, known before its weights load."""

    model_id: str
    name: str  # path-safe display name: the Hub id, or a local folder's name
    resolved: ResolvedModel
    family: str
    adapter_version: str
    settings: dict  # the family's defaults updated with the user's settings
    modalities: tuple[str, ...]
    config_sha256: str | None
    init: str = "pretrained"  # or "random(seed=N)": a control with the architecture's random init
    trust_remote_code: bool = False
    config: object = field(default=None, compare=False, repr=False)

    @property
    def random_seed(self) -> int | None:
        return int(self.init[len("random(seed=") : -1]) if self.init != "pretrained" else None

    @property
    def revision_label(self) -> str:
        """The results folder's revision: a local model's revision plus its weights hash."""
        if self.resolved.origin != "local":
            return self.resolved.revision
        return f"{self.resolved.revision}-{(self.resolved.weights_sha256 or 'unhashed')[:12]}"

    def key_fields(self) -> dict:
        """Everything about the model that changes a result."""
        return {
            "id": self.model_id,
            "revision": self.resolved.revision,
            "weights_sha256": self.resolved.weights_sha256,
            "config_sha256": self.config_sha256,
            "family": self.family,
            "adapter_version": self.adapter_version,
            "settings": self.settings,
            "init": self.init,
        }

    def key(self) -> str:
        blob = json.dumps(self.key_fields(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


def _merge_settings(family: str, defaults: dict, given: dict) -> dict:
    from benchmark.models.common import merge_settings

    return merge_settings(family, defaults, given)


def _config_sha256(resolved: ResolvedModel) -> str | None:
    path = Path(resolved.source) / "config.json"
    if not path.is_file():
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(resolved.source, "config.json", revision=resolved.revision))
        except Exception:  # the config was read by AutoConfig; its file is only for the key
            return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def plan_model(
    model_id: str,
    revision: str | None = None,
    settings: dict | None = None,
    *,
    family: str | None = None,
    trust_remote_code: bool = False,
    random_init: int | None = None,
) -> ModelPlan:
    """Resolve `model_id` and fix everything that changes its results, without loading weights.
    Raises ModelUnavailableError (cannot be had) or UsageError (unknown family or setting)."""
    from transformers import AutoConfig

    settings = dict(settings or {})
    family = family or settings.pop("family", None)
    if family is not None and family not in FAMILIES:
        raise UsageError(did_you_mean("model family", family, list(FAMILIES)))
    resolved = resolve_pretrained(model_id, revision=revision)
    try:
        config = AutoConfig.from_pretrained(
            resolved.source, revision=resolved.revision, trust_remote_code=trust_remote_code
        )
    except ValueError as err:
        if "trust_remote_code" in str(err):
            raise UsageError(
                f"{model_id}: its config needs the repository's own code; pass "
                "--trust-remote-code only if you trust that code"
            ) from None
        raise ModelUnavailableError(f"{model_id}: cannot read its config ({err})") from None
    except OSError as err:
        raise ModelUnavailableError(f"{model_id}: cannot read its config ({err})") from None
    family = family or detect_family(config)
    fam = FAMILIES[family]
    module = fam.module
    merged = _merge_settings(family, module.DEFAULTS, settings)
    local = resolved.origin == "local"  # named by its folder (resolved: never "..")
    name = (Path(resolved.source).name or "local-model") if local else model_id
    return ModelPlan(
        model_id=model_id,
        name=name,
        resolved=resolved,
        family=family,
        adapter_version=str(module.ADAPTER_VERSION),
        settings=merged,
        modalities=fam.modalities,
        config_sha256=_config_sha256(resolved),
        init="pretrained" if random_init is None else f"random(seed={int(random_init)})",
        trust_remote_code=trust_remote_code,
        config=config,
    )


def load_adapter(plan: ModelPlan | str, device: str = "cpu", **plan_kwargs) -> ModelAdapter:
    """Load the weights of `plan` (or of a model id, planned first) as an adapter."""
    if isinstance(plan, str):
        plan = plan_model(plan, **plan_kwargs)
    fam = FAMILIES[plan.family]
    module_name, func_name = fam.loader.split(":")
    loader: Callable = getattr(importlib.import_module(module_name), func_name)
    kwargs: dict = {"trust_remote_code": True} if plan.trust_remote_code else {}
    if plan.random_seed is not None:
        kwargs["random_init"] = plan.random_seed
    if plan.family.startswith("seamless"):
        kwargs["model_type"] = plan.family
    adapter = loader(
        plan.resolved.source,
        model_id=plan.model_id,
        revision=plan.resolved.revision,
        device=device,
        settings=plan.settings,
        **kwargs,
    )
    adapter.resolved = plan.resolved
    return adapter


__all__ = [
    "FAMILIES",
    "ModelPlan",
    "detect_family",
    "list_families",
    "load_adapter",
    "plan_model",
]

"""Model adapters: any supported Hugging Face model -> every layer's hidden states with masks.

Two steps, so that a run whose representations are all cached never loads weights:
  - `plan_model(model_id, ...)` resolves the model (an id a family claims, a Hub id, a local folder,
    or an offline registry copy via `benchmark.models.offline`), reads its config, picks the
    family (`benchmark.models.registry`: by the id, the config's `model_type` / `architectures`,
    or the families that accept it) and validates the settings against the family's defaults. The resulting `ModelPlan` holds everything about the model that changes a result
    (its `key_fields()`), known without loading weights.
  - `load_adapter(plan, device)` loads the weights and returns a `ModelAdapter` (see `base.py`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.errors import ModelUnavailableError, UsageError
from benchmark.models.base import ModelAdapter
from benchmark.models.family import Family, Stack, default_stack, modalities_of
from benchmark.models.offline import resolve_pretrained
from benchmark.models.registry import (
    families,
    family_for_config,
    family_for_id,
    get_family,
    load_plugins,
    register_family,
)
from benchmark.models.resolved import ResolvedModel


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
    # stack -> its Stack (roles: the modalities it takes, an output head): the family's, or what
    # the family planned from the config (the fallback guesses its modality)
    stacks: dict[str, Stack] = field(default_factory=dict, compare=False)

    def default_stack(self, modality: str) -> str | None:
        """The stack `modality` goes through: the `stacks` setting's choice, else the first stack
        that takes it (None if none does)."""
        return default_stack(self.stacks, modality, self.settings.get("stacks"))

    @property
    def control_recipe(self) -> str | None:
        """How this control is built from its checkpoint (CONTROL_RECIPE); None: a trained model."""
        return CONTROL_RECIPE if self.init != "pretrained" else None

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
            **({"control_recipe": self.control_recipe} if self.control_recipe else {}),
        }

    def key(self) -> str:
        blob = json.dumps(self.key_fields(), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()


# How a random-weights control is built from its checkpoint (`common.load_checked`): part of a
# control's key, bumped when the recipe would change its results. 2: the checkpoint's generation
# config kept (an English-only Whisper's control had been prompted as a multilingual model).
CONTROL_RECIPE = "2"

# Beside the weights, the files that change what a model computes on the same text or audio.
INPUT_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
    "sentencepiece.bpe.model",
    "spiece.model",
    "tokenizer.model",
    "preprocessor_config.json",
)


def _config_sha256(resolved: ResolvedModel) -> str | None:
    """sha256 over the config and the tokenizer/processor files (name and bytes): with the weights
    hash, what a local folder's results are keyed by (a retrained tokenizer changes the key)."""
    folder = Path(resolved.source)
    if not (folder / "config.json").is_file():
        try:
            from huggingface_hub import hf_hub_download

            path = Path(hf_hub_download(resolved.source, "config.json", revision=resolved.revision))
        except Exception:  # the config was read by AutoConfig; its file is only for the key
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()
    digest = hashlib.sha256()
    for name in INPUT_FILES:
        if (folder / name).is_file():
            digest.update(
                name.encode() + b"\0" + hashlib.sha256((folder / name).read_bytes()).digest()
            )
    return digest.hexdigest()


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
    settings = dict(settings or {})
    name = family or settings.pop("family", None)
    fam = get_family(name) if name is not None else family_for_id(model_id)
    if fam is not None and fam.id_prefix is not None:  # ids the family resolves (and checks)
        resolved = fam.resolve(model_id, revision)
        if random_init is not None and not fam.random_init:
            raise UsageError(
                f"{model_id}: --random-init is not available for the {fam.name} family (no "
                "weights of its own to re-initialise)"
            )
        config = fam.read_config(model_id, revision) if fam.read_config else None
        return _plan(model_id, resolved, fam, settings, random_init, trust_remote_code, config)
    resolved = resolve_pretrained(model_id, revision=revision)
    if fam is not None and fam.read_config is not None:  # a model transformers cannot read
        config = fam.read_config(resolved.source, resolved.revision)
    else:
        config = _auto_config(model_id, resolved, trust_remote_code)
    fam = fam or family_for_config(config)
    return _plan(model_id, resolved, fam, settings, random_init, trust_remote_code, config)


def _auto_config(model_id: str, resolved: ResolvedModel, trust_remote_code: bool):
    """transformers' config of a resolved model, or the reason it cannot be read."""
    from transformers import AutoConfig

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
        unknown = _unknown_model_type(resolved)
        if unknown is not None:
            raise UsageError(unknown) from None
        raise ModelUnavailableError(f"{model_id}: cannot read its config ({err})") from None
    except OSError as err:
        raise ModelUnavailableError(f"{model_id}: cannot read its config ({err})") from None
    _refuse_remote_code(model_id, config, trust_remote_code)
    return config


def _plan(model_id, resolved, fam: Family, settings, random_init, trust_remote_code, config):
    """The plan of a resolved model whose family and config are known."""
    from benchmark.models.common import check_stacks, merge_settings

    merged = merge_settings(fam.name, fam.defaults, settings)
    if fam.check_settings is not None:  # e.g. a prompt template must hold {text} once
        try:
            fam.check_settings(merged)
        except ValueError as err:
            raise UsageError(str(err)) from None
    stacks = dict(fam.plan_stacks(model_id, config) if fam.plan_stacks else fam.stacks)
    check_stacks(fam.name, {n: s.takes for n, s in stacks.items()}, merged.get("stacks"))
    if fam.claims(model_id):  # an id, not a path: made path-safe
        name = model_id.replace(":", "-").replace("+", "-")
    elif resolved.origin == "local":  # named by its folder (resolved: never "..")
        name = Path(resolved.source).name or "local-model"
    else:
        name = model_id
    return ModelPlan(
        model_id=model_id,
        name=name,
        resolved=resolved,
        family=fam.name,
        adapter_version=str(fam.version),
        settings=merged,
        modalities=modalities_of(stacks),
        config_sha256=None if fam.claims(model_id) else _config_sha256(resolved),
        init="pretrained" if random_init is None else f"random(seed={int(random_init)})",
        trust_remote_code=trust_remote_code,
        config=config,
        stacks=stacks,
    )


def _unknown_model_type(resolved: ResolvedModel) -> str | None:
    """For a local config whose model_type transformers does not know: what is missing."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    path = Path(resolved.source) / "config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    model_type = config.get("model_type")
    if model_type in CONFIG_MAPPING_NAMES:
        return None
    what = f"model_type {model_type!r}" if model_type else "no model_type"
    return (
        f"{resolved.source}: its config.json has {what}, which transformers "
        f"{transformers.__version__} does not know, and no auto_map to the repository's own code: "
        "no adapter family, nor the generic fallback (AutoModel), can build it. Families: "
        + ", ".join(families())
        + ". Write an adapter for it (docs/models.md), or use a transformers version that has it."
    )


def _refuse_remote_code(model_id: str, config, trust_remote_code: bool) -> None:
    """A config whose architectures exist only in the repository's own code (`auto_map`, a class
    transformers does not have) is refused without --trust-remote-code, naming the class."""
    if trust_remote_code:
        return
    import transformers

    auto_map = getattr(config, "auto_map", None) or {}
    architectures = list(getattr(config, "architectures", None) or [])
    custom = [a for a in architectures if not hasattr(transformers, a)]
    if auto_map and custom:
        raise UsageError(
            f"{model_id}: its architecture {', '.join(custom)} is defined by the repository's own "
            f"code ({', '.join(sorted(auto_map))} in its config's auto_map); pass "
            "--trust-remote-code only if you trust that code"
        )


def load_adapter(plan: ModelPlan | str, device: str = "cpu", **plan_kwargs) -> ModelAdapter:
    """Load the weights of `plan` (or of a model id, planned first) as an adapter."""
    if isinstance(plan, str):
        plan = plan_model(plan, **plan_kwargs)
    kwargs: dict = {"trust_remote_code": True} if plan.trust_remote_code else {}
    if plan.random_seed is not None:
        kwargs["random_init"] = plan.random_seed
    adapter = get_family(plan.family).load(
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
    "Family",
    "ModelPlan",
    "Stack",
    "default_stack",
    "families",
    "family_for_config",
    "family_for_id",
    "get_family",
    "load_adapter",
    "load_plugins",
    "plan_model",
    "register_family",
]

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
    # stack -> the modalities it takes; the first stack listing a modality is its default
    stacks: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    # stack -> how its layers are named
    layers: dict[str, str] = field(default_factory=dict, hash=False)

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.loader.split(":")[0])

    @property
    def modalities(self) -> tuple[str, ...]:
        seen: list[str] = []
        for modalities in self.stacks.values():
            seen += [m for m in modalities if m not in seen]
        return tuple(seen)


N_LAYERS = "embeddings (input of layer 1), layer_1 .. layer_N"
SEAMLESS_STACKS = {
    "speech_encoder": ("speech",),
    "text_encoder": ("text",),
    "text_decoder": ("text", "speech"),
}
SEAMLESS_LAYERS = {
    "speech_encoder": N_LAYERS + " (conformer, pre final norm), adaptor (stride-8 length adaptor)",
    "text_encoder": N_LAYERS,
    "text_decoder": N_LAYERS + " (text teacher-forced; speech: the transcript, over the audio)",
}
FAMILIES: dict[str, Family] = {
    "whisper": Family(
        "Whisper (all sizes, English-only too): speech through the encoder; text teacher-forced "
        "through the decoder against silence, or the transcript against the clip's audio",
        ("whisper",),
        ("WhisperForConditionalGeneration", "WhisperModel"),
        "benchmark.models.whisper:load_whisper",
        {"encoder": ("speech",), "decoder": ("text", "speech")},
        {"encoder": N_LAYERS, "decoder": N_LAYERS + " (speech: the transcript, over the audio)"},
    ),
    "seamless_m4t_v2": Family(
        "SeamlessM4T v2: speech encoder (+ length adaptor), text encoder, shared text decoder",
        ("seamless_m4t_v2",),
        ("SeamlessM4Tv2Model",),
        "benchmark.models.seamless:load_seamless",
        SEAMLESS_STACKS,
        SEAMLESS_LAYERS,
    ),
    "seamless_m4t": Family(
        "SeamlessM4T v1: speech encoder (+ length adaptor), text encoder, shared text decoder",
        ("seamless_m4t",),
        ("SeamlessM4TModel",),
        "benchmark.models.seamless:load_seamless",
        SEAMLESS_STACKS,
        SEAMLESS_LAYERS,
    ),
    "text-encoder": Family(
        "BERT-style text encoders (BERT, RoBERTa, XLM-R, LaBSE, e5, MiniLM, DistilBERT, ...; "
        "`prefix` setting for e5's 'query: '); other encoder-only masked-LM model types are routed "
        "here automatically",
        ("bert", "roberta", "xlm-roberta", "xlm-roberta-xl", "distilbert", "camembert", "electra"),
        ("BertModel", "RobertaModel", "XLMRobertaModel", "DistilBertModel"),
        "benchmark.models.text_encoder:load_text_encoder",
        {"encoder": ("text",)},
        {"encoder": N_LAYERS},
    ),
    "speech-encoder": Family(
        "Self-supervised speech encoders (wav2vec2, HuBERT, WavLM, data2vec-audio, ...): 20 ms "
        "frames from the conv feature encoder's length formula",
        (
            "wav2vec2",
            "wav2vec2-conformer",
            "hubert",
            "wavlm",
            "data2vec-audio",
            "unispeech",
            "unispeech-sat",
        ),
        ("Wav2Vec2Model", "Wav2Vec2ForCTC", "HubertModel", "WavLMModel", "Data2VecAudioModel"),
        "benchmark.models.speech_encoder:load_speech_encoder",
        {"encoder": ("speech",)},
        {"encoder": N_LAYERS + " (embeddings: projected conv features + positional conv)"},
    ),
    "decoder-lm": Family(
        "Decoder language models (Llama, Qwen2/3, Gemma 1-3, Mistral/Mixtral, Phi-3, GPT-2, ...): "
        "text in a `prompt_template` (e.g. '{text} This represents'), last-token or mean pooling "
        "per model (`pooling`); other causal-LM model types are routed here automatically",
        (
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
        ),
        ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "GemmaForCausalLM"),
        "benchmark.models.decoder_lm:load_decoder_lm",
        {"decoder": ("text",)},
        {"decoder": N_LAYERS + " (pre final norm; the output head applies it)"},
    ),
    "qwen2_audio": Family(
        "Qwen2-Audio: audio and text through one language model (the in-library analogue of "
        "SALMONN): the Whisper-style audio encoder, and the LM over a prompt with the audio's "
        "positions (speech) or the text (text)",
        ("qwen2_audio",),
        ("Qwen2AudioForConditionalGeneration",),
        "benchmark.models.qwen2_audio:load_qwen2_audio",
        {"audio_encoder": ("speech",), "language_model": ("text", "speech")},
        {
            "audio_encoder": N_LAYERS + ", pooled (after the stride-2 pooling and final norm)",
            "language_model": N_LAYERS + " (speech: the audio positions inside the prompt)",
        },
    ),
    "sonar": Family(
        "SONAR (fairseq2): speech and text encoders into one fixed-size space. Needs the optional "
        "extra `sonar` (sonar-space, fairseq2), which pins its own torch; model ids are "
        "sonar:<text encoder>[+<speech encoder>], e.g. sonar:text_sonar_basic_encoder+"
        "sonar_speech_encoder_eng",
        (),
        (),
        "benchmark.models.sonar:load_sonar",
        {"speech_encoder": ("speech",), "text_encoder": ("text",)},
        {"speech_encoder": N_LAYERS, "text_encoder": N_LAYERS},
    ),
    "auto": Family(
        "Fallback for other architectures: AutoModel for the config (an encoder-decoder's "
        "encoder), every layer from `output_hidden_states` (no hookable layer modules), the "
        "modality guessed from the config (speech for transformers' speech model types, else "
        "text); a warning names what it guessed",
        (),
        (),
        "benchmark.models.fallback:load_fallback",
        {"model": ("text", "speech")},
        {"model": "hidden_states_0 .. hidden_states_N (the Auto model's own hidden states)"},
    ),
}


PLUGINS_ENV = "INTERLINGUA_ADAPTERS"
_plugins_loaded: set[str] = set()


def register_family(name: str, family: Family) -> None:
    """Add an adapter family from outside the package (a custom model such as SALMONN; see
    docs/models.md). Its loader module defines ADAPTER_VERSION and DEFAULTS like the built-in
    ones, and may define `read_config(source, revision)` for checkpoints that transformers'
    AutoConfig cannot read."""
    if name in FAMILIES and FAMILIES[name] != family:
        raise UsageError(f"an adapter family named {name!r} is already registered")
    FAMILIES[name] = family


def load_plugins() -> None:
    """Import the modules named in $INTERLINGUA_ADAPTERS (comma-separated): each registers its
    families with `register_family` when imported."""
    import os

    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        if module in _plugins_loaded:
            continue
        try:
            importlib.import_module(module)
        except ImportError as err:
            raise UsageError(
                f"${PLUGINS_ENV}: cannot import adapter module {module!r} ({err})"
            ) from None
        _plugins_loaded.add(module)


def list_families() -> dict[str, str]:
    """Family name -> what it covers (and which model types route to it)."""
    load_plugins()
    return {
        name: f"{fam.description} [model_type: {', '.join(fam.model_types) or '-'}]"
        for name, fam in FAMILIES.items()
    }


def detect_family(config) -> str:
    """The family for a transformers config: from its model_type, then its architectures, then
    encoder-only masked-LM types -> text-encoder, decoder-only causal-LM types -> decoder-lm,
    anything else the Auto classes know -> the fallback (with a warning when planned)."""
    model_type = getattr(config, "model_type", None) or ""
    architectures = list(getattr(config, "architectures", None) or [])
    for name, fam in FAMILIES.items():
        if model_type in fam.model_types or set(architectures) & set(fam.architectures):
            return name
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        MODEL_MAPPING_NAMES,
    )

    encoder_decoder = getattr(config, "is_encoder_decoder", False)
    encoder_only = not encoder_decoder and not getattr(config, "is_decoder", False)
    if model_type in MODEL_FOR_MASKED_LM_MAPPING_NAMES and encoder_only:
        return "text-encoder"
    if model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES and not encoder_decoder:
        return "decoder-lm"
    if model_type in MODEL_MAPPING_NAMES:
        return "auto"
    known = sorted({t for fam in FAMILIES.values() for t in fam.model_types})
    raise UsageError(
        f"No adapter for model_type {model_type!r} (architectures {architectures or 'unknown'}): "
        "no family lists it and transformers' AutoModel has no class for it, so the fallback "
        "cannot build it either. "
        + did_you_mean("model type", model_type, known)
        + " Families: "
        + "; ".join(f"{n} ({', '.join(f.model_types) or '-'})" for n, f in FAMILIES.items())
        + ". Pass --model-setting family=NAME to force one, or write an adapter (docs/models.md)."
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
    # stack -> modalities (the family's, or what the fallback guessed from the config)
    stacks: dict = field(default_factory=dict, compare=False)

    def default_stack(self, modality: str) -> str | None:
        """The stack `modality` goes through: the `stacks` setting's choice, else the first stack
        that takes it (None if none does)."""
        chosen = (self.settings.get("stacks") or {}).get(modality)
        if chosen:
            return chosen
        return next((name for name, mods in self.stacks.items() if modality in mods), None)

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
    from transformers import AutoConfig

    load_plugins()
    settings = dict(settings or {})
    family = family or settings.pop("family", None)
    if family is not None and family not in FAMILIES:
        raise UsageError(did_you_mean("model family", family, list(FAMILIES)))
    if family == "sonar" or model_id.startswith("sonar:"):
        from benchmark.models.sonar import plan_sonar

        return plan_sonar(model_id, revision, settings, random_init)
    resolved = resolve_pretrained(model_id, revision=revision)
    custom = FAMILIES[family].module if family is not None else None
    if custom is not None and hasattr(custom, "read_config"):  # a model transformers cannot read
        return _plan(model_id, resolved, family, settings, random_init, trust_remote_code,
                     custom.read_config(resolved.source, resolved.revision))  # fmt: skip
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
    family = family or detect_family(config)
    return _plan(model_id, resolved, family, settings, random_init, trust_remote_code, config)


def _plan(model_id, resolved, family, settings, random_init, trust_remote_code, config):
    """The plan of a resolved model whose family and config are known."""
    fam = FAMILIES[family]
    module = fam.module
    merged = _merge_settings(family, module.DEFAULTS, settings)
    if hasattr(module, "check_settings"):  # e.g. a prompt template must hold {text} once
        try:
            module.check_settings(merged)
        except ValueError as err:
            raise UsageError(str(err)) from None
    stacks = dict(fam.stacks)
    if hasattr(module, "plan_stacks"):  # the fallback guesses its modality from the config
        stacks = module.plan_stacks(model_id, config)
    from benchmark.models.common import check_stacks

    check_stacks(family, stacks, merged.get("stacks"))
    local = resolved.origin == "local"  # named by its folder (resolved: never "..")
    name = (Path(resolved.source).name or "local-model") if local else model_id
    return ModelPlan(
        model_id=model_id,
        name=name,
        resolved=resolved,
        family=family,
        adapter_version=str(module.ADAPTER_VERSION),
        settings=merged,
        modalities=tuple(m for m in ("speech", "text") if any(m in v for v in stacks.values())),
        config_sha256=_config_sha256(resolved),
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
        + ", ".join(FAMILIES)
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

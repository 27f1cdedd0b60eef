"""The family registry: which adapter serves which model, with its modalities, stacks and layers
declared statically (so a run can plan without loading weights). A new family is one module with
ADAPTER_VERSION, DEFAULTS and a loader, and one entry here (or `register_family` from outside)."""

from __future__ import annotations

import importlib
import logging
import os
from dataclasses import dataclass, field
from types import ModuleType

from benchmark.errors import UsageError, did_you_mean

log = logging.getLogger(__name__)


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

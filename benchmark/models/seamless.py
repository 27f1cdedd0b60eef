"""SeamlessM4T (v2, and v1): speech encoder, text encoder and the shared text decoder, loaded
without the rest (no unit model, no vocoder).

Stacks:
- `speech_encoder` (speech): fbank features (SeamlessM4TFeatureExtractor, 2 frames stacked -> 50
  per second) -> conformer. Layers: "embeddings" (input of the first conformer layer, after the
  feature projection), "layer_1".."layer_N" (each conformer layer's output, pre final norm) and
  "adaptor" (the stride-8 length adaptor's output, 0.16 s per position; its mask comes from the
  model's own sub-sampled lengths).
- `text_encoder` (text): `__lang__` + tokens + `</s>`; layers "embeddings", "layer_1".."layer_N".
- `text_decoder` (text and speech): the decoder that both encoders feed. It reads
  `</s> __lang__` + the text's tokens + `</s>` teacher-forced, cross-attending to the text
  encoder's output (text input) or to the speech encoder's output after the adaptor (speech input,
  with its transcript teacher-forced): one stack for both modalities. Mask: the text's tokens.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from benchmark.errors import NotApplicable
from benchmark.models.base import SAMPLE_RATE, AdapterInfo, BatchInputs, OutputHead
from benchmark.models.common import (
    LayeredAdapter,
    fleurs_prefix,
    layer_table,
    load_checked,
    merge_settings,
    read_weight,
    same_positions,
    torch_dtype,
)
from benchmark.models.family import N_LAYERS, Family, Stack
from benchmark.models.hooks import Positions, Tap, lengths_to_mask
from benchmark.models.registry import register_family
from benchmark.models.spans import Formatted, spans_of, spans_tensor, token_offsets

ADAPTER_VERSION = "1"
STACKS = {
    "speech_encoder": ("speech",),
    "text_encoder": ("text",),
    "text_decoder": ("text", "speech"),
}
FRAME_SECONDS = 0.02  # fbank frames at 100 per second, stacked 2 by 2
DEFAULTS = {"pool_special_tokens": True, "dtype": "float32"}

# FLEURS language prefix -> Seamless 3-letter code (where they differ; others are looked up as is
# through ISO 639-1 -> 639-3 below).
SEAMLESS_CODES = {
    "af": "afr", "am": "amh", "ar": "arb", "as": "asm", "az": "azj", "be": "bel", "bg": "bul",
    "bn": "ben", "bs": "bos", "ca": "cat", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu",
    "el": "ell", "en": "eng", "es": "spa", "et": "est", "fa": "pes", "ff": "ful", "fi": "fin",
    "fil": "tgl", "fr": "fra", "ga": "gle", "gl": "glg", "gu": "guj", "ha": "hau", "he": "heb",
    "hi": "hin", "hr": "hrv", "hu": "hun", "hy": "hye", "id": "ind", "ig": "ibo", "is": "isl",
    "it": "ita", "ja": "jpn", "jv": "jav", "ka": "kat", "kk": "kaz", "km": "khm", "kn": "kan",
    "ko": "kor", "ky": "kir", "lb": "ltz", "lg": "lug", "ln": "lin", "lo": "lao", "lt": "lit",
    "lv": "lvs", "mi": "mri", "mk": "mkd", "ml": "mal", "mn": "khk", "mr": "mar", "ms": "zsm",
    "mt": "mlt", "my": "mya", "nb": "nob", "ne": "npi", "nl": "nld", "ny": "nya", "oc": "oci",
    "om": "gaz", "or": "ory", "pa": "pan", "pl": "pol", "ps": "pbt", "pt": "por", "ro": "ron",
    "ru": "rus", "sd": "snd", "sk": "slk", "sl": "slv", "sn": "sna", "so": "som", "sr": "srp",
    "sv": "swe", "sw": "swh", "ta": "tam", "te": "tel", "tg": "tgk", "th": "tha", "tr": "tur",
    "uk": "ukr", "ur": "urd", "uz": "uzn", "vi": "vie", "wo": "wol", "xh": "xho", "yo": "yor",
    "zu": "zul",
}  # fmt: skip
# 3-letter FLEURS prefixes (ast, ceb, ckb, cmn, kam, kea, luo, nso, umb, yue) are Seamless codes.

PARTS = {
    "seamless_m4t_v2": (
        "transformers.models.seamless_m4t_v2.modeling_seamless_m4t_v2",
        "SeamlessM4Tv2SpeechEncoder",
        "SeamlessM4Tv2Encoder",
        "SeamlessM4Tv2Decoder",
    ),
    "seamless_m4t": (
        "transformers.models.seamless_m4t.modeling_seamless_m4t",
        "SeamlessM4TSpeechEncoder",
        "SeamlessM4TEncoder",
        "SeamlessM4TDecoder",
    ),
}


def seamless_language(code: str, vocab: dict[str, int]) -> str:
    """FLEURS code ("es_419", "cmn_hans_cn") -> Seamless language token ("__spa__", "__cmn__")."""
    prefix = fleurs_prefix(code)
    token = f"__{SEAMLESS_CODES.get(prefix, prefix)}__"
    if token not in vocab:
        raise NotApplicable(
            f"language {code!r}: this Seamless tokenizer has no {token} token, so its text encoder "
            f"cannot read that language; drop {code!r} from the probe languages for this model"
        )
    return token


@contextlib.contextmanager
def _zero_beyond(modules: list[nn.Module], masks: list[torch.Tensor]) -> Iterator[None]:
    """Zero each module's output [B, T, D] where its mask is False, while the block runs."""
    handles = []

    def hook(mask):
        return lambda module, args, output: output.masked_fill(~mask[..., None], 0.0)

    try:
        for module, mask in zip(modules, masks, strict=True):
            handles.append(module.register_forward_hook(hook(mask)))
        yield
    finally:
        for handle in handles:
            handle.remove()


class SeamlessAdapter(LayeredAdapter):
    stacks = STACKS

    def __init__(
        self,
        speech_encoder,
        text_encoder,
        feature_extractor,
        tokenizer,
        model_id,
        family,
        settings=None,
        text_decoder=None,
        unembedding: torch.Tensor | None = None,
    ):
        super().__init__()
        self.settings = merge_settings(family, DEFAULTS, settings)
        self.speech_encoder = speech_encoder.eval()
        self.text_encoder = text_encoder.eval()
        self.text_decoder = text_decoder.eval() if text_decoder is not None else None
        self.unembedding = unembedding
        self.feature_extractor = feature_extractor
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = next(speech_encoder.parameters()).device
        self._vocab = tokenizer.get_vocab()
        if self.text_decoder is None:  # built from parts without the decoder (tests, old callers)
            self.stacks = {k: v for k, v in STACKS.items() if k != "text_decoder"}

        speech_tap, text_tap = Tap(), Tap()
        conformer = speech_encoder.encoder.layers
        speech = layer_table(speech_tap, conformer)
        self.adapter = speech_encoder.adapter
        if self.adapter is not None:
            speech["adaptor"] = self.adapter
        self._tables = {
            "speech_encoder": speech,
            "text_encoder": layer_table(text_tap, text_encoder.layers),
        }
        self._taps = {
            "speech_encoder": [(speech_tap, conformer[0])],
            "text_encoder": [(text_tap, text_encoder.layers[0])],
        }
        self._runners = {
            ("speech_encoder", "speech"): self._speech_encoder_speech,
            ("text_encoder", "text"): self._text_encoder_text,
        }
        if self.text_decoder is not None:
            decoder_tap = Tap()
            self._tables["text_decoder"] = layer_table(decoder_tap, self.text_decoder.layers)
            self._taps["text_decoder"] = [(decoder_tap, self.text_decoder.layers[0])]
            self._runners[("text_decoder", "text")] = self._text_decoder_text
            self._runners[("text_decoder", "speech")] = self._text_decoder_speech
            self._heads["text_decoder"] = self._decoder_head
        config = speech_encoder.config
        stride = getattr(config, "adaptor_stride", 8)
        self.adaptor_seconds = FRAME_SECONDS * stride ** getattr(config, "num_adapter_layers", 1)
        self.info = AdapterInfo(
            family=family,
            adapter_version=ADAPTER_VERSION,
            settings={
                **self.settings,
                "attn_implementation": getattr(config, "_attn_implementation", None),
                "speech_layers": "conformer layers (pre final norm); embeddings = input of layer 1; "
                "adaptor = length adaptor output (before inner_layer_norm)",
                "adaptor_stride": getattr(config, "adaptor_stride", None),
                "adaptor_padding": "conv inputs zeroed past each item's length (batch-invariant)",
                "speech_mask": "feature-extractor attention mask (50 frames per second); "
                "adaptor: the model's sub-sampled lengths",
                "text_format": "__lang__ tokens </s>",
                "text_mask": "all tokens"
                if self.settings["pool_special_tokens"]
                else "text tokens only (no language tag, no </s>)",
                "text_decoder": "</s> __lang__ tokens </s> teacher-forced, cross-attending to the "
                "text encoder's output (text) or the speech encoder's after the adaptor (speech, "
                "transcript teacher-forced); mask: the text's tokens",
            },
        )

    # --- encoders ---------------------------------------------------------------------------

    def _encode_speech(self, batch: BatchInputs) -> tuple[torch.Tensor, dict[str, Positions]]:
        """Run the speech encoder: (its output after the adaptor and inner norm, as the decoder
        reads it; every speech layer's positions)."""
        audio = [np.asarray(a, dtype=np.float32).reshape(-1) for a in batch.audio]
        for i, clip in enumerate(audio):
            if clip.size < SAMPLE_RATE // 10:
                raise ValueError(
                    f"{self.model_id}: batch item {i} has {clip.size} samples; Seamless needs at "
                    f"least 0.1 s of audio"
                )
        enc = self.feature_extractor(
            audio, sampling_rate=SAMPLE_RATE, padding=True, return_tensors="pt"
        )
        mask = enc["attention_mask"].bool()
        positions = same_positions(self._tables["speech_encoder"], mask, FRAME_SECONDS)
        zero_modules, zero_masks = [], []
        if self.adapter is not None:
            # The adaptor's stride-8 convolutions read a few positions past an item's end; in a
            # padded batch those hold padding states, alone they are the conv's zero padding.
            # Zeroing the conv inputs there makes every item's output independent of its batch.
            lengths, width = mask.sum(1), mask.shape[1]
            for layer in self.adapter.layers:
                layer_mask = lengths_to_mask(lengths, width)
                for norm in (layer.residual_layer_norm, layer.self_attn_layer_norm):
                    zero_modules.append(norm)
                    zero_masks.append(layer_mask.to(self.device))
                lengths = layer._compute_sub_sample_lengths_from_attention_mask(layer_mask).long()
                width = _conv_width(layer.residual_conv, width)
            positions["adaptor"] = Positions(
                lengths_to_mask(lengths.clamp(max=width), width), self.adaptor_seconds
            )
        with _zero_beyond(zero_modules, zero_masks):
            out = self.speech_encoder(
                input_features=enc["input_features"].to(self.device, self._dtype()),
                attention_mask=enc["attention_mask"].to(self.device),
            ).last_hidden_state
        return out, positions

    def _speech_encoder_speech(self, batch: BatchInputs) -> dict[str, Positions]:
        return self._encode_speech(batch)[1]

    def _dtype(self) -> torch.dtype:
        return next(self.speech_encoder.parameters()).dtype

    def _text_rows(self, texts, language: str, prefix: list[int]):
        """Rows `prefix + tokens + </s>` with each position's character span."""
        lang = self._vocab[seamless_language(language, self._vocab)]
        for i, text in enumerate(texts):
            if not text or not text.strip():
                raise ValueError(f"{self.model_id}: batch item {i} is an empty text")
        prefix = [lang if t is None else t for t in prefix]
        ids, offsets = token_offsets(self.tokenizer, list(texts))
        rows = [[*prefix, *row, self.tokenizer.eos_token_id] for row in ids]
        spans = None
        if offsets is not None:
            spans = [
                [(-1, -1)] * len(prefix) + spans_of(Formatted.around(text), off) + [(-1, -1)]
                for text, off in zip(texts, offsets, strict=True)
            ]
        return rows, spans

    def _pad(self, rows, limit: int, what: str):
        for i, row in enumerate(rows):
            if len(row) > limit:
                raise ValueError(
                    f"{self.model_id}: batch item {i} has {len(row)} tokens; the {what} "
                    f"holds at most {limit} (shorten or split the text)"
                )
        width = max(map(len, rows))
        input_ids = torch.full((len(rows), width), self.tokenizer.pad_token_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            attention[i, : len(row)] = 1
        return input_ids, attention

    def _encode_text(self, batch: BatchInputs):
        rows, spans = self._text_rows(batch.texts, batch.language, [None])
        input_ids, attention = self._pad(
            rows, self.text_encoder.config.max_position_embeddings, "text encoder"
        )
        out = self.text_encoder(
            input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)
        ).last_hidden_state
        return out, attention, rows, spans

    def _text_encoder_text(self, batch: BatchInputs) -> dict[str, Positions]:
        _, attention, rows, spans = self._encode_text(batch)
        mask = attention.bool()
        if not self.settings["pool_special_tokens"]:
            mask[:, 0] = False
            for i, row in enumerate(rows):
                mask[i, len(row) - 1] = False
        width = mask.shape[1]
        char_spans = spans_tensor(spans, width) if spans is not None else None
        return same_positions(self._tables["text_encoder"], mask, char_spans=char_spans)

    # --- the shared text decoder ----------------------------------------------------------------

    def _decode(self, texts, language: str, encoded: torch.Tensor, encoded_mask: torch.Tensor):
        start = self.text_decoder.config.decoder_start_token_id
        rows, spans = self._text_rows(texts, language, [start, None])
        input_ids, attention = self._pad(
            rows, self.text_decoder.config.max_position_embeddings, "text decoder"
        )
        mask = torch.zeros_like(attention, dtype=torch.bool)
        for i, row in enumerate(rows):
            mask[i, 2 : len(row) - 1] = True  # the text's tokens
        self.text_decoder(
            input_ids=input_ids.to(self.device),
            attention_mask=attention.to(self.device),
            encoder_hidden_states=encoded,
            encoder_attention_mask=encoded_mask.to(self.device).long(),
            use_cache=False,
        )
        char_spans = spans_tensor(spans, mask.shape[1]) if spans is not None else None
        return same_positions(self._tables["text_decoder"], mask, char_spans=char_spans)

    def _text_decoder_text(self, batch: BatchInputs) -> dict[str, Positions]:
        encoded, attention, _, _ = self._encode_text(batch)
        return self._decode(batch.texts, batch.language, encoded, attention)

    def _text_decoder_speech(self, batch: BatchInputs) -> dict[str, Positions]:
        texts = self.transcripts(batch, "text_decoder")
        encoded, positions = self._encode_speech(batch)
        last = "adaptor" if "adaptor" in positions else list(positions)[-1]
        return self._decode(texts, batch.language, encoded, positions[last].mask)

    def replay_prefix(self, modality, stack=None) -> list[nn.Module]:
        """What steered passes replay before the layers: the encoder the text decoder reads
        (the text encoder for text, the speech encoder with its adaptor for speech)."""
        stack = self.resolve_stack(modality, stack)
        if stack != "text_decoder":
            return []
        return [self.text_encoder if modality == "text" else self.speech_encoder]

    def replay_shared(self, modality, stack=None) -> list[nn.Module]:
        """The text decoder's cross-attention projections of the encoder output it reads."""
        stack = self.resolve_stack(modality, stack)
        if stack != "text_decoder":
            return []
        attns = [layer.cross_attention for layer in self.text_decoder.layers]
        return [proj for attn in attns for proj in (attn.k_proj, attn.v_proj)]

    def _decoder_head(self) -> OutputHead:
        weight = self.unembedding
        if weight is None:
            weight = self.text_decoder.embed_tokens.weight
        return OutputHead(weight, self.text_decoder.layer_norm, self.tokenizer)


def _conv_width(conv: nn.Conv1d, width: int) -> int:
    """Output length of a 1-d convolution for an input of `width` positions."""
    return (width + 2 * conv.padding[0] - conv.kernel_size[0]) // conv.stride[0] + 1


def load_part(cls, source: str, prefix: str, extra_mapping=None, **kw) -> nn.Module:
    """Load only the weights under `prefix` of a full checkpoint into `cls`; raise on missing ones."""
    mapping = {rf"^{prefix}\.": "", **(extra_mapping or {})}
    return load_checked(cls, source, key_mapping=mapping, **kw)


def load_seamless(
    source: str, model_id: str, model_type: str, revision=None, device="cpu", settings=None, **kw
) -> SeamlessAdapter:
    import importlib

    from transformers import AutoConfig, AutoFeatureExtractor, AutoTokenizer

    merged = merge_settings(model_type, DEFAULTS, settings)
    module, speech_cls, text_cls, decoder_cls = PARTS[model_type]
    classes = importlib.import_module(module)
    kw = {
        "revision": revision,
        "dtype": torch_dtype(model_type, merged["dtype"]),
        "device": device,
        "device_map": merged.get("device_map"),
        **kw,
    }
    speech = load_part(getattr(classes, speech_cls), source, "speech_encoder", **kw)
    # the text encoder's and decoder's embeddings are tied to (and saved as) the shared embedding
    shared = {r"^shared\.weight$": "embed_tokens.weight"}
    text = load_part(getattr(classes, text_cls), source, "text_encoder", shared, **kw)
    decoder = load_part(getattr(classes, decoder_cls), source, "text_decoder", shared, **kw)
    config = AutoConfig.from_pretrained(source, revision=revision)
    unembedding = None
    if not getattr(config, "tie_word_embeddings", True):  # the released checkpoints tie it
        unembedding = read_weight(source, "lm_head.weight", revision).to(decoder.device)
    feature_extractor = AutoFeatureExtractor.from_pretrained(source, revision=revision)
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
    return SeamlessAdapter(
        speech,
        text,
        feature_extractor,
        tokenizer,
        model_id,
        model_type,
        settings,
        text_decoder=decoder,
        unembedding=unembedding,
    )


def _family(model_type: str, description: str, architecture: str) -> Family:
    layers = {
        "speech_encoder": N_LAYERS
        + " (conformer, pre final norm), adaptor (stride-8 length adaptor)",
        "text_encoder": N_LAYERS,
        "text_decoder": N_LAYERS + " (text teacher-forced; speech: the transcript, over the audio)",
    }
    return Family(
        name=model_type,
        description=description,
        version=ADAPTER_VERSION,
        stacks={
            name: Stack(takes, head=name == "text_decoder", layers=layers[name])
            for name, takes in STACKS.items()
        },
        load=functools.partial(load_seamless, model_type=model_type),
        defaults=DEFAULTS,
        model_types=(model_type,),
        architectures=(architecture,),
    )


FAMILIES = [
    register_family(
        _family(
            "seamless_m4t_v2",
            "SeamlessM4T v2: speech encoder (+ length adaptor), text encoder, shared text decoder",
            "SeamlessM4Tv2Model",
        )
    ),
    register_family(
        _family(
            "seamless_m4t",
            "SeamlessM4T v1: speech encoder (+ length adaptor), text encoder, shared text decoder",
            "SeamlessM4TModel",
        )
    ),
]

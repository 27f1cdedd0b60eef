"""Peak memory of extraction over the model's own weights: before (every layer's full states copied
to the host as float32, then pooled) and after (pooled on the model's device, only [L, B, D] copied).

A decoder LM of about 0.5B parameters is built from its config (Qwen2-0.5B's shape: 24 layers,
d = 896, a 151,936-token vocabulary; random weights, no download) and loaded through the normal
path (`plan_model` with a random-init control, `load_adapter`). Each mode runs in a fresh process:
the process's peak RSS during extraction (Linux VmHWM, reset just before; psutil sampling where
that is unavailable) minus its RSS before the model was built, over the bytes of the weights.

On CPU the model runs in float32 (bfloat16 matmuls are ~200x slower on these cores), so "before"
costs one extra full copy of the states (the masked copy the old code made); on a GPU with a
bfloat16 model the old code also converted every state to float32 on the host, twice the bytes
again. The per-batch bytes copied to the host are printed beside the ratios.

    python benchmarks/extraction_memory.py [--batch 8] [--tokens 64] [--layers 24]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = [
    "the",
    "quick",
    "brown",
    "fox",
    "jumps",
    "over",
    "a",
    "lazy",
    "dog",
    "while",
    "seven",
    "small",
    "birds",
    "sing",
]


def rss_bytes() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def reset_peak() -> bool:
    """Reset the kernel's peak-RSS counter (VmHWM) of this process; False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def read_peak() -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class Sampler(threading.Thread):
    """Fallback peak measurement: RSS sampled every 2 ms."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak, self.running = 0, True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, rss_bytes())
            time.sleep(0.002)


def build_config(folder: Path, layers: int, tiny: bool = False) -> None:
    """A Qwen2-0.5B-shaped config and a small tokenizer (no weights: the run builds them);
    `tiny`: the same architecture in miniature (to import and warm up every code path first)."""
    from transformers import Qwen2Config, Qwen2Tokenizer

    tok = Qwen2Tokenizer().train_new_from_iterator([" ".join(WORDS)] * 50, vocab_size=300)
    sizes = {"vocab_size": 151_936, "hidden_size": 896, "intermediate_size": 4864}
    sizes |= {"num_attention_heads": 14, "num_key_value_heads": 2}
    if tiny:
        sizes = {"vocab_size": 300, "hidden_size": 32, "intermediate_size": 64}
        sizes |= {"num_attention_heads": 2, "num_key_value_heads": 1}
    config = Qwen2Config(
        **sizes,
        num_hidden_layers=layers,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        architectures=["Qwen2ForCausalLM"],
    )
    config.save_pretrained(folder)
    tok.save_pretrained(folder)


def child(mode: str, folder: str, batch: int, tokens: int) -> dict:
    import gc

    import torch

    from benchmark.models import load_adapter, plan_model
    from benchmark.models.base import BatchInputs
    from benchmark.representations.extract import extract, pool

    torch.set_grad_enabled(False)
    # the same path once on a miniature of the architecture: imports and one-time set-up are not
    # the model's memory
    warm = load_adapter(plan_model(str(Path(folder) / "warm"), random_init=0))
    extract(warm, "text", "en_us", ["a few words", "and more"], [3, 2], batch_size=2)
    del warm
    gc.collect()
    before_model = rss_bytes()
    adapter = load_adapter(plan_model(folder, random_init=0))
    weights = sum(p.numel() * p.element_size() for p in adapter.model.parameters())
    loaded = rss_bytes()
    text = " ".join(WORDS[i % len(WORDS)] for i in range(tokens))
    n_tokens = len(adapter.tokenizer(text).input_ids)
    texts = [text] * batch
    names = adapter.layer_names("text")
    sampler = None if reset_peak() else Sampler()
    if sampler is not None:
        sampler.start()
    clock = time.perf_counter()
    if mode == "after":
        reps = extract(adapter, "text", "en_us", texts, [len(t) for t in texts], batch_size=batch)
        host_bytes = reps.array.nbytes
    else:  # the old path: all layers' full states to the host as float32, masked copies, pooled
        states = adapter.forward(BatchInputs("text", "en_us", texts=texts))
        host = {
            name: s.hidden.to("cpu", torch.float32).masked_fill(~s.mask[..., None].cpu(), 0.0)
            for name, s in states.items()
        }
        pooled = torch.stack(
            [pool(type(states[n])(host[n], states[n].mask.cpu()), "mean") for n in names]
        )
        host_bytes = sum(h.numel() * 4 for h in host.values())
        del pooled
    seconds = time.perf_counter() - clock
    if sampler is not None:
        sampler.running = False
        sampler.join()
        peak = sampler.peak
    else:
        peak = read_peak()
    return {
        "mode": mode,
        "parameters": sum(p.numel() for p in adapter.model.parameters()),
        "weights_bytes": weights,
        "extraction_bytes": peak - before_model,
        "loaded_bytes": loaded - before_model,
        "ratio": (peak - before_model) / weights,
        "host_bytes_per_batch": host_bytes,
        "tokens_per_item": n_tokens,
        "layers": len(names),
        "seconds": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--tokens", type=int, default=64, help="words per item (~1.7 tokens each)")
    parser.add_argument("--layers", type=int, default=24)
    parser.add_argument("--child", choices=["before", "after"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.folder, args.batch, args.tokens)))
        return
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        build_config(Path(tmp), args.layers)
        build_config(Path(tmp) / "warm", 2, tiny=True)
        results = {}
        for mode in ("before", "after"):
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, "--folder", tmp]
                + ["--batch", str(args.batch), "--tokens", str(args.tokens)],
                capture_output=True,
                text=True,
                env=env,
                check=True,
            ).stdout
            results[mode] = json.loads(out.strip().splitlines()[-1])
    first = results["before"]
    print(
        f"decoder LM built from its config: {first['parameters'] / 1e6:.0f}M parameters "
        f"({first['weights_bytes'] / 2**30:.2f} GiB float32), {first['layers']} layers read; "
        f"batch {args.batch} x {first['tokens_per_item']} tokens"
    )
    for mode, r in results.items():
        print(
            f"{mode:>6}: peak extraction memory {r['extraction_bytes'] / 2**30:.2f} GiB = "
            f"{r['ratio']:.2f}x the weights; copied to the host per batch "
            f"{r['host_bytes_per_batch'] / 2**20:.1f} MiB; {r['seconds']:.1f} s"
        )
    ratio = results["after"]["ratio"]
    print(f"target <= 1.20x the weights: {'met' if ratio <= 1.2 else 'NOT met'} ({ratio:.2f}x)")


if __name__ == "__main__":
    main()

"""Extraction overhead: the harness vs. a bare loop of `model(**inputs)` over the same batches.

The harness adds forward hooks on every layer, masks, pooling of every layer, NaN/inf checks and
length sorting. Both sides run the same length-sorted batches with the same processor calls, in
one process, alternating, and the best of `--repeats` timings of each is compared.
Target: ratio <= 1.15.

    python benchmarks/harness_overhead.py [--items 32] [--batch-size 8] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmark.models import load_adapter
from benchmark.probes import ProbeSpec, load_probes
from benchmark.representations import extract


def bare_speech(adapter, batches):
    encoder = adapter.model.get_encoder()
    for batch in batches:
        inputs = adapter.feature_extractor(batch, sampling_rate=16_000, return_tensors="pt")
        with torch.inference_mode():
            encoder(**inputs)


def bare_text(adapter, batches):
    for batch in batches:
        inputs = adapter.tokenizer(
            [adapter.settings["prefix"] + t for t in batch],
            padding=True,
            truncation=True,
            max_length=adapter.settings["max_length"],
            return_tensors="pt",
        )
        with torch.inference_mode():
            adapter.model(**inputs)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(label, adapter, modality, inputs, lengths, bare, batch_size, repeats):
    order = np.argsort(-np.asarray(lengths, dtype=float), kind="stable")
    batches = [
        [inputs[i] for i in order[s : s + batch_size]] for s in range(0, len(order), batch_size)
    ]
    bare_times, harness_times = [], []
    for _ in range(repeats):
        bare_times.append(timed(lambda: bare(adapter, batches)))
        harness_times.append(
            timed(
                lambda: extract(
                    adapter,
                    modality,
                    "en_us",
                    inputs,
                    lengths,
                    batch_size=batch_size,
                    progress=False,
                )
            )
        )
    ratio = min(harness_times) / min(bare_times)
    print(
        f"{label:<38} bare {min(bare_times):7.2f} s   harness {min(harness_times):7.2f} s   "
        f"ratio {ratio:.3f}  (target <= 1.15)"
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    probes = load_probes(ProbeSpec(source="concepts", languages=("en_us",), n=args.items))

    whisper = load_adapter("openai/whisper-base")
    compare(
        f"whisper-base speech encoder, {args.items} clips",
        whisper,
        "speech",
        probes.audio("en_us"),
        probes.durations("en_us"),
        bare_speech,
        args.batch_size,
        args.repeats,
    )
    e5 = load_adapter("intfloat/multilingual-e5-small", settings={"prefix": "query: "})
    texts = probes.texts("en_us") * 4
    compare(
        f"multilingual-e5-small, {len(texts)} sentences",
        e5,
        "text",
        texts,
        [len(t) for t in texts],
        bare_text,
        args.batch_size,
        args.repeats,
    )


if __name__ == "__main__":
    main()

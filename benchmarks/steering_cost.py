"""Steered passes through `SteeredPasses` (only the layers above the hook run; K vectors share
tiled passes) against today's steered passes (a forward hook, the whole model, one pass per vector).

For each model and stack: 40 items of the embedded `concepts` probe set (English sentences, and
their speech for speech stacks), batches of 16 as the tasks run them, the read layer the last. At
relative depths 0.25, 0.5 and 0.75 it times one steered call of K = 1 and of K = 22 vectors
(3 alphas + 19 null directions) against K full hooked passes (K times the measured time of one:
those passes share nothing), and prints the ratios with the share of the stack above the steering
layer (what an ideal replay would cost), and the largest difference of any pooled read-layer value
from the full hooked pass (vectors 0 and K - 1; target <= 1e-5). The unsteered recording pass is
timed apart: the intervention kind runs it anyway for its unsteered states.

    python benchmarks/steering_cost.py [--models openai/whisper-base intfloat/multilingual-e5-small]
        [--items 40] [--clock cpu|wall] [--json out.json]

Times are the process's CPU time by default (--clock wall for wall time on a quiet machine).

A model that cannot be loaded is replaced by a tiny random-weight one of its family (and says so).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.kinds.passes import resolve_layer, steering
from benchmark.models import load_adapter
from benchmark.probes.loader import load_probes
from benchmark.probes.types import ProbeSpec
from benchmark.representations.extract import extract
from benchmark.representations.steering import SteeredPasses

LANGUAGE = "en_us"
DEPTHS = (0.25, 0.5, 0.75)
STACKS = {  # model -> (stack, modality) pairs the intervention tasks steer
    "openai/whisper-base": [("decoder", "text"), ("decoder", "speech"), ("encoder", "speech")],
    "intfloat/multilingual-e5-small": [("encoder", "text")],
}
TINY = {"openai/whisper-base": "whisper", "intfloat/multilingual-e5-small": "xlm-roberta"}


def load(model: str):
    try:
        return load_adapter(model), model
    except Exception as err:
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        import tiny_models as testing  # the tests' tiny-model builders

        print(f"note: {model} unavailable ({type(err).__name__}); using a tiny random model")
        root = tempfile.mkdtemp()
        if TINY.get(model) == "whisper":
            return load_adapter(str(testing.build_tiny_whisper(root + "/w"))), "tiny Whisper"
        path = testing.build_tiny_text_encoder(root + "/t", "xlm-roberta")
        return load_adapter(str(path)), "tiny XLM-R"


class Items:
    """The first n items of the concepts probe set, in English."""

    def __init__(self, n: int):
        probes = load_probes(ProbeSpec(source="concepts", languages=(LANGUAGE,)))
        self.ids = list(probes.ids[:n])
        self.texts = list(probes.texts(LANGUAGE)[:n])
        self.audio = list(probes.audio(LANGUAGE)[:n])
        self.words = list(probes.words(LANGUAGE)[:n])
        self.text_lengths = list(probes.text_lengths(LANGUAGE)[:n])
        self.durations = list(probes.durations(LANGUAGE)[:n])

    def of(self, modality: str) -> dict:
        speech = modality == "speech"
        return {
            "inputs": self.audio if speech else self.texts,
            "lengths": self.durations if speech else self.text_lengths,
            "texts": self.texts if speech else None,
        }


def hooked(adapter, stack, modality, items: Items, layer, vector, read, batch) -> np.ndarray:
    """Today's steered pass: a forward hook on the layer module and a full extraction."""
    given = items.of(modality)
    with steering(adapter.layer_module(modality, layer, stack), vector):
        return extract(
            adapter,
            modality,
            LANGUAGE,
            given["inputs"],
            given["lengths"],
            batch_size=batch,
            layers=[read],
            ids=items.ids,
            progress=False,
            texts=given["texts"],
            stack=stack,
            words=items.words,
        ).array


CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}
CLOCK = CLOCKS["cpu"]


def clock(fn, repeats: int = 1):
    """(the least time of `repeats` runs, the last run's result). CPU time of the process by
    default: on a machine shared with other work it varies far less than wall time."""
    best, out = float("inf"), None
    for _ in range(repeats):
        start = CLOCK()
        out = fn()
        best = min(best, CLOCK() - start)
    return best, out


def measure(adapter, stack, modality, items: Items, batch: int, k_max: int) -> dict:
    """Every depth's timings and max |delta| for one stack."""
    names = adapter.layer_names(modality, stack)
    read = names[-1]
    layers = [resolve_layer(d, names, "depth") for d in DEPTHS]
    sp = SteeredPasses(
        adapter,
        modality=modality,
        language=LANGUAGE,
        stack=stack,
        ids=items.ids,
        words=items.words,
        pooling="mean",
        batch_size=batch,
        **items.of(modality),
    )
    record_s, base = clock(lambda: sp.unsteered([*layers, read]))
    dim = base.shape[-1]
    vectors = np.random.default_rng(0).standard_normal((k_max, dim)).astype(np.float32)
    vectors *= float(np.linalg.norm(base[-1], axis=1).mean()) / np.sqrt(dim) * 0.5
    out = {"layers": names, "recording_s": record_s, "depths": {}}
    for depth, layer in zip(DEPTHS, layers, strict=True):
        above = (len(names) - 1 - names.index(layer)) / (len(names) - 1)
        t1, got1 = clock(lambda layer=layer: sp.steered(layer, vectors[:1], [read]), 2)
        tk, gotk = clock(lambda layer=layer: sp.steered(layer, vectors, [read]))
        f0, ref0 = clock(lambda layer=layer: hooked(adapter, stack, modality, items, layer,
                                                    vectors[0], read, batch), 2)  # fmt: skip
        fk, refk = clock(lambda layer=layer: hooked(adapter, stack, modality, items, layer,
                                                    vectors[-1], read, batch))  # fmt: skip
        full = min(f0, fk)  # one full hooked pass (the least of three)
        delta = max(
            float(np.abs(got1[0, 0] - ref0[0]).max()),
            float(np.abs(gotk[0, 0] - ref0[0]).max()),
            float(np.abs(gotk[-1, 0] - refk[0]).max()),
        )
        out["depths"][str(depth)] = {
            "layer": layer,
            "share_above": above,
            "full_pass_s": full,
            "steered_k1_s": t1,
            f"steered_k{k_max}_s": tk,
            "ratio_k1": t1 / full,
            f"ratio_k{k_max}": tk / (k_max * full),
            "max_abs_delta": delta,
        }
    return out


def report(name: str, stack: str, modality: str, figures: dict, k_max: int) -> None:
    print(
        f"\n{name} {stack} ({modality}), {len(figures['layers']) - 1} layers; unsteered "
        f"recording pass {figures['recording_s']:.1f} s"
    )
    print(
        f"  {'depth':>5} {'layer':>9} {'above':>6} {'full pass':>10} {'K=1':>8} {'ratio':>6} "
        f"{f'K={k_max}':>8} {f'vs {k_max} full':>11} {'max|d|':>9}"
    )
    for depth, row in figures["depths"].items():
        print(
            f"  {depth:>5} {row['layer']:>9} {row['share_above']:>6.2f} {row['full_pass_s']:>9.2f}s "
            f"{row['steered_k1_s']:>7.2f}s {row['ratio_k1']:>6.2f} "
            f"{row[f'steered_k{k_max}_s']:>7.1f}s {row[f'ratio_k{k_max}']:>11.2f} "
            f"{row['max_abs_delta']:>9.1e}"
        )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(STACKS))
    parser.add_argument("--stacks", nargs="*", help="only these stack:modality pairs")
    parser.add_argument("--items", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--k", type=int, default=22, help="vectors of one layer (alphas + nulls)")
    parser.add_argument("--clock", choices=list(CLOCKS), default="cpu")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = CLOCKS[args.clock]
    torch.set_num_threads(min(2, torch.get_num_threads()))
    items = Items(args.items)
    print(
        f"{args.items} items of the concepts probe set ({LANGUAGE}), batches of "
        f"{args.batch_size}, {torch.get_num_threads()} threads, {args.clock} time (the least "
        f"of 2 runs for K=1 and of 3 for a full pass); ratios: steered time over the "
        f"time of the same number of full hooked passes ('above': the stack's share above the hook)"
    )
    figures, worst = {}, 0.0
    for model in args.models:
        adapter, name = load(model)
        for stack, modality in STACKS.get(model, [(None, "text")]):
            if args.stacks and f"{stack}:{modality}" not in args.stacks:
                continue
            got = measure(adapter, stack, modality, items, args.batch_size, args.k)
            figures[f"{name} {stack} {modality}"] = got
            report(name, stack, modality, got, args.k)
            worst = max([worst, *(r["max_abs_delta"] for r in got["depths"].values())])
    print(f"\nlargest |delta| from the full hooked passes: {worst:.1e} (target <= 1e-5)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2)
    return 0 if worst <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())

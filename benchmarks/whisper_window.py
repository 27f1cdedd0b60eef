"""Whisper's cropped encoder window against the faithful 30 s one: speed and fidelity.

Synthesises 16 sentences with espeak-ng, runs them through the Whisper adapter with
`window="full"` (every clip padded to 30 s, as Whisper was trained) and `window="cropped"` (mel
features cut to the longest clip of the length-sorted batch), and prints the speed ratio and, per
layer, the cosine between the two settings' pooled (masked-mean) representations of each clip.

    python benchmarks/whisper_window.py [--model openai/whisper-base] [--batch-size 8] [--json out.json]

Uses the tiny random-weight Whisper (and says so) when the real model cannot be loaded.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import resample_poly

from benchmark.models import load_adapter
from benchmark.models.base import SAMPLE_RATE, BatchInputs
from benchmark.models.whisper import WhisperAdapter

# Articles of the Universal Declaration of Human Rights (free of copyright), Spanish, of varied length.
SENTENCES = [
    "Todos los seres humanos nacen libres e iguales en dignidad y derechos.",
    "Todo individuo tiene derecho a la vida, a la libertad y a la seguridad de su persona.",
    "Nadie estará sometido a esclavitud ni a servidumbre.",
    "Nadie será sometido a torturas ni a penas o tratos crueles, inhumanos o degradantes.",
    "Todo ser humano tiene derecho, en todas partes, al reconocimiento de su personalidad jurídica.",
    "Todos son iguales ante la ley y tienen, sin distinción, derecho a igual protección de la ley.",
    "Nadie podrá ser arbitrariamente detenido, preso ni desterrado.",
    "Toda persona tiene derecho a circular libremente y a elegir su residencia en el territorio de un Estado.",
    "Toda persona tiene derecho a una nacionalidad.",
    "Los hombres y las mujeres, a partir de la edad núbil, tienen derecho, sin restricción alguna por "
    "motivos de raza, nacionalidad o religión, a casarse y fundar una familia.",
    "Toda persona tiene derecho a la propiedad, individual y colectivamente.",
    "Toda persona tiene derecho a la libertad de pensamiento, de conciencia y de religión.",
    "Toda persona tiene derecho a la libertad de reunión y de asociación pacíficas.",
    "Toda persona tiene derecho al trabajo, a la libre elección de su trabajo, a condiciones "
    "equitativas y satisfactorias de trabajo y a la protección contra el desempleo.",
    "Toda persona tiene derecho a la educación.",
    "Toda persona tiene deberes respecto a la comunidad, puesto que solo en ella puede desarrollar "
    "libre y plenamente su personalidad.",
]


def synthesise(text: str, voice: str = "es") -> np.ndarray:
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed (apt-get install espeak-ng)")
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True
    ).stdout
    audio, rate = sf.read(io.BytesIO(wav), dtype="float32")
    return resample_poly(audio, SAMPLE_RATE, rate).astype(np.float32)  # 22,050 -> 16,000 Hz


def load(model_id: str) -> tuple[WhisperAdapter, str]:
    try:
        return load_adapter(model_id), model_id
    except Exception as err:  # no offline copy / no Hub: fall back to a tiny random model
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from tiny_models import build_tiny_whisper  # the tests' tiny-model builders

        print(f"[{model_id} unavailable: {type(err).__name__}: {str(err)[:120]}]")
        print("[using the tiny random-weight Whisper instead: timings and cosines are not real]")
        path = build_tiny_whisper(tempfile.mkdtemp(prefix="tiny-whisper-"))
        return load_adapter(str(path)), "tiny-random-whisper"


def run(adapter, clips, order, batch_size) -> tuple[float, dict[str, np.ndarray]]:
    """Seconds taken, and {layer: [n_clips, D] masked-mean pooled states} in clip order."""
    pooled: dict[str, np.ndarray] = {}
    start = time.perf_counter()
    for b in range(0, len(order), batch_size):
        idx = order[b : b + batch_size]
        states = adapter.forward(BatchInputs("speech", "es_419", audio=[clips[i] for i in idx]))
        for name, s in states.items():
            mean = (s.hidden * s.mask[..., None]).sum(1) / s.mask.sum(1, keepdim=True)
            pooled.setdefault(name, np.zeros((len(clips), mean.shape[1]), np.float32))[idx] = mean
    return time.perf_counter() - start, pooled


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="openai/whisper-base")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--json", help="also write the numbers here")
    args = parser.parse_args(argv)

    full, name = load(args.model)
    cropped = WhisperAdapter(
        full.model, full.feature_extractor, full.tokenizer, name, settings={"window": "cropped"}
    )
    clips = [synthesise(s) for s in SENTENCES]
    seconds = np.array([len(c) / SAMPLE_RATE for c in clips])
    order = np.argsort(-seconds, kind="stable")  # length-sorted batches, as the extraction does
    print(
        f"{name}: {len(clips)} espeak-ng clips, {seconds.min():.1f}-{seconds.max():.1f} s "
        f"(total {seconds.sum():.0f} s), batch size {args.batch_size}, {torch.get_num_threads()} threads"
    )
    run(cropped, clips, order[: args.batch_size], args.batch_size)  # warm-up
    t_full, p_full = run(full, clips, order, args.batch_size)
    t_crop, p_crop = run(cropped, clips, order, args.batch_size)
    print(f"full {t_full:.2f} s, cropped {t_crop:.2f} s: cropped is {t_full / t_crop:.1f}x faster")

    report = {"model": name, "seconds_full": t_full, "seconds_cropped": t_crop, "layers": {}}
    print(f"{'layer':<12} {'cos min':>8} {'median':>8}")
    for layer in p_full:
        a, b = torch.from_numpy(p_full[layer]), torch.from_numpy(p_crop[layer])
        cos = torch.nn.functional.cosine_similarity(a, b, dim=1).numpy()
        report["layers"][layer] = {"min": float(cos.min()), "median": float(np.median(cos))}
        print(f"{layer:<12} {cos.min():8.4f} {np.median(cos):8.4f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == "__main__":
    main()

"""SONAR (Meta's fairseq2 speech and text encoders into one fixed-size space), behind the optional
extra `sonar` (`pip install 'interlingua-bench[sonar]'`: sonar-space, fairseq2).

SONAR is not in transformers: a model is named by its fairseq2 asset cards,
`sonar:<text encoder>[+<speech encoder>]`, e.g. `sonar:text_sonar_basic_encoder` or
`sonar:text_sonar_basic_encoder+sonar_speech_encoder_eng` (the text encoder's tokenizer card is the
text encoder's). Stacks: `text_encoder` (text) and `speech_encoder` (speech, when a speech card is
given). Layers: "embeddings" (input of layer 1) and "layer_1".."layer_N" of each encoder's
transformer, hooked like every other adapter; masks from fairseq2's batch layout.

The extra cannot share an environment with everything: fairseq2n is a native build for one torch
version (fairseq2n 0.8.1 pins torch 2.9.1; fairseq2 0.8 pins transformers 4.57), so install it in
its own virtual environment with the CPU build of that torch first (from PyTorch's CPU wheel index;
an unpinned install pulls a multi-GB CUDA build). `resolve_sonar` (planning) checks all this
before anything loads and says what is missing. This adapter is written against sonar-space 0.5 / fairseq2 0.8;
it is not exercised by this repository's tests, whose environment cannot install the extra.
"""

from __future__ import annotations

import importlib
import importlib.metadata as metadata
import importlib.util

import numpy as np
import torch

from benchmark.errors import ModelUnavailableError, UsageError
from benchmark.models.base import SAMPLE_RATE, AdapterInfo, BatchInputs
from benchmark.models.common import (
    LayeredAdapter,
    layer_table,
    merge_settings,
    same_positions,
    torch_dtype,
)
from benchmark.models.family import Family, Stack
from benchmark.models.hooks import Positions, Tap, lengths_to_mask
from benchmark.models.registry import register_family

ADAPTER_VERSION = "1"
PREFIX = "sonar:"
DESCRIPTION = (
    "SONAR (fairseq2): speech and text encoders into one fixed-size space. Needs the optional "
    "extra `sonar` (sonar-space, fairseq2), which pins its own torch; model ids are "
    "sonar:<text encoder>[+<speech encoder>], e.g. sonar:text_sonar_basic_encoder+"
    "sonar_speech_encoder_eng"
)
STACKS = {"speech_encoder": Stack(("speech",)), "text_encoder": Stack(("text",))}
DEFAULTS = {"dtype": "float32", "source_lang": ""}  # "" = from the probe language (FLORES code)
INSTALL = (
    "install the CPU build of the torch version fairseq2n names (torch 2.9.1 for fairseq2n 0.8.1) "
    "and torchaudio in a separate virtual environment, then pip install "
    "'interlingua-bench[sonar]'"
)
# FLEURS language prefix -> the script of its FLORES-200 code (Latn when not listed)
SCRIPTS = {
    "ar": "Arab", "fa": "Arab", "ur": "Arab", "ps": "Arab", "sd": "Arab", "ckb": "Arab",
    "cmn": "Hans", "yue": "Hant", "ja": "Jpan", "ko": "Hang", "ru": "Cyrl", "uk": "Cyrl",
    "be": "Cyrl", "bg": "Cyrl", "mk": "Cyrl", "sr": "Cyrl", "kk": "Cyrl", "ky": "Cyrl",
    "tg": "Cyrl", "mn": "Cyrl", "hi": "Deva", "mr": "Deva", "ne": "Deva", "bn": "Beng",
    "as": "Beng", "el": "Grek", "he": "Hebr", "th": "Thai", "ka": "Geor", "hy": "Armn",
    "am": "Ethi", "km": "Khmr", "lo": "Laoo", "my": "Mymr", "ta": "Taml", "te": "Telu",
    "kn": "Knda", "ml": "Mlym", "gu": "Gujr", "pa": "Guru", "or": "Orya", "si": "Sinh",
}  # fmt: skip


def extra_problem() -> str | None:
    """Why the `sonar` extra cannot be used here, or None when it can."""
    missing = [m for m in ("sonar", "fairseq2") if importlib.util.find_spec(m) is None]
    if missing:
        return f"the optional extra `sonar` is not installed ({', '.join(missing)} missing)"
    wanted = [r for r in (metadata.requires("fairseq2n") or []) if r.startswith("torch")]
    try:
        importlib.import_module("sonar.inference_pipelines.text")
    except Exception as err:  # a native build for another torch fails here
        found = f"torch {torch.__version__}"
        need = f"; fairseq2n requires {', '.join(wanted)}" if wanted else ""
        return f"the `sonar` extra is installed but does not import ({err}; this has {found}{need})"
    return None


def resolve_sonar(model_id: str, revision=None):
    """`sonar:<cards>` as a resolved model, or a clear refusal when the extra is absent or
    unusable."""
    from benchmark.models.resolved import ResolvedModel

    if not model_id.startswith(PREFIX) or not model_id[len(PREFIX) :]:
        raise UsageError(
            f"{model_id}: SONAR models are named sonar:<text encoder card>[+<speech encoder card>],"
            " e.g. sonar:text_sonar_basic_encoder+sonar_speech_encoder_eng"
        )
    problem = extra_problem()
    if problem is not None:
        raise ModelUnavailableError(
            f"{model_id}: SONAR needs fairseq2, and {problem}. To use it, {INSTALL}."
        )
    version = metadata.version("sonar-space")
    return ResolvedModel(model_id, revision or f"sonar-space=={version}", "sonar", None)


def read_sonar_config(model_id: str, revision=None) -> dict:
    """What a SONAR plan records as its config (there is no transformers config)."""
    text, _, speech = model_id[len(PREFIX) :].partition("+")
    return {"family_description": DESCRIPTION, "text_card": text, "speech_card": speech or None}


def plan_sonar_stacks(model_id: str, config) -> dict[str, Stack]:
    """The text encoder, and the speech encoder when the id names one (`+<card>`)."""
    stacks = {"text_encoder": STACKS["text_encoder"]}
    if "+" in model_id[len(PREFIX) :]:
        stacks = {"speech_encoder": STACKS["speech_encoder"], **stacks}
    return stacks


def flores_code(code: str) -> str:
    from benchmark.models.common import fleurs_prefix
    from benchmark.models.seamless import SEAMLESS_CODES

    prefix = fleurs_prefix(code)
    return f"{SEAMLESS_CODES.get(prefix, prefix)}_{SCRIPTS.get(prefix, 'Latn')}"


class SonarAdapter(LayeredAdapter):
    def __init__(self, text_pipeline, speech_pipeline, model_id: str, settings=None):
        super().__init__()
        self.settings = merge_settings("sonar", DEFAULTS, settings)
        self.model_id = model_id
        self.text = text_pipeline
        self.speech = speech_pipeline
        self.stacks = {"text_encoder": ("text",)}
        text_tap = Tap()
        layers = text_pipeline.model.encoder.layers
        self._tables = {"text_encoder": layer_table(text_tap, layers)}
        self._taps = {"text_encoder": [(text_tap, layers[0])]}
        self._runners = {("text_encoder", "text"): self._text}
        if speech_pipeline is not None:
            self.stacks = {"speech_encoder": ("speech",), **self.stacks}
            speech_tap = Tap()
            layers = speech_pipeline.model.encoder.layers
            self._tables["speech_encoder"] = layer_table(speech_tap, layers)
            self._taps["speech_encoder"] = [(speech_tap, layers[0])]
            self._runners[("speech_encoder", "speech")] = self._speech
        self.info = AdapterInfo("sonar", ADAPTER_VERSION, {**self.settings, "cards": model_id})

    def replay_prefix(self, modality, stack=None) -> None:
        """fairseq2's layers are not replayed (untested here): steered passes run in full."""
        self.resolve_stack(modality, stack)
        return None

    def _run(self, pipeline, stack: str, data) -> dict[str, Positions]:
        from sonar.inference_pipelines.utils import extract_sequence_batch

        seqs, layout = extract_sequence_batch(data, pipeline.device)
        out = pipeline.model(seqs, layout)
        lengths = torch.as_tensor(out.encoded_seqs_layout.seq_lens)
        mask = lengths_to_mask(lengths, out.encoded_seqs.shape[1])
        return same_positions(self._tables[stack], mask)

    def _text(self, batch: BatchInputs) -> dict[str, Positions]:
        from fairseq2.data import Collater

        lang = self.settings["source_lang"] or flores_code(batch.language)
        encode = self.text.tokenizer.create_encoder(lang=lang, device=self.text.device)
        tokens = [encode(t) for t in batch.texts]
        return self._run(
            self.text, "text_encoder", Collater(self.text.tokenizer.vocab_info.pad_idx)(tokens)
        )

    def _speech(self, batch: BatchInputs) -> dict[str, Positions]:
        from fairseq2.data import Collater

        fbanks = [
            self.speech.convert_to_fbank(
                {"waveform": torch.from_numpy(np.asarray(a, np.float32)).reshape(-1, 1),
                 "sample_rate": float(SAMPLE_RATE)}
            )["fbank"]
            for a in batch.audio
        ]  # fmt: skip
        return self._run(
            self.speech, "speech_encoder", Collater(pad_value=0, pad_to_multiple=2)(fbanks)
        )


def load_sonar(source: str, model_id: str, revision=None, device="cpu", settings=None, **kw):
    problem = extra_problem()
    if problem is not None:
        raise ModelUnavailableError(f"{model_id}: {problem}. To use SONAR, {INSTALL}.")
    from sonar.inference_pipelines.speech import SpeechToEmbeddingModelPipeline
    from sonar.inference_pipelines.text import TextToEmbeddingModelPipeline

    merged = merge_settings("sonar", DEFAULTS, settings)
    dtype = torch_dtype("sonar", merged["dtype"])
    text_card, _, speech_card = source[len(PREFIX) :].partition("+")
    dev = torch.device(device)
    text = TextToEmbeddingModelPipeline(text_card, text_card, device=dev, dtype=dtype)
    speech = SpeechToEmbeddingModelPipeline(speech_card, device=dev) if speech_card else None
    return SonarAdapter(text, speech, model_id, settings)


FAMILY = register_family(
    Family(
        name="sonar",
        description=DESCRIPTION,
        version=ADAPTER_VERSION,
        stacks=STACKS,
        load=load_sonar,
        defaults=DEFAULTS,
        id_prefix=PREFIX,
        resolve=resolve_sonar,
        read_config=read_sonar_config,
        plan_stacks=plan_sonar_stacks,
        random_init=False,
    )
)

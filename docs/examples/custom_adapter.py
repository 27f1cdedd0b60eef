"""A custom adapter: a SALMONN-style speech LLM that transformers does not have.

SALMONN (Tang et al., 2024) feeds a Whisper encoder's frames, grouped in windows by a Q-Former, into
a Vicuna LLM through a projection. This file plugs a model of that shape into Interlingua Bench
through the adapter interface (benchmark/models/base.py), in the three steps docs/models.md
describes:

1. An adapter class (here on `LayeredAdapter`): declare `stacks`, give each stack a table of named
   layer modules (a `Tap` for the input of layer 1), one runner per (stack, modality) that runs
   the model and returns each layer's `Positions` (mask, frame_seconds, char_spans), and an output
   head for the stack that predicts tokens.
2. A loader `load_*(source, model_id, revision, device, settings, **kw)` (and `read_config` when
   transformers cannot read the config).
3. `register_family(Family(...))` (benchmark/models/family.py): the family's name, its stacks with
   their roles (the modalities each takes, which has an output head), its settings' defaults, its
   version, the loader and `read_config`. It runs when the module is imported: from Python, import
   it; from the
   command line, name it in $INTERLINGUA_ADAPTERS and pick the family with
   `--model-setting family=toy_salmonn`:

       INTERLINGUA_ADAPTERS=custom_adapter PYTHONPATH=docs/examples \\
           interlingua run --model /path/to/toy-salmonn --model-setting family=toy_salmonn ...

The toy model here is small and random (`build_toy_salmonn`): a Whisper encoder, windows of 4
frames averaged (SALMONN's window-level Q-Former, simplified), a linear projection and a Llama-style
LLM, each saved in its own folder. A real SALMONN adapter keeps the same structure and loads
SALMONN's own checkpoint (Whisper + BEATs + Q-Former + Vicuna) in `load_toy_salmonn`'s place.
tests/test_models_custom.py imports this file and runs it end to end.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from torch import nn

from benchmark.models import Family, Stack, register_family
from benchmark.models.base import SAMPLE_RATE, AdapterInfo, BatchInputs
from benchmark.models.common import (
    LayeredAdapter,
    layer_table,
    merge_settings,
    same_positions,
    torch_dtype,
)
from benchmark.models.decoder_lm import encode_prompts, find_decoder_parts, lm_head
from benchmark.models.hooks import Positions, Tap, lengths_to_mask

ADAPTER_VERSION = "1"
DEFAULTS = {
    "prompt_template": "{text}",  # text through the LLM
    "speech_prefix": "Audio:",  # written before the audio positions (SALMONN's prompt, shortened)
    "window": 4,  # encoder frames per LLM position (0.08 s)
    "dtype": "float32",
}
FAMILY = "toy_salmonn"


class ToySalmonnAdapter(LayeredAdapter):
    stacks = {"speech_encoder": ("speech",), "llm": ("text", "speech")}

    def __init__(self, whisper, projector, llm, feature_extractor, tokenizer, model_id, settings):
        super().__init__()
        self.settings = merge_settings(FAMILY, DEFAULTS, settings)
        self.model_id = model_id
        self.encoder = whisper.get_encoder().eval()
        self.projector = projector.eval()
        self.llm = llm.eval()
        self.feature_extractor = feature_extractor
        self.tokenizer = tokenizer
        self.base, _, llm_layers, self.final_norm = find_decoder_parts(llm)
        self.device = next(llm.parameters()).device
        # 1. each stack: named layer modules; a Tap is spliced in front of layer 1 during a pass
        speech_tap, llm_tap = Tap(), Tap()
        self._tables = {
            "speech_encoder": layer_table(speech_tap, self.encoder.layers),
            "llm": layer_table(llm_tap, llm_layers),
        }
        self._taps = {
            "speech_encoder": [(speech_tap, self.encoder.layers[0])],
            "llm": [(llm_tap, llm_layers[0])],
        }
        # ... a runner per (stack, modality), and the output head of the stack with a vocabulary
        self._runners = {
            ("speech_encoder", "speech"): self._speech_encoder,
            ("llm", "text"): self._llm_text,
            ("llm", "speech"): self._llm_speech,
        }
        self._heads = {
            "llm": lambda: lm_head(self.llm, self.llm.config, self.final_norm, tokenizer)
        }
        self.info = AdapterInfo(FAMILY, ADAPTER_VERSION, {**self.settings, "toy": True})

    def _encode(self, batch: BatchInputs) -> tuple[torch.Tensor, torch.Tensor]:
        """Whisper's encoder on 30 s windows: (its output, the real frames' lengths)."""
        audio = [np.asarray(a, dtype=np.float32).reshape(-1) for a in batch.audio]
        features = self.feature_extractor(audio, sampling_rate=SAMPLE_RATE, return_tensors="pt")
        lengths = torch.tensor([-(-len(a) // 320) for a in audio])  # 50 frames per second
        out = self.encoder(features.input_features.to(self.device)).last_hidden_state
        return out, lengths

    def _speech_encoder(self, batch: BatchInputs) -> dict[str, Positions]:
        _, lengths = self._encode(batch)
        mask = lengths_to_mask(lengths, self.encoder.config.max_source_positions)
        return same_positions(self._tables["speech_encoder"], mask, frame_seconds=0.02)

    def _llm_speech(self, batch: BatchInputs) -> dict[str, Positions]:
        encoded, lengths = self._encode(batch)
        w = self.settings["window"]
        n = -(-lengths // w)  # windows holding real frames
        windows = encoded[:, : int(n.max()) * w].unflatten(1, (-1, w)).mean(2)
        audio = self.projector(windows)  # [B, W, D_llm]
        prefix = self.tokenizer(self.settings["speech_prefix"], add_special_tokens=False).input_ids
        embed = self.llm.get_input_embeddings()
        prompt = embed(torch.tensor(prefix, device=self.device))
        width = len(prefix) + int(n.max())
        inputs = audio.new_zeros((len(n), width, audio.shape[-1]))
        attention = torch.zeros((len(n), width), dtype=torch.long)
        mask = torch.zeros((len(n), width), dtype=torch.bool)
        for i, count in enumerate(n.tolist()):
            inputs[i, : len(prefix)] = prompt
            inputs[i, len(prefix) : len(prefix) + count] = audio[i, :count]
            attention[i, : len(prefix) + count] = 1
            mask[i, len(prefix) : len(prefix) + count] = True  # the audio positions
        self.base(inputs_embeds=inputs, attention_mask=attention.to(self.device), use_cache=False)
        return same_positions(self._tables["llm"], mask, frame_seconds=0.02 * w)

    def _llm_text(self, batch: BatchInputs) -> dict[str, Positions]:
        input_ids, attention, mask, spans = encode_prompts(
            self.tokenizer, list(batch.texts), self.settings["prompt_template"], True, 4096, FAMILY
        )
        self.base(
            input_ids=input_ids.to(self.device),
            attention_mask=attention.to(self.device),
            use_cache=False,
        )
        return same_positions(self._tables["llm"], mask, char_spans=spans)


# 2. the loader, and the config reader for a checkpoint transformers does not know


def read_config(source: str, revision: str | None = None) -> SimpleNamespace:
    config = json.loads((Path(source) / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != FAMILY:
        raise ValueError(
            f"{source}: not a {FAMILY} checkpoint (model_type {config.get('model_type')!r})"
        )
    return SimpleNamespace(**config)


def load_toy_salmonn(source, model_id, revision=None, device="cpu", settings=None, **kw):
    from safetensors.torch import load_file
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        WhisperFeatureExtractor,
        WhisperForConditionalGeneration,
    )

    merged = merge_settings(FAMILY, DEFAULTS, settings)
    dtype = torch_dtype(FAMILY, merged["dtype"])
    config = read_config(source)
    root = Path(source)
    whisper = WhisperForConditionalGeneration.from_pretrained(
        root / config.speech_encoder, dtype=dtype
    )
    llm = AutoModelForCausalLM.from_pretrained(root / config.llm, dtype=dtype)
    projector = nn.Linear(whisper.config.d_model, llm.config.hidden_size)
    projector.load_state_dict(load_file(root / "projector.safetensors"))
    if kw.get("random_init") is not None:  # the random-weights control
        torch.manual_seed(kw["random_init"])
        for module in (whisper, llm, projector):
            for param in module.parameters():
                nn.init.normal_(param, std=0.02)
    feature_extractor = WhisperFeatureExtractor.from_pretrained(root / config.speech_encoder)
    tokenizer = AutoTokenizer.from_pretrained(root / config.llm)
    return ToySalmonnAdapter(
        whisper.to(device, dtype),
        projector.to(device, dtype),
        llm.to(device),
        feature_extractor,
        tokenizer,
        model_id,
        settings,
    )


def build_toy_salmonn(path: str | Path, seed: int = 0) -> Path:
    """A random toy checkpoint: speech_encoder/ (Whisper), llm/ (Llama-style), projector. Built
    with the tests' tiny-model builders (tests/tiny_models.py, on the path when tests run)."""
    from safetensors.torch import save_file
    from tiny_models import build_tiny_decoder_lm, build_tiny_whisper

    path = Path(path)
    build_tiny_whisper(path / "speech_encoder", seed=seed)
    build_tiny_decoder_lm(path / "llm", "llama", seed=seed)
    torch.manual_seed(seed)
    projector = nn.Linear(32, 32)
    save_file(
        {k: v.contiguous() for k, v in projector.state_dict().items()},
        path / "projector.safetensors",
    )
    config = {"model_type": FAMILY, "speech_encoder": "speech_encoder", "llm": "llm"}
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    return path


# 3. registration (on import)

LAYERS = "embeddings (input of layer 1), layer_1 .. layer_N"
register_family(
    Family(
        name=FAMILY,
        description="Toy SALMONN-style speech LLM (docs/examples/custom_adapter.py): Whisper "
        "encoder, windows of frames projected into a Llama-style LLM",
        version=ADAPTER_VERSION,
        stacks={
            "speech_encoder": Stack(("speech",), layers=LAYERS),
            "llm": Stack(
                ("text", "speech"), head=True, layers=LAYERS + " (speech: the audio windows)"
            ),
        },
        load=load_toy_salmonn,
        defaults=DEFAULTS,
        model_types=(FAMILY,),
        read_config=read_config,
    )
)

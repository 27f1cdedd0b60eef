"""What every adapter shares: settings checks, loading (dtype, device, device_map, random-init
controls), and the stack -> layer-name -> module tables with the hooked forward pass."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from benchmark.core import MODALITIES
from benchmark.errors import UsageError, did_you_mean
from benchmark.models.base import AdapterInfo, BatchInputs, LayerStates, Modality, OutputHead
from benchmark.models.hooks import Positions, Tap, capture, finalize, forward_mode

POOLINGS = ("mean", "first", "last", "max")
# Settings every family takes. They enter a model's settings (and so its keys) only when given, so
# the keys of runs that do not use them stay as they were.
COMMON_SETTINGS = {
    # accelerate's placement of a model larger than one device: "auto" (or balanced, sequential)
    "device_map": None,
    # {modality: stack}: the stack each modality goes through when a task names none
    "stacks": None,
    # the pooling of this model's sentence vectors, instead of each task's (e.g. "last" for a
    # decoder LM read at the end of a prompt)
    "pooling": None,
}
DEVICE_MAPS = ("auto", "balanced", "balanced_low_0", "sequential")


def check_common(family: str, key: str, value: Any) -> None:
    """Raise UsageError if a common setting's value is not usable (stacks are checked against the
    family's stacks in `check_stacks`)."""
    where = f"{family} adapter settings"
    if key == "device_map" and not (value in DEVICE_MAPS or isinstance(value, dict)):
        raise UsageError(
            f"{where}: device_map must be one of {', '.join(DEVICE_MAPS)} or a "
            f"{{module: device}} mapping, got {value!r}"
        )
    if key == "dtype" and value not in DTYPES:
        raise UsageError(f"{where}: dtype must be one of {', '.join(DTYPES)}, got {value!r}")
    if key == "pooling" and value not in POOLINGS:
        raise UsageError(f"{where}: pooling must be one of {', '.join(POOLINGS)}, got {value!r}")
    if key == "stacks" and not (
        isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    ):
        raise UsageError(
            f'{where}: stacks must map modalities to stack names, e.g. {{"speech": "decoder"}}, '
            f"got {value!r}"
        )


def check_stacks(family: str, stacks: dict[str, tuple], chosen: dict | None) -> None:
    """The `stacks` setting names, for each modality, a stack of the family that takes it."""
    for modality, stack in (chosen or {}).items():
        if modality not in MODALITIES:
            raise UsageError(f"{family} adapter settings: stacks: unknown modality {modality!r}")
        if stack not in stacks:
            raise UsageError(
                f"{family} adapter settings: stacks: " + did_you_mean("stack", stack, list(stacks))
            )
        if modality not in stacks[stack]:
            raise UsageError(
                f"{family} adapter settings: stacks: stack {stack!r} takes "
                f"{', '.join(stacks[stack])}, not {modality}"
            )


def merge_settings(family: str, defaults: dict[str, Any], given: dict | None) -> dict[str, Any]:
    """`defaults` updated with `given`; an unknown key or a value of the wrong type raises.
    Common settings (COMMON_SETTINGS) are accepted for every family, and kept only when given."""
    given = dict(given or {})
    merged = dict(defaults)
    for key, value in given.items():
        if key in COMMON_SETTINGS and key not in defaults:
            if value is not None:
                check_common(family, key, value)
                merged[key] = value
            continue
        if key not in defaults:
            raise UsageError(
                f"{family} adapter settings: "
                + did_you_mean("setting", key, [*defaults, *COMMON_SETTINGS])
            )
        default = defaults[key]
        if default is not None and not isinstance(value, type(default)):
            raise UsageError(
                f"{family} adapter settings: {key!r} must be a {type(default).__name__} "
                f"(default {default!r}), got {value!r}"
            )
        if (key in COMMON_SETTINGS or key == "dtype") and value is not None:
            check_common(family, key, value)  # before any work, not when the model loads
        merged[key] = value
    return merged


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Mute transformers' warnings for a block (e.g. loading one part of a checkpoint reports
    every other part's keys as unexpected)."""
    from transformers.utils import logging as hf_logging

    level = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(level)


DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def torch_dtype(family: str, name: str) -> torch.dtype:
    """The `dtype` setting as a torch dtype (the model is loaded and run in it)."""
    if name not in DTYPES:
        raise UsageError(
            f"{family} adapter settings: dtype must be one of {', '.join(DTYPES)}, got {name!r}"
        )
    return DTYPES[name]


def _need_accelerate(what: str) -> None:
    try:
        import accelerate  # noqa: F401
    except ImportError:
        raise UsageError(f"{what} needs the `accelerate` package: pip install accelerate") from None


def place(model: nn.Module, device: str | None, device_map: Any = None) -> nn.Module:
    """Put a built model where it was asked: across devices with accelerate's `device_map`
    ("auto": as much as fits on each device in turn), else on `device`."""
    if device_map is not None:
        _need_accelerate("device_map")
        from accelerate import dispatch_model, infer_auto_device_map

        if not isinstance(device_map, dict):
            no_split = getattr(model, "_no_split_modules", None) or []
            device_map = infer_auto_device_map(model, no_split_module_classes=list(no_split))
        return dispatch_model(model, device_map=device_map)
    return model.to(device) if device is not None else model


def load_checked(
    cls,
    source: str,
    optional: tuple[str, ...] = (),
    random_init: int | None = None,
    device: str | None = None,
    device_map: Any = None,
    **kwargs,
) -> nn.Module:
    """`cls.from_pretrained(source, **kwargs)` in the dtype asked (`dtype=`), with low CPU memory
    use, on `device` (or spread by `device_map`, e.g. "auto", through accelerate), raising if any
    weight is missing from the checkpoint (transformers would initialise it at random and only log
    a report). Weights whose names start with one of `optional` (e.g. an unused pooler) may be
    missing.

    `random_init=SEED` builds the same architecture from its config with the library's own
    random initialisation, seeded: the control that shows what architecture and probes give
    before any training."""
    if random_init is not None:
        from transformers import AutoConfig

        config_kwargs = {k: v for k, v in kwargs.items() if k in ("revision", "trust_remote_code")}
        config = AutoConfig.from_pretrained(source, **config_kwargs)
        torch.manual_seed(random_init)
        extra = {"trust_remote_code": True} if kwargs.get("trust_remote_code") else {}
        build = getattr(cls, "_from_config", None) or cls.from_config  # Auto classes: from_config
        with quiet_transformers():
            model = build(config, dtype=kwargs.get("dtype"), **extra)
            _keep_generation_config(model, source, config_kwargs)
        return place(model.eval(), device, device_map)
    if device_map is not None:
        _need_accelerate("device_map")
        kwargs["device_map"] = device_map
    with quiet_transformers():
        model, info = cls.from_pretrained(
            source, output_loading_info=True, low_cpu_mem_usage=True, **kwargs
        )
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(optional))
    if missing:
        raise ValueError(
            f"{source}: the checkpoint lacks {len(missing)} weights of {cls.__name__} "
            f"(e.g. {', '.join(missing[:3])}); it does not match the model its config describes"
        )
    if device_map is None and device is not None:
        model = model.to(device)
    return model.eval()


def _keep_generation_config(model: nn.Module, source: str, config_kwargs: dict) -> None:
    """A control differs from its model in the weights only: it keeps the checkpoint's generation
    config where it has one (built from the model config, an English-only Whisper would lose its
    `is_multilingual: false` and be prompted as a multilingual one)."""
    if getattr(model, "generation_config", None) is None:
        return
    from transformers import GenerationConfig

    # a checkpoint without one keeps the generation config built from its model config
    with contextlib.suppress(OSError):
        model.generation_config = GenerationConfig.from_pretrained(source, **config_kwargs)


def read_weight(source: str, name: str, revision: str | None = None) -> torch.Tensor:
    """One tensor of a safetensors checkpoint (single file or sharded with an index), by name."""
    import json
    from pathlib import Path

    from safetensors import safe_open

    def fetch(filename: str) -> Path:
        local = Path(source) / filename
        if local.is_file() or Path(source).is_dir():
            return local
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(source, filename, revision=revision))

    filename = "model.safetensors"
    try:
        index = fetch("model.safetensors.index.json")
    except Exception:  # a single-file checkpoint on the Hub has no index
        index = None
    if index is not None and index.is_file():
        filename = json.loads(index.read_text())["weight_map"].get(name, filename)
    with safe_open(str(fetch(filename)), framework="pt") as handle:
        names = set(handle.keys())
        if name not in names:
            raise ValueError(f"{source}: the checkpoint has no weight {name!r}")
        return handle.get_tensor(name)


def input_device(model: nn.Module) -> torch.device:
    """Where a model's inputs go: its input embeddings' device (the first device of a model
    spread by a device_map), else its first parameter's."""
    try:
        embeddings = model.get_input_embeddings()
    except (AttributeError, NotImplementedError):
        embeddings = None
    weight = getattr(embeddings, "weight", None)
    if isinstance(weight, torch.Tensor):
        return weight.device
    return next(model.parameters()).device


def fleurs_prefix(code: str) -> str:
    """The language part of a FLEURS code: "es_419" -> "es", "cmn_hans_cn" -> "cmn"."""
    return code.strip().lower().replace("-", "_").split("_")[0]


def layer_table(embeddings: nn.Module, layers: nn.ModuleList) -> dict[str, nn.Module]:
    """{"embeddings": ..., "layer_1": layers[0], ...}."""
    table = {"embeddings": embeddings}
    table.update({f"layer_{i}": layer for i, layer in enumerate(layers, start=1)})
    return table


def same_positions(
    names, mask: torch.Tensor, frame_seconds: float | None = None, char_spans=None
) -> dict[str, Positions]:
    """One `Positions` shared by every layer in `names`."""
    where = Positions(mask=mask, frame_seconds=frame_seconds, char_spans=char_spans)
    return dict.fromkeys(names, where)


Runner = Callable[[BatchInputs], dict[str, Positions]]


class LayeredAdapter:
    """Base of the adapters. A subclass declares `stacks` ({stack: modalities}) and fills, per
    stack, `_tables` ({name: module}), `_taps` ([(tap, layer it feeds)]) and `_runners`
    ({(stack, modality): run(batch) -> {layer: Positions}}), and `_heads` ({stack: build the
    OutputHead}) for stacks that predict tokens."""

    info: AdapterInfo
    model_id: str
    stacks: dict[str, tuple[Modality, ...]] = {}
    settings: dict = {}
    resolved: Any = None

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, nn.Module]] = {}
        self._taps: dict[str, list[tuple[Tap, nn.Module]]] = {}
        self._runners: dict[tuple[str, str], Runner] = {}
        self._heads: dict[str, Callable[[], OutputHead]] = {}

    @property
    def modalities(self) -> tuple[Modality, ...]:
        seen: list[Modality] = []
        for modalities in self.stacks.values():
            seen += [m for m in modalities if m not in seen]
        return tuple(seen)

    def _check_modality(self, modality: str) -> None:
        if modality not in self.modalities:
            raise ValueError(
                f"{self.model_id} ({self.info.family}) has no {modality!r} modality; "
                f"it has {', '.join(self.modalities)}"
            )

    def default_stack(self, modality: Modality) -> str:
        self._check_modality(modality)
        chosen = (self.settings.get("stacks") or {}).get(modality)
        if chosen:
            return chosen
        return next(name for name, mods in self.stacks.items() if modality in mods)

    def resolve_stack(self, modality: Modality, stack: str | None) -> str:
        """`stack`, or the modality's default; raises if the stack does not take the modality."""
        if stack is None:
            return self.default_stack(modality)
        self._check_modality(modality)
        if stack not in self.stacks:
            raise KeyError(f"{self.model_id}: " + did_you_mean("stack", stack, list(self.stacks)))
        if modality not in self.stacks[stack]:
            raise ValueError(
                f"{self.model_id}: stack {stack!r} takes {', '.join(self.stacks[stack])}, "
                f"not {modality}"
            )
        return stack

    def layer_names(self, modality: Modality, stack: str | None = None) -> list[str]:
        return list(self._tables[self.resolve_stack(modality, stack)])

    def layer_module(self, modality: Modality, name: str, stack: str | None = None) -> nn.Module:
        stack = self.resolve_stack(modality, stack)
        table = self._tables[stack]
        if name not in table:
            raise KeyError(
                f"{self.model_id} {stack} ({modality}): " + did_you_mean("layer", name, list(table))
            )
        return table[name]

    def output_head(self, stack: str | None = None) -> OutputHead | None:
        if stack is not None and stack not in self.stacks:
            raise KeyError(f"{self.model_id}: " + did_you_mean("stack", stack, list(self.stacks)))
        if stack is None:
            stack = next(iter(self._heads), None)
        build = self._heads.get(stack) if stack is not None else None
        return build() if build is not None else None

    def replay_prefix(self, modality: Modality, stack: str | None = None) -> list[nn.Module] | None:
        """Modules before the stack's layers that steered passes replay (see base.py): none by
        default, the layers alone are replayed."""
        self.resolve_stack(modality, stack)
        return []

    def replay_shared(self, modality: Modality, stack: str | None = None) -> list[nn.Module]:
        """Modules that read only the replayed prefix, row by row (see base.py): none here."""
        self.resolve_stack(modality, stack)
        return []

    def forward(self, batch: BatchInputs) -> dict[str, LayerStates]:
        stack = self.resolve_stack(batch.modality, batch.stack)
        items = batch.texts if batch.modality == "text" else batch.audio
        if items is None or len(items) == 0:
            field = "texts" if batch.modality == "text" else "audio"
            raise ValueError(
                f"{self.model_id}: a {batch.modality} batch needs a non-empty `{field}`"
            )
        run = self._runners[(stack, batch.modality)]
        table = self._tables[stack]
        if batch.layers is not None:
            table = {name: self.layer_module(batch.modality, name, stack) for name in batch.layers}
        with forward_mode(), capture(table, self._taps.get(stack, [])) as got:
            positions = run(batch)
            return finalize(got, positions, list(table), self.model_id)

    def transcripts(self, batch: BatchInputs, stack: str) -> list[str]:
        """The transcripts of a speech batch, for a stack that teacher-forces them."""
        texts = list(batch.texts or [])
        if len(texts) != len(batch.audio):
            raise ValueError(
                f"{self.model_id}: the {stack} stack reads each clip's transcript teacher-forced; "
                f"pass `texts` ({len(texts)} given) with the {len(batch.audio)} clips"
            )
        return texts

"""What every adapter shares: the layer-name -> module table, settings checks, hooked forward."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from benchmark.errors import UsageError, did_you_mean
from benchmark.models.base import AdapterInfo, BatchInputs, LayerStates, Modality
from benchmark.models.hooks import Tap, capture, finalize


def merge_settings(family: str, defaults: dict[str, Any], given: dict | None) -> dict[str, Any]:
    """`defaults` updated with `given`; an unknown key or a value of the wrong type raises."""
    given = dict(given or {})
    merged = dict(defaults)
    for key, value in given.items():
        if key not in defaults:
            raise UsageError(
                f"{family} adapter settings: " + did_you_mean("setting", key, list(defaults))
            )
        default = defaults[key]
        if default is not None and not isinstance(value, type(default)):
            raise UsageError(
                f"{family} adapter settings: {key!r} must be a {type(default).__name__} "
                f"(default {default!r}), got {value!r}"
            )
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
    """The `dtype` setting as a torch dtype (states are returned as float32 whatever it is)."""
    if name not in DTYPES:
        raise ValueError(
            f"{family} adapter settings: dtype must be one of {', '.join(DTYPES)}, got {name!r}"
        )
    return DTYPES[name]


def load_checked(
    cls, source: str, optional: tuple[str, ...] = (), random_init: int | None = None, **kwargs
) -> nn.Module:
    """`cls.from_pretrained(source, **kwargs)`, raising if any weight is missing from the
    checkpoint (transformers would initialise it at random and only log a report). Weights whose
    names start with one of `optional` (e.g. an unused pooler) may be missing.

    `random_init=SEED` builds the same architecture from its config with the library's own
    random initialisation, seeded: the control that shows what architecture and probes give
    before any training."""
    if random_init is not None:
        from transformers import AutoConfig

        config_kwargs = {k: v for k, v in kwargs.items() if k in ("revision", "trust_remote_code")}
        config = AutoConfig.from_pretrained(source, **config_kwargs)
        torch.manual_seed(random_init)
        with quiet_transformers():
            return cls._from_config(config, dtype=kwargs.get("dtype"))
    with quiet_transformers():
        model, info = cls.from_pretrained(source, output_loading_info=True, **kwargs)
    missing = sorted(k for k in info.get("missing_keys", ()) if not k.startswith(optional))
    if missing:
        raise ValueError(
            f"{source}: the checkpoint lacks {len(missing)} weights of {cls.__name__} "
            f"(e.g. {', '.join(missing[:3])}); it does not match the model its config describes"
        )
    return model


def fleurs_prefix(code: str) -> str:
    """The language part of a FLEURS code: "es_419" -> "es", "cmn_hans_cn" -> "cmn"."""
    return code.strip().lower().replace("-", "_").split("_")[0]


def layer_table(embeddings: nn.Module, layers: nn.ModuleList) -> dict[str, nn.Module]:
    """{"embeddings": ..., "layer_1": layers[0], ...}."""
    table = {"embeddings": embeddings}
    table.update({f"layer_{i}": layer for i, layer in enumerate(layers, start=1)})
    return table


class LayeredAdapter:
    """Base of the adapters: subclasses fill `_tables` ({modality: {name: module}}) and `_taps`
    ({modality: [(tap, layer it feeds)]}) and implement `_forward_<modality>`."""

    info: AdapterInfo
    modalities: tuple[Modality, ...]
    model_id: str
    resolved: Any = None

    def __init__(self) -> None:
        self._tables: dict[str, dict[str, nn.Module]] = {}
        self._taps: dict[str, list[tuple[Tap, nn.Module]]] = {}

    def _check_modality(self, modality: str) -> None:
        if modality not in self.modalities:
            raise ValueError(
                f"{self.model_id} ({self.info.family}) has no {modality!r} modality; "
                f"it has {', '.join(self.modalities)}"
            )

    def layer_names(self, modality: Modality) -> list[str]:
        self._check_modality(modality)
        return list(self._tables[modality])

    def layer_module(self, modality: Modality, name: str) -> nn.Module:
        self._check_modality(modality)
        table = self._tables[modality]
        if name not in table:
            raise KeyError(
                f"{self.model_id} {modality}: " + did_you_mean("layer", name, list(table))
            )
        return table[name]

    def forward(self, batch: BatchInputs) -> dict[str, LayerStates]:
        self._check_modality(batch.modality)
        items = batch.texts if batch.modality == "text" else batch.audio
        if items is None or len(items) == 0:
            field = "texts" if batch.modality == "text" else "audio"
            raise ValueError(
                f"{self.model_id}: a {batch.modality} batch needs a non-empty `{field}`"
            )
        run: Callable = getattr(self, f"_forward_{batch.modality}")
        table = self._tables[batch.modality]
        with torch.inference_mode(), capture(table, self._taps.get(batch.modality, [])) as got:
            masks = run(batch)
        return finalize(got, masks, list(table), self.model_id)

"""The family registry: every family's object (benchmark.models.family.Family), and which family
serves a model id or a config.

A family module registers its object when imported (`register_family(Family(...))`); the built-in
modules are imported here on first use, plug-ins through $INTERLINGUA_ADAPTERS (comma-separated
module names) or the `interlingua.families` entry point group. Resolution, in order:
  1. a model id a family claims (`id_prefix`: `sonar:...`, `known:...`);
  2. the config's model_type, then its architectures, in any family's lists;
  3. the families that `accept` a config without listing its type, in increasing `priority`
     (the generic fallback last).
"""

from __future__ import annotations

import importlib
import os
from importlib import metadata

from benchmark.errors import UsageError, did_you_mean
from benchmark.models.family import Family

# The package's family modules (each registers its families, or its models' offline copies, when
# imported), in listing order.
BUILTIN = (
    "benchmark.models.whisper",
    "benchmark.models.whisper_ct2",
    "benchmark.models.seamless",
    "benchmark.models.text_encoder",
    "benchmark.models.text_encoder_offline",
    "benchmark.models.speech_encoder",
    "benchmark.models.decoder_lm",
    "benchmark.models.qwen2_audio",
    "benchmark.models.sonar",
    "benchmark.models.fallback",
    "benchmark.models.known_vectors",
    "benchmark.models.known_head",
    "benchmark.models.known_steer",
)
PLUGINS_ENV = "INTERLINGUA_ADAPTERS"
ENTRY_POINTS = "interlingua.families"

_FAMILIES: dict[str, Family] = {}
_imported: set[str] = set()


def register_family(family: Family) -> Family:
    """Add `family` (from its own module, when imported); returns it. A second family of the same
    name is refused (re-registering the same object is not an error: a module imported twice)."""
    if not isinstance(family, Family):
        raise TypeError(f"register_family takes a benchmark.models.family.Family, got {family!r}")
    known = _FAMILIES.get(family.name)
    if known is not None and known != family:
        raise UsageError(f"a model family named {family.name!r} is already registered")
    _FAMILIES[family.name] = family
    return family


def _import(module: str, where: str) -> None:
    if module in _imported:
        return
    try:
        importlib.import_module(module)
    except ImportError as err:
        raise UsageError(f"{where}: cannot import adapter module {module!r} ({err})") from None
    _imported.add(module)


def load_plugins() -> None:
    """Import the built-in family modules, then the plug-ins: the modules named in
    $INTERLINGUA_ADAPTERS and the `interlingua.families` entry points."""
    for module in BUILTIN:
        _import(module, "built-in families")
    for module in filter(None, (m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(","))):
        _import(module, f"${PLUGINS_ENV}")
    for entry in metadata.entry_points(group=ENTRY_POINTS):
        _import(entry.module, f"entry point {entry.name!r} ({ENTRY_POINTS})")


def families() -> dict[str, Family]:
    """Every registered family by name, built-ins first in their listing order."""
    load_plugins()
    return dict(_FAMILIES)


def get_family(name: str) -> Family:
    """The family called `name`; a UsageError naming the closest ones otherwise."""
    every = families()
    if name not in every:
        raise UsageError(did_you_mean("model family", name, list(every)))
    return every[name]


def family_for_id(model_id: str) -> Family | None:
    """The family that claims `model_id` outright by its prefix (None: resolve it by config)."""
    every = families().values()
    claiming = [f for f in every if f.claims(model_id)]
    if claiming:
        return max(claiming, key=lambda f: len(f.id_prefix or ""))
    scheme = model_id.partition(":")[0] + ":"
    ids = sorted(f.id_prefix for f in every if f.id_prefix and f.id_prefix.startswith(scheme))
    if ":" in model_id and ids:  # `known:interlinga`: a family's scheme, no family's id
        raise UsageError(f"{model_id}: " + did_you_mean("model id", model_id, ids))
    return None


def family_for_config(config) -> Family:
    """The family for a transformers config: from its model_type, then its architectures, then
    the families that accept it without listing it, in increasing priority."""
    every = families()
    model_type = getattr(config, "model_type", None) or ""
    architectures = set(getattr(config, "architectures", None) or [])
    for fam in every.values():
        if model_type in fam.model_types:
            return fam
    for fam in every.values():
        if architectures & set(fam.architectures):
            return fam
    accepting = sorted((f for f in every.values() if f.accepts), key=lambda f: f.priority)
    for fam in accepting:
        if fam.accepts(config):
            return fam
    known = sorted({t for fam in every.values() for t in fam.model_types})
    raise UsageError(
        f"No adapter for model_type {model_type!r} (architectures {sorted(architectures) or 'unknown'}"
        "): no family lists it and no family accepts it (the generic fallback needs a model type "
        "transformers' AutoModel can build). "
        + did_you_mean("model type", model_type, known)
        + " Families: "
        + "; ".join(f"{n} ({', '.join(f.model_types) or '-'})" for n, f in every.items())
        + ". Pass --model-setting family=NAME to force one, or write an adapter (docs/models.md)."
    )

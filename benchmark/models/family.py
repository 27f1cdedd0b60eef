"""A model family: one object per family, declared in the family's own module.

A family knows which checkpoints it serves (model types and architectures in a config, a config
that only it `accepts`, or model ids it claims outright by a prefix such as `name:...`), the
stacks its adapter offers and their roles, its settings with their defaults, its adapter version
(part of every result key) and how to load the adapter. Nothing outside the family's module knows
the family's name: tasks ask for roles (a stack that takes text and speech, a stack with an output
head) and the registry (`benchmark.models.registry`) picks the family from the model's config or
id. A family module registers its object when imported:

    FAMILY = register_family(Family(name="my-family", ...))

Plug-in families (a custom model such as SALMONN) do the same from their own package, found
through $INTERLINGUA_ADAPTERS or the `interlingua.families` entry point group.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from benchmark.core import MODALITIES, Modality

N_LAYERS = "embeddings (input of layer 1), layer_1 .. layer_N"


@dataclass(frozen=True)
class Stack:
    """A set of layers one input passes through (a speech encoder, a text decoder, a language
    model over audio positions), with its roles: the modalities it takes (the first stack that
    lists a modality is that modality's default) and whether it predicts tokens (an output head:
    the logit lens and word steering read it)."""

    takes: tuple[Modality, ...]
    head: bool = False
    layers: str = N_LAYERS  # how its layers are named (`interlingua models list`, docs)

    def __post_init__(self):
        unknown = [m for m in self.takes if m not in MODALITIES]
        if not self.takes or unknown:
            raise ValueError(f"a stack takes one or more of {MODALITIES}, got {self.takes!r}")


Stacks = Mapping[str, Stack]


@dataclass(frozen=True)
class Family:
    """Everything the harness knows about one family of models, before and after loading.

    load(source, *, model_id, revision, device, settings, random_init, trust_remote_code)
        -> the adapter (benchmark.models.base.ModelAdapter) with the weights loaded.
    resolve(model_id, revision) -> ResolvedModel: for ids the family claims (`id_prefix`); other
        models are resolved by the registry (Hub, local folder, offline registry copy).
    read_config(source, revision) -> config: for checkpoints transformers' AutoConfig cannot
        read (or that have none: known-answer models); default AutoConfig.
    accepts(config) -> bool: configs the family takes without listing their model_type (encoder
        masked LMs -> text encoders, causal LMs -> decoder LMs, anything -> the fallback), tried
        after every exact match, in increasing `priority`.
    plan_stacks(model_id, config) -> Stacks: stacks decided from the config (the fallback guesses
        its modality); default `stacks`.
    check_settings(settings) -> None: raise ValueError for settings that are each well typed but
        unusable together (a prompt template without {text}).
    random_init: whether `--random-init` (the same architecture with seeded random weights) is
        offered.
    reference: for a known-answer reference model, its role ("ceiling", "floor:word_form", ...;
        docs/validity.md), which results record as `model.reference`.
    """

    name: str
    description: str
    version: str
    stacks: Stacks
    load: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    model_types: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    id_prefix: str | None = None
    resolve: Callable[..., Any] | None = None
    read_config: Callable[..., Any] | None = None
    accepts: Callable[[Any], bool] | None = None
    priority: int = 0
    plan_stacks: Callable[..., Stacks] | None = None
    check_settings: Callable[[dict], None] | None = None
    random_init: bool = True
    # a known-answer reference model (benchmark.models.known*): its role, recorded as the
    # result's `model.reference` ("ceiling", "floor:language", ...); None for real models
    reference: str | None = None

    @property
    def modalities(self) -> tuple[Modality, ...]:
        return modalities_of(self.stacks)

    def claims(self, model_id: str) -> bool:
        """Whether `model_id` is one of the ids the family claims: a prefix ending in a colon
        (`sonar:`) claims every id after it, a whole id (`known:signal`) that id alone."""
        if self.id_prefix is None:
            return False
        if self.id_prefix.endswith(":"):
            return model_id.startswith(self.id_prefix) and len(model_id) > len(self.id_prefix)
        return model_id == self.id_prefix


def modalities_of(stacks: Stacks) -> tuple[Modality, ...]:
    """The modalities any of `stacks` takes, in the order speech, text."""
    return tuple(m for m in ("speech", "text") if any(m in s.takes for s in stacks.values()))


def default_stack(stacks: Stacks, modality: str, chosen: Mapping[str, str] | None = None):
    """The stack `modality` goes through when a task names none: the `stacks` setting's choice,
    else the first stack that takes it (None if none does)."""
    if chosen and chosen.get(modality):
        return chosen[modality]
    return next((name for name, s in stacks.items() if modality in s.takes), None)


def stack_taking(stacks: Stacks, modalities, head: bool = False) -> str | None:
    """The first stack that takes every one of `modalities` (and has an output head if asked)."""
    needed = set(modalities)
    for name, stack in stacks.items():
        if needed <= set(stack.takes) and (stack.head or not head):
            return name
    return None

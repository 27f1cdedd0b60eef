"""A run split across processes (or machines) started by `accelerate launch`: data parallel over
the probe items of each (language, modality).

    accelerate launch --multi_gpu --num_processes 2 -m benchmark run --model ... --device cpu

(On a machine without GPUs, `--multi_gpu` only selects accelerate's multi-process launcher; the
processes run on CPU and talk through gloo. On GPUs, each process takes the device of its local
rank.) Every process plans the same run, so they agree on which representations are missing. Each
one extracts its shard of every missing (language, modality): whole batches of the single-process
run's batching (longest items first, cut every `batch_size`), batch b going to process
b mod world size, so every item sees exactly the batch it would see alone and the merged result
is identical to a single-process run's. A shard is written to the shared representation cache as
an entry of its own (atomic, keyed by the unit's key plus the shard); after a barrier, process 0
merges the shards into the unit's normal entry (extracting itself any shard a failed process did
not write), removes them, and scores every task from the cache. The other processes exit 0 after
their part: a non-zero exit would make the launcher stop process 0 too.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from benchmark.representations.cache import cache_key
from benchmark.representations.extract import AUTO_START, Representations, length_order

if TYPE_CHECKING:
    from benchmark.probes import ProbeSet
    from benchmark.representations.store import RepresentationStore

log = logging.getLogger(__name__)


@dataclass
class Distributed:
    rank: int
    world: int
    state: Any  # accelerate.PartialState

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        self.state.wait_for_everyone()

    @property
    def device(self) -> str:
        return str(self.state.device)


def current(device: str = "cpu") -> Distributed | None:
    """The multi-process context set up by `accelerate launch` (or torchrun), or None when this is
    the only process."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return None
    try:
        from accelerate import PartialState
    except ImportError:  # pragma: no cover - accelerate is a dependency
        raise RuntimeError("a multi-process run needs the `accelerate` package") from None
    state = PartialState(cpu=device == "cpu")
    return Distributed(state.process_index, state.num_processes, state)


@dataclass
class Unit:
    """One cache entry to make: the representations of one (language, modality) of a probe set."""

    probes: ProbeSet
    lang: str
    modality: str
    pooling: str
    stack: str | None
    fields: dict
    key: str

    def lengths(self):
        if self.modality == "text":
            return self.probes.text_lengths(self.lang)
        return self.probes.durations(self.lang)


def units_of(store: RepresentationStore, jobs) -> list[Unit]:
    """Every (probe set, language, modality) the jobs will ask the store for, once each.
    `jobs`: (probes, modalities, pooling) triples, one per task to run."""
    units: dict[str, Unit] = {}
    for probes, modalities, pooling in jobs:
        for modality in modalities:
            for lang in probes.languages:
                pool, stack = store.resolve(modality, pooling, None)
                fields = store.key_fields(probes, lang, modality, pool, stack)
                key = cache_key(fields)
                units.setdefault(key, Unit(probes, lang, modality, pool, stack, fields, key))
    return list(units.values())


def shard_items(lengths, batch_size: int, rank: int, world: int) -> list[int]:
    """The items of process `rank`: batches rank, rank + world, ... of the single-process run."""
    order = length_order(lengths)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return sorted(int(i) for batch in batches[rank::world] for i in batch)


def _shard_fields(unit: Unit, rank: int, world: int, batch_size: int) -> dict:
    return {**unit.fields, "shard": {"rank": rank, "of": world, "batch_size": batch_size}}


def extract_shards(store: RepresentationStore, units: list[Unit], dist: Distributed) -> bool:
    """Each process extracts and caches its shard of every missing unit; after a barrier, process
    0 merges them into the units' entries. Returns False if this process's part failed (process 0
    then redoes it)."""
    batch_size = store.batch.size if not store.batch.auto else AUTO_START
    missing = [u for u in units if store.cached(u.key, u.fields) is None]
    ok = True
    for unit in missing:
        items = shard_items(unit.lengths(), batch_size, dist.rank, dist.world)
        if not items:
            continue
        try:
            reps = store.extract(
                unit.probes, unit.lang, unit.modality, unit.pooling, unit.stack, items
            )
            fields = _shard_fields(unit, dist.rank, dist.world, batch_size)
            store.cache.save(cache_key(fields), reps, fields)
        except Exception:  # logged; process 0 extracts the shard itself
            log.exception("process %d: shard of %s %s failed", dist.rank, unit.lang, unit.modality)
            ok = False
    log.info("process %d of %d: %d shard(s) written", dist.rank, dist.world, len(missing))
    dist.barrier()
    if dist.is_main:
        for unit in missing:
            merged = merge_shards(store, unit, dist.world, batch_size)
            store.cache.save(unit.key, merged, unit.fields)
            store._fresh.add(unit.key)
    return ok


def merge_shards(
    store: RepresentationStore, unit: Unit, world: int, batch_size: int
) -> Representations:
    """The unit's full entry from its shards (a shard that is missing is extracted here)."""
    parts = []
    for rank in range(world):
        items = shard_items(unit.lengths(), batch_size, rank, world)
        if not items:
            continue
        fields = _shard_fields(unit, rank, world, batch_size)
        key = cache_key(fields)
        part = store.cache.load(key, fields)
        if part is None:
            log.warning(
                "shard %d of %s %s is missing; extracting it here", rank, unit.lang, unit.modality
            )
            part = store.extract(
                unit.probes, unit.lang, unit.modality, unit.pooling, unit.stack, items
            )
        parts.append(part)
        store.cache.path(key).unlink(missing_ok=True)
    ids = list(unit.probes.ids)
    position = {item: i for i, item in enumerate(ids)}
    first = parts[0]
    array = np.empty((len(first.layers), len(ids), first.array.shape[-1]), dtype=np.float32)
    seen = np.zeros(len(ids), dtype=bool)
    for part in parts:
        if part.layers != first.layers:
            raise RuntimeError(f"shards of {unit.lang} {unit.modality} disagree on the layers")
        where = [position[i] for i in part.ids]
        array[:, where] = part.array
        seen[where] = True
    if not seen.all():
        raise RuntimeError(f"shards of {unit.lang} {unit.modality} miss {int((~seen).sum())} items")
    return Representations(layers=first.layers, ids=ids, array=array)

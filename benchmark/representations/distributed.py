"""A run split across processes (or machines) started by `accelerate launch`: data parallel over
the probe items of each (language, modality).

    accelerate launch --multi_gpu --num_processes 2 -m benchmark run --model ... --device cpu

(On a machine without GPUs, `--multi_gpu` only selects accelerate's multi-process launcher; the
processes run on CPU and talk through gloo. On GPUs, each process takes the device of its local
rank.) Every process plans the same run, so they agree on which representations are missing. Each
one extracts its shard of every missing (language, modality): whole batches of the single-process
run's batching (longest items first, cut every `batch_size`), batch b going to process
b mod world size, so every item sees exactly the batch it would see alone and the merged result
is identical to a single-process run's. The units are the representation service's plan (every
request of every task of the run). A shard of each request is written to the shared
representation cache as an entry of its own (atomic, keyed by the request's key plus the shard);
after a barrier, process 0 merges the shards into the requests' normal entries (extracting itself
any shard a failed process did not write), removes them, and scores every task from the cache. The other processes exit 0 after
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
from benchmark.representations.words import WordRepresentations

if TYPE_CHECKING:
    from benchmark.probes import ProbeSet
    from benchmark.representations.service import RepresentationService, Unit

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


def shard_items(lengths, batch_size: int, rank: int, world: int) -> list[int]:
    """The items of process `rank`: batches rank, rank + world, ... of the single-process run."""
    order = length_order(lengths)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return sorted(int(i) for batch in batches[rank::world] for i in batch)


def _lengths(probes: ProbeSet, unit: Unit):
    if unit.modality == "text":
        return probes.text_lengths(unit.language)
    return probes.durations(unit.language)


def _shard_fields(fields: dict, rank: int, world: int, batch_size: int) -> dict:
    return {**fields, "shard": {"rank": rank, "of": world, "batch_size": batch_size}}


def _missing(service: RepresentationService, probes: ProbeSet, requests) -> list:
    return [r for r in requests if service.cached(probes, r) is None]


def extract_shards(service: RepresentationService, dist: Distributed) -> bool:
    """Each process extracts and caches its shard of every planned unit with missing requests;
    after a barrier, process 0 merges them into the requests' entries. Returns False if this
    process's part failed (process 0 then redoes it)."""
    batch_size = service.batch.size if not service.batch.auto else AUTO_START
    todo = [
        (unit, probes, missing)
        for unit, probes, requests in service.planned_units()
        if (missing := _missing(service, probes, requests))
    ]
    ok = True
    for unit, probes, missing in todo:
        items = shard_items(_lengths(probes, unit), batch_size, dist.rank, dist.world)
        if not items:
            continue
        try:
            results = service.run_unit(probes, unit, missing, items=items)
            for request, reps in results.items():
                fields = _shard_fields(
                    service.key_fields(probes, request), dist.rank, dist.world, batch_size
                )
                service.cache.save(cache_key(fields), reps, fields)
        except Exception:  # logged; process 0 extracts the shard itself
            log.exception("process %d: shard of %s failed", dist.rank, unit)
            ok = False
    log.info("process %d of %d: %d unit(s) sharded", dist.rank, dist.world, len(todo))
    dist.barrier()
    if dist.is_main:
        for unit, probes, missing in todo:
            for request, merged in merge_shards(service, probes, unit, missing, dist.world).items():
                service.store(probes, request, merged)
    return ok


def merge_shards(
    service: RepresentationService, probes: ProbeSet, unit: Unit, requests, world: int
) -> dict:
    """Each request's full entry from its shards (a shard that is missing is extracted here)."""
    batch_size = service.batch.size if not service.batch.auto else AUTO_START
    parts: dict = {r: [] for r in requests}
    for rank in range(world):
        items = shard_items(_lengths(probes, unit), batch_size, rank, world)
        if not items:
            continue
        found, lost = {}, []
        for request in requests:
            fields = _shard_fields(service.key_fields(probes, request), rank, world, batch_size)
            part = service.cache.load(cache_key(fields), fields)
            service.cache.path(cache_key(fields)).unlink(missing_ok=True)
            if part is None:
                lost.append(request)
            else:
                found[request] = part
        if lost:
            log.warning("shard %d of %s is missing; extracting it here", rank, unit)
            found |= service.run_unit(probes, unit, lost, items=items)
        for request, part in found.items():
            parts[request].append(part)
    return {r: _join(probes, unit, p) for r, p in parts.items()}


def _join(probes: ProbeSet, unit: Unit, parts: list):
    """Shards of one entry, back in the single-process order."""
    first = parts[0]
    if any(p.layers != first.layers for p in parts):
        raise RuntimeError(f"shards of {unit} disagree on the layers")
    if isinstance(first, WordRepresentations):
        item = np.concatenate([p.item_index for p in parts])
        word = np.concatenate([p.word_index for p in parts])
        order = np.lexsort((word, item))
        array = np.concatenate([p.array for p in parts], axis=1)[:, order]
        return WordRepresentations(first.layers, list(probes.ids), item[order], array, word[order])
    ids = list(probes.ids)
    position = {item: i for i, item in enumerate(ids)}
    array = np.empty((len(first.layers), len(ids), first.array.shape[-1]), dtype=np.float32)
    seen = np.zeros(len(ids), dtype=bool)
    for part in parts:
        where = [position[i] for i in part.ids]
        array[:, where] = part.array
        seen[where] = True
    if not seen.all():
        raise RuntimeError(f"shards of {unit} miss {int((~seen).sum())} items")
    return Representations(layers=first.layers, ids=ids, array=array)

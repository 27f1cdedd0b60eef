"""Probe loading: FLEURS, the embedded sets and a user's own FLEURS-schema data, into one `ProbeSet`.

Every source first yields `Recordings` (every candidate recording, audio left on disk); `select`
then applies the same rules to all of them, in this order:
  1. languages: the requested ones (did-you-mean on unknown codes), else all available;
  2. reading: rows whose `reading` equals the spec's (sources without the column are reading 0);
  3. one recording per (language, id): FLEURS and user data keep the recording whose audio file
     name sorts first (several speakers read each FLEURS sentence); embedded sets must have one;
  4. ids: embedded sets must hold the same ids in every language; FLEURS and user data keep the
     ids shared by every requested language (what was dropped is recorded in the card);
  5. sample: `n` ids with the smallest sha256("<seed>:<id>"): deterministic, independent of numpy,
     and nested (the n=50 sample is inside the n=100 sample of the same seed).
Audio is decoded only in `ProbeSet.audio()`.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.probes import embedded, fleurs
from benchmark.probes.selection import select
from benchmark.probes.types import ProbeSet, ProbeSpec, Recordings
from benchmark.probes.userdata import user_recordings


def load_recordings(spec: ProbeSpec) -> Recordings:
    """Every candidate recording of the spec's source (metadata only; audio stays on disk)."""
    source = spec.source
    if source == "fleurs":
        return fleurs.fleurs_recordings(spec)
    if source in embedded.embedded_names():
        return embedded.embedded_recordings(embedded.set_dir(source), spec)
    path = Path(source).expanduser()
    if path.exists():
        if path.is_dir() and (path / embedded.CARD).exists():
            return embedded.embedded_recordings(path, spec)
        return user_recordings(path, spec)
    raise embedded.unknown_set_error(source)


def load_probes(spec: ProbeSpec) -> ProbeSet:
    """Load and select a probe set; see the module docstring for the rules."""
    return select(load_recordings(spec), spec)


def list_probe_sets() -> list[dict]:
    """Embedded sets (from their card.json) and FLEURS (a Hub source)."""
    return [embedded.summary(name) for name in embedded.embedded_names()] + [fleurs.summary()]


def show_probe_set(name: str) -> dict:
    """The card of an embedded set (or of a set dir), or FLEURS's description with its languages."""
    if name == "fleurs":
        return fleurs.card()
    if name in embedded.embedded_names():
        return embedded.read_card(embedded.set_dir(name))
    path = Path(name).expanduser()
    if path.is_dir() and (path / embedded.CARD).exists():
        return embedded.read_card(path)
    raise embedded.unknown_set_error(name)

"""The probe types every other module shares: what to load (`ProbeSpec`), every candidate
recording of a source (`Recordings`), and the selected items a task runs on (`ProbeSet`)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from benchmark.probes.audio import SAMPLE_RATE, AudioColumn, AudioDecodeError, decode_audio
from benchmark.probes.languages import check_languages

log = logging.getLogger(__name__)

_WHERE = ["_column", "_row", "_file"]  # private columns: where each row's audio lives


@dataclass(frozen=True)
class ProbeSpec:
    # embedded set name | "fleurs" | a Parquet file, a dir of Parquet files, a `save_to_disk` dir,
    # or a set dir with card.json
    source: str = "udhr"
    languages: tuple[str, ...] | None = None  # FLEURS codes; None = all available
    split: str = "test"  # FLEURS split (and the split of a saved DatasetDict)
    n: int | None = None  # sentences per language (same ids in every language); None = all shared
    seed: int = 0  # deterministic sample of ids
    reading: int = 0  # which reading per (id, language)
    repo: str = "google/fleurs"  # FLEURS repo id or a local dir laid out like its Parquet branch
    skip_undecodable: bool = False  # leave out ids whose audio cannot be read (in every language)


@dataclass
class Recordings:
    """Every candidate recording of one source, before selection (audio bytes not loaded).

    `frame` holds schema columns that the source has (missing ones are filled in `select`) plus
    `_column` (index into `columns`), `_row` (row in that column's table) and `_file` (for errors).
    """

    name: str
    revision: str
    frame: pd.DataFrame
    columns: list[AudioColumn]
    languages: list[str]  # available, in order
    card: dict
    duplicates: Literal["error", "first_path"] = "first_path"
    ids: Literal["same", "shared"] = "shared"
    durations_known: bool = False  # duration_s is trustworthy metadata; else read from headers


@dataclass
class ProbeSet:
    """The probes a task runs on: every language holds the same `ids` (sorted), `languages` sorted.

    `frame` has the schema columns; its `audio` column holds {"bytes": None, "path": ...}: the
    bytes stay on disk until `audio()` / `encoded_audio()` read them.
    """

    name: str
    revision: str
    languages: list[str]
    ids: list[int]  # shared by every language, sorted
    frame: (
        pd.DataFrame
    )  # schema columns, one row per (lang_code, id), sorted; audio bytes not loaded
    card: dict  # provenance recorded in results
    _columns: list[AudioColumn] = field(default_factory=list, repr=False)
    _where: pd.DataFrame | None = field(default=None, repr=False)

    def _rows(self, lang: str) -> slice:
        check_languages([lang], self.languages, where=f"probe set {self.name!r}")
        start = self.languages.index(lang) * len(self.ids)
        return slice(start, start + len(self.ids))

    def texts(self, lang: str) -> list[str]:
        return self.frame["raw_transcription"].iloc[self._rows(lang)].tolist()

    def durations(self, lang: str) -> np.ndarray:
        return self.frame["duration_s"].iloc[self._rows(lang)].to_numpy(dtype=np.float64)

    def text_lengths(self, lang: str) -> np.ndarray:
        return self.frame["n_chars"].iloc[self._rows(lang)].to_numpy(dtype=np.int64)

    def words(self, lang: str) -> list[list[dict]]:
        return [_as_words(w) for w in self.frame["words"].iloc[self._rows(lang)]]

    def encoded_audio(self, lang: str) -> list[dict | bytes | None]:
        """The stored (encoded) audio of `lang`, in ids order, read from disk now."""
        where = self._where.iloc[self._rows(lang)]
        out: list = [None] * len(where)
        positions = np.arange(len(where))
        for col, idx in where.groupby("_column").indices.items():
            blobs = self._columns[col].fetch(where["_row"].to_numpy()[idx])
            for pos, blob in zip(positions[idx], blobs, strict=True):
                out[pos] = blob
        return out

    @property
    def has_audio(self) -> bool:
        """Whether the set's items have recordings (a text-only set, or a synthetic one, not)."""
        return self._where is not None and bool(self._columns)

    def audio(self, lang: str, sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
        """float32 mono waveforms at `sample_rate`, in ids order."""
        rows = self._rows(lang)
        files = self._where["_file"].iloc[rows].tolist()
        try:
            return [
                decode_audio(blob, sample_rate, what=f"{self.name}: item id {i} in {lang} ({f})")
                for blob, i, f in zip(self.encoded_audio(lang), self.ids, files, strict=True)
            ]
        except AudioDecodeError as err:
            raise AudioDecodeError(
                f"{err} Pass --skip-undecodable to leave such items out of every language."
            ) from None

    def describe(self) -> dict:
        """What results record: enough to reload exactly these items."""
        return {
            "name": self.name,
            "revision": self.revision,
            "source": self.card.get("source"),
            "split": self.card.get("split"),
            "languages": list(self.languages),
            "n": len(self.ids),
            "ids_sha256": ids_sha256(self.ids),
            "reading": self.card.get("reading", 0),
            "recording_rule": self.card.get("recording_rule"),
            "selection": self.card.get("selection"),
        }


def ids_sha256(ids: Sequence[int]) -> str:
    return hashlib.sha256(json.dumps([int(i) for i in ids]).encode()).hexdigest()


def _as_words(value) -> list[dict]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    return [dict(w) for w in value]


# --- length controls ---------------------------------------------------------------------------

LENGTH_FEATURES = {"speech": ("log_duration_s",), "text": ("log_n_chars", "log_n_words")}


def length_features(probeset: ProbeSet, lang: str, modality: str) -> np.ndarray:
    """Length-only features [n, f] in ids order (names in LENGTH_FEATURES): what a task's
    length-only baseline sees. Speech: log duration; text: log characters, log words."""
    rows = probeset._rows(lang)
    if modality == "speech":
        return np.log(probeset.durations(lang))[:, None]
    if modality == "text":
        frame = probeset.frame.iloc[rows]
        chars = frame["n_chars"].to_numpy(dtype=np.float64)
        words = frame["n_words"].to_numpy(dtype=np.float64)
        return np.column_stack([np.log(np.maximum(chars, 1)), np.log(np.maximum(words, 1))])
    raise ValueError(f"length_features: modality must be 'speech' or 'text', got {modality!r}.")


def sentence_lengths(probeset: ProbeSet, keys, rows=None) -> np.ndarray:
    """One length per sentence: its first length feature (log characters, log duration)
    standardised in each (modality, language) of `keys` and averaged over them; `rows`: a subset
    of the items. What the length-matched nulls stratify on."""
    z = []
    for modality, language in keys:
        f = length_features(probeset, language, modality)[:, 0]
        f = f if rows is None else f[rows]
        z.append((f - f.mean()) / (f.std() or 1.0))
    return np.mean(z, axis=0)

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

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmark.probes.audio import SAMPLE_RATE, AudioColumn, audio_info, decode_audio
from benchmark.probes.languages import FLEURS_CODES, LANGUAGES, check_languages, count_words
from benchmark.probes.schema import COLUMNS

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "raw_transcription", "audio")
_WHERE = ["_column", "_row", "_file"]  # private columns: where each row's audio lives
RECORDING_RULE_FIRST_PATH = (
    "one recording per (language, id): the one whose audio file name (basename of `path`, else of "
    "`audio.path`) sorts first; ties by row order"
)
SELECTION_RULE = "the n shared ids with the smallest sha256('<seed>:<id>'), then sorted"


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

    def audio(self, lang: str, sample_rate: int = SAMPLE_RATE) -> list[np.ndarray]:
        """float32 mono waveforms at `sample_rate`, in ids order."""
        rows = self._rows(lang)
        files = self._where["_file"].iloc[rows].tolist()
        return [
            decode_audio(blob, sample_rate, what=f"{self.name}: item id {i} in {lang} ({f})")
            for blob, i, f in zip(self.encoded_audio(lang), self.ids, files, strict=True)
        ]

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


# --- from Arrow tables to candidate rows ------------------------------------------------------


def recordings_frame(
    meta: pa.Table,
    source: str,
    column: int,
    *,
    has_audio: bool,
    audio_paths: Sequence | None = None,
    lang_code: str | None = None,
    lang_names: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Candidate rows of one table's non-audio columns (`meta`) plus where their audio lives.

    The language comes from a `lang_code` column, else the `lang_code` argument, else `lang_id`
    (names from its ClassLabel when given, else FLEURS's order).
    """
    present = meta.column_names + (["audio"] if has_audio else [])
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        raise ValueError(
            f"{source}: missing column(s) {missing}; probe data needs {list(REQUIRED_COLUMNS)} "
            f"(FLEURS schema, see benchmark/probes/schema.py). Columns present: {present}."
        )
    frame = meta.select([c for c in meta.column_names if c in COLUMNS]).to_pandas()
    paths = list(audio_paths) if audio_paths is not None else [None] * len(frame)
    frame["audio"] = [{"bytes": None, "path": p} for p in paths]
    if "lang_code" not in frame.columns or frame["lang_code"].isna().any():
        frame["lang_code"] = _languages_of(frame, source, lang_code, lang_names)
    frame["_column"] = column
    frame["_row"] = np.arange(len(frame))
    frame["_file"] = source
    return frame


def audio_paths_of(table: pa.Table) -> list | None:
    """The `path` field of an `audio` struct column (no bytes read), or None."""
    col = table.column("audio")
    if pa.types.is_struct(col.type) and col.type.get_field_index("path") >= 0:
        return pc.struct_field(col, "path").to_pylist()
    return None


def _languages_of(frame, source, lang_code, lang_names) -> list[str]:
    if lang_code is not None:
        return [lang_code] * len(frame)
    if "lang_id" in frame.columns and frame["lang_id"].notna().all():
        names = list(lang_names) if lang_names else list(FLEURS_CODES)
        ids = frame["lang_id"].astype(int)
        if ids.min() >= 0 and ids.max() < len(names):
            return [names[i] for i in ids]
    raise ValueError(
        f"{source}: cannot tell the language of its rows. Add a `lang_code` column with FLEURS codes "
        "(e.g. 'en_us'), name the file `<lang_code>.parquet`, or give `lang_id` as FLEURS's index."
    )


def content_hash(files: Sequence[Path], root: Path) -> str:
    """sha256 over the relative names and bytes of `files`: the revision of user-provided data."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(Path(path).relative_to(root)).encode() + b"\0")
        file_digest = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                file_digest.update(chunk)
        digest.update(file_digest.digest())
    return "sha256:" + digest.hexdigest()[:16]


# --- selection ----------------------------------------------------------------------------------


def select(rec: Recordings, spec: ProbeSpec) -> ProbeSet:
    """Apply the selection rules (module docstring) and fill the derived schema columns."""
    where = f"probe set {rec.name!r}"
    langs = (
        check_languages(list(spec.languages), rec.languages, where=where)
        if spec.languages
        else list(rec.languages)
    )
    frame = rec.frame[rec.frame["lang_code"].isin(langs)]
    frame, langs = _pick_reading(frame, spec, sorted(langs), rec.name)
    n_recordings = frame.groupby("lang_code").size().to_dict()
    frame = _one_per_item(frame, rec.duplicates, rec.name)
    _check_texts(frame, rec.name)
    shared, dropped = _shared_ids(frame, langs, rec.ids, rec.name)
    ids = sample_ids(shared, spec.n, spec.seed, f"{rec.name} ({', '.join(langs)})")
    frame = frame[frame["id"].isin(ids)]
    frame = frame.sort_values(["lang_code", "id"]).reset_index(drop=True)
    frame = _fill(frame, rec)
    card = dict(rec.card)
    card.update(
        {
            "reading": spec.reading,
            "selection": {
                "rule": SELECTION_RULE,
                "seed": spec.seed,
                "n_requested": spec.n,
                "n_shared": len(shared),
                "n": len(ids),
                "ids_rule": (
                    "every language holds the same ids"
                    if rec.ids == "same"
                    else "ids present in every requested language"
                ),
                "recordings_per_language": {k: int(v) for k, v in n_recordings.items()},
                "ids_dropped_not_shared": dropped,
            },
        }
    )
    if rec.duplicates == "first_path":
        card.setdefault("recording_rule", RECORDING_RULE_FIRST_PATH)
    schema = frame[list(COLUMNS)].copy()
    return ProbeSet(
        name=rec.name,
        revision=rec.revision,
        languages=langs,
        ids=[int(i) for i in ids],
        frame=schema,
        card=card,
        _columns=rec.columns,
        _where=frame[_WHERE].reset_index(drop=True),
    )


def _items(frame: pd.DataFrame) -> str:
    """'id 3 in de_de (file), ...' for error messages."""
    rows = zip(frame["id"], frame["lang_code"], frame["_file"], strict=True)
    return ", ".join(f"id {i} in {c} ({f})" for i, c, f in rows)


def _pick_reading(frame, spec, langs, name):
    if "reading" not in frame.columns:
        if spec.reading != 0:
            raise ValueError(
                f"{name}: has one reading per item (reading 0); got reading={spec.reading}."
            )
        return frame.assign(reading=0), langs
    frame = frame.assign(reading=frame["reading"].fillna(0).astype(int))
    have = frame.groupby("lang_code")["reading"].apply(lambda r: sorted(set(r))).to_dict()
    lacking = [c for c in langs if spec.reading not in have.get(c, [])]
    if lacking and spec.languages:
        detail = "; ".join(f"{c}: {have.get(c, [])}" for c in lacking)
        raise ValueError(
            f"{name}: reading {spec.reading} is missing for {lacking} (readings present: {detail}). "
            "Choose another reading or drop these languages."
        )
    if lacking:
        log.warning(
            "%s: reading %s exists only for %d language(s)",
            name,
            spec.reading,
            len(langs) - len(lacking),
        )
        langs = [c for c in langs if c not in lacking]
        if not langs:
            raise ValueError(f"{name}: no language has reading {spec.reading}.")
    return frame[frame["reading"] == spec.reading], langs


def _recording_key(frame: pd.DataFrame) -> pd.Series:
    def key(path, audio):
        name = path if isinstance(path, str) and path else (audio or {}).get("path") or ""
        return os.path.basename(name)

    paths = (
        frame["path"]
        if "path" in frame.columns
        else pd.Series([None] * len(frame), index=frame.index)
    )
    return pd.Series(
        [key(p, a) for p, a in zip(paths, frame["audio"], strict=True)], index=frame.index
    )


def _one_per_item(frame, rule, name):
    dup = frame.duplicated(["lang_code", "id"], keep=False)
    if not dup.any():
        return frame
    if rule == "error":
        bad = frame[dup].sort_values(["lang_code", "id"]).head(6)
        items = _items(bad)
        raise ValueError(
            f"{name}: several rows for the same (language, id, reading): {items}. Each item must "
            "appear once per reading; give extra voices their own `reading` number."
        )
    frame = frame.assign(_key=_recording_key(frame))
    frame = frame.sort_values(["lang_code", "id", "_key", "_column", "_row"], kind="stable")
    return frame.drop_duplicates(["lang_code", "id"], keep="first").drop(columns="_key")


def _check_texts(frame, name):
    text = frame["raw_transcription"]
    empty = text.isna() | (text.astype(str).str.strip() == "")
    if empty.any():
        bad = frame[empty].head(6)
        items = _items(bad)
        raise ValueError(
            f"{name}: no text (empty `raw_transcription`) for {items} ({int(empty.sum())} in all)."
        )


def _shared_ids(frame, langs, rule, name):
    per_lang = {c: set(frame.loc[frame["lang_code"] == c, "id"].astype(int)) for c in langs}
    files = frame.groupby("lang_code")["_file"].first().to_dict()
    union = set().union(*per_lang.values())
    if rule == "same":
        for c in langs:
            missing = sorted(union - per_lang[c])
            if missing:
                others = [o for o in langs if missing[0] in per_lang[o]]
                raise ValueError(
                    f"{name}: ids differ across languages: {c} ({files.get(c, 'no rows')}) lacks "
                    f"id(s) {missing[:10]}{' ...' if len(missing) > 10 else ''} that "
                    f"{', '.join(others[:5])} ({files.get(others[0])}) has. Every language of an "
                    "embedded set must hold the same ids; rebuild the set."
                )
    shared = sorted(set.intersection(*per_lang.values())) if per_lang else []
    if not shared:
        counts = ", ".join(f"{c}: {len(per_lang[c])}" for c in langs)
        raise ValueError(
            f"{name}: no sentence id is shared by all of {langs} (ids per language: {counts})."
        )
    dropped = {c: len(per_lang[c]) - len(shared) for c in langs if len(per_lang[c]) > len(shared)}
    if dropped:
        log.info(
            "%s: keeping the %d ids shared by all languages; dropped %s", name, len(shared), dropped
        )
    return shared, dropped


def sample_ids(ids: Sequence[int], n: int | None, seed: int, what: str = "probe set") -> list[int]:
    """`n` of `ids` by the smallest sha256('<seed>:<id>'), sorted; all when n is None."""
    ids = sorted(int(i) for i in ids)
    if n is None:
        return ids
    if n < 1:
        raise ValueError(f"{what}: n must be at least 1, got {n}.")
    if n > len(ids):
        raise ValueError(
            f"{what}: n={n} asked for, but only {len(ids)} sentence ids are available in every "
            f"language. Use n <= {len(ids)} (or n: null for all), or fewer languages."
        )

    def rank(i: int) -> str:
        return hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()

    return sorted(sorted(ids, key=rank)[:n])


def _fill(frame: pd.DataFrame, rec: Recordings) -> pd.DataFrame:
    """Fill the schema columns a source did not provide, check durations, fix dtypes."""
    frame = frame.copy()
    n = len(frame)

    def missing(col):
        return col not in frame.columns or frame[col].isna().any()

    code = frame["lang_code"]
    if missing("language"):
        frame["language"] = [LANGUAGES[c].name if c in LANGUAGES else c for c in code]
    if missing("lang_id"):
        frame["lang_id"] = [LANGUAGES[c].lang_id if c in LANGUAGES else -1 for c in code]
    if missing("transcription"):
        frame["transcription"] = frame["raw_transcription"]
    if missing("gender"):
        frame["gender"] = 2
    if missing("path"):
        frame["path"] = [a.get("path") or "" for a in frame["audio"]]
    if missing("speaker"):
        frame["speaker"] = ""
    if missing("category"):
        frame["category"] = ""
    if "words" not in frame.columns:
        frame["words"] = [[] for _ in range(n)]
    frame["words"] = [_as_words(w) for w in frame["words"]]
    text = frame["raw_transcription"].astype(str)
    if missing("n_chars"):
        frame["n_chars"] = text.str.len()
    if missing("n_words"):
        frame["n_words"] = [count_words(t, c) for t, c in zip(text, code, strict=True)]
    if not rec.durations_known or missing("duration_s") or missing("num_samples"):
        _durations_from_headers(frame, rec)
    bad = frame[~(frame["duration_s"] > 0)]
    if len(bad):
        raise ValueError(f"{rec.name}: empty audio (duration 0) for {_items(bad.head(6))}.")
    for col in ("id", "num_samples", "gender", "lang_id", "reading", "n_chars", "n_words"):
        frame[col] = frame[col].astype(np.int64)
    frame["duration_s"] = frame["duration_s"].astype(np.float64)
    return frame


def _durations_from_headers(frame: pd.DataFrame, rec: Recordings) -> None:
    durations = np.zeros(len(frame))
    ids, codes, files = (frame[c].tolist() for c in ("id", "lang_code", "_file"))
    for col, idx in frame.groupby("_column").indices.items():
        blobs = rec.columns[col].fetch(frame["_row"].to_numpy()[idx])
        for pos, blob in zip(idx, blobs, strict=True):
            what = f"{rec.name}: item id {ids[pos]} in {codes[pos]} ({files[pos]})"
            sr, frames = audio_info(blob, what)
            durations[pos] = frames / sr
    frame["duration_s"] = durations
    frame["num_samples"] = np.round(durations * SAMPLE_RATE).astype(np.int64)


# --- user files ---------------------------------------------------------------------------------


def user_recordings(path: Path, spec: ProbeSpec) -> Recordings:
    """A Parquet file, a dir of Parquet files, or a `save_to_disk` dataset dir, in the FLEURS schema."""
    path = Path(path)
    if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        return _saved_dataset(path, spec)
    if path.is_file():
        if path.suffix != ".parquet":
            raise ValueError(
                f"{path}: not a Parquet file. A probe source is an embedded set name, 'fleurs', a "
                "Parquet file, a dir of Parquet files, or a `save_to_disk` dataset dir."
            )
        files, root = [path], path.parent
    else:
        files = sorted(path.glob("*.parquet"))
        if not files and any(path.glob("*/*/*.parquet")):
            raise ValueError(
                f"{path}: laid out like FLEURS's Parquet branch (<config>/<split>/*.parquet); load it "
                f"with source: fleurs, repo: {path} (and split:), so one split is read."
            )
        files = files or sorted(path.rglob("*.parquet"))
        root = path
        if not files:
            raise ValueError(
                f"{path}: no Parquet files in this dir (nor a `save_to_disk` dataset: no state.json "
                "or dataset_dict.json)."
            )
    frames, columns = [], []
    for i, file in enumerate(files):
        try:
            schema = pq.read_schema(file)
        except Exception as err:
            raise ValueError(f"{file}: not a readable Parquet file ({err}).") from err
        names = [c for c in schema.names if c != "audio"]
        table = pq.read_table(file, columns=names)
        audio_paths = parquet_audio_paths(file, schema)
        stem = file.stem if file.stem in LANGUAGES else None
        frame = recordings_frame(
            table,
            str(file),
            i,
            has_audio="audio" in schema.names,
            audio_paths=audio_paths,
            lang_code=None if "lang_code" in names else stem,
            lang_names=_class_label_names(schema, "lang_id"),
        )
        frames.append(frame)
        columns.append(AudioColumn(str(file), lambda f=file: pq.read_table(f, columns=["audio"])))
    frame = pd.concat(frames, ignore_index=True)
    _check_codes(frame, str(path))
    return Recordings(
        name=path.stem if path.is_file() else path.name,
        revision=content_hash(files, root),
        frame=frame,
        columns=columns,
        languages=sorted(frame["lang_code"].unique()),
        card={
            "source": "user",
            "path": str(path.resolve()),
            "files": [str(f.relative_to(root)) for f in files],
        },
    )


def parquet_audio_paths(file: Path, schema: pa.Schema) -> list | None:
    """The `path` field of a Parquet file's `audio` struct, read without the bytes (or None)."""
    field_ = schema.field("audio") if "audio" in schema.names else None
    if (
        field_ is None
        or not pa.types.is_struct(field_.type)
        or field_.type.get_field_index("path") < 0
    ):
        return None
    return pq.read_table(file, columns=["audio.path"]).column(0).to_pylist()


def _class_label_names(schema: pa.Schema, column: str) -> list[str] | None:
    meta = (schema.metadata or {}).get(b"huggingface")
    if not meta:
        return None
    try:
        feature = json.loads(meta)["info"]["features"][column]
    except (KeyError, ValueError, TypeError):
        return None
    return feature.get("names") if feature.get("_type") == "ClassLabel" else None


def _saved_dataset(path: Path, spec: ProbeSpec) -> Recordings:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if spec.split not in loaded:
            raise ValueError(
                f"{path}: no split {spec.split!r} in this saved DatasetDict; it has {list(loaded)}."
            )
        loaded = loaded[spec.split]
    ds = loaded.flatten_indices() if loaded._indices is not None else loaded
    table = ds.data.table
    names = None
    feature = ds.features.get("lang_id")
    if isinstance(feature, datasets.ClassLabel):
        names = feature.names
    frame = recordings_frame(
        table.drop_columns(["audio"]) if "audio" in table.column_names else table,
        str(path),
        0,
        has_audio="audio" in table.column_names,
        audio_paths=audio_paths_of(table) if "audio" in table.column_names else None,
        lang_names=names,
    )
    _check_codes(frame, str(path))
    files = [Path(f["filename"]) for f in ds.cache_files] or sorted(path.rglob("*.arrow"))
    return Recordings(
        name=path.name,
        revision=content_hash(files, Path(os.path.commonpath([str(f.parent) for f in files]))),
        frame=frame,
        columns=[AudioColumn(str(path), lambda t=table: t, keep=True)],
        languages=sorted(frame["lang_code"].unique()),
        card={"source": "user", "path": str(path.resolve()), "split": spec.split},
    )


def _check_codes(frame: pd.DataFrame, source: str) -> None:
    unknown = sorted(set(frame["lang_code"]) - set(LANGUAGES))
    if unknown:
        check_languages(unknown, where=f"{source} (`lang_code` must be a FLEURS code)")


# --- entry points -------------------------------------------------------------------------------


def load_probes(spec: ProbeSpec) -> ProbeSet:
    """Load and select a probe set; see the module docstring for the rules."""
    from benchmark.probes import embedded, fleurs  # they build on this module

    source = spec.source
    if source == "fleurs":
        rec = fleurs.fleurs_recordings(spec)
    elif source in embedded.embedded_names():
        rec = embedded.embedded_recordings(embedded.set_dir(source), spec)
    elif Path(source).expanduser().exists():
        path = Path(source).expanduser()
        if path.is_dir() and (path / embedded.CARD).exists():
            rec = embedded.embedded_recordings(path, spec)
        else:
            rec = user_recordings(path, spec)
    else:
        raise embedded.unknown_set_error(source)
    return select(rec, spec)


def list_probe_sets() -> list[dict]:
    """Embedded sets (from their card.json) and FLEURS (a Hub source)."""
    from benchmark.probes import embedded, fleurs

    return [embedded.summary(name) for name in embedded.embedded_names()] + [fleurs.summary()]


def show_probe_set(name: str) -> dict:
    """The card of an embedded set (or of a set dir), or FLEURS's description with its languages."""
    from benchmark.probes import embedded, fleurs

    if name == "fleurs":
        return fleurs.card()
    if name in embedded.embedded_names():
        return embedded.read_card(embedded.set_dir(name))
    path = Path(name).expanduser()
    if path.is_dir() and (path / embedded.CARD).exists():
        return embedded.read_card(path)
    raise embedded.unknown_set_error(name)

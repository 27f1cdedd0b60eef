"""From Arrow tables and Parquet files to candidate rows (`Recordings.frame`), and the content
hash that is the revision of a user's data."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from benchmark.errors import UsageError
from benchmark.probes.languages import FLEURS_CODES
from benchmark.probes.schema import COLUMNS

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("id", "raw_transcription", "audio")


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
        raise UsageError(
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
    raise UsageError(
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

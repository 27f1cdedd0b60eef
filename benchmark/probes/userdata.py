"""A user's own probe data in the FLEURS schema: a Parquet file, a folder of Parquet files, or a
`save_to_disk` dataset folder."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from benchmark.errors import UsageError
from benchmark.probes.audio import AudioColumn
from benchmark.probes.languages import LANGUAGES, check_languages
from benchmark.probes.recordings import (
    _class_label_names,
    audio_paths_of,
    content_hash,
    parquet_audio_paths,
    recordings_frame,
)
from benchmark.probes.types import ProbeSpec, Recordings

log = logging.getLogger(__name__)


def _asked_for(files: list[Path], spec: ProbeSpec) -> list[Path]:
    """Files named by language code (en_us.parquet) that the run did not ask for are not read: a
    damaged file of another language cannot stop it. Files named otherwise are all read."""
    if spec.languages is None or not all(f.stem in LANGUAGES for f in files):
        return files
    return [f for f in files if f.stem in spec.languages] or files


def user_recordings(path: Path, spec: ProbeSpec) -> Recordings:
    """A Parquet file, a dir of Parquet files, or a `save_to_disk` dataset dir, in the FLEURS schema."""
    path = Path(path)
    if path.is_dir() and ((path / "state.json").exists() or (path / "dataset_dict.json").exists()):
        return _saved_dataset(path, spec)
    if path.is_file():
        if path.suffix != ".parquet":
            raise UsageError(
                f"{path}: not a Parquet file. A probe source is an embedded set name, 'fleurs', a "
                "Parquet file, a dir of Parquet files, or a `save_to_disk` dataset dir."
            )
        files, root = [path], path.parent
    else:
        files = sorted(path.glob("*.parquet"))
        if not files and any(path.glob("*/*/*.parquet")):
            raise UsageError(
                f"{path}: laid out like FLEURS's Parquet branch (<config>/<split>/*.parquet); load it "
                f"with source: fleurs, repo: {path} (and split:), so one split is read."
            )
        files = files or sorted(path.rglob("*.parquet"))
        files = _asked_for(files, spec)
        root = path
        if not files:
            raise UsageError(
                f"{path}: no Parquet files in this dir (nor a `save_to_disk` dataset: no state.json "
                "or dataset_dict.json)."
            )
    frames, columns = [], []
    for i, file in enumerate(files):
        try:
            schema = pq.read_schema(file)
            names = [c for c in schema.names if c != "audio"]
            table = pq.read_table(file, columns=names)
        except Exception as err:
            raise UsageError(f"{file}: not a readable Parquet file ({err}).") from err
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


def _saved_dataset(path: Path, spec: ProbeSpec) -> Recordings:
    import datasets

    loaded = datasets.load_from_disk(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        if spec.split not in loaded:
            raise UsageError(
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

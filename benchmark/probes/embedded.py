"""Embedded probe sets, shipped in the package: `benchmark/probes/data/<name>/`.

A set dir holds `card.json` (name, revision, license, description, sources, languages [{code, name,
n_items, n_readings, total_duration_s}], counts, speech settings), a README.md, and one Parquet file
per language, `<lang_code>.parquet`, in the probe schema with audio bytes embedded (Ogg Opus or
FLAC). Loading reads the metadata columns only (fast); audio is read when a task asks for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from benchmark.errors import UsageError, close_matches
from benchmark.probes.audio import AudioColumn
from benchmark.probes.languages import check_languages
from benchmark.probes.recordings import parquet_audio_paths, recordings_frame
from benchmark.probes.types import ProbeSpec, Recordings

EMBEDDED_ROOT = Path(__file__).resolve().parent / "data"
CARD = "card.json"
CARD_FIELDS = ("name", "revision", "license", "languages")


class UnknownProbeSetError(UsageError):
    """A probe source that is neither an embedded set, "fleurs", nor an existing path."""


def embedded_names() -> list[str]:
    root = EMBEDDED_ROOT
    return sorted(d.name for d in root.iterdir() if (d / CARD).is_file()) if root.is_dir() else []


def set_dir(name: str) -> Path:
    return EMBEDDED_ROOT / name


def unknown_set_error(name: str) -> UnknownProbeSetError:
    known = embedded_names() + ["fleurs"]
    close = close_matches(name, known)
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return UnknownProbeSetError(
        f"Unknown probe set {name!r}.{hint} Available: {', '.join(known)}; or give a path to a "
        "Parquet file, a dir of Parquet files, a `save_to_disk` dataset dir, or a set dir with "
        f"{CARD} (no such path: {Path(name).expanduser()})."
    )


def read_card(directory: Path) -> dict:
    path = Path(directory) / CARD
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UnknownProbeSetError(f"{path}: no {CARD}; a probe set dir needs one.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: not valid JSON ({err}).") from err
    missing = [f for f in CARD_FIELDS if f not in card]
    if missing:
        raise UsageError(f"{path}: missing field(s) {missing}; a card needs {list(CARD_FIELDS)}.")
    langs = card["languages"]
    if not isinstance(langs, list) or not all(isinstance(x, dict) and "code" in x for x in langs):
        raise UsageError(
            f"{path}: `languages` must be a list of objects with a `code` (FLEURS code)."
        )
    return card


def summary(name: str) -> dict:
    card = read_card(set_dir(name))
    return {
        "name": card["name"],
        "kind": "embedded",
        "revision": card["revision"],
        "license": card["license"],
        "description": card.get("description", ""),
        "n_languages": len(card["languages"]),
        "languages": [x["code"] for x in card["languages"]],
        "counts": card.get("counts", {}),
    }


def _where(directory: Path) -> dict:
    """Sets outside the package record their path (package paths differ per machine)."""
    inside = directory.resolve().parent == EMBEDDED_ROOT.resolve()
    return {} if inside else {"path": str(directory.resolve())}


def embedded_recordings(directory: Path, spec: ProbeSpec) -> Recordings:
    directory = Path(directory)
    card = read_card(directory)
    name = card["name"]
    codes = [x["code"] for x in card["languages"]]
    check_languages(codes, where=f"{directory / CARD} `languages`")
    stray = sorted({p.stem for p in directory.glob("*.parquet")} - set(codes))
    if stray:
        raise UsageError(
            f"{directory}: Parquet file(s) for {stray} that {CARD} does not list; list them in "
            "the card or remove the files."
        )
    langs = (
        check_languages(list(spec.languages), codes, where=f"probe set {name!r}")
        if spec.languages
        else codes
    )
    frames, columns = [], []
    for i, code in enumerate(langs):
        file = directory / f"{code}.parquet"
        if not file.is_file():
            raise UsageError(f"{file}: missing; {directory / CARD} lists {code!r}.")
        try:
            schema = pq.read_schema(file)
            table = pq.read_table(file, columns=[c for c in schema.names if c != "audio"])
        except (OSError, ValueError) as err:  # pyarrow's errors for a damaged file
            raise UsageError(f"{file}: not a readable Parquet file ({err}).") from None
        frame = recordings_frame(
            table,
            str(file),
            i,
            has_audio="audio" in schema.names,
            audio_paths=parquet_audio_paths(file, schema),
            lang_code=code,
        )
        wrong = sorted(set(frame["lang_code"]) - {code})
        if wrong:
            raise UsageError(f"{file}: rows with lang_code {wrong}; this file holds {code!r} only.")
        frames.append(frame)
        columns.append(AudioColumn(str(file), lambda f=file: pq.read_table(f, columns=["audio"])))
    frame = pd.concat(frames, ignore_index=True)
    provenance = {k: v for k, v in card.items() if k not in ("languages", "counts")}
    return Recordings(
        name=name,
        revision=str(card["revision"]),
        frame=frame,
        columns=columns,
        languages=langs,
        card={
            **provenance,
            "source": "embedded",
            "set": name,
            "recording_rule": "one recording per (language, id, reading) in the set",
            **_where(directory),
        },
        duplicates="error",
        ids="same" if spec.reading == 0 else "shared",
        durations_known={"duration_s", "num_samples"} <= set(frame.columns),
    )

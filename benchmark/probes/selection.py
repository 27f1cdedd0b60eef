"""Selection: the same rules for every source, applied in order (see benchmark.probes.loader)."""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from benchmark.errors import UsageError
from benchmark.probes.audio import SAMPLE_RATE, AudioDecodeError, audio_info
from benchmark.probes.languages import LANGUAGES, check_languages, count_words
from benchmark.probes.schema import COLUMNS
from benchmark.probes.types import _WHERE, ProbeSet, ProbeSpec, Recordings, _as_words

log = logging.getLogger(__name__)

RECORDING_RULE_FIRST_PATH = (
    "one recording per (language, id): the one whose audio file name (basename of `path`, else of "
    "`audio.path`) sorts first; ties by row order"
)
SELECTION_RULE = "the n shared ids with the smallest sha256('<seed>:<id>'), then sorted"


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
    skipped: list[str] = []
    if spec.skip_undecodable:  # read every shared item's header first, then sample the rest
        frame, undecodable = _fill(frame[frame["id"].isin(shared)], rec)
        bad_ids = {int(i) for i in frame.loc[frame["duration_s"].isna(), "id"]}
        skipped = undecodable
        shared = [i for i in shared if i not in bad_ids]
        if not shared:
            raise UsageError(f"{rec.name}: no item left once undecodable audio is skipped.")
    ids = sample_ids(shared, spec.n, spec.seed, f"{rec.name} ({', '.join(langs)})")
    frame = frame[frame["id"].isin(ids)]
    frame = frame.sort_values(["lang_code", "id"]).reset_index(drop=True)
    frame, undecodable = _fill(frame, rec) if not spec.skip_undecodable else (frame, [])
    card = dict(rec.card)
    if skipped:
        card["skipped_items"] = skipped
    if undecodable:
        card["undecodable"] = undecodable
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
            raise UsageError(
                f"{name}: has one reading per item (reading 0); got reading={spec.reading}."
            )
        return frame.assign(reading=0), langs
    frame = frame.assign(reading=frame["reading"].fillna(0).astype(int))
    have = frame.groupby("lang_code")["reading"].apply(lambda r: sorted(set(r))).to_dict()
    lacking = [c for c in langs if spec.reading not in have.get(c, [])]
    if lacking and spec.languages:
        detail = "; ".join(f"{c}: {have.get(c, [])}" for c in lacking)
        raise UsageError(
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
            raise UsageError(f"{name}: no language has reading {spec.reading}.")
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
        raise UsageError(
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
        raise UsageError(
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
                raise UsageError(
                    f"{name}: ids differ across languages: {c} ({files.get(c, 'no rows')}) lacks "
                    f"id(s) {missing[:10]}{' ...' if len(missing) > 10 else ''} that "
                    f"{', '.join(others[:5])} ({files.get(others[0])}) has. Every language of an "
                    "embedded set must hold the same ids; rebuild the set."
                )
    shared = sorted(set.intersection(*per_lang.values())) if per_lang else []
    if not shared:
        counts = ", ".join(f"{c}: {len(per_lang[c])}" for c in langs)
        raise UsageError(
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
        raise UsageError(f"{what}: n must be at least 1, got {n}.")
    if n > len(ids):
        raise UsageError(
            f"{what}: n={n} asked for, but only {len(ids)} sentence ids are available in every "
            f"language. Use n <= {len(ids)} (or n: null for all), or fewer languages."
        )

    def rank(i: int) -> str:
        return hashlib.sha256(f"{seed}:{i}".encode()).hexdigest()

    return sorted(sorted(ids, key=rank)[:n])


def _fill(frame: pd.DataFrame, rec: Recordings) -> tuple[pd.DataFrame, list[str]]:
    """Fill the schema columns a source did not provide, check durations, fix dtypes. Items whose
    audio header cannot be read get a NaN duration and are listed (second return value): a
    text-only model never needs their audio; a speech task names them before any model loads."""
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
    undecodable: list[str] = []
    if not rec.durations_known or missing("duration_s") or missing("num_samples"):
        undecodable = _durations_from_headers(frame, rec)
    bad = frame[frame["duration_s"] <= 0]
    if len(bad):
        raise UsageError(f"{rec.name}: empty audio (duration 0) for {_items(bad.head(6))}.")
    for col in ("id", "num_samples", "gender", "lang_id", "reading", "n_chars", "n_words"):
        frame[col] = frame[col].astype(np.int64)
    frame["duration_s"] = frame["duration_s"].astype(np.float64)
    return frame, undecodable


def _durations_from_headers(frame: pd.DataFrame, rec: Recordings) -> list[str]:
    durations = np.zeros(len(frame))
    undecodable = []
    ids, codes, files = (frame[c].tolist() for c in ("id", "lang_code", "_file"))
    for col, idx in frame.groupby("_column").indices.items():
        blobs = rec.columns[col].fetch(frame["_row"].to_numpy()[idx])
        for pos, blob in zip(idx, blobs, strict=True):
            what = f"item id {ids[pos]} in {codes[pos]} ({files[pos]})"
            try:
                sr, frames = audio_info(blob, what)
            except AudioDecodeError as err:
                durations[pos] = np.nan
                undecodable.append(str(err))
                continue
            durations[pos] = frames / sr
    frame["duration_s"] = durations
    frame["num_samples"] = np.nan_to_num(np.round(durations * SAMPLE_RATE)).astype(np.int64)
    return undecodable

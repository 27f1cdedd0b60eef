"""FLEURS through `datasets.load_dataset`, from the Hub or from a local copy laid out the same way.

`google/fleurs` is a loading-script dataset, and datasets >= 4 refuses scripts ("Dataset scripts are
no longer supported, but found fleurs.py"). The Hub's dataset viewer publishes a Parquet conversion
of it on the branch `refs/convert/parquet`: one folder per config, one per split, numbered shards
(`en_us/test/0000.parquet`), with the `datasets` features (Audio, ClassLabel) in the Parquet
metadata. We pin that branch's commit sha and load each config with explicit `data_files`; a local
dir with the same `<config>/<split>/*.parquet` layout goes through the very same call.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from benchmark.errors import UsageError
from benchmark.probes.audio import SAMPLE_RATE, AudioColumn
from benchmark.probes.languages import FLEURS_CODES, LANGUAGES, check_languages
from benchmark.probes.recordings import audio_paths_of, content_hash, recordings_frame
from benchmark.probes.selection import RECORDING_RULE_FIRST_PATH
from benchmark.probes.types import ProbeSpec, Recordings

log = logging.getLogger(__name__)

PARQUET_REF = "refs/convert/parquet"
SPLITS = ("train", "validation", "test")
LICENSE = "CC-BY-4.0"
DESCRIPTION = (
    "FLEURS (Conneau et al. 2022): n-way parallel read speech of FLoRes-101 sentences in 102 "
    "languages, 16 kHz; each sentence is read by up to 3 speakers per language."
)
SPEAKER_NOTE = "FLEURS gives no speaker id: `speaker` is empty; `gender` is FLEURS's own field."


def data_files(config: str, split: str) -> dict[str, str]:
    return {split: f"{config}/{split}/*.parquet"}


def is_local(repo: str) -> bool:
    return Path(repo).expanduser().is_dir()


def local_configs(root: Path, split: str) -> list[str]:
    """Configs of a local copy that have Parquet files for `split`."""
    return sorted(
        d.name for d in root.iterdir() if d.is_dir() and any((d / split).glob("*.parquet"))
    )


def hub_revision(repo: str) -> str:
    """The commit sha of the repo's Parquet branch, so every language loads from one commit."""
    from huggingface_hub import HfApi

    return HfApi().dataset_info(repo, revision=PARQUET_REF).sha


def load_config(repo: str, config: str, split: str, revision: str | None):
    """One language of FLEURS as a `datasets.Dataset`, audio left encoded (Audio(decode=False))."""
    from datasets import Audio, load_dataset

    ds = load_dataset(repo, data_files=data_files(config, split), split=split, revision=revision)
    if "audio" in ds.features:
        ds = ds.cast_column("audio", Audio(sampling_rate=SAMPLE_RATE, decode=False))
    return ds


def fleurs_recordings(spec: ProbeSpec) -> Recordings:
    repo = spec.repo
    if spec.split not in SPLITS:
        raise UsageError(f"FLEURS split {spec.split!r} does not exist; FLEURS has {list(SPLITS)}.")
    if is_local(repo):
        root = Path(repo).expanduser().resolve()
        available = local_configs(root, spec.split)
        if not available:
            raise UsageError(
                f"{root}: no `<config>/{spec.split}/*.parquet` files. A local FLEURS copy mirrors the "
                f"Hub's Parquet branch ({PARQUET_REF}), e.g. {root}/en_us/{spec.split}/0000.parquet."
            )
        langs = check_languages(
            list(spec.languages or available), available, where=f"FLEURS copy {root}"
        )
        files = [f for c in langs for f in (root / c / spec.split).glob("*.parquet")]
        revision, load_path, load_rev, sha = content_hash(files, root), str(root), None, None
    else:
        langs = check_languages(list(spec.languages or FLEURS_CODES), where="FLEURS")
        if spec.languages is None:
            log.warning("FLEURS: loading all %d languages from the Hub (many GB)", len(langs))
        sha = _resolve_sha(repo)
        load_path, load_rev = repo, sha or PARQUET_REF
        revision = sha or f"{PARQUET_REF} (sha not resolved: Hub unreachable, loaded from cache)"

    frames, columns = [], []
    for i, code in enumerate(langs):
        source = f"{repo} {code}/{spec.split}/*.parquet"
        try:
            ds = load_config(load_path, code, spec.split, load_rev)
        except Exception as err:
            raise _load_error(repo, code, spec.split, err) from err
        if ds._indices is not None:
            ds = ds.flatten_indices()
        if len(ds) == 0:
            raise UsageError(f"{source}: no rows.")
        table = ds.data.table
        has_audio = "audio" in table.column_names
        frame = recordings_frame(
            table.drop_columns(["audio"]) if has_audio else table,
            source,
            i,
            has_audio=has_audio,
            audio_paths=audio_paths_of(table) if has_audio else None,
            lang_code=code,
        )
        if "num_samples" not in frame.columns:
            raise UsageError(f"{source}: no `num_samples` column; is this FLEURS?")
        frame["duration_s"] = frame["num_samples"] / SAMPLE_RATE  # FLEURS audio is 16 kHz
        frame["speaker"] = ""
        frame["reading"] = 0
        frames.append(frame)
        columns.append(AudioColumn(source, lambda t=table: t, keep=True))  # memory-mapped cache

    return Recordings(
        name="fleurs",
        revision=revision,
        frame=pd.concat(frames, ignore_index=True),
        columns=columns,
        languages=langs,
        card={
            "source": "fleurs",
            "repo": repo if not is_local(repo) else str(Path(repo).expanduser().resolve()),
            "ref": PARQUET_REF,
            "sha": sha,
            "split": spec.split,
            "license": LICENSE,
            "recording_rule": RECORDING_RULE_FIRST_PATH,
            "speaker": SPEAKER_NOTE,
        },
        duplicates="first_path",
        ids="shared",
        durations_known=True,
    )


def _resolve_sha(repo: str) -> str | None:
    """The Parquet branch's sha; None only in offline mode (HF_HUB_OFFLINE=1: try the cache)."""
    from huggingface_hub import constants

    try:
        return hub_revision(repo)
    except Exception as err:  # unreachable Hub, unknown repo, no Parquet branch...
        if constants.HF_HUB_OFFLINE:
            log.warning(
                "FLEURS: offline mode, %s@%s not resolved; trying the cache", repo, PARQUET_REF
            )
            return None
        raise ConnectionError(
            f"Could not resolve {repo}@{PARQUET_REF} on the Hugging Face Hub: "
            f"{type(err).__name__}: {err}\n{_HUB_HINT.format(repo=repo)} With a filled `datasets` "
            "cache, set HF_HUB_OFFLINE=1."
        ) from err


_HUB_HINT = (
    "FLEURS is read from the Hub's Parquet branch of {repo!r} (refs/convert/parquet); this needs Hub "
    "access. Without the Hub use an embedded set (source: udhr / concepts), or pass `repo:` a local "
    "dir laid out like `<config>/<split>/0000.parquet`."
)


def _load_error(repo: str, code: str, split: str, err: Exception) -> Exception:
    what = f"Could not load FLEURS {code}/{split} from {repo}: {type(err).__name__}: {err}\n"
    if is_local(repo):
        return ValueError(what + f"Check the Parquet files under {repo}/{code}/{split}/.")
    return ConnectionError(what + _HUB_HINT.format(repo=repo))


def summary() -> dict:
    return {
        "name": "fleurs",
        "kind": "hub",
        "repo": "google/fleurs",
        "revision": PARQUET_REF,
        "license": LICENSE,
        "description": DESCRIPTION,
        "n_languages": len(FLEURS_CODES),
        "languages": list(FLEURS_CODES),
        "splits": list(SPLITS),
    }


def card() -> dict:
    return {
        **summary(),
        "loading": __doc__.strip(),
        "recording_rule": RECORDING_RULE_FIRST_PATH,
        "speaker": SPEAKER_NOTE,
        "languages": [asdict(LANGUAGES[c]) for c in FLEURS_CODES],
    }

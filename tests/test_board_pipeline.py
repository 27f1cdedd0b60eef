"""The board's pipeline and the maintainers' flow (issues 18 and 19): a held-out probe split in
columns of its own, submissions sharded over processes, the forge workflows, and what `publish`
writes for the Space and the results dataset."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pandas as pd
import pytest

from benchmark.cli import main
from benchmark.probes.recordings import content_hash
from benchmark.results import iter_result_files, read_result

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--task-setting", "metric.n_null=10", "--task-setting", "metric.n_resamples=10"]
FAST += ["--task-setting", "metric.svcca_k=5", "--no-progress"]


# --- a held-out (private) split ---------------------------------------------------------------


def private_folder(root: Path, languages=("en_us", "de_de"), n=24) -> tuple[Path, list[str]]:
    """A FLEURS-format folder whose sentences are in no file of the repository."""
    from benchmark.probes import ProbeSpec, load_probes

    folder = root / "held-out-9f3k"
    folder.mkdir(parents=True)
    source = load_probes(ProbeSpec(source="concepts", languages=tuple(languages), n=n))
    texts = []
    for lang in languages:
        rows = source.frame[source.frame["lang_code"] == lang].copy()
        marks = [f" qzv{lang[:2]}{i}x" for i in range(len(rows))]
        for column in ("transcription", "raw_transcription"):
            if column in rows:
                rows[column] = rows[column] + marks
        texts += list(rows.get("raw_transcription", marks))
        rows["audio"] = source.encoded_audio(lang)
        rows.to_parquet(folder / f"{lang}.parquet")
    return folder, texts


def score(model: Path, out: Path, cache: Path, *flags: str) -> None:
    args = ["run", "--model", str(model), "--tasks", "cross_lingual_gap_text", "--output", str(out)]
    args += ["--languages", "en_us,de_de", "--limit", "24", "--cache-dir", str(cache), *FAST]
    assert main([*args, *flags]) == 0


def test_a_held_out_split_has_its_own_columns_and_only_its_card_is_published(
    tiny_models, tmp_path, capsys
):
    model, cache = tiny_models["bert"], tmp_path / "cache"
    folder, texts = private_folder(tmp_path / "maintainers")
    score(model, tmp_path / "public", cache)
    score(model, tmp_path / "private", cache, "--probes", str(folder))
    capsys.readouterr()
    (path,) = iter_result_files(tmp_path / "private")
    held_out = read_result(path)
    assert held_out.status == "ok" and held_out.probes.name == folder.name
    assert held_out.task.config["probes"]["source"] == str(folder)  # the path is in the result

    site = tmp_path / "site"
    build = ["leaderboard", "build", "--results", str(tmp_path / "public"), "--out", str(site)]
    assert main([*build, "--split", f"private={tmp_path / 'private'}"]) == 0
    capsys.readouterr()

    index = (site / "index.html").read_text(encoding="utf-8")
    name = held_out.main_score.name
    headers = re.findall(r"<th[^>]*>(.*?)</th>", index, re.S)
    public_col = next(i for i, h in enumerate(headers) if name in h and "[private]" not in h)
    private_col = next(i for i, h in enumerate(headers) if f"{name} [private]" in h)
    assert private_col == public_col + 1  # beside the public column
    assert len([p for p in (site / "tasks").glob("*private*.html")]) == 1

    # its card, item count and content hash are published ...
    card = json.loads((site / "data" / "splits" / "private.json").read_text())
    (version,) = card["versions"]
    files = sorted(folder.glob("*.parquet"))
    assert version["content_sha256"] == held_out.probes.revision == content_hash(files, folder)
    assert version["n_items"] == 48 and version["languages"] == ["de_de", "en_us"]
    table = pd.read_parquet(site / "data" / "results.parquet")
    row = table[table["task"] == "cross_lingual_gap_text [private]"]
    assert len(row) == 1 and row["value"].iloc[0] == pytest.approx(held_out.main_score.value)
    assert row["probes_revision"].iloc[0] == held_out.probes.revision

    # ... its items, its path and its folder's name are not, in any file of the site
    secrets = [str(folder), folder.name, *texts[:5], *texts[-5:]]
    for page in site.rglob("*"):
        if page.is_file():
            data = page.read_bytes()
            data = gzip.decompress(data) if page.suffix == ".gz" else data
            text = data.decode("utf-8", errors="replace")
            assert not [s for s in secrets if s in text], page
    raw = [
        p for p in site.rglob("*.json.gz") if "private" in gzip.decompress(p.read_bytes()).decode()
    ]
    assert raw and all(
        json.loads(gzip.decompress(p.read_bytes()))["probes"]["name"] == "private"
        for p in raw
        if "[private]" in json.loads(gzip.decompress(p.read_bytes()))["task"]["name"]
    )


def test_split_flags_are_checked(tmp_path, capsys):
    results = tmp_path / "results"
    results.mkdir()
    for bad in ("Private=x", "private", "=x", "private="):
        code = main(
            ["leaderboard", "build", "--results", str(results), "--out", str(tmp_path / "s")]
            + ["--split", bad]
        )
        assert code == 2 and f"--split {bad!r}" in capsys.readouterr().err

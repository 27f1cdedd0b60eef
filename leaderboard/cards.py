"""The two README cards the Hub reads: the Space's (written into the site by `build`: a static
Space, `sdk: static`, serving index.html) and the results dataset's (written by `publish`: YAML
front matter whose `configs` make `load_dataset(ORG/NAME)` read the table). Front matter is dumped
with yaml.safe_dump, so a title or repository name cannot break it."""

from __future__ import annotations

import yaml

SPACE_FIELDS = {
    "emoji": "🌐",
    "colorFrom": "blue",
    "colorTo": "indigo",
    "sdk": "static",
    "app_file": "index.html",
    "pinned": False,
    "license": "apache-2.0",
}


def front_matter(fields: dict) -> str:
    return "---\n" + yaml.safe_dump(fields, sort_keys=False, allow_unicode=True) + "---\n"


def space_readme(title: str, n_rows: int, n_results: int, splits: list[str]) -> str:
    fields = {"title": title[:60], **SPACE_FIELDS}
    fields["short_description"] = "Cross-lingual and cross-modal representations by layer"  # <= 60
    held_out = (
        f" Columns marked `[{'], ['.join(splits)}]` are scored on held-out probes kept out of "
        "the repository (their cards are in `data/splits/`)."
        if splits
        else ""
    )
    return front_matter(fields) + (
        f"\n# {title}\n\nThe Interlingua Bench leaderboard: {n_rows} models × tasks "
        f"({n_results} results), built by `interlingua leaderboard build` from result files. "
        "Every score carries its interval, its null and the command that reproduces it; "
        f"`data/results.csv` and `data/results.parquet` hold one row per result.{held_out}\n"
    )


def size_category(n: int) -> str:
    for bound, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K")):
        if n < bound:
            return name
    return "100K<n<1M"


def dataset_card(
    repo_id: str, space_id: str, n_rows: int, splits: list[dict], n_files: int = 0
) -> str:
    fields = {
        "pretty_name": "Interlingua Bench results",
        "license": "apache-2.0",
        "tags": ["leaderboard", "benchmark", "interpretability", "multilingual", "speech"],
        "size_categories": [size_category(n_rows)],
        "configs": [{"config_name": "default", "data_files": "data/results.parquet"}],
    }
    held_out = ""
    if splits:
        lines = [
            f"- `{c['split']}`: "
            + "; ".join(
                f"{v['n_items']} items ({', '.join(v['languages'])}), content "
                f"`{v['content_sha256']}`"
                for v in c["versions"]
            )
            + f" — `splits/{c['split']}.json`"
            for c in splits
        ]
        held_out = (
            "\n## Held-out splits\n\nRows whose task ends in `[NAME]` were scored on probes kept "
            "out of the repository, so that no model can be tuned to them. Their cards (languages, "
            "item counts, the hash of their files and of their item ids) are published; their "
            "items are not.\n\n" + "\n".join(lines) + "\n"
        )
    return (
        front_matter(fields)
        + f"""
# Interlingua Bench results

The table behind the leaderboard at https://huggingface.co/spaces/{space_id}: {n_rows} rows, one
per model and task — the main score with its interval and null, the layer it was read at, the
model's revision, settings and initialisation (controls have random weights), the task's version
and config hash, the probe set's revision, and the command that reproduces the row. The columns
are described in `docs/results.md` of the Interlingua Bench repository.

```python
from datasets import load_dataset
table = load_dataset("{repo_id}", split="train").to_pandas()
```
{_files_text(n_files)}{held_out}"""
    )


def _files_text(n_files: int) -> str:
    if not n_files:
        return ""
    return (
        f"\n`results/` holds the {n_files} result files the board links as each model's raw "
        "result, byte for byte as the harness wrote them (`docs/results.md`).\n"
    )

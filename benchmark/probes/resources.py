"""How well resourced each language is: the 0-5 classes of Joshi et al. (2020) for the languages
of the embedded probe sets (`resource_classes.csv`, where the source is cited). A language not in
the file has no class: callers leave it out and say so, never guess."""

from __future__ import annotations

import csv
import functools
from pathlib import Path

CLASSES_FILE = Path(__file__).with_name("resource_classes.csv")
SOURCE = (
    "Joshi et al. (2020), The State and Fate of Linguistic Diversity and Inclusion in the NLP "
    "World, ACL 2020 (https://aclanthology.org/2020.acl-main.560/); classes 0-5 from its "
    "taxonomy list (https://microsoft.github.io/linguisticdiversity/assets/lang2tax.txt)"
)


@functools.cache
def resource_classes() -> dict[str, int]:
    """FLEURS code -> Joshi et al. class (0 = least resourced, 5 = best)."""
    lines = [ln for ln in CLASSES_FILE.read_text("utf-8").splitlines() if not ln.startswith("#")]
    out = {}
    for row in csv.DictReader(lines):
        value = int(row["class"])
        if not 0 <= value <= 5:
            raise ValueError(f"{CLASSES_FILE.name}: {row['code']} has class {value}, not 0-5")
        out[row["code"]] = value
    return out


def classify(languages, low_max: int, high_min: int) -> dict[str, list[str]]:
    """The languages split by class: `low` (class <= low_max), `high` (>= high_min), `middle`
    and `unclassified` (not in the source list)."""
    classes = resource_classes()
    out: dict[str, list[str]] = {"low": [], "middle": [], "high": [], "unclassified": []}
    for lang in languages:
        c = classes.get(lang)
        group = (
            "unclassified"
            if c is None
            else "low"
            if c <= low_max
            else "high"
            if c >= high_min
            else "middle"
        )
        out[group].append(lang)
    return out

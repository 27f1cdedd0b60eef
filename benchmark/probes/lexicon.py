"""The probes' written forms, and what forms alone give: the lexical floor of the text tasks.

A sentence's word forms are its written words, lower-cased (NFKC), with scripts written without
spaces (Han, kana, Thai, ...) taken a character at a time; its written forms are those and its
punctuation marks. Translations share some forms — names, numbers, cognates and loanwords written
alike, punctuation — and a representation that knows only the forms (one random vector per form,
the same string in any language getting the same vector) already makes some languages look alike
and retrieves some translations. That is the lexical floor: a text score is read against it (its
margin over the floor, drawn on the same draws), and with lexical overlap controlled: scored again
on the lexically disjoint items alone, those whose translations share no word form.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

import numpy as np

FLOOR_DIM = 256  # dimension of the form vectors (larger than the probes' n: little collision)
_WORD = re.compile(r"\w+", re.UNICODE)
_FORM = re.compile(r"\w+|[^\w\s]", re.UNICODE)  # words and punctuation marks
# scripts written without spaces between words: each character is a form
_UNSPACED = re.compile(
    r"[\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf"
    r"\u4e00-\u9fff\uf900-\ufaff]"
)


def word_forms(text: str, punctuation: bool = False) -> list[str]:
    """The word forms of `text` in order (with its punctuation marks: its written forms)."""
    out: list[str] = []
    pattern = _FORM if punctuation else _WORD
    for token in pattern.findall(unicodedata.normalize("NFKC", text).lower()):
        if _UNSPACED.search(token):
            out += [part for part in re.split(f"({_UNSPACED.pattern})", token) if part]
        else:
            out.append(token)
    return out


@lru_cache(maxsize=200_000)
def form_vector(form: str, dim: int = FLOOR_DIM) -> np.ndarray:
    """One fixed random unit-variance vector per written form, the same in every language."""
    seed = int.from_bytes(hashlib.sha256(form.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(dim).astype(np.float32)


def floor_vectors(texts: list[str], dim: int = FLOOR_DIM) -> np.ndarray:
    """[n, dim]: each text as the mean of its written forms' vectors (words and punctuation):
    what a model that knows only the forms gives."""
    out = np.zeros((len(texts), dim), dtype=np.float64)
    for i, text in enumerate(texts):
        forms = word_forms(text, punctuation=True)
        if forms:
            out[i] = np.mean([form_vector(f, dim) for f in forms], axis=0)
    return out


def shared_forms(texts: dict[str, list[str]], language: str) -> list[set[str]]:
    """Per item, the forms of `language`'s text that also occur in another language's text of
    the same item (names, numbers, cognates written alike)."""
    forms = {lang: [set(word_forms(t)) for t in items] for lang, items in texts.items()}
    others = [lang for lang in forms if lang != language]
    return [
        mine & set().union(*(forms[o][i] for o in others)) if others else set()
        for i, mine in enumerate(forms[language])
    ]


def disjoint_items(texts: dict[str, list[str]]) -> list[int]:
    """The items whose texts share no word form across the languages (punctuation aside): on
    them, lexical overlap cannot make two languages look alike."""
    shared = {lang: shared_forms(texts, lang) for lang in texts}
    n = len(next(iter(texts.values()))) if texts else 0
    return [i for i in range(n) if not any(shared[lang][i] for lang in texts)]


def form_overlap(texts: dict[str, list[str]]) -> dict[str, float]:
    """Per language pair ("a|b"), the mean share of word forms two translations share (Jaccard
    of their form sets, averaged over items): how much the lexical floor has to ride on."""
    forms = {lang: [set(word_forms(t)) for t in items] for lang, items in texts.items()}
    languages = sorted(forms)
    out = {}
    for i, a in enumerate(languages):
        for b in languages[i + 1 :]:
            shares = [
                len(x & y) / len(x | y) if x | y else 0.0
                for x, y in zip(forms[a], forms[b], strict=True)
            ]
            out[f"{a}|{b}"] = round(float(np.mean(shares)), 4)
    return out

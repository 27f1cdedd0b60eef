"""The shipped probe sets: they load offline, match their cards, and every clip decodes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmark.probes import ProbeSpec, list_probe_sets, load_probes, show_probe_set
from benchmark.probes.languages import get_language

DATA = Path(__file__).resolve().parent.parent / "benchmark" / "probes" / "data"
SETS = ["udhr", "concepts"]


def card(name: str) -> dict:
    return json.loads((DATA / name / "card.json").read_text(encoding="utf-8"))


def test_both_sets_are_listed():
    names = {entry["name"] for entry in list_probe_sets()}
    assert set(SETS) <= names
    assert show_probe_set("concepts")["n_labels"] == 123


@pytest.mark.parametrize("name", SETS)
def test_counts_and_languages_match_the_card(name):
    meta = card(name)
    probes = load_probes(ProbeSpec(source=name))
    assert sorted(probes.languages) == sorted(lang["code"] for lang in meta["languages"])
    for lang in meta["languages"]:
        rows = probes.frame[probes.frame["lang_code"] == lang["code"]]
        assert len(rows) == lang["n_items"], lang["code"]
        assert rows["duration_s"].sum() == pytest.approx(
            lang["total_duration_s"], rel=1e-3, abs=0.5
        )
    size = sum(p.stat().st_size for p in (DATA / name).glob("*.parquet"))
    assert size == meta["size_bytes"]


def test_udhr_covers_many_scripts_and_a_second_voice():
    meta = card("udhr")
    assert len(meta["languages"]) == 37
    scripts = {lang["script"] for lang in meta["languages"]}
    assert len(scripts) == 17 and {"Latn", "Cyrl", "Arab", "Deva", "Hans", "Ethi"} <= scripts
    second = load_probes(ProbeSpec(source="udhr", reading=1, languages=("en_us", "ru_ru")))
    assert len(second.ids) == 10  # the second voice reads 10 paragraphs in every language
    first = load_probes(ProbeSpec(source="udhr", languages=("en_us",)))
    assert second.frame["speaker"].iloc[0] != first.frame["speaker"].iloc[0]


@pytest.mark.parametrize("name", SETS)
def test_every_clip_decodes_at_16k_with_a_plausible_duration(name):
    probes = load_probes(ProbeSpec(source=name))
    for lang in probes.languages:
        clips = probes.audio(lang)
        durations = probes.durations(lang)
        chars = probes.text_lengths(lang)
        assert len(clips) == len(probes.ids)
        for clip, duration, n_chars, item in zip(clips, durations, chars, probes.ids, strict=True):
            assert clip.dtype == np.float32 and clip.ndim == 1
            assert abs(len(clip) / 16_000 - duration) < 0.05, (lang, item)
            assert np.abs(clip).max() > 0.01, (lang, item)  # not silent
            # espeak-ng speaks ~0.03-0.3 s per character across scripts; spelling out or
            # skipping text would fall outside this
            assert 0.02 < duration / n_chars < 0.4, (lang, item, duration, n_chars)


def test_concept_labels_present_in_every_language_with_spans():
    probes = load_probes(ProbeSpec(source="concepts"))
    labels_by_id: dict[int, set] = {}
    for lang in probes.languages:
        durations = probes.durations(lang)
        for item, words, duration in zip(probes.ids, probes.words(lang), durations, strict=True):
            assert words, (lang, item)
            labels = {w["label"] for w in words}
            labels_by_id.setdefault(item, labels)
            assert labels == labels_by_id[item], (lang, item)
            for w in words:
                assert 0 <= w["start_s"] < w["end_s"] <= duration + 1e-3, (lang, item, w)
    categories = probes.frame["category"].value_counts()
    assert len(categories) >= 10 and categories.min() == categories.max()


def test_concept_words_char_spans_are_the_words_in_the_text():
    probes = load_probes(ProbeSpec(source="concepts"))
    n = 0
    for lang in probes.languages:
        rows = zip(probes.ids, probes.texts(lang), probes.words(lang), strict=True)
        for item, text, words in rows:
            end = 0  # in order, not overlapping, inside the text
            for w in words:
                a, b = w["char_start"], w["char_end"]
                assert end <= a < b <= len(text), (lang, item, w)
                assert text[a:b] == w["word"], (lang, item, w, text)
                end = b
                n += 1
    assert n == sum(len(ws) for lang in probes.languages for ws in probes.words(lang)) > 3000


def test_udhr_word_counts_are_plausible_for_every_script():
    frame = load_probes(ProbeSpec(source="udhr")).frame
    for code, rows in frame.groupby("lang_code"):
        script = get_language(code).script
        chars, words = rows["n_chars"].sum(), rows["n_words"].sum()
        if script in ("Hans", "Hant", "Jpan"):  # counted in characters
            spaces = rows["raw_transcription"].str.count(r"\s").sum()
            assert words == chars - spaces, code
        elif script == "Thai":  # no word separator: space-separated phrases (documented)
            assert words == sum(len(t.split()) for t in rows["raw_transcription"]), code
        else:
            assert 3 <= chars / words <= 15, (code, chars / words)
            assert rows["n_words"].min() >= 3, code

"""Probe loading: FLEURS (local copy in the Hub's Parquet layout), embedded sets, user files.

Every fixture is built here at run time: tones encoded with soundfile, written in the exact FLEURS
features (through `datasets.Features.arrow_schema`, since `Dataset.from_list` would need torchcodec
to encode audio) or in the probe schema.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmark.probes import (
    FLEURS_CODES,
    LANGUAGES,
    LENGTH_FEATURES,
    AudioDecodeError,
    ProbeSpec,
    UnknownLanguageError,
    UnknownProbeSetError,
    check_languages,
    decode_audio,
    embedded,
    encode_audio,
    fleurs,
    length_features,
    list_probe_sets,
    load_probes,
    show_probe_set,
)
from benchmark.probes.languages import count_words
from benchmark.probes.schema import COLUMNS
from benchmark.probes.selection import sample_ids
from benchmark.probes.types import ids_sha256

SR = 16_000

# --- fixture builders ---------------------------------------------------------------------------

FLEURS_GROUPS = [
    "western_european_we",
    "eastern_european_ee",
    "central_asia_middle_north_african_cmn",
    "sub_saharan_african_ssa",
    "south_asian_sa",
    "south_east_asian_sea",
    "chinese_japanase_korean_cjk",
]
FLEURS_FEATURES = datasets.Features(
    {
        "id": datasets.Value("int32"),
        "num_samples": datasets.Value("int32"),
        "path": datasets.Value("string"),
        "audio": datasets.Audio(sampling_rate=16_000),
        "transcription": datasets.Value("string"),
        "raw_transcription": datasets.Value("string"),
        "gender": datasets.ClassLabel(names=["male", "female", "other"]),
        "lang_id": datasets.ClassLabel(names=[*FLEURS_CODES, "all"]),
        "language": datasets.Value("string"),
        "lang_group_id": datasets.ClassLabel(names=FLEURS_GROUPS),
    }
)


def tone(seconds: float, sr: int = SR, freq: float = 220.0) -> np.ndarray:
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def wav_bytes(seconds: float, sr: int = SR) -> bytes:
    return encode_audio(tone(seconds, sr), sr, "WAV", "PCM_16")


# FLEURS fixture: en_us ids 1..12, de_de ids 2..12 + 40, es_419 ids 1..12 + 50. Each (lang, id) is
# read twice; the recording whose file name sorts first lasts `first_duration(id)` seconds.
FLEURS_IDS = {"en_us": [*range(1, 13)], "de_de": [*range(2, 13), 40], "es_419": [*range(1, 13), 50]}


def first_duration(i: int) -> float:
    return 0.25 + 0.01 * i


def fleurs_rows(code: str) -> list[dict]:
    lang = LANGUAGES[code]
    rows = []
    for i in FLEURS_IDS[code]:
        # file names: "1<id>..." sorts before "9<id>...", and rows are written second-first
        for name, seconds in ((f"9{i:04d}77", 0.4 + 0.01 * i), (f"1{i:04d}55", first_duration(i))):
            audio = wav_bytes(seconds)
            rows.append(
                {
                    "id": i,
                    "num_samples": int(round(seconds * SR)),
                    # like the Hub's streaming conversion for one language: no local path
                    "path": None if code == "en_us" else f"/cache/extracted/{code}/test/{name}.wav",
                    "audio": {"bytes": audio, "path": f"test/{name}.wav"},
                    "transcription": f"sentence {i} in {lang.name}".lower(),
                    "raw_transcription": f"Sentence {i} in {lang.name}.",
                    "gender": i % 2,
                    "lang_id": lang.lang_id,
                    "language": lang.name,
                    "lang_group_id": 0,
                }
            )
    return rows


def write_fleurs_repo(root: Path) -> Path:
    """A dir laid out like google/fleurs@refs/convert/parquet: <config>/<split>/0000.parquet."""
    for code in FLEURS_IDS:
        out = root / code / "test"
        out.mkdir(parents=True)
        table = pa.Table.from_pylist(fleurs_rows(code), schema=FLEURS_FEATURES.arrow_schema)
        pq.write_table(table, out / "0000.parquet")
    (root / "en_us" / "train").mkdir()
    pq.write_table(
        pa.Table.from_pylist(fleurs_rows("en_us")[:4], schema=FLEURS_FEATURES.arrow_schema),
        root / "en_us" / "train" / "0000.parquet",
    )
    return root


@functools.cache
def encoded_tone(seconds: float, sr: int, freq: float, fmt: str) -> bytes:
    wave = tone(seconds, sr, freq)
    return encode_audio(wave, sr, "OGG", "OPUS") if fmt == "OGG" else encode_audio(wave, sr, "FLAC")


def probe_rows(code: str, ids, reading: int = 0, fmt: str = "OGG", sr: int = SR) -> list[dict]:
    """Rows in the probe schema; audio as Ogg Opus (16 kHz) or FLAC (at `sr`)."""
    lang = LANGUAGES[code]
    rows = []
    for i in ids:
        seconds = 0.3 + 0.02 * i + 0.05 * reading
        audio = encoded_tone(seconds, sr, 200 + 10 * reading, fmt)
        text = f"Item {i} " + "word " * (i % 5) + lang.name
        rows.append(
            {
                "id": i,
                "num_samples": int(round(seconds * SR)),
                "path": f"{code}_{i}_{reading}.{fmt.lower()}",
                "audio": {"bytes": audio, "path": f"{code}_{i}_{reading}.{fmt.lower()}"},
                "transcription": text.lower(),
                "raw_transcription": text,
                "gender": 2,
                "lang_id": lang.lang_id,
                "language": lang.name,
                "lang_code": code,
                "speaker": f"espeak-ng:{code}+m{reading + 1}",
                "reading": reading,
                "duration_s": seconds,
                "n_chars": len(text),
                "n_words": len(text.split()),
                "category": ["animal", "food"][i % 2],
                "words": [{"word": "Item", "label": "filler", "start_s": 0.0, "end_s": 0.1}],
            }
        )
    return rows


def write_embedded_set(
    root: Path, name: str, langs, ids, second_voice=(), fmt="OGG", sr=SR
) -> Path:
    """A set dir like benchmark/probes/data/<name>/: <code>.parquet per language + card.json."""
    directory = root / name
    directory.mkdir(parents=True)
    card_langs = []
    for code in langs:
        rows = probe_rows(code, ids, 0, fmt, sr)
        if code in second_voice:
            rows += probe_rows(code, ids[: len(ids) // 2], 1, fmt, sr)
        pq.write_table(pa.Table.from_pylist(rows), directory / f"{code}.parquet")
        card_langs.append(
            {
                "code": code,
                "name": LANGUAGES[code].name,
                "n_items": len(ids),
                "n_readings": 2 if code in second_voice else 1,
                "total_duration_s": sum(r["duration_s"] for r in rows),
            }
        )
    card = {
        "name": name,
        "revision": "2024.1",
        "license": "MIT",
        "description": "test set",
        "sources": ["synthetic tones"],
        "languages": card_langs,
        "counts": {"items": len(ids)},
        "speech": {"engine": "tone generator"},
    }
    (directory / "card.json").write_text(json.dumps(card))
    return directory


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def datasets_cache(tmp_path_factory):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path_factory.mktemp("hf_cache"))
        yield


@pytest.fixture(scope="module")
def fleurs_repo(tmp_path_factory) -> Path:
    return write_fleurs_repo(tmp_path_factory.mktemp("fleurs"))


@pytest.fixture(scope="module")
def fleurs_set(fleurs_repo):
    return load_probes(ProbeSpec(source="fleurs", repo=str(fleurs_repo)))


@pytest.fixture
def sets_root(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "data"
    root.mkdir()
    monkeypatch.setattr(embedded, "EMBEDDED_ROOT", root)
    return root


# --- languages ----------------------------------------------------------------------------------


def test_language_table_matches_fleurs_configs():
    assert len(FLEURS_CODES) == 102 and list(FLEURS_CODES) == sorted(FLEURS_CODES)
    assert [LANGUAGES[c].lang_id for c in FLEURS_CODES] == list(range(102))
    assert LANGUAGES["en_us"].iso639_3 == "eng" and LANGUAGES["cmn_hans_cn"].script == "Hans"
    assert len({x.iso639_3 for x in LANGUAGES.values()}) == 102
    assert all(len(x.iso639_3) == 3 and len(x.script) == 4 for x in LANGUAGES.values())


@pytest.mark.parametrize("given", ["en", "eng", "English", "en-us", "EN_US"])
def test_unknown_language_suggests_fleurs_code(given):
    with pytest.raises(UnknownLanguageError, match=r"(?s)did you mean 'en_us'") as err:
        check_languages([given])
    message = str(err.value)
    assert "102 codes are available" in message and "\n" not in message  # one line


def test_words_counted_as_characters_for_han_text():
    assert count_words("我们 喜欢猫", "cmn_hans_cn") == 5
    assert count_words("we like cats", "en_us") == 3


# --- FLEURS -------------------------------------------------------------------------------------


def test_fleurs_config_loads_through_datasets_with_fleurs_features(fleurs_repo):
    ds = fleurs.load_config(str(fleurs_repo), "de_de", "test", None)
    assert ds.features["audio"] == datasets.Audio(sampling_rate=16_000, decode=False)
    assert isinstance(ds.features["lang_id"], datasets.ClassLabel)
    assert ds.features["lang_id"].int2str(ds[0]["lang_id"]) == "de_de"
    assert isinstance(ds[0]["audio"]["bytes"], bytes)  # not decoded


def test_fleurs_keeps_shared_ids_and_one_recording_per_item(fleurs_set):
    probes = fleurs_set
    assert probes.languages == ["de_de", "en_us", "es_419"]
    assert probes.ids == list(range(2, 13))  # 1 lacks in de_de, 40/50 in one language only
    assert list(probes.frame.columns) == list(COLUMNS)
    assert len(probes.frame) == 3 * 11
    keys = list(zip(probes.frame["lang_code"], probes.frame["id"], strict=True))
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    # the chosen recording is the one whose file name sorts first (also when `path` is empty)
    for lang in probes.languages:
        np.testing.assert_allclose(probes.durations(lang), [first_duration(i) for i in probes.ids])
    sel = probes.card["selection"]
    assert sel["recordings_per_language"] == {"de_de": 24, "en_us": 24, "es_419": 26}
    assert sel["ids_dropped_not_shared"] == {"en_us": 1, "de_de": 1, "es_419": 2}
    assert "sorts first" in probes.describe()["recording_rule"]


def test_fleurs_fills_schema_columns(fleurs_set):
    frame = fleurs_set.frame
    row = frame[(frame.lang_code == "es_419") & (frame.id == 3)].iloc[0]
    assert row.language == "Spanish" and row.lang_id == LANGUAGES["es_419"].lang_id
    assert row.raw_transcription == "Sentence 3 in Spanish."
    assert row.n_chars == len("Sentence 3 in Spanish.") and row.n_words == 4
    assert row.reading == 0 and row.category == "" and row.words == []
    assert row.num_samples == round(first_duration(3) * SR)
    assert fleurs_set.texts("en_us")[0] == "Sentence 2 in English."


def test_fleurs_audio_is_16k_float32_with_recorded_durations(fleurs_set):
    for lang in fleurs_set.languages:
        clips = fleurs_set.audio(lang)
        assert len(clips) == len(fleurs_set.ids)
        for clip, seconds in zip(clips, fleurs_set.durations(lang), strict=True):
            assert clip.dtype == np.float32 and clip.ndim == 1
            assert len(clip) == round(seconds * SR)
    half = fleurs_set.audio("de_de", sample_rate=8000)
    assert [len(c) for c in half] == [round(d * 8000) for d in fleurs_set.durations("de_de")]


def test_fleurs_describe_and_revision(fleurs_repo, fleurs_set):
    desc = fleurs_set.describe()
    assert desc["name"] == "fleurs" and desc["split"] == "test" and desc["n"] == 11
    assert desc["ids_sha256"] == ids_sha256(list(range(2, 13)))
    assert fleurs_set.revision.startswith("sha256:")
    assert json.loads(json.dumps(fleurs_set.card))["split"] == "test"  # results store it as JSON
    again = load_probes(ProbeSpec(source="fleurs", repo=str(fleurs_repo)))
    assert again.revision == fleurs_set.revision and again.ids == fleurs_set.ids


def test_fleurs_language_subset_and_split(fleurs_repo):
    two = load_probes(
        ProbeSpec(source="fleurs", repo=str(fleurs_repo), languages=("es_419", "en_us"))
    )
    assert two.languages == ["en_us", "es_419"] and two.ids == list(range(1, 13))
    train = load_probes(ProbeSpec(source="fleurs", repo=str(fleurs_repo), split="train"))
    assert train.languages == ["en_us"] and train.ids == [1, 2]
    with pytest.raises(
        UnknownLanguageError,
        match=r"(?s)'fr_fr': a FLEURS language \(French\), but not in.*Available \(3\): de_de, en_us, es_419",
    ):
        load_probes(ProbeSpec(source="fleurs", repo=str(fleurs_repo), languages=("fr_fr", "en_us")))
    with pytest.raises(ValueError, match=r"(?s)split 'dev'.*'validation'"):
        load_probes(ProbeSpec(source="fleurs", repo=str(fleurs_repo), split="dev"))


def test_fleurs_from_hub_uses_parquet_branch_sha(fleurs_repo, monkeypatch):
    """The Hub path: pin refs/convert/parquet's sha, then the same load_dataset call per config."""
    calls = []
    real = datasets.load_dataset

    def fake_load_dataset(path, **kwargs):
        calls.append((path, kwargs))
        return real(str(fleurs_repo), **{k: v for k, v in kwargs.items() if k != "revision"})

    monkeypatch.setattr(fleurs, "hub_revision", lambda repo: "a" * 40)
    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    probes = load_probes(ProbeSpec(source="fleurs", languages=("en_us", "de_de"), n=4))
    assert calls == [
        (
            "google/fleurs",
            {"data_files": {"test": f"{c}/test/*.parquet"}, "split": "test", "revision": "a" * 40},
        )
        for c in ("en_us", "de_de")
    ]
    assert probes.revision == "a" * 40 and probes.card["ref"] == "refs/convert/parquet"
    assert len(probes.ids) == 4


def test_fleurs_without_hub_says_what_to_do(monkeypatch):
    import huggingface_hub

    def offline(*args, **kwargs):
        raise ConnectionError("Hub unreachable")

    monkeypatch.setattr(fleurs, "hub_revision", offline)
    monkeypatch.setattr(datasets, "load_dataset", offline)
    spec = ProbeSpec(source="fleurs", languages=("en_us",))
    with pytest.raises(
        ConnectionError, match=r"(?s)resolve google/fleurs@refs/convert/parquet.*embedded set"
    ):
        load_probes(spec)
    # offline mode tries the datasets cache, then names the language and split that failed
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        ConnectionError, match=r"(?s)FLEURS en_us/test from google/fleurs.*embedded set"
    ):
        load_probes(spec)
    monkeypatch.setattr(fleurs, "hub_revision", lambda repo: "b" * 40)
    with pytest.raises(ConnectionError, match=r"(?s)FLEURS en_us/test.*Hub unreachable"):
        load_probes(spec)


# --- sampling -----------------------------------------------------------------------------------


def test_sample_is_deterministic_nested_and_seeded(fleurs_repo):
    spec = ProbeSpec(source="fleurs", repo=str(fleurs_repo), n=5, seed=3)
    a, b = load_probes(spec), load_probes(spec)
    assert a.ids == b.ids and len(a.ids) == 5 and a.ids == sorted(a.ids)
    assert set(a.ids) <= set(range(2, 13))
    assert a.texts("de_de") == b.texts("de_de")
    seeds = {tuple(sample_ids(range(100), 10, s)) for s in range(5)}
    assert len(seeds) == 5  # different seeds, different ids
    assert set(sample_ids(range(100), 10, 7)) <= set(sample_ids(range(100), 30, 7))
    assert a.describe()["selection"]["seed"] == 3


def test_n_larger_than_shared_ids_names_the_count(fleurs_repo):
    with pytest.raises(ValueError, match=r"(?s)n=12 asked for, but only 11 .*n <= 11"):
        load_probes(ProbeSpec(source="fleurs", repo=str(fleurs_repo), n=12))


# --- embedded sets ------------------------------------------------------------------------------


def test_embedded_set_listed_shown_and_loaded(sets_root):
    write_embedded_set(
        sets_root,
        "mini",
        ["en_us", "de_de", "fr_fr"],
        list(range(10)),
        second_voice=["en_us", "de_de"],
    )
    listed = {s["name"]: s for s in list_probe_sets()}
    assert listed["mini"]["kind"] == "embedded" and listed["mini"]["n_languages"] == 3
    assert listed["fleurs"]["kind"] == "hub" and listed["fleurs"]["n_languages"] == 102
    assert show_probe_set("mini")["speech"] == {"engine": "tone generator"}
    assert len(show_probe_set("fleurs")["languages"]) == 102

    probes = load_probes(ProbeSpec(source="mini"))
    assert probes.languages == ["de_de", "en_us", "fr_fr"] and probes.ids == list(range(10))
    assert probes.revision == "2024.1" and probes.card["license"] == "MIT"
    assert json.loads(json.dumps(probes.describe()))["selection"]["n"] == 10
    assert set(probes.frame["reading"]) == {0}
    assert probes.frame["category"].iloc[1] == "food"
    assert probes.words("en_us")[0] == [
        {"word": "Item", "label": "filler", "start_s": 0.0, "end_s": 0.1}
    ]
    for lang in probes.languages:
        clips = probes.audio(lang)
        for clip, seconds in zip(clips, probes.durations(lang), strict=True):
            assert clip.dtype == np.float32 and len(clip) == round(seconds * SR)


def test_embedded_second_reading_covers_a_subset(sets_root):
    write_embedded_set(
        sets_root,
        "mini",
        ["en_us", "de_de", "fr_fr"],
        list(range(10)),
        second_voice=["en_us", "de_de"],
    )
    second = load_probes(ProbeSpec(source="mini", reading=1))
    assert second.languages == ["de_de", "en_us"] and second.ids == list(range(5))
    assert set(second.frame["reading"]) == {1} and second.describe()["reading"] == 1
    assert second.durations("en_us")[0] == pytest.approx(0.35)
    with pytest.raises(ValueError, match=r"(?s)reading 1 is missing for \['fr_fr'\]"):
        load_probes(ProbeSpec(source="mini", reading=1, languages=("fr_fr", "en_us")))


def test_embedded_flac_at_22k_is_resampled(sets_root):
    write_embedded_set(sets_root, "flac", ["en_us", "es_419"], [1, 2, 3], fmt="FLAC", sr=22_050)
    probes = load_probes(ProbeSpec(source="flac"))
    clip = probes.audio("es_419")[2]
    assert clip.dtype == np.float32 and abs(len(clip) - probes.durations("es_419")[2] * SR) <= 1


def test_embedded_load_is_fast_and_lazy(sets_root, monkeypatch):
    write_embedded_set(sets_root, "big", list(FLEURS_CODES[:30]), list(range(50)))
    calls = []
    real = pq.read_table
    monkeypatch.setattr(
        pq, "read_table", lambda *a, **k: calls.append(k.get("columns")) or real(*a, **k)
    )
    probes = load_probes(ProbeSpec(source="big", n=20))
    assert len(probes.frame) == 30 * 20
    assert calls and all(cols is not None and "audio" not in cols for cols in calls)  # lazy
    # (how fast it loads is measured by benchmarks/, not asserted here)


def test_embedded_errors_name_the_item(sets_root):
    directory = write_embedded_set(sets_root, "bad", ["en_us", "de_de"], list(range(6)))
    rows = probe_rows("de_de", [0, 1, 2, 3, 4, 9])
    pq.write_table(pa.Table.from_pylist(rows), directory / "de_de.parquet")
    with pytest.raises(
        ValueError, match=r"(?s)ids differ.*de_de .*de_de\.parquet.* lacks id\(s\) \[5\]"
    ):
        load_probes(ProbeSpec(source="bad"))

    rows = probe_rows("de_de", range(6))
    rows[2]["raw_transcription"] = "  "
    pq.write_table(pa.Table.from_pylist(rows), directory / "de_de.parquet")
    with pytest.raises(ValueError, match=r"(?s)no text .*id 2 in de_de \(.*de_de\.parquet\)"):
        load_probes(ProbeSpec(source="bad"))

    rows = probe_rows("de_de", [*range(6), 3])
    pq.write_table(pa.Table.from_pylist(rows), directory / "de_de.parquet")
    with pytest.raises(ValueError, match=r"(?s)several rows .*id 3 in de_de"):
        load_probes(ProbeSpec(source="bad"))

    rows = probe_rows("de_de", range(6))
    rows[4]["audio"]["bytes"] = b"OggS not really audio"
    pq.write_table(pa.Table.from_pylist(rows), directory / "de_de.parquet")
    probes = load_probes(ProbeSpec(source="bad"))
    with pytest.raises(AudioDecodeError, match=r"(?s)bad: item id 4 in de_de \(.*de_de\.parquet\)"):
        probes.audio("de_de")

    rows[4] = probe_rows("de_de", [4])[0] | {"duration_s": 0.0}
    pq.write_table(pa.Table.from_pylist(rows), directory / "de_de.parquet")
    with pytest.raises(ValueError, match=r"(?s)empty audio .*id 4 in de_de"):
        load_probes(ProbeSpec(source="bad"))

    pq.write_table(pa.Table.from_pylist(probe_rows("fr_fr", range(6))), directory / "fr_fr.parquet")
    with pytest.raises(ValueError, match=r"(?s)\['fr_fr'\] that card.json does not list"):
        load_probes(ProbeSpec(source="bad"))


def test_unknown_set_and_language_messages(sets_root):
    write_embedded_set(sets_root, "udhr", ["en_us", "de_de"], [1, 2])
    with pytest.raises(
        UnknownProbeSetError, match=r"(?s)'udrh'.*Did you mean 'udhr'.*Available: udhr, fleurs"
    ):
        load_probes(ProbeSpec(source="udrh"))
    with pytest.raises(
        UnknownLanguageError, match=r"(?s)'de': did you mean 'de_de'.*Available \(2\)"
    ):
        load_probes(ProbeSpec(source="udhr", languages=("de",)))
    probes = load_probes(ProbeSpec(source="udhr"))
    with pytest.raises(UnknownLanguageError, match=r"(?s)probe set 'udhr'.*'en_us'"):
        probes.texts("en")


# --- user data ----------------------------------------------------------------------------------


def test_user_parquet_file_with_many_languages(tmp_path):
    rows = probe_rows("en_us", range(8)) + probe_rows("ja_jp", range(2, 8))
    for r in rows:  # a user's file: FLEURS columns + lang_code only
        for col in ("speaker", "reading", "duration_s", "n_chars", "n_words", "category", "words"):
            del r[col]
    file = tmp_path / "mine.parquet"
    pq.write_table(pa.Table.from_pylist(rows), file)
    probes = load_probes(ProbeSpec(source=str(file)))
    assert probes.name == "mine" and probes.languages == ["en_us", "ja_jp"]
    assert probes.ids == list(range(2, 8))  # shared ids
    assert probes.card["source"] == "user" and probes.revision.startswith("sha256:")
    np.testing.assert_allclose(
        probes.durations("ja_jp"), [0.3 + 0.02 * i for i in range(2, 8)], atol=1e-4
    )
    assert probes.text_lengths("en_us")[0] == len(probes.texts("en_us")[0])
    clips = probes.audio("en_us")
    assert all(
        len(c) == round(d * SR) for c, d in zip(clips, probes.durations("en_us"), strict=True)
    )

    rows[0]["raw_transcription"] = "changed"
    pq.write_table(pa.Table.from_pylist(rows), file)
    assert load_probes(ProbeSpec(source=str(file))).revision != probes.revision


def test_user_dir_of_minimal_parquet_files(tmp_path):
    for code in ("de_de", "es_419"):
        rows = [
            {"id": r["id"], "raw_transcription": r["raw_transcription"], "audio": r["audio"]}
            for r in probe_rows(code, range(5), fmt="FLAC", sr=22_050)
        ]
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / f"{code}.parquet")
    probes = load_probes(ProbeSpec(source=str(tmp_path), n=3, seed=1))
    assert probes.languages == ["de_de", "es_419"] and len(probes.ids) == 3
    frame = probes.frame
    assert list(frame.columns) == list(COLUMNS)
    assert set(frame["language"]) == {"German", "Spanish"} and set(frame["reading"]) == {0}
    assert (frame["transcription"] == frame["raw_transcription"]).all()
    assert probes.audio("es_419")[0].dtype == np.float32


def test_user_save_to_disk_dataset(tmp_path):
    table = pa.Table.from_pylist(
        fleurs_rows("de_de")[:8] + fleurs_rows("es_419")[:8], schema=FLEURS_FEATURES.arrow_schema
    )
    ds = datasets.Dataset(table)
    assert isinstance(ds.features["audio"], datasets.Audio)
    ds.save_to_disk(str(tmp_path / "single"))
    datasets.DatasetDict({"test": ds, "train": ds.select(range(2))}).save_to_disk(
        str(tmp_path / "dict")
    )

    one = load_probes(ProbeSpec(source=str(tmp_path / "single")))
    # languages from the lang_id ClassLabel; de_de has ids 2-5, es_419 ids 1-4
    assert one.languages == ["de_de", "es_419"] and one.ids == [2, 3, 4]
    np.testing.assert_allclose(
        one.durations("de_de"), [first_duration(i) for i in one.ids], atol=1e-4
    )
    assert all(c.dtype == np.float32 for c in one.audio("es_419"))
    split = load_probes(ProbeSpec(source=str(tmp_path / "dict")))
    assert split.ids == one.ids and split.revision.startswith("sha256:")
    with pytest.raises(ValueError, match=r"(?s)no split 'validation'.*\['test', 'train'\]"):
        load_probes(ProbeSpec(source=str(tmp_path / "dict"), split="validation"))


def test_user_data_errors(tmp_path, fleurs_repo):
    with pytest.raises(ValueError, match=r"(?s)laid out like FLEURS.*source: fleurs, repo:"):
        load_probes(ProbeSpec(source=str(fleurs_repo)))

    rows = [{"id": 1, "raw_transcription": "x", "lang_code": "en_us"}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "noaudio.parquet")
    with pytest.raises(ValueError, match=r"(?s)noaudio\.parquet: missing column\(s\) \['audio'\]"):
        load_probes(ProbeSpec(source=str(tmp_path / "noaudio.parquet")))

    rows = [
        {
            "id": 1,
            "raw_transcription": "x",
            "audio": {"bytes": None, "path": "/nowhere/1.wav"},
            "lang_code": "en_us",
        }
    ]
    rows.append({**rows[0], "id": 2, "audio": {"bytes": wav_bytes(0.2), "path": "b.wav"}})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "pathonly.parquet")
    # an undecodable clip does not block loading (a text-only model never needs it) ...
    probes = load_probes(ProbeSpec(source=str(tmp_path / "pathonly.parquet")))
    assert probes.ids == [1, 2] and probes.texts("en_us") == ["x", "x"]
    (problem,) = probes.card["undecodable"]
    assert "item id 1 in en_us" in problem and "no audio bytes" in problem
    # ... its audio names the item and the way out ...
    with pytest.raises(
        AudioDecodeError, match=r"(?s)item id 1 in en_us .*no audio bytes .*--skip-undecodable"
    ):
        probes.audio("en_us")
    # ... which leaves it out explicitly, and says so
    skipped = load_probes(
        ProbeSpec(source=str(tmp_path / "pathonly.parquet"), skip_undecodable=True)
    )
    assert skipped.ids == [2] and len(skipped.audio("en_us")) == 1
    assert "item id 1 in en_us" in skipped.card["skipped_items"][0]

    rows = [{"id": 1, "raw_transcription": "x", "audio": {"bytes": wav_bytes(0.1), "path": "a"}}]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "nolang.parquet")
    with pytest.raises(
        ValueError, match=r"(?s)nolang\.parquet: cannot tell the language .*`lang_code`"
    ):
        load_probes(ProbeSpec(source=str(tmp_path / "nolang.parquet")))

    rows[0]["lang_code"] = "english"
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "badlang.parquet")
    with pytest.raises(
        UnknownLanguageError, match=r"(?s)badlang\.parquet.*'english': did you mean 'en_us'"
    ):
        load_probes(ProbeSpec(source=str(tmp_path / "badlang.parquet")))


# --- length controls ----------------------------------------------------------------------------


def test_length_features(fleurs_set):
    speech = length_features(fleurs_set, "en_us", "speech")
    text = length_features(fleurs_set, "en_us", "text")
    assert speech.shape == (11, len(LENGTH_FEATURES["speech"]))
    assert text.shape == (11, len(LENGTH_FEATURES["text"]))
    np.testing.assert_allclose(speech[:, 0], np.log(fleurs_set.durations("en_us")))
    np.testing.assert_allclose(np.exp(text[:, 0]), fleurs_set.text_lengths("en_us"))
    with pytest.raises(ValueError, match="modality"):
        length_features(fleurs_set, "en_us", "video")


def test_decode_audio_rejects_empty_and_garbage():
    with pytest.raises(AudioDecodeError, match=r"(?s)clip 7: no audio bytes"):
        decode_audio({"bytes": b"", "path": None}, what="clip 7")
    with pytest.raises(AudioDecodeError, match=r"(?s)clip 8: could not decode"):
        decode_audio(b"RIFF....WAVEjunk", what="clip 8")
    with pytest.raises(AudioDecodeError, match=r"(?s)0 samples"):
        decode_audio(encode_audio(np.zeros(0, np.float32), SR, "WAV", "PCM_16"))
    stereo = encode_audio(np.stack([tone(0.1), tone(0.1)], axis=1), SR, "WAV", "PCM_16")
    assert decode_audio(stereo).shape == (1600,)

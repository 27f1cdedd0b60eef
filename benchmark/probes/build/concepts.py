"""The "concepts" probe set: hand-written parallel sentences with concept-labelled words, spoken by
espeak-ng, with each labelled word's time span in the audio (for pooling speech frames per word).

Sources: benchmark/probes/sources/concepts/NN_<category>.yaml, each

    category: animals
    sentences:
      - id: 101
        en_us: {text: "The old dog sleeps under the kitchen table.", words: {ANIMAL.dog: dog}}
        de_de: {text: "Der alte Hund schläft unter dem Küchentisch.", words: {ANIMAL.dog: Hund}}
        ...

`words` maps a concept label to the exact surface string in that language's text. Time spans come
from espeak-ng's word events (the sample where each word starts), not from guesses: a labelled
string covers the word events whose characters it overlaps, from the first one's start to the end
of the last one (the next word's start, minus any pause).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from benchmark.errors import UsageError
from benchmark.probes.build import espeak, write
from benchmark.probes.build.voices import (
    VARIED_PITCHES,
    VARIED_RATES,
    VARIED_VARIANTS,
    check_voice,
    flat_text,
    has_han,
    language,
    speech_text,
    varied_voice,
)
from benchmark.probes.languages import LANGUAGES as FLEURS

SOURCES = Path(__file__).resolve().parent.parent / "sources" / "concepts"
UNSPACED_SCRIPTS = {"Hans", "Hant", "Thai", "Khmr", "Laoo", "Mymr"}


class ConceptSourceError(UsageError):
    """A problem in a concepts YAML file; the message names file, sentence id, language and label."""


class SpanError(UsageError):
    """A labelled word that no espeak-ng word event covers."""


@dataclass
class Entry:
    text: str
    words: dict[str, str]  # label -> surface string in `text`


@dataclass
class Sentence:
    id: int
    category: str
    file: str
    entries: dict[str, Entry] = field(default_factory=dict)  # FLEURS code -> entry


def _fail(file: str, msg: str, sid=None, lang=None, label=None) -> ConceptSourceError:
    where = [file] + [
        f"{k} {v}" for k, v in (("id", sid), ("language", lang), ("label", label)) if v is not None
    ]
    return ConceptSourceError(f"{': '.join([', '.join(where), msg])}")


def load_sources(folder: Path = SOURCES) -> list[Sentence]:
    """Every sentence of every `*.yaml` in `folder` (sorted by file name), validated."""
    folder = Path(folder)
    files = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not files:
        raise ConceptSourceError(f"{folder}: no concepts YAML files (NN_<category>.yaml)")
    sentences: list[Sentence] = []
    seen: dict[int, str] = {}
    for path in files:
        for s in parse_file(path):
            if s.id in seen:
                raise _fail(
                    s.file,
                    f"duplicate sentence id (also in {seen[s.id]}); ids must be unique",
                    s.id,
                )
            seen[s.id] = s.file
            sentences.append(s)
    check_languages_complete(sentences)
    return sentences


def parse_file(path: Path) -> list[Sentence]:
    name = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise _fail(name, f"not valid YAML ({err})") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("category"), str) or not doc["category"]:
        raise _fail(name, "needs a top-level `category: <name>` and `sentences: [...]`")
    items = doc.get("sentences")
    if not isinstance(items, list) or not items:
        raise _fail(name, "`sentences` must be a non-empty list")
    out = []
    for n, item in enumerate(items):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("id"), int)
            or isinstance(item.get("id"), bool)
        ):
            raise _fail(name, f"sentence #{n + 1} needs an integer `id`")
        sid = item["id"]
        sentence = Sentence(sid, doc["category"], name)
        for lang, entry in item.items():
            if lang == "id":
                continue
            if lang not in FLEURS:
                raise _fail(
                    name,
                    "unknown language key; use FLEURS codes such as en_us, cmn_hans_cn",
                    sid,
                    lang,
                )
            sentence.entries[lang] = parse_entry(name, sid, lang, entry)
        if not sentence.entries:
            raise _fail(name, "no languages", sid)
        labels = {lang: set(e.words) for lang, e in sentence.entries.items()}
        first = next(iter(labels))
        for lang, labs in labels.items():
            if labs != labels[first]:
                diff = sorted(labs ^ labels[first])
                raise _fail(
                    name,
                    f"labels differ from {first}'s ({sorted(labels[first])} vs {sorted(labs)}; differing: {diff}); "
                    "every language of a sentence must label the same concepts",
                    sid,
                    lang,
                )
        out.append(sentence)
    return out


def parse_entry(name: str, sid: int, lang: str, entry) -> Entry:
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("text"), str)
        or not entry["text"].strip()
    ):
        raise _fail(name, "needs {text: ..., words: {LABEL: surface}}", sid, lang)
    words = entry.get("words") or {}
    if not isinstance(words, dict):
        raise _fail(name, "`words` must map concept labels to surface strings", sid, lang)
    text = entry["text"].strip()
    for label, surface in words.items():
        if not isinstance(label, str) or not isinstance(surface, str) or not surface.strip():
            raise _fail(
                name,
                f"word {surface!r}: labels and surface strings must be non-empty text",
                sid,
                lang,
                label,
            )
        if surface not in text:
            raise _fail(
                name,
                f"surface string {surface!r} does not occur in the text {text!r}",
                sid,
                lang,
                label,
            )
    if lang in ("ja_jp",) and has_han(text):
        raise _fail(
            name,
            "Japanese text must be kana (espeak-ng reads kanji as English letter names)",
            sid,
            lang,
        )
    return Entry(text, dict(words))


def check_languages_complete(
    sentences: list[Sentence], languages: Sequence[str] | None = None
) -> list[str]:
    """The languages of the set (all that appear, or `languages`); error if a sentence lacks one."""
    wanted = (
        list(languages) if languages else sorted({lang for s in sentences for lang in s.entries})
    )
    for s in sentences:
        missing = [lang for lang in wanted if lang not in s.entries]
        if missing:
            raise _fail(
                s.file, f"missing language(s) {missing}; every sentence needs all of {wanted}", s.id
            )
    return wanted


def find_surface(text: str, surface: str) -> int:
    """Offset of `surface` in `text`: the first occurrence that stands as whole words, else the first."""
    for m in re.finditer(re.escape(surface), text):
        a, b = m.start(), m.end()
        if (a == 0 or not text[a - 1].isalnum()) and (b == len(text) or not text[b].isalnum()):
            return a
    return text.index(surface)


def label_spans(
    text: str, entry_words: dict[str, str], synth: espeak.Synthesis, where: str
) -> list[dict]:
    """[{word, label, start_s, end_s, char_start, char_end}] for each labelled surface string:
    its time span from the word events, and its character span in `text` (Python string indices,
    end exclusive: text[char_start:char_end] == word), in order of time.

    A word event stands for the text from its offset up to the next event's offset: espeak-ng
    speaks that stretch in that event's time span (French "l'éléphant" has one event, at "l").
    `text` must be the stored text (raw_transcription) with the offsets espeak-ng was given.
    """
    spans = sorted(espeak.word_spans(synth), key=lambda s: s.char_start)
    ends = [s.char_start for s in spans[1:]] + [len(text)]
    rate = synth.sample_rate
    out = []
    for label, surface in entry_words.items():
        a = find_surface(text, surface)
        b = a + len(surface)
        hit = [s for s, end in zip(spans, ends, strict=True) if s.char_start < b and end > a]
        if not hit:
            raise SpanError(
                f"{where}, label {label}: espeak-ng reported no word event over {surface!r} "
                f"(characters {a}-{b} of {text!r}); rephrase so it is spoken as a word"
            )
        start = min(s.start_sample for s in hit)
        end = max(s.end_sample for s in hit)
        out.append(
            {
                "word": surface,
                "label": label,
                "start_s": round(start / rate, 4),
                "end_s": round(end / rate, 4),
                "char_start": a,
                "char_end": b,
            }
        )
    out.sort(key=lambda w: (w["start_s"], w["label"]))
    for prev, cur in zip(out, out[1:], strict=False):
        if cur["char_start"] < prev["char_end"]:
            raise SpanError(
                f"{where}: labelled words {prev['word']!r} ({prev['label']}) and {cur['word']!r} "
                f"({cur['label']}) overlap or are out of order in {text!r} (characters "
                f"{prev['char_start']}-{prev['char_end']} and {cur['char_start']}-{cur['char_end']})"
            )
    return out


def _speak_language(lang, sentences: list[Sentence]) -> tuple[list, float, list[str]]:
    """Every sentence of one language spoken: (items, seconds of speech, texts as spoken).
    Flat prosody: punctuation is not spoken (no pause or intonation cue a translation shares),
    and each recording has its own voice, rate and pitch."""
    spaced = lang.script not in UNSPACED_SCRIPTS
    items, spoken, texts = [], 0.0, []
    for s in sorted(sentences, key=lambda s: s.id):
        entry = s.entries[lang.code]
        said = flat_text(speech_text(lang, entry.text))
        where = f"{s.file}, id {s.id}, language {lang.code}"
        if len(said) != len(entry.text):
            raise ConceptSourceError(f"{where}: speech text changed length")
        voice = varied_voice(lang.espeak, s.id, lang.code)
        synth = espeak.speak(said, voice.spec, voice.rate, voice.pitch, spaced=spaced)
        spoken += synth.duration_s
        texts.append(said)
        items.append(
            write.Item(
                id=s.id,
                lang_code=lang.code,
                language=lang.name,
                lang_id=lang.lang_id,
                text=entry.text,
                wave=synth.waveform,
                speaker=voice.speaker(espeak.engine().version),
                gender=voice.gender,
                reading=0,
                category=s.category,
                words=label_spans(entry.text, entry.words, synth, where),
            )
        )
    return items, spoken, texts


def build(
    out_dir: Path,
    languages: Sequence[str] | None = None,
    sources: Path = SOURCES,
    ids: Sequence[int] | None = None,
    command: str = "",
    log: Callable[[str], None] = print,
) -> dict:
    """Build the concepts set from `sources` into `out_dir`; returns the card."""
    sentences = load_sources(sources)
    if ids:
        unknown = sorted(set(ids) - {s.id for s in sentences})
        if unknown:
            raise ConceptSourceError(f"{sources}: no sentences with ids {unknown}")
        sentences = [s for s in sentences if s.id in set(ids)]
    codes = check_languages_complete(sentences, languages)
    langs = [language(c) for c in codes]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.parquet"):
        old.unlink()
    t0 = time.time()
    voices, codecs, checks = {}, set(), {}
    for lang in langs:
        items, spoken, texts = _speak_language(lang, sentences)
        check = check_voice(lang.code, lang.voice(0).spec, texts, spoken)
        checks[lang.code] = round(check.s_per_char, 4)
        voices[lang.code] = sorted({item.speaker.split()[2] for item in items})
        _, used = write.write_language(items, out_dir, "concepts")
        codecs |= used
        log(check.row() + f"  {spoken / 60:5.1f} min  ({time.time() - t0:.0f} s)")
    categories: dict[str, int] = {}
    for s in sentences:
        categories[s.category] = categories.get(s.category, 0) + 1
    labels = sorted({label for s in sentences for label in next(iter(s.entries.values())).words})
    card = {
        "name": "concepts",
        "license": "Apache-2.0 (sentences written for Interlingua Bench); speech made with espeak-ng (see README)",
        "description": (
            "Hand-written parallel sentences in semantic categories, with concept-labelled words and "
            "their time spans in espeak-ng speech (from the synthesizer's word events)."
        ),
        "sources": [
            {
                "name": "Interlingua Bench concept sentences",
                "files": sorted({Path(s.file).name for s in sentences}),
                "folder": "benchmark/probes/sources/concepts",
            }
        ],
        "speech": _speech_card(voices, codecs),
        "build": {
            "command": command,
            "date": time.strftime("%Y-%m-%d"),
            "seconds": round(time.time() - t0),
        },
        "categories": categories,
        "labels": labels,
        "n_labels": len(labels),
        "voice_check": checks,
    }
    return write.finish_card(
        out_dir, card, README.replace("{categories}", _category_table(categories))
    )


def _speech_card(voices: dict, codecs: set) -> dict:
    """How the set's speech was made (card.json's `speech`)."""
    return {
        "engine": "espeak-ng (libespeak-ng via ctypes)",
        "version": espeak.engine().version,
        "voices": voices,
        "readings": (
            "one reading per sentence and language, each recording with its own espeak-ng "
            "voice variant, rate and pitch, drawn by sha256 of (id, language): variants "
            f"{list(VARIED_VARIANTS)}, rates {list(VARIED_RATES)} wpm, pitches "
            f"{list(VARIED_PITCHES)}; the item's `speaker` names its own"
        ),
        "prosody": (
            "flat: punctuation is not spoken (replaced by a space in the text given to "
            "espeak-ng), so no pause or intonation cue is shared by a sentence's "
            "translations; the transcription keeps its punctuation. Revision 2: with one "
            "voice per language and spoken punctuation, a model of duration, energy and pause "
            "structure alone scored cross-lingual speech SVCCA above its null"
        ),
        "sample_rate": write.SAMPLE_RATE,
        "codec": "+".join(sorted(codecs)) or "opus",
        "silence": "50 ms of silence at each end (longer silences cut)",
        "word_spans": "espeak-ng WORD events: start = the word's first sample; end = next word's start, pauses trimmed",
    }


def _category_table(categories: dict[str, int]) -> str:
    rows = ["| category | sentences |", "| --- | ---: |"]
    rows += [f"| {c} | {n} |" for c, n in sorted(categories.items())]
    return "\n".join(rows)


README = (SOURCES / "README.template.md").read_text(encoding="utf-8")

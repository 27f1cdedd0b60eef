"""FLEURS's 102 languages: config code, English name, FLEURS `lang_id`, ISO 639-3 code and script.

`lang_id` is the index of the code in FLEURS's sorted config list (the `lang_id` ClassLabel of
`google/fleurs`, whose last name is the extra "all" config). ISO 639-3 codes follow FLORES-200, the
text FLEURS was read from (e.g. `arb` Standard Arabic, `zsm` Malay, `pes` Persian), so they match the
three-letter codes of NLLB/SeamlessM4T-style models. Scripts are ISO 15924.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from benchmark.errors import UsageError, close_matches


@dataclass(frozen=True)
class FleursLanguage:
    code: str  # FLEURS config, e.g. "es_419"
    name: str  # FLEURS `language` field, e.g. "Spanish"
    lang_id: int  # FLEURS `lang_id`
    iso639_3: str
    script: str


# code: (name, ISO 639-3, script)
_TABLE: dict[str, tuple[str, str, str]] = {
    "af_za": ("Afrikaans", "afr", "Latn"),
    "am_et": ("Amharic", "amh", "Ethi"),
    "ar_eg": ("Arabic", "arb", "Arab"),
    "as_in": ("Assamese", "asm", "Beng"),
    "ast_es": ("Asturian", "ast", "Latn"),
    "az_az": ("Azerbaijani", "azj", "Latn"),
    "be_by": ("Belarusian", "bel", "Cyrl"),
    "bg_bg": ("Bulgarian", "bul", "Cyrl"),
    "bn_in": ("Bengali", "ben", "Beng"),
    "bs_ba": ("Bosnian", "bos", "Latn"),
    "ca_es": ("Catalan", "cat", "Latn"),
    "ceb_ph": ("Cebuano", "ceb", "Latn"),
    "ckb_iq": ("Sorani-Kurdish", "ckb", "Arab"),
    "cmn_hans_cn": ("Mandarin Chinese", "cmn", "Hans"),
    "cs_cz": ("Czech", "ces", "Latn"),
    "cy_gb": ("Welsh", "cym", "Latn"),
    "da_dk": ("Danish", "dan", "Latn"),
    "de_de": ("German", "deu", "Latn"),
    "el_gr": ("Greek", "ell", "Grek"),
    "en_us": ("English", "eng", "Latn"),
    "es_419": ("Spanish", "spa", "Latn"),
    "et_ee": ("Estonian", "est", "Latn"),
    "fa_ir": ("Persian", "pes", "Arab"),
    "ff_sn": ("Fula", "ful", "Latn"),
    "fi_fi": ("Finnish", "fin", "Latn"),
    "fil_ph": ("Filipino", "fil", "Latn"),
    "fr_fr": ("French", "fra", "Latn"),
    "ga_ie": ("Irish", "gle", "Latn"),
    "gl_es": ("Galician", "glg", "Latn"),
    "gu_in": ("Gujarati", "guj", "Gujr"),
    "ha_ng": ("Hausa", "hau", "Latn"),
    "he_il": ("Hebrew", "heb", "Hebr"),
    "hi_in": ("Hindi", "hin", "Deva"),
    "hr_hr": ("Croatian", "hrv", "Latn"),
    "hu_hu": ("Hungarian", "hun", "Latn"),
    "hy_am": ("Armenian", "hye", "Armn"),
    "id_id": ("Indonesian", "ind", "Latn"),
    "ig_ng": ("Igbo", "ibo", "Latn"),
    "is_is": ("Icelandic", "isl", "Latn"),
    "it_it": ("Italian", "ita", "Latn"),
    "ja_jp": ("Japanese", "jpn", "Jpan"),
    "jv_id": ("Javanese", "jav", "Latn"),
    "ka_ge": ("Georgian", "kat", "Geor"),
    "kam_ke": ("Kamba", "kam", "Latn"),
    "kea_cv": ("Kabuverdianu", "kea", "Latn"),
    "kk_kz": ("Kazakh", "kaz", "Cyrl"),
    "km_kh": ("Khmer", "khm", "Khmr"),
    "kn_in": ("Kannada", "kan", "Knda"),
    "ko_kr": ("Korean", "kor", "Hang"),
    "ky_kg": ("Kyrgyz", "kir", "Cyrl"),
    "lb_lu": ("Luxembourgish", "ltz", "Latn"),
    "lg_ug": ("Ganda", "lug", "Latn"),
    "ln_cd": ("Lingala", "lin", "Latn"),
    "lo_la": ("Lao", "lao", "Laoo"),
    "lt_lt": ("Lithuanian", "lit", "Latn"),
    "luo_ke": ("Luo", "luo", "Latn"),
    "lv_lv": ("Latvian", "lvs", "Latn"),
    "mi_nz": ("Maori", "mri", "Latn"),
    "mk_mk": ("Macedonian", "mkd", "Cyrl"),
    "ml_in": ("Malayalam", "mal", "Mlym"),
    "mn_mn": ("Mongolian", "khk", "Cyrl"),
    "mr_in": ("Marathi", "mar", "Deva"),
    "ms_my": ("Malay", "zsm", "Latn"),
    "mt_mt": ("Maltese", "mlt", "Latn"),
    "my_mm": ("Burmese", "mya", "Mymr"),
    "nb_no": ("Norwegian", "nob", "Latn"),
    "ne_np": ("Nepali", "npi", "Deva"),
    "nl_nl": ("Dutch", "nld", "Latn"),
    "nso_za": ("Northern-Sotho", "nso", "Latn"),
    "ny_mw": ("Nyanja", "nya", "Latn"),
    "oc_fr": ("Occitan", "oci", "Latn"),
    "om_et": ("Oromo", "gaz", "Latn"),
    "or_in": ("Oriya", "ory", "Orya"),
    "pa_in": ("Punjabi", "pan", "Guru"),
    "pl_pl": ("Polish", "pol", "Latn"),
    "ps_af": ("Pashto", "pbt", "Arab"),
    "pt_br": ("Portuguese", "por", "Latn"),
    "ro_ro": ("Romanian", "ron", "Latn"),
    "ru_ru": ("Russian", "rus", "Cyrl"),
    "sd_in": ("Sindhi", "snd", "Arab"),
    "sk_sk": ("Slovak", "slk", "Latn"),
    "sl_si": ("Slovenian", "slv", "Latn"),
    "sn_zw": ("Shona", "sna", "Latn"),
    "so_so": ("Somali", "som", "Latn"),
    "sr_rs": ("Serbian", "srp", "Cyrl"),
    "sv_se": ("Swedish", "swe", "Latn"),
    "sw_ke": ("Swahili", "swh", "Latn"),
    "ta_in": ("Tamil", "tam", "Taml"),
    "te_in": ("Telugu", "tel", "Telu"),
    "tg_tj": ("Tajik", "tgk", "Cyrl"),
    "th_th": ("Thai", "tha", "Thai"),
    "tr_tr": ("Turkish", "tur", "Latn"),
    "uk_ua": ("Ukrainian", "ukr", "Cyrl"),
    "umb_ao": ("Umbundu", "umb", "Latn"),
    "ur_pk": ("Urdu", "urd", "Arab"),
    "uz_uz": ("Uzbek", "uzn", "Latn"),
    "vi_vn": ("Vietnamese", "vie", "Latn"),
    "wo_sn": ("Wolof", "wol", "Latn"),
    "xh_za": ("Xhosa", "xho", "Latn"),
    "yo_ng": ("Yoruba", "yor", "Latn"),
    "yue_hant_hk": ("Cantonese Chinese", "yue", "Hant"),
    "zu_za": ("Zulu", "zul", "Latn"),
}

FLEURS_CODES: tuple[str, ...] = tuple(sorted(_TABLE))
"""The 102 FLEURS configs in FLEURS's own (sorted) order: `lang_id` is the index here."""

LANGUAGES: dict[str, FleursLanguage] = {
    code: FleursLanguage(code, _TABLE[code][0], lang_id, _TABLE[code][1], _TABLE[code][2])
    for lang_id, code in enumerate(FLEURS_CODES)
}

# Scripts written without spaces between words, where `n_words` counts characters instead.
_CHARACTER_SCRIPTS = {"Hans", "Hant", "Jpan"}
# What separates words besides whitespace: the Ethiopic wordspace ፡ (U+1361; Amharic text puts it,
# not a space, between words) and the Ethiopic punctuation that ends a word and may stand without
# one (። ፣ ፤ ፥ ፦ ፧ ፨, U+1362-U+1368); the zero-width space that some texts in unspaced scripts put
# at word breaks. Thai, Lao, Khmer and Burmese have no word separator: their spaces mark phrases.
_WORD_SEPARATORS = re.compile(r"[\s\u1361-\u1368\u200b]+")


class UnknownLanguageError(UsageError):
    """A language code that is not a FLEURS config, or not available in the chosen probe set."""


def suggest(code: str, candidates: Iterable[str]) -> list[str]:
    """Likely intended codes: same base language / ISO 639-3 / English name, then spelling."""
    candidates = list(candidates)
    key = code.strip().lower().replace("-", "_")
    if key in candidates:
        return [key]
    hits = []
    for cand in candidates:
        lang = LANGUAGES.get(cand)
        names = {cand.split("_")[0]}
        if lang is not None:
            names |= {lang.iso639_3, lang.name.lower()}
        if key in names or key.split("_")[0] in names:
            hits.append(cand)
    for cand in close_matches(key, candidates, cutoff=0.6):
        if cand not in hits:
            hits.append(cand)
    return hits[:5]


def check_languages(
    codes: Sequence[str], available: Sequence[str] | None = None, where: str = "FLEURS"
) -> list[str]:
    """Return `codes` if every one is a FLEURS code present in `available`; else a did-you-mean error."""
    available = list(FLEURS_CODES if available is None else available)
    if isinstance(codes, str):
        codes = [codes]
    unknown = [c for c in codes if c not in available]
    if unknown:
        parts = []
        for code in unknown:
            hint = suggest(code, available)
            if code in LANGUAGES:
                why = f"a FLEURS language ({LANGUAGES[code].name}), but not in {where}"
            elif hint:
                why = f"did you mean {', '.join(map(repr, hint))}?"
            else:
                why = "no close match"
            parts.append(f"{code!r}: {why}")
        not_fleurs = [c for c in unknown if c not in LANGUAGES]
        note = (
            " Codes are FLEURS configs such as 'en_us', 'de_de', 'cmn_hans_cn'."
            if not_fleurs
            else ""
        )
        listed = (
            f"Available ({len(available)}): {', '.join(available)}"
            if len(available) <= 40
            else f"{len(available)} codes are available (`interlingua probes show fleurs`)"
        )
        raise UnknownLanguageError(
            f"Unknown language(s) for {where}: {'; '.join(parts)}.{note} {listed}."
        )
    if len(set(codes)) != len(codes):
        dupes = sorted({c for c in codes if list(codes).count(c) > 1})
        raise UnknownLanguageError(
            f"Language(s) listed twice for {where}: {dupes}; list each once."
        )
    return list(codes)


def get_language(code: str) -> FleursLanguage:
    check_languages([code])
    return LANGUAGES[code]


def count_words(text: str, code: str) -> int:
    """Words of `text`: the pieces between whitespace and other word separators (the Ethiopic
    wordspace ፡ and punctuation, the zero-width space); for Han/kana text (no spaces between
    words), non-space characters. Thai, Lao, Khmer and Burmese text is not segmented: there the
    count is of space-separated phrases."""
    lang = LANGUAGES.get(code)
    if lang is not None and lang.script in _CHARACTER_SCRIPTS:
        return len(re.sub(r"\s+", "", text))
    return sum(1 for piece in _WORD_SEPARATORS.split(text) if piece)

"""Which words the lens can read, and their tokens: word selection and tokenisation.

The lens compares two probabilities at one position: that of the word in the input language and
that of its English translation. The comparison has a known neutral point only when each side is
ONE token: a word scored through several first tokens (or a partial UTF-8 byte, or a one-letter
piece shared by thousands of words) gets more mass under any distribution, uniform included, the
more pieces its tokenisation offers (English words are single tokens far more often than Chinese
ones). So a word is usable only when both its forms are single whole-word tokens, written the same
way (a leading space on both when the word follows a space in its sentence, none on both when it
does not), and the two tokens are different words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.probes import ProbeSet

# why a labelled word is left out (each counted in the result's details, per language)
REASONS = (
    "no_english_word",  # the English sentence has no word of that concept
    "not_in_text",  # the word is not found in its sentence
    "input_not_one_token",  # the input-language form is several tokens (or a partial byte)
    "english_not_one_token",  # the English form is
    "same_word",  # the two forms are one word (cognates written alike: "Taxi"/"taxi")
)


def word_span(text: str, word: dict) -> tuple[int, int] | None:
    """The word's [start, end) characters in the text: the probe set's own offsets when it has
    them, else its first whole-word occurrence (else its first occurrence)."""
    if word.get("char_start") is not None and word.get("char_end") is not None:
        return int(word["char_start"]), int(word["char_end"])
    surface = str(word.get("word") or "")
    if not surface:
        return None
    start, found = 0, None
    while (at := text.find(surface, start)) >= 0:
        end = at + len(surface)
        whole = (at == 0 or not text[at - 1].isalnum()) and (
            end == len(text) or not text[end].isalnum()
        )
        if whole:
            return at, end
        found = found if found is not None else at
        start = at + 1
    return (found, found + len(surface)) if found is not None else None


def single_token(tokenizer, form: str) -> tuple[int, int] | None:
    """(id, k) when the tokenizer writes `form` as k lone whitespace tokens (SentencePiece's
    prefix, or a byte-level BPE that has no spaced token for the word: " three" -> " ", "three")
    then ONE token that decodes to the whole word; else None: several pieces, a partial UTF-8
    byte (it decodes to U+FFFD) or an unknown-word token."""
    ids = tokenizer(form, add_special_tokens=False)["input_ids"]
    k = 0
    while k < len(ids) and not tokenizer.decode([ids[k]]).strip():
        k += 1
    if len(ids) != k + 1:
        return None
    # casefold: an uncased tokenizer writes "Hund" as "hund" (still the whole word)
    if tokenizer.decode(ids[k:]).strip().casefold() != form.strip().casefold():
        return None
    return int(ids[k]), k


def english_form(word: dict, text: str) -> str:
    """The English word as its sentence writes it, lower-cased at the sentence's start (a
    capital there is the position's, not the word's)."""
    surface = str(word["word"])
    span = word_span(text, word)
    if span is not None and not text[: span[0]].strip():
        surface = surface[:1].lower() + surface[1:]
    return surface


@dataclass
class Words:
    """The usable words of one language: per word its sentence (index into the probe ids), its
    concept label, its character span, and the token ids of its input-language and English forms;
    and how many labelled words were left out, and why (`REASONS`)."""

    item: list[int] = field(default_factory=list)
    label: list[str] = field(default_factory=list)
    span: list[tuple[int, int]] = field(default_factory=list)
    input_id: list[int] = field(default_factory=list)
    english_id: list[int] = field(default_factory=list)
    total: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))

    def __len__(self) -> int:
        return len(self.item)


def select_words(probes: ProbeSet, language: str, reference: str, tokenizer) -> Words:
    """The words of `language` the lens can read against their `reference` translations."""
    texts, english_texts = probes.texts(language), probes.texts(reference)
    out = Words()
    for i, (ws, en_ws) in enumerate(
        zip(probes.words(language), probes.words(reference), strict=True)
    ):
        english = {w.get("label"): w for w in en_ws if w.get("word")}
        for w in ws:
            out.total += 1
            reason, found = _read_word(w, english, texts[i], english_texts[i], tokenizer)
            if reason:
                out.skipped[reason] += 1
                continue
            span, x_id, e_id = found
            out.item.append(i)
            out.label.append(str(w.get("label")))
            out.span.append(span)
            out.input_id.append(x_id)
            out.english_id.append(e_id)
    return out


def _read_word(word: dict, english: dict, text: str, english_text: str, tokenizer):
    """(reason it is left out, None) or (None, (span, input token id, English token id))."""
    en = english.get(word.get("label"))
    if en is None:
        return "no_english_word", None
    span = word_span(text, word)
    if span is None or span[0] >= span[1]:
        return "not_in_text", None
    spaced = span[0] > 0 and text[span[0] - 1].isspace()  # as the model reads it here
    prefix = " " if spaced else ""
    surface, en_surface = text[span[0] : span[1]], english_form(en, english_text)
    x, e = single_token(tokenizer, prefix + surface), single_token(tokenizer, prefix + en_surface)
    # both one token after as many whitespace tokens: else one of them is not predicted at the
    # same position ("drei" follows the previous word; "three" follows a lone " " token)
    if x is None or (e is not None and x[1] > e[1]):
        return "input_not_one_token", None
    if e is None or e[1] > x[1]:
        return "english_not_one_token", None
    if x[0] == e[0] or surface.casefold() == en_surface.casefold():
        return "same_word", None
    return None, (span, x[0], e[0])

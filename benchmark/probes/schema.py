"""The probe schema: FLEURS's fields plus a few that tasks need.

One row = one recording of one sentence in one language. Rows with the same `id` are translations of
each other across languages (FLEURS ids are shared across its configs; the embedded sets follow suit).

FLEURS fields (kept as in `google/fleurs`):
    id                int    sentence id, shared across languages
    num_samples       int    audio length in samples
    path              str    original audio file name
    audio             struct {bytes: binary, path: str} (encoded audio; decode with probes.audio)
    transcription     str    normalised text
    raw_transcription str    original text (what text models read)
    gender            int    0 male, 1 female, 2 other/unknown
    lang_id           int    FLEURS language index
    language          str    language name, e.g. "Spanish"
Added by Interlingua Bench:
    lang_code         str    FLEURS config code, e.g. "es_419"
    speaker           str    who/what read it: FLEURS speaker, or the espeak-ng voice and settings
    reading           int    0 = main reading of the sentence in this language, 1 = second voice, ...
    duration_s        float  audio duration in seconds
    n_chars           int    characters in raw_transcription
    n_words           int    words in raw_transcription, split at whitespace and the Ethiopic
                             wordspace and punctuation (languages.count_words); characters for
                             Han/kana text; space-separated phrases for Thai, Lao, Khmer, Burmese
    category          str    semantic category (concepts set; "" elsewhere)
    words             list<struct{word: str, label: str, start_s: float, end_s: float,
                                  char_start: int, char_end: int}>
                             concept-labelled words (concepts set; [] elsewhere), in order:
                               word        the labelled string as written in raw_transcription
                               label       the concept, the same in every language (ANIMAL.dog)
                               start_s     where the word starts in the audio, seconds
                               end_s       where it ends in the audio, seconds
                               char_start  where it starts in raw_transcription (Python string
                                           index, i.e. Unicode code points)
                               char_end    where it ends (exclusive):
                                           raw_transcription[char_start:char_end] == word
                             The string can be part of a longer written word (Arabic "والجبن",
                             German "Regens" for "Regen", Japanese "いぬが" for "いぬ").
"""

from __future__ import annotations

FLEURS_COLUMNS = (
    "id",
    "num_samples",
    "path",
    "audio",
    "transcription",
    "raw_transcription",
    "gender",
    "lang_id",
    "language",
)
EXTRA_COLUMNS = (
    "lang_code",
    "speaker",
    "reading",
    "duration_s",
    "n_chars",
    "n_words",
    "category",
    "words",
)
COLUMNS = FLEURS_COLUMNS + EXTRA_COLUMNS

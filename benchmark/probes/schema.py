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
    n_words           int    whitespace words in raw_transcription (characters for Han/kana text)
    category          str    semantic category (concepts set; "" elsewhere)
    words             list<struct{word: str, label: str, start_s: float, end_s: float}>
                             concept-labelled words with time spans in the audio (concepts set)
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

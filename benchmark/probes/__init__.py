"""Probe sets in the FLEURS schema (see `schema.py`): FLEURS, the embedded sets, or a user's data.

from benchmark.probes import ProbeSpec, load_probes
probes = load_probes(ProbeSpec(source="udhr", languages=("en_us", "de_de"), n=50))
probes.texts("de_de"); probes.audio("de_de")  # ids order, 16 kHz float32 mono
"""

from benchmark.probes.audio import SAMPLE_RATE, AudioDecodeError, decode_audio, encode_audio
from benchmark.probes.embedded import UnknownProbeSetError
from benchmark.probes.languages import (
    FLEURS_CODES,
    LANGUAGES,
    FleursLanguage,
    UnknownLanguageError,
    check_languages,
)
from benchmark.probes.loader import list_probe_sets, load_probes, load_recordings, show_probe_set
from benchmark.probes.types import (
    LENGTH_FEATURES,
    ProbeSet,
    ProbeSpec,
    length_features,
    sentence_lengths,
)

__all__ = [
    "FLEURS_CODES",
    "LANGUAGES",
    "LENGTH_FEATURES",
    "SAMPLE_RATE",
    "AudioDecodeError",
    "FleursLanguage",
    "ProbeSet",
    "ProbeSpec",
    "UnknownLanguageError",
    "UnknownProbeSetError",
    "check_languages",
    "decode_audio",
    "encode_audio",
    "length_features",
    "sentence_lengths",
    "list_probe_sets",
    "load_probes",
    "load_recordings",
    "show_probe_set",
]

"""Audio bytes -> float32 mono waveforms, with soundfile (no torchcodec, no ffmpeg).

Probe sets keep audio encoded (WAV, FLAC, Ogg Opus...) and read the bytes only when a task asks for
waveforms: `AudioColumn` points at the `audio` column of an Arrow table (a Parquet file or a
memory-mapped `datasets` cache) and fetches rows on demand.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from math import gcd

import numpy as np
import pyarrow as pa
import soundfile as sf
from scipy.signal import resample_poly

from benchmark.errors import UsageError

SAMPLE_RATE = 16_000


class AudioDecodeError(UsageError):
    """Audio bytes that are missing, empty or not decodable; the message names the item."""


def _bytes_of(audio: dict | bytes | None, what: str) -> bytes:
    data = audio.get("bytes") if isinstance(audio, dict) else audio
    if not data:
        path = audio.get("path") if isinstance(audio, dict) else None
        where = f" (only a path is stored: {path!r})" if path else ""
        raise AudioDecodeError(
            f"{what}: no audio bytes{where}. Embed the audio in the file (e.g. `save_to_disk`, or "
            "`Dataset.embed_table_storage` before `to_parquet`)."
        )
    return bytes(data)


def audio_info(audio: dict | bytes | None, what: str = "audio") -> tuple[int, int]:
    """(sample rate, frames) from the header, without decoding."""
    data = _bytes_of(audio, what)
    try:
        info = sf.info(io.BytesIO(data))
    except Exception as err:  # soundfile raises several types for bad input
        raise AudioDecodeError(f"{what}: not a readable audio file ({err}).") from err
    return int(info.samplerate), int(info.frames)


def resample(wave: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling (scipy `resample_poly`), exact rational ratio."""
    if sr_in == sr_out:
        return wave
    g = gcd(int(sr_in), int(sr_out))
    return resample_poly(wave, sr_out // g, sr_in // g).astype(np.float32)


def decode_audio(
    audio: dict | bytes | None, sample_rate: int = SAMPLE_RATE, what: str = "audio"
) -> np.ndarray:
    """Decode to float32 mono at `sample_rate` (channels averaged). `what` names the item in errors."""
    data = _bytes_of(audio, what)
    try:
        wave, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as err:
        raise AudioDecodeError(f"{what}: could not decode the audio bytes ({err}).") from err
    if wave.shape[0] == 0:
        raise AudioDecodeError(f"{what}: the audio holds 0 samples.")
    wave = wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0]
    return np.ascontiguousarray(resample(wave, sr, sample_rate), dtype=np.float32)


def encode_audio(
    wave: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    format: str = "FLAC",
    subtype: str | None = None,
) -> bytes:
    """Encode a float waveform: "FLAC", "WAV" or "OGG" (Opus when subtype="OPUS", else Vorbis)."""
    buf = io.BytesIO()
    sf.write(buf, np.asarray(wave, dtype=np.float32), sample_rate, format=format, subtype=subtype)
    return buf.getvalue()


@dataclass
class AudioColumn:
    """The `audio` column of one Arrow table, opened on first use.

    `open` returns the table (e.g. `pq.read_table(path, columns=["audio"], memory_map=True)`, or a
    `datasets` cache table); `source` names it in errors. `keep` holds the table after the first
    fetch: right for memory-mapped Arrow files (free), wrong for Parquet (decoded into memory).
    """

    source: str
    open: Callable[[], pa.Table]
    column: str = "audio"
    keep: bool = False
    _table: pa.Table | None = field(default=None, repr=False)

    def fetch(self, rows: Sequence[int]) -> list[dict | None]:
        table = self._table if self._table is not None else self.open()
        if self.keep:
            self._table = table
        col = table.column(self.column)
        return col.take(pa.array(np.asarray(rows, dtype=np.int64))).to_pylist()

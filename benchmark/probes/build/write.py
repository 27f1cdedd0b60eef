"""Writing a built probe set: one Parquet per language in the probe schema, `card.json`, `README.md`.

Audio is Ogg Opus at 16 kHz mono (libsndfile's default Opus bitrate, ~3.3 kB per second of
espeak speech), read back once to check it decodes to the same length; FLAC if Opus fails.
"""

from __future__ import annotations

import io
import json
import re
import struct
import unicodedata
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import soundfile as sf

from benchmark.probes.languages import count_words, get_language
from benchmark.probes.recordings import content_hash
from benchmark.probes.schema import COLUMNS

SAMPLE_RATE = 16_000
CARD = "card.json"

WORD = pa.struct(
    [
        ("word", pa.string()),
        ("label", pa.string()),
        ("start_s", pa.float64()),
        ("end_s", pa.float64()),
        ("char_start", pa.int32()),
        ("char_end", pa.int32()),
    ]
)
SCHEMA = pa.schema(
    [
        ("id", pa.int32()),
        ("num_samples", pa.int32()),
        ("path", pa.string()),
        ("audio", pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        ("transcription", pa.string()),
        ("raw_transcription", pa.string()),
        ("gender", pa.int64()),
        ("lang_id", pa.int64()),
        ("language", pa.string()),
        ("lang_code", pa.string()),
        ("speaker", pa.string()),
        ("reading", pa.int32()),
        ("duration_s", pa.float64()),
        ("n_chars", pa.int32()),
        ("n_words", pa.int32()),
        ("category", pa.string()),
        ("words", pa.list_(WORD)),
    ]
)
assert tuple(SCHEMA.names) == COLUMNS, "write.SCHEMA must follow benchmark/probes/schema.py"


class AudioEncodeError(RuntimeError):
    pass


_BITREV = bytes(int(f"{i:08b}"[::-1], 2) for i in range(256))


def _ogg_crc(page: bytes) -> int:
    """Ogg's page CRC (poly 0x04C11DB7, MSB-first, init 0), via zlib's reflected CRC-32."""
    raw = zlib.crc32(page.translate(_BITREV), 0xFFFFFFFF) ^ 0xFFFFFFFF
    return int(f"{raw:032b}"[::-1], 2)


def fix_ogg_serial(data: bytes, serial: int) -> bytes:
    """Set the stream serial number of every Ogg page (libsndfile draws it from the clock) and
    recompute page CRCs, so the same audio always gives the same bytes."""
    out = bytearray(data)
    pos = 0
    while pos < len(out):
        if out[pos : pos + 4] != b"OggS":
            raise AudioEncodeError(f"not an Ogg page at byte {pos}")
        n_seg = out[pos + 26]
        size = 27 + n_seg + sum(out[pos + 27 : pos + 27 + n_seg])
        struct.pack_into("<II", out, pos + 14, serial, struct.unpack_from("<I", out, pos + 18)[0])
        out[pos + 22 : pos + 26] = b"\0\0\0\0"
        struct.pack_into("<I", out, pos + 22, _ogg_crc(bytes(out[pos : pos + size])))
        pos += size
    return bytes(out)


def encode(wave: np.ndarray, what: str) -> tuple[bytes, str]:
    """(encoded bytes, codec name): Ogg Opus, or FLAC if Opus cannot be written and read back."""
    wave = np.asarray(wave, dtype=np.float32)
    for fmt, subtype, codec in (("OGG", "OPUS", "opus"), ("FLAC", "PCM_16", "flac")):
        buf = io.BytesIO()
        try:
            sf.write(buf, wave, SAMPLE_RATE, format=fmt, subtype=subtype)
            back, sr = sf.read(io.BytesIO(buf.getvalue()), dtype="float32")
        except Exception:  # libsndfile builds without Opus raise various errors
            continue
        if sr == SAMPLE_RATE and len(back) == len(wave):
            data = buf.getvalue()
            if codec == "opus":
                data = fix_ogg_serial(data, zlib.crc32(what.encode()))
                sf.info(io.BytesIO(data))  # still a valid stream
            return data, codec
    raise AudioEncodeError(f"{what}: neither Ogg Opus nor FLAC could be written and read back")


def normalize(text: str) -> str:
    """FLEURS-style `transcription`: lower case, punctuation and symbols dropped, spaces collapsed."""
    kept = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text.lower())
    return re.sub(r"\s+", " ", kept).strip()


@dataclass
class Item:
    """One recording of one text in one language, before writing."""

    id: int
    lang_code: str
    language: str
    lang_id: int
    text: str
    wave: np.ndarray  # float32 mono at SAMPLE_RATE
    speaker: str
    gender: int
    reading: int = 0
    category: str = ""
    words: list[dict] = field(default_factory=list)


def rows(items: list[Item], set_name: str) -> tuple[pa.Table, set[str]]:
    """The Arrow table of `items` (sorted by reading, id) and the codecs used."""
    cols: dict[str, list] = {name: [] for name in SCHEMA.names}
    codecs = set()
    for it in sorted(items, key=lambda i: (i.reading, i.id)):
        name = f"{set_name}/{it.lang_code}/{it.id:05d}_r{it.reading}"
        blob, codec = encode(it.wave, what=name)
        codecs.add(codec)
        name += ".ogg" if codec == "opus" else ".flac"
        values = {
            "id": it.id,
            "num_samples": len(it.wave),
            "path": name,
            "audio": {"bytes": blob, "path": name},
            "transcription": normalize(it.text),
            "raw_transcription": it.text,
            "gender": it.gender,
            "lang_id": it.lang_id,
            "language": it.language,
            "lang_code": it.lang_code,
            "speaker": it.speaker,
            "reading": it.reading,
            "duration_s": round(len(it.wave) / SAMPLE_RATE, 4),
            "n_chars": len(it.text),
            "n_words": count_words(it.text, it.lang_code),
            "category": it.category,
            "words": it.words,
        }
        for key, value in values.items():
            cols[key].append(value)
    return pa.table(cols, schema=SCHEMA), codecs


def write_language(items: list[Item], out_dir: Path, set_name: str) -> tuple[Path, set[str]]:
    """`<out_dir>/<lang_code>.parquet` for the items of one language."""
    codes = {it.lang_code for it in items}
    if len(codes) != 1:
        raise ValueError(f"write_language got items of several languages: {sorted(codes)}")
    table, codecs = rows(items, set_name)
    path = Path(out_dir) / f"{codes.pop()}.parquet"
    # audio bytes are already compressed; zstd helps the text columns; no statistics on binary data
    pq.write_table(table, path, compression="zstd", write_statistics=False, row_group_size=1024)
    return path, codecs


def language_summary(path: Path) -> dict:
    """Counts and durations of one written language file, for the card. `n_items` and
    `total_duration_s` are those of reading 0 (what a probe set loads by default); `n_readings`
    counts every recording and `readings` breaks them down."""
    t = pq.read_table(
        path, columns=["id", "lang_code", "language", "reading", "duration_s"]
    ).to_pandas()
    code = str(t["lang_code"].iloc[0])
    main = t[t["reading"] == 0]
    return {
        "code": code,
        "name": str(t["language"].iloc[0]),
        "script": get_language(code).script,
        "n_items": int(main["id"].nunique()),
        "n_readings": int(len(t)),
        "total_duration_s": round(float(main["duration_s"].sum()), 1),
        "readings": {
            str(r): {
                "recordings": int(len(g)),
                "duration_s": round(float(g["duration_s"].sum()), 1),
            }
            for r, g in t.groupby("reading", sort=True)
        },
    }


def finish_card(out_dir: Path, card: dict, readme: str) -> dict:
    """Add the per-language summaries, sizes and revision (a content hash of the Parquet files) to
    `card`, and write `card.json` and `README.md` (with `{summary_table}` and `{totals}` filled)."""
    out_dir = Path(out_dir)
    files = sorted(out_dir.glob("*.parquet"))
    if not files:
        raise ValueError(f"{out_dir}: no Parquet files to describe")
    langs = [language_summary(f) for f in files]
    card = dict(card)
    card["revision"] = content_hash(files, out_dir)
    card["languages"] = langs
    ids = set()
    for f in files:
        ids |= set(pq.read_table(f, columns=["id"]).column("id").to_pylist())
    card["n_items_total"] = sum(lang["n_items"] for lang in langs)  # language-items
    card["n_ids"] = len(ids)  # distinct items (translations share an id)
    card["n_recordings_total"] = sum(lang["n_readings"] for lang in langs)
    # the set's total counts every recording (all readings); per language, reading 0
    card["total_duration_s"] = round(
        sum(r["duration_s"] for lang in langs for r in lang["readings"].values()), 1
    )
    card["size_bytes"] = sum(f.stat().st_size for f in files)
    card["counts"] = {
        "languages": len(langs),
        "ids": len(ids),
        "recordings": card["n_recordings_total"],
        "hours": round(card["total_duration_s"] / 3600, 2),
        "megabytes": round(card["size_bytes"] / 1e6, 1),
    }
    order = [
        "name", "revision", "license", "description", "sources", "languages", "n_items_total",
        "n_ids", "n_recordings_total", "total_duration_s", "size_bytes", "counts", "speech", "build",
    ]  # fmt: skip
    card = {k: card[k] for k in order if k in card} | {
        k: v for k, v in card.items() if k not in order
    }
    (out_dir / CARD).write_text(
        json.dumps(card, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    table = [
        "| code | language | script | items | recordings | audio, reading 0 (min) | audio, all (min) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for lang in langs:
        main = lang["total_duration_s"] / 60
        every = sum(r["duration_s"] for r in lang["readings"].values()) / 60
        table.append(
            f"| {lang['code']} | {lang['name']} | {lang['script']} | {lang['n_items']} | "
            f"{lang['n_readings']} | {main:.1f} | {every:.1f} |"
        )
    totals = (
        f"{len(langs)} languages, {len(ids)} items per language, {card['n_recordings_total']} "
        f"recordings, {card['total_duration_s'] / 3600:.2f} h of audio, "
        f"{card['size_bytes'] / 1e6:.1f} MB of Parquet; revision `{card['revision']}`."
    )
    text = readme.replace("{summary_table}", "\n".join(table)).replace("{totals}", totals)
    (out_dir / "README.md").write_text(text, encoding="utf-8")
    return card


def refresh_card(out_dir: Path, readme: str) -> dict:
    """Recompute the card's summaries and rewrite card.json and README.md from the Parquet files
    (after editing the README template or the files), keeping the card's other fields."""
    card = json.loads((Path(out_dir) / CARD).read_text(encoding="utf-8"))
    return finish_card(out_dir, card, readme)

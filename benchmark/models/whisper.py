"""Whisper: speech through the encoder, text teacher-forced through the decoder.

Stacks: `encoder` (speech) and `decoder` (text, and speech). Layers of each: "embeddings" (the
input of layer 1) and "layer_1".."layer_N".

Speech (encoder stack): log-mel features -> encoder. The encoder always sees 30 s in the original model; only
ceil(n_samples / 320) output frames (50 per second) cover real audio and are masked in.
With setting `window="cropped"` (the default) each clip is padded only to its own length rounded
up to 5 s (`CROP_BUCKET_FRAMES`) and the encoder runs on that window (see `_encode_cropped`):
3-6x faster on the short probe clips, close to but not the same as the 30 s window. A clip's
window depends on the clip alone — a batch mixing windows runs as one pass per window — so its
states never depend on the batch it came in. `window="full"` pads every clip to 30 s as in
training.

Text: the decoder reads `<|startoftranscript|><|lang|><|transcribe|><|notimestamps|>` + the text's
tokens + `<|endoftext|>`, cross-attending to the encoder output of 30 s of silence (computed once).
The mask covers the text tokens only. An English-only model (`*.en`) was trained with the prompt
`<|startoftranscript|><|notimestamps|>` and gets that one for every language: its byte-level BPE
reads any text, and the result records that no language token was given.

Speech through the decoder stack: the clip's transcript (`BatchInputs.texts`) is teacher-forced
after the same prompt while the decoder cross-attends to the clip's own encoder output (30 s
window, or the cropped one), so text-only and speech-conditioned decoding pass through one stack
and their states can be compared position by position. The mask covers the transcript's tokens.

Speech longer than the encoder's 30 s window is encoded window by window (each window a batch item
of its own) and the windows' real frames are joined in order, so no audio is dropped (encoder stack
only: the decoder cross-attends to one window).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from benchmark.errors import NotApplicable
from benchmark.models.base import SAMPLE_RATE, AdapterInfo, BatchInputs, LayerStates, OutputHead
from benchmark.models.common import (
    LayeredAdapter,
    fleurs_prefix,
    input_device,
    layer_table,
    load_checked,
    merge_settings,
    same_positions,
    torch_dtype,
)
from benchmark.models.family import N_LAYERS, Family, Stack
from benchmark.models.hooks import Positions, Stage, Tap, is_differentiable, lengths_to_mask
from benchmark.models.registry import register_family
from benchmark.models.spans import Formatted, spans_of, spans_tensor, token_offsets
from benchmark.models.whisper_silence import SilenceProjections
from benchmark.models.whisper_windows import join_windows, merge_rows

ADAPTER_VERSION = "2"  # 2: cropped windows depend on the clip alone, not the batch
SAMPLES_PER_FRAME = 320  # encoder output frames: mel hop 160 samples x conv2 stride 2
FRAME_SECONDS = SAMPLES_PER_FRAME / SAMPLE_RATE  # 0.02
STACKS = {"encoder": ("speech",), "decoder": ("text", "speech")}
STFT_MARGIN = 400  # samples past a cropped window that its last mel frames' STFT windows reach
CROP_BUCKET_FRAMES = 250  # a cropped window is the clip rounded up to 5 s (250 encoder frames)
PROMPT_TOKENS = ("<|startoftranscript|>", "{lang}", "<|transcribe|>", "<|notimestamps|>")
ENGLISH_ONLY_PROMPT_TOKENS = ("<|startoftranscript|>", "<|notimestamps|>")
END_TOKEN = "<|endoftext|>"
DEFAULTS = {
    # "cropped" (default): the encoder runs on the clip rounded up to 5 s (3-6x faster on short
    # probes; pooled states at cosine >= 0.99 median to the full window); "full": 30 s as trained
    "window": "cropped",
    "text_leading_space": True,  # Whisper writes " Word" after the prompt; the text follows suit
    "dtype": "float32",
}
# FLEURS language prefixes whose Whisper token differs from the prefix
WHISPER_ALIASES = {"cmn": "zh", "nb": "no", "fil": "tl", "jv": "jw"}


def whisper_language_token(code: str, vocab: dict[str, int] | Sequence[str]) -> str:
    """FLEURS code ("es_419", "cmn_hans_cn") -> Whisper language token ("<|es|>", "<|zh|>")."""
    prefix = fleurs_prefix(code)
    token = f"<|{WHISPER_ALIASES.get(prefix, prefix)}|>"
    if token not in vocab:
        raise NotApplicable(
            f"language {code!r}: this Whisper tokenizer has no {token} token, so Whisper cannot be "
            f"prompted in that language; drop {code!r} from the probe languages for this model"
        )
    return token


def is_english_only(model, vocab: dict[str, int] | Sequence[str]) -> bool:
    """Whether a Whisper checkpoint is English-only (openai/whisper-*.en and the like).

    The generation config's `is_multilingual` decides when it is set (the Hub checkpoints and our
    conversions set it). The vocabulary alone cannot: English-only tokenizers still hold `<|en|>`
    and the other language tokens. Without the flag, a vocabulary lacking `<|en|>` is English-only.
    """
    flag = getattr(getattr(model, "generation_config", None), "is_multilingual", None)
    if flag is not None:
        return not flag
    return "<|en|>" not in vocab


class WhisperAdapter(LayeredAdapter):
    stacks = STACKS

    def __init__(self, model, feature_extractor, tokenizer, model_id: str, settings=None):
        super().__init__()
        self.settings = merge_settings("whisper", DEFAULTS, settings)
        if self.settings["window"] not in ("full", "cropped"):
            raise ValueError(
                f"whisper adapter settings: window must be 'full' or 'cropped', got "
                f"{self.settings['window']!r}"
            )
        self.model = model.eval()
        self.feature_extractor = feature_extractor
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.device = input_device(model)
        # WhisperForConditionalGeneration keeps encoder and decoder in .model; WhisperModel itself
        base = model.model if hasattr(model, "model") else model
        self.encoder, self.decoder = base.encoder, base.decoder
        self._vocab = tokenizer.get_vocab()
        self.english_only = is_english_only(model, self._vocab)
        self._prompt_tokens = ENGLISH_ONLY_PROMPT_TOKENS if self.english_only else PROMPT_TOKENS
        for token in (*self._prompt_tokens, END_TOKEN):
            if token != "{lang}" and token not in self._vocab:
                raise ValueError(f"{model_id}: the tokenizer lacks Whisper's {token} token")
        self.max_samples = self.encoder.config.max_source_positions * SAMPLES_PER_FRAME
        # Computed now, not on first use: later, a task's hooks on the encoder could alter it.
        self._silence = self._silence_states()
        # Every decoder layer's cross-attention keys and values of the silence, projected once
        # (on the first text pass) instead of in every batch; False: the previous path (benchmarks)
        self.reuse_silence_projections = True
        self._silence_kv = SilenceProjections(self.decoder, self._silence)

        speech_tap, text_tap = Tap(), Tap()
        self._tables = {
            "encoder": layer_table(speech_tap, self.encoder.layers),
            "decoder": layer_table(text_tap, self.decoder.layers),
        }
        self._taps = {
            "encoder": [(speech_tap, self.encoder.layers[0])],
            "decoder": [(text_tap, self.decoder.layers[0])],
        }
        self._runners = {
            ("encoder", "speech"): self._encoder_speech,
            ("decoder", "text"): self._decoder_text,
            ("decoder", "speech"): self._decoder_speech,
        }
        self._heads = {"decoder": self._decoder_head}
        # steps on the inputs alone that steered passes replay (replay_prefix)
        self._feature_stage, self._encoder_stage = Stage(self._features), Stage(self._encode)
        self.info = AdapterInfo(
            family="whisper",
            adapter_version=ADAPTER_VERSION,
            settings={
                **self.settings,
                "attn_implementation": getattr(model.config, "_attn_implementation", None),
                "speech_layers": "encoder; embeddings = input of layer 1 (conv + positions)",
                "speech_mask": f"ceil(n_samples / {SAMPLES_PER_FRAME}) frames (50 per second)",
                "text_layers": "decoder; embeddings = input of layer 1 (tokens + positions)",
                "text_prompt": "".join(self._prompt_tokens),
                "text_suffix": END_TOKEN,
                "text_mask": "text tokens only (no prompt, no end token)",
                "text_cross_attention": "encoder output of 30 s of silence",
                "long_audio": "30 s windows encoded separately, real frames joined in order",
                "cropped_window": "the clip's length rounded up to 5 s, whatever its batch",
                "decoder_speech": "transcript teacher-forced after the text prompt, cross-attending "
                "to the clip's encoder output (window as set); mask: transcript tokens",
                "language_aliases": dict(WHISPER_ALIASES),
            },
        )
        if self.english_only:  # multilingual models keep their settings (and cache keys) as before
            self.info.settings.update(
                english_only=True,
                language_token="none (English-only model)",
                language_aliases={},
            )

    # --- speech -----------------------------------------------------------------------------

    def forward(self, batch: BatchInputs) -> dict[str, LayerStates]:
        too_long = batch.modality == "speech" and any(
            np.asarray(clip).size > self.max_samples for clip in batch.audio or ()
        )
        if not too_long or self.resolve_stack(batch.modality, batch.stack) != "encoder":
            return self._forward_by_window(batch)
        pieces, owners = [], []
        for i, clip in enumerate(batch.audio):
            clip = np.asarray(clip, dtype=np.float32).reshape(-1)
            for start in range(0, clip.size, self.max_samples):
                pieces.append(clip[start : start + self.max_samples])
                owners.append(i)
        # the transcripts that go with every speech batch follow their clip's pieces (the encoder
        # does not read them, but a batch keeps one text per clip wherever it is split)
        texts = [batch.texts[i] for i in owners] if batch.texts is not None else None
        states = self._forward_by_window(dataclasses.replace(batch, audio=pieces, texts=texts))
        return {name: join_windows(s, owners, len(batch.audio)) for name, s in states.items()}

    def batch_group(self, modality: str, item) -> int | None:
        """Steered passes never mix encoder windows in a batch (SteeredPasses: one call of each
        layer per batch, replayed and differentiated as one): a speech item's window."""
        return self._window(item) if modality == "speech" else None

    def _window(self, clip) -> int:
        """The encoder frames a clip runs in: 1,500 (30 s), or its own length rounded up to 5 s."""
        if self.settings["window"] != "cropped":
            return self.encoder.config.max_source_positions
        frames = math.ceil(np.asarray(clip).size / SAMPLES_PER_FRAME)
        width = math.ceil(frames / CROP_BUCKET_FRAMES) * CROP_BUCKET_FRAMES
        return min(width, self.encoder.config.max_source_positions)

    def _forward_by_window(self, batch: BatchInputs) -> dict[str, LayerStates]:
        """One pass per distinct window in the batch (batches cut by length rarely mix them), so
        every clip's states depend on the clip alone, never on its batch mates."""
        if batch.modality != "speech":
            return super().forward(batch)
        if batch.audio:
            self._clips(batch)  # an empty or too long clip is named by its place in the batch
        windows = [self._window(clip) for clip in batch.audio or ()]
        if len(set(windows)) <= 1:
            return super().forward(batch)
        parts = []
        for window in sorted(set(windows)):
            idx = [i for i, w in enumerate(windows) if w == window]
            texts = [batch.texts[i] for i in idx] if batch.texts is not None else None
            sub = dataclasses.replace(batch, audio=[batch.audio[i] for i in idx], texts=texts)
            parts.append((idx, super().forward(sub)))
        return {
            name: merge_rows([(idx, states[name]) for idx, states in parts], len(windows))
            for name in parts[0][1]
        }

    def _clips(self, batch: BatchInputs) -> list[np.ndarray]:
        audio = [np.asarray(a, dtype=np.float32).reshape(-1) for a in batch.audio]
        for i, clip in enumerate(audio):
            if clip.size == 0 or clip.size > self.max_samples:
                raise ValueError(
                    f"{self.model_id}: batch item {i} has {clip.size / SAMPLE_RATE:.2f} s of audio; "
                    f"Whisper's encoder takes 0 < duration <= {self.max_samples / SAMPLE_RATE:.0f} s "
                    f"(split longer clips)"
                )
        return audio

    def _encode(self, audio: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Run the encoder on the window the settings ask for: (its output after the final norm,
        as the decoder reads it; the mask of real frames)."""
        frames = torch.tensor([math.ceil(c.size / SAMPLES_PER_FRAME) for c in audio])
        if self.settings["window"] == "cropped":
            width = max(self._window(c) for c in audio)  # the same for every clip of the pass
            samples = width * SAMPLES_PER_FRAME + STFT_MARGIN
            features = self._feature_stage(audio, samples=samples)
            out = self.encoder.layer_norm(self._encode_cropped(features[..., : 2 * width]))
        else:
            width = self.encoder.config.max_source_positions
            out = self.encoder(self._feature_stage(audio)).last_hidden_state
        return out, lengths_to_mask(frames, width)

    def _encoder_speech(self, batch: BatchInputs) -> dict[str, Positions]:
        _, mask = self._encode(self._clips(batch))
        return same_positions(self._tables["encoder"], mask, frame_seconds=FRAME_SECONDS)

    def _features(self, audio: list[np.ndarray], samples: int | None = None) -> torch.Tensor:
        """Log-mel features of the clips zero-padded to `samples` (default: 30 s, as in training).

        The cropped window pads to its width plus `STFT_MARGIN`: each mel frame then sees the same
        samples as in the 30 s window (the clip, then zeros), and the log-mel floor (max - 8) is
        taken over the same real audio, so its frames equal the 30 s features' first frames.
        """
        kwargs = {}
        if samples is not None and samples < self.max_samples:
            kwargs = {"padding": "max_length", "max_length": samples}
        out = self.feature_extractor(
            audio, sampling_rate=SAMPLE_RATE, return_tensors="pt", **kwargs
        )
        weight = self.encoder.conv1.weight
        return out.input_features.to(weight.device, weight.dtype)

    def _encode_cropped(self, features: torch.Tensor) -> torch.Tensor:
        """The encoder's own forward on a window shorter than 30 s.

        transformers' WhisperEncoder.forward rejects any input but 3,000 mel frames. Rather than
        patching the module (its positional table or its length check), this repeats its few
        steps — two convolutions with GELU, positions 0..T-1 from the module's own table, then the
        module's own layers — so layer hooks and layer_module() work as in full mode. A test checks
        that on a full window it matches WhisperEncoder.forward layer by layer.
        """
        enc = self.encoder
        x = nn.functional.gelu(enc.conv1(features))
        x = nn.functional.gelu(enc.conv2(x)).permute(0, 2, 1)
        x = x + enc.embed_positions.weight[: x.shape[1]]
        for layer in enc.layers:
            x = layer(x, None)
        return x

    # --- text -------------------------------------------------------------------------------

    def _silence_states(self) -> torch.Tensor:
        """Encoder output (after its final norm, as the decoder sees it) for 30 s of silence."""
        features = self._features([np.zeros(self.max_samples, dtype=np.float32)])
        with torch.inference_mode():
            return self.encoder(features).last_hidden_state

    def _text_prompt(self, language: str) -> list[int]:
        """Prompt token ids: with the language's token, or none for an English-only model (which
        reads every language's text after its English prompt)."""
        if self.english_only:
            return [self._vocab[t] for t in self._prompt_tokens]
        lang = whisper_language_token(language, self._vocab)
        return [self._vocab[t if t != "{lang}" else lang] for t in self._prompt_tokens]

    def _teacher_forced(
        self, texts: list[str], language: str
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
        """Decoder inputs for prompt + each text's tokens + end: (input_ids and attention_mask,
        the mask of text tokens, their character spans in the texts as given)."""
        prompt = self._text_prompt(language)
        end = self._vocab[END_TOKEN]
        room = self.decoder.config.max_target_positions - len(prompt) - 1
        space = " " if self.settings["text_leading_space"] else ""
        for i, text in enumerate(texts):
            if not text or not text.strip():
                raise ValueError(f"{self.model_id}: batch item {i} is an empty text")
        formatted = [Formatted.leading_space(text, space) for text in texts]
        ids, offsets = token_offsets(self.tokenizer, [f.string for f in formatted])
        rows, spans = [], []
        for i, row_ids in enumerate(ids):
            if len(row_ids) > room:
                raise ValueError(
                    f"{self.model_id}: batch item {i} has {len(row_ids)} tokens; Whisper's decoder "
                    f"holds at most {room} after its prompt (shorten or split the text)"
                )
            rows.append(prompt + list(row_ids) + [end])
            text_spans = spans_of(formatted[i], offsets[i]) if offsets is not None else []
            spans.append([(-1, -1)] * len(prompt) + text_spans)
        width = max(map(len, rows))
        input_ids = torch.full((len(rows), width), end, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        text_mask = torch.zeros((len(rows), width), dtype=torch.bool)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = torch.tensor(row)
            attention[i, : len(row)] = 1
            text_mask[i, len(prompt) : len(row) - 1] = True
        inputs = {
            "input_ids": input_ids.to(self.device),
            "attention_mask": attention.to(self.device),
        }
        char_spans = spans_tensor(spans, width) if offsets is not None else None
        return inputs, text_mask, char_spans

    def _decode(self, batch: BatchInputs, texts: list[str], encoded: torch.Tensor, cache=None):
        inputs, mask, char_spans = self._teacher_forced(texts, batch.language)
        if cache is None:
            self.decoder(**inputs, encoder_hidden_states=encoded, use_cache=False)
        else:  # the cross-attention part is pre-filled: the layers read it instead of projecting
            self.decoder(**inputs, encoder_hidden_states=encoded, use_cache=True, **cache)
        return same_positions(self._tables["decoder"], mask, char_spans=char_spans)

    def _decoder_text(self, batch: BatchInputs) -> dict[str, Positions]:
        rows = len(batch.texts)
        autograd = is_differentiable()  # the kept silence and projections: inference tensors
        silence = self._silence.clone() if autograd else self._silence
        if self.reuse_silence_projections:
            cache = self._silence_kv.cache(rows, for_autograd=autograd)
        else:
            cache = None
        return self._decode(batch, list(batch.texts), silence.expand(rows, -1, -1), cache)

    def _decoder_speech(self, batch: BatchInputs) -> dict[str, Positions]:
        texts = self.transcripts(batch, "decoder")
        encoded, _ = self._encoder_stage(self._clips(batch))
        return self._decode(batch, texts, encoded)

    def replay_prefix(self, modality, stack=None) -> list[nn.Module]:
        """What steered passes replay before the layers: the log-mel features and the two
        convolutions (encoder), the clip's whole encoder output (decoder over speech); nothing
        for text (its silence is cached already)."""
        stack = self.resolve_stack(modality, stack)
        if stack == "encoder":
            return [self._feature_stage, self.encoder.conv1, self.encoder.conv2]
        return [self._encoder_stage] if modality == "speech" else []

    def replay_shared(self, modality, stack=None) -> list[nn.Module]:
        """The decoder's cross-attention projections of the clip's encoder output (speech)."""
        stack = self.resolve_stack(modality, stack)
        if stack != "decoder" or modality != "speech":
            return []
        attns = [layer.encoder_attn for layer in self.decoder.layers]
        return [proj for attn in attns for proj in (attn.k_proj, attn.v_proj)]

    def _decoder_head(self) -> OutputHead:
        proj = getattr(self.model, "proj_out", None)
        weight = proj.weight if proj is not None else self.decoder.embed_tokens.weight
        return OutputHead(weight, self.decoder.layer_norm, self.tokenizer)


def load_whisper(source: str, model_id: str, revision=None, device="cpu", settings=None, **kw):
    from transformers import AutoFeatureExtractor, AutoTokenizer, WhisperForConditionalGeneration

    merged = merge_settings("whisper", DEFAULTS, settings)
    dtype = torch_dtype("whisper", merged["dtype"])
    model = load_checked(
        WhisperForConditionalGeneration,
        source,
        revision=revision,
        dtype=dtype,
        device=device,
        device_map=merged.get("device_map"),
        **kw,
    )
    feature_extractor = AutoFeatureExtractor.from_pretrained(source, revision=revision)
    tokenizer = AutoTokenizer.from_pretrained(source, revision=revision)
    return WhisperAdapter(model, feature_extractor, tokenizer, model_id, settings)


FAMILY = register_family(
    Family(
        name="whisper",
        description="Whisper (all sizes, English-only too): speech through the encoder; text "
        "teacher-forced through the decoder against silence, or the transcript against the "
        "clip's audio",
        version=ADAPTER_VERSION,
        stacks={
            "encoder": Stack(("speech",)),
            "decoder": Stack(
                ("text", "speech"),
                head=True,
                layers=N_LAYERS + " (speech: the transcript, over the audio)",
            ),
        },
        load=load_whisper,
        defaults=DEFAULTS,
        model_types=("whisper",),
        architectures=("WhisperForConditionalGeneration", "WhisperModel"),
    )
)

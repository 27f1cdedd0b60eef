"""Word-level vectors from token character spans (text) and frame rates (speech)."""

import numpy as np
import pytest
import torch

from benchmark.models.base import LayerStates
from benchmark.representations.words import extract_words


class SpanAdapter:
    """Text: a 2-position prefix, then one position per character pair; each position's vector
    is (position index, item). Speech: 0.02 s frames; each frame's vector is (frame index, item)."""

    modalities = ("text", "speech")

    def layer_names(self, modality, stack=None):
        return ["embeddings", "layer_1"]

    def forward(self, batch):
        if batch.modality == "text":
            width = 2 + max((len(t) + 1) // 2 for t in batch.texts)
            spans = torch.full((len(batch.texts), width, 2), -1)
            mask = torch.zeros(len(batch.texts), width, dtype=torch.bool)
            for b, text in enumerate(batch.texts):
                for j in range((len(text) + 1) // 2):
                    spans[b, 2 + j] = torch.tensor([2 * j, min(2 * j + 2, len(text))])
                mask[b, : 2 + (len(text) + 1) // 2] = True
            extra = {"char_spans": spans}
        else:
            width = max(len(a) // 320 for a in batch.audio)
            mask = torch.zeros(len(batch.audio), width, dtype=torch.bool)
            for b, a in enumerate(batch.audio):
                mask[b, : len(a) // 320] = True
            extra = {"frame_seconds": 0.02}
        positions = torch.arange(mask.shape[1], dtype=torch.float32)
        hidden = torch.stack(
            [torch.stack([positions, torch.full_like(positions, b)], -1) for b in range(len(mask))]
        )
        states = LayerStates(hidden=hidden, mask=mask, **extra)
        return {"embeddings": states, "layer_1": states}


def test_text_words_aggregate_their_subword_positions():
    texts = ["abcdefgh", "xyz"]
    words = [
        [
            {"word": "abc", "char_start": 0, "char_end": 3},
            {"word": "fgh", "char_start": 5, "char_end": 8},
        ],
        [{"word": "z", "char_start": 2, "char_end": 3}],
    ]
    adapter = SpanAdapter()
    # "abc" covers positions 2 (ab) and 3 (cd); "fgh" 4 (ef) and 5 (gh); "z" position 3 of item 1
    expected = {"last": [3, 5, 3], "first": [2, 4, 3], "mean": [2.5, 4.5, 3]}
    for aggregation, positions in expected.items():
        reps = extract_words(
            adapter, "text", "en_us", texts, [8, 3], words, aggregation=aggregation, progress=False
        )
        assert reps.array.shape == (2, 3, 2)
        assert reps.array[0, :, 0].tolist() == positions, aggregation
        assert reps.item_index.tolist() == [0, 0, 1]
        assert reps.array[0, :, 1].tolist() == [0, 0, 1]  # each word from its own item


def test_speech_words_average_the_frames_of_their_time_span():
    audio = [np.zeros(16000, np.float32), np.zeros(8000, np.float32)]  # 1 s and 0.5 s
    words = [
        [{"word": "a", "start_s": 0.10, "end_s": 0.15}],  # frames 5, 6, 7 (ceil(0.15 / 0.02))
        [{"word": "b", "start_s": 0.49, "end_s": 0.80}],  # past the end: the last frame only
    ]
    reps = extract_words(SpanAdapter(), "speech", "en_us", audio, [1.0, 0.5], words, progress=False)
    assert reps.array[1, :, 0].tolist() == [6.0, 24.0]


def test_a_word_no_token_covers_is_left_out_and_said():
    words = [
        [
            {"word": "gone", "char_start": 50, "char_end": 54},
            {"word": "sh", "char_start": 0, "char_end": 2},
        ]
    ]
    reps = extract_words(
        SpanAdapter(), "text", "de_de", ["short"], [5], words, ids=[7], progress=False
    )
    assert reps.item_index.tolist() == [0] and reps.word_index.tolist() == [1]  # "sh" only
    with pytest.raises(ValueError, match="de_de text: no token covers any labelled word"):
        extract_words(
            SpanAdapter(), "text", "de_de", ["short"], [5], [words[0][:1]], ids=[7], progress=False
        )

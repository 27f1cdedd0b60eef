"""The known-answer reference models (benchmark.models.known*): each is built as its docs say,
deterministic whatever the batching, and runs through the harness's own extraction, word-level
collection and steering hooks like a trained model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.errors import UsageError
from benchmark.kinds.passes import steering
from benchmark.models.base import BatchInputs
from benchmark.models.known import (
    FRAME_SECONDS,
    labelled_tokens,
    load_all,
    load_known,
    reference_of,
    resolve_known,
    text_tokens,
)
from benchmark.probes import ProbeSpec, load_probes
from benchmark.representations.extract import extract
from benchmark.representations.words import WordCollector

NAMES = (
    "interlingua",
    "language",
    "word_form",
    "signal",
    "uniform_head",
    "steer_shared",
    "steer_orthogonal",
)
LANGS = ("en_us", "de_de", "cmn_hans_cn")


@pytest.fixture(scope="module")
def probes():
    return load_probes(ProbeSpec(source="concepts", languages=LANGS, n=12))


def pooled(adapter, probes, lang, modality, batch_size=16, items=None):
    speech = modality == "speech"
    return extract(
        adapter,
        modality,
        lang,
        probes.audio(lang) if speech else probes.texts(lang),
        probes.durations(lang) if speech else probes.text_lengths(lang),
        batch_size=batch_size,
        ids=probes.ids,
        texts=probes.texts(lang),
        words=probes.words(lang),
        progress=False,
        items=items,
    ).array


def cosine(a, b):
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def test_every_reference_is_registered_with_its_role():
    adapters = load_all()
    assert sorted(adapters) == sorted(NAMES)
    roles = {name: reference_of(f"known:{name}") for name in NAMES}
    assert roles == {
        "interlingua": "ceiling",
        "language": "floor:language",
        "word_form": "floor:word_form",
        "signal": "floor:signal",
        "uniform_head": "floor:uniform_head",
        "steer_shared": "steer:shared",
        "steer_orthogonal": "steer:orthogonal",
    }
    assert reference_of("intfloat/multilingual-e5-small") is None
    from benchmark.models import known_head, known_steer, known_vectors

    families = [*known_vectors.FAMILIES, known_head.FAMILY, *known_steer.FAMILIES]
    assert {f.reference for f in families} == set(roles.values())
    assert all(f.claims(f"known:{f.name.removeprefix('known-')}") for f in families)
    assert not any(f.random_init for f in families)
    head = [f for f in families if any(s.head for s in f.stacks.values())]
    assert [f.name for f in head] == ["known-uniform_head"]


def test_an_unknown_reference_or_a_random_init_is_refused_with_the_names():
    with pytest.raises(UsageError, match="interlingua"):
        resolve_known("known:interlinga")
    with pytest.raises(UsageError, match="no weights"):
        load_known("known:language", random_init=3)
    with pytest.raises(UsageError, match="seed"):
        load_known("known:language", settings={"sed": 1})


@pytest.mark.parametrize("name", NAMES)
def test_states_do_not_depend_on_batching_or_order(name, probes):
    adapter = load_known(f"known:{name}")
    again = load_known(f"known:{name}")  # a fresh instance: nothing remembered
    for modality in adapter.modalities:
        whole = pooled(adapter, probes, "de_de", modality, batch_size=16)
        small = pooled(again, probes, "de_de", modality, batch_size=3)
        np.testing.assert_allclose(whole, small, rtol=1e-6, atol=1e-7)
        assert whole.shape[0] == 5  # embeddings + 4 identity layers
        np.testing.assert_array_equal(whole[0], whole[-1])  # the same state at every depth
    other = load_known(f"known:{name}", settings={"seed": 1})
    modality = adapter.modalities[0]
    assert not np.allclose(
        pooled(adapter, probes, "en_us", modality), pooled(other, probes, "en_us", modality)
    )


def test_interlingua_is_one_sentence_vector_in_every_language_and_modality(probes):
    adapter = load_known("known:interlingua")
    reps = {
        (lang, m): pooled(adapter, probes, lang, m)[-1]
        for lang in LANGS
        for m in adapter.modalities
    }
    first = reps[("en_us", "text")]
    for key, other in reps.items():
        same = [cosine(first[i], other[i]) for i in range(len(probes.ids))]
        assert min(same) > 0.9, key
    unrelated = [cosine(first[0], first[i]) for i in range(1, len(probes.ids))]
    assert max(unrelated) < 0.85


def test_interlingua_words_carry_their_concept_in_text_and_speech(probes):
    adapter = load_known("known:interlingua")
    vectors = {}
    for lang in LANGS:
        for modality in ("text", "speech"):
            words = probes.words(lang)
            collector = WordCollector(modality, lang, adapter.layer_names(modality), words,
                                      probes.ids, ["last"])  # fmt: skip
            speech = modality == "speech"
            from benchmark.representations.extract import run_batches

            run_batches(
                adapter,
                modality,
                lang,
                probes.audio(lang) if speech else probes.texts(lang),
                probes.durations(lang) if speech else probes.text_lengths(lang),
                [collector],
                ids=probes.ids,
                texts=probes.texts(lang),
                words=words,
            )
            flat = [w["label"] for ws in words for w in ws]
            array = collector.result("last").array[-1]
            for label, vec in zip(flat, array, strict=True):
                vectors.setdefault(label, []).append(vec)
    for label, vecs in vectors.items():
        expected = adapter.concept(label)
        assert min(cosine(v, expected) for v in vecs) > 0.8, label


def test_text_positions_have_character_spans_and_speech_frames_20_ms(probes):
    adapter = load_known("known:interlingua")
    text = probes.texts("de_de")[0]
    words = probes.words("de_de")[0]
    batch = BatchInputs("text", "de_de", texts=[text], ids=[probes.ids[0]], words=[words])
    states = adapter.forward(batch)["layer_2"]
    spans = [tuple(s) for s in states.char_spans[0].tolist()]
    for w in words:
        assert (w["char_start"], w["char_end"]) in spans
    assert all(text[a:b].strip() == text[a:b] and b > a for a, b in spans)
    clip = probes.audio("de_de")[0]
    speech = BatchInputs("speech", "de_de", audio=[clip], ids=[probes.ids[0]], words=[words])
    frames = adapter.forward(speech)["embeddings"]
    assert frames.frame_seconds == FRAME_SECONDS
    assert frames.char_spans is None
    assert int(frames.mask.sum()) == int(np.ceil(len(clip) / 320))


def test_reference_models_that_need_ids_say_so():
    adapter = load_known("known:interlingua")
    with pytest.raises(ValueError, match="ids"):
        adapter.forward(BatchInputs("text", "en_us", texts=["A dog."]))


def test_a_steering_hook_moves_its_layer_and_every_later_one_only():
    adapter = load_known("known:steer_shared")
    batch = BatchInputs("text", "en_us", texts=["The dog runs.", "Bread."], ids=[1, 2],
                        words=[[], []])  # fmt: skip
    plain = adapter.forward(batch)
    vector = np.zeros(adapter.dim, dtype=np.float32)
    vector[3] = 5.0
    with steering(adapter.layer_module("text", "layer_2"), vector):
        steered = adapter.forward(batch)
    for name in adapter.layer_names("text"):
        diff = (steered[name].hidden - plain[name].hidden)[plain[name].mask]
        moved = name in ("layer_2", "layer_3", "layer_4")
        assert torch.allclose(diff[:, 3], torch.full_like(diff[:, 3], 5.0 if moved else 0.0))


def test_language_floor_is_its_language_and_noise(probes):
    adapter = load_known("known:language")
    en, de = (pooled(adapter, probes, lang, "text")[-1] for lang in ("en_us", "de_de"))
    assert cosine(en.mean(0), de.mean(0)) < 0.5  # one vector per language
    en_c, de_c = en - en.mean(0), de - de.mean(0)
    pairs = [cosine(en_c[i], de_c[i]) for i in range(len(en))]
    assert abs(np.mean(pairs)) < 0.2  # nothing of the sentence


def test_word_form_is_one_vector_per_written_form():
    adapter = load_known("known:word_form")
    batch = BatchInputs("text", "x", texts=["Berlin, 2024!", "BERLIN 2024"], ids=[0, 1])
    states = adapter.forward(batch)["embeddings"]
    first, second = states.hidden[0], states.hidden[1]
    torch.testing.assert_close(first[0], second[0])  # berlin
    torch.testing.assert_close(first[2], second[1])  # 2024
    assert not torch.allclose(first[0], first[2])
    assert adapter.modalities == ("text",)


def test_signal_floor_reads_length_not_content():
    adapter = load_known("known:signal")
    batch = BatchInputs("text", "en_us", texts=["red cat runs.", "big dog eats."], ids=[0, 1])
    states = adapter.forward(batch)["layer_4"]
    pooled_ = states.hidden.mean(1)
    longer = adapter.forward(
        BatchInputs(
            "text", "en_us", texts=["a much longer sentence about nothing at all."], ids=[2]
        )  # fmt: skip
    )["layer_4"].hidden.mean(1)
    same = float(torch.dist(pooled_[0], pooled_[1]))
    assert same < 0.25 * float(torch.dist(pooled_[0], longer[0]))


def test_uniform_head_gives_exactly_zero_logits_through_the_output_head(probes):
    adapter = load_known("known:uniform_head")
    head = adapter.output_head()
    assert head is not None and head.final_norm is not None
    assert len(head.tokenizer) > 50_000  # a real multilingual vocabulary
    text = probes.texts("cmn_hans_cn")[0]
    states = adapter.forward(BatchInputs("text", "cmn_hans_cn", texts=[text]))  # no ids needed
    for layer in states.values():
        for norm in (True, False):
            with torch.no_grad():
                logits = head.logits(layer.hidden[0], apply_final_norm=norm)
            assert logits.shape[-1] == len(head.tokenizer)
            assert torch.count_nonzero(logits) == 0
    ids = head.tokenizer(text, add_special_tokens=False)["input_ids"]
    assert states["embeddings"].hidden.shape[1] == len(ids)


def test_steer_models_share_or_separate_the_concept_axis(probes):
    spec = ProbeSpec(source="concepts", languages=("en_us", "de_de"), n=200)
    full = load_probes(spec)
    cats = full.frame[full.frame.lang_code == "en_us"].set_index("id").loc[full.ids, "category"]
    labels = cats.to_numpy()
    items = np.flatnonzero((labels == "animals") | (labels == "food"))  # in input order
    animal = labels[items] == "animals"
    directions = {}
    for name in ("steer_shared", "steer_orthogonal"):
        adapter = load_known(f"known:{name}")
        for lang, modality in (("en_us", "text"), ("de_de", "text"), ("en_us", "speech")):
            x = pooled(adapter, full, lang, modality, items=items)[-1]
            gap = x[animal].mean(0) - x[~animal].mean(0)
            directions[(name, lang, modality)] = gap
    for other in (("de_de", "text"), ("en_us", "speech")):
        shared = cosine(directions[("steer_shared", "en_us", "text")],
                        directions[("steer_shared", *other)])  # fmt: skip
        orthogonal = cosine(directions[("steer_orthogonal", "en_us", "text")],
                            directions[("steer_orthogonal", *other)])  # fmt: skip
        assert shared > 0.9, other
        assert abs(orthogonal) < 0.3, other


def test_text_tokens_keep_words_whole_in_every_script():
    hindi = "बूढ़ा कुत्ता सोता है।"
    assert [hindi[a:b] for a, b in text_tokens(hindi)] == ["बूढ़ा", "कुत्ता", "सोता", "है", "।"]
    assert [t for t in (("狗在睡觉。"[a:b]) for a, b in text_tokens("狗在睡觉。"))] == list(
        "狗在睡觉。"
    )
    text = "Der Küchentisch, 3.5 km!"
    assert [text[a:b] for a, b in text_tokens(text)] == [
        "Der", "Küchentisch", ",", "3", ".", "5", "km", "!",
    ]  # fmt: skip
    word = {"word": "tisch", "label": "HOME.table", "char_start": 10, "char_end": 15}
    tokens = labelled_tokens(text, [word])
    assert [text[a:b] for (a, b), _ in tokens][:3] == ["Der", "Küchen", "tisch"]
    assert tokens[2][1] is word


def test_the_orthogonal_steering_reference_gives_every_language_and_modality_its_own_block():
    from benchmark.models.known_steer import SteerOrthogonal, SteerShared

    ortho = SteerOrthogonal.__new__(SteerOrthogonal)
    ortho.seed = 0
    keys = [("en_us", "text"), ("en_us", "speech"), ("de_de", "text"), ("cmn_hans_cn", "speech")]
    axes = [ortho.axes(lang, modality) for lang, modality in keys]
    for i, a in enumerate(axes):
        assert np.allclose(a.T @ a, np.eye(a.shape[1]), atol=1e-10)
        for b in axes[i + 1 :]:  # exactly orthogonal, not merely nearly (random subspaces: ~0.2)
            assert np.abs(a.T @ b).max() < 1e-10
    shared = SteerShared.__new__(SteerShared)
    shared.seed = 0
    assert np.array_equal(shared.axes("en_us", "text"), shared.axes("de_de", "speech"))

"""Logit lens: in which language do a model's layers predict the next word?

For every labelled word of the probe sentences in language X (the `concepts` set labels words with
concepts across languages), take the position just before the word and project each layer's
hidden state there onto the output vocabulary (lens "normed": through the head's final norm, the
common variant; "raw": without it, as in the semantic-hub code). Compare the log-probability of
the word's own token with that of the English word of the same concept in the same sentence's
English translation. Only words whose two forms are each ONE whole-word token are read, so the
comparison has a neutral point by construction: under a uniform next-token distribution every
measure of the comparison reads exactly its neutral value (english_share 0.5). The measures
describe a model (which language a layer reads in); they do not rank models.

The package, by job: `words` (which words are usable, and their tokens), `positions` (the forward
passes and the hidden states at each word's predicting position), `lens` (the stack with an
output head, the projection onto the vocabulary), `measures` (the measures at one layer, their
nulls and replicates), `estimate` (the task's series), `params` (settings and the checks before
any model loads). Documentation: docs/tasks/logit_lens.md.
"""

from __future__ import annotations

from benchmark.kinds import Kind, register_kind
from benchmark.kinds.logit_lens.estimate import estimate_logit_lens
from benchmark.kinds.logit_lens.params import (
    LogitLensParams,
    check_config,
    check_probes,
    default_group,
)

register_kind(
    Kind(
        name="logit_lens",
        description="per layer, the English share of the next word's probability: its English "
        "translation's single token against the input language's",
        params=LogitLensParams,
        estimate=estimate_logit_lens,
        default_group=default_group,
        needs="any",
        # 2: single-token words only, English share per word (neutral 0.5), label-swap null,
        # the embeddings out of the best-layer choice
        version="2",
        check_config=check_config,
        check_probes=check_probes,
    )
)

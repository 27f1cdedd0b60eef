"""Latent concept analysis (Ward clusters aligned with concept labels) as an `evaluate` metric
module; loads offline with evaluate.load("<path to this dir>").

The maths lives in `benchmark.metrics.clustering` (installed with the benchmark package); the
permutations, half-samples and CI formula are those of `benchmark.metrics.similarity`, so this
module and the benchmark's own code give identical numbers.
"""

import datasets
import evaluate
import numpy as np
import torch

from benchmark.metrics import (
    interval_from_replicates,
    permutations,
    subsample_counts,
)
from benchmark.metrics.clustering import purity_estimates, ward_clusters
from benchmark.metrics.concepts import concept_alignment, concept_estimates

_DESCRIPTION = """Latent concept analysis (Dalvi et al. 2022; ConceptX): cluster word
representations with Ward linkage (Euclidean) into K clusters; a cluster is aligned with a concept
when MORE than theta (0.9) of its members carry it. Reports the share of aligned clusters, the
share of concepts covered by an aligned cluster, their mean (alignment_score), the unweighted mean
cluster purity, the size-weighted purity, and, given languages / modalities per word, the share
of aligned clusters whose concept-carrying members span >= 2 languages / both modalities.
Optionally a permutation null (annotations shuffled over words, clusters fixed) and a CI over
sentences (half-samples, clusters fixed)."""

_KWARGS_DESCRIPTION = """
Args:
    predictions: one representation (float sequence) per word in context (N x d).
    references: the concept label of each word ("" = no concept label).
    k: number of Ward clusters (required, <= N).
    theta: alignment threshold in (0, 1] (default 0.9). min_size: smallest cluster considered.
    languages, modalities, types: optional per-word lists (types = word type, for min_types).
    min_types: clusters with fewer distinct types are not considered (default 1).
    sentence_ids: optional per-word sentence id; the CI half-samples sentences (default: words).
    n_null: permutations for the null (0 = none). n_resamples: half-sample replicates (0 = none).
    ci: CI level (default 0.95). seed: seed for the null and the CI (default 0).
Returns:
    aligned_share, concept_coverage, alignment_score, mean_purity, purity, (cross_lingual,
    cross_modal), n_clusters, n_aligned, n_concepts, n_covered, n, k, aligned (cluster ->
    concept); with n_null: null_mean, null_sd (dicts per statistic); with n_resamples: ci_low,
    ci_high (dicts), ci_method, ci_level.
Examples:
    >>> lca = evaluate.load("benchmark/metrics/modules/concept_purity")
    >>> lca.compute(predictions=x.tolist(), references=labels, k=50)["alignment_score"]
"""

_CITATION = """@inproceedings{dalvi2022discovering,
  title={Discovering Latent Concepts Learned in {BERT}},
  author={Dalvi, Fahim and Khan, Abdul Rafae and Alam, Firoj and Durrani, Nadir and Xu, Jia and
          Sajjad, Hassan}, booktitle={ICLR}, year={2022}}"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class ConceptPurity(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("float64")),
                    "references": datasets.Value("string"),
                }
            ),
        )

    def _compute(
        self,
        predictions,
        references,
        k=None,
        theta=0.9,
        min_size=1,
        languages=None,
        modalities=None,
        types=None,
        min_types=1,
        sentence_ids=None,
        n_null=0,
        n_resamples=0,
        ci=0.95,
        seed=0,
    ):
        if k is None:
            raise ValueError("give k, the number of Ward clusters (e.g. k=50)")
        x = np.asarray(predictions, dtype=np.float64)
        labels = [r if r else None for r in references]
        clusters = ward_clusters(x, k)
        opts = dict(
            theta=theta,
            min_size=min_size,
            languages=languages,
            modalities=modalities,
            types=types,
            min_types=min_types,
        )
        point = concept_alignment(clusters, labels, **opts)
        out = point.to_dict()
        n_words = len(labels)
        out.update(n=n_words, k=k)
        perms = permutations(n_words, n_null, seed).numpy() if n_null else None
        weights, n_units = None, n_words
        if n_resamples:
            if sentence_ids is None:
                weights = subsample_counts(n_words, n_resamples, seed).numpy()
            else:
                _, unit = np.unique(np.asarray(sentence_ids), return_inverse=True)
                n_units = int(unit.max()) + 1
                weights = subsample_counts(n_units, n_resamples, seed).numpy()[:, unit]
        est = concept_estimates(clusters, labels, permutations=perms, point_weights=weights, **opts)
        est["purity"] = purity_estimates(
            clusters, labels, permutations=perms, point_weights=weights
        )
        out["purity"] = est["purity"].value
        if n_null:
            finite = {s: e.null[np.isfinite(e.null)] for s, e in est.items()}
            out["null_mean"] = {s: float(v.mean()) if len(v) else None for s, v in finite.items()}
            out["null_sd"] = {s: float(v.std()) if len(v) else None for s, v in finite.items()}
        if n_resamples:
            low, high = {}, {}
            for s, e in est.items():
                ok = e.replicates[np.isfinite(e.replicates)]
                if len(ok) >= 2 and np.isfinite(e.value):
                    low[s], high[s], _ = interval_from_replicates(
                        torch.from_numpy(ok), e.value, "subsample", ci, n_units
                    )
                else:
                    low[s] = high[s] = None
            out.update(ci_low=low, ci_high=high, ci_method="subsample", ci_level=ci)
        return out

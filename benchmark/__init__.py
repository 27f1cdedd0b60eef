"""Interlingua Bench: how models represent meaning across languages and across speech and text.

Architecture, in the order data flows:
    probes/           probe sets (FLEURS, embedded UDHR and concepts) in the FLEURS schema
    models/           adapters: any Hugging Face model -> per-layer hidden states with masks
    representations/  batched extraction, pooling and the on-disk cache
    metrics/          similarity measures (SVCCA, CKA) with nulls and bootstrap intervals
    kinds/            task kinds: turn representations into scores
    config.py         typed task YAML; results.py versioned result JSON; runner.py glues it together
"""

__version__ = "0.1.0"

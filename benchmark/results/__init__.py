"""Results: one typed schema (`schema.py`) and files keyed by everything that changes them
(`store.py`)."""

from benchmark.results.schema import (
    SCHEMA_VERSION,
    Curve,
    CurvePoint,
    Inference,
    LayerChoice,
    MainScore,
    Margin,
    Matrix,
    ModelRecord,
    ProbesRecord,
    RunRecord,
    TaskRecord,
    TaskResult,
    result_key,
)
from benchmark.results.store import (
    environment,
    error_path,
    finished_result,
    iter_result_files,
    read_result,
    result_path,
    write_result,
)

__all__ = [
    "SCHEMA_VERSION",
    "Curve",
    "CurvePoint",
    "Inference",
    "LayerChoice",
    "MainScore",
    "Margin",
    "Matrix",
    "ModelRecord",
    "ProbesRecord",
    "RunRecord",
    "TaskRecord",
    "TaskResult",
    "environment",
    "error_path",
    "finished_result",
    "iter_result_files",
    "read_result",
    "result_key",
    "result_path",
    "write_result",
]

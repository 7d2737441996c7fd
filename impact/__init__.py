"""impact: quasi-experimental impact estimation on linked national pupil data.

The estimators are generic (any polars/pandas/Arrow frame); NPD knowledge lives in
`impact.data`, `impact.cohorts` and the SQL in `queries/`. See docs/ for the guides.
Public names are imported on first use, so `import impact` (and the CLI) start quickly.
"""
from __future__ import annotations

import importlib
from typing import Any

from .errors import DataError, DisclosureError, EstimationError, ImpactError, ParameterError, SpecError
from .results import EffectResult, Term

__version__ = "0.1.0"

_LAZY = {
    "attendance_panel": "cohorts", "attrition": "cohorts", "build_cohort": "cohorts", "covariates": "cohorts",
    "ks4_cohort": "cohorts", "post16_panel": "cohorts",
    "MatchDesign": "design", "WeightDesign": "design", "match": "design", "weight": "design",
    "CheckedTable": "disclosure", "DisclosureConfig": "disclosure", "check_table": "disclosure",
    "att_gt": "estimate", "did": "estimate", "event_study": "estimate", "probit_did": "estimate",
    "threshold_did": "estimate",
    "threshold_event_study": "estimate",
    "RunResult": "pipeline", "run": "pipeline",
    "Spec": "spec", "load_spec": "spec",
}

__all__ = sorted(
    ["DataError", "DisclosureError", "EffectResult", "EstimationError", "ImpactError", "ParameterError",
     "SpecError", "Term", "__version__", *_LAZY]
)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'impact' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__

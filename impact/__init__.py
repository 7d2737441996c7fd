"""impact: quasi-experimental impact estimation on linked national pupil data.

The public API is re-exported here; see docs/ for the guide to each part.
"""
from __future__ import annotations

from .errors import (
    DataError,
    DisclosureError,
    EstimationError,
    ImpactError,
    ParameterError,
    SpecError,
)
from .results import EffectResult, Term

__version__ = "0.1.0"

__all__ = [
    "DataError",
    "DisclosureError",
    "EffectResult",
    "EstimationError",
    "ImpactError",
    "ParameterError",
    "SpecError",
    "Term",
    "__version__",
]

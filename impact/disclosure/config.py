"""The risk appetite of a secure environment: every disclosure threshold in one frozen object.

Defaults follow UK practice and ACRO's default.yaml (safe_threshold 10, safe_nk_n 2,
safe_nk_k 0.90, safe_pratio_p 0.10, safe_dof_threshold 10, zeros_are_disclosive True,
safe_round_base 5 when rounding is switched on). See docs/explanation/disclosure.md.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from ..errors import ParameterError
from ..params import check_number

#: Column-name globs (case-insensitive) that mark pupil, child or school identifiers.
DEFAULT_IDENTIFIER_PATTERNS: tuple[str, ...] = (
    "*pupilmatchingref*",
    "*pupil_id*",
    "pupilid",
    "upn",
    "upn_*",
    "*_upn",
    "*_upn_*",
    "*edukey*",
    "*lachildid*",
    "*child_id*",
    "childid",
    "*laestab*",
    "urn",
    "urn_*",
    "*_urn",
    "*_urn_*",
    "*school_id*",
    "schoolid",
    "*school_urn*",
)

#: Column-name globs (case-insensitive) for raw extremes: minima, maxima, 0th/100th percentiles.
DEFAULT_EXTREME_PATTERNS: tuple[str, ...] = (
    "min",
    "max",
    "minimum",
    "maximum",
    "min_*",
    "max_*",
    "*_min",
    "*_max",
    "p0",
    "p100",
    "*_p0",
    "*_p100",
    "p0_*",
    "p100_*",
)

#: Names matching an extreme pattern that are not data extremes (the Kolmogorov-Smirnov distance).
DEFAULT_EXTREME_EXEMPT: tuple[str, ...] = ("ecdf_max",)

_OWNER = "DisclosureConfig"


@dataclass(frozen=True)
class DisclosureConfig:
    """Thresholds applied to every released table; frozen so a run uses one risk appetite throughout.

    min_count: smallest count released, and smallest n behind any mean, rate or proportion.
    zeros_disclosive: a zero count is treated as disclosive (suppressed) unless declared structural.
    nk_n, nk_k: N-k dominance; a cell fails if its top nk_n contributions are >= nk_k of its total.
    p_ratio: p% rule; a cell fails if (total - top1 - top2) / top1 < p_ratio.
    min_dof: smallest residual degrees of freedom of a released model.
    rounding_base: None, or round released counts to this base (NHS SDE: 5).
    block_extremes: columns named like min/max/p0/p100 are never released.
    identifier_patterns: column-name globs dropped before any output.
    """

    min_count: int = 10
    zeros_disclosive: bool = True
    nk_n: int = 2
    nk_k: float = 0.90
    p_ratio: float = 0.10
    min_dof: int = 10
    rounding_base: int | None = None
    block_extremes: bool = True
    identifier_patterns: tuple[str, ...] = DEFAULT_IDENTIFIER_PATTERNS
    extreme_patterns: tuple[str, ...] = DEFAULT_EXTREME_PATTERNS
    extreme_exempt: tuple[str, ...] = DEFAULT_EXTREME_EXEMPT

    def __post_init__(self) -> None:
        check_number(_OWNER, "min_count", self.min_count, low=1, integer=True)
        check_number(_OWNER, "nk_n", self.nk_n, low=1, integer=True)
        check_number(_OWNER, "nk_k", self.nk_k, low=0, high=1, low_open=True)
        check_number(_OWNER, "p_ratio", self.p_ratio, low=0, high=1)
        check_number(_OWNER, "min_dof", self.min_dof, low=1, integer=True)
        check_number(_OWNER, "rounding_base", self.rounding_base, low=2, integer=True, allow_none=True)
        for name in ("zeros_disclosive", "block_extremes"):
            if not isinstance(getattr(self, name), bool):
                raise ParameterError(
                    f"The '{name}' parameter of {_OWNER} must be a bool. Got {getattr(self, name)!r} instead."
                )
        for name in ("identifier_patterns", "extreme_patterns", "extreme_exempt"):
            object.__setattr__(self, name, _patterns(name, getattr(self, name), allow_empty=name == "extreme_exempt"))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (written as the 'config' block of disclosure.json)."""
        d = asdict(self)
        for k in ("identifier_patterns", "extreme_patterns", "extreme_exempt"):
            d[k] = list(d[k])
        return d


def _patterns(name: str, value: Any, *, allow_empty: bool) -> tuple[str, ...]:
    """Normalise a glob list to a tuple of non-empty strings (a bare string is one pattern)."""
    items = (value,) if isinstance(value, str) else value
    ok = isinstance(items, (list, tuple)) and all(isinstance(p, str) and p.strip() for p in items)
    if not ok or (not items and not allow_empty):
        rule = "a list of glob strings" if allow_empty else "a non-empty list of glob strings"
        raise ParameterError(f"The '{name}' parameter of {_OWNER} must be {rule}. Got {value!r} instead.")
    return tuple(items)

"""One result type shared by every estimator: a list of terms plus facts about the fit.

`tidy()` is the single table on which summaries, reports, plots and disclosure checks are
built, so every estimator (matching effects, DiD, event study, group-time ATTs) returns an
`EffectResult` or a subclass of it.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import polars as pl

#: Columns every tidy table has, in this order; estimator-specific columns follow.
TIDY_COLUMNS: tuple[str, ...] = (
    "term",
    "estimate",
    "std_error",
    "statistic",
    "p_value",
    "ci_low",
    "ci_high",
    "n_obs",
    "n_treated",
    "n_comparison",
    "n_clusters",
    "df",
)


@dataclass(frozen=True)
class Term:
    """One estimated quantity with its uncertainty and the counts behind it.

    `df` is the degrees of freedom used for the t reference distribution (None = normal).
    Counts are of rows (observations) unless the estimator documents otherwise in `extra`.
    """

    term: str
    estimate: float
    std_error: float
    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    n_obs: int | None = None
    n_treated: int | None = None
    n_comparison: int | None = None
    n_clusters: int | None = None
    df: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_estimate(
        cls,
        term: str,
        estimate: float,
        std_error: float,
        *,
        df: float | None = None,
        level: float = 0.95,
        **counts_and_extra: Any,
    ) -> Term:
        """Build a Term with a Wald t (or z when df is None) statistic, p-value and interval."""
        count_names = {f.name for f in fields(cls)} - {"extra"}
        counts = {k: v for k, v in counts_and_extra.items() if k in count_names}
        extra = {k: v for k, v in counts_and_extra.items() if k not in count_names}
        stat, p, lo, hi = wald(estimate, std_error, df=df, level=level)
        return cls(term, float(estimate), float(std_error), stat, p, lo, hi, df=df, extra=extra, **counts)


def wald(estimate: float, std_error: float, *, df: float | None = None, level: float = 0.95):
    """Return (statistic, two-sided p-value, ci_low, ci_high) from a t(df) or normal reference."""
    from scipy import stats  # imported here: scipy.stats is slow to import and the CLI needs to start fast

    if not (std_error > 0) or not math.isfinite(std_error):
        nan = float("nan")
        return nan, nan, nan, nan
    dist = stats.t(df) if df is not None else stats.norm
    stat = estimate / std_error
    p = float(2 * dist.sf(abs(stat)))
    q = float(dist.ppf(0.5 + level / 2))
    return float(stat), p, float(estimate - q * std_error), float(estimate + q * std_error)


@dataclass
class EffectResult:
    """Terms from one estimator call plus what was fitted and how (method, inference, notes).

    `info` holds facts about the fit as plain values: e.g. n_obs, n_clusters, df_resid,
    inference, cluster, dropped_singletons, weights. `notes` lists defaults chosen on the
    user's behalf and anything dropped, in words.
    """

    method: str
    terms: list[Term]
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    level: float = 0.95

    def tidy(self) -> pl.DataFrame:
        """A long table, one row per term: TIDY_COLUMNS, then `method`, then any extra keys."""
        extra_keys: list[str] = []
        for t in self.terms:
            for k in t.extra:
                if k not in extra_keys:
                    extra_keys.append(k)
        rows = []
        for t in self.terms:
            d = asdict(t)
            d.pop("extra")
            d["method"] = self.method
            for k in extra_keys:
                d[k] = t.extra.get(k)
            rows.append(d)
        schema: dict[str, Any] = {
            "term": pl.Utf8,
            **{c: pl.Float64 for c in ("estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high")},
            **{c: pl.Int64 for c in ("n_obs", "n_treated", "n_comparison", "n_clusters")},
            "df": pl.Float64,
            "method": pl.Utf8,
        }
        base = pl.DataFrame([{k: r[k] for k in schema} for r in rows], schema=schema, orient="row")
        if not extra_keys:
            return base
        extra = pl.DataFrame([{k: r[k] for k in extra_keys} for r in rows], orient="row", infer_schema_length=None)
        return pl.concat([base, extra], how="horizontal")

    def term(self, name: str) -> Term:
        """The term called `name` (KeyError listing the available terms otherwise)."""
        for t in self.terms:
            if t.term == name:
                return t
        raise KeyError(f"no term {name!r}; available: {[t.term for t in self.terms]}")

    @property
    def estimate(self) -> float:
        """The first term's estimate: the headline effect for single-effect estimators."""
        return self.terms[0].estimate

    @property
    def std_error(self) -> float:
        return self.terms[0].std_error

    def summary(self) -> str:
        """A plain-text table of the terms with the fit facts and notes underneath."""
        lines = [f"{self.method}", ""]
        header = f"{'term':<28}{'estimate':>12}{'std.err':>12}{'p':>9}{'ci_low':>12}{'ci_high':>12}"
        lines.append(header)
        lines.append("-" * len(header))
        for t in self.terms:
            lines.append(
                f"{t.term[:27]:<28}{t.estimate:>12.4f}{t.std_error:>12.4f}{t.p_value:>9.3f}"
                f"{t.ci_low:>12.4f}{t.ci_high:>12.4f}"
            )
        if self.info:
            lines.append("")
            lines.extend(f"{k}: {v}" for k, v in self.info.items() if not isinstance(v, (list, dict)))
        if self.notes:
            lines.append("")
            lines.extend(f"note: {n}" for n in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready representation (used by the manifest and report)."""
        return {
            "method": self.method,
            "level": self.level,
            "terms": [asdict(t) for t in self.terms],
            "info": self.info,
            "notes": list(self.notes),
        }

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return self.summary()

"""DiD and event studies on a Spark DataFrame from sufficient statistics: the rows never leave Spark.

The estimates, standard errors and counts are those of impact.estimate.did / event_study
(inference "cluster") on the same rows collected, by Frisch-Waugh-Lovell: the fixed effect with
the most levels (e.g. pupil_id) is absorbed by demeaning within its groups on the executors, and
every other fixed effect (interactions `a^b^c` included) becomes dummy columns of the regression
(one level per dimension left out). Rows in singleton fixed-effect groups are dropped iteratively
in Spark, as did() does. Two passes over the sample, each summed inside Spark, reach the driver:

1. the cross-products Z'Z of Z = [y | dummies | regressors] after demeaning, with each column's raw
   sum of squares (the collinearity check of impact.estimate.ols) and the counts;
2. once the coefficients are known, the per-cluster score sums Z_g'e_g.

Collinear columns are found, and the coefficients, bread and CR1 sandwich formed, on the driver
from these alone: O(k^2 + G k) numbers for k columns and G clusters. The per-partition work is
vectorised numpy in `mapInArrow` (whole groups of the absorbed fixed effect at a time, rows sorted
within partitions so that every sum is taken in the same order on every run), then partials are
added in partition order in one small task, so results are identical from run to run.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from ..errors import DataError, EstimationError, ParameterError
from ..estimate._inputs import cluster_arg, interaction_parts
from ..estimate.absorb import Absorber, factorize
from ..estimate.event_study import EventStudyResult, _calendar, _joint_wald, event_terms
from ..estimate.ols import _independent
from ..estimate.vcov import cr1_from_score_sums
from ..frame import require_binary, require_columns, require_numeric
from ..params import check_columns_arg, check_number
from ..results import EffectResult, Term
from .models import collect
from .session import require_pyspark

#: Most dummy columns the fixed effects other than the absorbed one may add to the regression.
MAX_DUMMIES = 500
#: Rows gathered from Arrow batches before a block is built on an executor (whole absorbed groups).
CHUNK_ROWS = 65_536
#: Partial sums per partition: the Spark column holding them, and the partition number.
_VALUES, _PART = "_v", "_pid"


@dataclass(frozen=True)
class _Dim:
    """One fixed-effect dimension: its name as given and the frame columns whose combination defines it."""

    name: str
    parts: tuple[str, ...]


@dataclass(frozen=True)
class _Layout:
    """What the executors need to build the block [y | dummies | x] of a chunk of rows."""

    n_x: int
    dummy_levels: tuple[int, ...]  # levels of each dummy dimension; code 0 is the left-out level
    n_big: int  # key columns of the absorbed fixed effect (0: nothing absorbed)
    n_cluster: int

    @property
    def width(self) -> int:
        return 1 + sum(g - 1 for g in self.dummy_levels) + self.n_x


@dataclass
class _Fit:
    """The regression's results on the driver, in the facts did() and event_study() report."""

    names: list[str]  # regressors kept
    dropped: list[str]  # regressors dropped as collinear with the fixed effects or earlier ones
    coef: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_treated: int
    k: int
    df: float
    n_clusters: int
    fe_levels: int
    n_singletons: int

    def index(self, name: str) -> int:
        return self.names.index(name)


def did_statistics(
    frame: Any,
    outcome: str,
    treatment: str,
    post: str,
    *,
    fixed_effects: str | list[str] | None,
    cluster: str | list[str],
    covariates: str | list[str] | None = None,
) -> EffectResult:
    """impact.did(...) with inference="cluster" on a Spark DataFrame, from statistics summed in Spark.

    Same model and arguments as did(): the coefficient on `treatment` x `post` with the fixed
    effects absorbed (none: the 2x2 regression with an intercept), CR1 errors by `cluster` (one or
    two columns). At most one fixed effect may be high-dimensional; the others together may have
    at most MAX_DUMMIES levels beyond the first of each.
    """
    owner = "did_statistics"
    frame, schema = _spark_frame(owner, frame)
    fes, covs, clusters = _arguments(owner, fixed_effects, covariates, cluster)
    dims = _dims(owner, fes, schema)
    used = list(dict.fromkeys([outcome, treatment, post, *covs, *(p for d in dims for p in d.parts), *clusters]))
    require_columns(schema, used, owner=owner)
    from pyspark.sql import functions as F

    d, p = F.col(treatment).cast("double"), F.col(post).cast("double")
    checks, approx_levels = _check_rows(owner, frame, schema, used, numeric=[outcome, *covs],
                                        binary=[(treatment, "treatment"), (post, "post")], dims=dims,
                                        extra={"pre_treated": (d == 1) & (p == 0), "treated": d == 1})
    if not checks["pre_treated"]:
        raise DataError(
            f"{owner}: the treated group ('{treatment}' = 1) is never observed before treatment ('{post}' = 0): "
            f"0 of {checks['treated']} treated rows are pre-period; the design needs pre-period data for it"
        )
    regressors = [("att", d * p), *([("(intercept)", F.lit(1.0))] if not dims else []), (treatment, d), (post, p),
                  *((c, F.col(c).cast("double")) for c in covs)]
    fit = _fit(owner, frame, outcome, d, regressors, dims, clusters, approx_levels)
    if "att" in fit.dropped:
        raise EstimationError(
            f"{owner}: '{treatment}' x '{post}' is collinear with the fixed effects ({', '.join(fes)}); "
            "no variation is left to estimate the effect"
        )
    notes = _sample_notes(fit, fes)
    absorbed = [nm for nm in fit.dropped if nm != "att"]
    if absorbed:
        notes.append(f"absorbed by the fixed effects or collinear, not estimated: {', '.join(absorbed)}")
    j = fit.index("att")
    counts = dict(n_obs=fit.n_obs, n_treated=fit.n_treated, n_comparison=fit.n_obs - fit.n_treated,
                  n_clusters=fit.n_clusters)
    term = Term.from_estimate("att", float(fit.coef[j]), float(np.sqrt(fit.vcov[j, j])), df=fit.df, **counts)
    info: dict[str, Any] = {
        **_info(fit, fes, clusters), "inference": "cluster",
        "covariates": {c: float(fit.coef[fit.index(c)]) for c in covs if c in fit.names},
    }
    return EffectResult("twfe" if fes else "did_2x2", [term], info, notes)


def event_study_statistics(
    frame: Any,
    outcome: str,
    treatment: str,
    time: str,
    *,
    treat_start: str | int | float,
    reference: int = -1,
    exclude_periods: Any = (),
    fixed_effects: str | list[str] | None,
    cluster: str | list[str],
    covariates: str | list[str] | None = None,
) -> EventStudyResult:
    """impact.event_study(...) on a Spark DataFrame, from statistics summed in Spark (see did_statistics).

    One coefficient per event time (time - treat_start for the treated group) but `reference`,
    after dropping the calendar periods `exclude_periods`; the joint pre-trend Wald test as
    event_study() reports it.
    """
    owner = "event_study_statistics"
    check_number(owner, "reference", reference, integer=True)
    frame, schema = _spark_frame(owner, frame)
    fes, covs, clusters = _arguments(owner, fixed_effects, covariates, cluster)
    excluded = list(exclude_periods) if not isinstance(exclude_periods, (str, int, float)) else [exclude_periods]
    start_col = treat_start if isinstance(treat_start, str) else None
    dims = _dims(owner, fes, schema)
    used = list(dict.fromkeys([outcome, treatment, time, *covs, *(p for d in dims for p in d.parts), *clusters]))
    require_columns(schema, used + ([start_col] if start_col else []), owner=owner)
    _, approx_levels = _check_rows(owner, frame, schema, used, numeric=[outcome, time, *covs],
                                   binary=[(treatment, "treatment")], dims=dims)
    from pyspark.sql import functions as F

    notes: list[str] = []
    if excluded:
        n_excluded = frame.agg(F.sum(F.col(time).isin(excluded).cast("long"))).first()[0] or 0
        frame = frame.filter(~F.col(time).isin(excluded))
        notes.append(f"periods {excluded} of '{time}' excluded from estimation ({n_excluded} rows dropped)")
    treated = F.col(treatment).cast("double") == 1
    if start_col:
        require_numeric(schema, [start_col], owner=owner)
        start = F.col(start_col).cast("double")
        missing = frame.filter(treated & (start.isNull() | F.isnan(start))).count()
        if missing:
            raise DataError(
                f"{owner}: treat_start column '{start_col}' is missing for {missing} treated row(s); "
                "give every treated unit its first treated period"
            )
    else:
        check_number(owner, "treat_start", treat_start)
        start = F.lit(float(treat_start))
    rel = F.when(treated, F.bround(F.col(time).cast("double") - start))  # numpy's round: half to even
    event_times = sorted(int(r[0]) for r in frame.filter(treated).select(rel.alias("e")).distinct().collect())
    terms_e = event_terms(owner, event_times, reference)
    d = F.col(treatment).cast("double")
    regressors = [*((f"e{e:+d}", F.coalesce((rel == e).cast("double"), F.lit(0.0))) for e in terms_e), (treatment, d),
                  *((c, F.col(c).cast("double")) for c in covs), *([("(intercept)", F.lit(1.0))] if not dims else [])]
    fit = _fit(owner, frame, outcome, d, regressors, dims, clusters, approx_levels)
    notes += _sample_notes(fit, fes)
    lost = [f"e{e:+d}" for e in terms_e if f"e{e:+d}" in fit.dropped]
    if lost:
        notes.append(f"event-time terms collinear with the fixed effects, not estimated: {', '.join(lost)}")
    common = start_col is None
    terms = [
        Term.from_estimate(
            f"e{e:+d}", float(fit.coef[fit.index(f"e{e:+d}")]), float(np.sqrt(fit.vcov[j, j])), df=fit.df,
            n_obs=fit.n_obs, n_treated=fit.n_treated, n_comparison=fit.n_obs - fit.n_treated,
            n_clusters=fit.n_clusters, event_time=e, period=_calendar(float(treat_start) + e) if common else None,
            pre=e < 0,
        )
        for e in terms_e if f"e{e:+d}" in fit.names for j in [fit.index(f"e{e:+d}")]
    ]
    if not terms:
        raise EstimationError(f"{owner}: no event-time coefficient could be estimated")
    pre = [fit.index(t.term) for t in terms if t.extra["pre"]]
    pretrend = _joint_wald(fit.coef[pre], fit.vcov[np.ix_(pre, pre)], fit.df)
    excluded_e = sorted({int(round(x - float(treat_start))) for x in excluded}) if common and excluded else []
    if excluded and not common:
        notes.append("excluded calendar periods fall at different event times for different cohorts")
    info = {
        **_info(fit, fes, clusters), "inference": "cluster", "reference": reference, "excluded_periods": excluded,
        "pretrend_statistic": pretrend["statistic"], "pretrend_df": pretrend["df1"],
        "pretrend_p_value": pretrend["p_value"],
    }
    return EventStudyResult("event_study", terms, info, notes, pretrend=pretrend, reference=reference,
                            excluded_event_times=excluded_e)


# --- arguments and checks ------------------------------------------------------------------


def _spark_frame(owner: str, frame: Any) -> tuple[Any, pl.DataFrame]:
    """The frame, checked to be a Spark DataFrame, and its columns as an empty polars frame (for the checks)."""
    require_pyspark()
    from pyspark.sql import DataFrame

    if not isinstance(frame, DataFrame):
        raise ParameterError(
            f"The 'frame' parameter of {owner} must be a pyspark DataFrame. Got {type(frame).__name__} instead; "
            "for a polars, pandas or Arrow frame call impact.did / impact.event_study."
        )
    return frame, collect(frame.limit(0))


def _arguments(owner: str, fixed_effects: Any, covariates: Any, cluster: Any) -> tuple[list[str], list[str], list[str]]:
    fes = check_columns_arg(owner, "fixed_effects", fixed_effects, allow_none=True)
    covs = check_columns_arg(owner, "covariates", covariates, allow_none=True)
    clusters = cluster_arg(owner, cluster)
    if not clusters:
        raise ParameterError(
            f"The 'cluster' parameter of {owner} must name one or two columns (cluster-robust errors). "
            f"Got {cluster!r} instead; pass cluster='la' (say)."
        )
    return fes, covs, clusters


def _dims(owner: str, fes: list[str], schema: pl.DataFrame) -> list[_Dim]:
    """Fixed-effect dimensions; `a^b` is the interaction of columns a and b unless a column has that name."""
    return [_Dim(fe, interaction_parts(schema, fe, owner=owner)) for fe in fes]


def _check_rows(owner: str, frame: Any, schema: pl.DataFrame, used: list[str], *, numeric: list[str],
                binary: list[tuple[str, str]], dims: list[_Dim], extra: dict[str, Any] | None = None,
                ) -> tuple[dict[str, int], list[int]]:
    """did()'s data checks from one Spark aggregation: numeric columns, missing values (nulls, and NaN in
    floating columns), 0/1 columns holding both values. Returns the `extra` row counts and the
    approximate number of levels of each fixed-effect dimension."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import DoubleType, FloatType

    require_numeric(schema, numeric, owner=owner)
    for c, role in binary:
        require_numeric(schema, [c], owner=owner, role=role)
    types = {f.name: f.dataType for f in frame.schema.fields}
    counts = {"_rows": F.lit(True)}
    for c in used:
        counts[f"_na_{c}"] = F.col(c).isNull()
        if isinstance(types[c], (DoubleType, FloatType)):
            counts[f"_na_{c}"] |= F.isnan(c)
    for c, _ in binary:
        v = F.col(c).cast("double")
        counts |= {f"_bad_{c}": ~v.isin(0.0, 1.0), f"_one_{c}": v == 1, f"_zero_{c}": v == 0}
    counts |= extra or {}
    levels = [F.approx_count_distinct(F.struct(*d.parts)).alias(f"_levels{j}") for j, d in enumerate(dims)]
    row = frame.agg(*(F.sum(cond.cast("long")).alias(name) for name, cond in counts.items()), *levels).first()
    found = {name: int(row[name] or 0) for name in counts}
    for c in used:
        if found[f"_na_{c}"]:
            raise DataError(
                f"{owner}: column '{c}' has {found[f'_na_{c}']} missing value(s) of {found['_rows']} rows; "
                "drop or impute them before estimating"
            )
    for c, role in binary:
        bad = []
        if found[f"_bad_{c}"]:
            v = F.col(c).cast("double").alias("v")
            odd = frame.select(v).filter(~F.col("v").isin(0.0, 1.0)).distinct().orderBy("v").limit(5)
            bad = [r[0] for r in odd.collect()]
        seen = bad + [1.0] * (found[f"_one_{c}"] > 0) + [0.0] * (found[f"_zero_{c}"] > 0)
        require_binary(pl.DataFrame({c: seen}, schema={c: pl.Float64}), c, owner=owner, role=role)
    return {name: found[name] for name in extra or {}}, [int(row[f"_levels{j}"]) for j in range(len(dims))]


# --- the regression ----------------------------------------------------------------------


def _fit(owner: str, frame: Any, outcome: str, treated: Any, regressors: list[tuple[str, Any]], dims: list[_Dim],
         clusters: list[str], approx_levels: list[int]) -> _Fit:
    """Sample, cross-products, coefficients and CR1 covariance of y on `regressors` with `dims` absorbed."""
    from pyspark.sql import functions as F

    work = frame.select(
        F.col(outcome).cast("double").alias("_y"), treated.alias("_t"),
        *(e.alias(f"_x{i}") for i, (_, e) in enumerate(regressors)),
        *(F.col(p).alias(f"_f{j}_{m}") for j, d in enumerate(dims) for m, p in enumerate(d.parts)),
        *(F.col(c).alias(f"_k{i}") for i, c in enumerate(clusters)),
    )
    keys = [[f"_f{j}_{m}" for m in range(len(d.parts))] for j, d in enumerate(dims)]
    big = _absorbed(owner, work, dims, keys, approx_levels)
    big_keys = keys[big] if big is not None else []
    small = [k for j, k in enumerate(keys) if j != big]
    cl = [f"_k{i}" for i in range(len(clusters))]
    persisted: list[Any] = []
    try:
        sample, n_single, big_nested, level_rows = _sample(work, big_keys, small, cl, persisted)
        coded, levels, nested = _dummy_codes(sample, small, level_rows, len(clusters))
        layout = _Layout(len(regressors), tuple(levels), len(big_keys), len(clusters))
        design = coded.select("_y", "_t", *(f"_x{i}" for i in range(len(regressors))),
                              *(f"_d{j}" for j in range(len(small))),
                              *(F.col(b).alias(f"_b{i}") for i, b in enumerate(big_keys)), *cl)
        # each absorbed group within one partition with its rows together, and every partition's rows in a
        # fixed order whatever the input's partitioning (without fixed effects: by cluster, for the order only)
        by = [f"_b{i}" for i in range(layout.n_big)] or cl
        design = design.repartition(*by).sortWithinPartitions(*by, *design.columns)
        design = design.withColumn(_PART, F.spark_partition_id()).persist()
        persisted.append(design)
        return _solve(owner, design, layout, [nm for nm, _ in regressors], levels, nested, big_nested, n_single)
    finally:
        for df in persisted:
            df.unpersist()


def _absorbed(owner: str, work: Any, dims: list[_Dim], keys: list[list[str]], approx_levels: list[int]) -> int | None:
    """Index of the dimension absorbed by demeaning (the one with most levels); ParameterError if the
    others are high-dimensional too or need more than MAX_DUMMIES dummy columns."""
    if not dims:
        return None
    big = max(range(len(dims)), key=lambda j: (approx_levels[j], -j))
    levels = {j: work.select(*keys[j]).distinct().limit(MAX_DUMMIES + 2).count() for j in range(len(dims)) if j != big}
    high = [f"'{dims[j].name}' (more than {MAX_DUMMIES + 1} levels)" for j, g in levels.items() if g > MAX_DUMMIES + 1]
    if high:
        raise ParameterError(
            f"The 'fixed_effects' parameter of {owner} must have at most one high-dimensional fixed effect (it is "
            f"absorbed in Spark; the others become dummy columns). Got '{dims[big].name}' (about "
            f"{approx_levels[big]:,} levels) and {', '.join(high)} instead; collect the frame and call "
            "impact.did / impact.event_study."
        )
    n_dummies = sum(g - 1 for g in levels.values())
    if n_dummies > MAX_DUMMIES:
        listed = ", ".join(f"'{dims[j].name}' ({g:,} levels)" for j, g in levels.items())
        raise ParameterError(
            f"The 'fixed_effects' parameter of {owner} must need at most {MAX_DUMMIES} dummy columns besides the "
            f"absorbed '{dims[big].name}'. Got {listed}: {n_dummies:,} columns instead; use coarser fixed effects, "
            "or collect the frame and call impact.did / impact.event_study."
        )
    return big


def _sample(work: Any, big: list[str], small: list[list[str]], clusters: list[str],
            persisted: list[Any]) -> tuple[Any, int, list[bool], list[list[Any]]]:
    """The rows left once those alone in their group of any dimension are dropped, until none remain
    (impact.estimate.absorb.singleton_mask); the rows dropped; whether the absorbed groups are nested
    in each cluster dimension; the levels of each small dimension (rows: parts, `_n`, `_m{i}` = 1 where
    cluster dimension i varies within the level). Frames cached here are added to `persisted`.

    Dropping the absorbed dimension's singletons leaves no new ones in it, so the usual case is one
    pass: a window count, then the small dimensions' level counts, which have no singleton.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not big:
        persisted.append(work.persist())
        return persisted[-1], 0, [False] * len(clusters), []
    rows, current = None, work
    while True:
        w = Window.partitionBy(*big)
        mixed = [(F.min(c).over(w) != F.max(c).over(w)).alias(f"_m{i}") for i, c in enumerate(clusters)]
        flagged = current.select("*", F.count(F.lit(1)).over(w).alias("_n"), *mixed).persist()
        persisted.append(flagged)
        kept = F.col("_n") > 1
        facts = flagged.agg(F.count(F.lit(1)).alias("rows"), F.sum((~kept).cast("long")).alias("single"),
                            *(F.max(F.when(kept, F.col(f"_m{i}").cast("int"))).alias(f"m{i}")
                              for i in range(len(clusters)))).first()
        rows = facts["rows"] if rows is None else rows
        sample = flagged.filter(kept).select(*work.columns)
        varies = [(F.min(c) != F.max(c)).cast("int").alias(f"_m{i}") for i, c in enumerate(clusters)]
        level_rows = [sample.groupBy(*parts).agg(F.count(F.lit(1)).alias("_n"), *varies).orderBy(*parts).collect()
                      for parts in small]
        singles = [[r for r in found if r["_n"] == 1] for found in level_rows]
        if not any(singles):
            n_kept = facts["rows"] - (facts["single"] or 0)
            return sample, rows - n_kept, [not facts[f"m{i}"] for i in range(len(clusters))], level_rows
        for parts, found in zip(small, singles):
            if found:
                gone = sample.sparkSession.createDataFrame([tuple(r[p] for p in parts) for r in found],
                                                           sample.select(*parts).schema)
                sample = sample.join(F.broadcast(gone), on=parts, how="left_anti")
        current = sample


def _dummy_codes(sample: Any, small: list[list[str]], level_rows: list[list[Any]],
                 n_clusters: int) -> tuple[Any, list[int], list[bool]]:
    """The sample with a 0-based level code `_d{j}` for each small dimension (in the levels' sorted order);
    the levels of each; whether each is nested in some cluster dimension (then it does not count in
    the CR1 factor's k, as impact.estimate.ols._counted_fe)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import IntegerType, StructField, StructType

    levels, nested = [], []
    for j, (parts, rows) in enumerate(zip(small, level_rows)):
        levels.append(len(rows))
        nested.append(any(not any(r[f"_m{i}"] for r in rows) for i in range(n_clusters)))
        schema = StructType(list(sample.select(*parts).schema.fields) + [StructField(f"_d{j}", IntegerType(), False)])
        codes = sample.sparkSession.createDataFrame([(*(r[p] for p in parts), code) for code, r in enumerate(rows)],
                                                    schema)
        sample = sample.join(F.broadcast(codes), on=parts)
    return sample, levels, nested


def _solve(owner: str, design: Any, layout: _Layout, x_names: list[str], levels: list[int], nested: list[bool],
           big_nested: list[bool], n_single: int) -> _Fit:
    """Pass 1 (cross-products), coefficients, pass 2 (cluster score sums), CR1 covariance."""
    from pyspark.sql.types import ArrayType, DoubleType, IntegerType, StructField, StructType

    p = layout.width - 1  # columns besides y: dummies, then regressors
    values = StructType([StructField(_PART, IntegerType()), StructField(_VALUES, ArrayType(DoubleType()))])
    totals = _reduced(design.mapInArrow(partial(_cross_products, layout=layout), values), [])
    v = _matrix(totals)[0] if totals.num_rows else np.zeros(3 + p + (p + 1) ** 2)
    n, n_treated, n_groups = int(v[0]), int(v[1]), int(v[2])
    raw_ss, zz = v[3 : 3 + p], v[3 + p :].reshape(p + 1, p + 1)
    keep = _independent(zz[1:, 1:], raw_ss)
    n_dummies = p - layout.n_x
    names = [f"_dummy{i}" for i in range(n_dummies)] + x_names
    kept_x = [nm for nm, k in zip(x_names, keep[n_dummies:]) if k]
    dropped = [nm for nm, k in zip(x_names, keep[n_dummies:]) if not k]
    if not kept_x:
        raise EstimationError(f"{owner}: every regressor ({', '.join(x_names)}) is collinear with the fixed effects; "
                              "nothing to estimate")
    xtx = zz[1:, 1:][np.ix_(keep, keep)]
    bread = np.linalg.inv(xtx)
    coef = bread @ zz[1:, 0][keep]
    # fixed-effect parameters counted in k as impact.estimate.ols._counted_fe ("nonnested"): all identified
    # levels (absorbed groups + dummies kept), less those of dimensions nested in a cluster dimension
    fe_levels = n_groups + int(keep[:n_dummies].sum()) if layout.n_big else 0
    counted = fe_levels
    if layout.n_big and any(big_nested):
        counted -= n_groups - 1
    counted -= sum(g - 1 for g, is_nested in zip(levels, nested) if is_nested)
    k = len(kept_x) + counted
    if n - k <= 0:
        raise EstimationError(
            f"{owner}: {n} observations cannot identify {k} parameters (regressors plus fixed effects)"
        )
    beta = np.zeros(p)
    beta[keep] = coef
    keys = [f"_k{i}" for i in range(layout.n_cluster)]
    scored = StructType([design.schema[c] for c in keys] + list(values.fields))
    per_cluster = _reduced(design.mapInArrow(partial(_score_sums, layout=layout, beta=beta, keep=keep), scored), keys)
    sums = _matrix(per_cluster)
    if layout.n_cluster == 1:
        by_dimension = [sums]
    else:
        by_dimension = [_sum_by_key(per_cluster.select([c]), sums)[1] for c in keys] + [sums]
    vcov, df = cr1_from_score_sums(by_dimension, bread, n_obs=n, k=k)
    at = [i for i, nm in enumerate(nm for nm, kk in zip(names, keep) if kk) if i >= int(keep[:n_dummies].sum())]
    return _Fit(
        names=kept_x, dropped=dropped, coef=coef[at], vcov=vcov[np.ix_(at, at)], n_obs=n, n_treated=n_treated, k=k,
        df=df, n_clusters=min(s.shape[0] for s in by_dimension[:2]), fe_levels=fe_levels, n_singletons=n_single,
    )


def _reduced(partials: Any, keys: list[str]) -> pa.Table:
    """Partial sums (keys, partition, values) added up per key in partition order in Spark, collected."""
    from pyspark.sql import functions as F

    spread = partials.repartition(*keys) if keys else partials.repartition(1)
    schema = partials.select(*keys, F.col(_VALUES)).schema
    return spread.sortWithinPartitions(_PART, *keys).mapInArrow(partial(_add_partials, keys=keys), schema).toArrow()


def _info(fit: _Fit, fes: list[str], clusters: list[str]) -> dict[str, Any]:
    """The facts did() and event_study() put in `info`, as they name them."""
    return {
        "n_obs": fit.n_obs, "n_clusters": fit.n_clusters, "df": fit.df, "k": fit.k, "cluster": clusters,
        "fixed_effects": fes or None, "fe_levels": fit.fe_levels, "fe_dof_rule": "nonnested",
        "absorb_method": "spark statistics" if fes else None, "dropped_singletons": fit.n_singletons, "weights": None,
    }


def _sample_notes(fit: _Fit, fes: list[str]) -> list[str]:
    notes = [f"estimated in Spark from sufficient statistics (cross-products and {fit.n_clusters} cluster score sums)"]
    if fit.n_singletons:
        notes.append(
            f"{fit.n_singletons} row(s) in singleton fixed-effect groups ({', '.join(fes)}) were dropped, "
            "iteratively, as fixest does"
        )
    return notes


# --- executor side: vectorised numpy over Arrow batches --------------------------------------


def _chunks(batches: Iterator[pa.RecordBatch], n_big: int) -> Iterator[pa.Table]:
    """Tables of about CHUNK_ROWS rows made of whole absorbed groups (rows arrive sorted by group)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        if rows < CHUNK_ROWS:
            continue
        table = pa.Table.from_batches(pending)
        cut = _last_group_start(table, n_big) if n_big else table.num_rows
        if cut:
            yield table.slice(0, cut)
            pending = table.slice(cut).to_batches()
            rows = table.num_rows - cut
    if rows:
        yield pa.Table.from_batches(pending)


def _group_starts(table: pa.Table, n_big: int) -> np.ndarray:
    """Boolean per row: the row starts a new group of the absorbed fixed effect."""
    starts = np.zeros(table.num_rows, dtype=bool)
    starts[:1] = True
    for i in range(n_big):
        a = table.column(f"_b{i}").to_numpy()
        starts[1:] |= a[1:] != a[:-1]
    return starts


def _last_group_start(table: pa.Table, n_big: int) -> int:
    return int(np.flatnonzero(_group_starts(table, n_big))[-1])


def _block(table: pa.Table, layout: _Layout) -> tuple[np.ndarray, np.ndarray | None]:
    """[y | dummies | x] of a chunk (Fortran order) and the absorbed groups' codes (None: nothing absorbed)."""
    n = table.num_rows
    block = np.zeros((n, layout.width), order="F")
    block[:, 0] = table.column("_y").to_numpy()
    col = 1
    for j, g in enumerate(layout.dummy_levels):
        codes = table.column(f"_d{j}").to_numpy()
        rows = np.flatnonzero(codes > 0)
        block[rows, col + codes[rows] - 1] = 1.0
        col += g - 1
    for i in range(layout.n_x):
        block[:, col + i] = table.column(f"_x{i}").to_numpy()
    groups = np.cumsum(_group_starts(table, layout.n_big)) - 1 if layout.n_big else None
    return block, groups


def _partial_batch(part: int, values: np.ndarray, keys: pa.Table | None = None) -> pa.RecordBatch:
    """Rows of partial sums: the key columns, the partition number and each row's values as a list."""
    rows, width = values.shape
    lists = pa.ListArray.from_arrays(pa.array(np.arange(rows + 1) * width, pa.int32()), pa.array(values.ravel()))
    columns = ([] if keys is None else list(keys.columns)) + [pa.array(np.full(rows, part, np.int32)), lists]
    names = ([] if keys is None else keys.column_names) + [_PART, _VALUES]
    return pa.RecordBatch.from_arrays([c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c for c in columns],
                                      names=names)


def _cross_products(batches: Iterator[pa.RecordBatch], layout: _Layout) -> Iterator[pa.RecordBatch]:
    """One row per partition: [rows, treated rows, absorbed groups, raw sums of squares, Z'Z after demeaning]."""
    p = layout.width - 1
    total = np.zeros(3 + p + (p + 1) ** 2)
    part = None
    for table in _chunks(batches, layout.n_big):
        part = int(table.column(_PART)[0].as_py())
        block, groups = _block(table, layout)
        total[0] += table.num_rows
        total[1] += float(np.sum(table.column("_t").to_numpy()))
        total[3 : 3 + p] += np.einsum("ij,ij->j", block[:, 1:], block[:, 1:])
        if groups is not None:
            total[2] += groups[-1] + 1
            Absorber.build([groups]).demean(block)
        total[3 + p :] += (block.T @ block).ravel()
    if part is not None:
        yield _partial_batch(part, total[None, :])


def _score_sums(batches: Iterator[pa.RecordBatch], layout: _Layout, beta: np.ndarray,
                keep: np.ndarray) -> Iterator[pa.RecordBatch]:
    """Per cluster (intersection, with two dimensions) of the partition: sum of Z_i e_i over the kept columns."""
    keys = [f"_k{i}" for i in range(layout.n_cluster)]
    tables, sums, part = [], [], None
    for table in _chunks(batches, layout.n_big):
        part = int(table.column(_PART)[0].as_py())
        block, groups = _block(table, layout)
        if groups is not None:
            Absorber.build([groups]).demean(block)
        z = block[:, 1:]
        resid = block[:, 0] - z @ beta
        found, s = _sum_by_key(table.select(keys), z[:, keep] * resid[:, None])
        tables.append(found)
        sums.append(s)
    if part is not None:
        found, s = _sum_by_key(pa.concat_tables(tables), np.vstack(sums))
        yield _partial_batch(part, s, found)


def _add_partials(batches: Iterator[pa.RecordBatch], keys: list[str]) -> Iterator[pa.RecordBatch]:
    """The partial sums of one reducing partition (sorted by partition) added up per key, in that order."""
    table = pa.Table.from_batches(list(batches))
    if not table.num_rows:
        return
    found, s = _sum_by_key(table.select(keys), _matrix(table))
    batch = _partial_batch(0, s, found if keys else None)
    yield batch.drop_columns([_PART])


def _matrix(table: pa.Table) -> np.ndarray:
    """The `_v` lists of a table as a rows x width float64 matrix."""
    lists = table.column(_VALUES).combine_chunks()
    if not len(lists):
        return np.zeros((0, 0))
    return lists.flatten().to_numpy().reshape(len(lists), -1)


def _sum_by_key(keys: pa.Table, values: np.ndarray) -> tuple[pa.Table, np.ndarray]:
    """Rows of `values` added up per distinct key row (in row order, so deterministically); the keys found."""
    if not keys.num_columns:
        return keys, values.sum(axis=0, keepdims=True)
    combined = np.zeros(keys.num_rows, dtype=np.int64)
    for name in keys.column_names:
        codes, n_levels = factorize(pl.Series(keys.column(name).combine_chunks()))
        combined = combined * n_levels + codes
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.flatnonzero(np.r_[True, np.diff(inverse[order]) != 0])
    return keys.take(first), np.add.reduceat(values[order], bounds, axis=0)

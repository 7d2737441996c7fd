"""`match`: build a matching design (nearest neighbour, Mahalanobis, coarsened exact, exact).

Matching only forms the comparison group and its weights; effects are a separate step
(`design.effect(outcome)`), following MatchIt's design/analysis split.
"""
from __future__ import annotations

import numpy as np
import polars as pl

from ..errors import DataError, EstimationError, ParameterError
from ..frame import require_columns, require_no_missing, require_numeric
from ..params import check_choice, check_columns_arg, check_number
from ._prepare import prepare, strata_codes
from .designs import MatchDesign
from .mahalanobis import mahalanobis_pairs
from .nearest import Pairs, nearest_pairs
from .propensity import fit_propensity
from .subclass import coarsen, subclass_weights

OWNER = "match"
METHODS = ("nearest", "mahalanobis", "cem", "exact")


def match(
    data,
    treatment: str,
    covariates,
    *,
    method: str = "nearest",
    distance: str = "logit",
    estimand: str = "ATT",
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
    caliper_scale: str = "logit_sd",
    exact=None,
    seed: int | None = None,
    missing: str = "error",
    bins=None,
) -> MatchDesign:
    """Match comparison units to treated units and return the design (weights, pairs/subclasses, diagnostics).

    method: 'nearest' (greedy k:1 on the distance score), 'mahalanobis' (greedy k:1 on the
    covariates' Mahalanobis distance), 'cem' (coarsened exact matching; `bins`), 'exact'.
    distance: 'logit' or 'probit' (propensity model; its linear predictor is the matching scale)
    or the name of a numeric column of precomputed scores.
    caliper: maximum distance, in SDs of the distance score ('logit_sd') or in its units ('raw').
    exact: column(s) that matched units must share (strata, e.g. ['year', 'la']).
    seed: recorded for reproducibility; the algorithms themselves are deterministic (ties by row order).
    missing: 'error' (default) or 'indicator' (fill with 0 and add a missing-value indicator).
    """
    check_choice(OWNER, "method", method, METHODS)
    if not isinstance(distance, str):
        raise ParameterError(f"The 'distance' parameter of {OWNER} must be 'logit', 'probit' or a column name. Got {distance!r} instead.")
    estimands = ("ATT", "ATC") if method in ("nearest", "mahalanobis") else ("ATT", "ATC", "ATE")
    check_choice(OWNER, "estimand", estimand, estimands)
    check_number(OWNER, "ratio", ratio, low=1, integer=True)
    if not isinstance(replace, bool):
        raise ParameterError(f"The 'replace' parameter of {OWNER} must be True or False. Got {replace!r} instead.")
    check_number(OWNER, "caliper", caliper, low=0, low_open=True, allow_none=True)
    check_choice(OWNER, "caliper_scale", caliper_scale, ("logit_sd", "raw"))
    check_number(OWNER, "seed", seed, low=0, integer=True, allow_none=True)
    exact_cols = check_columns_arg(OWNER, "exact", exact, allow_none=True)
    if method in ("cem", "exact") and (caliper is not None or ratio != 1 or replace):
        raise ParameterError(
            f"The 'caliper', 'ratio' and 'replace' parameters of {OWNER} apply to nearest/mahalanobis only; "
            f"got method={method!r} with caliper={caliper!r}, ratio={ratio!r}, replace={replace!r}"
        )
    if bins is not None and method != "cem":
        raise ParameterError(f"The 'bins' parameter of {OWNER} applies to method='cem' only. Got method={method!r}.")

    d = prepare(data, treatment, covariates, owner=OWNER, missing=missing)
    df = d.frame
    require_columns(df, exact_cols, owner=OWNER, role="exact column")
    require_no_missing(df, exact_cols, owner=OWNER)
    notes = list(d.notes)
    strata = strata_codes(df, exact_cols)

    # distance score (propensity model or a precomputed column)
    propensity = None
    if distance in ("logit", "probit"):
        try:
            propensity = fit_propensity(d.X, d.treated, link=distance, names=d.names)
        except EstimationError:
            if method == "nearest":
                raise
            notes.append("propensity model could not be fitted; overlap() is unavailable")
        if propensity is not None:
            score = propensity.linear_predictor
            notes.append(f"distance: {distance} propensity score; matching scale is its linear predictor")
            if propensity.dropped:
                notes.append(f"collinear covariate column(s) dropped from the propensity model: {propensity.dropped}")
        else:
            score = None
    else:
        require_columns(df, [distance], owner=OWNER, role="distance column")
        require_numeric(df, [distance], owner=OWNER, role="distance column")
        require_no_missing(df, [distance], owner=OWNER)
        score = df.get_column(distance).cast(pl.Float64).to_numpy()
        notes.append(f"distance: precomputed scores in column '{distance}', used as given")

    focal = d.treated if estimand != "ATC" else ~d.treated
    n_focal, n_comp = int(focal.sum()), int((~focal).sum())
    if n_focal == 0 or n_comp == 0:
        raise DataError(f"{OWNER}: need both treated and comparison rows; got {n_focal} focal and {n_comp} comparison")
    pair_table = None
    cal_dropped = np.zeros(d.n, bool)

    if method in ("nearest", "mahalanobis"):
        width = None
        if caliper is not None:
            if method == "mahalanobis":
                width = caliper
                notes.append(f"caliper {caliper:g} applied to the Mahalanobis distance itself")
            elif caliper_scale == "logit_sd":
                width = caliper * float(np.std(score, ddof=1))
                notes.append(f"caliper: {caliper:g} SD of the distance score (all rows) = {width:.6g} on its scale")
            else:
                width = caliper
        if method == "nearest":
            pairs = nearest_pairs(score, focal, strata, ratio=ratio, replace=replace, caliper=width)
            notes.append("greedy matching order: descending distance score, ties by row order; "
                         "equally distant comparison units: first in row order")
        else:
            pairs = mahalanobis_pairs(d.X, focal, strata, ratio=ratio, replace=replace, caliper=width)
            notes.append("Mahalanobis scale: pooled within-group covariance; greedy order: row order; "
                         "equally distant comparison units: first in row order")
        if ratio > 1 and not replace:
            notes.append(f"1:{ratio} without replacement: every focal unit gets its first match before any gets its second")
        weights, subclass, pair_table = _pair_weights(pairs, focal, d.n, replace)
        cal_dropped[pairs.caliper_dropped] = True
        if replace:
            notes.append("with replacement: comparison units used more than once have no single subclass (null in "
                         "matched_data); see pairs()")
    else:
        cells = coarsen(df, d.covariates, exact_cols, bins=bins if method == "cem" else "exact", notes=notes)
        weights, subclass = subclass_weights(cells, d.treated, estimand)
    if not (weights[focal] > 0).any():
        raise EstimationError(f"{OWNER}: no unit could be matched (check the caliper, exact strata or bins)")
    notes.append(f"estimand: {estimand}")
    if seed is not None:
        notes.append(f"seed {seed} recorded; the matching itself is deterministic")
    return MatchDesign(
        data=d,
        method=method,
        estimand=estimand,
        weights=weights,
        subclass=subclass,
        distance=score,
        propensity=propensity,
        strata=strata,
        notes=notes,
        owner=OWNER,
        replace=replace,
        pair_table=pair_table,
        caliper_dropped=cal_dropped,
    )


def _pair_weights(pairs: Pairs, focal: np.ndarray, n: int, replace: bool):
    """MatchIt weights: focal 1 if matched; a comparison unit gets sum over its focal units of 1/k_i,
    rescaled so comparison weights sum to the number of distinct matched comparison units."""
    f, c = pairs.focal, pairs.comparison
    weights = np.zeros(n)
    if f.size == 0:
        return weights, np.full(n, -1, dtype=np.int64), _pair_frame(pairs, np.zeros(0, np.int64))
    k = np.bincount(f, minlength=n)
    weights[f] = 1.0
    np.add.at(weights, c, 1.0 / k[f])
    comp = ~focal & (weights > 0)
    weights[comp] *= comp.sum() / weights[comp].sum()
    uniq_f, pair_id = np.unique(f, return_inverse=True)  # pair ids follow the focal units' row order
    subclass = np.full(n, -1, dtype=np.int64)
    subclass[uniq_f] = np.arange(uniq_f.size)
    if not replace:
        subclass[c] = pair_id
    return weights, subclass, _pair_frame(pairs, pair_id)


def _pair_frame(pairs: Pairs, pair_id: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "subclass": pair_id.astype(np.int64),
            "focal_row": pairs.focal.astype(np.int64),
            "comparison_row": pairs.comparison.astype(np.int64),
            "distance": pairs.distance.astype(np.float64),
        }
    )

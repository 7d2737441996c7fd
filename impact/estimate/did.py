"""Difference-in-differences: the 2x2 design and two-way fixed effects with absorbed fixed effects.

The effect is the coefficient on treatment x post in

    y_it = a_i + g_t + beta * D_i * Post_t + X_it'c + e_it,

with a_i, g_t any number of absorbed fixed-effect dimensions (unit and time by default). Without
fixed effects the model is the 2x2 regression y = b0 + b1 D + b2 Post + beta D*Post + X'c + e, whose
beta equals the difference of the four cell means. Main effects absorbed by the fixed effects are
dropped automatically. Under parallel trends beta is the ATT.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ..errors import DataError, EstimationError, ParameterError
from ..frame import as_polars, require_binary, require_columns, require_no_missing, require_numeric
from ..params import check_choice, check_columns_arg, check_number
from ..results import EffectResult, Term
from ._inputs import (Sample, build_sample, cluster_arg, factorize_columns, require_fixed_within, weights_arg,
                      with_interacted_fixed_effects)
from .absorb import Absorber, varying_groups
from .ols import OLSFit, fit_ols_block
from .wild import wild_bootstrap

INFERENCE = ("cluster", "robust", "wild", "wild_webb")


@dataclass
class DidModel:
    """The fitted DiD regression and what the estimators built on it need: the sample, the kept frame, counts."""

    fit: OLSFit
    sample: Sample
    frame: pl.DataFrame
    treated: np.ndarray  # bool: treated group, on the sample rows
    post: np.ndarray  # bool: post period, on the sample rows
    clusters: list[str]
    info: dict[str, Any]
    notes: list[str]

    @property
    def counts(self) -> dict[str, int | None]:
        """Row counts every DiD term reports."""
        n_treated = int(self.treated.sum())
        return dict(n_obs=self.fit.n_obs, n_treated=n_treated, n_comparison=int(self.treated.size - n_treated),
                    n_clusters=self.info["n_clusters"])


def did(
    data: Any,
    outcome: str,
    treatment: str,
    post: str,
    *,
    unit: str | None = None,
    time: str | None = None,
    fixed_effects: str | list[str] | None = None,
    covariates: str | list[str] | None = None,
    weights: str | np.ndarray | None = None,
    cluster: str | list[str] | None = None,
    inference: str = "cluster",
    bootstrap_reps: int = 999,
    seed: int | None = None,
) -> EffectResult:
    """Estimate the DiD effect of `treatment` x `post` on `outcome` (2x2, or TWFE with absorbed fixed effects).

    treatment: 0/1 treated-group indicator (fixed within `unit` when a unit is given).
    post: 0/1 post-period indicator. fixed_effects: columns to absorb; defaults to [unit, time]
    (those given), or none for the pooled 2x2 regression. weights: column name or array
    aligned to rows (e.g. a matching design's weights). inference: "cluster" (CR1, one or two
    cluster columns; defaults to clustering by unit), "robust" (HC1), "wild" / "wild_webb"
    (wild cluster restricted bootstrap with Rademacher / Webb weights, for few clusters).
    """
    owner = "did"
    check_choice(owner, "inference", inference, INFERENCE)
    check_number(owner, "bootstrap_reps", bootstrap_reps, low=99, integer=True)
    check_number(owner, "seed", seed, integer=True, allow_none=True)
    wild = inference.startswith("wild")
    model = fit_did(
        owner, data, outcome, treatment, post, unit=unit, time=time, fixed_effects=fixed_effects,
        covariates=covariates, weights=weights, cluster=cluster, inference=inference, keep_data=wild,
    )
    fit, info, notes = model.fit, model.info, model.notes
    j = fit.index("att")
    est, se = float(fit.coef[j]), float(fit.std_errors()[j])
    counts = model.counts
    if wild:
        wtype = "webb" if inference == "wild_webb" else "rademacher"
        boot = wild_bootstrap(
            fit.x, fit.y, model.sample.cluster_codes[0], j, weights=fit.weights, reps=bootstrap_reps,
            weight_type=wtype, seed=seed,
        )
        term = Term("att", est, se, boot.statistic, boot.p_value, boot.ci_low, boot.ci_high, df=fit.df, **counts)
        info.update(bootstrap_reps=boot.reps, bootstrap_weights=wtype, bootstrap_enumerated=boot.enumerated)
        notes.append(
            f"wild cluster restricted bootstrap ({wtype}, {boot.reps} draws"
            f"{', full enumeration' if boot.enumerated else f', seed {seed}'}): p-value and interval by test "
            "inversion; std_error is CR1"
        )
    else:
        term = Term.from_estimate("att", est, se, df=fit.df, **counts)
    method = "twfe" if info["fixed_effects"] else "did_2x2"
    return EffectResult(method, [term], info, notes)


def fit_did(
    owner: str,
    data: Any,
    outcome: str,
    treatment: str,
    post: str,
    *,
    unit: str | None,
    time: str | None,
    fixed_effects: str | list[str] | None,
    covariates: str | list[str] | None,
    weights: str | np.ndarray | None,
    cluster: str | list[str] | None,
    inference: str,
    keep_data: bool = False,
) -> DidModel:
    """Check the inputs and fit the DiD regression of did() (`inference` already validated by the caller).

    Shared by did() and the estimators built on its model (threshold_did), so both fit exactly the
    same regression on the same sample and fail with the same messages (named after `owner`).
    """
    df = as_polars(data, owner=owner)
    fes = check_columns_arg(owner, "fixed_effects", fixed_effects, allow_none=True)
    covs = check_columns_arg(owner, "covariates", covariates, allow_none=True)
    clusters = cluster_arg(owner, cluster)
    notes: list[str] = []
    if not fes and fixed_effects is None:
        fes = [c for c in (unit, time) if c is not None]
        if fes:
            notes.append(f"fixed effects absorbed: {', '.join(fes)} (default from unit/time)")
    if inference != "robust" and not clusters:
        if unit is None:
            raise ParameterError(
                f"The 'cluster' parameter of {owner} must name a column when inference={inference!r} and no unit "
                "is given. Got None instead; pass cluster='la' (say) or inference='robust'."
            )
        clusters = [unit]
        notes.append(f"standard errors clustered by unit '{unit}' (default)")
    if inference.startswith("wild") and len(clusters) != 1:
        raise ParameterError(
            f"The 'cluster' parameter of {owner} must name one column for inference={inference!r}. "
            f"Got {clusters!r} instead."
        )
    df = with_interacted_fixed_effects(df, fes, owner=owner)
    used = [outcome, treatment, post, *covs, *fes, *clusters, *(c for c in (unit, time) if c)]
    used = list(dict.fromkeys(used))
    require_columns(df, used, owner=owner)
    require_no_missing(df, used, owner=owner)
    require_numeric(df, [outcome, *covs], owner=owner)
    require_binary(df, treatment, owner=owner, role="treatment")
    require_binary(df, post, owner=owner, role="post")
    d = df.get_column(treatment).cast(pl.Float64).to_numpy()
    p = df.get_column(post).cast(pl.Float64).to_numpy()
    if not ((d == 1) & (p == 0)).any():
        raise DataError(
            f"{owner}: the treated group ('{treatment}' = 1) is never observed before treatment ('{post}' = 0): "
            f"0 of {int((d == 1).sum())} treated rows are pre-period; the design needs pre-period data for it"
        )
    weight_name, w = weights_arg(owner, df, weights)
    codes = factorize_columns(df, fes + clusters + ([unit] if unit else []))
    if unit is not None:
        require_fixed_within(
            df, treatment, unit, codes[unit], owner=owner,
            why="the DiD design needs a fixed treated group per unit: code treatment as 'ever in the treated group' "
            "and carry the timing in 'post'",
        )
        treated_units = int((np.bincount(codes[unit], weights=d) > 0).sum())
        n_units = int(codes[unit].max()) + 1
    # Main effects constant within a fixed-effect dimension are absorbed: leave them out of the regression.
    mains = [(nm, v) for nm, v in ((treatment, d), (post, p)) if not any(varying_groups(v, codes[f]) == 0 for f in fes)]
    absorbed = [nm for nm in (treatment, post) if nm not in dict(mains)]
    sample = build_sample(df, fes, clusters, w, codes)
    del codes  # the sample holds the (possibly re-coded) arrays it needs
    notes.extend(sample.notes)
    names = ["att", *(["(intercept)"] if not fes else []), *(nm for nm, _ in mains), *covs]
    block = np.empty((sample.n, 1 + len(names)), order="F")
    block[:, 0] = sample.take(df.get_column(outcome).cast(pl.Float64).to_numpy())
    np.multiply(sample.take(d), sample.take(p), out=block[:, 1])
    if not fes:
        block[:, 2] = 1.0
    for col, (_, v) in enumerate(mains, start=3 if not fes else 2):
        block[:, col] = sample.take(v)
    for col, c in enumerate(covs, start=block.shape[1] - len(covs)):  # one column at a time: no extra copies
        block[:, col] = sample.take(df.get_column(c).cast(pl.Float64).to_numpy())
    treated_rows, post_rows = sample.take(d) == 1, sample.take(p) == 1
    del d, p, mains
    absorber = Absorber.build(sample.fe_codes, sample.weights) if fes else None
    fit = fit_ols_block(
        block, names, weights=sample.weights, fe=absorber, cluster=sample.cluster_codes,
        vcov="robust" if inference == "robust" else "cluster", keep_data=keep_data,
    )
    if "att" in fit.dropped:
        raise EstimationError(
            f"{owner}: '{treatment}' x '{post}' is collinear with the fixed effects ({', '.join(fes)}); "
            "no variation is left to estimate the effect"
        )
    absorbed += [nm for nm in fit.dropped if nm != "att"]
    if absorbed:
        notes.append(f"absorbed by the fixed effects or collinear, not estimated: {', '.join(absorbed)}")
    n_clusters = min(fit.n_clusters) if fit.n_clusters else None
    info: dict[str, Any] = {
        "n_obs": fit.n_obs,
        "n_clusters": n_clusters,
        "effective_clusters": sample.effective_clusters,
        "df": fit.df,
        "k": fit.k,
        "inference": inference,
        "cluster": clusters or None,
        "fixed_effects": fes or None,
        "fe_levels": fit.fe_dof,
        "fe_dof_rule": "nonnested",
        "absorb_method": fit.absorb_method,
        "dropped_singletons": sample.n_singletons,
        "dropped_zero_weight": sample.n_zero_weight,
        "weights": weight_name,
        "covariates": {c: float(fit.coef[fit.index(c)]) for c in covs if c in fit.names},
    }
    if unit is not None:
        info["n_treated_units"] = treated_units
        info["n_comparison_units"] = n_units - treated_units
    return DidModel(fit, sample, df, treated_rows, post_rows, clusters, info, notes)

"""att_gt against moderndid (a Python port of R's `did`/`DRDID`) on its public mpdta data."""
from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest

from impact.estimate import att_gt

pytestmark = pytest.mark.peers
md = pytest.importorskip("moderndid")

PEER_CONTROL = {"never_treated": "nevertreated", "not_yet_treated": "notyettreated"}


@pytest.fixture(scope="module")
def mpdta() -> pl.DataFrame:
    return md.load_mpdta()


def _peer(data, *, method, control="never_treated", base_period="varying", covariates=None, panel=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return md.att_gt(
            data, yname="lemp", tname="year", idname="countyreal", gname="first.treat",
            xformla="~lpop" if covariates else None, est_method=method, control_group=PEER_CONTROL[control],
            base_period=base_period, panel=panel, boot=False,
        )


@pytest.mark.parametrize("control", ["never_treated", "not_yet_treated"])
@pytest.mark.parametrize("base_period", ["varying", "universal"])
@pytest.mark.parametrize("method,covariates", [("reg", None), ("reg", "lpop"), ("ipw", "lpop"), ("dr", None)])
def test_group_time_atts_and_ses_equal_peer(mpdta, control, base_period, method, covariates):
    # dr only without covariates: the peer's att_gt uses the traditional DR, ours the improved one
    # (checked cell by cell against the peer's drdid_imp_panel below); without covariates they coincide.
    ours = att_gt(mpdta, "lemp", "countyreal", "year", "first.treat", method=method, control=control,
                  base_period=base_period, covariates=covariates, bootstrap_reps=0)
    peer = _peer(mpdta, method=method, control=control, base_period=base_period, covariates=covariates)
    theirs = {(int(g), int(t)): (a, s) for g, t, a, s in zip(peer.groups, peer.times, peer.att_gt, peer.se_gt)}
    reported = 0
    for t in ours.terms:
        a, s = theirs.pop((t.extra["group"], t.extra["time"]))
        assert t.estimate == pytest.approx(a, rel=1e-8, abs=1e-12)
        assert t.std_error == pytest.approx(s, rel=1e-8)
        reported += 1
    # The peer also reports the universal base period's reference cells as 0 without an SE.
    assert all(a == 0 and np.isnan(s) for a, s in theirs.values())
    assert reported == 12


@pytest.mark.parametrize("kind", ["simple", "dynamic", "group", "calendar"])
def test_aggregations_equal_peer(mpdta, kind):
    ours = att_gt(mpdta, "lemp", "countyreal", "year", "first.treat", method="reg", covariates="lpop",
                  control="not_yet_treated", bootstrap_reps=0).aggregate(kind)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = md.aggte(_peer(mpdta, method="reg", control="not_yet_treated", covariates="lpop"), type=kind, boot=False)
    assert ours.terms[-1].estimate == pytest.approx(peer.overall_att, rel=1e-8)
    assert ours.terms[-1].std_error == pytest.approx(peer.overall_se, rel=1e-8)
    if kind != "simple":
        np.testing.assert_allclose([t.estimate for t in ours.terms[:-1]], peer.att_by_event, rtol=1e-8)
        np.testing.assert_allclose([t.std_error for t in ours.terms[:-1]], peer.se_by_event, rtol=1e-8)


@pytest.mark.parametrize("method", ["reg", "ipw"])
def test_repeated_cross_section_atts_equal_peer(mpdta, method):
    ours = att_gt(mpdta, "lemp", "countyreal", "year", "first.treat", method=method, covariates="lpop",
                  panel=False, bootstrap_reps=0)
    peer = _peer(mpdta, method=method, covariates="lpop", panel=False)
    np.testing.assert_allclose([t.estimate for t in ours.terms], peer.att_gt, rtol=1e-8)


@pytest.mark.parametrize(
    "method,peer_fn",
    [("reg", "reg_did_rc"), ("ipw", "std_ipw_did_rc"), ("dr", "drdid_imp_local_rc")],
)
def test_repeated_cross_section_cell_equals_peer_two_period_estimator(mpdta, method, peer_fn):
    # Checked against the peer's two-period estimators: its att_gt(panel=False) scales the SEs with
    # the number of units rather than of observations (moderndid 0.2.0), so it is not a reference.
    ours = att_gt(mpdta, "lemp", "countyreal", "year", "first.treat", method=method, covariates="lpop",
                  panel=False, bootstrap_reps=0)
    cell = mpdta.filter(pl.col("year").is_in([2005, 2006]) & pl.col("first.treat").is_in([0, 2006]))
    x = np.column_stack([np.ones(cell.height), cell["lpop"].to_numpy()])
    ref = getattr(md, peer_fn)(cell["lemp"].to_numpy(), (cell["year"] == 2006).cast(float).to_numpy(),
                               (cell["first.treat"] == 2006).cast(float).to_numpy(), x)
    tol = 1e-8 if method != "dr" else 1e-6  # the peer's tilting optimiser stops at ~1e-7 relative
    assert ours.term("ATT(2006,2006)").estimate == pytest.approx(ref.att, rel=tol)
    assert ours.term("ATT(2006,2006)").std_error == pytest.approx(ref.se, rel=tol)


def test_improved_dr_panel_cell_equals_peer(mpdta):
    ours = att_gt(mpdta, "lemp", "countyreal", "year", "first.treat", method="dr", covariates="lpop",
                  bootstrap_reps=0)
    wide = mpdta.pivot(on="year", index=["countyreal", "first.treat", "lpop"], values="lemp", sort_columns=True)
    keep = wide["first.treat"].is_in([0, 2004]).to_numpy()
    x = np.column_stack([np.ones(keep.sum()), wide["lpop"].to_numpy()[keep]])
    for t in (2004, 2006):
        ref = md.drdid_imp_panel(wide[str(t)].to_numpy()[keep], wide["2003"].to_numpy()[keep],
                                 (wide["first.treat"] == 2004).cast(float).to_numpy()[keep], x)
        assert ours.term(f"ATT(2004,{t})").estimate == pytest.approx(ref.att, rel=1e-6)
        assert ours.term(f"ATT(2004,{t})").std_error == pytest.approx(ref.se, rel=1e-6)

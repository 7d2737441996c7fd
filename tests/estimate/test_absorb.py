"""Fixed-effect factorisation, singleton dropping and demeaning against a dummy-variable projection."""
import numpy as np
import polars as pl
import pytest

from impact.estimate import absorb
from impact.estimate.absorb import Absorber, factorize, singleton_mask


def test_factorize_dense_codes_for_ints_and_strings():
    codes, g = factorize(pl.Series([10, 30, 10, 20]))
    assert g == 3 and codes.tolist() == [0, 2, 0, 1]
    codes, g = factorize(pl.Series(["b", "a", "b", "c"]))
    assert g == 3 and codes.tolist() == [1, 0, 1, 2]
    codes, g = factorize(pl.Series([10**12, 5, 10**12]))  # wide range: rank path
    assert g == 2 and codes.tolist() == [1, 0, 1]


def test_singletons_dropped_iteratively():
    # unit 2 has one row -> dropped; that leaves time 2 with one row (unit 1) -> dropped next pass.
    unit = np.array([0, 0, 1, 1, 1, 2])
    time = np.array([0, 1, 0, 1, 2, 2])
    keep = singleton_mask([unit, time])
    assert keep.tolist() == [True, True, True, True, False, False]


def _dummy_residuals(v, codes, w):
    d = np.column_stack([np.eye(int(c.max()) + 1)[c] for c in codes])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(d * sw[:, None], v * sw[:, None], rcond=None)[0]
    return v - d @ beta


@pytest.mark.parametrize("n_dims", [1, 2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_demean_equals_projection_on_dummies(n_dims, weighted):
    rng = np.random.default_rng(n_dims)
    n = 600
    codes = [rng.integers(0, g, n) for g in (60, 7, 5)[:n_dims]]
    codes = [factorize(c)[0] for c in codes]
    w = rng.uniform(0.2, 3, n) if weighted else None
    v = rng.normal(size=(n, 3))
    expected = _dummy_residuals(v, codes, w if weighted else np.ones(n))
    got = Absorber.build(codes, w).demean(np.asfortranarray(v.copy()))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


def test_sparse_crosstab_path_agrees_with_dense(monkeypatch):
    rng = np.random.default_rng(6)
    n = 500
    codes = [factorize(rng.integers(0, g, n))[0] for g in (90, 8, 6)]
    w = rng.uniform(0.5, 2, n)
    v = rng.normal(size=(n, 2))
    dense = Absorber.build(codes, w).demean(v.copy(order="F"))
    monkeypatch.setattr(absorb, "DENSE_CROSSTAB_FACTOR", 0)
    sparse = Absorber.build(codes, w).demean(v.copy(order="F"))
    np.testing.assert_allclose(sparse, dense, rtol=0, atol=1e-11)


def test_alternating_projections_fallback_agrees_with_exact(monkeypatch):
    rng = np.random.default_rng(5)
    n = 800
    codes = [factorize(rng.integers(0, g, n))[0] for g in (80, 12, 9)]
    v = rng.normal(size=(n, 2))
    exact = Absorber.build(codes)
    monkeypatch.setattr(absorb, "MAX_EXACT_LEVELS", 5)
    alt = Absorber.build(codes)
    assert exact.method == "exact" and alt.method == "alternating projections"
    np.testing.assert_allclose(alt.demean(v.copy(order="F")), exact.demean(v.copy(order="F")), atol=1e-9)


def test_dof_counts_redundant_levels():
    # Two crossed dimensions, connected: levels 10 + 4 minus one redundancy.
    rng = np.random.default_rng(1)
    codes = [factorize(rng.integers(0, 10, 200))[0], factorize(rng.integers(0, 4, 200))[0]]
    assert Absorber.build(codes).dof == 13

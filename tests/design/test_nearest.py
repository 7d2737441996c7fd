"""Greedy nearest-neighbour matching on a scalar score equals a brute-force search following the documented rules."""
from __future__ import annotations

import numpy as np
import pytest

from impact.design.nearest import nearest_pairs


def brute_force(score, focal, strata, ratio, replace, caliper):
    """Direct transcription of the rules: focal units by descending score then row; nearest available
    comparison in the stratum, ties to the lowest row; k rounds without replacement."""
    rows = np.arange(score.size)
    order = rows[focal][np.lexsort((rows[focal], -score[focal]))]
    cal = np.inf if caliper is None else caliper
    avail = ~focal
    pairs, dropped = [], []
    if replace:
        for i in order:
            cand = rows[~focal & (strata == strata[i])]
            d = np.abs(score[cand] - score[i])
            for r, j in enumerate(np.lexsort((cand, d))[:ratio]):
                if d[j] > cal:
                    dropped += [i] if r == 0 else []
                    break
                pairs.append((i, cand[j]))
        return sorted(pairs), sorted(dropped)
    active = list(order)
    for rnd in range(ratio):
        still = []
        for i in active:
            cand = rows[avail & (strata == strata[i])]
            if cand.size == 0:
                continue
            d = np.abs(score[cand] - score[i])
            j = np.lexsort((cand, d))[0]
            if d[j] > cal:
                dropped += [i] if rnd == 0 else []
                continue
            avail[cand[j]] = False
            pairs.append((i, cand[j]))
            still.append(i)
        active = still
    return sorted(pairs), sorted(dropped)


@pytest.mark.parametrize("seed", range(60))
def test_equals_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 80))
    # even seeds: heavily tied integer scores, odd seeds: continuous scores
    score = rng.integers(0, 6, n).astype(float) if seed % 2 == 0 else rng.normal(size=n)
    focal = rng.random(n) < rng.uniform(0.2, 0.6)
    focal[0], focal[-1] = True, False
    strata = rng.integers(0, int(rng.integers(1, 4)), n)
    ratio = int(rng.integers(1, 4))
    replace = bool(seed % 3 == 0)
    caliper = None if seed % 4 < 2 else float(rng.uniform(0.05, 1.5))
    got = nearest_pairs(score, focal, strata, ratio=ratio, replace=replace, caliper=caliper)
    exp_pairs, exp_dropped = brute_force(score, focal, strata, ratio, replace, caliper)
    assert sorted(zip(got.focal.tolist(), got.comparison.tolist())) == [(int(a), int(b)) for a, b in exp_pairs]
    assert got.caliper_dropped.tolist() == exp_dropped
    np.testing.assert_array_equal(got.distance, np.abs(score[got.focal] - score[got.comparison]))


def test_hand_worked_example():
    # rows:      0    1    2    3    4    5
    score = np.array([0.9, 0.5, 0.85, 0.45, 0.55, 0.1])
    focal = np.array([True, True, False, False, False, False])
    # order: row 0 (0.9) takes row 2 (0.85); row 1 (0.5) has rows 3 (0.45) and 4 (0.55) at equal
    # distance 0.05 up to rounding: |0.5-0.45| and |0.55-0.5| differ in floating point, so compute.
    got = nearest_pairs(score, focal, np.zeros(6, int))
    d3, d4 = abs(0.5 - 0.45), abs(0.55 - 0.5)
    expected_1 = 3 if (d3 < d4 or (d3 == d4)) else 4
    assert list(zip(got.focal, got.comparison)) == [(0, 2), (1, expected_1)]
    # exact tie: integer scores, equal distance on both sides -> lower row wins
    s = np.array([2.0, 3.0, 1.0, 1.0])
    f = np.array([True, False, False, False])
    got = nearest_pairs(s, f, np.zeros(4, int))
    assert list(zip(got.focal, got.comparison)) == [(0, 1)]
    # caliper: nearest at distance 1 > 0.5 -> dropped
    got = nearest_pairs(s, f, np.zeros(4, int), caliper=0.5)
    assert got.focal.size == 0 and got.caliper_dropped.tolist() == [0]

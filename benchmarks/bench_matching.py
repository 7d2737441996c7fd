"""National-scale matching benchmark: 1:1 nearest neighbour with a caliper within year x LA strata.

800,000 treated and 1.7 million comparison rows, ~20 covariates. Times the propensity model,
the matching and the balance table of `impact.design.match`, then the same nearest-neighbour
search with scikit-learn's NearestNeighbors (1-NN on the linear predictor per stratum, with
replacement: scikit-learn has no greedy without-replacement matcher). Peak RSS via
resource.getrusage. Run: python benchmarks/bench_matching.py [n_treated n_comparison]
"""
from __future__ import annotations

import os
import platform
import resource
import sys
import time

import numpy as np
import polars as pl


def make_data(n_t: int, n_c: int, p: int = 20, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_t + n_c
    X = rng.normal(size=(n, p)).astype(np.float64)
    X[:, 15:] = (X[:, 15:] > 0.5).astype(np.float64)  # a few binary covariates
    t = np.zeros(n, np.int8)
    lin = X[:, :5] @ np.array([0.4, -0.3, 0.2, 0.1, -0.2])
    t[np.argsort(-(lin + rng.logistic(size=n)))[:n_t]] = 1
    cols = {f"x{j}": X[:, j] for j in range(p)}
    return pl.DataFrame({"t": t, **cols, "year": rng.integers(2017, 2024, n), "la": rng.integers(0, 150, n)})


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    n_t = int(sys.argv[1]) if len(sys.argv) > 1 else 800_000
    n_c = int(sys.argv[2]) if len(sys.argv) > 2 else 1_700_000
    df = make_data(n_t, n_c)
    covs = [c for c in df.columns if c.startswith("x")]
    base_rss = peak_rss_mb()
    from impact.design import match
    from impact.design._prepare import strata_codes

    t0 = time.perf_counter()
    d = match(df, "t", covs, caliper=0.2, exact=["year", "la"])
    t1 = time.perf_counter()
    bal = d.balance()
    t2 = time.perf_counter()
    rss_impact = peak_rss_mb()
    summ = d.summary().filter(pl.col("stratum") == "all")

    from sklearn.neighbors import NearestNeighbors

    score = d.distance
    strata = strata_codes(df, ["year", "la"])
    treated = df["t"].to_numpy() == 1
    t3 = time.perf_counter()
    matched = 0
    for s in np.unique(strata):
        m = strata == s
        c = score[m & ~treated][:, None]
        f = score[m & treated][:, None]
        if c.size and f.size:
            dist, _ = NearestNeighbors(n_neighbors=1).fit(c).kneighbors(f)
            matched += int((dist[:, 0] <= 0.2 * score.std(ddof=1)).sum())
    t4 = time.perf_counter()
    rss_all = peak_rss_mb()

    print(f"machine: {platform.machine()} {platform.processor() or ''} cores={os.cpu_count()} python={platform.python_version()}")
    print(f"rows: {n_t:,} treated + {n_c:,} comparison, {len(covs)} covariates, {np.unique(strata).size} exact strata")
    print(f"{'step':<52}{'seconds':>10}")
    print(f"{'impact match (propensity + greedy 1:1 w/o repl.)':<52}{t1 - t0:>10.2f}")
    print(f"{'impact balance table (before/after, 20 covariates)':<52}{t2 - t1:>10.2f}")
    print(f"{'impact total':<52}{t2 - t0:>10.2f}")
    print(f"{'sklearn NearestNeighbors 1-NN per stratum (w/ repl.)':<52}{t4 - t3:>10.2f}")
    print(f"ratio sklearn search / impact match+balance: {(t4 - t3) / (t2 - t0):.2f}")
    print(f"peak RSS: data only {base_rss:,.0f} MB; after impact {rss_impact:,.0f} MB; after sklearn {rss_all:,.0f} MB")
    print(f"matched treated (impact, w/o replacement): {int(summ.filter(pl.col('group') == 'treated')['n_matched'][0]):,}; "
          f"sklearn within caliper (with replacement): {matched:,}; balance rows: {bal.height}")


if __name__ == "__main__":
    main()

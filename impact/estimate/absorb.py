"""Absorbed fixed effects: dense factor codes, iterative singleton dropping, and exact demeaning.

Demeaning (the within transformation) partials every fixed-effect dimension out of a block of
columns at once, weighted if weights are given. With one dimension it is a group-mean
subtraction. With several, the largest dimension (e.g. pupils) is swept out by group means and
the remaining small dimensions (e.g. years, LAs) are projected out exactly through their
Schur complement  M = D2'W D2 - C' diag(1/n1) C  (C the weighted cross-tabulation of the large
dimension against the small ones), a K2 x K2 system with K2 the number of small-dimension
levels. This is exact on any unbalanced panel and touches each row a fixed number of times.
When the small dimensions have too many levels for a dense K2 x K2 system, the alternating
projections method (Gaure 2013) is used instead, with a convergence tolerance.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import sparse

#: Largest K2 (levels of all but the largest dimension) solved exactly by the Schur complement.
MAX_EXACT_LEVELS = 3000
#: Alternating projections stop when no column changes by more than this (relative to its scale).
MAP_TOL = 1e-12
#: The G1 x K2 cross-tabulation is held densely when it has at most this many entries per row of data.
DENSE_CROSSTAB_FACTOR = 3
MAP_MAXITER = 10_000


def factorize(values: pl.Series | np.ndarray) -> tuple[np.ndarray, int]:
    """Dense int64 codes 0..G-1 for the distinct values of a column, and G.

    Integer columns whose range is at most a few times their length are coded in O(n) with a
    presence table; anything else (strings, sparse ids) goes through a polars dense rank. When
    the rows are grouped by the column (each value in one run, e.g. a panel sorted by pupil),
    codes follow the order of the runs, so that group sums and gathers walk memory in order —
    several times faster than random access on tens of millions of rows.
    """
    s = values if isinstance(values, pl.Series) else pl.Series(values)
    if s.len() == 0:
        return np.zeros(0, dtype=np.int64), 0
    codes, n_levels = _value_codes(s)
    starts = np.empty(codes.size, dtype=bool)
    starts[0] = True
    np.not_equal(codes[1:], codes[:-1], out=starts[1:])
    if int(np.count_nonzero(starts)) == n_levels:
        codes = np.cumsum(starts, dtype=np.int64) - 1
    return codes, n_levels


def _value_codes(s: pl.Series) -> tuple[np.ndarray, int]:
    if s.dtype.is_integer():
        a = s.to_numpy()
        lo, hi = int(a.min()), int(a.max())
        if hi - lo <= 4 * a.size + 1024:
            shifted = a - lo
            present = np.zeros(hi - lo + 1, dtype=np.int64)
            present[shifted] = 1
            lookup = np.cumsum(present) - 1
            return np.take(lookup, shifted), int(lookup[-1]) + 1
    codes = s.rank("dense").to_numpy().astype(np.int64) - 1
    return codes, int(codes.max()) + 1


def recode(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """Compact codes after rows were dropped so that they are dense again."""
    present = np.bincount(codes) > 0
    lookup = np.cumsum(present) - 1
    return np.take(lookup, codes), int(present.sum())


def singleton_mask(codes: list[np.ndarray]) -> np.ndarray:
    """Rows to keep after dropping singleton groups in any dimension, repeated until none remain.

    Dropping a singleton of one dimension can create a singleton in another, so the pass is
    iterated to a fixed point (as fixest does). Singleton rows are perfectly fitted by their
    fixed effect and carry no information about the slopes, but would shrink standard errors.
    """
    n = codes[0].size if codes else 0
    keep = np.ones(n, dtype=bool)
    while True:
        drop = np.zeros(n, dtype=bool)
        for c in codes:
            counts = np.bincount(c[keep], minlength=int(c.max()) + 1)
            drop |= keep & (np.take(counts, c) == 1)
        if not drop.any():
            return keep
        keep &= ~drop


def varying_groups(values: np.ndarray, codes: np.ndarray) -> int:
    """Number of groups in which `values` is not constant (O(n): compare each row with one row of its group)."""
    owner = np.empty(int(codes.max()) + 1 if codes.size else 0, dtype=values.dtype)
    owner[codes] = values
    differs = np.take(owner, codes) != values
    if not differs.any():
        return 0
    return int(np.count_nonzero(np.bincount(codes, weights=differs)))


@dataclass
class Absorber:
    """The fixed-effect structure of one sample: codes per dimension, weights and the solver state.

    Build once with `Absorber.build(codes, weights)`, then `demean(block)` any number of times.
    `dof` is the number of fixed-effect parameters identified (levels minus redundancies),
    computed exactly from the rank of the Schur complement on the exact path.
    """

    codes: list[np.ndarray]
    levels: list[int]
    weights: np.ndarray | None
    method: str = "exact"
    dof: int = 0
    iterations: int = 0
    _order: list[int] = field(default_factory=list)
    _n1: np.ndarray | None = None
    _offsets: list[int] = field(default_factory=list)
    _mpinv: np.ndarray | None = None
    _counts: list[np.ndarray] = field(default_factory=list)

    @classmethod
    def build(cls, codes: list[np.ndarray], weights: np.ndarray | None = None) -> Absorber:
        levels = [int(c.max()) + 1 for c in codes]
        order = sorted(range(len(codes)), key=lambda j: -levels[j])
        self = cls(codes=codes, levels=levels, weights=weights, _order=order)
        self._counts = [_wcount(c, g, weights) for c, g in zip(codes, levels)]
        big = order[0]
        self._n1 = self._counts[big]
        small = order[1:]
        k2 = sum(levels[j] for j in small)
        if not small:
            self.method, self.dof = "exact", levels[big]
        elif k2 <= MAX_EXACT_LEVELS:
            self.method = "exact"
            self._offsets = list(np.cumsum([0] + [levels[j] for j in small])[:-1])
            m = self._schur(small, k2)
            evals, evecs = np.linalg.eigh(m)
            tol = max(evals.max(), 0.0) * k2 * 1e-12
            keep = evals > tol
            self._mpinv = (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
            self.dof = levels[big] + int(keep.sum())
        else:
            self.method = "alternating projections"
            self.dof = sum(levels) - (len(levels) - 1)
        return self

    def _schur(self, small: list[int], k2: int) -> np.ndarray:
        """M = D2'W D2 - C' diag(1/n1) C for the small dimensions (K2 x K2, dense).

        C (G1 x K2 weighted cross-tabulation) is built densely with one bincount when it is no
        bigger than a few columns of data, else as a sparse matrix.
        """
        big = self._order[0]
        g1, w, g1_levels = self.codes[big], self.weights, self.levels[big]
        m = np.zeros((k2, k2))
        for i, j in enumerate(small):
            lo_i, gi = self._offsets[i], self.levels[j]
            for i2, j2 in enumerate(small[i:], start=i):
                lo_k, gk = self._offsets[i2], self.levels[j2]
                key = self.codes[j] * gk + self.codes[j2]
                block = np.bincount(key, weights=w, minlength=gi * gk).reshape(gi, gk)
                m[lo_i : lo_i + gi, lo_k : lo_k + gk] = block
                m[lo_k : lo_k + gk, lo_i : lo_i + gi] = block.T
        if g1_levels * k2 <= DENSE_CROSSTAB_FACTOR * g1.size:
            c = None
            for i, j in enumerate(small):
                key = g1 * k2
                key += self.codes[j] + self._offsets[i]
                part = np.bincount(key, weights=w, minlength=g1_levels * k2)
                c = part if c is None else np.add(c, part, out=c)
                del key, part
            c = c.reshape(g1_levels, k2)
            for lo in range(0, g1_levels, 1 << 18):
                chunk = c[lo : lo + (1 << 18)]
                m -= chunk.T @ (chunk / self._n1[lo : lo + (1 << 18), None])
            return m
        cs = sparse.hstack([_crosstab(g1, g1_levels, self.codes[j], self.levels[j], w) for j in small]).tocsr()
        return m - (cs.T @ sparse.diags(1.0 / self._n1) @ cs).toarray()

    def demean(self, block: np.ndarray) -> np.ndarray:
        """Partial all fixed effects out of the columns of `block` (n x p float64), in place."""
        if block.ndim == 1:
            return self.demean(block[:, None])[:, 0]
        scratch = np.empty(block.shape[0])  # one reusable n-vector: no fresh pages per column
        if self.method == "alternating projections":
            return self._alternate(block, scratch)
        big, w = self._order[0], self.weights
        for k in range(block.shape[1]):
            _sweep(block[:, k], self.codes[big], self._n1, w, scratch)
        small = self._order[1:]
        if not small:
            return block
        rhs = np.empty((self._mpinv.shape[0], block.shape[1]))
        for i, j in enumerate(small):
            lo = self._offsets[i]
            for k in range(block.shape[1]):
                v = block[:, k] if w is None else np.multiply(block[:, k], w, out=scratch)
                rhs[lo : lo + self.levels[j], k] = np.bincount(self.codes[j], weights=v, minlength=self.levels[j])
        coef = self._mpinv @ rhs
        fitted = np.empty(block.shape[0])
        for k in range(block.shape[1]):
            for i, j in enumerate(small):
                lo = self._offsets[i]
                part = np.take(coef[lo : lo + self.levels[j], k], self.codes[j], out=scratch)
                if i == 0:
                    fitted[:] = part
                else:
                    fitted += part
            _sweep(fitted, self.codes[big], self._n1, w, scratch)
            block[:, k] -= fitted
        return block

    def _alternate(self, block: np.ndarray, scratch: np.ndarray) -> np.ndarray:
        """Alternating projections, column by column, until the largest update is below MAP_TOL."""
        w = self.weights
        for k in range(block.shape[1]):
            v = block[:, k]
            scale = max(float(np.abs(v).max()), 1.0)
            for it in range(1, MAP_MAXITER + 1):
                change = 0.0
                for j in self._order:
                    change = max(change, _sweep(v, self.codes[j], self._counts[j], w, scratch))
                if change <= MAP_TOL * scale:
                    break
            self.iterations = max(self.iterations, it)
        return block


def _crosstab(a: np.ndarray, ga: int, b: np.ndarray, gb: int, w: np.ndarray | None) -> sparse.csr_matrix:
    """Weighted counts of (a, b) pairs as a sparse ga x gb matrix."""
    vals = np.ones(a.size) if w is None else w
    return sparse.csr_matrix((vals, (a, b)), shape=(ga, gb))


def _wcount(codes: np.ndarray, levels: int, weights: np.ndarray | None) -> np.ndarray:
    return np.bincount(codes, weights=weights, minlength=levels).astype(np.float64)


def _sweep(
    v: np.ndarray, codes: np.ndarray, counts: np.ndarray, weights: np.ndarray | None, scratch: np.ndarray
) -> float:
    """Subtract weighted group means from v in place (scratch: an n-vector to reuse); return the largest mean."""
    sums = np.bincount(codes, weights=v if weights is None else np.multiply(v, weights, out=scratch),
                       minlength=counts.size)
    means = sums / counts
    v -= np.take(means, codes, out=scratch)
    return float(np.abs(means).max()) if means.size else 0.0

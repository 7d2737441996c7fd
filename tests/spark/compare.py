"""Row-for-row comparison of a DuckDB and a Spark output table."""
from __future__ import annotations

import polars as pl
from polars.testing import assert_frame_equal


def assert_same_rows(duck: pl.DataFrame, spark: pl.DataFrame, name: str) -> None:
    """Same columns in the same order, the same dtypes, and the same rows after sorting on every column.

    Floats are compared to 1e-12 relative (both engines compute them in IEEE double by the same
    formula; the tolerance only absorbs a different summation order in a parallel SUM).
    """
    assert duck.columns == spark.columns, f"{name}: columns differ"
    assert duck.schema == spark.schema, f"{name}: dtypes differ: {duck.schema} vs {spark.schema}"
    assert duck.height > 0, f"{name}: empty on DuckDB, so the comparison would prove nothing"
    keys = duck.columns
    assert_frame_equal(duck.sort(keys, nulls_last=True), spark.sort(keys, nulls_last=True),
                       check_exact=False, rel_tol=1e-12, abs_tol=0.0)

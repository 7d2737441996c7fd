"""Deterministic parquet writing and the atomic output directory."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP = 1_000_000


def strings(tokens: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """Fixed-width bytes tokens (or str codes) as an Arrow string array, with optional nulls."""
    arr = pa.array(tokens, mask=null) if null is not None else pa.array(tokens)
    return arr.cast(pa.string())


def codes(index: np.ndarray, labels: tuple[str, ...] | list[str], null: np.ndarray | None = None) -> pa.Array:
    """Category indices as an Arrow string array of their labels."""
    lab = np.array([s.encode() for s in labels])
    return strings(lab[index], null)


def dates(d: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """int32 day numbers as an Arrow date32 array."""
    return pa.array(np.asarray(d, dtype=np.int32), type=pa.int32(), mask=null).cast(pa.date32())


def ints(x: np.ndarray, dtype: pa.DataType, null: np.ndarray | None = None) -> pa.Array:
    return pa.array(x, mask=null).cast(dtype)


def constant_string(value: str, n: int) -> pa.Array:
    return strings(np.full(n, value.encode()))


def write(path: Path, columns: dict[str, pa.Array]) -> int:
    """Write one table with fixed settings (zstd, fixed row groups, no timestamps); return rows."""
    table = pa.table(columns)
    pq.write_table(table, path, row_group_size=ROW_GROUP, compression="zstd", compression_level=1,
                   write_statistics=True, store_schema=True)
    return table.num_rows


def write_chunked(path: Path, n_rows: int, build) -> int:
    """Write `build(slice)` (a dict of columns for those rows) in fixed row groups, bounding memory."""
    with Appender(path) as out:
        for start in range(0, max(n_rows, 1), ROW_GROUP):
            out.add(build(slice(start, min(start + ROW_GROUP, n_rows))))
        return out.rows


class Appender:
    """Append tables with one schema to one parquet file (used for the all-years tables).

    With `schema`, every table is cast to it and a file with no rows is still written on close.
    """

    def __init__(self, path: Path, schema: pa.Schema | None = None):
        self.path = path
        self.schema = schema
        self._writer: pq.ParquetWriter | None = None
        self.rows = 0

    def add(self, columns: dict[str, pa.Array]) -> None:
        table = pa.table(columns) if self.schema is None else pa.table(columns).cast(self.schema)
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.path, table.schema, compression="zstd", compression_level=1)
        self._writer.write_table(table, row_group_size=ROW_GROUP)
        self.rows += table.num_rows

    def close(self) -> int:
        if self._writer is None and self.schema is not None:
            self.add({f.name: pa.array([], type=f.type) for f in self.schema})
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        return self.rows

    def __enter__(self) -> "Appender":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

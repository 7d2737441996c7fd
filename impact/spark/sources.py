"""Register NPD-style extracts as Spark temp views in contract names, as impact.data.sources does for DuckDB.

The column planning (suffix stripping, case-insensitive matching, the user mapping, a year
derived from suffixes, which types can be stacked) is impact.data.sources' own, reused as is:
Spark column types are named as DuckDB's for it. Only the projection is written for Spark.
Extracts are parquet files of a directory (found by the contracts' file patterns) or, on a
platform such as Databricks, catalog tables named in a {table: name or [names]} mapping.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..data.contracts import CONTRACTS, TableContract
from ..data.duck_types import NULL_TYPES
from ..data.sources import (TableSource, _FilePlan, _plan_file, _table_source, require_stackable, check_mapping, check_tables,
                            discover)
from ..errors import DataError, ParameterError

_SPARK_NAMES = {"VARCHAR": "string", "TINYINT": "tinyint", "BIGINT": "bigint", "DOUBLE": "double", "DATE": "date"}


def duckdb_type_name(data_type: Any) -> str:
    """The DuckDB name of a Spark column type (what impact.data.sources' planning expects)."""
    name = data_type.simpleString()
    simple = {
        "string": "VARCHAR", "tinyint": "TINYINT", "smallint": "SMALLINT", "int": "INTEGER", "bigint": "BIGINT",
        "float": "FLOAT", "double": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
        "timestamp": "TIMESTAMP WITH TIME ZONE", "timestamp_ntz": "TIMESTAMP",
    }
    if name in simple:
        return simple[name]
    if name.startswith(("varchar", "char")):
        return "VARCHAR"
    return name.upper()  # decimal(p,s) -> DECIMAL(P,S); anything else keeps its name and is reported as found


def spark_type(kind: str) -> str:
    """The Spark type of a contract column kind where the extract lacks it (as DuckDB's NULL columns)."""
    return _SPARK_NAMES[NULL_TYPES[kind]]


def _projection(contract: TableContract, plan: _FilePlan) -> list[Any]:
    from pyspark.sql import functions as F

    columns = []
    for col in contract.columns:
        if col.name in plan.assigned:
            e = F.col(f"`{plan.assigned[col.name]}`")
        elif col.name == contract.year_column and plan.derived_year is not None:
            y = plan.derived_year
            e = F.lit(f"{y - 1}/{y}")
        else:
            e = F.lit(None).cast(spark_type(col.kind))
        columns.append(e.alias(col.name))
    return columns


def _arrow_ddl(schema: pa.Schema) -> str:
    """A parquet file's Arrow schema as a Spark DDL string, so Spark need not infer it (a job per file)."""
    def spark_name(t: pa.DataType) -> str:
        if pa.types.is_decimal(t):
            return f"decimal({t.precision},{t.scale})"
        if pa.types.is_timestamp(t):
            return "timestamp" if t.tz else "timestamp_ntz"
        names = {pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "int", pa.int64(): "bigint",
                 pa.float32(): "float", pa.float64(): "double", pa.bool_(): "boolean", pa.date32(): "date",
                 pa.string(): "string", pa.large_string(): "string"}
        if t not in names:
            raise DataError(f"column type {t} has no Spark equivalent here; write it as a number, string or date")
        return names[t]

    return ", ".join(f"`{f.name}` {spark_name(f.type)}" for f in schema)


def _open(spark: Any, source: Path | str) -> tuple[Any, int | None]:
    """A lazy DataFrame over one parquet file (schema and row count from its footer) or one catalog table."""
    from pyspark.errors import PySparkException

    try:
        if isinstance(source, Path):
            meta = pq.read_metadata(source)
            ddl = _arrow_ddl(meta.schema.to_arrow_schema())
            return spark.read.schema(ddl).parquet(str(source)), meta.num_rows
        return spark.table(source), None
    except (OSError, ValueError, PySparkException) as exc:
        what = "as parquet" if isinstance(source, Path) else "as a table of the session's catalog"
        raise DataError(f"cannot read '{source}' {what} ({type(exc).__name__}); check that it exists and is complete") from None


def register_table(spark: Any, contract: TableContract, sources: Sequence[Path | str],
                   mapping: Mapping[str, str] | None = None) -> TableSource:
    """Create the temp view `contract.name` over `sources` (files or catalog tables, stacked by name).

    Row counts of catalog tables are counted by Spark (a metadata read for Delta tables).
    """
    mapping = mapping or {}
    frames, plans, rows = [], [], 0
    for source in sources:
        df, n = _open(spark, source)
        plan = _plan_file(contract, Path(str(source)), df.columns,
                          [duckdb_type_name(f.dataType) for f in df.schema.fields], mapping)
        frames.append(df.select(*_projection(contract, plan)))
        plans.append(plan)
        rows += df.count() if n is None else n
    if not frames:
        raise DataError(f"no files or tables for {contract.name} (expected {' or '.join(contract.files)})")
    require_stackable(contract, [Path(str(s)) for s in sources], plans, what="files or tables")
    view = frames[0]
    for df in frames[1:]:
        view = view.unionByName(df)
    view.createOrReplaceTempView(contract.name)
    return _table_source(contract, [Path(str(s)) for s in sources], plans, rows, mapping)


def _catalog_sources(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Check a {table: catalog table or [catalog tables]} mapping."""
    out = {}
    for table, names in data.items():
        listed = [names] if isinstance(names, str) else names
        if table not in CONTRACTS or not isinstance(listed, Sequence) or not listed \
                or not all(isinstance(n, str) and n for n in listed):
            raise ParameterError(
                f"The 'data' parameter of register_extracts must map tables among {', '.join(CONTRACTS)} "
                f"to a catalog table name or a list of names. Got {table!r}: {names!r} instead."
            )
        out[table] = list(listed)
    return out


def register_extracts(spark: Any, data: str | Path | Mapping[str, Any], *, mapping: Any = None,
                      tables: str | Sequence[str] | None = None) -> dict[str, TableSource]:
    """Register every table of `data` as a Spark temp view named as its contract.

    `data` is an extract directory of parquet files, or {table: catalog table name or list of
    names} (e.g. {"spring_census": ["npd.spring_census_2022", "npd.spring_census_2023"]}).
    Views have exactly the contract's columns (absent ones as typed NULLs; extra ones dropped);
    `mapping` {table: {extract_column: contract_column}} renames columns before matching.
    """
    names = check_tables(tables, "register_extracts")
    user = check_mapping(mapping)
    if isinstance(data, Mapping):
        found: Mapping[str, Sequence[Path | str]] = _catalog_sources(data)
    elif isinstance(data, (str, Path)):
        found = discover(data)
    else:
        raise ParameterError(
            "The 'data' parameter of register_extracts must be an extract directory or a {table: catalog table} "
            f"mapping. Got {type(data).__name__} instead."
        )
    return {
        name: register_table(spark, CONTRACTS[name], found[name], user.get(name))
        for name in names if found.get(name)
    }


def register_empty(spark: Any, names: Sequence[str]) -> None:
    """Register (or replace) each named contract table as an empty, typed temp view.

    Written as `SELECT typed NULLs WHERE FALSE`, which Spark plans as an empty local relation and
    drops from unions and joins; `createDataFrame([])` would be a Python RDD whose every read starts
    Python workers."""
    for name in names:
        columns = ", ".join(f"CAST(NULL AS {spark_type(c.kind)}) AS `{c.name}`" for c in CONTRACTS[name].columns)
        spark.sql(f"SELECT {columns} WHERE FALSE").createOrReplaceTempView(name)


def register_missing_tables(spark: Any) -> list[str]:
    """Register an empty, typed temp view for every contract table the session lacks; returns their names.

    Optional extracts (autumn/summer census, care leavers, the pilot list) may be absent; the SQL
    then reads them as empty.
    """
    added = [name for name in CONTRACTS if not spark.catalog.tableExists(name)]
    register_empty(spark, added)
    return added

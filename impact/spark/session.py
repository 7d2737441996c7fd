"""The SparkSession the Spark engine runs on: the caller's, the active one, or a local one it stops.

PySpark is an optional extra; every entry point calls `require_pyspark` first so that a machine
without it gets one line saying what to install, never an ImportError traceback.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ..errors import ImpactError, ParameterError

LOCAL_CONF: dict[str, str] = {
    "spark.master": "local[2]",
    "spark.driver.memory": "6g",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "16",
    "spark.driver.maxResultSize": "0",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
}
"""Settings of the local session opened when none is given: 2 cores and a 6 GB driver (the
machine's budget), UTC so that timestamps cast to the same dates as in DuckDB, few shuffle
partitions (adaptive execution coalesces them further), no cap on the rows collected to the driver
(Spark's default 1 GB cap stops the national attendance panel, about 1.2 GB of Arrow batches;
the driver's memory is the real limit) and no web UI."""


def require_pyspark() -> None:
    """ImpactError in one line if pyspark or sqlglot (the Spark extra) is not installed."""
    for module in ("pyspark", "sqlglot"):
        try:
            __import__(module)
        except ImportError:
            raise ImpactError(f"engine 'spark' needs {module}: pip install 'impact[spark]'") from None


def local_session(conf: Mapping[str, str] | None = None) -> Any:
    """A new local SparkSession with `LOCAL_CONF` (overridden by `conf`); the caller stops it. Unless
    PYSPARK_PYTHON says otherwise, its Python workers run this interpreter, not whatever `python3` is
    first on PATH, so that a venv's packages reach them even when the venv is not activated."""
    require_pyspark()
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # read when the SparkContext starts
    builder = SparkSession.builder.appName("impact")
    for key, value in {**LOCAL_CONF, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("FATAL")  # errors reach Python as exceptions; the JVM log would repeat them
    return spark


def is_session(obj: Any) -> bool:
    """Whether `obj` is a SparkSession (False when pyspark is absent)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return False
    return isinstance(obj, SparkSession)


@contextmanager
def open_session(spark: Any = None, owner: str = "impact.spark") -> Iterator[Any]:
    """Yield `spark`, else the active session (e.g. a Databricks notebook's), else a local session
    spilling to a fresh temporary folder; a session opened here is stopped and its folder removed."""
    require_pyspark()
    from pyspark.sql import SparkSession

    if spark is not None:
        if not isinstance(spark, SparkSession):
            raise ParameterError(
                f"The 'spark' parameter of {owner} must be a SparkSession or None (a local session). "
                f"Got {type(spark).__name__} instead."
            )
        yield spark
        return
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    spill = tempfile.mkdtemp(prefix="impact-spark-")
    local = local_session({"spark.local.dir": spill})
    try:
        yield local
    finally:
        local.stop()
        shutil.rmtree(spill, ignore_errors=True)

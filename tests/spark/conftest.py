"""Spark tests: marked `spark`, skipped cleanly where pyspark or Java is missing; one local session."""
from __future__ import annotations

import os
import shutil

import pytest


def _java_available() -> bool:
    home = os.environ.get("JAVA_HOME")
    return shutil.which("java") is not None or bool(home and os.path.exists(os.path.join(home, "bin", "java")))


@pytest.fixture(scope="session")
def spark():
    """One local[2] session for the whole Spark test run, stopped at the end (no JVM left running)."""
    pytest.importorskip("pyspark")
    pytest.importorskip("sqlglot")
    if not _java_available():
        pytest.skip("Java is not installed: the Spark tests need a JVM")
    from impact.spark import local_session

    # tiny tables: one shuffle partition and no whole-stage code generation (compiling code for
    # each of the many small queries costs more than it saves); results do not depend on either
    session = local_session({"spark.sql.shuffle.partitions": "1", "spark.sql.codegen.wholeStage": "false",
                             "spark.driver.memory": "2g"})
    yield session
    session.stop()


@pytest.fixture(scope="session")
def synthetic_extract(tmp_path_factory):
    """A small synthetic NPD extract: 2,000 pupils a year, 2017-2023."""
    from impact.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("npd") / "npd", pupils=2000, seed=11, years=(2017, 2023)).path

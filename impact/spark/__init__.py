"""The Spark engine: the cohort SQL of `queries/` run on Spark (Databricks, other Spark SDEs, local mode).

Optional: needs the `spark` extra (pyspark, sqlglot). Nothing here imports pyspark until called.
See docs/explanation/engines.md and docs/howto/databricks.md.
"""
from .cohorts import (attendance_panel, attrition, build_cohort, cohort_tables, cohort_views, covariates,
                      extracts_session, ks4_cohort, post16_panel)
from .models import build, collect, drop, run_query
from .session import LOCAL_CONF, local_session, open_session, require_pyspark
from .sources import register_extracts, register_missing_tables
from .statistics import did_statistics, event_study_statistics
from .transpile import spark_sql

__all__ = [
    "LOCAL_CONF", "attendance_panel", "attrition", "build", "build_cohort", "cohort_tables", "cohort_views", "collect",
    "covariates", "did_statistics", "drop", "event_study_statistics", "extracts_session", "ks4_cohort",
    "local_session", "open_session", "post16_panel", "register_extracts", "register_missing_tables",
    "require_pyspark", "run_query", "spark_sql",
]

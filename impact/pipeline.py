"""Run a spec end to end; the only module that chains the stages.

spec -> data (synthetic or extracts) -> validation -> cohort panel (DuckDB SQL) -> design
(optional) -> estimators -> disclosure control -> bundle (tables, figures, report, manifest,
disclosure.json, run log), written atomically. `run()` returns the released tables in memory
as well, so research code gets what the CLI writes.

With `engine: spark` and `spark: {collect: statistics}` the panel stays in Spark: the DiD and
event-study estimates come from sums computed there (impact.spark.did_statistics) and only those
sums and the counts of the released tables reach the driver; disclosure and outputs are shared.
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from . import __version__
from .cohorts import build_analysis_tables, connect, post16_panel, register_missing_tables
from .cache import CachedPanel, panel_key
from .cache import load as load_cached
from .cache import store as store_cached
from .data.sources import register_extracts
from .data.validate import check_extracts
from .disclosure import CheckedTable, DisclosureConfig, check_table
from .errors import DataError, SpecError
from .manifest import StageTimer, fingerprint_inputs, peak_rss_mb, software_versions
from .outputs import atomic_directory
from .runlog import attach_file, detach, get_logger
from .spec import Spec, load_spec

Progress = Callable[[str], None]

#: Panel name -> (its cohort table, its time column, the unit column).
PANELS: dict[str, tuple[str, str, str]] = {
    "attendance": ("attendance_panel", "academic_year", "pupil_id"),
    "ks4": ("ks4_cohort", "ks4_year", "pupil_id"),
    "post16": ("post16_panel", "collection_year", "child_key"),
}

#: Threshold outcome -> (the rate it thresholds, the threshold): for `threshold_outcomes: from_rate`.
THRESHOLDS: dict[str, tuple[str, float]] = {
    "persistent_absence": ("overall_absence_rate", 0.10),
    "severe_absence": ("overall_absence_rate", 0.50),
}

#: Panel outcome column -> key of the generator's realised ATT in ground_truth.json.
TRUTH_KEYS = {"att8": "attainment8", "em94": "l2basics_94", "em95": "l2basics_95"}


@dataclass
class RunResult:
    """What a run released: checked tables by name, the manifest, and where the bundle went."""

    spec: Spec
    checked: dict[str, CheckedTable]
    manifest: dict[str, Any]
    out: Path | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def tables(self) -> dict[str, pl.DataFrame]:
        return {name: c.table for name, c in self.checked.items()}

    @property
    def estimates(self) -> pl.DataFrame:
        return self.checked["estimates"].table

    @property
    def status(self) -> str:
        """Worst disclosure status over the outputs: 'fail' > 'review' > 'pass'."""
        order = {"pass": 0, "review": 1, "fail": 2}
        return max((c.status for c in self.checked.values()), key=order.__getitem__, default="pass")


def run(
    spec: Spec | str | Path,
    data: str | Path | None = None,
    out: str | Path | None = None,
    *,
    overwrite: bool = False,
    seed: int | None = None,
    progress: Progress | None = None,
    timestamp: str | None = None,
    cache: str | Path | None = None,
) -> RunResult:
    """Run `spec`; `data` overrides the spec's data with an extract directory; `out` writes the bundle.

    `seed` overrides the spec's seed. `cache` is a folder of built cohort panels (see
    impact.cache): a matching entry skips data, validation and the cohort SQL. `timestamp` fixes the time written into the outputs (for
    byte-for-byte comparison of runs); by default the current UTC time.
    """
    if not isinstance(spec, Spec):
        spec = load_spec(spec)
    if seed is not None:
        spec = spec.model_copy(update={"seed": seed})
    say = progress or (lambda message: None)
    stamp = timestamp or datetime.now(timezone.utc).replace(microsecond=0).isoformat()
    if out is None:
        return _execute(spec, data, None, say, stamp, cache)
    with atomic_directory(out, overwrite=overwrite, owner="impact run") as bundle:
        handler = attach_file(bundle / "logs" / "run.log")
        try:
            result = _execute(spec, data, bundle, say, stamp, cache)
        finally:
            detach(handler)
    result.out = Path(out)
    return result


def _execute(spec: Spec, data: str | Path | None, bundle: Path | None, say: Progress, stamp: str,
             cache: str | Path | None) -> RunResult:
    log = get_logger()
    timer = StageTimer()
    notes: list[str] = []
    log.info("run %s: impact %s, seed %d", spec.name, __version__, spec.seed)
    check_spec_columns(spec)  # before any data is generated or read: a misspelt column fails in a second
    if spec.spark.collect == "statistics":
        found = _analyse_in_spark(spec, data, cache, timer, say, notes)
    else:
        found = _analyse_frame(spec, data, cache, timer, say, notes)
    truth = found.truth
    with timer.stage("disclosure"):
        say("applying disclosure control")
        config = _disclosure_config(spec)
        checked = _check_outputs(spec, found.sizes, found.attrition, found.estimates, found.event_rows,
                                 found.pretrends, found.balance, config, found.overlap)
        for c in checked.values():
            log.info("output %s: %s", c.name, c.status)
    manifest = {
        "impact_version": __version__,
        "spec": spec.model_dump(mode="json"),
        "seed": spec.seed,
        "inputs": found.inputs,
        "cohort_cache": found.cache,
        "estimated_from": ESTIMATED_FROM[spec.spark.collect],
        "software": software_versions(),
        "timings": timer.to_list(),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "timestamp": stamp,
        "disclosure_status": {name: c.status for name, c in checked.items()},
        "ground_truth": truth,
        "notes": notes,
    }
    result = RunResult(spec, checked, manifest, notes=notes)
    if bundle is not None:
        say("writing the results bundle")
        from .bundle import write_bundle

        write_bundle(result, bundle, config=config, timestamp=stamp)
        log.info("bundle written; peak memory %.0f MB", manifest["peak_rss_mb"])
    return result


# --- stages ------------------------------------------------------------------------------

#: `spark.collect` -> what the estimators ran on, as the manifest says it.
ESTIMATED_FROM = {
    "frame": "the analysis frame on the driver",
    "statistics": "sums computed in Spark (no pupil rows collected)",
}


@dataclass
class _Analysed:
    """What the cohort, design and estimate stages hand to disclosure control and the manifest."""

    sizes: pl.DataFrame  # rows of the analysis panel by year (x cohort)
    attrition: pl.DataFrame
    estimates: pl.DataFrame
    event_rows: pl.DataFrame
    pretrends: pl.DataFrame
    truth: dict | None
    inputs: list[dict[str, Any]]
    cache: dict[str, Any] | None = None
    balance: pl.DataFrame | None = None
    overlap: Any = None


def _analyse_frame(spec: Spec, data: str | Path | None, cache: str | Path | None, timer: StageTimer, say: Progress,
                   notes: list[str]) -> _Analysed:
    """`collect: frame`: the panel on the driver (built, or from the cache), then design and estimators on it."""
    with tempfile.TemporaryDirectory(prefix="impact-run-") as work:
        panel, key, hit = _cohort_stage(spec, data, Path(work), cache, timer, say)
    frame = panel.frame
    with timer.stage("design"):
        weights, balance, overlap = _design(spec, frame, say, notes)
    with timer.stage("estimate"):
        estimates, event_rows, pretrends = _estimate(spec, frame, weights, panel.truth, say, notes)
    sizes = frame.group_by(*(c for c in ("year", "cohort") if c in frame.columns)).len()
    return _Analysed(sizes, panel.attrition, estimates, event_rows, pretrends, panel.truth, panel.inputs,
                     None if key is None else {"key": key, "hit": hit}, balance, overlap)


def _analyse_in_spark(spec: Spec, data: str | Path | None, cache: str | Path | None, timer: StageTimer,
                      say: Progress, notes: list[str]) -> _Analysed:
    """`collect: statistics`: the panel built and kept in Spark, the estimators run from sums computed
    there; only those sums, the cohort sizes and the attrition counts are collected."""
    from . import spark as engine

    log = get_logger()
    if cache is not None:
        log.info("cohort cache not used: with spark.collect 'statistics' the panel stays in Spark")
    with tempfile.TemporaryDirectory(prefix="impact-run-") as work:
        with timer.stage("data"):
            data_dir, truth, inputs = _data_source(spec, data, Path(work), say)
        if data_dir is not None:
            _validate(spec, data_dir, timer, say)
        with engine.open_session(None, "impact run") as session:
            with timer.stage("cohort"):
                say(f"building the {spec.panel} panel in Spark (kept there: spark.collect statistics)")
                engine.register_extracts(session, data_dir if data_dir is not None else spec.data.tables,
                                         mapping=spec.data.mapping)
                engine.register_missing_tables(session)
                table = PANELS[spec.panel][0]
                with engine.cohort_views(session, tables=[table, "covariates", "attrition"],
                                         **_cohort_options(spec)) as views:
                    frame = _spark_analysis_frame(spec, views[table], views["covariates"])
                    if data_dir is not None:
                        frame = _spark_individual_effects(spec.panel, frame, data_dir)
                    # computed once and cut from the cohort SQL's plan (else each of the estimators' Spark jobs
                    # re-plans the whole SQL: 4x slower); the cohort models are then dropped
                    frame = frame.localCheckpoint()
                    attr = engine.collect(views["attrition"])
                sizes = engine.collect(frame.groupBy("year", "cohort").count())
                sizes = sizes.select("year", "cohort", pl.col("count").cast(pl.get_index_type()).alias("len"))
                log.info("panel %s (spark, kept in Spark): %d rows", spec.panel, sizes["len"].sum())
            with timer.stage("estimate"):
                estimates, event_rows, pretrends = _estimate_in_spark(spec, frame, truth, say, notes)
    notes.append(f"estimated from {ESTIMATED_FROM['statistics']}: impact.spark.did_statistics / event_study_statistics")
    return _Analysed(sizes, attr, estimates, event_rows, pretrends, truth, inputs)


def _data_source(spec: Spec, data: str | Path | None, work: Path,
                 say: Progress) -> tuple[Path | None, dict | None, list[dict[str, Any]]]:
    """The extract directory (None: catalog tables on Spark), the planted truth, and the input fingerprints."""
    if data is None and spec.data.tables is not None:
        return None, None, [{"tables": spec.data.tables}]
    data_dir, truth = _resolve_data(spec, data, work, say)
    return data_dir, truth, fingerprint_inputs(p for p in data_dir.rglob("*.parquet"))


def _validate(spec: Spec, data_dir: Path, timer: StageTimer, say: Progress) -> None:
    """Check the extracts against the table contracts; DataError naming the first problems."""
    log = get_logger()
    with timer.stage("validate"):
        say("checking extracts against the table contracts")
        report = check_extracts(data_dir, mapping=spec.data.mapping)
        log.info("validation: %d error(s), %d warning(s)", len(report.errors), len(report.warnings))
        if not report.ok:
            first = "; ".join(p.message for p in report.errors[:3])
            raise DataError(f"{data_dir}: extracts fail their contracts ({len(report.errors)} error(s)): {first}")


def _cohort_stage(spec: Spec, data: str | Path | None, work: Path, cache: str | Path | None, timer: StageTimer,
                  say: Progress) -> tuple[CachedPanel, str | None, bool]:
    """The panel, from the cache when an entry matches, else data -> validation -> cohort SQL (then cached)."""
    log = get_logger()
    synthetic = data is None and spec.data.synthetic is not None
    key = panel_key(spec, None) if cache is not None and synthetic else None
    panel = load_cached(cache, key) if key is not None else None
    if panel is None:
        with timer.stage("data"):
            data_dir, truth, inputs = _data_source(spec, data, work, say)
        if data_dir is None and cache is not None:
            # catalog tables (engine spark): no files to fingerprint, so nothing is cached either
            log.info("cohort cache not used: catalog tables cannot be fingerprinted")
            cache = None
        if cache is not None and key is None:
            key = panel_key(spec, inputs)
            panel = load_cached(cache, key)
    if panel is not None:
        say("using the cached cohort panel")
        log.info("cohort panel from the cache (key %s): %d rows", key, panel.frame.height)
        return panel, key, True
    if data_dir is not None:
        _validate(spec, data_dir, timer, say)
    with timer.stage("cohort"):
        say(f"building the {spec.panel} panel ({spec.engine})")
        frame, attr = _build_panel(spec, data_dir, work)
        log.info("panel %s (%s): %d rows", spec.panel, spec.engine, frame.height)
    if data_dir is not None:
        frame = _with_individual_effects(spec.panel, frame, data_dir)
    panel = CachedPanel(frame, attr, truth, inputs)
    if cache is not None:
        store_cached(cache, key, panel)
        log.info("cohort panel cached (key %s)", key)
    return panel, key, False


def _build_panel(spec: Spec, data_dir: Path | None, work: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Register the extracts (a folder, or catalog tables on Spark) with the spec's engine and build the panel."""
    source = data_dir if data_dir is not None else spec.data.tables
    if spec.engine == "spark":
        from . import spark as engine

        with engine.open_session(None, "impact run") as session:
            engine.register_extracts(session, source, mapping=spec.data.mapping)
            engine.register_missing_tables(session)
            return _panel(spec, session, "spark")
    con = connect(work / "duckdb-spill")  # bounded memory; spills inside the run's temp folder
    try:
        register_extracts(con, source, mapping=spec.data.mapping)
        return _panel(spec, con)
    finally:
        con.close()


#: Panel -> the generator's file of individual effects (in <extract>/ground_truth/) and its keys,
#: with the key that is the panel's `year`.
EFFECT_FILES = {
    "attendance": ("vsh_attendance.parquet", ["pupil_id"], "academic_year"),
    "ks4": ("vsh_ks4.parquet", ["pupil_id"], "ks4_year"),
    "post16": ("pp_plus.parquet", ["la", "child_id"], "collection_year"),
}
#: Prefix of the columns holding a unit's individual effect Y(1) - Y(0) of an outcome (synthetic data).
TAU = "_tau_"


def _effects_file(panel: str, data_dir: Path) -> tuple[Path, list[str], str] | None:
    """The generator's file of individual effects for `panel`, its unit keys and its year column; None: real data."""
    name, keys, year = EFFECT_FILES[panel]
    path = data_dir / "ground_truth" / name
    return (path, keys, year) if path.is_file() else None


def _effect_outcomes(effects_columns: list[str], keys: list[str], year: str, frame_columns: list[str]) -> list[str]:
    """The outcomes with individual effects that the panel has."""
    return [c for c in effects_columns if c not in (*keys, year) and c in frame_columns]


def _with_individual_effects(panel: str, frame: pl.DataFrame, data_dir: Path) -> pl.DataFrame:
    """Join the generator's individual effects as `_tau_<outcome>` (0 for untreated rows); real data: unchanged.

    Running an estimator on `_tau_<outcome>` gives the true value of what it estimates on `<outcome>`
    (estimators are linear in the outcome given their weights), so each estimate is reported beside
    the truth of its own estimand, not an average over units it gives no weight.
    """
    found = _effects_file(panel, data_dir)
    if found is None:
        return frame
    path, keys, year = found
    effects = pl.read_parquet(path)
    outcomes = _effect_outcomes(effects.columns, keys, year, frame.columns)
    effects = effects.select(
        *[pl.col(k).cast(frame.schema[k]) for k in keys], pl.col(year).cast(frame.schema["year"]).alias("year"),
        *[pl.col(o).cast(pl.Float64).alias(TAU + o) for o in outcomes],
    )
    joined = frame.join(effects, on=[*keys, "year"], how="left", maintain_order="left")
    if joined.height != frame.height:
        raise DataError(_duplicate_effects(path, keys))
    return joined.with_columns(pl.col(TAU + o).fill_null(0.0) for o in outcomes)


def _duplicate_effects(path: Path, keys: list[str]) -> str:
    return f"{path}: more than one individual effect per {'/'.join(keys)} and year"


def _spark_individual_effects(panel: str, frame: Any, data_dir: Path) -> Any:
    """`_with_individual_effects` on a Spark DataFrame: the effects read and joined in Spark."""
    from pyspark.sql import functions as F

    found = _effects_file(panel, data_dir)
    if found is None:
        return frame
    path, keys, year = found
    effects = frame.sparkSession.read.parquet(str(path))
    outcomes = _effect_outcomes(effects.columns, keys, year, frame.columns)
    types = {f.name: f.dataType for f in frame.schema.fields}
    effects = effects.select(
        *[F.col(k).cast(types[k]).alias(k) for k in keys], F.col(year).cast(types["year"]).alias("year"),
        *[F.col(o).cast("double").alias(TAU + o) for o in outcomes],
    )
    if not effects.groupBy(*keys, "year").count().filter(F.col("count") > 1).isEmpty():
        raise DataError(_duplicate_effects(path, keys))
    return frame.join(effects, on=[*keys, "year"], how="left").fillna(0.0, subset=[TAU + o for o in outcomes])


def _resolve_data(spec: Spec, data: str | Path | None, work: Path, say: Progress) -> tuple[Path, dict | None]:
    """The extract directory to read and, for synthetic data, the planted truth."""
    if data is not None or spec.data.extracts is not None:
        path = Path(data if data is not None else spec.data.extracts)  # type: ignore[arg-type]
        if not path.is_dir():
            raise DataError(f"extract directory {path} not found")
        truth_file = path / "ground_truth.json"
        truth = json.loads(truth_file.read_text()) if truth_file.exists() else None
        return path, truth
    from .data.synthetic import generate

    syn = spec.data.synthetic
    assert syn is not None
    say(f"generating synthetic NPD: {syn.pupils:,} pupils a year, {syn.years[0]}-{syn.years[1]}, seed {syn.seed}")
    generated = generate(work / "npd", pupils=syn.pupils, seed=syn.seed, years=tuple(syn.years), pretrend=syn.pretrend)
    return Path(generated.path), generated.ground_truth


def _panel(spec: Spec, con: Any, engine: str = "duckdb") -> tuple[pl.DataFrame, pl.DataFrame]:
    """The analysis frame (treated and comparison rows, `year` column, baseline covariates) and attrition.

    `con` is a DuckDB connection, or a SparkSession with the extracts registered (`engine="spark"`);
    either way the panel, covariates and attrition come from one build of the shared models.
    """
    options = _cohort_options(spec)
    spark = engine == "spark"
    if spark:
        from . import spark as spark_engine
    if spec.panel == "post16":
        frame = (spark_engine.post16_panel if spark else post16_panel)(con, years=options["years"])
        frame = frame.with_columns(
            year=pl.col("collection_year"),
            child_key=pl.concat_str([pl.col("la").cast(pl.Utf8), pl.col("child_id")], separator=":"),
            group=pl.col("pilot_first_year").fill_null(0),
        )
        # the pilot's first wave (the earliest start year), for a 2x2 comparison with the LAs not yet in it
        first = frame.filter(pl.col("group") > 0)["group"].min()
        frame = frame.with_columns(first_wave=(pl.col("group") == (first if first is not None else -1)).cast(pl.Int8))
        return frame.sort("child_key", "year"), pl.DataFrame()
    table, time_col, _ = PANELS[spec.panel]
    if spark:
        built = spark_engine.cohort_tables(con, tables=[table, "covariates", "attrition"], **options)
        frame, cov, attr = built[table], built["covariates"], built["attrition"]
    else:
        built = build_analysis_tables(con, panel=spec.panel, **options)
        frame, cov, attr = built["panel"], built["covariates"], built["attrition"]
    frame = frame.rename({time_col: "year"}).filter(pl.col("cohort").is_in(COHORTS))
    groups = _year_groups(spec, frame.columns)
    if groups is not None:
        frame = frame.filter(pl.col("nc_year").is_in(groups))
    cov = cov.drop(COVARIATES_DROPPED, strict=False)
    # SQL and joins return rows in no fixed order; sorting makes every later sum, and so the
    # results, identical from run to run.
    # a baseline covariate the panel also has for each year (sen_provision) keeps a _baseline suffix
    frame = frame.join(cov, on="pupil_id", how="left", suffix="_baseline").sort("pupil_id", "year")
    return frame, attr


#: The cohorts an analysis frame keeps, and the covariates' columns it does not take (the panel has its own).
COHORTS = ["treated", "comparison"]
COVARIATES_DROPPED = ["la", "school_id", "baseline_year"]


def _cohort_options(spec: Spec) -> dict[str, Any]:
    """The cohort builders' options for the spec's cohort (impact.cohorts.CohortOptions)."""
    c = spec.cohort
    return dict(
        years=range(c.years[0], c.years[1] + 1), lookback_years=c.lookback_years,
        treated=f"ever{c.lookback_years}_cwsw", exclude_cla=c.exclude_cla, current_only=c.treated == "current_cwsw",
        highest_level=c.highest_level, comparison=c.comparison, include_nfa=c.include_nfa,
        include_not_in_need=c.include_not_in_need, definition=c.definition,
    )


def _year_groups(spec: Spec, columns: list[str]) -> list[str] | None:
    """The NC year groups the frame keeps (None: all); SpecError when the panel has no NC year."""
    groups = spec.cohort.year_groups
    if groups is not None and "nc_year" not in columns:
        raise SpecError(f"cohort.year_groups: the {spec.panel} panel has no NC year to filter on; remove year_groups")
    return groups


def _spark_analysis_frame(spec: Spec, panel: Any, cov: Any) -> Any:
    """`_panel`'s analysis frame as a lazy Spark DataFrame: `year`, the two cohorts, the year groups kept,
    the baseline covariates joined (those the panel also has suffixed `_baseline`)."""
    from pyspark.sql import functions as F

    frame = panel.withColumnRenamed(PANELS[spec.panel][1], "year").filter(F.col("cohort").isin(COHORTS))
    groups = _year_groups(spec, frame.columns)
    if groups is not None:
        frame = frame.filter(F.col("nc_year").isin(groups))
    cov = cov.drop(*COVARIATES_DROPPED)
    cov = cov.withColumnsRenamed({c: c + "_baseline" for c in cov.columns if c in frame.columns and c != "pupil_id"})
    return frame.join(cov, on="pupil_id", how="left")


def check_spec_columns(spec: Spec) -> None:
    """Every column a spec names must exist in its panel: one SpecError naming the field path.

    The panel's columns do not depend on the data, so they are read from a build on empty extracts.
    """
    with tempfile.TemporaryDirectory(prefix="impact-schema-") as work:
        con = connect(work)
        try:
            register_missing_tables(con)
            frame, _ = _panel(spec, con)
        finally:
            con.close()
    _check_columns(spec, frame)


def _check_columns(spec: Spec, frame: pl.DataFrame) -> None:
    available = ", ".join(c for c in frame.columns if c != "pupil_id")

    def need(path: str, names: Any) -> None:
        for i, name in enumerate([names] if isinstance(names, str) else list(names or [])):
            # an interacted fixed effect `a^b` needs each of its parts
            if any(part not in frame.columns for part in name.split("^")):
                where = path if isinstance(names, str) else f"{path}[{i}]"
                raise SpecError(f"{where}: unknown column {name!r} in the {spec.panel} panel (available: {available})")

    need("outcomes", spec.outcomes)
    design = spec.design.match or spec.design.weight
    if design is not None:
        need(f"design.{'match' if spec.design.match else 'weight'}.covariates", design.covariates)
        if spec.design.match is not None:
            need("design.match.exact", spec.design.match.exact)
    for k, est in enumerate(spec.estimators):
        body = getattr(est, est.kind)
        for name in ("treatment", "fixed_effects", "covariates", "cluster"):
            if hasattr(body, name):
                need(f"estimators[{k}].{est.kind}.{name}", getattr(body, name))


def _design(spec: Spec, frame: pl.DataFrame, say: Progress, notes: list[str]):
    """Design weights aligned to the frame's rows (None without a design), the balance table, and
    the propensity overlap: (bin counts by group, whether the edges are fixed) or None."""
    from .design import match, weight
    from .errors import ParameterError

    if spec.design.match is not None:
        m = spec.design.match
        exact = ["year", *(m.exact or [])]
        say(f"matching ({m.method}) within year on {len(m.covariates)} covariates")
        design = match(
            frame, "treated", m.covariates, method=m.method, distance=m.distance, estimand=m.estimand, ratio=m.ratio,
            replace=m.replace, caliper=m.caliper, caliper_scale=m.caliper_scale, exact=exact, seed=spec.seed,
            missing=m.missing,
        )
    elif spec.design.weight is not None:
        w = spec.design.weight
        say(f"weighting ({w.method}) on {len(w.covariates)} covariates")
        design = weight(frame, "treated", w.covariates, method=w.method, estimand=w.estimand, trim=w.trim, missing=w.missing)
    else:
        return None, None, None
    notes.extend(design.notes)
    try:  # propensity scores on [0, 1] have fixed edges; a raw distance's range is data-driven
        overlap = design.overlap(bins=20).select("bin_low", "bin_high", "group", "n"), design.propensity is not None
    except ParameterError:  # no propensity score nor distance: nothing to plot
        overlap = None
    return design.weights, design.balance(), overlap


#: Subgroup name -> (panel column, whether comparison rows are kept whole). Highest level is a
#: property of treated pupils only, so each level is compared with the whole comparison group.
SUBGROUPS = {
    "la_band_count": ("la_band_number", False),
    "la_band_rate": ("la_band_rate", False),
    "highest_level": ("highest_level", True),
    "phase": ("phase", False),
}


#: NC year groups of the primary phase (the `phase` subgroup when the panel has no phase column).
PRIMARY_NC_YEARS = ["N1", "N2", "R", "1", "2", "3", "4", "5", "6"]


def _subgroup_columns(spec: Spec, columns: list[str]) -> Iterator[tuple[str, str, bool]]:
    """(subgroup, its panel column, whether comparison rows are kept whole); SpecError when the panel lacks it."""
    for k, name in enumerate(spec.subgroups):
        column, keep_comparison = SUBGROUPS[name]
        if column not in columns:
            raise SpecError(f"subgroups[{k}]: '{name}' needs column '{column}', which the {spec.panel} panel lacks")
        yield name, column, keep_comparison


def _subsets(spec: Spec, frame: pl.DataFrame):
    """(subgroup, level, rows): the whole frame first, then one subset per subgroup level."""
    yield None, None, frame
    if spec.subgroups and "phase" not in frame.columns and "nc_year" in frame.columns:
        frame = frame.with_columns(phase=pl.when(pl.col("nc_year").is_in(PRIMARY_NC_YEARS))
                                   .then(pl.lit("primary")).otherwise(pl.lit("secondary")))
    for name, column, keep_comparison in _subgroup_columns(spec, frame.columns):
        for level in sorted(frame.get_column(column).drop_nulls().unique().to_list()):
            chosen = pl.col(column) == level
            rows = frame.filter((chosen | (pl.col("treated") == 0)) if keep_comparison else chosen)
            yield name, str(level), rows


def _spark_subsets(spec: Spec, frame: Any):
    """`_subsets` on a Spark DataFrame: only the levels of each subgroup are collected."""
    from pyspark.sql import functions as F

    yield None, None, frame
    if spec.subgroups and "phase" not in frame.columns and "nc_year" in frame.columns:
        frame = frame.withColumn(
            "phase", F.when(F.col("nc_year").isin(PRIMARY_NC_YEARS), F.lit("primary")).otherwise(F.lit("secondary"))
        )
    for name, column, keep_comparison in _subgroup_columns(spec, frame.columns):
        for level in sorted(r[0] for r in frame.select(column).dropna().distinct().collect()):
            chosen = F.col(column) == level
            yield name, str(level), frame.filter((chosen | (F.col("treated") == 0)) if keep_comparison else chosen)


def _estimate(spec: Spec, frame: pl.DataFrame, weights, truth: dict | None, say: Progress, notes: list[str]):
    """Fit every estimator on every outcome (and subgroup); return tidy estimates, event-study rows, pre-trend tests."""
    if weights is not None:
        frame = frame.with_columns(design_weight=pl.Series(weights))
    rows, events, pretrends = [], [], []
    for subgroup, level, subset in _subsets(spec, frame):
        r, e, p = _estimate_subset(spec, subset, weights is not None, truth, say, notes, subgroup, level)
        rows += r
        events += e
        pretrends += p
    return _stacked(rows, events, pretrends)


def _stacked(rows: list[pl.DataFrame], events: list[pl.DataFrame], pretrends: list[dict[str, Any]]):
    """The estimates, event-study rows and pre-trend tests of every fit, each as one table."""
    estimates = pl.concat(rows, how="diagonal_relaxed") if rows else pl.DataFrame()
    event_rows = pl.concat(events, how="diagonal_relaxed") if events else pl.DataFrame()
    schema_overrides = {"estimate": pl.Float64, "std_error": pl.Float64}
    tests = pl.DataFrame(pretrends, schema_overrides=schema_overrides) if pretrends else pl.DataFrame()
    return estimates, event_rows, tests


def _fits(spec: Spec, subgroup: str | None, level: str | None, say: Progress):
    """(estimator, its arguments, outcome, label, where) of every fit on one subset, announcing each."""
    where = "" if subgroup is None else f" [{subgroup} = {level}]"
    for k, est in enumerate(spec.estimators):
        body = getattr(est, est.kind)
        for outcome in spec.outcomes:
            say(f"estimator {k + 1}/{len(spec.estimators)} ({est.kind}) on {outcome}{where}")
            label = {"estimator": est.kind, "estimator_index": k, "outcome": outcome}
            if subgroup is not None:
                label |= {"subgroup": subgroup, "subgroup_level": level}
            yield est, body, outcome, label, where


def _did_truth(truth: dict | None, panel: str, outcome: str, no_effect: bool, on_effects: Callable[[], float] | None,
               post_years: Callable[[], list[int]]) -> float | None:
    """A DiD estimate's truth: 0 where no unit has an effect, its estimand's value from the individual
    effects where the data carry them, else the generator's realised ATT over the post years."""
    if no_effect:
        return 0.0
    if on_effects is not None:
        with np.errstate(invalid="ignore"):  # only the estimate is used: a ~0 variance may round below 0
            return on_effects()
    return _truth(truth, panel, outcome, post_years())


def _event_truth(table: pl.DataFrame, truth: dict | None, panel: str, outcome: str, no_effect: bool,
                 on_effects: Callable[[], pl.DataFrame] | None) -> pl.DataFrame:
    """The event-study terms with their truth, by the rule of `_did_truth` (by year for the realised ATT)."""
    if no_effect:
        return table.with_columns(truth=pl.lit(0.0))
    if on_effects is not None:
        with np.errstate(invalid="ignore"):
            return on_effects()
    if truth and "period" in table.columns:
        return table.with_columns(truth=pl.col("period").map_elements(
            lambda y: _truth(truth, panel, outcome, [y]), return_dtype=pl.Float64))
    return table


def _estimate_subset(spec, frame, weighted, truth, say, notes, subgroup, level):
    from .estimate import att_gt, did, event_study, probit_did, threshold_did, threshold_event_study
    from .estimate._inputs import FEW_CLUSTERS

    rows, events, pretrends = [], [], []
    for est, body, outcome, label, where in _fits(spec, subgroup, level, say):
        data = frame.filter(pl.col(outcome).is_not_null())
        w = "design_weight" if weighted else None
        tau = TAU + outcome if TAU + outcome in data.columns else None
        no_effect = tau is not None and not (data[tau] != 0).any()  # e.g. a placebo: every truth is 0
        if est.kind == "did":
            data = data.filter(~pl.col("year").is_in(body.exclude_years))
            data = data.with_columns(post=(pl.col("year") >= body.post_from).cast(pl.Int8))

            def fit_did(y, inference):
                return did(
                    data, y, body.treatment, "post", fixed_effects=body.fixed_effects, covariates=body.covariates,
                    weights=w, cluster=body.cluster, inference=inference, bootstrap_reps=body.bootstrap_reps,
                    seed=spec.seed,
                )

            threshold = THRESHOLDS.get(outcome) if body.threshold_outcomes == "from_rate" else None
            latent = body.threshold_outcomes == "latent_index" and _zero_one(data, outcome)
            common = dict(fixed_effects=body.fixed_effects, covariates=body.covariates, weights=w, cluster=body.cluster,
                          inference=body.inference)
            if threshold:
                res = threshold_did(data, *threshold, body.treatment, "post", **common)
            elif latent:
                res = probit_did(data, outcome, body.treatment, "post", **common)
            else:
                res = fit_did(outcome, body.inference)
                if body.few_clusters and (res.info.get("effective_clusters") or FEW_CLUSTERS) < FEW_CLUSTERS:
                    res = fit_did(outcome, body.few_clusters)
                    res.notes.append(f"fewer than {FEW_CLUSTERS} clusters (or effective clusters by size): inference "
                                     f"{body.few_clusters!r} (few_clusters) instead of {body.inference!r}")

            def did_on_effects():
                if threshold or latent:  # their estimand: the mean individual effect of the treated post rows
                    treated_post = (pl.col(body.treatment) == 1) & (pl.col("post") == 1)
                    return data.filter(treated_post).select(_mean_effect(tau, w)).item()
                # the same estimator on the individual effects: its estimand's true value
                return fit_did(tau, "cluster" if body.cluster else "robust").estimate

            value = _did_truth(truth, spec.panel, outcome, no_effect, None if tau is None else did_on_effects,
                               lambda: data.filter(pl.col("post") == 1)["year"].unique().to_list())
            rows.append(_with(res.tidy(), label, value))
        elif est.kind == "event_study":
            def fit_es(y):
                return event_study(
                    data, y, "treated", "year", treat_start=body.treat_start, reference=body.reference,
                    exclude_periods=body.exclude_periods, fixed_effects=body.fixed_effects,
                    covariates=body.covariates, weights=w, cluster=body.cluster,
                )

            threshold = THRESHOLDS.get(outcome) if body.threshold_outcomes == "from_rate" else None
            if threshold:
                res = threshold_event_study(
                    data, *threshold, "treated", "year", treat_start=body.treat_start, reference=body.reference,
                    exclude_periods=body.exclude_periods, fixed_effects=body.fixed_effects,
                    covariates=body.covariates, weights=w, cluster=body.cluster,
                )
            else:
                res = fit_es(outcome)
            table = res.tidy()

            def es_on_effects():
                if threshold:  # each period's mean individual effect of the treated rows
                    by_period = (data.filter(pl.col("treated") == 1).group_by(pl.col("year").alias("period"))
                                 .agg(_mean_effect(tau, w).alias("truth")))
                    return table.join(by_period.with_columns(pl.col("period").cast(table.schema["period"])),
                                      on="period", how="left", maintain_order="left")
                return _truth_by_term(table, fit_es(tau).tidy())

            table = _event_truth(table, truth, spec.panel, outcome, no_effect, None if tau is None else es_on_effects)
            events.append(_with(table, label, None))
            pretrends.append(_pretrend_row(res, label))
        else:
            def fit_gt(y, reps):
                return att_gt(
                    data, y, PANELS[spec.panel][2], "year", "group", control=body.control, method=body.method,
                    covariates=body.covariates, anticipation=body.anticipation, base_period=body.base_period,
                    panel=body.panel, cluster=body.cluster, bootstrap_reps=reps, seed=spec.seed,
                )

            res = fit_gt(outcome, body.bootstrap_reps)
            res_tau = fit_gt(tau, 0) if tau is not None and not no_effect else None
            treated_years = data.filter((pl.col("group") > 0) & (pl.col("year") >= pl.col("group")))["year"]
            overall_truth = _truth(truth, spec.panel, outcome, treated_years.unique().to_list())
            for kind in body.aggregate:
                table = res.aggregate(kind).tidy()
                if no_effect:
                    table = table.with_columns(truth=pl.lit(0.0))
                elif res_tau is not None:
                    table = _truth_by_term(table, res_tau.aggregate(kind).tidy())
                elif overall_truth is not None:
                    # known: the overall average and every pre-treatment event time (no effect before it)
                    pre = pl.col("event_time") < 0 if "event_time" in table.columns else pl.lit(False)
                    table = table.with_columns(
                        truth=pl.when(pl.col("overall")).then(pl.lit(overall_truth)).when(pre).then(pl.lit(0.0))
                        .otherwise(None)
                    )
                rows.append(_with(table, {**label, "aggregation": kind}, None))
        notes.extend(f"{est.kind} on {outcome}{where}: {n}" for n in res.notes)
    return rows, events, pretrends


def _estimate_in_spark(spec: Spec, frame: Any, truth: dict | None, say: Progress, notes: list[str]):
    """`_estimate` on a Spark DataFrame, each fit from sums computed in Spark (did with CR1 errors and the
    event study: the estimators `spark.collect: statistics` allows); the same tables come back."""
    from pyspark.sql import functions as F

    from .spark import did_statistics, event_study_statistics

    rows, events, pretrends = [], [], []
    for subgroup, level, subset in _spark_subsets(spec, frame):
        for est, body, outcome, label, where in _fits(spec, subgroup, level, say):
            data = subset.filter(F.col(outcome).isNotNull())
            tau = TAU + outcome if TAU + outcome in data.columns else None
            no_effect = tau is not None and data.filter(F.col(tau) != 0).isEmpty()
            given = dict(covariates=body.covariates, cluster=body.cluster)
            if est.kind == "did":
                if body.exclude_years:
                    data = data.filter(~F.col("year").isin(body.exclude_years))
                data = data.withColumn("post", (F.col("year") >= body.post_from).cast("tinyint"))

                def fit_did(y):
                    return did_statistics(data, y, body.treatment, "post", fixed_effects=body.fixed_effects, **given)

                res = fit_did(outcome)
                value = _did_truth(
                    truth, spec.panel, outcome, no_effect, None if tau is None else lambda: fit_did(tau).estimate,
                    lambda: [r[0] for r in data.filter(F.col("post") == 1).select("year").distinct().collect()],
                )
                rows.append(_with(res.tidy(), label, value))
            else:
                def fit_es(y):
                    # event_study's default fixed effects without a unit: the time
                    return event_study_statistics(
                        data, y, "treated", "year", treat_start=body.treat_start, reference=body.reference,
                        exclude_periods=body.exclude_periods, fixed_effects=body.fixed_effects or ["year"], **given,
                    )

                res = fit_es(outcome)
                table = res.tidy()
                on_effects = None if tau is None else lambda: _truth_by_term(table, fit_es(tau).tidy())
                events.append(_with(_event_truth(table, truth, spec.panel, outcome, no_effect, on_effects), label,
                                    None))
                pretrends.append(_pretrend_row(res, label))
            notes.extend(f"{est.kind} on {outcome}{where}: {n}" for n in res.notes)
    return _stacked(rows, events, pretrends)


def _zero_one(data: pl.DataFrame, outcome: str) -> bool:
    """Whether `outcome` is a 0/1 indicator (integer or boolean, no other values): a probit's outcome."""
    column = data.get_column(outcome)
    if not (column.dtype.is_integer() or column.dtype == pl.Boolean):
        return False
    return set(column.drop_nulls().cast(pl.Int64).unique().to_list()) <= {0, 1}


def _mean_effect(tau: str, weights: str | None) -> pl.Expr:
    """The (design-weighted) mean of the individual effects `tau`."""
    return pl.col(tau).mean() if weights is None else (pl.col(tau) * pl.col(weights)).sum() / pl.col(weights).sum()


def _truth_by_term(table: pl.DataFrame, on_effects: pl.DataFrame) -> pl.DataFrame:
    """Each term's truth: the same term estimated on the individual effects."""
    truth = on_effects.select("term", pl.col("estimate").alias("truth"))
    return table.join(truth, on="term", how="left", maintain_order="left")


def _pretrend_row(res, label: dict[str, Any]) -> dict[str, Any]:
    """The joint pre-trend Wald test as an estimate-shaped row (F in `statistic`, its denominator df in `df`)."""
    p = res.pretrend
    return {
        **label, "term": "pre-trend F test", "estimate": None, "std_error": None, "statistic": p["statistic"],
        "p_value": p["p_value"], "df_num": p["df1"], "df": p["df2"], "n_obs": res.info.get("n_obs"),
        "n_clusters": res.info.get("n_clusters"), "n_treated": res.terms[0].n_treated if res.terms else None,
        "n_comparison": res.terms[0].n_comparison if res.terms else None,
    }


def _with(table: pl.DataFrame, label: dict[str, Any], truth: float | None) -> pl.DataFrame:
    """Prefix the estimator/outcome labels and, for synthetic data, the planted truth."""
    out = table.with_columns(*[pl.lit(v).alias(k) for k, v in label.items()])
    if truth is not None:
        out = out.with_columns(truth=pl.lit(truth, dtype=pl.Float64))
    front = [*label, "term"]
    return out.select(front + [c for c in out.columns if c not in front])


def _truth(truth: dict | None, panel: str, outcome: str, years: list[int]) -> float | None:
    """The generator's realised ATT for this outcome over the given post years (synthetic data only).

    The n-weighted mean of the per-year realised ATTs; 0 when none of the years is a policy year
    (a placebo), None when the generator planted nothing on this outcome or the data are real.
    """
    if not truth:
        return None
    block = truth.get("realised_att", {}).get("pp_plus" if panel == "post16" else "vsh", {})
    entry = block.get(TRUTH_KEYS.get(outcome, outcome))
    if entry is None:
        return None
    by_year = {int(y): v for y, v in entry.get("by_year", {}).items()}
    cells = [by_year[y] for y in years if y in by_year and by_year[y]["n"] > 0]
    if not cells:
        return 0.0
    total = sum(c["n"] for c in cells)
    return sum(c["att"] * c["n"] for c in cells) / total


def _disclosure_config(spec: Spec) -> DisclosureConfig:
    d = spec.disclosure
    return DisclosureConfig(
        min_count=d.min_count, zeros_disclosive=d.zeros_disclosive, nk_n=d.nk_n, nk_k=d.nk_k, p_ratio=d.p_ratio,
        min_dof=d.min_dof, rounding_base=d.rounding_base,
    )


def _pivot(long: pl.DataFrame, on: str, index: list[str], values: str) -> pl.DataFrame:
    """Long counts to wide, with rows sorted by `index` and columns in sorted order (deterministic)."""
    wide = long.sort([*index, on]).pivot(on=on, index=index, values=values).sort(index).fill_null(0)
    return wide.select(*index, *sorted(c for c in wide.columns if c not in index))


def _check_outputs(spec, sizes, attr, estimates, event_rows, pretrends, balance, config, overlap=None) -> dict[str, CheckedTable]:
    """Every released table, through disclosure control (the bundle writer accepts nothing else), then
    the cross-table pass: no count suppressed in one table can be recovered from another.

    `sizes`: the analysis panel's rows by year (and cohort) as counts `len`, from either path."""
    from .disclosure.histogram import merge_small_bins
    from .disclosure.linked import (Cell, Relation, breakdown_relations, protect_linked, row_sum_relations,
                                    same_value_relations)
    from .disclosure.models import STAT_COLUMNS

    values = {"estimates": estimates}
    checked = {"estimates": check_table(estimates, "estimate", config=config, name="estimates")}
    sizes = _pivot(sizes, "cohort", ["year"], "len") if "cohort" in sizes.columns else sizes.sort("year")
    values["cohort_sizes"] = sizes = sizes.fill_null(0)
    checked["cohort_sizes"] = check_table(sizes, "frequency", config=config, name="cohort_sizes", index="year")
    if attr.height:
        # Long form, one count per row: a wide stage x cohort table would be mostly structural
        # zeros (CIN rows have no cohort), which zero suppression would cascade through.
        values["attrition"] = national = (
            attr.group_by("step", "stage", "detail", "cohort").agg(pl.col("n").sum())
            .with_columns(pl.col("cohort").fill_null("all"), pl.col("detail").fill_null(""))
            .sort("step", "stage", "detail", "cohort")
        )
        checked["attrition"] = check_table(
            national, "frequency", config=config, name="attrition", index=["step", "stage", "detail", "cohort"]
        )
    if event_rows.height:
        values["event_study"] = event_rows
        checked["event_study"] = check_table(event_rows, "estimate", config=config, name="event_study")
    if pretrends.height:
        values["pretrend_tests"] = pretrends
        checked["pretrend_tests"] = check_table(pretrends, "estimate", config=config, name="pretrend_tests")
    if balance is not None:
        values["balance"] = balance
        checked["balance"] = check_table(balance, "balance", config=config, name="balance", index=["covariate", "sample"])
    if overlap is not None:
        bins, fixed = overlap
        wide = merge_small_bins(_pivot(bins, "group", ["bin_low", "bin_high"], "n"), config)
        checked["propensity_overlap"] = check_table(
            wide, "histogram", config=config, name="propensity_overlap", fixed_edges=fixed
        )
    # Linked counts: subgroup levels add up to the whole sample (a subgroup keeping the comparison
    # group whole splits n_treated only), n_obs = n_treated + n_comparison, every row of one model
    # repeats its counts, the cohort step of the attrition is a column sum of the cohort sizes and
    # the 'before' rows of the balance table count the same pupils.
    counts = ("n_obs", "n_treated", "n_comparison")
    models = {k: values[k] for k in ("estimates", "event_study", "pretrend_tests") if k in values}
    parts = {g: ["n_treated"] if SUBGROUPS[g][1] else list(counts) for g in spec.subgroups}
    relations = same_value_relations(models, by=["outcome", "subgroup", "subgroup_level"], columns=counts)
    blank: dict[str, dict[str, list[str]]] = {}
    for name, table in models.items():
        relations += breakdown_relations(name, table, keys=["estimator_index", "outcome", "aggregation", "term"], counts=parts)
        relations += row_sum_relations(name, table, "n_obs", ["n_treated", "n_comparison"])
        shown = [c for c in (*STAT_COLUMNS, *counts) if c in table.columns]
        blank[name] = {c: shown for c in counts if c in table.columns}
    if "attrition" in values:
        step = values["attrition"].with_row_index("_row").filter(pl.col("stage") == "cohort")
        for arm in ("treated", "comparison"):
            row = step.filter(pl.col("cohort") == arm)["_row"].to_list()
            if len(row) != 1 or arm not in sizes.columns:
                continue
            total = Cell("attrition", row[0], "n")
            relations.append(Relation(total, tuple(Cell("cohort_sizes", r, arm) for r in range(sizes.height)),
                                      f"{arm} cohort = sum of its yearly sizes"))
            if balance is not None:
                before = balance.with_row_index("_row").filter(pl.col("sample") == "before")["_row"].to_list()
                relations += [Relation(total, (Cell("balance", r, f"n_{arm}"),), f"{arm} pupils before the design")
                              for r in before]
    if balance is not None:
        relations += same_value_relations({"balance": balance}, by=["sample"], columns=["n_treated", "n_comparison"])
        stats = [c for c in balance.columns if c not in ("covariate", "sample", "n_treated", "n_comparison")]
        blank["balance"] = {f"n_{arm}": [c for c in stats if not c.endswith("_" + other)]
                            for arm, other in (("treated", "comparison"), ("comparison", "treated"))}
    return protect_linked(checked, values, relations, blank=blank)


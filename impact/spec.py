"""The YAML analysis spec: a validated, frozen model whose field names are the Python API's.

`load_spec(path)` reads YAML safely (no tags, duplicate keys rejected) and returns a `Spec`;
every problem becomes one `SpecError` line naming the field path, the rule and the value, e.g.
``estimators[1].did.inference: must be one of 'robust', 'cluster', 'wild' (got 'boot')``.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import SpecError

SPEC_VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Year = Annotated[int, Field(ge=2006, le=2030, description="academic year by its end year: 2022 = 2021/22")]
ColumnList = Annotated[list[str], Field(min_length=1)]


class SyntheticData(_Model):
    """Generate the embedded synthetic NPD (same tables and codes as real extracts)."""

    pupils: int = Field(200_000, ge=1_000, le=20_000_000, description="pupils on roll in one year")
    seed: int = Field(1, ge=0, description="generator seed")
    years: tuple[Year, Year] = Field((2015, 2025), description="first and last academic end year written")
    pretrend: float = Field(0.0, description="differential pre-trend for the treated group (absence rate per year)")

    @model_validator(mode="after")
    def _ordered(self):
        if self.years[0] > self.years[1]:
            raise ValueError(f"years must be [first, last] with first <= last (got {list(self.years)})")
        return self


class DataSpec(_Model):
    """Where the data comes from: exactly one of `synthetic`, `extracts` or (engine spark) catalog `tables`."""

    synthetic: SyntheticData | None = None
    extracts: str | None = Field(None, description="directory of NPD-style parquet extracts")
    tables: dict[str, str | list[str]] | None = Field(
        None, description="engine spark: {contract table: catalog table or [tables]}, e.g. on Databricks"
    )
    mapping: dict[str, dict[str, str]] | None = Field(
        None, description="{table: {extract_column: contract_column}} for extracts whose names differ"
    )

    @model_validator(mode="after")
    def _one_source(self):
        if sum(x is not None for x in (self.synthetic, self.extracts, self.tables)) != 1:
            raise ValueError("give exactly one of 'synthetic', 'extracts' or 'tables'")
        if self.mapping is not None and self.synthetic is not None:
            raise ValueError("'mapping' applies only to 'extracts' or 'tables'")
        return self


class CohortSpec(_Model):
    """Who is treated and who is compared: the definitions in docs/explanation/definitions.md."""

    years: tuple[Year, Year] = Field(description="first and last academic end year of the analysis panel")
    year_groups: list[str] | None = Field(None, description="NC year groups kept (e.g. ['1', ..., '11']); default all")
    lookback_years: int = Field(6, ge=1, le=18, description="look-back window for the Ever flags")
    treated: Literal["ever6_cwsw", "current_cwsw"] = Field(
        "ever6_cwsw", description="treated group: a social worker in the look-back window, or one open at the census"
    )
    exclude_cla: bool = Field(False, description="drop pupils looked after in the window (covered by the VSH before 2021)")
    highest_level: Literal["CIN", "CPP", "CLA"] | None = Field(None, description="keep treated pupils of one highest level")
    comparison: Literal["ever6_fsm_not_cwsw"] = Field(
        "ever6_fsm_not_cwsw", description="comparison group: Ever6 FSM and never a social worker in the window"
    )
    include_nfa: bool = Field(False, description="count referrals with no further action as CIN episodes")
    include_not_in_need: bool = Field(False, description="count episodes closed as not in need (RC8)")
    definition: Literal["episode", "plan"] = Field("episode", description="episode-based or CIN-plan-based CWSW")

    @model_validator(mode="after")
    def _ordered(self):
        if self.years[0] > self.years[1]:
            raise ValueError(f"years must be [first, last] with first <= last (got {list(self.years)})")
        return self


Estimand = Literal["ATT", "ATE", "ATC"]
ESTIMAND = "average effect on the treated (ATT), on everyone (ATE) or on the comparison group (ATC)"
MISSING = "error"
MISSING_HELP = "'error' stops on a missing covariate; 'indicator' fills it and adds a missing flag"


class MatchSpec(_Model):
    """Arguments of `impact.match` (the treatment is the cohort's)."""

    covariates: ColumnList = Field(description="panel columns matched on (baseline, pre-policy characteristics)")
    method: Literal["nearest", "mahalanobis", "cem", "exact"] = Field(
        "nearest", description="nearest neighbour on the distance, Mahalanobis, coarsened exact or exact matching"
    )
    distance: str = Field("logit", description="'logit', 'probit' or a column of precomputed scores")
    estimand: Estimand = Field("ATT", description=ESTIMAND)
    ratio: int = Field(1, ge=1, le=20, description="comparison units matched to each treated unit")
    replace: bool = Field(False, description="allow a comparison unit to be matched more than once")
    caliper: float | None = Field(None, gt=0, description="largest distance allowed for a match; none: no limit")
    caliper_scale: Literal["logit_sd", "raw"] = Field(
        "logit_sd", description="caliper in standard deviations of the logit score, or in the distance's own units"
    )
    exact: list[str] | None = Field(None, description="columns matched exactly (matching is always within year)")
    missing: Literal["error", "indicator"] = Field(MISSING, description=MISSING_HELP)


class WeightSpec(_Model):
    """Arguments of `impact.weight`."""

    covariates: ColumnList = Field(description="panel columns balanced on (baseline, pre-policy characteristics)")
    method: Literal["ipw", "entropy"] = Field("ipw", description="inverse propensity weights or entropy balancing")
    estimand: Estimand = Field("ATT", description=ESTIMAND)
    trim: float | None = Field(None, gt=0, lt=0.5, description="drop units with scores outside [trim, 1 - trim]")
    missing: Literal["error", "indicator"] = Field(MISSING, description=MISSING_HELP)


class DesignSpec(_Model):
    """At most one design: `match` or `weight`; omit for none."""

    match: MatchSpec | None = None
    weight: WeightSpec | None = None

    @model_validator(mode="after")
    def _one(self):
        if self.match is not None and self.weight is not None:
            raise ValueError("give one of 'match' or 'weight', not both")
        return self


Cluster = str | list[str] | None
ThresholdOutcomes = Literal["indicator", "from_rate"]
DidThresholdOutcomes = Literal["indicator", "from_rate", "latent_index"]
COVARIATES = "time-varying controls added to the regression (columns of the panel)"
CLUSTER = "one or two columns to cluster standard errors on (e.g. la); default: the unit"
BOOTSTRAP_REPS = "bootstrap replications (wild bootstrap / multiplier bootstrap)"
THRESHOLD_OUTCOMES = (
    "how an outcome that is a threshold of a rate (persistent_absence, severe_absence) is estimated: "
    "'indicator' fits the model to the 0/1 column (parallel trends in the indicator); 'from_rate' fits it "
    "to the rate and compares each treated rate with the rate less its effect (parallel trends in the rate, "
    "an additive effect: impact.threshold_did)"
)
DID_THRESHOLD_OUTCOMES = THRESHOLD_OUTCOMES + (
    "; 'latent_index' fits a probit DiD to every 0/1 outcome (em94, em95, ebacc_entry, persistent_absence, ...: "
    "parallel trends in a latent normal index, for pass marks that move for everyone: impact.probit_did)"
)
FIXED_EFFECTS = (
    "columns whose levels are absorbed; 'a^b' absorbs the interaction of columns a and b "
    "(e.g. 'nc_year^treated', 'year^fsm_eligible'); default: the unit and the year"
)


class DidSpec(_Model):
    """Arguments of `impact.did`; the outcome, treatment and post columns come from the cohort."""

    treatment: str = Field("treated", description="0/1 column of the treated group, e.g. 'first_wave' in the post16 panel")
    post_from: Year = Field(2022, description="first post-policy academic end year")
    exclude_years: list[Year] = Field(default_factory=list, description="years dropped (e.g. the COVID years 2020, 2021)")
    fixed_effects: list[str] | None = Field(None, description=FIXED_EFFECTS)
    covariates: list[str] | None = Field(None, description=COVARIATES)
    cluster: Cluster = Field(None, description=CLUSTER)
    inference: Literal["robust", "cluster", "wild", "wild_webb"] = Field(
        "cluster", description="HC1, cluster-robust (CR1), or the wild cluster bootstrap (Rademacher / Webb weights)"
    )
    bootstrap_reps: int = Field(999, ge=99, le=100_000, description=BOOTSTRAP_REPS)
    threshold_outcomes: DidThresholdOutcomes = Field("indicator", description=DID_THRESHOLD_OUTCOMES)
    few_clusters: Literal["wild", "wild_webb"] | None = Field(
        None,
        description="inference for an estimate on fewer than 20 clusters, counted by their sizes ((sum n)^2 / sum n^2: "
        "e.g. a subgroup of a few LAs), where CR1 intervals are too narrow: the wild cluster restricted bootstrap "
        "('wild': Rademacher weights; 'wild_webb': Webb weights, for fewer than about 12 clusters) instead of "
        "`inference`; default: keep `inference`, with a note",
    )

    @model_validator(mode="after")
    def _threshold_inference(self):
        wild = self.inference.startswith("wild") or self.few_clusters is not None
        if self.threshold_outcomes != "indicator" and wild:
            raise ValueError(f"threshold_outcomes {self.threshold_outcomes!r} takes inference 'cluster' or 'robust', "
                             "not the wild bootstrap (inference or few_clusters)")
        one_column = isinstance(self.cluster, str) or (self.cluster is not None and len(self.cluster) == 1)
        if self.few_clusters is not None and not one_column:
            raise ValueError(f"few_clusters {self.few_clusters!r} needs one cluster column (got cluster: {self.cluster!r})")
        return self


class EventStudySpec(_Model):
    """Arguments of `impact.event_study`."""

    treat_start: Year = Field(2022, description="first treated academic end year (event time 0)")
    reference: int = Field(-1, description="reference period relative to treat_start")
    exclude_periods: list[Year] = Field(default_factory=list, description="years dropped (e.g. the COVID years)")
    fixed_effects: list[str] | None = Field(None, description=FIXED_EFFECTS)
    covariates: list[str] | None = Field(None, description=COVARIATES)
    cluster: Cluster = Field(None, description=CLUSTER)
    threshold_outcomes: ThresholdOutcomes = Field("indicator", description=THRESHOLD_OUTCOMES)

    @model_validator(mode="after")
    def _reference_estimable(self):
        ref_year = self.treat_start + self.reference
        if self.reference >= 0:
            raise ValueError(f"reference must be a pre-treatment period (< 0), got {self.reference}")
        if ref_year in self.exclude_periods:
            raise ValueError(
                f"reference {self.reference} is year {ref_year}, which exclude_periods drops; "
                "choose an included pre-treatment year"
            )
        return self


class AttGtSpec(_Model):
    """Arguments of `impact.att_gt`."""

    control: Literal["never_treated", "not_yet_treated"] = Field(
        "never_treated", description="comparison units: never treated, or not yet treated at each period"
    )
    method: Literal["dr", "ipw", "reg"] = Field("dr", description="doubly robust, inverse probability weighting or outcome regression")
    covariates: list[str] | None = Field(None, description="baseline covariates for conditional parallel trends")
    anticipation: int = Field(0, ge=0, le=5, description="periods before the start in which units may already react")
    base_period: Literal["varying", "universal"] = Field(
        "varying", description="pre-period comparisons with the previous period (varying) or with g - 1 (universal)"
    )
    panel: bool = Field(True, description="units observed in several periods (panel), or repeated cross-sections")
    cluster: str | None = Field(None, description="column to cluster on (e.g. la); default: the unit")
    bootstrap_reps: int = Field(999, ge=99, le=100_000, description=BOOTSTRAP_REPS)
    aggregate: list[Literal["simple", "dynamic", "group", "calendar"]] = Field(
        default_factory=lambda: ["simple", "dynamic"], description="aggregations of the group-time ATTs to report"
    )


class EstimatorSpec(_Model):
    """One estimator: a single key naming the function (`did`, `event_study` or `att_gt`)."""

    did: DidSpec | None = None
    event_study: EventStudySpec | None = None
    att_gt: AttGtSpec | None = None

    @model_validator(mode="after")
    def _one(self):
        given = [k for k in ("did", "event_study", "att_gt") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("each estimator is one of 'did', 'event_study' or 'att_gt'")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("did", "event_study", "att_gt") if getattr(self, k) is not None)


class DisclosureSpec(_Model):
    """Statistical disclosure control settings (defaults: UK practice and ACRO's)."""

    min_count: int = Field(10, ge=1, description="smallest count released, and smallest n behind a statistic")
    zeros_disclosive: bool = Field(True, description="treat zero cells as disclosive (suppressed)")
    nk_n: int = Field(2, ge=1, description="N-k dominance: the number of largest contributors")
    nk_k: float = Field(0.90, gt=0, le=1, description="N-k dominance: the share of the total they may not reach")
    p_ratio: float = Field(0.10, ge=0, lt=1, description="p% rule: the smallest (total - top two) / top one")
    min_dof: int = Field(10, ge=1, description="smallest residual degrees of freedom of a released model")
    rounding_base: int | None = Field(None, ge=2, description="round released counts to this base (e.g. 5); none: no rounding")


class OutputsSpec(_Model):
    """What the bundle holds beyond the tables, manifest and disclosure.json."""

    figures: bool = Field(True, description="PNG figures, each with the CSV of what it plots")
    report: bool = Field(True, description="the self-contained report.html")


class SparkSpec(_Model):
    """With `engine: spark`: what the estimators receive from Spark (docs/explanation/engines.md)."""

    collect: Literal["frame", "statistics"] = Field(
        "frame",
        description="'frame' collects the analysis panel to the driver and runs every estimator there; 'statistics' "
        "keeps the rows in Spark and estimates did (CR1) and event_study from sums computed there "
        "(impact.spark.did_statistics), collecting only those sums and the counts of the released tables",
    )


def _statistics_problem(spec: Spec) -> str | None:
    """Why `spark.collect: statistics` cannot run `spec` (naming the field), or None when it can."""
    why = "spark.collect 'statistics'"
    if spec.engine != "spark":
        return f"spark.collect: 'statistics' needs engine: spark (got engine: {spec.engine})"
    if spec.panel == "post16":
        return f"panel: {why} supports the attendance and ks4 panels; use spark.collect: frame for post16"
    if spec.design.match is not None or spec.design.weight is not None:
        return f"design: {why} takes no matching or weighting design; remove design or use spark.collect: frame"
    for k, est in enumerate(spec.estimators):
        body, at = getattr(est, est.kind), f"estimators[{k}].{est.kind}"
        if est.kind not in ("did", "event_study"):
            return f"{at}: {why} estimates did and event_study only; use spark.collect: frame for {est.kind}"
        if est.kind == "did" and body.inference != "cluster":
            return f"{at}.inference: {why} needs 'cluster' (got {body.inference!r}); use spark.collect: frame"
        if est.kind == "did" and body.few_clusters is not None:
            return f"{at}.few_clusters: {why} has no wild bootstrap; remove it or use spark.collect: frame"
        if body.cluster is None:
            return f"{at}.cluster: {why} needs a cluster column for its CR1 errors, e.g. cluster: la"
        if body.threshold_outcomes != "indicator":
            return f"{at}.threshold_outcomes: {why} needs 'indicator' (got {body.threshold_outcomes!r})"
    return None


class Spec(_Model):
    """A whole analysis: data, cohort, outcomes, design, estimators, subgroups, disclosure, outputs."""

    version: Literal[1] = Field(SPEC_VERSION, description="spec format version")
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,80}$", description="short name used for the output folder")
    title: str | None = Field(None, description="title of the report")
    question: str | None = Field(None, description="the evaluation question, shown at the top of the report")
    data: DataSpec
    cohort: CohortSpec
    panel: Literal["attendance", "ks4", "post16"] = Field(
        description="analysis frame: pupil x year attendance, KS4 cohorts, or post-16 care leavers"
    )
    outcomes: ColumnList = Field(description="outcome columns of the panel, each estimated by every estimator")
    design: DesignSpec = Field(default_factory=DesignSpec)
    estimators: list[EstimatorSpec] = Field(min_length=1)
    subgroups: list[Literal["la_band_count", "la_band_rate", "highest_level", "phase"]] = Field(
        default_factory=list, description="also estimate by LA band (count or rate of CWSW), highest level or phase"
    )
    disclosure: DisclosureSpec = Field(default_factory=DisclosureSpec)
    outputs: OutputsSpec = Field(default_factory=OutputsSpec)
    seed: int = Field(1, ge=0, description="one seed drives every random step of the run")
    engine: Literal["duckdb", "spark"] = Field(
        "duckdb", description="where the cohort SQL runs: embedded DuckDB, or Spark (needs impact[spark])"
    )
    spark: SparkSpec = Field(default_factory=SparkSpec, description="engine spark: what is collected to the driver")

    @model_validator(mode="after")
    def _tables_need_spark(self):
        if self.data.tables is not None and self.engine != "spark":
            raise ValueError("data.tables (catalog tables) needs engine: spark")
        return self

    @model_validator(mode="after")
    def _statistics_supported(self):
        problem = _statistics_problem(self) if self.spark.collect == "statistics" else None
        if problem:
            raise ValueError(problem)
        return self


# --- loading ---------------------------------------------------------------------------


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML loader that rejects duplicate mapping keys instead of keeping the last."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False):
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_spec(raw: Any, *, source: str = "spec") -> Spec:
    """Validate an already-parsed mapping; raise one SpecError line for the first problem."""
    if not isinstance(raw, dict):
        raise SpecError(f"{source}: the spec must be a mapping of fields, got {type(raw).__name__}")
    try:
        return Spec.model_validate(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = _describe(errors[0])
        more = f" (+{len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})" if len(errors) > 1 else ""
        raise SpecError(f"{source}: {first}{more}") from None


def load_spec(path: str | Path) -> Spec:
    """Read and validate a YAML spec file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{p}: spec file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{p}: cannot read spec file ({exc.__class__.__name__})") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{p}: invalid YAML{where}: {problem}") from None
    return parse_spec(raw, source=str(p))


def spec_json_schema() -> dict[str, Any]:
    """JSON Schema of the spec, for editors (`impact spec schema`)."""
    schema = Spec.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "impact analysis spec"
    return schema


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = str(part)
            if not re.fullmatch(r"[A-Za-z0-9_-]+", text):
                text = json.dumps(text)  # quotes and escapes control characters
            out += ("." if out else "") + text
    return out or "(top level)"


def _describe(err: dict[str, Any]) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    value = err.get("input")
    if kind == "extra_forbidden":
        parent = _allowed_keys(loc[:-1])
        hint = f"; allowed keys: {', '.join(parent)}" if parent else ""
        return f"{_path(loc)}: unknown key{hint}"
    if kind == "missing":
        return f"{_path(loc)}: required field is missing"
    msg = err.get("msg", "invalid value")
    msg = msg.removeprefix("Value error, ")
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        msg = f"must be one of {expected}"
    shown = _short(value)
    return f"{_path(loc)}: {msg} (got {shown})" if kind != "value_error" else f"{_path(loc)}: {msg}"


def _short(value: Any) -> str:
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    text = text.replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."


def _allowed_keys(loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model at `loc` (for 'unknown key' hints); [] if not resolvable."""
    model: Any = Spec
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = _model_of(field.annotation)
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def _model_of(annotation: Any) -> Any:
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None

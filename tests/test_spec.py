"""The YAML spec: valid specs load frozen; every malformed spec is one SpecError line, exit 2."""
from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impact import cli
from impact.errors import SpecError
from impact.spec import Spec, load_spec, parse_spec, spec_json_schema

SPECS = sorted((Path(__file__).parent.parent / "specs").glob("*.yaml"))

BASE = {
    "name": "t",
    "data": {"synthetic": {"pupils": 5000, "seed": 3}},
    "cohort": {"years": [2016, 2024]},
    "panel": "attendance",
    "outcomes": ["overall_absence_rate"],
    "design": {"match": {"covariates": ["ks2_read"], "caliper": 0.2}},
    "estimators": [
        {"did": {"post_from": 2022, "cluster": "la"}},
        {"event_study": {"treat_start": 2022, "reference": -3, "exclude_periods": [2020, 2021]}},
        {"att_gt": {"control": "not_yet_treated"}},
    ],
    "disclosure": {"min_count": 10},
}


@pytest.mark.parametrize("path", SPECS, ids=[p.stem for p in SPECS])
def test_shipped_specs_are_valid(path):
    assert isinstance(load_spec(path), Spec)


def test_valid_spec_is_frozen_and_fills_defaults():
    spec = parse_spec(BASE)
    assert spec.cohort.lookback_years == 6 and spec.cohort.definition == "episode"
    assert spec.design.match.method == "nearest" and spec.design.match.caliper_scale == "logit_sd"
    assert [e.kind for e in spec.estimators] == ["did", "event_study", "att_gt"]
    assert spec.estimators[0].did.inference == "cluster"
    with pytest.raises(Exception):
        spec.name = "other"  # type: ignore[misc]


def _err(mutate) -> str:
    raw = copy.deepcopy(BASE)
    mutate(raw)
    with pytest.raises(SpecError) as e:
        parse_spec(raw)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_errors_name_the_field_path_rule_and_value():
    msg = _err(lambda r: r["estimators"][0]["did"].__setitem__("inference", "boot"))
    assert msg.startswith("spec: estimators[0].did.inference: must be one of 'robust', 'cluster', 'wild' or 'wild_webb'")
    assert '(got "boot")' in msg
    msg = _err(lambda r: r["design"]["match"].__setitem__("caliper", -1))
    assert "design.match.caliper: Input should be greater than 0 (got -1)" in msg


def test_unknown_keys_are_errors_listing_allowed_keys():
    msg = _err(lambda r: r["cohort"].__setitem__("lookback", 6))
    assert msg.startswith("spec: cohort.lookback: unknown key; allowed keys: years, year_groups, lookback_years")


def test_missing_required_fields_and_cross_field_rules():
    assert "panel: required field is missing" in _err(lambda r: r.pop("panel"))
    assert "exactly one of 'synthetic', 'extracts' or 'tables'" in _err(lambda r: r["data"].__setitem__("extracts", "x"))

    def catalog(r):
        r["data"] = {"tables": {"spring_census": "npd.census"}}

    assert "data.tables (catalog tables) needs engine: spark" in _err(catalog)
    assert "first <= last" in _err(lambda r: r["cohort"].__setitem__("years", [2024, 2016]))
    assert "one of 'did', 'event_study' or 'att_gt'" in _err(lambda r: r["estimators"].append({}))
    msg = _err(lambda r: r["estimators"][1]["event_study"].__setitem__("reference", -1))
    assert "year 2021, which exclude_periods drops" in msg

    def wild_latent(r):
        r["estimators"][0]["did"].update(inference="wild", threshold_outcomes="latent_index")

    assert "threshold_outcomes 'latent_index' takes inference 'cluster' or 'robust'" in _err(wild_latent)

    def few_clusters_two_columns(r):
        r["estimators"][0]["did"].update(cluster=["la", "school_id"], few_clusters="wild")

    assert "few_clusters 'wild' needs one cluster column" in _err(few_clusters_two_columns)
    assert "not the wild bootstrap (inference or few_clusters)" in _err(
        lambda r: r["estimators"][0]["did"].update(few_clusters="wild", threshold_outcomes="from_rate"))
    msg = _err(lambda r: r["estimators"][1]["event_study"].__setitem__("threshold_outcomes", "latent_index"))
    assert "threshold_outcomes: must be one of 'indicator' or 'from_rate'" in msg


def test_yaml_problems_are_one_line_with_location(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: a\nname: b\n")
    with pytest.raises(SpecError, match=r"invalid YAML at line 2, column 1: duplicate key 'name'"):
        load_spec(p)
    p.write_text("name: [unclosed\n")
    with pytest.raises(SpecError, match="invalid YAML at line"):
        load_spec(p)
    p.write_text("!!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(SpecError, match="invalid YAML"):
        load_spec(p)
    p.write_text("- a\n- b\n")
    with pytest.raises(SpecError, match="must be a mapping"):
        load_spec(p)
    with pytest.raises(SpecError, match="spec file not found"):
        load_spec(tmp_path / "missing.yaml")


def test_schema_is_json_and_covers_every_top_level_field():
    schema = spec_json_schema()
    json.dumps(schema)
    assert set(schema["properties"]) == set(Spec.model_fields)
    assert schema["additionalProperties"] is False


# --- property-based: malformed specs never escape as tracebacks --------------------------

ALWAYS_INVALID = st.sampled_from([{"~bad": 1}, [[[]]]])


def _paths(node, prefix=()):
    """Every (path, value) in the nested spec, excluding the root."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,), v
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield prefix + (i,), v
            yield from _paths(v, prefix + (i,))


ALL_PATHS = [p for p, _ in _paths(BASE)]
MAPPING_PATHS = [()] + [p for p, v in _paths(BASE) if isinstance(v, dict)]
REQUIRED = [("name",), ("data",), ("cohort",), ("panel",), ("outcomes",), ("estimators",), ("cohort", "years"),
            ("design", "match", "covariates")]


def _get(node, path):
    for part in path:
        node = node[part]
    return node


@st.composite
def malformed_spec_text(draw):
    kind = draw(st.sampled_from(["replace", "unknown_key", "drop_required", "garbage"]))
    raw = copy.deepcopy(BASE)
    if kind == "replace":
        path = draw(st.sampled_from(ALL_PATHS))
        _get(raw, path[:-1])[path[-1]] = draw(ALWAYS_INVALID)
    elif kind == "unknown_key":
        path = draw(st.sampled_from(MAPPING_PATHS))
        key = "~" + draw(st.text(min_size=1, max_size=8))
        _get(raw, path)[key] = draw(st.one_of(st.integers(), st.text(max_size=5), st.none()))
    elif kind == "drop_required":
        path = draw(st.sampled_from(REQUIRED))
        del _get(raw, path[:-1])[path[-1]]
    else:
        return draw(st.text(max_size=80))
    return yaml.safe_dump(raw, allow_unicode=True)


@settings(max_examples=1100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=malformed_spec_text())
def test_malformed_specs_exit_2_with_one_line(text):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "spec.yaml"
        p.write_text(text, encoding="utf-8")
        import contextlib
        import io

        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(["validate", str(p)])
    lines = err.getvalue().splitlines()
    assert code == 2, (text, err.getvalue())
    assert len(lines) == 1 and lines[0].startswith("impact: error: "), err.getvalue()
    assert out.getvalue() == ""

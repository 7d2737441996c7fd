"""A real matched run with subgroups: no suppressed count of any released table can be solved from
the released counts of the others (independent rank test), the propensity overlap figure ships with
the CSV it plots, and ACRO's own loader reads disclosure.json."""
import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import impact.disclosure.linked as linked
from impact.disclosure import DisclosureConfig, check_table
from impact.pipeline import run
from impact.spec import parse_spec

MIN_COUNT = 500  # raised so that subgroup counts of a 4,000-pupil run fall below it
SPEC = {
    "name": "t_linked", "question": "Did absence fall?",
    "data": {"synthetic": {"pupils": 4000, "seed": 5, "years": [2016, 2024]}},
    "cohort": {"years": [2017, 2024], "exclude_cla": True},
    "panel": "attendance",
    "outcomes": ["overall_absence_rate"],
    "design": {"match": {"covariates": ["prior_absence_rate", "sex"],
                         "caliper": 0.2, "missing": "indicator"}},
    "estimators": [
        {"did": {"post_from": 2022, "exclude_years": [2020, 2021], "fixed_effects": ["pupil_id", "year"], "cluster": "la"}},
        {"event_study": {"treat_start": 2022, "reference": -3, "exclude_periods": [2020, 2021],
                         "fixed_effects": ["pupil_id", "year"], "cluster": "la"}},
    ],
    "subgroups": ["highest_level", "phase", "la_band_count"],
    "disclosure": {"min_count": MIN_COUNT},
}
MODELS = ("estimates", "event_study", "pretrend_tests")
COUNTS = ("n_obs", "n_treated", "n_comparison")


@pytest.fixture(scope="module")
def matched(tmp_path_factory):
    """The bundle, the run result, and what the cross-table pass received (tables before it, true values)."""
    from impact.data.synthetic import generate

    npd = Path(generate(tmp_path_factory.mktemp("d") / "npd", pupils=4000, seed=5, years=(2016, 2024)).path)
    seen = {}
    original = linked.protect_linked

    def spy(checked, values, relations, **kw):
        seen.update(before=dict(checked), values=dict(values))
        return original(checked, values, relations, **kw)

    out = tmp_path_factory.mktemp("r") / "bundle"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(linked, "protect_linked", spy)
        result = run(parse_spec(SPEC), data=npd, out=out, timestamp="2026-01-01T00:00:00+00:00")
    return out, result, seen


def intruder_system(values):
    """The intruder's equations over every count cell of the model tables, written out here
    independently of impact.disclosure.linked: subgroup levels sum to the whole sample (highest
    level splits n_treated only), n_obs = n_treated + n_comparison, and a count repeated with the
    same labels and value is one quantity. Remainders are assumed known, so b is not needed."""
    cells, rows = {}, []

    def cell(t, r, c):
        return cells.setdefault((t, r, c), len(cells))

    for t in MODELS:
        df = values[t].with_row_index("r")
        for row in df.iter_rows(named=True):
            rows.append({cell(t, row["r"], "n_obs"): 1, cell(t, row["r"], "n_treated"): -1, cell(t, row["r"], "n_comparison"): -1})
        for _, g in df.group_by("estimator_index", "outcome", "term"):
            total = g.filter(pl.col("subgroup").is_null())["r"].to_list()
            for sub, cols in (("highest_level", ["n_treated"]), ("phase", COUNTS), ("la_band_count", COUNTS)):
                parts = g.filter(pl.col("subgroup") == sub)["r"].to_list()
                for c in cols:
                    if parts:
                        rows.append({cell(t, total[0], c): 1, **{cell(t, p, c): -1 for p in parts}})
    first = {}
    for t in MODELS:
        for row in values[t].with_row_index("r").iter_rows(named=True):
            for c in COUNTS:
                key = (c, row[c], row["outcome"], row["subgroup"], row["subgroup_level"])
                j = cell(t, row["r"], c)
                if key in first:
                    rows.append({first[key]: 1, j: -1})
                else:
                    first[key] = j
    a = np.zeros((len(rows), len(cells)))
    for k, r in enumerate(rows):
        for j, v in r.items():
            a[k, j] = v
    return a, list(cells)


def recoverable_small_counts(tables, values):
    """Hidden counts below MIN_COUNT that the rank test shows are fixed by the released ones."""
    a, cells = intruder_system(values)
    hidden = np.array([tables[t].table[c][r] is None for t, r, c in cells])
    u = np.flatnonzero(hidden)
    base = np.linalg.matrix_rank(a[:, u])
    found = []
    for j in u:
        t, r, c = cells[j]
        if values[t][c][r] < MIN_COUNT:
            e = (u == j).astype(float)[None, :]
            if np.linalg.matrix_rank(np.vstack([a[:, u], e])) == base:
                found.append(cells[j])
    return found


def test_no_small_count_of_a_real_run_can_be_solved_from_the_other_tables(matched):
    _, result, seen = matched
    values = seen["values"]
    small = [(t, c) for t in MODELS for c in COUNTS if (values[t][c] < MIN_COUNT).any()]
    assert small, "the spec must produce small subgroup counts for this test to mean anything"
    assert recoverable_small_counts(seen["before"], values), "primary suppression alone should leak"
    assert recoverable_small_counts(result.checked, values) == []
    est = result.checked["estimates"]
    notes = est.properties["linked_suppression"]
    assert any(n["why"].startswith("secondary, linked to") for n in notes)


def test_disclosure_json_records_the_cross_table_suppressions(matched):
    out, result, _ = matched
    doc = json.loads((out / "disclosure.json").read_text())
    est = doc["results"]["estimates"]
    assert est["files"][0]["sdc"]["summary"]["secondary-linked"] == len(result.checked["estimates"].cells["secondary-linked"])
    assert est["properties"]["linked_suppression"] == result.checked["estimates"].properties["linked_suppression"]


def test_matched_run_ships_the_overlap_figure_with_the_csv_it_plots(matched):
    out, result, seen = matched
    assert (out / "figures" / "propensity_overlap.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    released = pl.read_csv(out / "propensity_overlap.csv")
    assert released.columns == ["bin_low", "bin_high", "comparison", "treated"]
    cfg = DisclosureConfig(min_count=MIN_COUNT)
    again = check_table(released, "histogram", config=cfg, name="overlap", fixed_edges=True)
    assert again.status == "pass"
    assert released["bin_low"][0] == 0.0 and released["bin_high"][-1] == 1.0  # fixed propensity edges
    assert (released["bin_low"][1:] == released["bin_high"][:-1]).all()  # contiguous after merging
    before = seen["values"]["balance"].filter(pl.col("sample") == "before").row(0, named=True)
    assert released["treated"].sum() == before["n_treated"] and released["comparison"].sum() == before["n_comparison"]
    doc = json.loads((out / "disclosure.json").read_text())["results"]["propensity_overlap"]
    assert [f["name"] for f in doc["files"]] == ["propensity_overlap.csv", "figures/propensity_overlap.png"]
    assert "Propensity score overlap" in (out / "report.html").read_text()


@pytest.mark.peers
def test_acro_loader_reads_every_output_status_and_file(matched, tmp_path):
    acro_record = pytest.importorskip("acro.record")
    out, result, _ = matched
    folder = tmp_path / "checker"
    shutil.copytree(out, folder)
    shutil.copy(folder / "disclosure.json", folder / "results.json")  # the name ACRO's tooling looks for
    records = acro_record.load_records(str(folder))
    doc = json.loads((out / "disclosure.json").read_text())
    assert set(records.results) == set(doc["results"]) >= set(result.checked)
    for name, entry in doc["results"].items():
        rec = records.results[name]
        assert rec.status == entry["status"] and rec.uid == name
        assert rec.sdc == entry["files"][0]["sdc"] and rec.exception == entry["exception"]
        csvs = [f["name"] for f in entry["files"] if f["name"].endswith(".csv")]
        assert len(rec.output) == len(csvs) >= 1
        for frame, csv in zip(rec.output, csvs):
            assert frame.shape == pl.read_csv(out / csv).shape
        assert rec.outcome.shape[0] == len(entry["outcome"][next(iter(entry["outcome"]))])

"""`impact run` end to end on small synthetic data: bundle contents, determinism, atomicity,
identifier canaries, no network, exit codes."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from impact import cli
from impact.pipeline import run
from impact.spec import parse_spec

SPEC = {
    "name": "t_attendance",
    "question": "Did absence fall?",
    "data": {"synthetic": {"pupils": 4000, "seed": 5, "years": [2016, 2024]}},
    "cohort": {"years": [2017, 2024], "exclude_cla": True},
    "panel": "attendance",
    "outcomes": ["overall_absence_rate", "persistent_absence"],
    "estimators": [
        {"did": {"post_from": 2022, "exclude_years": [2020, 2021], "fixed_effects": ["pupil_id", "year"], "cluster": "la"}},
        {"event_study": {"treat_start": 2022, "reference": -3, "exclude_periods": [2020, 2021],
                         "fixed_effects": ["pupil_id", "year"], "cluster": "la"}},
    ],
}
STAMP = "2026-01-01T00:00:00+00:00"
BUNDLE_FILES = {
    "estimates.csv", "event_study.csv", "pretrend_tests.csv", "cohort_sizes.csv", "attrition.csv",
    "report.html", "manifest.json", "disclosure.json", "spec.yaml", "logs/run.log",
    "figures/event_study_overall_absence_rate.png", "figures/event_study_overall_absence_rate.csv",
}


@pytest.fixture(scope="module")
def npd(tmp_path_factory):
    from impact.data.synthetic import generate

    return Path(generate(tmp_path_factory.mktemp("d") / "npd", pupils=4000, seed=5, years=(2016, 2024)).path)


@pytest.fixture(scope="module")
def bundle(npd, tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "bundle"
    result = run(parse_spec(SPEC), data=npd, out=out, timestamp=STAMP)
    return out, result


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_bundle_has_every_output_and_planted_truth(bundle):
    out, result = bundle
    assert BUNDLE_FILES <= _files(out)
    est = result.estimates
    did_row = est.filter((est["estimator"] == "did") & (est["outcome"] == "overall_absence_rate")).row(0, named=True)
    assert did_row["truth"] is not None and did_row["n_treated"] >= 10
    report = (out / "report.html").read_text()
    assert "truth" in report and "Did absence fall?" in report and "data:image/png;base64," in report
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["seed"] == 1 and manifest["inputs"] and manifest["software"]["duckdb"]
    assert {s["stage"] for s in manifest["timings"]} >= {"data", "validate", "cohort", "estimate", "disclosure"}
    disclosure = json.loads((out / "disclosure.json").read_text())
    assert {r["status"] for r in disclosure["results"].values()} <= {"pass", "review", "fail"}
    log = (out / "logs" / "run.log").read_text()
    assert "panel attendance" in log


def test_no_pupil_identifier_reaches_any_output_or_log(bundle, npd):
    out, _ = bundle
    con = duckdb.connect()
    ids = set()
    for f in npd.glob("spring_census_*.parquet"):
        col = next(c for c in duckdb.read_parquet(str(f), connection=con).columns if c.startswith("PupilMatchingRef"))
        ids |= {r[0] for r in con.execute(f'SELECT DISTINCT "{col}" FROM read_parquet(?)', [str(f)]).fetchall()}
    assert len(ids) > 1000
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in {".csv", ".json", ".html", ".log", ".yaml"}:
            text = path.read_text()
            leaked = [i for i in ids if i in text]
            assert not leaked, f"{path.name} contains pupil identifiers"


def test_same_seed_same_outputs_byte_for_byte(bundle, npd, tmp_path):
    out, _ = bundle
    again = tmp_path / "again"
    run(parse_spec(SPEC), data=npd, out=again, timestamp=STAMP)
    varying = {"manifest.json", "logs/run.log"}  # timings, memory and log times differ by design
    for name in sorted(_files(out) - varying):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_cache_reuses_the_panel_and_gives_the_same_outputs(bundle, npd, tmp_path, monkeypatch):
    out, _ = bundle
    cache = tmp_path / "cache"
    first = run(parse_spec(SPEC), data=npd, out=tmp_path / "c1", timestamp=STAMP, cache=cache)
    assert first.manifest["cohort_cache"]["hit"] is False and len(list(cache.iterdir())) == 1

    def no_sql(*args, **kwargs):
        raise AssertionError("the cohort SQL ran although the cache holds the panel")

    monkeypatch.setattr("impact.pipeline.register_extracts", no_sql)
    second = run(parse_spec(SPEC), data=npd, out=tmp_path / "c2", timestamp=STAMP, cache=cache)
    assert second.manifest["cohort_cache"] == first.manifest["cohort_cache"] | {"hit": True}
    assert second.manifest["inputs"] == first.manifest["inputs"]
    for name in sorted(_files(out) - {"manifest.json", "logs/run.log"}):
        assert (out / name).read_bytes() == (tmp_path / "c2" / name).read_bytes(), name
    # a different cohort definition is a different key: the stub above is reached
    other = json.loads(json.dumps(SPEC))
    other["cohort"]["exclude_cla"] = False
    with pytest.raises(AssertionError, match="cohort SQL ran"):
        run(parse_spec(other), data=npd, cache=cache)


def test_cache_of_a_synthetic_spec_skips_generation(tmp_path, monkeypatch):
    first = run(parse_spec(SPEC), cache=tmp_path)

    def no_generation(*args, **kwargs):
        raise AssertionError("generated again although the cache holds the panel")

    monkeypatch.setattr("impact.data.synthetic.generate", no_generation)
    second = run(parse_spec(SPEC), cache=tmp_path)
    assert second.manifest["cohort_cache"]["hit"] is True
    assert second.estimates.equals(first.estimates)
    assert json.dumps(second.manifest["ground_truth"]) == json.dumps(first.manifest["ground_truth"])


def test_run_works_with_network_blocked(npd, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    result = run(parse_spec(SPEC), data=npd, out=tmp_path / "offline", timestamp=STAMP)
    assert result.estimates.height > 0


def test_killed_run_leaves_no_bundle_and_rerun_matches(bundle, npd, tmp_path):
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(SPEC))  # JSON is YAML
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "impact", "run", str(spec_file), "--data", str(npd), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(2.0)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists(), "a killed run left a bundle behind"
    done = subprocess.run(cmd, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert not [p for p in tmp_path.iterdir() if ".impact-tmp-" in p.name], "stale temporary folder left"
    reference, _ = bundle
    for name in ("estimates.csv", "event_study.csv", "cohort_sizes.csv"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), name


def test_exit_codes_for_bad_spec_bad_data_and_existing_output(npd, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\n")
    assert cli.main(["run", str(bad), "--quiet"]) == 2
    good = tmp_path / "good.json"
    good.write_text(json.dumps(SPEC))
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["run", str(good), "--data", str(empty), "--out", str(tmp_path / "o1"), "--quiet"]) == 3
    assert not (tmp_path / "o1").exists()
    (tmp_path / "o2").mkdir()
    assert cli.main(["run", str(good), "--data", str(npd), "--out", str(tmp_path / "o2"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("impact: error: ") for line in err) and len(err) == 3


def test_unknown_column_in_spec_is_a_spec_error_naming_the_field(npd, tmp_path):
    spec = json.loads(json.dumps(SPEC))
    spec["estimators"][0]["did"]["cluster"] = "la_code"
    from impact.errors import SpecError

    with pytest.raises(SpecError, match=r"estimators\[0\]\.did\.cluster: unknown column 'la_code'"):
        run(parse_spec(spec), data=npd)
    # checked on the panel's schema before any data is read: a folder that does not exist is never reached
    with pytest.raises(SpecError, match=r"estimators\[0\]\.did\.cluster"):
        run(parse_spec(spec), data=tmp_path / "no-such-folder")
    spec["estimators"][0]["did"]["cluster"] = "la"
    spec["estimators"][0]["did"]["fixed_effects"] = ["pupil_id", "year^nope"]
    with pytest.raises(SpecError, match=r"estimators\[0\]\.did\.fixed_effects\[1\]: unknown column 'year\^nope'"):
        run(parse_spec(spec), data=npd)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(spec))
    assert cli.main(["validate", str(bad)]) == 2
    spec["estimators"][0]["did"]["fixed_effects"] = ["pupil_id", "year^ever6_fsm"]
    bad.write_text(json.dumps(spec))
    assert cli.main(["validate", str(bad)]) == 0
    spec["estimators"][0]["did"]["treatment"] = "first_wave"  # a post16 panel column, not an attendance one
    with pytest.raises(SpecError, match=r"estimators\[0\]\.did\.treatment: unknown column 'first_wave'"):
        run(parse_spec(spec), data=npd)


def test_subgroups_give_one_estimate_per_level_with_checked_counts(npd, tmp_path):
    spec = json.loads(json.dumps(SPEC))
    spec["estimators"] = spec["estimators"][:1]
    spec["outcomes"] = ["overall_absence_rate"]
    spec["subgroups"] = ["highest_level", "phase"]
    result = run(parse_spec(spec), data=npd)
    est = result.estimates
    levels = est.filter(est["subgroup"] == "highest_level")["subgroup_level"].to_list()
    assert set(levels) <= {"CIN", "CPP"} and levels, "looked-after pupils are excluded, so CLA cannot appear"
    assert set(est.filter(est["subgroup"] == "phase")["subgroup_level"].to_list()) == {"primary", "secondary"}
    assert est.filter(est["subgroup"].is_null()).height == 1


def test_subsets_keep_whole_comparison_for_highest_level_and_split_both_arms_by_phase():
    import polars as pl

    from impact.pipeline import _subsets

    frame = pl.DataFrame({
        "treated": [1, 1, 0, 0, 1],
        "highest_level": ["CIN", "CPP", None, None, "CIN"],
        "nc_year": ["3", "9", "4", "10", "R"],
    })
    spec = parse_spec({**SPEC, "subgroups": ["highest_level", "phase"]})
    got = {(g, lvl): rows for g, lvl, rows in _subsets(spec, frame)}
    assert got[(None, None)].height == 5
    # CIN: both CIN treated rows plus every comparison row; CPP: its one treated row plus the comparison
    assert got[("highest_level", "CIN")]["treated"].to_list() == [1, 0, 0, 1]
    assert got[("highest_level", "CPP")]["treated"].to_list() == [1, 0, 0]
    # phase splits treated and comparison alike: R-6 primary, 7 and above secondary
    assert got[("phase", "primary")]["nc_year"].to_list() == ["3", "4", "R"]
    assert got[("phase", "secondary")]["nc_year"].to_list() == ["9", "10"]


def test_unknown_subgroup_column_and_year_groups_without_nc_year_are_spec_errors(npd):
    from impact.errors import SpecError

    spec = json.loads(json.dumps(SPEC))
    spec["panel"] = "ks4"
    spec["outcomes"] = ["att8"]
    spec["estimators"] = [{"did": {"post_from": 2022, "fixed_effects": ["year"], "cluster": "la"}}]
    spec["cohort"]["year_groups"] = ["11"]
    with pytest.raises(SpecError, match="cohort.year_groups: the ks4 panel has no NC year"):
        run(parse_spec(spec), data=npd)


def test_latent_index_fits_a_probit_to_zero_one_outcomes_only(npd):
    spec = json.loads(json.dumps(SPEC))
    spec["panel"] = "ks4"
    spec["outcomes"] = ["att8", "em95"]
    spec["estimators"] = [{"did": {"post_from": 2022, "exclude_years": [2020, 2021], "fixed_effects": ["year"],
                                   "cluster": "la", "threshold_outcomes": "latent_index"}}]
    table = run(parse_spec(spec), data=npd).tables["estimates"]
    methods = dict(zip(table["outcome"], table["method"]))
    assert methods == {"att8": "twfe", "em95": "probit_did"}
    # its truth is the generator's realised mean effect on the treated post rows (a small planted gain)
    assert 0 < table.filter(table["outcome"] == "em95")["truth"].item() < 0.05


def test_few_clusters_switches_to_the_wild_bootstrap_below_twenty_clusters(npd):
    from scipy import stats

    spec = json.loads(json.dumps(SPEC))
    spec["outcomes"] = ["overall_absence_rate"]
    spec["estimators"] = [{"did": {"post_from": 2022, "exclude_years": [2020, 2021], "fixed_effects": ["pupil_id", "year"],
                                   "cluster": cl, "few_clusters": "wild_webb", "bootstrap_reps": 199}}
                          for cl in ("la", "nc_year")]  # 150 LAs; 14 NC years (a test of the switch, not a design)
    rows = run(parse_spec(spec), data=npd).estimates.sort("estimator_index").rows(named=True)
    half = [(r["ci_high"] - r["ci_low"]) / 2 for r in rows]
    t = [stats.t.ppf(0.975, r["df"]) * r["std_error"] for r in rows]
    assert rows[0]["n_clusters"] == 150 and half[0] == pytest.approx(t[0], rel=1e-9)  # CR1, as before
    assert rows[1]["n_clusters"] < 20 and half[1] != pytest.approx(t[1], rel=1e-3)  # bootstrap test inversion

"""Synthetic NPD generator: contracts, determinism, ground truth, atomic writing, argument checks."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from impact.data.contracts import CONTRACTS
from impact.data.synthetic import PlantedEffects, generate
from impact.data.synthetic.calibration import cohort_counts
from impact.errors import ParameterError

YEARS = (2018, 2023)
PUPILS = 5_000


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn") / "npd"
    return generate(out, pupils=PUPILS, seed=7, years=YEARS)


def _hashes(path: Path) -> dict[str, str]:
    """SHA-256 of every file under `path` (ground_truth/ included), by relative path."""
    return {p.relative_to(path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


def _contract_for(name: str):
    for c in CONTRACTS.values():
        for pattern in c.files:
            if re.fullmatch(pattern.replace(".", r"\.").replace("*", ".*"), name):
                return c
    raise AssertionError(f"no contract for {name}")


_KIND_OK = {
    "str": pa.types.is_string,
    "int": pa.types.is_integer,
    "flag": pa.types.is_integer,
    "float": pa.types.is_floating,
    "date": pa.types.is_date,
}


def test_files_and_columns_match_contracts(data):
    names = sorted(p.name for p in data.path.glob("*.parquet"))
    expected = {f"{t}_{y}.parquet" for t in ("spring_census", "absence", "exclusions") for y in range(YEARS[0], YEARS[1] + 1)}
    expected |= {"ks2.parquet", "ks4.parquet", "cin.parquet", "cla_episodes.parquet", "care_leavers.parquet",
                 "la_lookup.parquet", "pp_plus_pilot.parquet"}
    assert set(names) == expected
    for name in names:
        contract = _contract_for(name)
        table = pq.read_table(data.path / name)
        cols = {}
        for field in table.schema:
            base = re.sub(contract.suffix, "", field.name) if contract.suffix else field.name
            if contract.suffix:
                assert re.search(contract.suffix, field.name), (name, field.name)
                assert contract.year_from_suffix(field.name) == int(name[-12:-8])
            cols[base] = table[field.name]
        required = {c.name for c in contract.columns if c.required}
        assert required <= set(cols), (name, required - set(cols))
        assert set(cols) <= {c.name for c in contract.columns}, (name, set(cols) - {c.name for c in contract.columns})
        for cname, arr in cols.items():
            col = contract.column(cname)
            assert _KIND_OK[col.kind](arr.type), (name, cname, arr.type)
            if not col.nullable:
                assert arr.null_count == 0, (name, cname)
            valid = arr.drop_null()
            if len(valid) == 0:
                continue
            if col.kind == "flag":
                assert set(pc.unique(valid).to_pylist()) <= {0, 1}, (name, cname)
            if col.codes is not None:
                assert set(pc.unique(valid).to_pylist()) <= set(col.codes), (name, cname)
            if col.min is not None and col.kind in ("int", "float"):
                assert pc.min(valid).as_py() >= col.min and pc.max(valid).as_py() <= col.max, (name, cname)
        key = [k for k in contract.key if k in cols]
        if key:
            keyed = pa.table({k: cols[k] for k in key})
            assert keyed.group_by(key).aggregate([]).num_rows == table.num_rows, (name, "key not unique")
        for early, late in contract.not_after:
            if early in cols and late in cols:
                bad = pc.sum(pc.cast(pc.greater(cols[early], cols[late]), pa.int64())).as_py() or 0
                assert bad == 0, (name, early, late)


def test_deterministic_and_seed_sensitive(data, tmp_path):
    again = generate(tmp_path / "again", pupils=PUPILS, seed=7, years=YEARS)
    assert _hashes(again.path) == _hashes(data.path)
    assert {"ground_truth/vsh_attendance.parquet", "ground_truth/vsh_ks4.parquet",
            "ground_truth/pp_plus.parquet"} <= set(_hashes(data.path))
    other = generate(tmp_path / "other", pupils=PUPILS, seed=8, years=YEARS)
    h1, h2 = _hashes(data.path), _hashes(other.path)
    assert h1["spring_census_2020.parquet"] != h2["spring_census_2020.parquet"]
    assert h1["cin.parquet"] != h2["cin.parquet"]


def test_cohort_counts_recomputed_from_files(data):
    truth = data.ground_truth["cohort_counts"]["by_year"]
    for year in range(YEARS[0], YEARS[1] + 1):
        got = cohort_counts(data.path, year)
        assert got["treated"] == truth[str(year)]["treated"]
        assert got["comparison"] == truth[str(year)]["comparison"]
        assert got["ever6_cwsw"] == truth[str(year)]["ever6_cwsw"]
        assert got["treated"] > 0 and got["comparison"] > 0


def test_everfsm6_agrees_with_derived_rule(data):
    # definitions.md: FSMeligible = 1 at any spring census in years Y-5..Y; the last year has all six written
    y = YEARS[1]
    springs = " UNION ALL ".join(
        f"SELECT PupilMatchingRefAnonymous_SPR{k % 100:02d} AS pmr, FSMeligible_SPR{k % 100:02d} AS f "
        f"FROM read_parquet('{data.path}/spring_census_{k}.parquet')" for k in range(y - 5, y + 1))
    bad = duckdb.sql(
        f"WITH h AS (SELECT pmr, max(f) AS derived FROM ({springs}) GROUP BY pmr), "
        f"c AS (SELECT PupilMatchingRefAnonymous_SPR23 AS pmr, max(EVERFSM_6_SPR23) AS col "
        f"FROM read_parquet('{data.path}/spring_census_{y}.parquet') GROUP BY 1) "
        f"SELECT count(*) FILTER (c.col <> h.derived), count(*) FROM c JOIN h USING (pmr)").fetchall()[0]
    assert bad[1] > 0.9 * PUPILS
    assert bad[0] == 0  # "on generated data with complete histories the two routes agree"


def test_collection_gaps_and_regimes(data):
    con = duckdb.connect()
    a = con.execute(f"SELECT count(*) FILTER (SessionsPossible_Spring IS NOT NULL OR SessionsPossible_Summer IS NOT NULL), "
                    f"count(*) FILTER (SessionsPossible_Autumn IS NULL) FROM read_parquet('{data.path}/absence_2020.parquet')").fetchall()[0]
    assert a == (0, 0)
    y11 = con.execute(
        f"SELECT max(a.SessionsPossible_Summer6th) FROM read_parquet('{data.path}/absence_2022.parquet') a "
        f"JOIN read_parquet('{data.path}/spring_census_2022.parquet') c ON c.PupilMatchingRefAnonymous_SPR22 = a.PupilMatchingRefAnonymous "
        f"WHERE c.NCyearActual_SPR22 = '11'").fetchall()[0][0]
    assert y11 == 0
    ks4 = con.execute(f"SELECT KS4_ACADYR, count(KS4_P8SCORE), count(*) FROM read_parquet('{data.path}/ks4.parquet') "
                      f"GROUP BY 1 ORDER BY 1").fetchall()
    for acadyr, p8, n in ks4:
        if acadyr in ("2019/2020", "2020/2021"):
            assert p8 == 0 and n > 0
        else:
            assert p8 > 0.9 * n
    ks2_years = {r[0] for r in con.execute(f"SELECT DISTINCT KS2_ACADYR FROM read_parquet('{data.path}/ks2.parquet')").fetchall()}
    assert "2019/2020" not in ks2_years and "2020/2021" not in ks2_years and "2018/2019" in ks2_years


def test_linkage_and_social_care_shape(data):
    con = duckdb.connect()
    missing = con.execute(f"SELECT avg((CIN_PupilMatchingRefAnonymous IS NULL)::INT) FROM read_parquet('{data.path}/cin.parquet')").fetchall()[0][0]
    assert 0.2 <= missing <= 0.4
    # every CIN row with a PMR and a CPP is inside its episode; repeated rows per collection year exist
    rep = con.execute(f"SELECT max(n) FROM (SELECT count(*) n FROM read_parquet('{data.path}/cin.parquet') "
                      f"GROUP BY CIN_LA, CIN_LAchildID_Anon, CIN_ReferralDate)").fetchall()[0][0]
    assert rep >= 2
    ages = {r[0] for r in con.execute(f"SELECT DISTINCT CLA_AGE FROM read_parquet('{data.path}/care_leavers.parquet')").fetchall()}
    assert {17, 18} <= ages
    waves = dict(con.execute(f"SELECT FirstYear, count(*) FROM read_parquet('{data.path}/pp_plus_pilot.parquet') GROUP BY 1").fetchall())
    assert waves == {"2021/2022": 30, "2022/2023": 28, "2023/2024": 94}
    las = con.execute(f"SELECT count(DISTINCT LA), count(DISTINCT LA_9Code) FROM read_parquet('{data.path}/la_lookup.parquet')").fetchall()[0]
    assert las == (152, 152)
    dual = con.execute(f"SELECT count(*) FILTER (EnrolStatus_SPR21 = 'S'), count(*) FILTER (EnrolStatus_SPR21 = 'M') "
                       f"FROM read_parquet('{data.path}/spring_census_2021.parquet')").fetchall()[0]
    assert dual[0] == dual[1] and 0 < dual[0] < 0.1 * PUPILS


def test_realised_att_matches_planted_effect_on_expected_scale(data):
    att = data.ground_truth["realised_att"]["vsh"]
    eff = PlantedEffects()
    # expected-rate scale: exact up to clipping of the rate to [0, 0.95]
    assert att["expected_absence_rate"]["att"] == pytest.approx(eff.absence, abs=5e-4)
    # realised rates add binomial noise of the coupled draws: sd per pupil-year <= ~0.6 pp
    n = att["overall_absence_rate"]["n"]
    assert n > 500
    assert abs(att["overall_absence_rate"]["att"] - eff.absence) < 4 * 0.006 / np.sqrt(n)
    assert att["unauthorised_absence_rate"]["att"] == pytest.approx(eff.absence * eff.absence_unauthorised_share, abs=1e-3)
    assert att["attainment8"]["att"] == pytest.approx(eff.attainment8, abs=0.15)  # clipping of A8 at 0


def test_zero_effects_give_exactly_zero_att(tmp_path):
    g = generate(tmp_path / "zero", pupils=3_000, seed=3, years=(2021, 2023), effects=PlantedEffects.zero())
    for group in g.ground_truth["realised_att"].values():
        for outcome in group.values():
            assert outcome["att"] == 0.0
            assert all(v["att"] == 0.0 for v in outcome["by_year"].values())


def test_failure_midway_leaves_nothing(tmp_path, monkeypatch):
    import impact.data.synthetic.engine as engine

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine, "write_lookups", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        generate(tmp_path / "npd", pupils=1_000, years=(2022, 2022))
    assert list(tmp_path.iterdir()) == []


def test_refuses_to_overwrite_unless_asked(tmp_path):
    out = tmp_path / "npd"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    with pytest.raises(ParameterError, match="'out' parameter"):
        generate(out, pupils=1_000, years=(2022, 2022))
    assert (out / "keep.txt").exists()
    generate(out, pupils=1_000, years=(2022, 2022), overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "ground_truth.json").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["npd"]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"pupils": 10}, "pupils"),
        ({"pupils": 5000.0}, "pupils"),
        ({"years": (2009, 2015)}, "years"),
        ({"years": (2020, 2019)}, "years"),
        ({"years": 2020}, "years"),
        ({"pretrend": "x"}, "pretrend"),
        ({"effects": {"absence": 0}}, "effects"),
        ({"seed": -1}, "seed"),
        ({"link_failure": 0.9}, "link_failure"),
    ],
)
def test_bad_arguments(tmp_path, kwargs, name):
    with pytest.raises(ParameterError, match=f"'{name}' parameter of generate"):
        generate(tmp_path / "npd", **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_bad_planted_effects():
    with pytest.raises(ParameterError, match="'absence' parameter of PlantedEffects"):
        PlantedEffects(absence=0.5)
    with pytest.raises(ParameterError, match="'dynamic' parameter of PlantedEffects"):
        PlantedEffects(dynamic=())


def test_write_burn_in_writes_the_look_back_years(tmp_path):
    g = generate(tmp_path / "npd", pupils=2_000, seed=2, years=(2022, 2023), write_burn_in=True)
    years = sorted(int(p.name[-12:-8]) for p in g.path.glob("spring_census_*.parquet"))
    assert years == list(range(2017, 2024))
    assert g.ground_truth["arguments"]["write_burn_in"] is True
    springs = " UNION ALL ".join(
        f"SELECT PupilMatchingRefAnonymous_SPR{k % 100:02d} AS pmr, FSMeligible_SPR{k % 100:02d} AS f "
        f"FROM read_parquet('{g.path}/spring_census_{k}.parquet')" for k in range(2017, 2023))
    bad = duckdb.sql(
        f"WITH h AS (SELECT pmr, max(f) AS derived FROM ({springs}) GROUP BY pmr) "
        f"SELECT count(*) FILTER (c.EVERFSM_6_SPR22 <> h.derived) FROM read_parquet('{g.path}/spring_census_2022.parquet') c "
        f"JOIN h ON h.pmr = c.PupilMatchingRefAnonymous_SPR22").fetchall()[0][0]
    assert bad == 0

"""Identifier guard, CheckedTable integrity, require_pass and the disclosure.json bundle."""
import hashlib
import json
import logging
import os

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impact.disclosure import CheckedTable, DisclosureConfig, check_table, require_pass, strip_identifiers
from impact.disclosure import write_disclosure_json
from impact.errors import DisclosureError, ParameterError

CANARY = "CANARY-PMR-123"


def with_identifiers():
    return pl.DataFrame({
        "KS4_PupilMatchingRefAnonymous": [CANARY, CANARY + "b"],
        "UPN": [CANARY, CANARY],
        "LAEstab": [CANARY, CANARY],
        "school_urn": [CANARY, CANARY],
        "band": ["small", "large"],
        "count": [25, 40],
    })


def test_strip_identifiers_drops_by_name_case_insensitively():
    out, dropped = strip_identifiers(with_identifiers())
    assert dropped == ("KS4_PupilMatchingRefAnonymous", "UPN", "LAEstab", "school_urn")
    assert out.columns == ["band", "count"]
    custom, dropped = strip_identifiers(with_identifiers(), DisclosureConfig(identifier_patterns=["band"]))
    assert dropped == ("band",) and "UPN" in custom.columns


def test_canary_identifiers_never_reach_the_table_the_bundle_or_the_log(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    cfg = DisclosureConfig()
    ct = check_table(with_identifiers(), "frequency", name="by_band", config=cfg)
    assert CANARY not in str(ct.table.to_dicts()) and CANARY not in repr(ct)
    assert "UPN" in " ".join(ct.comments)  # the name is recorded, the values are not
    path = write_disclosure_json([ct], tmp_path / "disclosure.json", config=cfg, timestamp="T")
    text = path.read_text()
    assert CANARY not in text and CANARY not in caplog.text
    assert json.loads(text)["results"]["by_band"]["properties"]["dropped_identifiers"][1] == "UPN"


def test_checked_table_cannot_be_built_or_changed_outside_check_table():
    with pytest.raises(TypeError, match="only by impact.disclosure.check_table"):
        CheckedTable(object(), name="x", table=pl.DataFrame({"a": [1]}), status="pass")
    ct = check_table(pl.DataFrame({"g": ["a", "b"], "n": [20, 30]}), "frequency", name="t")
    with pytest.raises(AttributeError):
        ct.status = "pass"
    with pytest.raises(AttributeError):
        ct._table = pl.DataFrame()
    copy = ct.table
    copy[0, "n"] = 1
    assert ct.table["n"][0] == 20


def test_require_pass():
    bad = check_table(pl.DataFrame({"g": ["a"], "n": [20], "max": [3]}), "frequency", name="t")
    with pytest.raises(DisclosureError, match="output 't' failed disclosure control") as e:
        require_pass(bad)
    assert e.value.exit_code == 4
    assert require_pass(bad, required=False) is bad
    review = check_table(pl.DataFrame({"g": ["a", "b", "c"], "n": [5, 30, 40]}), "frequency", name="r")
    assert require_pass(review).status == "review"


def bundle_tables(cfg):
    freq = check_table(pl.DataFrame({"g": ["a", "b", "c"], "n": [5, 30, 40]}), "frequency", name="counts", config=cfg)
    ok = check_table(pl.DataFrame({"g": ["a", "b"], "n": [50, 30]}), "frequency", name="ok", config=cfg)
    return [freq, ok]


def test_bundle_layout_like_acro_results_json(tmp_path):
    cfg = DisclosureConfig()
    csv = tmp_path / "counts.csv"
    csv.write_bytes(b"g,n\nb,30\n")
    path = write_disclosure_json(bundle_tables(cfg), tmp_path / "disclosure.json", config=cfg,
                                 timestamp="2026-01-01T00:00:00+00:00", files={"counts": csv})
    doc = json.loads(path.read_text())
    assert doc["tool"]["name"] == "impact" and doc["config"]["min_count"] == 10 and doc["version"] == "1.0.2"
    out = doc["results"]["counts"]
    assert {"uid", "status", "type", "properties", "files", "outcome", "command", "summary", "timestamp",
            "comments", "exception", "fair"} <= set(out)
    assert out["status"] == "review" and out["exception"].startswith("Suppression automatically applied")
    sdc = out["files"][0]["sdc"]
    assert sdc["summary"] == {"secondary": 1, "threshold": 1}
    assert sdc["cells"] == {"secondary": [[1, 1]], "threshold": [[0, 1]]}
    assert out["outcome"]["n"] == ["threshold", "secondary", "ok"]
    digest = hashlib.sha256(b"g,n\nb,30\n").hexdigest()
    assert out["files"][0] == {**out["files"][0], "name": "counts.csv", "sha256": digest}
    assert doc["checksums"] == {"counts.csv": digest}
    assert doc["results"]["ok"]["status"] == "pass" and doc["results"]["ok"]["files"][0]["sha256"] is None


def test_bundle_rejects_mixed_configs_duplicates_and_unknown_files(tmp_path):
    cfg = DisclosureConfig()
    tables = bundle_tables(cfg)
    with pytest.raises(ParameterError, match="different DisclosureConfig"):
        write_disclosure_json(tables, tmp_path / "d.json", config=DisclosureConfig(min_count=5))
    with pytest.raises(ParameterError, match="unique"):
        write_disclosure_json(tables + tables[:1], tmp_path / "d.json", config=cfg)
    with pytest.raises(ParameterError, match="not passed"):
        write_disclosure_json(tables, tmp_path / "d.json", config=cfg, files={"nope": tmp_path / "x.csv"})


def test_bundle_is_deterministic_apart_from_timestamps(tmp_path):
    cfg = DisclosureConfig()
    a = write_disclosure_json(bundle_tables(cfg), tmp_path / "a.json", config=cfg, timestamp="T0").read_bytes()
    b = write_disclosure_json(bundle_tables(cfg), tmp_path / "b.json", config=cfg, timestamp="T0").read_bytes()
    c = write_disclosure_json(bundle_tables(cfg), tmp_path / "c.json", config=cfg, timestamp="T1").read_bytes()
    assert a == b and a != c
    assert a.replace(b'"T0"', b'"T1"') == c


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    cfg = DisclosureConfig()
    target = tmp_path / "disclosure.json"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_disclosure_json(bundle_tables(cfg), target, config=cfg, timestamp="T")
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    target.write_text("old")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_disclosure_json(bundle_tables(cfg), target, config=cfg, timestamp="T")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["disclosure.json"]


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 4).flatmap(
        lambda r: st.integers(1, 4).flatmap(
            lambda c: st.lists(st.lists(st.integers(0, 40), min_size=c, max_size=c), min_size=r, max_size=r)
        )
    ),
    st.integers(1, 15),
    st.booleans(),
    st.booleans(),
    st.sampled_from([None, 5]),
)
def test_every_released_count_is_safe_or_suppressed(rows, min_count, zeros, margins, base):
    if base:  # a rounded count can only stay >= min_count if min_count is a multiple of the base
        min_count = base * -(-min_count // base)
    x = np.array(rows)
    frame = pl.DataFrame({"g": [f"r{i}" for i in range(x.shape[0])], **{f"c{j}": x[:, j] for j in range(x.shape[1])}})
    cfg = DisclosureConfig(min_count=min_count, zeros_disclosive=zeros, rounding_base=base)
    ct = check_table(frame, "frequency", name="t", config=cfg, margins=margins)
    released = ct.table.drop("g").to_numpy()
    shown = released[~np.isnan(released.astype(float))].astype(int)
    assert np.all((shown >= min_count) | ((shown == 0) & (not zeros)))
    assert ct.status in ("review", "fail") or np.all((x >= min_count) | ((x == 0) & (not zeros)))

"""Atomic writing and provenance helpers."""
from __future__ import annotations

import hashlib
import os

import pytest

from impact.errors import ParameterError
from impact.manifest import StageTimer, file_fingerprint, fingerprint_inputs, peak_rss_mb, software_versions
from impact.outputs import atomic_directory, write_text_atomic


def test_write_text_atomic_replaces_whole_file_and_leaves_no_temp(tmp_path):
    p = tmp_path / "a.json"
    write_text_atomic(p, "one")
    write_text_atomic(p, "two")
    assert p.read_text() == "two"
    mask = os.umask(0)
    os.umask(mask)
    assert p.stat().st_mode & 0o777 == 0o666 & ~mask
    assert os.listdir(tmp_path) == ["a.json"]


def test_write_failure_leaves_old_content_and_no_temp(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    write_text_atomic(p, "old")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        write_text_atomic(p, "new")
    monkeypatch.undo()
    assert p.read_text() == "old"
    assert os.listdir(tmp_path) == ["a.json"]


def test_atomic_directory_appears_only_when_complete(tmp_path):
    target = tmp_path / "bundle"
    with atomic_directory(target) as d:
        (d / "x.csv").write_text("a\n")
        assert not target.exists()
    assert (target / "x.csv").read_text() == "a\n"
    assert sorted(os.listdir(tmp_path)) == ["bundle"]
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o777 & ~mask


def test_failed_run_leaves_nothing(tmp_path):
    target = tmp_path / "bundle"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as d:
            (d / "x.csv").write_text("partial")
            raise RuntimeError("estimator failed")
    assert os.listdir(tmp_path) == []


def test_existing_target_refused_unless_overwrite_and_replaced_only_on_success(tmp_path):
    target = tmp_path / "bundle"
    target.mkdir()
    (target / "old.csv").write_text("old")
    with pytest.raises(ParameterError, match="already exists"):
        with atomic_directory(target):
            pass
    with pytest.raises(RuntimeError):
        with atomic_directory(target, overwrite=True) as d:
            (d / "new.csv").write_text("new")
            raise RuntimeError
    assert os.listdir(target) == ["old.csv"]
    with atomic_directory(target, overwrite=True) as d:
        (d / "new.csv").write_text("new")
    assert os.listdir(target) == ["new.csv"]
    assert sorted(os.listdir(tmp_path)) == ["bundle"]


def test_leftovers_of_a_killed_run_are_cleaned_by_the_next_but_live_runs_kept(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".bundle.impact-tmp-{dead.stdout.strip()}-abc123"
    stale.mkdir()
    (stale / "partial.csv").write_text("x")
    live = tmp_path / f".bundle.impact-tmp-{os.getppid()}-def456"
    live.mkdir()
    with atomic_directory(tmp_path / "bundle") as d:
        (d / "ok.csv").write_text("ok")
    assert sorted(os.listdir(tmp_path)) == [live.name, "bundle"]


def test_fingerprints_hash_and_size(tmp_path):
    (tmp_path / "b.parquet").write_bytes(b"bbb")
    (tmp_path / "a.parquet").write_bytes(b"aa")
    fps = fingerprint_inputs(tmp_path.iterdir(), root=tmp_path)
    assert [f["name"] for f in fps] == ["a.parquet", "b.parquet"]
    assert fps[0] == {"name": "a.parquet", "bytes": 2, "sha256": hashlib.sha256(b"aa").hexdigest()}
    assert file_fingerprint(tmp_path / "b.parquet")["sha256"] == hashlib.sha256(b"bbb").hexdigest()


def test_versions_timer_and_memory():
    v = software_versions()
    assert v["python"] and v["polars"] and v["duckdb"]
    t = StageTimer()
    with t.stage("load"):
        pass
    assert [s["stage"] for s in t.to_list()] == ["load"] and t.to_list()[0]["seconds"] >= 0
    assert peak_rss_mb() > 10


def test_run_log_goes_to_file_only_and_leaves_root_logger_alone(tmp_path):
    import logging

    from impact.runlog import attach_file, detach, get_logger

    root_handlers = list(logging.getLogger().handlers)
    h = attach_file(tmp_path / "logs" / "run.log")
    get_logger().info("stage cohort: %d rows", 1234)
    detach(h)
    get_logger().info("after detach")
    assert "stage cohort: 1234 rows" in (tmp_path / "logs" / "run.log").read_text()
    assert "after detach" not in (tmp_path / "logs" / "run.log").read_text()
    assert logging.getLogger().handlers == root_handlers


def test_missing_parent_folders_are_created(tmp_path):
    with atomic_directory(tmp_path / "a" / "b" / "bundle") as d:
        (d / "x").write_text("1")
    assert (tmp_path / "a" / "b" / "bundle" / "x").exists()

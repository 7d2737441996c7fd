"""The CLI is thin: usage errors exit 2 with one line, ImpactError maps to its exit code."""
from __future__ import annotations

import pytest

from impact import cli
from impact.errors import DataError


def test_version_and_help_exit_zero(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["--version"])
    assert e.value.code == 0
    assert "impact" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["frobnicate"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_bad_years_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["synth", "--out", "x", "--years", "twenty"])
    assert e.value.code == 2
    assert "FIRST-LAST" in capsys.readouterr().err


def test_impact_error_becomes_its_exit_code_and_one_line(monkeypatch, capsys, tmp_path):
    def boom(args):
        raise DataError("spring_census.LA: 3 rows below 100")

    monkeypatch.setattr("impact.cli_commands._run_data_check", boom)
    code = cli.main(["data", "check", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 3
    assert err == "impact: error: spring_census.LA: 3 rows below 100\n"


def test_cohorts_refuses_an_existing_output_folder(tmp_path, capsys):
    (tmp_path / "out").mkdir()
    code = cli.main(["cohorts", "--data", str(tmp_path), "--out", str(tmp_path / "out"), "--years", "2018-2019"])
    assert code == 2
    assert "already exists" in capsys.readouterr().err

"""The docs render from the repository as written: generated reference pages are current, every
relative link resolves, and every example runs on small synthetic data and writes sensible outputs.

Example sizes: IMPACT_DOCS_PUPILS pupils a year (default 10000: smaller extracts leave too few
treated pupils per KS4 year for the walkthrough's 12-covariate propensity model).
"""
from __future__ import annotations

import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
PUPILS = int(os.environ.get("IMPACT_DOCS_PUPILS", "10000"))


def _python(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *map(str, args)], cwd=cwd, capture_output=True, text=True)


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- generated reference pages ------------------------------------------------------------


def test_reference_pages_match_the_code():
    done = _python(ROOT / "docs" / "reference" / "generate.py", "--check", cwd=ROOT)
    assert done.returncode == 0, done.stderr


def test_reference_check_detects_a_stale_page(tmp_path, monkeypatch):
    generate = _load(ROOT / "docs" / "reference" / "generate.py")
    monkeypatch.setattr(generate, "HERE", tmp_path)
    assert generate.main([]) == 0  # writes the three pages into tmp_path
    assert generate.main(["--check"]) == 0
    page = tmp_path / "cli.md"
    page.write_text(page.read_text().replace("| 3 |", "| 5 |"))
    assert generate.main(["--check"]) == 1


# --- links --------------------------------------------------------------------------------

_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)


def _anchors(markdown: str) -> Iterator[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1/-2 for repeats."""
    seen: dict[str, int] = {}
    for heading in _HEADING.findall(_FENCE.sub("", markdown)):
        slug = re.sub(r"[^\w\- ]", "", heading.replace("`", "").lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        yield slug if seen[slug] == 0 else f"{slug}-{seen[slug]}"


def _links(path: Path) -> list[str]:
    text = _CODE.sub("", _FENCE.sub("", path.read_text(encoding="utf-8")))
    return [t for t in _LINK.findall(text) if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.I)]


PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md"), *EXAMPLES.glob("*.md")])


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for target in _links(page):
        file, _, anchor = target.partition("#")
        dest = (page.parent / file).resolve() if file else page
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in set(_anchors(dest.read_text(encoding="utf-8"))):
            broken.append(target)
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"


def test_link_checker_sees_links_and_anchors(tmp_path):
    page = tmp_path / "a.md"
    page.write_text("# A `b` c\n\n## Dup\n\n## Dup\n\n[x](b.md#top) ![i](img.png) [w](https://x.org)\n"
                    "`[no](code.md)`\n```\n[no](fenced.md)\n```\n")
    assert _links(page) == ["b.md#top", "img.png"]
    assert set(_anchors(page.read_text())) == {"a-b-c", "dup", "dup-1"}


# --- examples -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def extract(tmp_path_factory) -> Path:
    from impact.data.synthetic import generate

    return generate(tmp_path_factory.mktemp("docs") / "npd", pupils=PUPILS, seed=1).path


def test_api_walkthrough(extract, tmp_path):
    done = _python(EXAMPLES / "api_walkthrough.py", "--data", extract, "--out", tmp_path / "wt", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    out = tmp_path / "wt"
    for name in ("balance.csv", "did_att8.csv", "event_study.csv", "event_study.png", "summary.json"):
        assert (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text())
    did = summary["did_att8"]
    assert all(math.isfinite(did[k]) for k in ("estimate", "ci_low", "ci_high", "truth"))
    assert did["ci_low"] < did["estimate"] < did["ci_high"]
    # The interval is wide at this size; it should still contain the planted Attainment 8 effect.
    assert did["ci_low"] <= did["truth"] <= did["ci_high"]
    rows = summary["event_study_overall_absence_rate"]
    post = [r for r in rows if r["event_time"] >= 0]
    assert {r["event_time"] for r in post} == {0, 1, 2, 3}
    assert all(r["truth"] < 0 for r in post)  # the generator plants a reduction in absence
    assert sum(r["estimate"] for r in post) / len(post) < 0  # ... which the event study recovers in sign
    balance = pl.read_csv(out / "balance.csv")
    assert set(balance["sample"]) == {"before", "after"}
    assert "Attainment 8, matched DiD" in done.stdout and "planted" in done.stdout


TINY_SPEC = """\
version: 1
name: docs_test_attendance
data: {extracts: not_used_the_batch_script_passes_data}
cohort: {years: [2016, 2025], exclude_cla: true}
panel: attendance
outcomes: [overall_absence_rate]
design:
  match: {covariates: [ks2_read_score, ks2_read_missing, sen_provision], caliper: 0.2, missing: indicator}
estimators:
  - did: {post_from: 2022, exclude_years: [2020, 2021], fixed_effects: [pupil_id, year], cluster: la}
  - event_study: {treat_start: 2022, reference: -3, exclude_periods: [2020, 2021], fixed_effects: [pupil_id, year], cluster: la}
"""


def test_batch_run_and_figures_from_bundle(extract, tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC)
    results = tmp_path / "results"
    done = _python(EXAMPLES / "batch_run.py", spec, "--data", extract, "--results", results, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    runs = results / "docs_test_attendance"
    bundle = runs / (runs / "LATEST").read_text().strip()
    assert (bundle / "estimates.csv").exists() and (bundle / "report.html").exists()
    assert "exit 0: success" in (results / "batch.log").read_text()

    # Figures redrawn from the released CSVs are byte-identical to the bundle's own.
    redrawn = tmp_path / "redrawn"
    done = _python(EXAMPLES / "figures_from_bundle.py", bundle, "--out", redrawn, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    names = sorted(p.name for p in redrawn.glob("*.png"))
    assert names == ["event_study_overall_absence_rate.png", "love_plot.png"]
    for name in names:
        assert (redrawn / name).read_bytes() == (bundle / "figures" / name).read_bytes(), name

    # An invalid spec: exit 2 passed through, logged, and no bundle written beside the first.
    spec.write_text(TINY_SPEC.replace("cluster: la}", "clustr: la}", 1))
    done = _python(EXAMPLES / "batch_run.py", spec, "--data", extract, "--results", results, cwd=tmp_path)
    assert done.returncode == 2
    log = (results / "batch.log").read_text()
    assert "estimators[0].did.clustr: unknown key" in log and "exit 2: invalid spec" in log
    assert [p for p in runs.iterdir() if p.is_dir()] == [bundle]


def test_batch_run_never_reuses_a_bundle_folder(tmp_path):
    batch = _load(EXAMPLES / "batch_run.py")
    first = batch.new_bundle_dir(tmp_path, "spec", "20250101T000000Z")
    assert first == tmp_path / "spec" / "20250101T000000Z"
    first.mkdir(parents=True)
    second = batch.new_bundle_dir(tmp_path, "spec", "20250101T000000Z")
    assert second == tmp_path / "spec" / "20250101T000000Z-2"
    second.mkdir()
    assert batch.new_bundle_dir(tmp_path, "spec", "20250101T000000Z").name == "20250101T000000Z-3"

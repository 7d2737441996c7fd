"""The HTML report is self-contained, escapes text and shows suppressed cells as dashes."""
from __future__ import annotations

import base64

import polars as pl

from impact.report import ReportContext, render_report
from impact.report.html import ReportSection, table_html

# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def test_report_embeds_figures_escapes_text_and_needs_no_external_files(tmp_path):
    fig = tmp_path / "es.png"
    fig.write_bytes(PNG)
    table = pl.DataFrame({"term": ["att"], "estimate": [-0.0123], "n_treated": [12345], "p_value": [None]},
                         schema={"term": pl.Utf8, "estimate": pl.Float64, "n_treated": pl.Int64, "p_value": pl.Float64})
    ctx = ReportContext(
        title="VSH <extension>",
        question="Did absence fall?",
        caveats=("COVID years 2019/20 and 2020/21 are excluded.",),
        sections=(ReportSection("Estimates", ("Effects on the absence rate.",), table, fig, "event study"),),
        footer={"seed": 1},
    )
    page = render_report(ctx)
    assert page.startswith("<!DOCTYPE html>") and page.endswith("</html>")
    assert "VSH &lt;extension&gt;" in page and "<extension>" not in page
    assert "data:image/png;base64," + base64.b64encode(PNG).decode() in page
    assert "12,345" in page and "-0.012" in page
    assert '<td class="suppressed">&ndash;</td>' in page
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_table_html_has_one_row_per_frame_row_and_years_without_separators():
    html = table_html(pl.DataFrame({"year": [2016, 2017, 2018], "n": [12345, 2, 3]}))
    assert html.count("<tr>") == 4
    assert "<td>2016</td>" in html and "<td>12,345</td>" in html

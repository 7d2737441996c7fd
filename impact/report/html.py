"""Render `report.html`: one self-contained page a non-programmer can read.

The page is built only from tables that have already passed disclosure control, and embeds
figures as base64 PNG, so the single file can go to an output checker as it is.
"""
from __future__ import annotations

import base64
import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}th,td{border:1px solid #d0d0d0;padding:.25rem .5rem;text-align:right}
th{background:#f2f2f2}td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.9rem}
.caveat{background:#fff8e1;border-left:4px solid #f0b400;padding:.4rem .8rem;margin:.5rem 0}
.suppressed{color:#999}img{max-width:100%;border:1px solid #eee}
"""


@dataclass(frozen=True)
class ReportSection:
    """A titled block: optional paragraphs, a table, and a figure (PNG path)."""

    title: str
    paragraphs: tuple[str, ...] = ()
    table: pl.DataFrame | None = None
    figure: Path | None = None
    figure_alt: str = ""


@dataclass(frozen=True)
class ReportContext:
    """Everything the report shows, already disclosure-checked."""

    title: str
    question: str | None
    sections: tuple[ReportSection, ...]
    caveats: tuple[str, ...] = ()
    footer: dict[str, Any] = field(default_factory=dict)


def render_report(ctx: ReportContext) -> str:
    """Return the report as one HTML string (no external files, scripts or fonts)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_e(ctx.title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{_e(ctx.title)}</h1>",
    ]
    if ctx.question:
        parts.append(f"<p><strong>Question.</strong> {_e(ctx.question)}</p>")
    if ctx.caveats:
        parts.append("<h2>Read this first</h2>")
        parts.extend(f'<div class="caveat">{_e(c)}</div>' for c in ctx.caveats)
    for section in ctx.sections:
        parts.append(f"<h2>{_e(section.title)}</h2>")
        parts.extend(f"<p>{_e(p)}</p>" for p in section.paragraphs)
        if section.table is not None:
            parts.append(table_html(section.table))
        if section.figure is not None:
            parts.append(_img(section.figure, section.figure_alt or section.title))
    if ctx.footer:
        items = "".join(f"<li>{_e(k)}: {_e(v)}</li>" for k, v in ctx.footer.items())
        parts.append(f'<h2>About this run</h2><ul class="note">{items}</ul>')
    parts.append("</body></html>")
    return "\n".join(parts)


#: Integer columns that are labels (years, codes, steps), printed without thousands separators.
LABEL_COLUMNS = {"year", "period", "step", "event_time", "la", "group", "time", "census_year", "estimator_index"}


def table_html(df: pl.DataFrame, *, digits: int = 3) -> str:
    """An HTML table; nulls (suppressed or not applicable) shown as a grey dash."""
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    labels = [c in LABEL_COLUMNS for c in df.columns]
    rows = []
    for row in df.iter_rows():
        cells = "".join(f"<td>{v}</td>" if is_label and v is not None else _cell(v, digits)
                        for v, is_label in zip(row, labels))
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(v: Any, digits: int) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return '<td class="suppressed">&ndash;</td>'
    if isinstance(v, float):
        return f"<td>{v:.{digits}f}</td>"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"<td>{v:,}</td>"
    return f"<td>{_e(v)}</td>"


def _img(path: Path, alt: str) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<p><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></p>'


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)

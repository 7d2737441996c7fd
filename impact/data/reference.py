"""Render the table contracts as the Markdown reference page docs/reference/tables.md."""
from __future__ import annotations

from .contracts import CONTRACTS, Column, TableContract

_HEADER = """\
# Reference: extract tables

<!-- Generated from impact/data/contracts.py by impact.data.contracts_markdown(); do not edit.
     Regenerate with:
     python -c "import impact.data as d; print(d.contracts_markdown(), end='')" > docs/reference/tables.md -->

The tables `impact` reads, in the NPD's own column names with any term/year suffix stripped
(`FSMeligible_SPR21` is `FSMeligible`). `impact data check DIR` checks an extract folder
against these contracts (see docs/howto/check-extracts.md).

Column kinds: `int` (an integer type), `float` (any numeric type), `str` (VARCHAR),
`date` (DATE or TIMESTAMP), `flag` (0/1, integer or boolean). *Required* columns must be in
the extract; *nullable* columns may hold missing values. *Identifier* columns are never
released. Evidence: V-code (seen in analysis code on real NPD), V-doc (DfE documentation),
U (unverified; our choice).
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _allowed(col: Column) -> str:
    parts = []
    if col.codes is not None:
        parts.append(", ".join(f"`{c}`" for c in col.codes))
    if col.min is not None or col.max is not None:
        lo = "-inf" if col.min is None else f"{col.min:g}"
        hi = "inf" if col.max is None else f"{col.max:g}"
        parts.append(f"[{lo}, {hi}]")
    return "; ".join(parts)


def _table(contract: TableContract) -> str:
    c = contract
    lines = [
        f"## `{c.name}`{'' if c.required else ' (optional)'}",
        "",
        _cell(c.description),
        "",
        f"- Grain: {c.grain}",
        f"- Key: {', '.join(f'`{k}`' for k in c.key)}",
        f"- Files: {' or '.join(f'`{f}`' for f in c.files)} (first pattern that matches wins)",
    ]
    if c.year_column:
        lines.append(f"- Year column: `{c.year_column}`")
    if c.suffix:
        lines.append(f"- Column suffix: `{c.suffix}` (stripped; the year column is derived from it when absent)")
    if c.not_after:
        pairs = ", ".join(f"`{a}` <= `{b}`" for a, b in c.not_after)
        lines.append(f"- Order checks: {pairs}")
    if c.unlinked_share:
        lines.append(f"- Share of rows with no `{c.unlinked_share}` is reported (they cannot be linked)")
    lines += [f"- Note: {_cell(n)}" for n in c.notes]
    lines += [
        "",
        "| Column | Kind | Required | Nullable | Allowed | Identifier | Description | Evidence |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for col in c.columns:
        lines.append(
            f"| `{col.name}` | {col.kind} | {_yes(col.required)} | {_yes(col.nullable)} | {_cell(_allowed(col))} "
            f"| {_yes(col.identifier)} | {_cell(col.description)} | {col.source} |"
        )
    return "\n".join(lines) + "\n"


def contracts_markdown() -> str:
    """The reference page for every table contract, as Markdown text."""
    return _HEADER + "".join("\n" + _table(c) for c in CONTRACTS.values())

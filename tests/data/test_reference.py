"""docs/reference/tables.md is generated from the table contracts and must match them."""
from __future__ import annotations

from pathlib import Path

from impact.data import CONTRACTS, contracts_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "reference" / "tables.md"


def test_committed_reference_equals_generated_text():
    assert DOC.read_text(encoding="utf-8") == contracts_markdown(), (
        "docs/reference/tables.md is stale; regenerate it with "
        "python -c \"import impact.data as d; print(d.contracts_markdown(), end='')\" > docs/reference/tables.md"
    )


def test_reference_lists_every_table_and_column():
    text = contracts_markdown()
    for contract in CONTRACTS.values():
        assert f"## `{contract.name}`" in text
        for col in contract.columns:
            assert f"| `{col.name}` | {col.kind} |" in text
    # pipes inside a description would break the table; a code list renders in full
    assert "`RC1`, `RC2`, `RC3`, `RC4`, `RC5`, `RC6`, `RC7`, `RC8`" in text

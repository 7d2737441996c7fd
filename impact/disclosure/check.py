"""check_table: the one entry point that turns any table into a CheckedTable."""
from __future__ import annotations

import inspect
from typing import Any

from ..errors import ParameterError
from ..frame import as_polars
from ..params import check_choice
from .checked import CheckedTable, Findings, seal
from .config import DisclosureConfig
from .frequency import check_frequency
from .histogram import check_histogram
from .identifiers import strip_identifiers
from .magnitude import check_magnitude
from .models import check_balance, check_estimate

KINDS = {
    "frequency": check_frequency,
    "magnitude": check_magnitude,
    "estimate": check_estimate,
    "balance": check_balance,
    "histogram": check_histogram,
}


def check_table(
    df: Any, kind: str, *, config: DisclosureConfig | None = None, name: str, **options: Any
) -> CheckedTable:
    """Strip identifier columns, apply the rules of `kind`, and return the releasable table.

    kind: 'frequency' (counts; options index, margins, margins_name, structural_zeros),
    'magnitude' (statistics with n; options index, n_col, dominance), 'estimate' (a tidy()
    table; option df_resid), 'balance' (group means with n_treated/n_comparison; options
    index, sample_col), 'histogram' (bins with counts; options index, edges, fixed_edges).
    """
    check_choice("check_table", "kind", kind, KINDS)
    if config is None:
        config = DisclosureConfig()
    elif not isinstance(config, DisclosureConfig):
        raise ParameterError(
            f"The 'config' parameter of check_table must be a DisclosureConfig. Got {config!r} instead."
        )
    if not isinstance(name, str) or not name.strip():
        raise ParameterError(f"The 'name' parameter of check_table must be a non-empty str. Got {name!r} instead.")
    checker = KINDS[kind]
    allowed = [p for p, v in inspect.signature(checker).parameters.items() if v.kind is v.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ParameterError(
            f"check_table(kind={kind!r}) got unknown option(s) {unknown}; allowed: {allowed}"
        )
    frame, dropped = strip_identifiers(as_polars(df, owner="check_table"), config)
    findings = Findings()
    if dropped:
        findings.comments.append(f"Identifier columns dropped before release: {list(dropped)}")
    table, props = checker(frame, config, findings, **options)
    properties = {"kind": kind, **props, "dropped_identifiers": list(dropped)}
    return seal(table, findings, name=name, kind=kind, config=config, dropped=dropped, properties=properties)

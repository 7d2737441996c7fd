"""The models of `queries/` as Spark SQL: transpiled from DuckDB by sqlglot, never a second copy.

sqlglot maps the DuckDB spellings (`$name` -> `:name`, `ARG_MAX` -> `MAX_BY`, `DATE_DIFF` ->
`DATEDIFF`, `MOD` -> `%`, null ordering). Three differences in meaning it leaves alone are
rewritten on its syntax tree, each tested against DuckDB in tests/spark/test_transpile.py, and
one difference in type:

- `ARG_MAX_NULL(x, k)`: unknown to sqlglot; Spark's `MAX_BY` keeps a null `x` at the largest
  `k` exactly as DuckDB's `ARG_MAX_NULL` does.
- `EXTRACT(DOW FROM d)` and `DAYOFWEEK(d)`: DuckDB counts Sunday as 0, Spark as 1, so Spark's
  value is lowered by one (and cast to DuckDB's BIGINT).
- `a / b`: DuckDB divides in DOUBLE whatever the operand types; Spark keeps DECIMAL operands
  (e.g. the literal `10000.0`) in DECIMAL, rounding the quotient, so the dividend is cast to DOUBLE.
- `ROW_NUMBER`, `RANK`, `DENSE_RANK`, `NTILE`: BIGINT in DuckDB, INT in Spark; cast to BIGINT so
  that a rank in an output (e.g. `pilot_wave`) has the same type on both engines.

One rewrite is for speed alone: every CTE is inlined as a subquery where it is read. Spark does
not look up cached temp views inside a CTE's body (none matched on PySpark 4.3), so a model
whose CTEs read the cached models upstream recomputed them all from the extracts, every time;
subqueries are matched. A CTE read twice is written twice: Spark plans each reference to a CTE
apart too, and reuses identical exchanges either way.
"""
from __future__ import annotations

from functools import lru_cache

from ..sql import QueryDefinitionError, composed, load_query

_DAY_OF_WEEK_UNITS = frozenset({"DOW", "DAYOFWEEK", "WEEKDAY"})


def _rewrite(tree):
    """Apply the rewrites above in place; returns the tree."""
    from sqlglot import exp

    for node in list(tree.find_all(exp.Anonymous)):
        if node.name.upper() == "ARG_MAX_NULL":
            value, key = node.expressions
            node.replace(exp.ArgMax(this=value, expression=key))
    weekdays = [(n, n.this) for n in tree.find_all(exp.DayOfWeek)]
    weekdays += [(n, n.expression) for n in tree.find_all(exp.Extract) if n.name.upper() in _DAY_OF_WEEK_UNITS]
    for node, day in weekdays:
        spark_day = exp.Anonymous(this="DAYOFWEEK", expressions=[day.copy()])
        node.replace(exp.cast(exp.Sub(this=spark_day, expression=exp.Literal.number(1)), "BIGINT"))
    ranks = (exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile)
    for window in [w for w in tree.find_all(exp.Window) if isinstance(w.this, ranks)]:
        window.replace(exp.cast(window.copy(), "BIGINT"))
    for div in list(tree.find_all(exp.Div)):
        if not (isinstance(div.this, exp.Cast) and div.this.to.is_type("double")):
            div.set("this", exp.cast(div.this.copy(), "DOUBLE"))
    return _inline_ctes(tree)


def _inline_ctes(tree):
    """Replace each reference to a CTE by its query as an aliased subquery and drop the WITH clauses,
    innermost first, so that a name reused in a nested WITH (e.g. by a model and an inline model it
    reads) resolves to the nearest definition, as in DuckDB. Within a WITH the last CTE goes first:
    a CTE reads only earlier ones, whose references its copies then carry into the query."""
    from sqlglot import exp

    for with_ in reversed(list(tree.find_all(exp.With))):
        if with_.args.get("recursive"):
            raise ValueError("recursive CTEs cannot be inlined")
        scope = with_.parent
        with_.pop()
        for cte in reversed(with_.expressions):
            for table in list(scope.find_all(exp.Table)):
                if not table.db and table.name == cte.alias:
                    table.replace(exp.Subquery(this=cte.this.copy(), alias=exp.TableAlias(this=exp.to_identifier(table.alias_or_name))))
    return tree


def transpile(sql: str) -> str:
    """DuckDB SQL text -> Spark SQL text (comments dropped), with the rewrites above."""
    import sqlglot

    trees = sqlglot.parse(sql, read="duckdb")
    if len(trees) != 1 or trees[0] is None:
        raise ValueError(f"expected one SQL statement, got {len(trees)}")
    return _rewrite(trees[0]).sql(dialect="spark", comments=False)


@lru_cache(maxsize=None)
def spark_sql(name: str) -> tuple[str, tuple[str, ...]]:
    """The Spark SQL that runs model `name` (impact.sql.composed, its inline dependencies and CTEs
    inlined as subqueries) and the parameters it binds; its `:name` markers must be exactly those parameters."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    query = load_query(name)
    duckdb_text, params = composed(name)
    try:
        text = transpile(duckdb_text)
    except (SqlglotError, ValueError) as exc:
        raise QueryDefinitionError(f"{query.path}: sqlglot cannot read the model as DuckDB SQL: {exc}") from None
    tree = sqlglot.parse_one(text, read="spark")
    markers = {p.name for p in tree.find_all(exp.Placeholder)}
    if markers != set(params):
        raise QueryDefinitionError(
            f"{query.path}: the Spark SQL binds {sorted(markers)} but the model declares {sorted(params)}"
        )
    return text, params

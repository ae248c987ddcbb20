"""The SQL warehouse engine: Databricks SQL translated by sqlglot (``read="databricks"``,
``write="duckdb"``) and executed on an in-memory DuckDB holding the synthetic system tables.

Before translation the parsed tree is adjusted so the query sees the sandbox, not the host:
``current_date()`` / ``current_timestamp()`` / ``now()`` become the workspace's simulated time
(UTC); named parameter markers ``:name`` become typed literals from the request's ``parameters``
(``{"name", "value", "type"}``, type default STRING, as in ``sql.StatementParameterListItem``);
the ``system`` catalog is renamed to DuckDB's ``dbx_system`` (DuckDB reserves ``system``);
``count_if(c)`` becomes ``count(CASE WHEN c THEN 1 END)`` (0, not NULL, over no rows, as on Databricks).
A sandbox started with a data set (``sandbox serve --system-tables DIR``) queries that data set
instead of the seeded history (``sandbox.system_tables.load_dataset``).

Results follow ``sql.StatementResponse``: ``manifest`` (format JSON_ARRAY, schema with
``type_name`` / ``type_text``), one INLINE chunk with ``data_array`` of strings (NULL as null).
SQL errors are answered as ``status.state = FAILED`` with ``status.error`` (``error_code``
``BAD_REQUEST``, message prefixed with a Databricks error class such as
``[TABLE_OR_VIEW_NOT_FOUND]``), like the service.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import threading
from collections import OrderedDict

from sandbox.system_tables import ENGINE_CATALOG


class SqlFailure(Exception):
    """A statement that fails like the service: ``error_class`` such as ``PARSE_SYNTAX_ERROR``."""

    def __init__(self, error_class: str, message: str):
        super().__init__(f"[{error_class}] {message}")
        self.error_class = error_class


def _sim_now(now_ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(now_ms / 1000, dt.timezone.utc).replace(tzinfo=None)


def translate(statement: str, params: list[dict], now_ms: int) -> str:
    """Databricks SQL -> DuckDB SQL with the sandbox's clock, parameters and catalog; raises ``SqlFailure``."""
    import sqlglot
    from sqlglot import exp

    try:
        trees = [t for t in sqlglot.parse(statement, read="databricks") if t is not None]
    except sqlglot.errors.ParseError as e:
        raise SqlFailure("PARSE_SYNTAX_ERROR", f"Syntax error: {e}") from None
    if len(trees) != 1:
        raise SqlFailure("PARSE_SYNTAX_ERROR", "Exactly one statement must be given.")
    by_name = {p["name"]: p for p in params}
    now = _sim_now(now_ms)

    def rewrite(node):
        if isinstance(node, exp.Placeholder) and node.this:
            p = by_name.get(node.name)
            if p is None:
                raise SqlFailure("UNBOUND_SQL_PARAMETER", f"Found the unbound parameter: {node.name}.")
            if p.get("value") is None:
                return exp.Null()
            ptype = (p.get("type") or "STRING").upper()
            if ptype == "STRING":
                return exp.Literal.string(p["value"])
            return exp.cast(exp.Literal.string(p["value"]), exp.DataType.build(ptype, dialect="databricks"))
        if isinstance(node, exp.CountIf) and not isinstance(node.this, exp.Distinct):
            # Databricks' count_if is 0 over no rows or only NULL conditions; DuckDB's is NULL
            # (the condition is rewritten first: a replaced node's children are not visited again)
            condition = node.this.copy().transform(rewrite)
            return exp.Count(this=exp.Case(ifs=[exp.If(this=condition, true=exp.Literal.number(1))]))
        if isinstance(node, exp.CurrentDate):
            return exp.cast(exp.Literal.string(now.date().isoformat()), exp.DataType.build("DATE"))
        if isinstance(node, exp.CurrentTimestamp):
            return exp.cast(exp.Literal.string(now.isoformat(sep=" ")), exp.DataType.build("TIMESTAMP"))
        if isinstance(node, exp.Table) and node.catalog.lower() == "system":
            node.set("catalog", exp.to_identifier(ENGINE_CATALOG))
        return node

    tree = trees[0].transform(rewrite)
    unnamed = [p for p in tree.find_all(exp.Placeholder) if not p.this]
    if unnamed:
        raise SqlFailure("UNBOUND_SQL_PARAMETER", "Positional parameters '?' are not supported; use :name.")
    return tree.sql(dialect="duckdb")


def _column(i: int, name: str, dtype) -> dict:
    text = str(dtype).upper()
    base = text.split("(", 1)[0].split("[", 1)[0]
    mapping = {"BIGINT": ("LONG", "BIGINT"), "HUGEINT": ("LONG", "BIGINT"), "UBIGINT": ("LONG", "BIGINT"),
               "INTEGER": ("INT", "INT"), "SMALLINT": ("SHORT", "SMALLINT"), "TINYINT": ("BYTE", "TINYINT"),
               "DOUBLE": ("DOUBLE", "DOUBLE"), "FLOAT": ("FLOAT", "FLOAT"), "VARCHAR": ("STRING", "STRING"),
               "BOOLEAN": ("BOOLEAN", "BOOLEAN"), "DATE": ("DATE", "DATE"), "TIMESTAMP": ("TIMESTAMP", "TIMESTAMP"),
               "TIMESTAMP WITH TIME ZONE": ("TIMESTAMP", "TIMESTAMP"), "INTERVAL": ("INTERVAL", "INTERVAL")}
    col = {"name": name, "position": i}
    if base == "DECIMAL":
        p, s = text[text.index("(") + 1:text.index(")")].split(",")
        col.update(type_name="DECIMAL", type_text=f"DECIMAL({p.strip()},{s.strip()})",
                   type_precision=int(p), type_scale=int(s))
    elif text.endswith("[]"):
        col.update(type_name="ARRAY", type_text=f"ARRAY<{text[:-2]}>")
    elif base in ("STRUCT", "MAP"):
        col.update(type_name=base, type_text=text)
    else:
        name_, txt = mapping.get(base, ("STRING", "STRING"))
        col.update(type_name=name_, type_text=txt)
    return col


def _cell(v):
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dt.datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.") + f"{v.microsecond // 1000:03d}Z"
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, (decimal.Decimal, int, float)):
        return str(v)
    if isinstance(v, (dict, list)):
        return json.dumps(v, default=str)
    return str(v)


_CACHE: "OrderedDict[tuple, object]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def _database(snapshot: dict, now_ms: int, dataset=None):
    """A DuckDB connection with the system tables of ``snapshot`` at ``now_ms``, cached.

    The tables depend only on the simulated date, the snapshot's contents and which runs are
    terminal, so statements on an unchanged workspace reuse one loaded database (LRU of 8).
    With ``dataset`` (a directory, see ``system_tables.load_dataset``) the tables hold that data
    set only, whatever the workspace and the date.
    """
    import duckdb

    from sandbox import runs as runlife
    from sandbox import system_tables

    if dataset is not None:
        key = ("dataset",) + system_tables.dataset_key(dataset)
        with _CACHE_LOCK:
            con = _CACHE.get(key)
            if con is None:
                con = duckdb.connect()
                system_tables.load_dataset(con, dataset)
                _CACHE[key] = con
                while len(_CACHE) > _CACHE_SIZE:
                    _CACHE.popitem(last=False)
            _CACHE.move_to_end(key)
            return con
    terminal = tuple(sorted(rid for rid, r in snapshot["runs"].items() if runlife.is_terminal(r, now_ms)))
    digest = hashlib.sha256(json.dumps(snapshot, sort_keys=True, default=str).encode()).hexdigest()
    key = (_sim_now(now_ms).date(), digest, terminal)
    with _CACHE_LOCK:
        con = _CACHE.get(key)
        if con is not None:
            _CACHE.move_to_end(key)
            return con
        con = duckdb.connect()
        system_tables.load(con, snapshot, now_ms)
        _CACHE[key] = con
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)  # not closed: a statement on another thread may still use it
        return con


def _failed(error_class: str, message: str) -> dict:
    return {"status": {"state": "FAILED", "error": {"error_code": "BAD_REQUEST",
                                                   "message": f"[{error_class}] {message}"}}}


def execute(statement: str, params: list[dict], snapshot: dict, now_ms: int, host: str, *,
            row_limit: int | None = None, catalog: str | None = None, schema: str | None = None,
            system_tables=None) -> dict:
    """Run one statement over the system tables of ``snapshot`` (or of the data set directory
    ``system_tables``); returns a ``sql.StatementResponse`` dict (without ``statement_id``).
    Never raises for SQL errors: they come back as ``FAILED``."""
    import duckdb

    try:
        sql_text = translate(statement, params, now_ms)
    except SqlFailure as e:
        return _failed(e.error_class, str(e).split("] ", 1)[1])
    con = _database(snapshot, now_ms, system_tables).cursor()
    try:
        con.execute("BEGIN TRANSACTION")  # rolled back below: statements never change the cached tables
        if (catalog or "").lower() == "system" and schema:
            con.execute(f"USE {ENGINE_CATALOG}.{schema}")
        try:
            rel = con.sql(sql_text)
            if rel is None:
                return {"status": {"state": "SUCCEEDED"}, "manifest": {"format": "JSON_ARRAY", "schema": {
                    "column_count": 0, "columns": []}, "total_row_count": 0, "total_chunk_count": 0}}
            columns = [_column(i, n, t) for i, (n, t) in enumerate(zip(rel.columns, rel.types))]
            rows = rel.fetchall()
        except duckdb.CatalogException as e:
            msg = str(e).replace(ENGINE_CATALOG, "system")
            cls = "TABLE_OR_VIEW_NOT_FOUND" if "Table" in msg else "UNRESOLVED_COLUMN"
            return _failed(cls, msg)
        except duckdb.BinderException as e:
            return _failed("UNRESOLVED_COLUMN", str(e).replace(ENGINE_CATALOG, "system"))
        except duckdb.Error as e:
            return _failed("INVALID_QUERY", str(e).replace(ENGINE_CATALOG, "system"))
    finally:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass
        con.close()
    truncated = row_limit is not None and len(rows) > row_limit
    if truncated:
        rows = rows[:row_limit]
    data = [[_cell(v) for v in row] for row in rows]
    return {
        "status": {"state": "SUCCEEDED"},
        "manifest": {
            "format": "JSON_ARRAY",
            "schema": {"column_count": len(columns), "columns": columns},
            "total_row_count": len(data),
            "total_chunk_count": 1,
            "chunks": [{"chunk_index": 0, "row_offset": 0, "row_count": len(data)}],
            "truncated": truncated,
        },
        "result": {"chunk_index": 0, "row_offset": 0, "row_count": len(data), "data_array": data},
    }

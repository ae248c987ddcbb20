"""Writing a monitoring query's report: a markdown table, a CSV of every row, a chart.

`write_report(directory, template, parameters, columns, rows)` writes, atomically:
- `report.md`: the template's question, its parameters, the first 50 rows as a table and a
  totals line for the template's summable columns;
- `rows.csv`: every row (csv module, header first);
- `chart.png`: a line chart of `template.chart` (`{"x", "y"}`) for time series, drawn with
  matplotlib (Agg backend, imported only here).
Returns `{"markdown": path, "csv": path, "chart": path | None, "shown_rows": n}`.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from state.progress import write_atomic

MARKDOWN_ROWS = 50


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def totals(columns: list[str], rows: list[list[Any]], summable: tuple[str, ...]) -> dict[str, float]:
    """Sums of the `summable` columns over `rows` (values that are not numbers are skipped)."""
    out = {}
    for name in summable:
        if name in columns:
            i = columns.index(name)
            out[name] = round(sum(v for v in (_number(r[i]) for r in rows) if v is not None), 6)
    return out


def markdown_table(columns: list[str], rows: list[list[Any]], limit: int = MARKDOWN_ROWS) -> str:
    """A markdown table of the first `limit` rows."""
    lines = ["| " + " | ".join(_cell(c) for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows[:limit]]
    return "\n".join(lines)


def write_report(directory: Path, template: Any, parameters: list[dict[str, Any]], columns: list[str],
                 rows: list[list[Any]], *, title: str | None = None) -> dict[str, Any]:
    """Write the report files (see the module docstring)."""
    from state.redaction import redact_text

    directory = Path(directory)
    sums = totals(columns, rows, tuple(getattr(template, "totals", ()) or ()))
    params = ", ".join(f"{p['name']}={p['value']}" for p in parameters if p['value'] is not None) or "defaults"
    text = [f"# {title or template.name}", "", f"_{template.answers}_", "", f"Parameters: {params}", "",
            f"{len(rows)} row(s)" + (f"; the first {MARKDOWN_ROWS} are shown, all are in rows.csv" if len(rows) > MARKDOWN_ROWS else ""),
            "", markdown_table(columns, rows) if columns else "(no columns)", ""]
    if sums:
        text += ["Totals: " + ", ".join(f"{k} {v:g}" for k, v in sums.items()), ""]
    chart_path = None
    if getattr(template, "chart", None) and rows:
        chart_path = directory / "chart.png"
        if _chart(chart_path, template.chart, columns, rows, template.name):
            text += ["![chart](chart.png)", ""]
        else:
            chart_path = None
    write_atomic(directory / "report.md", redact_text("\n".join(text)))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    write_atomic(directory / "rows.csv", buffer.getvalue())
    return {"markdown": str(directory / "report.md"), "csv": str(directory / "rows.csv"),
            "chart": str(chart_path) if chart_path else None, "shown_rows": min(len(rows), MARKDOWN_ROWS), "totals": sums}


def _chart(path: Path, spec: dict[str, str], columns: list[str], rows: list[list[Any]], title: str) -> bool:
    """Draw a line chart of spec["y"] over spec["x"] (grouped by spec["series"] if given)."""
    x, y = spec.get("x"), spec.get("y")
    if x not in columns or y not in columns:
        return False
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    xi, yi = columns.index(x), columns.index(y)
    series_col = spec.get("series")
    groups: dict[str, list[tuple[str, float]]] = {}
    for row in rows:
        value = _number(row[yi])
        if value is None:
            continue
        key = str(row[columns.index(series_col)]) if series_col in columns else y
        groups.setdefault(key, []).append((str(row[xi]), value))
    if not groups:
        return False
    figure, axis = plt.subplots(figsize=(8, 3.5), dpi=100)
    for key, points in sorted(groups.items())[:10]:
        points.sort()
        axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=key)
    axis.set_title(title)
    axis.set_xlabel(x)
    axis.set_ylabel(y)
    axis.tick_params(axis="x", labelrotation=45, labelsize=7)
    if len(groups) > 1:
        axis.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    write_atomic(path, buffer.getvalue())
    return True

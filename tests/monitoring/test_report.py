"""Monitoring reports: markdown of the first 50 rows with totals, CSV of every row, a PNG chart
for time series; alert rules evaluated over the rows."""

from __future__ import annotations

import csv

from tasks.monitor_query import rule_holds, rule_key
from tasks.monitoring.catalogue import get
from tasks.monitoring.report import MARKDOWN_ROWS, write_report


def test_report_files(tmp_path):
    template = get("cost_trend_by_sku")
    assert template.chart
    columns = list(template.columns)
    rows = [[f"2026-11-{d:02d}", "PREMIUM_JOBS_COMPUTE", "4.0", f"{0.6 * d:.2f}", f"{0.6 * d * (d + 1) / 2:.2f}"]
            for d in range(1, 31)] * 2
    params = [{"name": "start_date", "value": "2026-11-01", "type": "DATE"}, {"name": "sku_name", "value": None, "type": "STRING"}]
    report = write_report(tmp_path, template, params, columns, rows)
    text = (tmp_path / "report.md").read_text()
    assert text.count("\n| 2026-11-") == MARKDOWN_ROWS and f"{len(rows)} row(s)" in text
    assert "sku_name" not in text.split("Parameters:")[1].splitlines()[0]  # unset parameters are left out
    with open(tmp_path / "rows.csv", newline="") as handle:
        read = list(csv.reader(handle))
    assert read[0] == columns and len(read) == len(rows) + 1
    png = (tmp_path / "chart.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and report["chart"] and "![chart](chart.png)" in text
    assert report["totals"] and all(isinstance(v, float) for v in report["totals"].values())


def test_alert_rules_over_rows():
    columns, rows = ["job_name", "list_cost_usd"], [["a", "12.5"], ["b", "3"]]
    assert rule_holds({"column": "list_cost_usd", "op": ">", "value": 10}, columns, rows, 2)
    assert not rule_holds({"column": "list_cost_usd", "op": ">", "value": 20}, columns, rows, 2)
    assert rule_holds({"column": "row_count", "op": ">=", "value": 2}, columns, rows, 2)
    assert rule_holds({"column": "job_name", "op": "==", "value": "b"}, columns, rows, 2)
    assert rule_key({"column": "row_count", "op": ">", "value": 0}) == "row_count > 0"

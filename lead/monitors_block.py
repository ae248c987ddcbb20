"""The front matter's `monitors:` list: scheduled catalogue queries with alert rules.

    monitors:
      - name: daily-spend                    # unique in the file
        template: top_cost_contributors
        parameters: {start_date: today-1, end_date: today, top_n: 5}
        every: 1d                            # or: quartz_cron_expression + timezone_id
        warehouse_id: abc123                 # optional: the workspace's first running one
        alerts:
          - {column: list_cost_usd, op: ">", value: 100, recipients: [finops@example.com]}

`check_monitors(value)` returns the list normalised or raises `FieldProblem` at the
offending entry; `with_monitors(specs, front_matter, owner)` adds one recurring
`monitor_query` task per monitor.
"""

from __future__ import annotations

import re
from typing import Any

from lead.errors import FieldProblem
from lead.remediation_block import parse_duration

KEYS = ("name", "template", "parameters", "every", "quartz_cron_expression", "timezone_id", "warehouse_id", "alerts")
OPERATORS = (">", ">=", "<", "<=", "==", "!=")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def check_monitors(value: Any) -> list[dict[str, Any]]:
    """The normalised monitors (see the module docstring).

    Raises:
        FieldProblem: at `("monitors", i, field)`.
    """
    from tasks.monitoring.catalogue import TemplateParamError, UnknownTemplate, bind, get

    if not isinstance(value, list):
        raise FieldProblem(("monitors",), "must be a list of monitors")
    out, names = [], set()
    for i, entry in enumerate(value):
        where = ("monitors", i)
        if not isinstance(entry, dict):
            raise FieldProblem(where, "a monitor is a mapping (name, template, parameters, every, alerts)")
        for key in entry:
            if key not in KEYS:
                raise FieldProblem(where + (key,), f"unknown field '{key}' (monitor fields: {', '.join(KEYS)})")
        name = entry.get("name")
        if not isinstance(name, str) or not _NAME.match(name) or name in names:
            raise FieldProblem(where + ("name",), "needs a unique name (letters, digits, - and _)")
        names.add(name)
        try:
            template = get(str(entry.get("template")))
        except UnknownTemplate as error:
            raise FieldProblem(where + ("template",), str(error)) from None
        parameters = entry.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise FieldProblem(where + ("parameters",), "must map parameter names to values")
        try:
            bind(template, parameters)
        except TemplateParamError as error:
            raise FieldProblem(where + ("parameters", error.param), str(error)) from None
        if "quartz_cron_expression" in entry:
            schedule = {"quartz_cron_expression": str(entry["quartz_cron_expression"]),
                        "timezone_id": str(entry.get("timezone_id") or "UTC")}
            from state.schedules import ScheduleError, check_schedule

            try:
                check_schedule(schedule)
            except ScheduleError as error:
                raise FieldProblem(where + ("quartz_cron_expression",), str(error)) from None
        else:
            try:
                schedule = {"every_seconds": parse_duration(entry.get("every", "1d"))}
            except ValueError as error:
                raise FieldProblem(where + ("every",), str(error)) from None
        alerts = entry.get("alerts") or []
        if not isinstance(alerts, list):
            raise FieldProblem(where + ("alerts",), "must be a list of rules")
        for j, rule in enumerate(alerts):
            at = where + ("alerts", j)
            if not isinstance(rule, dict) or rule.get("op") not in OPERATORS or "value" not in rule:
                raise FieldProblem(at, f"an alert rule is {{column, op ({' '.join(OPERATORS)}), value, recipients}}")
            if rule.get("column") != "row_count" and rule.get("column") not in template.columns:
                raise FieldProblem(at + ("column",), f"{template.name} has no column {rule.get('column')!r} "
                                                     f"(columns: {', '.join(template.columns)}, or row_count)")
            recipients = rule.get("recipients") or []
            if not isinstance(recipients, list) or any(not (isinstance(r, str) and _EMAIL.match(r)) for r in recipients):
                raise FieldProblem(at + ("recipients",), "must be a list of e-mail addresses")
        out.append({"name": name, "template": template.name, "parameters": {k: str(v) for k, v in parameters.items()},
                    "schedule": schedule, "warehouse_id": entry.get("warehouse_id"), "alerts": alerts})
    return out


def with_monitors(specs: list[Any], front_matter: dict[str, Any]) -> list[Any]:
    """`specs` plus one recurring `monitor_query` task per monitor of the front matter."""
    if "monitors" not in (front_matter or {}):
        return specs
    from state.submissions import NewTask

    out = list(specs)
    for monitor in check_monitors(front_matter["monitors"]):
        payload = {"template": monitor["template"], "parameters": monitor["parameters"], "monitor": monitor["name"],
                   "alerts": monitor["alerts"]} | ({"warehouse_id": monitor["warehouse_id"]} if monitor["warehouse_id"] else {})
        out.append(NewTask(key=f"monitor:{monitor['name']}", type="monitor_query", title=f"Monitor {monitor['name']} ({monitor['template']})",
                           payload=payload, schedule=monitor["schedule"], source_field=f"monitors.{monitor['name']}"))
    return out

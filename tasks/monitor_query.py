"""The `monitor_query` task type: run one catalogue query over system tables and report it.

Payload: `{"template": name, "parameters": {name: value}, "warehouse_id"?: str, "monitor"?: name,
"alerts"?: [{"column", "op" (> >= < <= == !=), "value", "recipients": [e-mails]}],
"carried"?: {"firing": [rule keys]} (from the previous occurrence of a recurring monitor)}`.

- validate: the template exists; the parameters bind (typed, in bounds:
  `tasks.monitoring.catalogue.bind`); the warehouse exists (`warehouses/get`), or, when none
  is named, the workspace has one (the first RUNNING, else the first).
- plan: one QUERY action showing the SQL and the statement parameters, plus a NOTIFY action
  when alert rules are set (sent only if a rule starts to hold).
- apply: `statement-execution` with the parameters as statement parameters, `wait_timeout`
  30 s and `on_wait_timeout` CONTINUE; a statement still running is checked again later
  (`CheckAgain` with the statement id), so no worker slot waits on it. Every chunk is fetched
  (`get_statement_result_chunk_n`). The report (`tasks.monitoring.report`: markdown of the
  first 50 rows with totals, CSV of all rows, PNG for time series) goes under
  `ctx.settings["report_dir"]/<task ref>/`. An alert fires once when its condition starts to
  hold: the rules already firing are handed to the next occurrence (`result["carry"]`), and
  an e-mail goes out (`tasks.notifier`) only for newly firing rules.

Result: `{"template", "parameters", "statement_id", "columns", "rows" (first 1,000), "row_count",
"report", "alerts": [{"rule", "holds", "fired"}], "carry"}`.
"""

from __future__ import annotations

import operator
from pathlib import Path
from typing import Any

from tasks.base import Action, ActionKind, CheckAgain, PermanentFailure, Plan, Problem, TaskContext, ValidationFailed, fingerprint

RESULT_ROWS = 1000
OPERATORS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le, "==": operator.eq, "!=": operator.ne}
PENDING_STATES = frozenset({"PENDING", "RUNNING"})


def rule_key(rule: dict[str, Any]) -> str:
    """A stable name for an alert rule: `column op value`."""
    return f"{rule.get('column')} {rule.get('op')} {rule.get('value')}"


def _typed(value: Any) -> Any:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def rule_holds(rule: dict[str, Any], columns: list[str], rows: list[list[Any]], row_count: int) -> bool:
    """True when any row satisfies the rule (`row_count` as a column compares the number of rows)."""
    compare = OPERATORS[rule["op"]]
    target = _typed(rule["value"])
    if rule["column"] == "row_count":
        return bool(compare(row_count, target))
    if rule["column"] not in columns:
        return False
    i = columns.index(rule["column"])
    for row in rows:
        value = _typed(row[i])
        try:
            if compare(value, target):
                return True
        except TypeError:
            continue
    return False


class MonitorQuery:
    """Run one catalogue query and report it; see the module docstring."""

    name = "monitor_query"

    def _template(self, ctx: TaskContext):
        from tasks.monitoring.catalogue import UnknownTemplate, get

        try:
            return get(str(ctx.payload.get("template")))
        except UnknownTemplate as error:
            raise ValidationFailed([Problem("template", str(error))]) from None

    def _bound(self, ctx: TaskContext, template) -> list[dict[str, Any]]:
        from tasks.monitoring.catalogue import TemplateParamError, bind

        try:
            return bind(template, dict(ctx.payload.get("parameters") or {}))
        except TemplateParamError as error:
            raise ValidationFailed([Problem(f"parameters.{error.param}", str(error))]) from None

    def _warehouse(self, ctx: TaskContext) -> str:
        from databricks.sdk import errors

        named = ctx.payload.get("warehouse_id")
        if named:
            try:
                ctx.workspace.warehouses.get(named)
            except (errors.NotFound, errors.ResourceDoesNotExist, errors.InvalidParameterValue):
                raise ValidationFailed([Problem("warehouse_id", f"no SQL warehouse {named!r} in this workspace")]) from None
            return named
        warehouses = list(ctx.workspace.warehouses.list())
        if not warehouses:
            raise ValidationFailed([Problem("warehouse_id", "the workspace has no SQL warehouse: name one with warehouse_id")])
        running = [w for w in warehouses if str(getattr(w.state, "value", w.state)) == "RUNNING"]
        return (running or warehouses)[0].id

    def validate(self, ctx: TaskContext) -> None:
        """The template, its parameters, the alert rules and the warehouse are all usable."""
        template = self._template(ctx)
        self._bound(ctx, template)
        problems = []
        for i, rule in enumerate(ctx.payload.get("alerts") or []):
            if not isinstance(rule, dict) or rule.get("op") not in OPERATORS or "column" not in rule or "value" not in rule:
                problems.append(Problem(f"alerts[{i}]", "an alert rule needs column, op (> >= < <= == !=) and value"))
            elif rule["column"] != "row_count" and rule["column"] not in template.columns:
                problems.append(Problem(f"alerts[{i}].column", f"{template.name} has no column {rule['column']!r} "
                                                               f"(columns: {', '.join(template.columns)}, or row_count)"))
        if problems:
            raise ValidationFailed(problems)
        self._warehouse(ctx)

    def plan(self, ctx: TaskContext) -> Plan:
        """A QUERY action (SQL and parameters), plus NOTIFY when alert rules are set."""
        template = self._template(ctx)
        params = self._bound(ctx, template)
        warehouse = self._warehouse(ctx)
        actions = [Action(
            kind=ActionKind.QUERY, target=f"warehouse {warehouse}",
            summary=f"{template.name}: {template.answers}",
            changes=[], citations=list(ctx.cite(f"system tables {' '.join(template.reads[:2])}"))[:3],
            params={"sql": template.sql, "parameters": params, "warehouse_id": warehouse, "template": template.name},
        )]
        alerts = ctx.payload.get("alerts") or []
        if alerts:
            actions.append(Action(kind=ActionKind.NOTIFY, target=", ".join(sorted({r for a in alerts for r in a.get("recipients") or []})),
                                  summary="e-mail when an alert rule starts to hold: " + "; ".join(rule_key(a) for a in alerts),
                                  params={"alerts": alerts}))
        return Plan(actions, fingerprint({"template": template.name, "parameters": params}), f"{ctx.task_ref}:{ctx.attempt}")

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """Run the statement (checking again while it runs), fetch every chunk, report, alert."""
        from databricks.sdk.service import sql

        query = plan.actions[0].params
        w = ctx.workspace
        statement_id = (ctx.checkpoint or {}).get("statement_id")
        if statement_id is None:
            response = w.statement_execution.execute_statement(
                statement=query["sql"], warehouse_id=query["warehouse_id"],
                parameters=[sql.StatementParameterListItem(name=p["name"], value=p["value"], type=p["type"])
                            for p in query["parameters"]],
                wait_timeout="30s", on_wait_timeout=sql.ExecuteStatementRequestOnWaitTimeout.CONTINUE,
                format=sql.Format.JSON_ARRAY, disposition=sql.Disposition.INLINE,
            )
        else:
            response = w.statement_execution.get_statement(statement_id)
        state = str(getattr(response.status.state, "value", response.status.state)) if response.status else None
        if state in PENDING_STATES:
            polls = int((ctx.checkpoint or {}).get("polls") or 0)
            raise CheckAgain(min(1.0 * 1.5 ** polls, 30.0), {"statement_id": response.statement_id, "polls": polls + 1},
                             reason=f"statement {response.statement_id} is {state}")
        if state != "SUCCEEDED":
            error = response.status.error if response.status else None
            raise PermanentFailure(f"{query['template']}: statement {response.statement_id} ended {state}: "
                                   f"{getattr(error, 'message', None) or 'no error message'}")
        columns = [c.name for c in (response.manifest.schema.columns or [])] if response.manifest and response.manifest.schema else []
        rows = list(response.result.data_array or []) if response.result else []
        chunk = response.result.next_chunk_index if response.result else None
        while chunk is not None:
            data = w.statement_execution.get_statement_result_chunk_n(response.statement_id, chunk)
            rows.extend(data.data_array or [])
            chunk = data.next_chunk_index
        from tasks.monitoring.catalogue import get
        from tasks.monitoring.report import write_report

        template = get(query["template"])
        report = write_report(Path(ctx.settings["report_dir"]) / ctx.task_ref, template, query["parameters"], columns, rows,
                              title=ctx.payload.get("monitor") or template.name)
        alerts, firing = self._alerts(ctx, plan, columns, rows)
        return {"template": template.name, "parameters": {p["name"]: p["value"] for p in query["parameters"]},
                "statement_id": response.statement_id, "columns": columns, "rows": rows[:RESULT_ROWS],
                "row_count": len(rows), "report": report, "alerts": alerts, "carry": {"firing": firing}}

    def _alerts(self, ctx: TaskContext, plan: Plan, columns: list[str], rows: list[list[Any]]) -> tuple[list[dict], list[str]]:
        rules = next((a.params["alerts"] for a in plan.actions if a.kind is ActionKind.NOTIFY), [])
        before = set(((ctx.payload.get("carried") or {}).get("firing")) or [])
        out, firing = [], []
        for rule in rules:
            key = rule_key(rule)
            holds = rule_holds(rule, columns, rows, len(rows))
            fired = holds and key not in before
            if holds:
                firing.append(key)
            entry = {"rule": key, "holds": holds, "fired": fired}
            if fired:
                entry["email"] = self._send(ctx, rule, key, columns, rows)
            out.append(entry)
        return out, firing

    def _send(self, ctx: TaskContext, rule: dict[str, Any], key: str, columns: list[str], rows: list[list[Any]]) -> dict[str, Any]:
        from tasks.monitoring.report import markdown_table
        from tasks.notifier import Notifier, SmtpSettings

        name = ctx.payload.get("monitor") or ctx.payload.get("template")
        subject = f"[alert] {name}: {key}"
        body = "\n".join([f"The monitor {name} ({ctx.payload.get('template')}) found that {key} now holds.", "",
                          markdown_table(columns, rows, limit=20), "",
                          "You will not be told again while it keeps holding; a new e-mail comes when it starts to hold again."])
        to = list(rule.get("recipients") or [])
        if not to:
            return {"delivered": "none", "reason": "the rule names no recipients"}
        return Notifier(SmtpSettings.from_env(), fallback_dir=ctx.settings["outbox_dir"]).send(to, subject, body, idempotency_key=f"{ctx.task_ref}:{key}")

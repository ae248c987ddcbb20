"""The `answer` task type: join the `monitor_query` results of a `lead ask` question into one answer.

Payload: `{"question", "intents": [domains], "queries": [{"spec_key", "template", "domain"}],
"answer_dir"?}`. It depends on the question's `monitor_query` tasks; their results arrive as
`ctx.dependency_results[spec_key]`.

- validate: the payload names the question and its queries.
- plan: one QUERY action ("compose the answer from N results").
- apply: writes `answer.md` (under `ctx.settings["report_dir"]/<task ref>/`): the question, when
  a model is configured a 2-3 sentence summary whose every number is in the query results
  (`tasks.answer_summary`; dropped otherwise, the tables stand alone), one
  section per domain with each query's one-line purpose, its key figures in sentences (row
  count, totals, the first row) and a table of its first rows; with several domains, a closing
  section relating them (the figures side by side, e.g. the cost of the failed runs in the same
  window). Result: `{"question", "answer": markdown, "path", "summary": {"status": kept|dropped|
  unavailable|off, "text", "reason"}}`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tasks.base import Action, ActionKind, Plan, Problem, TaskContext, ValidationFailed, fingerprint

TABLE_ROWS = 10


def _sentence(template: Any, result: dict[str, Any]) -> str:
    columns, rows = result.get("columns") or [], result.get("rows") or []
    count = result.get("row_count", len(rows))
    parts = [f"{count} row(s)"]
    totals = (result.get("report") or {}).get("totals") or {}
    if totals:
        parts.append("totals: " + ", ".join(f"{k} {v:g}" for k, v in totals.items()))
    if rows and columns:
        first = ", ".join(f"{c} {v}" for c, v in zip(columns, rows[0]) if v is not None)
        parts.append(f"first: {first}")
    return "; ".join(parts) + "."


class Answer:
    """Compose the answer of a question; see the module docstring."""

    name = "answer"

    def validate(self, ctx: TaskContext) -> None:
        """The payload has a question and its queries."""
        if not ctx.payload.get("question") or not isinstance(ctx.payload.get("queries"), list):
            raise ValidationFailed([Problem("payload", "an answer needs the question and its queries")])

    def plan(self, ctx: TaskContext) -> Plan:
        """One QUERY action over the dependency results."""
        queries = ctx.payload["queries"]
        action = Action(kind=ActionKind.QUERY, target="results", summary=f"compose the answer from {len(queries)} result(s)")
        return Plan([action], fingerprint(sorted(q["spec_key"] for q in queries)), ctx.task_ref)

    def apply(self, ctx: TaskContext, plan: Plan) -> dict[str, Any]:
        """Write the answer markdown and return it."""
        from tasks.monitoring.catalogue import UnknownTemplate, get
        from tasks.monitoring.report import markdown_table

        question = ctx.payload["question"]
        lines = [f"# {question}", ""]
        by_domain: dict[str, list[tuple[Any, dict]]] = {}
        for query in ctx.payload["queries"]:
            result = ctx.dependency_results.get(query["spec_key"]) or {}
            try:
                template = get(query["template"])
            except UnknownTemplate:
                continue
            by_domain.setdefault(query.get("domain") or template.domain, []).append((template, result))
        for domain, items in by_domain.items():
            lines += [f"## {domain.capitalize()}", ""]
            for template, result in items:
                params = ", ".join(f"{k}={v}" for k, v in (result.get("parameters") or {}).items() if v is not None)
                lines += [f"**{template.name}** ({params or 'defaults'}): {template.answers}", "",
                          _sentence(template, result), ""]
                if result.get("columns"):
                    lines += [markdown_table(result["columns"], result.get("rows") or [], limit=TABLE_ROWS), ""]
        summary = self._summary(ctx, question, [pair for items in by_domain.values() for pair in items])
        if summary.status == "kept":
            lines[2:2] = [f"{summary.text}", "", "_Summary written by a model; every number in it is in the results below._", ""]
        if len(by_domain) > 1:
            lines += ["## Together", ""]
            for domain, items in by_domain.items():
                figures = "; ".join(f"{t.name}: {_sentence(t, r)}" for t, r in items)
                lines.append(f"- {domain}: {figures}")
            lines.append("")
        text = "\n".join(lines)
        path = Path(ctx.settings["report_dir"]) / ctx.task_ref / "answer.md"
        from state.progress import write_atomic
        from state.redaction import redact_text

        text = redact_text(text)
        write_atomic(path, text)
        return {"question": question, "answer": text, "path": str(path), "summary": summary.as_dict()}

    @staticmethod
    def _summary(ctx: TaskContext, question: str, sections: list[tuple[Any, dict]]) -> Any:
        """The model's checked summary (`tasks.answer_summary`); status `off` without a model."""
        from tasks.answer_summary import Summary, summarise

        if not any(result.get("columns") for _, result in sections):
            return Summary("dropped", None, "no query results to summarise")
        from tasks.llm_access import task_gateway

        summary = summarise(task_gateway(ctx), question, sections, task_id=ctx.task_id)
        if summary.status not in ("kept", "off"):
            ctx.log(f"answer summary {summary.status}: {summary.reason}")
        return summary

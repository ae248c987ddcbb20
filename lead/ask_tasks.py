"""Turning a routed question into work: one `monitor_query` task per template (run in
parallel by the workers) and an `answer` task that depends on all of them, in one ad hoc
requirement (`ad_hoc/ask-<n>`), recorded in one transaction.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any


def enqueue_question(engine, question: str, intents: list[str], templates: list[dict[str, Any]]) -> dict[str, Any]:
    """Record the question's tasks; returns `{"requirement", "queries": [task ids], "answer": task id}`.

    `templates` are `[{"name", "parameters"}]` from the router; each becomes a
    `monitor_query` task.

    Raises:
        tasks.monitoring.catalogue.UnknownTemplate / TemplateParamError: a template or a
            parameter the catalogue does not accept (nothing is recorded).
    """
    from sqlmodel import Session

    from state.engine import writer
    from state.models import format_id
    from state.submissions import NewTask, enqueue, ensure_requirement
    from tasks.monitoring.catalogue import bind, get

    stamp = f"{time.time_ns()}"
    name = "ask-" + hashlib.sha256(f"{question}:{stamp}".encode()).hexdigest()[:10]
    queries, specs = [], []
    for i, chosen in enumerate(templates):
        template = get(chosen["name"])
        parameters = {k: str(v) for k, v in (chosen.get("parameters") or {}).items() if v is not None}
        bind(template, parameters)
        key = f"monitor_query:{i}:{template.name}"
        queries.append({"spec_key": key, "template": template.name, "domain": template.domain})
        specs.append(NewTask(key=key, type="monitor_query", title=f"{template.name} for: {question[:60]}",
                             payload={"template": template.name, "parameters": parameters}))
    specs.append(NewTask(key="answer", type="answer", title=f"Answer: {question[:80]}",
                         payload={"question": question, "intents": intents, "queries": queries},
                         depends_on=tuple(q["spec_key"] for q in queries)))
    with Session(writer(engine)) as session:
        requirement_id = ensure_requirement(session, kind="ad_hoc", name=name, title=f"Ask: {question[:80]}")
        ids = enqueue(session, requirement_id, specs, actor="lead ask", reason="asked")
        session.commit()
    return {"requirement": format_id("requirement", requirement_id), "queries": ids[:-1], "answer": ids[-1]}

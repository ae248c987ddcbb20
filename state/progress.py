"""Progress markdown: `progress/README.md` (the board) and `progress/REQ-0001-<slug>.md` per requirement.

Re-rendered after every change by whoever made it (`lead` after submit/retry/cancel, the
worker after each phase). Every file is written to a temporary file in the same directory
and renamed over the old one, so a reader never sees half a file. The directory is
`$JOB_AGENT_PROGRESS_DIR`, else `./progress`, or what `--progress-dir` says.

Plans (stored by the worker's plan phase) are rendered as a diff. Jobs the prose lead wrote
(a deploy_job payload's ``generated``, see `lead.prose`) are shown as the YAML block to paste. The plan JSON shape read
here: `{"actions": [{"kind": "CREATE|UPDATE|DELETE|RUN|REPAIR|NOTIFY|QUERY|NO_OP",
"target": str, "summary": str, "changes": [{"field": str, "before": any, "after": any,
"citations": [str]}], "citations": [str]}], "fingerprint": str, "idempotency_token": str}`.
Everything rendered is masked (`state.redaction`; the read models in `state.views` mask on the way out).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session

from state.columns import utcnow
from state.redaction import redact
from state.views import STATUS_ORDER, RequirementSummary, TaskRow, recent_events, requirement_summaries, task_rows

MERMAID_CLASSES = {
    "PENDING": "fill:#f2f2f2,stroke:#888,color:#333",
    "IN_PROGRESS": "fill:#dbeafe,stroke:#2563eb,color:#1e3a8a",
    "COMPLETE": "fill:#dcfce7,stroke:#16a34a,color:#14532d",
    "FAILED": "fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
    "CANCELLED": "fill:#fef9c3,stroke:#a16207,color:#713f12,stroke-dasharray: 4 2",
}


def default_progress_dir() -> Path:
    """`$JOB_AGENT_PROGRESS_DIR`, else `./progress`."""
    return Path(os.environ.get("JOB_AGENT_PROGRESS_DIR") or "progress")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write `data` (text as UTF-8, or bytes) to `path` through a temporary file in the same
    directory and a rename: readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def requirement_file_name(summary: RequirementSummary) -> str:
    """`REQ-0001-<slug>.md`."""
    return f"{summary.id}-{summary.slug}.md"


def render_progress(session: Session, progress_dir: Path | None = None, requirement_ids: list[int] | None = None) -> list[Path]:
    """Re-render the board and the files of `requirement_ids` (default: every requirement).

    Returns the paths written.
    """
    progress_dir = Path(progress_dir or default_progress_dir())
    now = utcnow()
    all_summaries = requirement_summaries(session)
    written = []
    remediation = render_remediation(session, now)
    board = progress_dir / "README.md"
    write_atomic(board, render_board(all_summaries, now, remediation=remediation is not None))
    written.append(board)
    if remediation is not None:
        path = progress_dir / "remediation.md"
        write_atomic(path, remediation)
        written.append(path)
    wanted = set(requirement_ids) if requirement_ids is not None else None
    for summary in all_summaries:
        number = int(summary.id.split("-")[1])
        if wanted is not None and number not in wanted:
            continue
        path = progress_dir / requirement_file_name(summary)
        write_atomic(path, render_requirement(session, number, summary, now))
        written.append(path)
        for stale in progress_dir.glob(f"{summary.id}-*.md"):
            if stale != path:
                stale.unlink(missing_ok=True)
    return written


def render_remediation(session: Session, now: datetime, limit: int = 200) -> str | None:
    """The "Remediation" page: failed runs, the decision taken on each and its outcome, newest
    first (None when no decision exists yet). Everything shown is masked."""
    from state.decisions import decision_as_json, list_decisions
    from state.redaction import redact

    rows = [redact(decision_as_json(row)) for row in list_decisions(session, limit)]
    if not rows:
        return None
    lines = [
        "# Remediation",
        "",
        f"_Generated {now.isoformat(timespec='seconds')} by job-agent. Correct a decision with "
        "`lead feedback D-0001 --action ...`._",
        "",
        "| decision | run | job | category | remediation | confidence | status | outcome | evidence | feedback |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        fb = r["feedback"]
        repair = f" (repair {r['repair_count']})" if r["repair_count"] else ""
        lines.append(
            f"| {r['id']} | {r['run_id']}{repair} | "
            f"{_cell(str(r['job_name'] or r['job_id'] or ''))} | {r['category']} | {r['remediation']} | {r['confidence']:.2f} | "
            f"{r['status']} | {r['outcome'] or ''} | {_cell(_first_line(r['evidence']) or '')} | "
            f"{(fb['remediation'] + (' / ' + fb['category'] if fb['category'] else '')) if fb else ''} |"
        )
    lines += ["", "Why each was decided:", ""]
    lines += [f"- {r['id']}: {_cell(r['reason'] or '')}" for r in rows]
    return "\n".join(lines) + "\n"


def render_board(summaries: list[RequirementSummary], now: datetime, *, remediation: bool = False) -> str:
    """The board: one row per requirement with its task counts per status (and a link to the
    Remediation page when there are decisions)."""
    lines = [
        "# Progress",
        "",
        f"_Generated {now.isoformat(timespec='seconds')} by job-agent. Do not edit: it is rewritten after every change._",
        "",
    ]
    if not summaries:
        lines += ["No requirements yet. Submit one with `uv run lead submit FILE.md`.", ""]
        return "\n".join(lines)
    header = "| requirement | title | status | rev | " + " | ".join(STATUS_ORDER) + " | updated |"
    lines += [header, "|" + "---|" * (5 + len(STATUS_ORDER))]
    for s in summaries:
        counts = " | ".join(str(s.counts.get(status, 0)) for status in STATUS_ORDER)
        lines.append(
            f"| [{s.id}]({requirement_file_name(s)}) | {_cell(s.title)} | {s.status} | {s.revision} | {counts} | {s.updated_at.isoformat(timespec='seconds')} |"
        )
    totals = {status: sum(s.counts.get(status, 0) for s in summaries) for status in STATUS_ORDER}
    lines += ["", "Totals: " + ", ".join(f"{status} {n}" for status, n in totals.items()), ""]
    if remediation:
        lines += ["Failed runs and what was done about them: [Remediation](remediation.md)", ""]
    return "\n".join(lines)


def render_requirement(session: Session, requirement_id: int, summary: RequirementSummary, now: datetime) -> str:
    """One requirement's page: front matter, task table, Mermaid graph, plans, results, events."""
    rows = task_rows(session, requirement_id)
    front = {
        "id": summary.id,
        "title": summary.title,
        "status": summary.status,
        "revision": summary.revision,
        "source": summary.source_path,
        "identity": summary.identity,
        "kind": summary.kind,
        "owner": summary.owner,
        "counts": summary.counts,
        "updated": now.isoformat(timespec="seconds"),
    }
    lines = ["---", yaml.safe_dump(front, sort_keys=False).rstrip(), "---", ""]
    lines += [f"# {summary.id} · {summary.title}", ""]
    lines += [
        f"Status **{summary.status}** · revision {summary.revision} · `{summary.identity}`"
        + (f" · source `{summary.source_path}`" if summary.source_path else f" · {summary.kind}")
        + (f" · owner {summary.owner}" if summary.owner else ""),
        "",
        "## Tasks",
        "",
        "| id | type | title | status | phase | attempts | last error |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        status = row.status
        if row.blocked_by:
            status += f" (blocked by {', '.join(row.blocked_by)})"
        elif row.waiting_on:
            status += f" (waiting on {', '.join(row.waiting_on)})"
        lines.append(
            f"| {row.id} | {row.type} | {_cell(row.title)} | {status} | {row.phase or ''} | "
            f"{row.attempts}/{row.max_attempts} | {_cell(_first_line(row.error) or '')} |"
        )
    lines += ["", "## Dependency graph", "", "```mermaid", *render_mermaid(rows), "```", ""]
    generated = _generated(session, requirement_id, summary.revision)
    if generated:
        lines += ["## Generated job definitions", "", *generated]
    plans = _plans(rows)
    if plans:
        lines += ["## Plans", "", *plans]
    results = _results(rows)
    if results:
        lines += ["## Results", "", *results, ""]
    lines += ["## Recent events", "", "| time | task | move | phase | actor | reason |", "|---|---|---|---|---|---|"]
    for event in recent_events(session, requirement_id=requirement_id, limit=20):
        move = f"{event.from_status or '∅'} → {event.to_status}"
        lines.append(
            f"| {event.at.isoformat(timespec='seconds')} | {event.task} | {move} | {event.phase or ''} | {_cell(event.actor)} | {_cell(_first_line(event.reason) or '')} |"
        )
    lines.append("")
    return "\n".join(lines)


def render_mermaid(rows: list[TaskRow]) -> list[str]:
    """Mermaid `graph TD` lines: one node per task coloured by status, one edge per dependency."""
    out = ["graph TD"]
    for row in rows:
        node = row.id.replace("-", "")
        label = f"{row.id} {row.type}<br/>{row.title}".replace('"', "'")
        out.append(f'  {node}["{label}"]:::{row.status.lower()}')
    known = {row.id for row in rows}
    for row in rows:
        for dep in row.depends_on:
            if dep in known:
                out.append(f"  {dep.replace('-', '')} --> {row.id.replace('-', '')}")
    for status, style in MERMAID_CLASSES.items():
        out.append(f"  classDef {status.lower()} {style}")
    return out


def _generated(session: Session, requirement_id: int, revision: int) -> list[str]:
    """The jobs the prose lead wrote for this revision (task payload ``generated``: ``yaml``,
    ``model``, ``citations``, ``grounded``), one pasteable block each, masked; [] when none."""
    from sqlalchemy import select

    from state.models import Task

    payloads = session.execute(
        select(Task.payload).where(Task.requirement_id == requirement_id, Task.revision == revision,
                                   Task.type == "deploy_job").order_by(Task.id)
    ).scalars()
    seen: dict[str, dict[str, Any]] = {}
    for payload in payloads:
        generated = (payload or {}).get("generated")
        if isinstance(generated, dict) and isinstance(generated.get("yaml"), str):
            seen.setdefault(generated["yaml"], redact(generated))
    out: list[str] = []
    for generated in seen.values():
        text = str(generated["yaml"]).rstrip("\n")
        fence = "`" * max(3, 1 + max((len(run) for run in re.findall("`+", text)), default=0))
        out += [f"Written by the LLM lead (`{generated.get('model', '?')}`) from the file's prose and validated like "
                "hand-written YAML. Paste this block into the file to make it structured:", "",
                f"{fence}yaml", text, fence, ""]
        citations = [str(c) for c in generated.get("citations") or []]
        if citations:
            out += ["Grounded on: " + "; ".join(citations), ""]
        elif not generated.get("grounded"):
            out += ["Ungrounded: no docs index was available when it was written.", ""]
    return out


def _plans(rows: list[TaskRow]) -> list[str]:
    out: list[str] = []
    for row in rows:
        if not row.plan:
            continue
        plan = redact(row.plan)
        out.append(f"### {row.id} {_cell(row.title)}")
        out.append("")
        out.append("```diff")
        for action in plan.get("actions", []):
            out.append(f"# {action.get('kind', '?')} {action.get('target', '')}: {action.get('summary', '')}".rstrip(": "))
            for change in action.get("changes", []):
                name = change.get("field", "?")
                if "before" in change and change["before"] is not None:
                    out.append(f"- {name}: {_inline(change['before'])}")
                if "after" in change and change["after"] is not None:
                    out.append(f"+ {name}: {_inline(change['after'])}")
        out.append("```")
        citations = [c for action in plan.get("actions", []) for c in action.get("citations", [])]
        citations += [c for action in plan.get("actions", []) for ch in action.get("changes", []) for c in ch.get("citations", [])]
        if citations:
            out.append("")
            out.append("Sources: " + "; ".join(dict.fromkeys(str(c) for c in citations)))
        out.append("")
    return out


def _results(rows: list[TaskRow]) -> list[str]:
    out = []
    for row in rows:
        if not row.result:
            continue
        result = redact(row.result)
        parts = []
        for key, value in result.items():
            if value is None or isinstance(value, (dict, list)):
                continue
            if key.endswith("_url"):
                parts.append(f"[{key.removesuffix('_url').replace('_', ' ')}]({value})")
            else:
                parts.append(f"{key} `{value}`")
        if parts:
            out.append(f"- {row.id} {_cell(row.title)}: " + ", ".join(parts))
    return out


def _inline(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True)
    return str(value)


def _first_line(text: str | None) -> str | None:
    if not text:
        return text
    first = text.strip().splitlines()[0] if text.strip() else ""
    return first[:200]


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")

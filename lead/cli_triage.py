"""`lead triage [FILE|-] [--json] [--rules-only]`: classify failed-run messages offline.

Reads JSON lines, one failed run each: ``{"message": str, "trace": str, "termination_code": str,
"termination_type": str, "result_state": str}`` (only ``message`` is required; blank lines are
skipped). Writes one result per input line, in order: with ``--json`` a JSON line
``{"category", "remediation", "confidence", "evidence", "layer", "priority", "new_params"}``,
otherwise a table. It touches neither a workspace nor the state database.

Bad input is all or nothing: every line is checked before anything is classified, and the first
bad one is reported as ``FILE:LINE: ...`` with exit 1 (nothing is written on stdout).

Import cost: the rules need nothing heavy; the MiniLM model (sentence-transformers, about 12 s)
is loaded only when a message reaches the neighbours layer, and never with ``--rules-only``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from lead.cli_runner import JsonOption, UserError

FIELDS = ("message", "trace", "termination_code", "termination_type", "result_state")
OUTPUT_FIELDS = ("category", "remediation", "confidence", "evidence", "layer", "priority", "new_params")


def parse_lines(lines: list[str], name: str) -> list[dict[str, Any]]:
    """Validate JSON lines into dicts of :data:`FIELDS` (unknown keys ignored).

    Raises :class:`UserError` ``"<name>:<line>: <what is wrong>"`` at the first bad line: not
    JSON, not an object, ``message`` missing or not a non-empty string, another field not a
    string or null.
    """
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            raise UserError(f"{name}:{number}: not JSON: {error}") from None
        if not isinstance(value, dict):
            raise UserError(f"{name}:{number}: expected a JSON object with a \"message\", got {type(value).__name__}")
        message = value.get("message")
        if not isinstance(message, str) or not message.strip():
            raise UserError(f"{name}:{number}: \"message\" is required and must be a non-empty string")
        for key in FIELDS[1:]:
            if value.get(key) is not None and not isinstance(value[key], str):
                raise UserError(f"{name}:{number}: \"{key}\" must be a string or null")
        rows.append({key: value.get(key) for key in FIELDS})
    return rows


def triage(
    file: Annotated[str, typer.Argument(help="JSON lines of failed runs; '-' (default) reads stdin.", show_default=False)] = "-",
    as_json: JsonOption = False,
    rules_only: Annotated[bool, typer.Option("--rules-only", help="Skip the neighbours layer (never loads the embedding model).")] = False,
) -> None:
    """Classify failed runs read as JSON lines: category, remediation, confidence, evidence."""
    if file == "-":
        name, text = "<stdin>", sys.stdin.read()
    else:
        try:
            name, text = file, Path(file).read_text(encoding="utf-8")
        except OSError as error:
            raise UserError(f"{file}: cannot read: {error.strerror or error}") from None
        except UnicodeDecodeError as error:
            raise UserError(f"{file}: not UTF-8 text: {error}") from None
    rows = parse_lines(text.splitlines(), name)

    from tasks.remediation.classify import Classifier

    clf = Classifier(use_neighbours=not rules_only)
    results = []
    for row in rows:
        d = clf.classify(row["message"], row["trace"], row["termination_code"], row["termination_type"], row["result_state"])
        data = d.as_dict()
        results.append({key: data[key] for key in OUTPUT_FIELDS})
    if as_json:
        for result in results:
            typer.echo(json.dumps(result, ensure_ascii=False))
        return
    if not results:
        typer.echo("No failed runs in the input.")
        return
    headers = ["#", "category", "remediation", "conf", "layer", "evidence"]
    table = [
        [str(i), r["category"], r["remediation"] + (f" ({r['new_params']})" if r["new_params"] else ""),
         f"{r['confidence']:.2f}", r["layer"], r["evidence"][:90]]
        for i, r in enumerate(results, 1)
    ]
    widths = [max(len(h), *(len(row[i]) for row in table)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    typer.echo("\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in table)]))

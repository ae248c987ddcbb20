"""Measuring the classifier on labelled failures without scoring a message it holds.

Used by ``bench/remediation.py`` and the accuracy test. Rows are dicts with ``message``,
``category`` and ``remediation`` (and optionally ``trace``, ``termination_code``...), e.g. the
lines of ``../shared/data/failures.jsonl`` (test data: read from there, never copied here).

:func:`cross_validate` splits the rows into stratified folds (scikit-learn's
``StratifiedKFold``, fixed seed); each fold is classified by a :class:`Classifier` whose
``extra_examples`` are the other folds' rows only (plus the shipped examples).
:func:`keyword_baseline` is the seed project's keyword table, reimplemented from its
description, as the baseline to beat.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable

from tasks.remediation.classify import CATEGORIES, Classifier, Diagnosis


def load_rows(path: str | Path) -> list[dict[str, Any]]:
    """JSON lines -> dicts (blank lines skipped)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _classify(clf: Classifier, row: dict[str, Any]) -> Diagnosis:
    return clf.classify(
        row["message"], row.get("trace"), row.get("termination_code"), row.get("termination_type"), row.get("result_state")
    )


Refine = Callable[[Classifier, int, dict[str, Any], Diagnosis], Diagnosis]
"""``refine(classifier, row index, row, diagnosis) -> diagnosis``: a later layer (the model)
given the fold's classifier, e.g. ``tasks.remediation.llm_fallback.refine``."""


def cross_validate(rows: list[dict[str, Any]], folds: int = 5, seed: int = 0, use_neighbours: bool = True,
                   refine: Refine | None = None) -> list[Diagnosis]:
    """One Diagnosis per row, in row order, each from a classifier that never saw that row.

    With ``use_neighbours=False`` the rows are classified by the rules alone (no folds needed:
    nothing is learnt from the rows). Folds are stratified by category; a category with fewer
    rows than ``folds`` is spread as far as it goes. ``refine``, when given, is applied to each
    diagnosis with the classifier of its fold (so the model's examples come from the other
    folds only), and its result is returned instead.
    """
    refine = refine or (lambda clf, i, row, d: d)
    if not use_neighbours:
        clf = Classifier(use_neighbours=False)
        return [refine(clf, i, r, _classify(clf, r)) for i, r in enumerate(rows)]
    import warnings

    from sklearn.model_selection import StratifiedKFold

    labels = [r["category"] for r in rows]
    out: list[Diagnosis | None] = [None] * len(rows)
    with warnings.catch_warnings():  # "The least populated class has only N members"
        warnings.simplefilter("ignore", UserWarning)
        splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(rows, labels))
    for train, test in splits:
        extra = [{"message": rows[i]["message"], "category": rows[i]["category"], "remediation": rows[i]["remediation"]} for i in train]
        clf = Classifier(extra_examples=extra)
        for i in test:
            out[i] = refine(clf, int(i), rows[i], _classify(clf, rows[i]))
    return out  # type: ignore[return-value]


# The seed's table: error type, keywords, action, priority (SEND_EMAIL is NOTIFY_OWNER here).
SEED_TABLE: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("timeout", ("timeout", "timed out", "deadline exceeded"), "RETRY"),
    ("resource", ("out of memory", "disk space", "insufficient"), "RETRY_WITH_NEW_PARAMS"),
    ("permission", ("permission denied", "unauthorized"), "NOTIFY_OWNER"),
    ("syntax_or_analysis", ("syntax error", "invalid", "compilation failed"), "NOTIFY_OWNER"),
    ("network", ("connection refused", "network error"), "RETRY"),
    ("missing_data", ("no such file", "not found"), "NOTIFY_OWNER"),
)


def keyword_baseline(message: str) -> tuple[str | None, str]:
    """The seed's keyword matching: the first row of :data:`SEED_TABLE` with a keyword in the
    lowercased message gives (category, action); no match gives (None, "ESCALATE")."""
    low = message.lower()
    for category, keywords, action in SEED_TABLE:
        if any(k in low for k in keywords):
            return category, action
    return None, "ESCALATE"


def accuracy(truth: Iterable[str], predicted: Iterable[str | None]) -> float:
    """Share of equal pairs (0.0 for no pairs)."""
    pairs = list(zip(truth, predicted))
    return sum(t == p for t, p in pairs) / len(pairs) if pairs else 0.0


def confusion(truth: list[str], predicted: list[str | None]) -> dict[str, Counter]:
    """truth label -> Counter of predicted labels."""
    table: dict[str, Counter] = {}
    for t, p in zip(truth, predicted):
        table.setdefault(t, Counter())[p if p is not None else "-"] += 1
    return table


def format_confusion(truth: list[str], predicted: list[str | None], labels: Iterable[str] | None = None) -> str:
    """A text confusion table: rows are the true labels, columns the predicted ones (abbreviated
    to 6 characters; the legend is the row names)."""
    table = confusion(truth, predicted)
    rows = [label for label in (labels or CATEGORIES) if label in table] + sorted(set(table) - set(labels or CATEGORIES))
    cols = rows + sorted({p for c in table.values() for p in c} - set(rows))
    width = max(len(r) for r in rows) if rows else 5
    head = " " * width + " " + " ".join(f"{c[:6]:>6}" for c in cols) + "  recall"
    lines = [head]
    for r in rows:
        counts = table.get(r, Counter())
        total = sum(counts.values())
        cells = " ".join(f"{(counts.get(c) or '.'):>6}" for c in cols)
        lines.append(f"{r:<{width}} {cells}  {counts.get(r, 0) / total if total else 0:.2f}")
    return "\n".join(lines)

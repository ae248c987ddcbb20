"""Measuring the router on labelled questions: exact-set accuracy, per-domain precision and
recall, k-fold fitting of the router's weights, and the seed's keyword table as a baseline.

The labelled questions (``../shared/data/monitoring_questions.jsonl``) are never copied into
the repository and never become neighbours: the router's neighbours are its own examples.
What is fitted on them is only :class:`~lead.ask.router.Weights`, and
:func:`cross_validate` scores every question with weights fitted on the other folds.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Sequence

from lead.ask.router import DEFAULT_WEIGHTS, DOMAINS, Weights, default_index, keyword_scores, neighbour_scores, select

GRID = {
    "kw": (0.4, 0.5, 0.6, 0.7, 0.8),
    "ratio": (0.5, 0.6, 0.7, 0.8),
    "floor": (0.1, 0.2, 0.3),
    "k": (3, 5, 8),
    "kw_scale": (1.0, 1.5, 2.5),
}


def load_rows(path: Path) -> list[dict]:
    """The labelled questions: ``{"question", "intents", ...}`` per JSON line."""
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            rows.append({"question": row["question"], "intents": sorted(set(row["intents"]))})
    return rows


@dataclass
class _Cached:
    raw: dict[str, float]
    neighbours: list


class Predictor:
    """Routes questions for many weight settings cheaply: keyword scores and the neighbours
    (up to the largest k of the grid) are computed once per question."""

    def __init__(self, questions: Sequence[str], max_k: int = max(GRID["k"]), nearest: Callable[[str, int], list] | None = None) -> None:
        nearest = nearest or default_index().nearest
        self.cache = [_Cached(keyword_scores(q)[0], nearest(q, max_k)) for q in questions]

    def predict(self, i: int, w: Weights) -> list[str]:
        c = self.cache[i]
        knn = neighbour_scores(c.neighbours[: w.k])
        combined = {d: w.kw * (1 - math.exp(-c.raw[d] / w.kw_scale)) + (1 - w.kw) * knn[d] for d in DOMAINS}
        return sorted(select(combined, c.raw, c.neighbours[: w.k], w))


def exact_accuracy(gold: Sequence[Iterable[str]], pred: Sequence[Iterable[str]]) -> float:
    """Share of questions whose predicted domain set equals the labelled set."""
    return sum(set(g) == set(p) for g, p in zip(gold, pred)) / max(1, len(gold))


def per_domain(gold: Sequence[Iterable[str]], pred: Sequence[Iterable[str]]) -> dict[str, dict[str, float]]:
    """``{domain: {"precision", "recall", "support"}}``."""
    out = {}
    for d in DOMAINS:
        tp = sum(d in g and d in p for g, p in zip(gold, pred))
        fp = sum(d not in g and d in p for g, p in zip(gold, pred))
        fn = sum(d in g and d not in p for g, p in zip(gold, pred))
        out[d] = {"precision": tp / (tp + fp) if tp + fp else 0.0, "recall": tp / (tp + fn) if tp + fn else 0.0,
                  "support": tp + fn}
    return out


def grid() -> list[Weights]:
    keys = list(GRID)
    return [Weights(**dict(zip(keys, values))) for values in itertools.product(*(GRID[k] for k in keys))]


def fit(pred: Predictor, rows: Sequence[dict], indices: Sequence[int]) -> Weights:
    """The grid weights with the best exact-set accuracy on `indices` (ties: the shipped
    defaults' neighbourhood first, then the grid order)."""
    best, best_acc = DEFAULT_WEIGHTS, -1.0
    candidates = [DEFAULT_WEIGHTS] + grid()
    for w in candidates:
        acc = sum(set(pred.predict(i, w)) == set(rows[i]["intents"]) for i in indices) / max(1, len(indices))
        if acc > best_acc + 1e-12:
            best, best_acc = w, acc
    return best


def folds_of(n: int, folds: int, seed: int) -> list[list[int]]:
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [order[f::folds] for f in range(folds)]


def cross_validate(rows: Sequence[dict], folds: int = 5, seed: int = 0, pred: Predictor | None = None) -> tuple[list[list[str]], list[Weights]]:
    """Predicted domains for every row, each by weights fitted on the other folds; and the
    weights each fold chose."""
    pred = pred or Predictor([r["question"] for r in rows])
    out: list[list[str]] = [[] for _ in rows]
    chosen = []
    for test in folds_of(len(rows), folds, seed):
        held = set(test)
        w = fit(pred, rows, [i for i in range(len(rows)) if i not in held])
        chosen.append(w)
        for i in test:
            out[i] = pred.predict(i, w)
    return out, chosen


# The seed project's intent table (its "Intent Classification" section), reimplemented:
# every domain with a keyword that starts a word of the question is routed.
SEED_TABLE = {
    "cost": ("cost", "spending", "dbu", "budget"),
    "security": ("security", "access", "audit", "threat"),
    "performance": ("performance", "slow", "latency"),
    "reliability": ("sla", "failure", "incident", "reliability"),
    "quality": ("quality", "lineage", "governance"),
    "mlops": ("model", "experiment", "serving", "ml"),
}


def seed_baseline(question: str) -> list[str]:
    text = question.lower()
    return [d for d, words in SEED_TABLE.items() if any(re.search(rf"\b{re.escape(w)}", text) for w in words)]


Router = Callable[[str], list[str]]

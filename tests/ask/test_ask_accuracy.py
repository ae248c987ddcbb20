"""Cross-validated routing accuracy on the shared labelled questions (``<repo>/../shared/data``;
skipped when absent). Only the router's weights are fitted on those questions, by k-fold; the
figure asserted is a floor below the one measured (bench/intent.py: about 0.95)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lead.ask.evaluate import Predictor, cross_validate, exact_accuracy, load_rows, per_domain, seed_baseline

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "monitoring_questions.jsonl"
FLOOR = 0.88


@pytest.fixture(scope="module")
def rows():
    if not DATA.is_file():
        pytest.skip(f"{DATA} not found (the shared test data lives beside the repository)")
    return load_rows(DATA)


def test_cross_validated_exact_set_accuracy(rows):
    gold = [r["intents"] for r in rows]
    pred = Predictor([r["question"] for r in rows])
    predicted, _ = cross_validate(rows, folds=5, seed=0, pred=pred)
    acc = exact_accuracy(gold, predicted)
    assert acc >= FLOOR, acc
    for domain, pr in per_domain(gold, predicted).items():
        assert pr["recall"] >= 0.75, (domain, pr)
    assert acc > exact_accuracy(gold, [seed_baseline(r["question"]) for r in rows]) + 0.3

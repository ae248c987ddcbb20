"""Cross-validated accuracy on the shared labelled failures (../shared/data/failures.jsonl).

Floors sit a little below what bench/remediation.py measures (k-fold 0.93 category / 0.91
remediation; rules only 0.94 / 0.90), so a regression in the catalogue or the neighbours fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.remediation.evaluate import accuracy, cross_validate, keyword_baseline, load_rows

FAILURES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "failures.jsonl"

KFOLD_CATEGORY_FLOOR = 0.88
KFOLD_REMEDIATION_FLOOR = 0.86
RULES_CATEGORY_FLOOR = 0.85


@pytest.fixture(scope="module")
def rows():
    if not FAILURES.is_file():
        pytest.skip(f"{FAILURES} not found: the shared test data lives beside the repository")
    return load_rows(FAILURES)


def test_kfold_accuracy_above_floor(rows):
    diagnoses = cross_validate(rows, folds=5, seed=0)
    assert accuracy([r["category"] for r in rows], [d.category for d in diagnoses]) >= KFOLD_CATEGORY_FLOOR
    assert accuracy([r["remediation"] for r in rows], [d.remediation for d in diagnoses]) >= KFOLD_REMEDIATION_FLOOR


def test_rules_only_accuracy_above_floor_and_baseline(rows):
    diagnoses = cross_validate(rows, use_neighbours=False)
    rules_acc = accuracy([r["category"] for r in rows], [d.category for d in diagnoses])
    base_acc = accuracy([r["category"] for r in rows], [keyword_baseline(r["message"])[0] for r in rows])
    assert rules_acc >= RULES_CATEGORY_FLOOR
    assert rules_acc > base_acc + 0.5

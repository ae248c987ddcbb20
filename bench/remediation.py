"""Failure-classifier benchmark: category and remediation accuracy on the shared failures.

Reads ``../shared/data/failures.jsonl`` (test data beside the repository, never copied into it)
and prints, for each of:

- ``k-fold``: the full classifier under stratified k-fold cross-validation (default 5 folds,
  seed 0): each fold's neighbours layer holds only the other folds' rows plus the shipped
  examples, so no message is scored by a classifier that holds it;
- ``rules only``: termination codes and the signature catalogue, no neighbours (learns nothing
  from the rows, so no folds are needed);
- ``seed keywords``: the seed project's keyword table (``evaluate.keyword_baseline``);

the category and remediation accuracy, the count of decisions per layer, and (for k-fold and
rules only) the category confusion table, plus the wall time (the first k-fold fold loads
the MiniLM model).

Usage: ``uv run python bench/remediation.py [--folds 5] [--seed 0] [--data PATH] [--errors]``
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks.remediation.classify import REMEDIATIONS  # noqa: E402
from tasks.remediation.evaluate import (  # noqa: E402
    accuracy,
    cross_validate,
    format_confusion,
    keyword_baseline,
    load_rows,
)

DATA = ROOT.parent / "shared" / "data" / "failures.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--errors", action="store_true", help="List every k-fold mistake.")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the shared test data lives beside the repository)")
        return 0
    rows = load_rows(args.data)
    cats = [r["category"] for r in rows]
    rems = [r["remediation"] for r in rows]
    print(f"{len(rows)} labelled failures from {args.data}")

    results = []
    t0 = time.perf_counter()
    kfold = cross_validate(rows, folds=args.folds, seed=args.seed)
    t_kfold = time.perf_counter() - t0
    t0 = time.perf_counter()
    rules = cross_validate(rows, use_neighbours=False)
    t_rules = time.perf_counter() - t0
    base = [keyword_baseline(r["message"]) for r in rows]

    for name, pc, pr, layers, secs in (
        (f"k-fold ({args.folds}, seed {args.seed})", [d.category for d in kfold], [d.remediation for d in kfold], Counter(d.layer for d in kfold), t_kfold),
        ("rules only", [d.category for d in rules], [d.remediation for d in rules], Counter(d.layer for d in rules), t_rules),
        ("seed keywords", [b[0] for b in base], [b[1] for b in base], Counter(), 0.0),
    ):
        results.append((name, accuracy(cats, pc), accuracy(rems, pr), layers, secs))

    print(f"\n{'classifier':<22} {'category':>8} {'remed.':>8}  {'time':>6}  layers")
    for name, ca, ra, layers, secs in results:
        layer_text = ", ".join(f"{k} {v}" for k, v in sorted(layers.items())) or "-"
        print(f"{name:<22} {ca:>8.3f} {ra:>8.3f}  {secs:>5.1f}s  {layer_text}")
    print("goal: category >= 0.85, remediation >= 0.90 (k-fold)")

    print("\nk-fold: category confusion (rows: labelled, columns: predicted)")
    print(format_confusion(cats, [d.category for d in kfold]))
    print("\nk-fold: remediation confusion")
    print(format_confusion(rems, [d.remediation for d in kfold], REMEDIATIONS))
    print("\nrules only: category confusion")
    print(format_confusion(cats, [d.category for d in rules]))
    if args.errors:
        print("\nk-fold mistakes:")
        for r, d in zip(rows, kfold):
            if d.category != r["category"] or d.remediation != r["remediation"]:
                print(f"  {r.get('id', '?')}: {r['category']}/{r['remediation']} -> {d.category}/{d.remediation} "
                      f"[{d.layer} {d.confidence:.2f}] {d.evidence[:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Failure-classifier benchmark: category and remediation accuracy on the shared failures.

Reads ``../shared/data/failures.jsonl`` (test data beside the repository, never copied into it)
and prints, for each of:

- ``k-fold``: the full classifier under stratified k-fold cross-validation (default 5 folds,
  seed 0): each fold's neighbours layer holds only the other folds' rows plus the shipped
  examples, so no message is scored by a classifier that holds it;
- ``rules only``: termination codes and the signature catalogue, no neighbours (learns nothing
  from the rows, so no folds are needed);
- ``seed keywords``: the seed project's keyword table (``evaluate.keyword_baseline``);
- ``k-fold + LLM``: the same folds, with the model deciding where the rules are unsure
  (``tasks.remediation.llm_fallback``, confidence under ``--llm-below``, default 0.6); a model
  answer that fails validation or the allow-list leaves the rule decision. Only when
  ``JOB_AGENT_LLM_MODEL`` is set (``JOB_AGENT_LLM_API_BASE`` for a local server); otherwise the
  column is skipped and says so. ``--llm-db URL`` keeps the calls and the answer cache in that
  state database (a second run answers from the cache). The bench checks the column never
  scores below the rules alone on the same messages;

the category and remediation accuracy, the count of decisions per layer, and (for k-fold and
rules only) the category confusion table, plus the wall time (the first k-fold fold loads
the MiniLM model).

Usage: ``uv run python bench/remediation.py [--folds 5] [--seed 0] [--data PATH] [--errors]
[--llm-below 0.6] [--llm-db URL]``
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
    parser.add_argument("--llm-below", type=float, default=None,
                        help="Rule confidence under which the model decides (default: llm_fallback.LLM_BELOW).")
    parser.add_argument("--llm-db", default=None, help="State database URL for the model's call log and answer cache.")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the shared test data lives beside the repository)")
        return 0
    rows = load_rows(args.data)
    cats = [r["category"] for r in rows]
    rems = [r["remediation"] for r in rows]
    print(f"{len(rows)} labelled failures from {args.data}")

    results = []
    gateway, llm_state = _gateway(args.llm_db)
    refined: dict[int, object] = {}
    plain: dict[int, object] = {}

    def with_model(clf, i, row, d):
        plain[i] = d
        if gateway is None:
            return d
        from tasks.remediation.llm_fallback import LLM_BELOW, refine

        r = refine(d, gateway, clf, row["message"], row.get("trace"), termination_code=row.get("termination_code"),
                   termination_type=row.get("termination_type"), result_state=row.get("result_state"),
                   threshold=LLM_BELOW if args.llm_below is None else args.llm_below)
        refined[i] = r
        return r.diagnosis

    t0 = time.perf_counter()
    with_llm = cross_validate(rows, folds=args.folds, seed=args.seed, refine=with_model)
    kfold = [plain[i] for i in range(len(rows))]
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
    if gateway is None:
        print(f"{'k-fold + LLM':<22} skipped: no model configured (set JOB_AGENT_LLM_MODEL, and "
              "JOB_AGENT_LLM_API_BASE for a local server)")
    else:
        _llm_column(rows, cats, rems, kfold, with_llm, refined, gateway, llm_state, t_kfold)
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


def _gateway(db_url: str | None):
    """The gateway for the configured model (None: the LLM column is skipped) and the engine of
    its call log (None without ``--llm-db``)."""
    from llm.config import llm_settings
    from llm.gateway import Gateway

    settings = llm_settings()
    if settings is None:
        return None, None
    engine = None
    if db_url:
        from state.engine import make_engine

        engine = make_engine(db_url)
    return Gateway(settings, engine), engine


def _llm_column(rows, cats, rems, kfold, with_llm, refined, gateway, engine, seconds) -> None:
    """Print the LLM column, what happened to the model's answers, and the never-below check."""
    asked = [r for r in refined.values() if r.asked]
    used = [r for r in asked if r.used]
    ca, ra = accuracy(cats, [d.category for d in with_llm]), accuracy(rems, [d.remediation for d in with_llm])
    layers = Counter(d.layer for d in with_llm)
    layer_text = ", ".join(f"{k} {v}" for k, v in sorted(layers.items()))
    print(f"{'k-fold + LLM':<22} {ca:>8.3f} {ra:>8.3f}  {seconds:>5.1f}s  {layer_text}")
    asked_idx = [i for i, r in refined.items() if r.asked]
    rule_ok = sum(kfold[i].category == cats[i] for i in asked_idx)
    llm_ok = sum(with_llm[i].category == cats[i] for i in asked_idx)
    print(f"  model {gateway.settings.model}: asked on {len(asked)} unsure message(s), answer taken on {len(used)}, "
          f"rule kept on {len(asked) - len(used)} (invalid or unreachable)")
    print(f"  on the messages it was asked about: category right {llm_ok}/{len(asked_idx)} with the model, "
          f"{rule_ok}/{len(asked_idx)} by the rules")
    base_ca = accuracy(cats, [d.category for d in kfold])
    base_ra = accuracy(rems, [d.remediation for d in kfold])
    verdict = "yes" if ca >= base_ca and ra >= base_ra else "NO: the model made it worse here (try a lower --llm-below)"
    print(f"  never below the rules alone on the same messages: {verdict}")
    if engine is not None:
        from llm.usage import usage_rows

        print(f"  calls recorded: {usage_rows(engine)}")


if __name__ == "__main__":
    sys.exit(main())

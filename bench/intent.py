"""Intent-routing benchmark for `lead ask`: exact-set accuracy and per-domain precision/recall.

Reads ``../shared/data/monitoring_questions.jsonl`` (test data beside the repository, never
copied into it). The router's neighbours are its own examples (``lead/ask/examples.txt``);
the only thing fitted on the shared questions is the weight setting
(``lead.ask.router.Weights``: keyword weight, ratio, floor, k, keyword scale), and it is fitted
by k-fold: every question is scored with weights chosen on the other folds. Reported:

- ``k-fold`` (default 5 folds, seeds 0..2): the cross-validated figure (mean over seeds, and
  the per-domain precision/recall of seed 0);
- ``shipped weights``: the shipped defaults on all rows (in-sample for the weights: for
  reference, not the claim);
- ``keywords only`` (keyword weight 1, shipped ratio/floor) and ``neighbours only``;
- ``seed keywords``: the seed project's intent table (``evaluate.seed_baseline``);
- ``router + LLM``: the shipped router with the questions it is unsure about (confidence under
  ``lead.ask.llm_route.LLM_BELOW``, or nothing fits) re-routed by the model, only when
  ``JOB_AGENT_LLM_MODEL`` is set (otherwise skipped, and said so); the model's templates and
  parameters pass the catalogue's binding or the router's answer stands;
- with ``--minilm``: the same k-fold with MiniLM neighbours in place of TF-IDF (loads torch
  in the bench process only; the shipped router never does).

Then the latency: ``route()`` per question (p50/p95, warm process) and the wall time of
``lead ask --dry-run --json --questions FILE`` over all questions and of a single question.

Usage: ``uv run python bench/intent.py [--folds 5] [--seeds 3] [--data PATH] [--errors] [--minilm]``
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lead.ask.evaluate import (  # noqa: E402
    Predictor,
    cross_validate,
    exact_accuracy,
    load_rows,
    per_domain,
    seed_baseline,
)
from lead.ask.router import DEFAULT_WEIGHTS, DOMAINS, Weights, load_examples, route  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "monitoring_questions.jsonl"


def _table(name: str, gold, pred) -> None:
    pd = per_domain(gold, pred)
    cells = "  ".join(f"{d[:5]:>5} {pd[d]['precision']:.2f}/{pd[d]['recall']:.2f}" for d in DOMAINS)
    print(f"{name:<26} {exact_accuracy(gold, pred):>6.3f}   {cells}")


def _minilm_nearest():
    from docs_index.embedding import Embedder, resolve_model

    embedder = Embedder(resolve_model())
    examples = load_examples()
    vectors = embedder.embed([e.question for e in examples])

    def nearest(question: str, k: int):
        q = embedder.embed_query(question)
        sims = sorted(((sum(a * b for a, b in zip(q, v)), e) for v, e in zip(vectors, examples)), key=lambda x: -x[0])
        return [(max(s, 0.0), e) for s, e in sims[:k] if s > 0]

    return nearest


def _llm_column(rows, gold) -> None:
    """The shipped router with the model re-routing its unsure questions (skipped without a model)."""
    from lead.ask.llm_route import LLM_BELOW, needs_model, reroute
    from llm.config import llm_settings
    from llm.gateway import Gateway

    settings = llm_settings()
    if settings is None:
        print(f"{'router + LLM':<26} skipped: no model configured (set JOB_AGENT_LLM_MODEL, and JOB_AGENT_LLM_API_BASE "
              "for a local server)")
        return
    gateway = Gateway(settings)
    routes = [route(r["question"]) for r in rows]
    unsure = [i for i, r in enumerate(routes) if needs_model(r)]
    t0 = time.perf_counter()
    final = list(routes)
    for i in unsure:
        final[i] = reroute(routes[i], gateway)[0]
    seconds = time.perf_counter() - t0
    _table("router (shipped)", gold, [r.intents for r in routes])
    _table("router + LLM", gold, [r.intents for r in final])
    taken = sum(final[i].routed_by == "llm" for i in unsure)
    right = lambda rs: sum(set(rs[i].intents) == set(gold[i]) for i in unsure)  # noqa: E731
    print(f"  model {settings.model}: {len(unsure)} question(s) under {LLM_BELOW}, model route taken on {taken}; "
          f"exact on them {right(final)}/{len(unsure)} with the model, {right(routes)}/{len(unsure)} by the router; "
          f"{seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--errors", action="store_true", help="List every k-fold mistake (seed 0).")
    parser.add_argument("--minilm", action="store_true", help="Also k-fold with MiniLM neighbours (slow import).")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the shared test data lives beside the repository)")
        return 0
    rows = load_rows(args.data)
    gold = [r["intents"] for r in rows]
    questions = [r["question"] for r in rows]
    print(f"{len(rows)} labelled questions from {args.data}; {len(load_examples())} own examples")

    pred = Predictor(questions)
    print(f"\n{'router':<26} {'exact':>6}   per domain precision/recall")
    accs, first = [], None
    chosen_all = []
    for seed in range(args.seeds):
        cv, chosen = cross_validate(rows, args.folds, seed, pred)
        accs.append(exact_accuracy(gold, cv))
        chosen_all.extend(chosen)
        first = first or cv
    _table(f"k-fold ({args.folds}, seed 0)", gold, first)
    print(f"{'k-fold mean of ' + str(args.seeds) + ' seeds':<26} {statistics.mean(accs):>6.3f}   (per seed: {', '.join(f'{a:.3f}' for a in accs)})")
    _table("shipped weights (in-samp.)", gold, [pred.predict(i, DEFAULT_WEIGHTS) for i in range(len(rows))])
    _table("keywords only", gold, [pred.predict(i, Weights(kw=1.0, ratio=DEFAULT_WEIGHTS.ratio, floor=DEFAULT_WEIGHTS.floor, k=DEFAULT_WEIGHTS.k, kw_scale=DEFAULT_WEIGHTS.kw_scale)) for i in range(len(rows))])
    _table("neighbours only", gold, [pred.predict(i, Weights(kw=0.0, ratio=DEFAULT_WEIGHTS.ratio, floor=DEFAULT_WEIGHTS.floor, k=DEFAULT_WEIGHTS.k)) for i in range(len(rows))])
    _table("seed keywords", gold, [seed_baseline(q) for q in questions])
    if args.minilm:
        t0 = time.perf_counter()
        mpred = Predictor(questions, nearest=_minilm_nearest())
        t_model = time.perf_counter() - t0
        maccs = []
        for seed in range(args.seeds):
            cv, _ = cross_validate(rows, args.folds, seed, mpred)
            maccs.append(exact_accuracy(gold, cv))
        _table("k-fold MiniLM neighbours", gold, cross_validate(rows, args.folds, 0, mpred)[0])
        print(f"{'  MiniLM mean of seeds':<26} {statistics.mean(maccs):>6.3f}   (model load + embedding {t_model:.1f}s)")
        _table("MiniLM neighbours only", gold, [mpred.predict(i, Weights(kw=0.0, ratio=DEFAULT_WEIGHTS.ratio, floor=DEFAULT_WEIGHTS.floor, k=DEFAULT_WEIGHTS.k)) for i in range(len(rows))])
    _llm_column(rows, gold)
    print("goal: exact-set >= 0.90 (k-fold)")
    print(f"fold weights (kw, ratio, floor, k, kw_scale): "
          + "; ".join(sorted({f'{w.kw},{w.ratio},{w.floor},{w.k},{w.kw_scale}' for w in chosen_all})))
    print(f"shipped: {DEFAULT_WEIGHTS}")

    if args.errors:
        print("\nk-fold mistakes (seed 0): labelled -> predicted")
        for r, p in zip(rows, first):
            if set(p) != set(r["intents"]):
                print(f"  {','.join(r['intents'])} -> {','.join(p) or '(none)'} | {r['question']}")

    # latency
    route("warm up")
    times = []
    for q in questions:
        t0 = time.perf_counter()
        route(q)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p50 = times[len(times) // 2]
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"\nroute() latency per question: p50 {p50:.2f} ms, p95 {p95:.2f} ms, max {times[-1]:.2f} ms")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write("\n".join(questions) + "\n")
        qfile = f.name
    lead = [sys.executable, "-c", "from lead.cli import main; main()"]
    for label, cmd in ((f"lead ask --dry-run --json --questions FILE ({len(questions)} questions)", [*lead, "ask", "--dry-run", "--json", "--questions", qfile]),
                       ("lead ask QUESTION --dry-run --json", [*lead, "ask", questions[0], "--dry-run", "--json"])):
        walls = []
        for _ in range(3):
            t0 = time.perf_counter()
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            walls.append(time.perf_counter() - t0)
            if done.returncode != 0:
                print(f"{label}: exit {done.returncode}: {done.stderr.strip()[:200]}")
                break
        print(f"{label}: wall {min(walls):.2f} s (best of 3), {max(walls):.2f} s worst")
    Path(qfile).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())

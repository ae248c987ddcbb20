"""Retrieval benchmark: cross-validated recall of dense, BM25 and hybrid search over the shared docs.

Builds (or reuses) an index of ``../shared/data/databricks-docs`` and asks every question of
``../shared/data/retrieval_qa.jsonl`` (101 questions) and ``bench/retrieval_questions.jsonl``
(our own questions, written from the corpus documents before any retrieval run on them).
A question counts as found at k when one of its ``relevant_paths`` is among the first k
distinct file paths of the ranking; MRR is over the first ``--depth`` distinct paths.

Every hybrid figure is measured on questions that did not tune it:

- **cross-validation**: the questions are split into ``--folds`` folds (``--repeats`` random
  splits); for each fold the fusion settings (RRF offset, BM25 weight, candidates per
  ranking; :data:`GRID`) are chosen on the other folds (best recall@5, then
  MRR) and the fold is scored with them. The table gives the mean over all folds and repeats
  (and the spread of the fold means). Dense and BM25 have no fitted settings.
- **own questions**: settings chosen on the 101 shared questions only, scored on ours.
- **head variants** (:data:`VARIANTS`): the same cross-validation with extra options chosen
  jointly with the fusion settings: a cap on paths per source family and fact/field
  de-duplication in the first 5 paths (:mod:`retriever.diversify`), and the file-name signal
  (:mod:`retriever.names`); reported on the shared questions, on all, split into the shared
  and own parts of that all-question CV, and on ours with the option chosen on the shared.
- for reference only, the in-sample figure of the shipped defaults
  (:data:`retriever.search.RRF_K`, ...), which were chosen on all questions.

Chunking and the embedding model are not fitted per fold: they are structural choices
(one chunk per section / field entry) made once; their effect shows in the held-out figures.

Latency: p50/p95 of ``Retriever.search(q, k=5)`` per mode after warm-up, measured in one run
(dense, BM25 and hybrid interleaved per question, so machine noise hits all modes alike) and
the ratio hybrid/BM25.

Usage: ``uv run python bench/retrieval.py [--index-dir DIR] [--folds 5] [--repeats 3] [--json]
[--misses]`` (about a minute on an existing index, 2 CPUs)
(an existing index in ``--index-dir`` is updated incrementally: a re-run embeds nothing).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docs_index.chunking import ChunkingConfig  # noqa: E402
from docs_index.store import DEFAULT_CHUNKING, DEFAULT_MAX_SEQ_LENGTH, build_index  # noqa: E402
from retriever import MODES, Retriever  # noqa: E402
from retriever.diversify import diversify  # noqa: E402
from retriever.search import (  # noqa: E402
    BM25_WEIGHT,
    HYBRID_CANDIDATES,
    IDENT_WEIGHT,
    NAME_WEIGHT,
    RRF_K,
    fuse,
)

DATA = ROOT.parent / "shared" / "data"
OWN_QUESTIONS = ROOT / "bench" / "retrieval_questions.jsonl"


@dataclass(frozen=True)
class Fusion:
    """One setting of hybrid fusion: RRF offset, weights of the BM25 and identifier rankings
    (dense weighs 1), how many hits of each ranking are fused and the weight of the file-name
    signal (:mod:`retriever.names`)."""

    rrf_k: int
    bm25_weight: float
    ident_weight: float
    candidates: int
    name_weight: float

    def fuse(self, rankings, depth: int, named=frozenset()):
        """Fused hits of ``[dense, bm25, identifier]`` rankings, best first, at most ``depth``;
        ``named``: the paths the question names (:meth:`Retriever.named_paths`)."""
        return fuse([r[: self.candidates] for r in rankings], depth, self.rrf_k,
                    [1.0, self.bm25_weight, self.ident_weight],
                    named=named, name_weight=self.name_weight)


NAME_WEIGHTS = (0.0, 0.5, 1.0, 2.0)
GRID = [
    Fusion(k, wb, IDENT_WEIGHT, c, wn)
    for wn, k, wb, c in itertools.product(NAME_WEIGHTS, (10, 30, 60), (0.5, 1.0, 2.0), (20, 50, 100))
]
"""Fusion settings cross-validation chooses from (27 x 4 file-name weights; few, coarse values
on purpose; ties go to the first, so to no file-name signal). The
identifier ranking keeps its shipped weight: it fires only when a query names a field
(``max_concurrent_runs``), as the worker's citation queries do and 8 of the 151 benchmark
questions do, too few to fit a weight on."""

SHIPPED = Fusion(RRF_K, BM25_WEIGHT, IDENT_WEIGHT, HYBRID_CANDIDATES, NAME_WEIGHT)


@dataclass(frozen=True)
class Head:
    """One setting of the re-ordering of a fused ranking's first 5 distinct paths
    (:func:`retriever.diversify.diversify`): ``cap`` paths per source family (None: off) and
    ``dedupe``: None, ``"fact"`` (one fact, same field name and first sentence, takes one slot)
    or ``"field"`` (one field name per source family takes one slot)."""

    cap: int | None
    dedupe: str | None

    def apply(self, hits):
        """``hits`` re-ordered (unchanged when the setting is off)."""
        return diversify(hits, 5, self.cap, self.dedupe)


OFF = Head(None, None)
_CAPS = [Head(c, None) for c in (2, 3, 4, None)]
VARIANTS = {
    "fusion only": ((0.0,), [OFF]),
    "family cap": ((0.0,), _CAPS),
    "dedupe fact": ((0.0,), [OFF, Head(None, "fact")]),
    "dedupe field/family": ((0.0,), [OFF, Head(None, "field")]),
    "cap + dedupe": ((0.0,), [Head(c, d) for c in (2, 3, 4, None) for d in (None, "fact", "field")]),
    "file-name signal": (NAME_WEIGHTS, [OFF]),
    "file-name + family cap": (NAME_WEIGHTS, _CAPS),
}
"""Each variant: the file-name weights and head settings cross-validation may choose from,
jointly with the rest of the fusion :data:`GRID` (the off settings are always candidates, so
a variant can decline)."""


def dedupe_paths(hits) -> list[str]:
    """Distinct paths of ``hits`` in rank order."""
    seen: dict[str, None] = {}
    for h in hits:
        seen.setdefault(h.path, None)
    return list(seen)


def per_question(paths: list[str], q: dict) -> tuple[float, float, float]:
    """(hit@1, hit@5, reciprocal rank) of one ranked path list against ``relevant_paths``."""
    rel = set(q["relevant_paths"])
    rank = next((i for i, p in enumerate(paths, 1) if p in rel), None)
    return float(rank == 1), float(rank is not None and rank <= 5), 1.0 / rank if rank else 0.0


def mean_scores(rows: list[tuple[float, float, float]]) -> dict[str, float]:
    """Mean recall@1, recall@5 and MRR of per-question rows."""
    n = len(rows) or 1
    return {"r@1": sum(r[0] for r in rows) / n, "r@5": sum(r[1] for r in rows) / n,
            "mrr": sum(r[2] for r in rows) / n}


def choose(scores: dict[Fusion, list[tuple]], idx: list[int]) -> Fusion:
    """The setting with the best recall@5 (then MRR, then the first in :data:`GRID`) on the
    questions ``idx``."""
    def key(f: Fusion):
        m = mean_scores([scores[f][i] for i in idx])
        return (m["r@5"], m["mrr"])
    return max(GRID, key=key)


def cross_validate(scores: dict[str, list[tuple]], fused: dict[Fusion, list[tuple]], n: int,
                   folds: int, repeats: int) -> dict:
    """k-fold CV repeated ``repeats`` times: per mode, the mean and spread of fold scores;
    hybrid settings chosen on the training folds only. ``scores``: per-question rows of the
    unfitted modes; ``fused``: per-question rows of every hybrid setting."""
    fold_means: dict[str, list[dict]] = {m: [] for m in MODES}
    chosen: list[Fusion] = []
    for rep in range(repeats):
        order = list(range(n))
        random.Random(rep).shuffle(order)
        for f in range(folds):
            test = order[f::folds]
            train = [i for i in order if i not in set(test)]
            best = choose(fused, train)
            chosen.append(best)
            for mode in ("dense", "bm25"):
                fold_means[mode].append(mean_scores([scores[mode][i] for i in test]))
            fold_means["hybrid"].append(mean_scores([fused[best][i] for i in test]))
    out = {}
    for mode, ms in fold_means.items():
        out[mode] = {k: statistics.mean(m[k] for m in ms) for k in ("r@1", "r@5", "mrr")}
        out[mode]["r@5_sd"] = statistics.pstdev(m["r@5"] for m in ms)
    out["chosen"] = [f.__dict__ for f in chosen]
    return out


def choose_joint(rows: dict[tuple, list[tuple]], options: list[tuple], idx: list[int]) -> tuple:
    """The option (a (Fusion, Head) pair) with the best recall@5, then MRR, then the first
    listed, on the questions ``idx``."""
    def key(o):
        m = mean_scores([rows[o][i] for i in idx])
        return (m["r@5"], m["mrr"])
    return max(options, key=key)


def cv_variant(rows: dict[tuple, list[tuple]], options: list[tuple], qidx: list[int],
               folds: int, repeats: int) -> tuple[list[tuple], list[tuple]]:
    """Cross-validation over the questions ``qidx`` (indexes into ``rows``): per repeat and
    fold, the option is chosen on the training folds and the held-out fold scored with it.
    Returns (per-question held-out rows averaged over the repeats, in ``qidx`` order;
    the options chosen per fold)."""
    held: dict[int, list[tuple]] = {i: [] for i in qidx}
    chosen = []
    for rep in range(repeats):
        order = list(qidx)
        random.Random(rep).shuffle(order)
        for f in range(folds):
            test = order[f::folds]
            tset = set(test)
            best = choose_joint(rows, options, [i for i in order if i not in tset])
            chosen.append(best)
            for i in test:
                held[i].append(rows[best][i])
    avg = [tuple(statistics.mean(r[j] for r in held[i]) for j in range(3)) for i in qidx]
    return avg, chosen


def variant_report(ranked, named, questions, n_shared: int, depth: int, folds: int, repeats: int) -> dict:
    """Per :data:`VARIANTS` entry: recall@1/@5/MRR under cross-validation on the shared
    questions, on all questions (and its shared and own parts), and on our own questions with
    the option chosen on the shared ones; plus the options chosen."""
    heads = sorted({h for _, hs in VARIANTS.values() for h in hs}, key=repr)
    rows = {}
    for f in GRID:
        fused = [f.fuse(rk, depth, nm) for rk, nm in zip(ranked, named)]
        for h in heads:
            rows[(f, h)] = [per_question(dedupe_paths(h.apply(hits)), q)
                            for hits, q in zip(fused, questions)]
    n = len(questions)
    out = {}
    for name, (wns, hs) in VARIANTS.items():
        options = [(f, h) for f in GRID if f.name_weight in wns for h in hs]
        shared_rows, shared_chosen = cv_variant(rows, options, list(range(n_shared)), folds, repeats)
        all_rows, all_chosen = cv_variant(rows, options, list(range(n)), folds, repeats)
        v = {"cv_shared": mean_scores(shared_rows), "cv_all": mean_scores(all_rows),
             "cv_all_shared_part": mean_scores(all_rows[:n_shared]),
             "cv_all_own_part": mean_scores(all_rows[n_shared:])}
        if n > n_shared:
            best = choose_joint(rows, options, list(range(n_shared)))
            v["own_chosen_on_shared"] = mean_scores(rows[best][n_shared:])
        best_all = choose_joint(rows, options, list(range(n)))
        v["chosen_on_all"] = {**best_all[0].__dict__, **best_all[1].__dict__}
        heads_chosen = [(c[1].cap, c[1].dedupe) for c in shared_chosen + all_chosen]
        v["heads_chosen_in_folds"] = {repr(k): heads_chosen.count(k) for k in sorted(set(heads_chosen), key=repr)}
        out[name] = v
    return out


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def load_questions(path: Path) -> list[dict]:
    """Questions of a JSONL file (``question``, ``relevant_paths``, ...)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main() -> int:
    """Run the benchmark; returns the exit code (1 when the shared data is missing)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=Path, default=DATA / "databricks-docs")
    ap.add_argument("--qa", type=Path, default=DATA / "retrieval_qa.jsonl")
    ap.add_argument("--own", type=Path, default=OWN_QUESTIONS, help="our own questions (JSONL)")
    ap.add_argument("--index-dir", type=Path, default=None, help="keep (and reuse) the index here")
    ap.add_argument("--max-chars", type=int, default=DEFAULT_CHUNKING.max_chars)
    ap.add_argument("--overlap", type=int, default=DEFAULT_CHUNKING.overlap)
    ap.add_argument("--pack", action=argparse.BooleanOptionalAction, default=DEFAULT_CHUNKING.pack,
                    help="pack small sections and field entries into shared chunks")
    ap.add_argument("--max-seq-length", type=int, default=DEFAULT_MAX_SEQ_LENGTH)
    ap.add_argument("--depth", type=int, default=50, help="fused hits per query for recall/MRR")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3, help="random fold splits to average over")
    ap.add_argument("--misses", action="store_true", help="list hybrid misses at 5 (shipped settings)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    args = ap.parse_args()

    if not args.docs.is_dir() or not args.qa.is_file():
        print(f"shared data not found ({args.docs}, {args.qa}): nothing to benchmark", file=sys.stderr)
        return 1
    shared = load_questions(args.qa)
    own = load_questions(args.own) if args.own.is_file() else []
    questions = shared + own
    tmp = None
    index_dir = args.index_dir
    if index_dir is None:
        tmp = tempfile.mkdtemp(prefix="bench-retrieval-")
        index_dir = Path(tmp)
    chunking = ChunkingConfig(max_chars=args.max_chars, overlap=args.overlap, pack=args.pack)
    report: dict = {"settings": {"chunking": chunking.__dict__, "max_seq_length": args.max_seq_length,
                                 "folds": args.folds, "repeats": args.repeats,
                                 "shipped_fusion": SHIPPED.__dict__}}
    try:
        last = [0.0]

        def progress(done: int, total: int) -> None:
            now = time.perf_counter()
            if done == total or now - last[0] > 15:
                last[0] = now
                print(f"  embedded {done}/{total}", file=sys.stderr, flush=True)

        print(f"building {index_dir} from {args.docs} ({chunking}, max_seq_length={args.max_seq_length})",
              file=sys.stderr)
        s = build_index([str(args.docs)], index_dir, chunking=chunking,
                        max_seq_length=args.max_seq_length, progress=progress)
        report["build"] = {"files": s.files, "chunks": s.chunks, "embedded": s.embedded,
                           "seconds": round(s.seconds, 1)}

        r = Retriever(index_dir)
        r.warm_up()
        depth = max(args.depth, max(f.candidates for f in GRID))
        ranked = [r.rankings(q["question"], depth) for q in questions]
        named = [r.named_paths(q["question"]) for q in questions]
        scores = {
            "dense": [per_question(dedupe_paths(d), q) for (d, _, _), q in zip(ranked, questions)],
            "bm25": [per_question(dedupe_paths(b), q) for (_, b, _), q in zip(ranked, questions)],
        }
        fused = {f: [per_question(dedupe_paths(f.fuse(rk, args.depth, nm)), q)
                     for rk, nm, q in zip(ranked, named, questions)] for f in GRID + [SHIPPED]}

        n_shared = len(shared)
        report["cv_all"] = cross_validate(scores, fused, len(questions), args.folds, args.repeats)
        sub = {m: v[:n_shared] for m, v in scores.items()}
        report["cv_shared"] = cross_validate(sub, {f: v[:n_shared] for f, v in fused.items()},
                                             n_shared, args.folds, args.repeats)
        if own:
            best = choose(fused, list(range(n_shared)))
            idx = range(n_shared, len(questions))
            report["own"] = {
                "n": len(own), "fusion_chosen_on_shared": best.__dict__,
                "dense": mean_scores([scores["dense"][i] for i in idx]),
                "bm25": mean_scores([scores["bm25"][i] for i in idx]),
                "hybrid": mean_scores([fused[best][i] for i in idx]),
            }
        report["variants"] = variant_report(ranked, named, questions, n_shared, args.depth,
                                            args.folds, args.repeats)
        report["chosen_on_all"] = choose(fused, list(range(len(questions)))).__dict__
        report["in_sample_shipped"] = {
            "all": mean_scores(fused[SHIPPED]), "shared": mean_scores(fused[SHIPPED][:n_shared]),
        }

        lat: dict[str, list[float]] = {m: [] for m in MODES}
        for q in questions[:5]:
            for mode in MODES:
                r.search(q["question"], k=5, mode=mode)
        for q in questions:
            for mode in MODES:
                t = time.perf_counter()
                r.search(q["question"], k=5, mode=mode)
                lat[mode].append((time.perf_counter() - t) * 1000)
        report["latency_ms"] = {m: {"p50": round(statistics.median(v), 2), "p95": round(pct(v, 95), 2)}
                                for m, v in lat.items()}
        report["latency_ms"]["p95_ratio_hybrid_to_bm25"] = round(
            pct(lat["hybrid"], 95) / max(pct(lat["bm25"], 95), 1e-9), 1)
        report["load_average"] = [round(x, 1) for x in os.getloadavg()]
        report["cpus"] = os.cpu_count()
        misses = [
            {"id": q["id"], "question": q["question"], "want": q["relevant_paths"],
             "got": dedupe_paths(SHIPPED.fuse(rk, args.depth, nm))[:5]}
            for rk, nm, q, row in zip(ranked, named, questions, fused[SHIPPED]) if not row[1]
        ]
        report["shipped_misses"] = misses

        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print_tables(report, len(shared), len(own), args)
            if args.misses:
                print(f"\nhybrid misses at 5 with the shipped settings ({len(misses)}):")
                for m in misses:
                    print(f"  {m['id']} {m['question'][:90]!r}\n     want {m['want']}\n     got  {m['got']}")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def print_tables(report: dict, n_shared: int, n_own: int, args) -> None:
    """The human-readable form of ``report``."""
    b = report["build"]
    print(f"build: files={b['files']} chunks={b['chunks']} embedded={b['embedded']} seconds={b['seconds']}")
    load = ", ".join(str(x) for x in report["load_average"])
    print(f"load average {load} on {report['cpus']} CPUs")
    for key, label in (("cv_shared", f"{n_shared} shared questions"),
                       ("cv_all", f"{n_shared} shared + {n_own} own questions")):
        cv = report[key]
        print(f"\n{args.folds}-fold cross-validation x{args.repeats}, {label} "
              "(hybrid settings chosen on the training folds only):")
        print("| mode | recall@1 | recall@5 (sd over folds) | MRR |")
        print("|---|---|---|---|")
        for mode in MODES:
            m = cv[mode]
            print(f"| {mode} | {m['r@1']:.3f} | {m['r@5']:.3f} ({m['r@5_sd']:.3f}) | {m['mrr']:.3f} |")
    if "own" in report:
        o = report["own"]
        f = o["fusion_chosen_on_shared"]
        print(f"\nown questions ({o['n']}), hybrid settings chosen on the shared questions only "
              f"(rrf_k={f['rrf_k']}, bm25 weight={f['bm25_weight']}, identifier weight="
              f"{f['ident_weight']}, candidates={f['candidates']}, file-name weight={f['name_weight']}):")
        print("| mode | recall@1 | recall@5 | MRR |")
        print("|---|---|---|---|")
        for mode in MODES:
            m = o[mode]
            print(f"| {mode} | {m['r@1']:.3f} | {m['r@5']:.3f} | {m['mrr']:.3f} |")
    print(f"\nhead re-ordering variants ({args.folds}-fold CV x{args.repeats}; fusion and head "
          "settings chosen jointly on training folds; r@1 / r@5 / MRR):")
    print("| variant | shared-101 CV | all CV | all CV: shared part | all CV: own part "
          "| own, chosen on shared | chosen on all | heads chosen in folds |")
    print("|---|---|---|---|---|---|---|---|")
    for name, v in report["variants"].items():
        cells = [" / ".join(f"{v[k][m]:.3f}" for m in ("r@1", "r@5", "mrr"))
                 for k in ("cv_shared", "cv_all", "cv_all_shared_part", "cv_all_own_part",
                           "own_chosen_on_shared") if k in v]
        c = v["chosen_on_all"]
        chosen = (f"rrf_k={c['rrf_k']} bm25={c['bm25_weight']} cand={c['candidates']} "
                  f"name={c['name_weight']} "
                  f"cap={c['cap']} dedupe={c['dedupe']}")
        heads = ", ".join(f"{k}: {n}" for k, n in v["heads_chosen_in_folds"].items())
        print(f"| {name} | " + " | ".join(cells) + f" | {chosen} | {heads} |")
    ins = report["in_sample_shipped"]
    print(f"\nreference, in-sample (shipped settings were chosen on these): hybrid r@5 "
          f"{ins['shared']['r@5']:.3f} on shared, {ins['all']['r@5']:.3f} on all")
    f = report["chosen_on_all"]
    print(f"settings chosen on all questions (what should ship): rrf_k={f['rrf_k']}, bm25 weight="
          f"{f['bm25_weight']}, identifier weight={f['ident_weight']}, candidates={f['candidates']}, file-name weight={f['name_weight']}")
    lat = report["latency_ms"]
    print("\n| mode | p50 ms | p95 ms |")
    print("|---|---|---|")
    for mode in MODES:
        print(f"| {mode} | {lat[mode]['p50']} | {lat[mode]['p95']} |")
    print(f"hybrid/BM25 p95 ratio: {lat['p95_ratio_hybrid_to_bm25']}")
    s = report["settings"]
    print(f"\nsettings: {s['chunking']}, max_seq_length={s['max_seq_length']}, shipped fusion {s['shipped_fusion']}")


if __name__ == "__main__":
    sys.exit(main())

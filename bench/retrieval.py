"""Retrieval benchmark: index the shared Databricks docs and score dense, BM25 and hybrid.

Builds an index of ``../shared/data/databricks-docs`` (into a temporary directory, or
``--index-dir``; an existing index there is updated incrementally, so a re-run with the same
settings embeds nothing), runs every question of ``../shared/data/retrieval_qa.jsonl`` and
prints, per mode: recall@1, recall@5 (a question counts when one of its ``relevant_paths`` is
among the first k distinct file paths of the ranking), the fraction of relevant paths found in
the top 5, MRR (over the first ``--depth`` hits, deduplicated by path), and p50/p95 latency of
``Retriever.search(q, k=5)`` after warm-up; plus build time and chunks per second.

Usage: ``uv run python bench/retrieval.py [--index-dir DIR] [--max-chars 1500] [--sweep]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from docs_index.chunking import ChunkingConfig  # noqa: E402
from docs_index.store import DEFAULT_CHUNKING, DEFAULT_MAX_SEQ_LENGTH, build_index  # noqa: E402
from retriever import DEFAULT_MODE, MODES, Retriever  # noqa: E402
from retriever.search import BM25_WEIGHT, HYBRID_CANDIDATES, RRF_K, fuse  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def dedupe_paths(hits) -> list[str]:
    """Distinct paths of ``hits`` in rank order."""
    seen: list[str] = []
    for h in hits:
        if h.path not in seen:
            seen.append(h.path)
    return seen


def score(rankings: list[list[str]], questions: list[dict]) -> dict[str, float]:
    """recall@1, recall@5, frac@5 and MRR of ranked path lists against relevant_paths."""
    r1 = r5 = frac5 = mrr = 0.0
    for paths, q in zip(rankings, questions):
        rel = set(q["relevant_paths"])
        rank = next((i for i, p in enumerate(paths, 1) if p in rel), None)
        r1 += rank == 1
        r5 += rank is not None and rank <= 5
        frac5 += len(rel & set(paths[:5])) / len(rel)
        mrr += 1.0 / rank if rank else 0.0
    n = len(questions)
    return {"r@1": r1 / n, "r@5": r5 / n, "frac@5": frac5 / n, "mrr": mrr / n}


def pct(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank."""
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(p / 100 * len(s) + 0.5) - 1))]


def main() -> int:
    """Run the benchmark; returns the exit code (1 when the shared data is missing)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--docs", type=Path, default=DATA / "databricks-docs")
    ap.add_argument("--qa", type=Path, default=DATA / "retrieval_qa.jsonl")
    ap.add_argument("--index-dir", type=Path, default=None, help="keep the index here")
    ap.add_argument("--max-chars", type=int, default=DEFAULT_CHUNKING.max_chars)
    ap.add_argument("--overlap", type=int, default=DEFAULT_CHUNKING.overlap)
    ap.add_argument("--no-pack", action="store_true", help="one chunk per section/field")
    ap.add_argument("--max-seq-length", type=int, default=DEFAULT_MAX_SEQ_LENGTH)
    ap.add_argument("--depth", type=int, default=50, help="hits per query for recall/MRR")
    ap.add_argument("--sweep", action="store_true", help="also score hybrid variants")
    args = ap.parse_args()

    if not args.docs.is_dir() or not args.qa.is_file():
        print(f"shared data not found ({args.docs}, {args.qa}): nothing to benchmark", file=sys.stderr)
        return 1
    questions = [json.loads(line) for line in args.qa.read_text().splitlines() if line.strip()]
    tmp = None
    index_dir = args.index_dir
    if index_dir is None:
        tmp = tempfile.mkdtemp(prefix="bench-retrieval-")
        index_dir = Path(tmp)
    chunking = ChunkingConfig(max_chars=args.max_chars, overlap=args.overlap, pack=not args.no_pack)
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
        print(f"build: files={s.files} chunks={s.chunks} embedded={s.embedded} skipped={s.skipped} "
              f"removed={s.removed} seconds={s.seconds:.1f}")
        if s.embedded:
            print(f"build: {s.chunks / s.seconds:.1f} chunks/s overall, "
                  f"{s.embedded} chunks embedded in {s.seconds:.1f} s")
        else:
            print("build: nothing embedded (index reused); build time above is not a full build")

        r = Retriever(index_dir)
        r.warm_up()
        depth = max(args.depth, HYBRID_CANDIDATES)
        qs = [q["question"] for q in questions]
        dense = [r.search(q, k=max(depth, 100), mode="dense") for q in qs]
        bm25 = [r.search(q, k=max(depth, 100), mode="bm25") for q in qs]
        results = {
            "dense": [dedupe_paths(h) for h in dense],
            "bm25": [dedupe_paths(h) for h in bm25],
            "hybrid": [dedupe_paths(r.search(q, k=depth, mode="hybrid")) for q in qs],
        }
        lat: dict[str, list[float]] = {}
        for mode in MODES:
            for q in qs[:5]:
                r.search(q, k=5, mode=mode)
            times = []
            for q in qs:
                t = time.perf_counter()
                r.search(q, k=5, mode=mode)
                times.append((time.perf_counter() - t) * 1000)
            lat[mode] = times

        print()
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{len(questions)} questions; docs: {args.docs}; load average {load} on {os.cpu_count()} CPUs")
        print("| mode | recall@1 | recall@5 | frac@5 | MRR | p50 ms | p95 ms |")
        print("|---|---|---|---|---|---|---|")
        for mode in MODES:
            m = score(results[mode], questions)
            mark = " (default)" if mode == DEFAULT_MODE else ""
            print(f"| {mode}{mark} | {m['r@1']:.3f} | {m['r@5']:.3f} | {m['frac@5']:.3f} | "
                  f"{m['mrr']:.3f} | {statistics.median(lat[mode]):.1f} | {pct(lat[mode], 95):.1f} |")

        if args.sweep:
            print("\nhybrid variants (rrf_k, candidates, bm25 weight; dense and identifier rankings weigh 1):")
            for rrf_k in (10, 20, 60):
                for cand in (20, 50, 100):
                    for wb in (1.0, 2.0, 3.0):
                        fused = [
                            dedupe_paths(fuse([d[:cand], b[:cand]], depth, rrf_k, [1.0, wb]))
                            for d, b in zip(dense, bm25)
                        ]
                        m = score(fused, questions)
                        print(f"  rrf_k={rrf_k:>2} cand={cand:>3} wbm25={wb}: r@1={m['r@1']:.3f} "
                              f"r@5={m['r@5']:.3f} mrr={m['mrr']:.3f}")
            misses = [q for q, p in zip(questions, results[DEFAULT_MODE])
                      if not set(q["relevant_paths"]) & set(p[:5])]
            print(f"\n{DEFAULT_MODE} misses at 5: {len(misses)}")
            for q, p in [(q, results[DEFAULT_MODE][questions.index(q)]) for q in misses]:
                print(f"  {q['id']} {q['question'][:90]!r}\n     want {q['relevant_paths']}\n     got  {p[:5]}")
        print(f"\nsettings: {chunking}, max_seq_length={args.max_seq_length}, "
              f"rrf_k={RRF_K}, candidates={HYBRID_CANDIDATES}, bm25 weight={BM25_WEIGHT}")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

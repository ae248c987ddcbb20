"""Fuzz `lead.requirements.load_requirements` with mutated requirements files (issue 13).

Generates N mutated files (default 1,500) from the examples and the shared bundle jobs with
the mutations of ``tests/lead/lead_mutations.py``, drawn from a seed given on the command
line (default: a random one, printed, so a run can be repeated). Each file is read in a
child process forked from this one (the lead and the field cache already loaded, so the
figures are the reading alone), with a time bound (``--timeout``, default 10 s: past it the
file counts as a hang) and an address-space bound (``--memory-mb`` beyond the interpreter,
default 2,000: past it the file counts as a crash with MemoryError).

An outcome is fine when the read returns, or raises `RequirementsError` whose text is one
line naming the file and a line number. Anything else is a crash. Prints crashes and hangs
(each with its file, kept under the work dir), the p50 / p99 / max read time, and the peak
RSS of a child beyond the interpreter it was forked from (max and p99).

Run: ``uv run python bench/fuzz_lead.py [--seed S] [-n 1500] [--keep DIR]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import signal
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lead"))

from lead_mutations import mutate, seed_files  # noqa: E402

from lead.errors import RequirementsError  # noqa: E402
from lead.requirements import load_requirements  # noqa: E402


def rss_kb() -> int:
    """Resident set size of this process now, in KiB (Linux /proc)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child(path: Path, out_fd: int, timeout: float, memory_mb: int) -> None:
    """Read one file and write one JSON line to `out_fd`; never returns."""
    signal.alarm(int(timeout) + 1)
    resource.setrlimit(resource.RLIMIT_AS, (_vm_kb() * 1024 + memory_mb * 1024 * 1024,) * 2)
    start = time.perf_counter()
    try:
        load_requirements(path)
        outcome = {"ok": True}
    except RequirementsError as exc:
        text = str(exc)
        well_formed = "\n" not in text and re.match(re.escape(str(path)) + r":\d+: ", text) is not None
        outcome = {"ok": well_formed, "error": text[:300]}
        if not well_formed:
            outcome["crash"] = "malformed RequirementsError: " + text[:200]
    except BaseException as exc:  # noqa: BLE001 - a fuzz harness reports whatever escapes
        frames = traceback.extract_tb(exc.__traceback__)
        where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
        outcome = {"ok": False, "crash": f"{type(exc).__name__} at {where}: {str(exc)[:150]}"}
    outcome["seconds"] = time.perf_counter() - start
    with os.fdopen(out_fd, "w") as f:
        f.write(json.dumps(outcome) + "\n")
    os._exit(0)


def _vm_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1])
    return 0


def run_one(path: Path, timeout: float, memory_mb: int) -> dict:
    """Fork a child to read `path`; its outcome plus ``peak_kb`` (child's max RSS)."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        child(path, w, timeout, memory_mb)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    _, status, usage = os.wait4(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig == signal.SIGALRM:
            return {"ok": False, "hang": True, "seconds": timeout, "peak_kb": usage.ru_maxrss}
        return {"ok": False, "crash": f"killed by signal {sig}", "seconds": 0.0, "peak_kb": usage.ru_maxrss}
    outcome = json.loads(data) if data.strip() else {"ok": False, "crash": "no outcome", "seconds": 0.0}
    outcome["peak_kb"] = usage.ru_maxrss
    return outcome


def percentile(xs: list[float], p: float) -> float:
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=None, help="default: random (printed)")
    parser.add_argument("-n", type=int, default=1500, help="mutated files (default 1500)")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per file before it is a hang")
    parser.add_argument("--memory-mb", type=int, default=2000, help="address space per file beyond the interpreter")
    parser.add_argument("--keep", type=Path, default=None, help="write the mutated files here (default: a temp dir)")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed {seed}, {args.n} files", flush=True)

    rng = random.Random(seed)
    seeds = seed_files(REPO)
    names = sorted(seeds)
    work = args.keep or Path(tempfile.mkdtemp(prefix=f"fuzz-lead-{seed}-"))
    work.mkdir(parents=True, exist_ok=True)

    # load everything a read needs before forking (the field cache included)
    load_requirements(REPO / "examples" / "nightly-sales.md")
    base_kb = rss_kb()

    times, peaks, crashes, hangs, errors, paths = [], [], [], [], 0, []
    started = time.perf_counter()
    for i in range(args.n):
        name = rng.choice(names)
        path = work / f"{i:05d}-{Path(name).stem}.md"
        path.write_bytes(mutate(seeds[name], rng))
        outcome = run_one(path, args.timeout, args.memory_mb)
        times.append(outcome["seconds"])
        paths.append(path)
        peaks.append(max(0, outcome["peak_kb"] - base_kb))
        if outcome.get("hang"):
            hangs.append(path)
        elif "crash" in outcome:
            crashes.append((path, outcome["crash"]))
        elif "error" in outcome:
            errors += 1
    elapsed = time.perf_counter() - started

    print(f"files {args.n}: accepted {args.n - errors - len(crashes) - len(hangs)}, "
          f"refused with a one-line error {errors}, crashes {len(crashes)}, hangs {len(hangs)} "
          f"({elapsed:.0f} s in all; files under {work})")
    for path, what in crashes:
        print(f"  CRASH {path}: {what}")
    for path in hangs:
        print(f"  HANG  {path} (over {args.timeout:g} s)")
    print(f"read time s: p50 {statistics.median(times):.4f}  p99 {percentile(times, 99):.4f}  "
          f"max {max(times):.4f}  (slowest 1% from {percentile(times, 99):.4f})")
    slowest = sorted(range(len(times)), key=times.__getitem__)[-3:]
    print("slowest: " + ", ".join(f"{paths[i].name} {times[i]:.3f} s" for i in reversed(slowest)))
    print(f"peak RSS beyond the interpreter MiB: p99 {percentile(peaks, 99) / 1024:.1f}  "
          f"max {max(peaks) / 1024:.1f}  (interpreter with lead loaded: {base_kb / 1024:.1f})")
    sys.exit(1 if crashes or hangs else 0)


if __name__ == "__main__":
    main()

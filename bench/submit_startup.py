"""Start-up cost of `lead submit`, as a ratio to ``python -c "import sqlmodel"``.

Times whole processes from outside, alternating A and B so that drift of the machine's
speed hits both alike, and takes the ratio pair by pair:

- A: ``lead submit examples/nightly-sales.md --db sqlite:///<fresh temp file>`` (the same
  unchanged file every run, a new empty database each run, the JobSettings field cache warm:
  one untimed run fills it first);
- B: ``python -c "import sqlmodel"`` (the floor: `lead submit` records through SQLModel).

Prints the median, min and max wall seconds of A and B and the median of the A/B ratios
(the figure to quote; the goal is at most 2.5). Both use this interpreter (the project's
virtual environment, installed with ``--compile-bytecode``).

Run: ``uv run python bench/submit_startup.py [--runs 15] [--file examples/nightly-sales.md]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of `cmd` (which must exit 0)."""
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed pairs (default 15)")
    parser.add_argument("--file", type=Path, default=REPO / "examples" / "nightly-sales.md")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="submit-startup-"))
    env = {**os.environ, "JOB_AGENT_PROGRESS_DIR": str(work / "progress")}
    env.pop("JOB_AGENT_DB", None)

    def submit_cmd(i: int) -> list[str]:
        return [sys.executable, "-m", "lead.cli", "submit", str(args.file), "--db", f"sqlite:///{work / f'state-{i}.db'}"]

    baseline = [sys.executable, "-c", "import sqlmodel"]
    try:
        timed(submit_cmd(-1), env)  # fills the field cache (and warms the OS file cache)
        timed(baseline, env)
        a_times, b_times, ratios = [], [], []
        for i in range(args.runs):
            a = timed(submit_cmd(i), env)
            b = timed(baseline, env)
            a_times.append(a)
            b_times.append(b)
            ratios.append(a / b)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def row(name: str, xs: list[float]) -> str:
        return f"{name:<32} median {statistics.median(xs):7.3f}  min {min(xs):7.3f}  max {max(xs):7.3f}"

    print(f"{args.runs} alternating pairs, wall seconds per whole process")
    print(row("A lead submit (warm cache)", a_times))
    print(row('B python -c "import sqlmodel"', b_times))
    print(f"A/B ratio: median {statistics.median(ratios):.2f}  (min {min(ratios):.2f}, max {max(ratios):.2f})")


if __name__ == "__main__":
    main()

"""Install footprint of one or more checkouts: download size, venv size, import times.

For each project directory given (default: this repository), reads its ``uv.lock`` and its
installed ``.venv`` (run ``uv sync --locked --compile-bytecode`` there first) and prints:

- where torch comes from (the lock's ``source`` of the ``torch`` package) and its version;
- the download size: the sum of the sizes of the wheels the venv holds, taken from the lock
  (``size`` of the wheel whose tags match the installed ``.dist-info/WHEEL``; a wheel given by
  ``path`` is measured on disk), with the share of torch and of the CUDA packages
  (``nvidia-*``, ``cuda-*``); the project itself is not counted;
- the venv size: bytes of every file under ``.venv``, each hard-linked inode counted once
  (uv links files from its cache, so ``du -sh .venv`` on its own gives the same figure);
- ``import torch`` and ``import sentence_transformers`` wall times: fresh processes of the
  venv's interpreter, the directories taken in turn within each round so that drift of the
  machine's speed hits all alike; the median, min and max of ``--runs`` rounds after one
  untimed warm-up round;
- a check that torch computes on CPU (``torch.ones(2) @ torch.ones(2) == 2``) and that the
  embedding model (MiniLM, ``docs_index.embedding``) encodes a sentence into 384 floats.

With two or more directories, the ratios of the last to the first are printed too (quote
these: the machine is shared and absolute times drift).

Run: ``uv run python bench/install_footprint.py [DIR ...] [--runs 7] [--json]``; e.g. a
checkout of the previous release next to this one:
``uv run python bench/install_footprint.py /tmp/before . --runs 7``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import time
t = time.perf_counter()
import torch
print("torch_import", time.perf_counter() - t)
print("torch_version", torch.__version__)
print("torch_cuda_build", torch.version.cuda)
print("matmul", float(torch.ones(2) @ torch.ones(2)))
from docs_index.embedding import Embedder, resolve_model
vec = Embedder(resolve_model()).embed_query("Which job runs failed last night?")
print("embedding_dims", len(vec))
"""


class FootprintError(Exception):
    """A directory is not a synced uv project (no uv.lock, no .venv, or no torch in either)."""


@dataclass
class Footprint:
    """One checkout's figures. Sizes in bytes, times in seconds."""

    project: str
    torch_source: str = ""
    torch_locked_version: str = ""
    download_bytes: int = 0
    download_torch_bytes: int = 0
    download_cuda_bytes: int = 0
    packages_installed: int = 0
    """Distributions installed from the lock (the project itself not counted)."""
    packages_without_size: list[str] = field(default_factory=list)
    venv_bytes: int = 0
    torch_version: str = ""
    torch_cuda_build: str | None = None
    matmul: float | None = None
    embedding_dims: int | None = None
    import_torch: list[float] = field(default_factory=list)
    import_sentence_transformers: list[float] = field(default_factory=list)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _wheel_tags(filename: str) -> set[str]:
    """The expanded ``py-abi-platform`` tags of a wheel file name (PEP 427, compressed sets)."""
    parts = filename[: -len(".whl")].split("-")
    py, abi, plat = parts[-3], parts[-2], parts[-1]
    return {f"{a}-{b}-{c}" for a in py.split(".") for b in abi.split(".") for c in plat.split(".")}


def _installed(venv: Path) -> dict[str, tuple[str, set[str]]]:
    """Normalized name -> (version, WHEEL tags) of every distribution in the venv."""
    site = next(venv.glob("lib/python3*/site-packages"), None)
    if site is None:
        raise FootprintError(f"{venv}: no lib/python3*/site-packages (run `uv sync --locked` there)")
    found: dict[str, tuple[str, set[str]]] = {}
    for info in site.glob("*.dist-info"):
        meta = (info / "METADATA").read_text(encoding="utf-8", errors="replace")
        name = re.search(r"^Name: *(.+)$", meta, re.M)
        version = re.search(r"^Version: *(.+)$", meta, re.M)
        if not (name and version):
            continue
        wheel = info / "WHEEL"
        tags = set(re.findall(r"^Tag: *(\S+)$", wheel.read_text(), re.M)) if wheel.exists() else set()
        found[_norm(name.group(1))] = (version.group(1).strip(), tags)
    return found


def download_size(project: Path, fp: Footprint) -> None:
    """Fill the download figures of ``fp`` from ``project/uv.lock`` and its venv."""
    lock_path = project / "uv.lock"
    if not lock_path.exists():
        raise FootprintError(f"{project}: no uv.lock")
    lock = tomllib.loads(lock_path.read_text())
    installed = _installed(project / ".venv")
    for pkg in lock.get("package", []):
        name = _norm(pkg["name"])
        source = pkg.get("source", {})
        if name == "torch":
            fp.torch_source = json.dumps(source)
            fp.torch_locked_version = pkg["version"]
        if name not in installed or "editable" in source or "virtual" in source:
            continue
        version, tags = installed[name]
        if version != pkg["version"]:
            continue
        fp.packages_installed += 1
        size = None
        for wheel in pkg.get("wheels", []):
            fname = wheel.get("filename") or wheel["url"].rsplit("/", 1)[-1]
            if tags & _wheel_tags(fname):
                if "size" in wheel:
                    size = wheel["size"]
                elif "path" in source:
                    wheel_file = Path(source["path"])
                    wheel_file = wheel_file if wheel_file.is_absolute() else project / wheel_file
                    size = wheel_file.stat().st_size if wheel_file.exists() else None
                break
        if size is None and "sdist" in pkg and "size" in pkg["sdist"]:
            size = pkg["sdist"]["size"]  # built here from its sdist
        if size is None:
            fp.packages_without_size.append(f"{pkg['name']}=={pkg['version']}")
            continue
        fp.download_bytes += size
        if name == "torch":
            fp.download_torch_bytes += size
        elif name.startswith(("nvidia-", "cuda-")):
            fp.download_cuda_bytes += size
    if not fp.torch_source:
        raise FootprintError(f"{lock_path}: no torch package in the lock")


def tree_bytes(root: Path) -> int:
    """Apparent bytes of every file under ``root``, each inode counted once (like ``du -sb``)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            st = os.lstat(os.path.join(dirpath, f))
            key = (st.st_dev, st.st_ino)
            if key in seen:
                continue
            seen.add(key)
            total += st.st_size
    return total


def _python(project: Path) -> Path:
    py = project / ".venv" / "bin" / "python"
    if not py.exists():
        raise FootprintError(f"{project}: no .venv/bin/python (run `uv sync --locked` there)")
    return py


def timed_import(project: Path, module: str) -> float:
    """Wall seconds of a fresh ``python -c "import MODULE"`` in the project's venv."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    start = time.perf_counter()
    proc = subprocess.run([str(_python(project)), "-c", f"import {module}"], cwd=project, env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise FootprintError(f"{project}: import {module} failed: {proc.stderr.decode()[-400:]}")
    return elapsed


def check_torch(project: Path, fp: Footprint) -> None:
    """Run :data:`CHECK` in the project's venv and keep what it prints."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    proc = subprocess.run([str(_python(project)), "-c", CHECK], cwd=project, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise FootprintError(f"{project}: torch check failed: {proc.stderr[-600:]}")
    out = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    fp.torch_version = out.get("torch_version", "")
    fp.torch_cuda_build = None if out.get("torch_cuda_build") in (None, "None") else out["torch_cuda_build"]
    fp.matmul = float(out["matmul"])
    fp.embedding_dims = int(out["embedding_dims"])


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB"


def _stats(xs: list[float]) -> str:
    return f"median {statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f})"


def report(fps: list[Footprint], runs: int) -> str:
    """Human-readable figures, then the last/first ratios when there are two or more."""
    lines = []
    for fp in fps:
        lines += [
            f"== {fp.project}",
            f"torch source:        {fp.torch_source} (locked {fp.torch_locked_version}, "
            f"imports as {fp.torch_version}, CUDA build: {fp.torch_cuda_build or 'no'})",
            f"download (wheels):   {_mb(fp.download_bytes)} over {fp.packages_installed} packages "
            f"(torch {_mb(fp.download_torch_bytes)}, nvidia-*/cuda-* {_mb(fp.download_cuda_bytes)})"
            + (f"; no size for {', '.join(fp.packages_without_size)}" if fp.packages_without_size else ""),
            f"venv:                {_mb(fp.venv_bytes)}",
            f"import torch:        {_stats(fp.import_torch)} over {runs} runs",
            f"import sentence_transformers: {_stats(fp.import_sentence_transformers)}",
            f"CPU check:           ones(2)@ones(2) = {fp.matmul}; MiniLM embedding of a sentence: "
            f"{fp.embedding_dims} floats",
        ]
    if len(fps) >= 2:
        a, b = fps[0], fps[-1]
        med = statistics.median
        lines += [
            f"== ratios {b.project} / {a.project}",
            f"download {b.download_bytes / a.download_bytes:.2f}x, venv {b.venv_bytes / a.venv_bytes:.2f}x, "
            f"import torch {med(b.import_torch) / med(a.import_torch):.2f}x, "
            f"import sentence_transformers "
            f"{med(b.import_sentence_transformers) / med(a.import_sentence_transformers):.2f}x",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="*", type=Path, default=[REPO],
                        help="synced uv project directories (default: this repository)")
    parser.add_argument("--runs", type=int, default=7, help="timed import rounds (default 7)")
    parser.add_argument("--json", action="store_true", help="one JSON object per directory")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    try:
        projects = [d.resolve() for d in args.dirs]
        fps = [Footprint(project=str(p)) for p in projects]
        for p, fp in zip(projects, fps):
            download_size(p, fp)
            fp.venv_bytes = tree_bytes(p / ".venv")
            check_torch(p, fp)
        for round_no in range(args.runs + 1):  # round 0 warms the OS file cache, untimed
            for p, fp in zip(projects, fps):
                t = timed_import(p, "torch")
                s = timed_import(p, "sentence_transformers")
                if round_no:
                    fp.import_torch.append(t)
                    fp.import_sentence_transformers.append(s)
    except FootprintError as e:
        sys.exit(f"install_footprint: error: {e}")

    if args.json:
        for fp in fps:
            print(json.dumps(asdict(fp)))
    else:
        print(report(fps, args.runs))


if __name__ == "__main__":
    main()

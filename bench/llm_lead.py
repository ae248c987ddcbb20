"""How close the prose lead's jobs come to real ones: field-level agreement with bundle YAML.

For each of the four real job definitions in ``../shared/data/bundle-jobs/`` there is a prose
description written for it in ``bench/llm_lead_prose/<same stem>.md`` (front matter + prose, no
YAML). Each description goes through the prose lead exactly as ``lead submit`` runs it
(`lead.prose.generate_jobs`: grounding when a docs index exists, the model, validation as
hand-written YAML, one repair round). The generated ``resources.jobs`` is then compared with
the real file's, field by field:

- settings are flattened to leaf paths; list items with a key (``task_key``,
  ``job_cluster_key``, ``environment_key``, a parameter's ``name``) are addressed by it, so
  order does not matter (``tasks[notebook].notebook_task.notebook_path``); other lists by index;
- generated jobs are matched to real ones by job key, else by ``name``;
- values compare as text (``"4"`` equals ``4``), whitespace trimmed;
- recall: real leaves the generated YAML has with the same value; precision: generated leaves
  that equal a real one; field recall: real leaf paths present at all (any value).

Prints one row per file plus the totals (micro-averaged), seconds per file and the model's
tokens (from ``llm_call``). With no model configured (``JOB_AGENT_LLM_MODEL``, and
``JOB_AGENT_LLM_API_BASE`` for an OpenAI-compatible server) it says it skipped and exits 0.

Run: ``uv run python bench/llm_lead.py [--db sqlite:///bench-llm.db] [--show-yaml]``
(``--db`` keeps the response cache between runs; default a temp database.)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data" / "bundle-jobs"
PROSE = Path(__file__).resolve().parent / "llm_lead_prose"
LIST_KEYS = ("task_key", "job_cluster_key", "environment_key", "name")


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Leaf path -> value text (see the module docstring for how lists are addressed)."""
    out: dict[str, str] = {}
    if isinstance(value, dict):
        for key, sub in value.items():
            out.update(flatten(sub, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            label = next((str(item[k]) for k in LIST_KEYS if isinstance(item, dict) and k in item), str(i))
            out.update(flatten(item, f"{prefix}[{label}]"))
    else:
        text = "" if value is None else (str(value).lower() if isinstance(value, bool) else str(value))
        out[prefix] = text.strip()
    return out


def jobs_of(yaml_text: str) -> dict[str, dict]:
    """``resources.jobs`` (or bare ``jobs``) of a bundle YAML text."""
    import yaml

    data = yaml.safe_load(yaml_text) or {}
    return dict((data.get("resources") or {}).get("jobs") or data.get("jobs") or {})


def match_jobs(real: dict[str, dict], generated: dict[str, dict]) -> list[tuple[str, dict, dict]]:
    """Pairs ``(real key, real settings, generated settings or {})``: by key, else by name."""
    by_name = {str(s.get("name")): s for s in generated.values() if isinstance(s, dict)}
    return [(key, settings, generated.get(key) or by_name.get(str(settings.get("name"))) or {})
            for key, settings in real.items()]


def agreement(real: dict[str, dict], generated: dict[str, dict]) -> dict[str, int]:
    """Counts: real leaves, generated leaves, equal leaves, real paths present."""
    counts = {"real": 0, "generated": sum(len(flatten(s)) for s in generated.values()), "equal": 0, "present": 0}
    for _key, real_settings, gen_settings in match_jobs(real, generated):
        want, got = flatten(real_settings), flatten(gen_settings)
        counts["real"] += len(want)
        counts["equal"] += sum(1 for path, value in want.items() if got.get(path) == value)
        counts["present"] += sum(1 for path in want if path in got)
    return counts


def pct(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:5.1f}%" if whole else "    -"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", help="state database for the response cache and accounting (default: a temp one)")
    parser.add_argument("--show-yaml", action="store_true", help="print each generated YAML block")
    args = parser.parse_args()

    from llm.config import llm_settings

    settings = llm_settings()
    if settings is None:
        print("llm_lead: skipped: no LLM configured (set JOB_AGENT_LLM_MODEL, and JOB_AGENT_LLM_API_BASE for an "
              "OpenAI-compatible server)")
        return 0
    if not DATA.is_dir():
        print(f"llm_lead: skipped: {DATA} is absent (the shared data set)")
        return 0

    from sqlalchemy import select
    from sqlmodel import Session

    from lead.prose import ProseError, generate_jobs
    from lead.requirements import NeedsModel, load_requirements
    from state.engine import make_engine
    from state.models import LlmCall

    tmp = tempfile.TemporaryDirectory()
    engine = make_engine(args.db or f"sqlite:///{Path(tmp.name) / 'bench.db'}")
    print(f"model {settings.model}" + (f" at {settings.api_base}" if settings.api_base else ""))
    print(f"{'file':58} {'real':>5} {'gen':>5} {'equal':>5} {'recall':>7} {'precis.':>7} {'fields':>7} {'secs':>6}  outcome")
    total = {"real": 0, "generated": 0, "equal": 0, "present": 0}
    for real_path in sorted(DATA.glob("*.yml")):
        prose_path = PROSE / (real_path.stem + ".md")
        if not prose_path.exists():
            print(f"{real_path.name:58} no prose description at {prose_path.relative_to(REPO)}")
            continue
        real = jobs_of(real_path.read_text())
        started = time.perf_counter()
        try:
            load_requirements(prose_path)
            outcome, generated = "not prose (rules read it)", {}
        except NeedsModel as need:
            try:
                result = generate_jobs(need.request, engine=engine, settings=settings)
                outcome, generated = "valid" + ("" if result.grounded else ", ungrounded"), jobs_of(result.yaml)
                if args.show_yaml:
                    print(result.yaml)
            except ProseError as error:
                outcome, generated = f"failed: {(error.problems or [str(error)])[0][:160]}", {}
        seconds = time.perf_counter() - started
        counts = agreement(real, generated)
        for k in total:
            total[k] += counts[k]
        print(f"{real_path.name:58} {counts['real']:5} {counts['generated']:5} {counts['equal']:5} "
              f"{pct(counts['equal'], counts['real']):>7} {pct(counts['equal'], counts['generated']):>7} "
              f"{pct(counts['present'], counts['real']):>7} {seconds:6.1f}  {outcome}")
    print(f"{'total':58} {total['real']:5} {total['generated']:5} {total['equal']:5} "
          f"{pct(total['equal'], total['real']):>7} {pct(total['equal'], total['generated']):>7} "
          f"{pct(total['present'], total['real']):>7}")
    with Session(engine) as session:
        rows = session.execute(select(LlmCall).where(LlmCall.purpose == "prose_lead")).scalars().all()
        print(f"model calls {len(rows)} (cached {sum(1 for r in rows if r.cached)}, rejected "
              f"{sum(1 for r in rows if r.status == 'invalid')}), tokens in {sum(r.prompt_tokens or 0 for r in rows)}, "
              f"out {sum(r.completion_tokens or 0 for r in rows)}")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

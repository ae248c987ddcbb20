"""`lead ask` end to end: the real `lead` app in-process (exit codes through run_cli), real
subprocesses for stdin and for the import check (no torch, no sentence-transformers)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lead.cli import app
from lead.cli_runner import run_cli

ROOT = Path(__file__).resolve().parents[2]
KEYS = ["question", "intents", "templates", "confidence"]
QUESTIONS = [
    "Which jobs failed in the last 24 hours?",
    "What are our top 5 cost contributors this month?",
    "What was the cost of the failed jobs last week?",
    "'; DROP TABLE x; --",
    "lorem ipsum dolor sit amet",
]


def _lead(capsys, *args):
    capsys.readouterr()
    code = run_cli(app, "lead", list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _check_lines(out: str, questions: list[str]) -> list[dict]:
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["question"] for r in results] == questions
    for r in results:
        assert list(r) == KEYS
        assert isinstance(r["intents"], list) and isinstance(r["confidence"], float)
        for t in r["templates"]:
            assert list(t) == ["name", "parameters"] and isinstance(t["parameters"], dict)
    return results


def test_questions_file_json(tmp_path, capsys):
    path = tmp_path / "q.txt"
    path.write_text("\n".join(QUESTIONS[:3]) + "\n\n   \n" + "\n".join(QUESTIONS[3:]) + "\n", encoding="utf-8")
    code, out, err = _lead(capsys, "ask", "--dry-run", "--json", "--questions", str(path))
    assert code == 0, err
    results = _check_lines(out, QUESTIONS)
    assert results[0]["intents"] == ["reliability"]
    assert results[1]["intents"] == ["cost"]
    assert set(results[2]["intents"]) == {"cost", "reliability"}
    assert all(t["parameters"] == {} or "start_date" not in t["parameters"] for t in results[3]["templates"])
    assert results[4]["intents"] == [] and results[4]["templates"] == [] and results[4]["confidence"] == 0.0


def test_questions_from_stdin_subprocess():
    done = subprocess.run([sys.executable, "-c", "from lead.cli import main; main()", "ask", "--dry-run", "--json", "--questions", "-"],
                          cwd=ROOT, input="\n".join(QUESTIONS) + "\n", capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    _check_lines(done.stdout, QUESTIONS)


def test_single_question(capsys):
    code, out, err = _lead(capsys, "ask", "Which tables are stale?", "--dry-run", "--json")
    assert code == 0, err
    (r,) = _check_lines(out, ["Which tables are stale?"])
    assert r["intents"] == ["quality"]
    code, out, err = _lead(capsys, "ask", "Which tables are stale?", "--dry-run")
    assert code == 0 and "quality" in out and "data_freshness" in out


def test_nothing_fits_exits_1_with_suggestions(capsys):
    code, out, err = _lead(capsys, "ask", "hello there, how are you", "--dry-run")
    assert code == 1
    assert "nothing fits" in err and "?" in err
    code, out, err = _lead(capsys, "ask", "hello there, how are you", "--dry-run", "--json")
    assert code == 1
    assert json.loads(out)["intents"] == []
    assert "suggestions" in err


def test_usage_errors(tmp_path, capsys):
    assert _lead(capsys, "ask", "--dry-run")[0] == 1
    assert _lead(capsys, "ask", "x", "--questions", "-", "--dry-run")[0] == 1
    code, _, err = _lead(capsys, "ask", "--dry-run", "--questions", str(tmp_path / "missing.txt"))
    assert code == 1 and "cannot read" in err
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\x00bad")
    assert _lead(capsys, "ask", "--dry-run", "--questions", str(bad))[0] == 1


def test_without_dry_run_and_no_worker_it_says_so_and_keeps_the_tasks(capsys, tmp_path):
    db = f"sqlite:///{tmp_path / 'state.db'}"
    code, out, err = _lead(capsys, "ask", "Which jobs failed yesterday?", "--wait", "0.5", "--db", db)
    assert code == 1 and "is a worker running" in err and out == ""
    code, out, err = _lead(capsys, "status", "--json", "--db", db)
    (requirement,) = json.loads(out)
    assert requirement["kind"] == "ad_hoc" and requirement["counts"]["PENDING"] == 2  # the query and the answer


def test_dry_run_never_imports_torch():
    code = (
        "import sys\n"
        "from lead.cli import app\n"
        "from lead.cli_runner import run_cli\n"
        "rc = run_cli(app, 'lead', ['ask', 'Is the p95 latency of my serving endpoint worse this week?', '--dry-run', '--json'])\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'sentence_transformers', 'transformers', 'sklearn'))\n"
        "print(rc, heavy)\n"
    )
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last == "0 []", last
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert not imported & {"torch", "sentence_transformers", "transformers"}

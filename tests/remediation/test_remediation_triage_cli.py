"""`lead triage` end to end: the real `lead` app in-process (exit codes through run_cli) and
one real subprocess reading stdin."""

from __future__ import annotations

import json
import subprocess
import sys

from lead.cli import app
from lead.cli_runner import run_cli

RUNS = [
    {"message": "java.lang.OutOfMemoryError: Java heap space", "termination_code": "DRIVER_ERROR"},
    {"message": "Run cancelled", "termination_code": "USER_CANCELED"},
    {"message": "java.net.SocketException: Connection reset", "trace": None},
]


def _lead(capsys, *args):
    capsys.readouterr()
    code = run_cli(app, "lead", list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_triage_json_lines(tmp_path, capsys):
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in RUNS) + "\n\n")
    code, out, err = _lead(capsys, "triage", str(path), "--json", "--rules-only")
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    assert [(r["category"], r["remediation"]) for r in results] == [
        ("resource", "RETRY_WITH_NEW_PARAMS"), ("timeout", "IGNORE"), ("network", "RETRY"),
    ]
    for r in results:
        assert {"category", "remediation", "confidence", "evidence"} <= set(r)


def test_triage_table(tmp_path, capsys):
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps(RUNS[0]) + "\n")
    code, out, _ = _lead(capsys, "triage", str(path), "--rules-only")
    assert code == 0
    header, rule, row = out.splitlines()
    assert header.split()[:3] == ["#", "category", "remediation"]
    assert "resource" in row and "RETRY_WITH_NEW_PARAMS (bigger_node)" in row


def test_bad_line_names_the_line_and_writes_nothing(tmp_path, capsys):
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps(RUNS[0]) + "\n" + '{"trace": "no message"}\n')
    code, out, err = _lead(capsys, "triage", str(path), "--json")
    assert code == 1 and out == ""
    assert f"{path}:2:" in err and "message" in err
    path.write_text("{not json\n")
    code, out, err = _lead(capsys, "triage", str(path))
    assert code == 1 and f"{path}:1: not JSON" in err
    path.write_text('["a list"]\n')
    assert _lead(capsys, "triage", str(path))[0] == 1


def test_missing_file_is_a_user_error(tmp_path, capsys):
    code, _, err = _lead(capsys, "triage", str(tmp_path / "nope.jsonl"))
    assert code == 1 and "cannot read" in err


def test_triage_reads_stdin_in_a_real_process(tmp_path):
    stdin = "\n".join(json.dumps(r) for r in RUNS[:2])
    proc = subprocess.run(
        [sys.executable, "-c", "import sys; from lead.cli import main; sys.argv = ['lead', 'triage', '-', '--json']; main()"],
        input=stdin, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["remediation"] for line in proc.stdout.splitlines()] == ["RETRY_WITH_NEW_PARAMS", "IGNORE"]

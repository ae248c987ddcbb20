"""`lead webhook serve`: refuses to start without credentials or on a taken port (exit 1),
and as a real process serves the intake until SIGTERM (exit 0)."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from webhook_helpers import PASSWORD, USER

REPO = Path(__file__).resolve().parents[2]


def lead(*args: str) -> tuple[int, str, str]:
    from lead.cli import app
    from lead.cli_runner import run_cli

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(app, "lead", list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("env", [{}, {"JOB_AGENT_WEBHOOK_USER": USER}, {"JOB_AGENT_WEBHOOK_PASSWORD": PASSWORD}])
def test_serve_refuses_to_start_without_credentials(env, monkeypatch, tmp_path):
    monkeypatch.delenv("JOB_AGENT_WEBHOOK_USER", raising=False)
    monkeypatch.delenv("JOB_AGENT_WEBHOOK_PASSWORD", raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    code, _, err = lead("webhook", "serve", "--db", f"sqlite:///{tmp_path / 'state.db'}")
    assert code == 1 and "needs HTTP basic credentials" in err
    assert PASSWORD not in err
    assert not (tmp_path / "state.db").exists()


def test_serve_refuses_a_taken_port(monkeypatch, tmp_path):
    monkeypatch.setenv("JOB_AGENT_WEBHOOK_USER", USER)
    monkeypatch.setenv("JOB_AGENT_WEBHOOK_PASSWORD", PASSWORD)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        code, _, err = lead("webhook", "serve", "--port", str(taken.getsockname()[1]),
                            "--db", f"sqlite:///{tmp_path / 'state.db'}")
    assert code == 1 and "cannot listen on 127.0.0.1" in err


def test_serve_process_records_a_delivery_and_stops_on_sigterm(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db = f"sqlite:///{tmp_path / 'state.db'}"
    env = {**os.environ, "JOB_AGENT_WEBHOOK_USER": USER, "JOB_AGENT_WEBHOOK_PASSWORD": PASSWORD}
    env.pop("DATABRICKS_HOST", None)
    proc = subprocess.Popen([sys.executable, "-m", "lead.cli", "webhook", "serve", "--port", str(port), "--db", db],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the webhook did not start"
            time.sleep(0.1)
        body = {"event_type": "jobs.on_failure", "workspace_id": 77, "run": {"run_id": 5}, "job": {"job_id": 6, "name": "j"}}
        r = httpx.post(base + "/webhook", json=body, auth=(USER, PASSWORD), timeout=10)
        assert r.status_code == 202 and r.json() == {"task": "T-0001", "created": True}
        assert httpx.post(base + "/webhook", json=body, auth=(USER, "nope"), timeout=10).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"webhook listening on http://127.0.0.1:{port}/webhook" in err
    assert "outcome=created task=T-0001 run_id=5 job_id=6" in err and "outcome=unauthorized" in err
    assert PASSWORD not in out + err
    code, out, _ = lead("show", "T-0001", "--json", "--db", db)
    assert code == 0
    assert '"source": "webhook"' in out and '"run_id": 5' in out

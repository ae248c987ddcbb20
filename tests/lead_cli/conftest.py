"""Fixtures for the `lead` command tests: run the real CLI in-process against a temp SQLite file."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from lead.cli import app
from lead.cli_runner import run_cli


@dataclass
class CliResult:
    """Exit code and captured output of one `lead` invocation."""

    code: int
    out: str
    err: str

    def json(self):
        return json.loads(self.out)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """A fresh working directory with its own database and progress dir (through the env vars)."""
    monkeypatch.setenv("JOB_AGENT_DB", f"sqlite:///{tmp_path / 'state.db'}")
    monkeypatch.setenv("JOB_AGENT_PROGRESS_DIR", str(tmp_path / "progress"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def lead(workdir, capsys):
    """`lead(*args) -> CliResult`: the real `lead` command, in this process."""

    def _run(*args: str) -> CliResult:
        capsys.readouterr()
        code = run_cli(app, "lead", list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return _run

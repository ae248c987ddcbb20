"""Eight `lead submit` processes at once against one new SQLite file all succeed: the schema is
created once under a lock, and each submit takes the write lock up front (no read-to-write
upgrade that fails with "database is locked")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlmodel import Session

from state.engine import make_engine
from state.models import Requirement, Task

REPO = Path(__file__).resolve().parents[2]


def _file(root: Path, n: int) -> Path:
    text = (REPO / "examples" / "nightly-sales.md").read_text()
    path = root / f"req{n}" / "nightly-sales.md"
    path.parent.mkdir()
    # bundles 0..3 twice: pairs of submits race for the same requirement from two paths
    path.write_text(text.replace("bundle: nightly_sales", f"bundle: nightly_sales_{n % 4}", 1))
    return path


def test_eight_parallel_submits_against_one_sqlite_file_all_exit_0(tmp_path):
    db = f"sqlite:///{tmp_path / 'state.db'}"
    files = [_file(tmp_path, n) for n in range(8)]
    assert "bundle: nightly_sales_0" in files[0].read_text()
    env = {**os.environ, "JOB_AGENT_HOME": str(tmp_path / ".job-agent")}
    for _round in range(3):
        procs = [subprocess.Popen([sys.executable, "-m", "lead.cli", "submit", str(f), "--db", db,
                                   "--progress-dir", str(tmp_path / "progress")],
                                  cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for f in files]
        results = [(p.wait(timeout=120), p.stderr.read()) for p in procs]
        assert [code for code, _ in results] == [0] * 8, [err for code, err in results if code]
    engine = make_engine(db)
    with Session(engine) as session:
        identities = session.execute(select(Requirement.identity).order_by(Requirement.identity)).scalars().all()
        revisions = session.execute(select(func.max(Requirement.revision))).scalar_one()
        assert session.execute(select(func.count()).select_from(Task)).scalar_one() > 0
    assert identities == [f"nightly_sales_{n}/dev" for n in range(4)]
    assert revisions >= 2  # two paths per bundle: each path switch is a revision

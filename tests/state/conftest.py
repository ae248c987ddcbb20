"""Fixtures for the state tests: a real SQLite file per test, and a helper to submit specs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from sqlmodel import Session

from state.engine import make_engine
from state.submissions import record_submission

sys.path.insert(0, str(Path(__file__).parent))  # for `from state_fixtures import Spec`


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def submit(engine):
    """submit(specs, sha="a", path="/req.md") -> SubmissionResult, committed."""

    def _submit(specs, sha="a", path="/req.md", title="Nightly sales"):
        with Session(engine) as session:
            result = record_submission(
                session, source_path=path, title=title, content_sha256=sha, front_matter={"title": title}, owner="o@example.com", specs=specs
            )
            session.commit()
            return result

    return _submit

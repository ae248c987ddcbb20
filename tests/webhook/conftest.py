"""Fixtures for the webhook tests: the intake app served by a real uvicorn on 127.0.0.1 (a
free port, its own thread) over a SQLite file in tmp, and an `httpx` client for it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `from webhook_helpers import ...`

from webhook_helpers import HOST, PASSWORD, USER  # noqa: E402


class Intake:
    """A running intake: `url` (`.../webhook`), `engine`, `client` (httpx), `post(body, auth=...)`."""

    def __init__(self, url: str, engine, client) -> None:
        self.base = url
        self.url = url + "/webhook"
        self.engine = engine
        self.client = client

    def post(self, body, *, auth=(USER, PASSWORD), **kwargs):
        import json

        content = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.client.post(self.url, content=content, auth=auth,
                                headers={"Content-Type": "application/json"}, **kwargs)

    def tasks(self) -> list:
        from sqlmodel import Session, select

        from state.models import Task

        with Session(self.engine) as session:
            return list(session.exec(select(Task).order_by(Task.id)))

    def requirements(self) -> list:
        from sqlmodel import Session, select

        from state.models import Requirement

        with Session(self.engine) as session:
            return list(session.exec(select(Requirement).order_by(Requirement.id)))


def _serve(tmp_path, **app_kwargs):
    import httpx

    from lead.webhook import make_app
    from sandbox.server import BackgroundServer  # test helper only: uvicorn on a thread
    from state.engine import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'state.db'}")
    server = BackgroundServer(make_app(engine, username=USER, password=PASSWORD, **app_kwargs)).start()
    client = httpx.Client(timeout=10)
    try:
        yield Intake(server.url, engine, client)
    finally:
        client.close()
        server.stop()
        engine.dispose()


@pytest.fixture
def intake(tmp_path):
    """The intake with a configured workspace host (`HOST`)."""
    yield from _serve(tmp_path, workspace_host=HOST + "/")


@pytest.fixture
def intake_without_host(tmp_path):
    """The intake without a workspace host: keys use the body's workspace_id."""
    yield from _serve(tmp_path)

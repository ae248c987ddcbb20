"""Fixtures for bundle export and artifact tests: the bundle schema checker, and the real
end-to-end environment of `tests/e2e` (sandbox workspace over HTTP, SQLite state, the `lead`
CLI and an in-process worker), reused from there rather than copied."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for `import bundle_schema`, `import bundle_helpers`

from bundle_helpers import REPO, SCHEMA_DIR  # noqa: E402


def _e2e_module():
    spec = importlib.util.spec_from_file_location("e2e_fixtures_for_bundle", REPO / "tests" / "e2e" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_E2E = _e2e_module()


@pytest.fixture(scope="session")
def schema():
    """The bundle schema tree (`bundle_schema.load_schema`); skips when ../shared is absent."""
    if not SCHEMA_DIR.is_dir():
        pytest.skip(f"the bundle schema is not at {SCHEMA_DIR} (../shared/data)")
    from bundle_schema import load_schema

    return load_schema(SCHEMA_DIR)


@pytest.fixture
def sandbox_ws():
    from sandbox import running_sandbox

    with running_sandbox(clock_speed=3600.0) as sb:
        yield sb


@pytest.fixture
def e2e(tmp_path, sandbox_ws):
    """`tests/e2e/conftest.E2E`: submit with the real `lead` CLI, run a real worker until idle."""
    return _E2E.E2E(tmp_path, f"sqlite:///{tmp_path / 'state.db'}", sandbox_ws)

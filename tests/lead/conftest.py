"""Fixtures for the lead tests: write a real requirements file under tmp_path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `from lead_helpers import ...`


@pytest.fixture
def write(tmp_path: Path):
    """`write(text, name="req.md") -> Path`: write `text` as is under tmp_path."""

    def _write(text: str, name: str = "req.md") -> Path:
        path = tmp_path / name
        path.write_bytes(text.encode("utf-8"))
        return path

    return _write

"""Fixtures for the notifier tests: real aiosmtpd servers (see `notify_helpers`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `from notify_helpers import ...`

from notify_helpers import smtp_server  # noqa: E402


@pytest.fixture
def plain_smtp():
    with smtp_server() as box:
        yield box


@pytest.fixture
def tls_auth_smtp(tmp_path):
    with smtp_server(tls_dir=tmp_path, auth=True) as box:
        yield box


@pytest.fixture
def plain_auth_smtp():
    with smtp_server(auth=True) as box:
        yield box

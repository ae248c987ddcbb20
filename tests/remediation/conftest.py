"""Fixtures for the failure classifier: one real Classifier (the packaged MiniLM model) per session."""

from __future__ import annotations


import pytest

from tasks.remediation.classify import Classifier



@pytest.fixture(scope="session")
def clf() -> Classifier:
    """The full classifier (neighbours on); the model loads at the first unsure message."""
    return Classifier()


@pytest.fixture(scope="session")
def rules() -> Classifier:
    """The rules alone (no model)."""
    return Classifier(use_neighbours=False)

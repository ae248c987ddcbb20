"""Where the bundle tests find the repository and the shared data (`../shared` from the repo root)."""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SHARED = REPO.parent / "shared"
SCHEMA_DIR = SHARED / "data" / "databricks-docs" / "cli-bundle-schema"
BUNDLE_JOBS = SHARED / "data" / "bundle-jobs"

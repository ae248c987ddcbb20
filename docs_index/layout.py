"""Where a docs index lives on disk and how its directory is laid out.

The default index directory is ``.job-agent/docs-index`` under the current directory; the
environment variable ``JOB_AGENT_HOME`` names the ``.job-agent`` directory instead. Inside it:

- ``chroma/``: the Chroma persistent client (collection ``COLLECTION``),
- ``lexical/``: the BM25 index and the chunk table it answers with,
- ``manifest.json``: what the last build used (sources, model, counts, time).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

COLLECTION = "databricks_docs"
"""Name of the Chroma collection holding the chunks."""

MANIFEST_VERSION = 1


def job_agent_home() -> Path:
    """The ``.job-agent`` directory: ``$JOB_AGENT_HOME`` if set, else ``./.job-agent``."""
    env = os.environ.get("JOB_AGENT_HOME")
    return Path(env).expanduser() if env else Path.cwd() / ".job-agent"


def default_index_dir() -> Path:
    """The default index directory, ``<job_agent_home()>/docs-index`` (not created here)."""
    return job_agent_home() / "docs-index"


@dataclass(frozen=True)
class IndexLayout:
    """Paths of the parts of one index directory ``root``."""

    root: Path

    @classmethod
    def at(cls, index_dir: Path | str | None = None) -> "IndexLayout":
        """The layout at ``index_dir`` or, when None, at :func:`default_index_dir`."""
        return cls(Path(index_dir).expanduser() if index_dir is not None else default_index_dir())

    @property
    def chroma_dir(self) -> Path:
        """Directory of the Chroma persistent client."""
        return self.root / "chroma"

    @property
    def lexical_dir(self) -> Path:
        """Directory of the BM25 index and chunk table."""
        return self.root / "lexical"

    @property
    def manifest_path(self) -> Path:
        """The JSON manifest written at the end of every successful build."""
        return self.root / "manifest.json"

    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest as a dict, or None when absent or unreadable (no build finished)."""
        try:
            data = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def write_manifest(self, data: dict[str, Any]) -> None:
        """Write ``data`` as the manifest atomically (temp file + rename)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.manifest_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.manifest_path)

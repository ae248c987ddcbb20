"""The in-process sandbox: ``running_sandbox(...)`` starts the server on a background thread and
yields a :class:`Sandbox` handle (URL, token, a configured ``WorkspaceClient`` and control methods).

Importing this module is cheap: uvicorn, Starlette and ``databricks.sdk`` are imported inside the
functions that need them.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

DEFAULT_CLOCK_SPEED = 60.0


class Sandbox:
    """Handle on a running sandbox, bound to one token (one workspace).

    Attributes: ``url`` (``http://127.0.0.1:<port>``), ``token`` (bearer token), ``store``.
    """

    def __init__(self, url: str, token: str, store):
        self.url = url
        self.token = token
        self.store = store

    def workspace_client(self):
        """An unmodified ``databricks.sdk.WorkspaceClient(host=url, token=token, auth_type="pat")``."""
        from databricks.sdk import WorkspaceClient

        return WorkspaceClient(host=self.url, token=self.token, auth_type="pat")

    def add_fault(self, path_pattern: str, kind: str, count: int | None = 1, offset: int = 0, *,
                  method: str | None = None, retry_after: int = 0, latency_ms: int = 0, mode: str = "drop",
                  probability: float = 1.0, seed: int = 0) -> int:
        """Add a fault rule for this token (see ``sandbox.faults``); returns its id.

        ``kind`` is ``"429"``, ``"503"``, ``"latency"`` or ``"lose_response"``; ``count=None``
        faults every matching request after the first ``offset``. Raises
        ``sandbox.errors.InvalidParameterValue`` for an invalid rule.
        """
        from sandbox.routes_control import add_fault

        return add_fault(self.store, self.token, {
            "path": path_pattern, "kind": str(kind), "count": count, "offset": offset, "method": method,
            "retry_after": retry_after, "latency_ms": latency_ms, "mode": mode,
            "probability": probability, "seed": seed})["id"]

    def faults(self) -> list[dict]:
        """This token's fault rules with their ``seen`` / ``fired`` counters."""
        with self.store.lock:
            return [r.as_dict() for r in self.store.transient(self.token)["faults"]]

    def clear_faults(self) -> None:
        """Drop all fault rules of this token."""
        with self.store.lock:
            self.store.transient(self.token)["faults"].clear()

    def load_scenario(self, scenario: dict | str | os.PathLike) -> dict:
        """Load a scenario (dict or YAML/JSON path; see ``sandbox.scenarios``); returns the resolved dict."""
        from sandbox.routes_control import load_scenario

        return load_scenario(self.store, self.token, scenario if isinstance(scenario, dict) else Path(scenario))

    def advance(self, seconds: float) -> int:
        """Advance this workspace's simulated clock by ``seconds``; returns the new now (epoch ms)."""
        from sandbox.routes_control import advance

        return advance(self.store, self.token, seconds)

    def now_ms(self) -> int:
        """This workspace's simulated now (epoch ms)."""
        with self.store.transaction(self.token) as ws:
            return self.store.now_ms(ws)

    def reset(self) -> None:
        """Reset this workspace to the seed (jobs, runs, tree, scenario, faults and clock offset)."""
        self.store.reset(self.token)


def _check_dataset(directory) -> None:
    import duckdb

    from sandbox import system_tables

    system_tables.load_dataset(duckdb.connect(), directory)


@contextmanager
def running_sandbox(state_file: str | os.PathLike | None = None, scenario: dict | str | os.PathLike | None = None,
                    clock_speed: float = DEFAULT_CLOCK_SPEED, faults: list[dict] | None = None, *,
                    port: int = 0, token: str | None = None,
                    system_tables: str | os.PathLike | None = None) -> Iterator[Sandbox]:
    """Start a sandbox server on 127.0.0.1 (free port unless ``port``) and yield its :class:`Sandbox`.

    ``state_file``: persist every workspace there (and reuse its recorded token, so another
    process with the same file sees the same jobs and runs). ``scenario``: dict or file loaded for
    the handle's token. ``clock_speed``: simulated seconds per real second (0 freezes time; use
    ``sb.advance``). ``faults``: list of ``add_fault`` keyword dicts (``path_pattern``/``path``,
    ``kind``, ...). ``system_tables``: a data set directory (one file per table, e.g.
    ``system.billing.usage.jsonl``; see ``sandbox.system_tables.load_dataset``) that SQL statements
    query instead of the seeded history; it is checked before the server starts (raises
    ``sandbox.system_tables.DatasetError``). The server stops when the block exits.
    """
    from sandbox.app import build_app
    from sandbox.clock import SimClock
    from sandbox.server import BackgroundServer
    from sandbox.store import Store, new_token

    store = Store(SimClock(clock_speed), state_file)
    if system_tables is not None:
        _check_dataset(system_tables)
        store.system_tables = os.fspath(system_tables)
    server = BackgroundServer(build_app(store), port=port).start()
    store.host = server.url
    try:
        tok = token or (store.ensure_default_token() if state_file else new_token())
        sb = Sandbox(server.url, tok, store)
        if scenario is not None:
            sb.load_scenario(scenario)
        for f in faults or []:
            f = dict(f)
            path = f.pop("path_pattern", None) or f.pop("path")
            sb.add_fault(path, f.pop("kind"), **f)
        yield sb
    finally:
        server.stop()
        store.persist_clock()

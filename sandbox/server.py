"""Running the sandbox app with uvicorn: on a background thread (tests, ``--sandbox``) or in the
foreground (``sandbox serve``). Binds 127.0.0.1; port 0 picks a free port.
"""

from __future__ import annotations

import socket
import threading
import time


class BackgroundServer:
    """A uvicorn server on its own thread. ``start()`` returns once it accepts connections.

    ``url`` is ``http://127.0.0.1:<port>``. Raises ``RuntimeError`` if it does not start in 10 s.
    """

    def __init__(self, app, port: int = 0):
        import uvicorn

        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]},
                                        name=f"sandbox-{self.port}", daemon=True)

    def start(self) -> "BackgroundServer":
        """Start serving; block until ready."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"sandbox server on port {self.port} failed to start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread (at most 5 s)."""
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

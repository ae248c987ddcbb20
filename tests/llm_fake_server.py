"""A local OpenAI-compatible chat-completions server with scripted replies, for tests (real HTTP).

litellm reaches it as model `openai/fake-model` with `api_base` = `server.url`. Each request to
`POST /v1/chat/completions` takes the next scripted reply:

- a string, or `{"content": str}`: a normal answer (usage counted as words, or `"usage"` given);
- `{"status": 429}` / `{"status": 500}` (optionally `"message"`): an error answer;
- `{"delay": seconds, ...}`: answer late (the rest of the dict says what);
- `{"raw": str}`: a 200 answer whose body is `raw` (malformed JSON);
- a callable `f(request_body) -> reply`: decides from the request.

When the script runs out the server answers 500 "no scripted reply". `requests` keeps every
request body received, in order.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "fake-model"


class FakeLlmServer:
    """The server and its script; `start()`/`stop()` or use as a context manager."""

    def __init__(self) -> None:
        self._script: deque = deque()
        self._lock = threading.Lock()
        self.requests: list[dict] = []
        self._httpd: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    @property
    def model(self) -> str:
        return f"openai/{MODEL}"

    @property
    def env(self) -> dict[str, str]:
        """The variables that point the pipeline at this server (for subprocesses)."""
        return {"JOB_AGENT_LLM_MODEL": self.model, "JOB_AGENT_LLM_API_BASE": self.url, "OPENAI_API_KEY": "sk-test"}

    def script(self, replies: list[Any]) -> None:
        """Append replies to the script (consumed one per request, in order)."""
        with self._lock:
            self._script.extend(replies)

    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def _next(self, body: dict) -> Any:
        with self._lock:
            self.requests.append(body)
            reply = self._script.popleft() if self._script else {"status": 500, "message": "no scripted reply"}
        return reply(body) if callable(reply) else reply

    def start(self) -> "FakeLlmServer":
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _send(self, status: int, payload: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {}
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._send(404, b'{"error": {"message": "not found"}}')
                    return
                reply = server._next(body)
                if isinstance(reply, str):
                    reply = {"content": reply}
                if reply.get("delay"):
                    time.sleep(float(reply["delay"]))
                if "raw" in reply:
                    self._send(200, reply["raw"].encode())
                    return
                status = int(reply.get("status", 200))
                if status != 200:
                    payload = {"error": {"message": reply.get("message", f"scripted {status}"), "type": "scripted", "code": status}}
                    self._send(status, json.dumps(payload).encode())
                    return
                content = reply.get("content", "")
                prompt_words = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
                usage = reply.get("usage") or {"prompt_tokens": prompt_words, "completion_tokens": len(content.split()),
                                               "total_tokens": prompt_words + len(content.split())}
                payload = {
                    "id": f"chatcmpl-{len(server.requests)}", "object": "chat.completion", "created": int(time.time()),
                    "model": body.get("model", MODEL),
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
                    "usage": usage,
                }
                self._send(200, json.dumps(payload).encode())

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    def __enter__(self) -> "FakeLlmServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

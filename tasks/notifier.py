"""E-mail to a job's owner: SMTP through the standard library's `smtplib`, or a `.eml` file.

    settings = SmtpSettings.from_env()                  # JOB_AGENT_SMTP_* / JOB_AGENT_MAIL_FROM
    notifier = Notifier(settings, fallback_dir=Path(".job-agent/outbox"))
    subject, body = format_failure_email("P2", "Nightly sales", run_url, "OOM", excerpt,
                                         "repair on a bigger node", why, tried=["repair (same node)"])
    notifier.send(["owner@example.com"], subject, body, idempotency_key="notify:T-0007:1")
    # -> {"delivered": "smtp", "to": ["owner@example.com"], "message_id": "<...@example.com>", "path": None}

Configuration (environment variable names are a contract):

| variable | default | meaning |
|---|---|---|
| `JOB_AGENT_SMTP_HOST` | unset | SMTP server; unset: mails are written to the fallback directory |
| `JOB_AGENT_SMTP_PORT` | 587 with STARTTLS, else 25 | port (465 means implicit TLS, SMTPS) |
| `JOB_AGENT_SMTP_USER` | unset | log in with this user (and the password) when set |
| `JOB_AGENT_SMTP_PASSWORD` | unset | never shown: not in logs, errors, results or `repr` |
| `JOB_AGENT_SMTP_STARTTLS` | `true` when a user is set, else `false` | upgrade the connection with STARTTLS (certificate verified) |
| `JOB_AGENT_MAIL_FROM` | `job-agent@localhost` | the From address (and the Message-ID's domain) |
| `JOB_AGENT_SMTP_CA_FILE` | system CAs | extra: a PEM file of CAs to trust for the server's certificate |
| `JOB_AGENT_SMTP_TIMEOUT` | 10 | extra: seconds for connecting and for each SMTP command |

Idempotency: the `Message-ID` is derived from `idempotency_key` only
(`<job-agent.<sha256 prefix>@<from domain>>`), so a retried send carries the same id and
mail clients and archives show one message; the file fallback writes one file per key and
does not write it again. SMTP itself cannot refuse a repeat: the caller (a task) records
that the mail went out in its outcome.

Errors: every failure is a `NotificationError` whose message never contains the password
(it is replaced by `***` and the text goes through `state.redaction.redact_text`).
`SmtpTransientError` (a `NotificationError` and a `ConnectionError`, so the worker's retry
policy `worker.retry_policy.is_transient` retries it) for connection refused or reset,
timeouts, a server that hangs up and SMTP 4xx replies; plain `NotificationError` (permanent)
for a refused login, refused sender or recipients, SMTP 5xx replies, a failed TLS
handshake or certificate check, a server without STARTTLS or AUTH, bad settings and bad
addresses. Permanent errors carry no `__cause__`/`__context__` chain (the policy follows the
chain, and a chained socket error would make them look transient).

Sources: `smtplib` and `email.message.EmailMessage` (Python standard library); the SMTP
reply classes of RFC 5321 section 4.2.1 (4yz transient, 5yz permanent).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import smtplib
import socket
import ssl
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any

from state.redaction import redact_text

log = logging.getLogger("job_agent.notifier")

ENV_HOST = "JOB_AGENT_SMTP_HOST"
ENV_PORT = "JOB_AGENT_SMTP_PORT"
ENV_USER = "JOB_AGENT_SMTP_USER"
ENV_PASSWORD = "JOB_AGENT_SMTP_PASSWORD"
ENV_STARTTLS = "JOB_AGENT_SMTP_STARTTLS"
ENV_MAIL_FROM = "JOB_AGENT_MAIL_FROM"
ENV_CA_FILE = "JOB_AGENT_SMTP_CA_FILE"
ENV_TIMEOUT = "JOB_AGENT_SMTP_TIMEOUT"

DEFAULT_MAIL_FROM = "job-agent@localhost"
DEFAULT_TIMEOUT_SECONDS = 10.0
SMTPS_PORT = 465

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"]+@[^@\s<>()\[\],;:\"]+$")


class NotificationError(Exception):
    """A mail could not be delivered (permanent unless it is also a `ConnectionError`).

    Attributes: `transient` (False here), `kind` (a short word: `config`, `address`, `auth`,
    `refused`, `tls`, `smtp`, `file`, `connection`).
    """

    transient = False

    def __init__(self, message: str, *, kind: str = "smtp") -> None:
        super().__init__(message)
        self.kind = kind


class SmtpTransientError(NotificationError, ConnectionError):
    """The SMTP server could not be reached or asked to try later: worth another attempt."""

    transient = True


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send mail. `host=None` means no SMTP: write `.eml` files instead.

    `password` is left out of `repr` (and never logged). `port=None` picks 587 with STARTTLS,
    else 25.
    """

    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    mail_from: str = DEFAULT_MAIL_FROM
    ca_file: str | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS

    @property
    def effective_port(self) -> int:
        """The port used: `port`, else 587 with STARTTLS, else 25."""
        return self.port or (587 if self.starttls else 25)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "SmtpSettings":
        """Settings from `JOB_AGENT_SMTP_*` and `JOB_AGENT_MAIL_FROM` (see the module docstring).

        Args:
            env: the variables to read (default `os.environ`).

        Raises:
            NotificationError (kind `config`): a port or timeout that is not a number, a
                STARTTLS value that is not true/false, a From that is not an address, a user
                without a password.
        """
        env = os.environ if env is None else env
        get = lambda name: (env.get(name) or "").strip() or None  # noqa: E731
        host, user = get(ENV_HOST), get(ENV_USER)
        password = env.get(ENV_PASSWORD) or None  # kept as given: spaces may be part of it
        port = _parse_int(get(ENV_PORT), ENV_PORT)
        raw_tls = (env.get(ENV_STARTTLS) or "").strip().lower()
        if raw_tls in _TRUE:
            starttls = True
        elif raw_tls in _FALSE:
            starttls = bool(user) if raw_tls == "" else False
        else:
            raise NotificationError(f"{ENV_STARTTLS} must be true or false, not {raw_tls!r}", kind="config")
        mail_from = get(ENV_MAIL_FROM) or DEFAULT_MAIL_FROM
        if not _ADDRESS.match(parseaddr(mail_from)[1] or ""):
            raise NotificationError(f"{ENV_MAIL_FROM} is not an e-mail address: {redact_text(mail_from)!r}", kind="config")
        if user and not password:
            raise NotificationError(f"{ENV_USER} is set but {ENV_PASSWORD} is not", kind="config")
        timeout = get(ENV_TIMEOUT)
        try:
            timeout_seconds = float(timeout) if timeout else DEFAULT_TIMEOUT_SECONDS
        except ValueError:
            raise NotificationError(f"{ENV_TIMEOUT} must be a number of seconds, not {timeout!r}", kind="config") from None
        return cls(host=host, port=port, user=user, password=password, starttls=starttls, mail_from=mail_from,
                   ca_file=get(ENV_CA_FILE), timeout_seconds=timeout_seconds)


def _parse_int(value: str | None, name: str) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or not (0 < int(value) < 65536):
        raise NotificationError(f"{name} must be a port number (1-65535), not {value!r}", kind="config")
    return int(value)


def message_id(idempotency_key: str, mail_from: str = DEFAULT_MAIL_FROM) -> str:
    """The stable `Message-ID` of the mail sent under `idempotency_key`:
    `<job-agent.<first 32 hex of sha256(key)>@<domain of mail_from>>`."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<job-agent.{digest}@{domain}>"


class Notifier:
    """Sends mails with `settings`, or writes them into `fallback_dir` when no SMTP host is set."""

    def __init__(self, settings: SmtpSettings, fallback_dir: Path | None = None) -> None:
        self.settings = settings
        self.fallback_dir = Path(fallback_dir) if fallback_dir is not None else None

    def build_message(self, to: Sequence[str], subject: str, body: str, *, idempotency_key: str) -> EmailMessage:
        """The `EmailMessage` `send` delivers: From, To, Subject (one line, masked), Date,
        Message-ID (from the key), `X-Job-Agent-Key`, and the masked body as UTF-8 text.

        Raises:
            NotificationError (kind `address`): no recipient, or a recipient that is not an address.
        """
        recipients = _check_recipients(to)
        if not idempotency_key or not idempotency_key.strip():
            raise NotificationError("an idempotency key is required to send a notification", kind="config")
        msg = EmailMessage()
        msg["From"] = self.settings.mail_from
        msg["To"] = ", ".join(recipients)
        msg["Subject"] = _one_line(redact_text(subject))
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = message_id(idempotency_key, self.settings.mail_from)
        msg["X-Job-Agent-Key"] = _one_line(redact_text(idempotency_key))
        msg.set_content(redact_text(body))
        return msg

    def send(self, to: list[str], subject: str, body: str, *, idempotency_key: str) -> dict[str, Any]:
        """Send one mail (subject and body masked with `redact_text`).

        Returns:
            `{"delivered": "smtp"|"file", "to": [addresses], "message_id": "<...>", "path": str|None}`;
            `path` is the `.eml` file for a file delivery. A file delivery whose file exists
            (the same key sent before) does not write it again and adds `"duplicate": True`.

        Raises:
            SmtpTransientError: the server was unreachable, timed out, hung up or answered 4xx.
            NotificationError: anything permanent (see the module docstring), or no SMTP host
                and no fallback directory.
        """
        msg = self.build_message(to, subject, body, idempotency_key=idempotency_key)
        recipients = _check_recipients(to)
        if not self.settings.host:
            return self._write_file(msg, recipients, idempotency_key)
        self._send_smtp(msg, recipients)
        log.info("notification sent: to=%s message_id=%s via=%s:%s", ",".join(recipients), msg["Message-ID"],
                 self.settings.host, self.settings.effective_port)
        return {"delivered": "smtp", "to": recipients, "message_id": msg["Message-ID"], "path": None}

    # -- delivery ---------------------------------------------------------------------------

    def _write_file(self, msg: EmailMessage, recipients: list[str], key: str) -> dict[str, Any]:
        if self.fallback_dir is None:
            raise NotificationError(f"no SMTP server configured ({ENV_HOST} is unset) and no fallback directory "
                                    "to write the mail to", kind="config")
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", key).strip("._")[:80] or "mail"
        path = self.fallback_dir / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:8]}.eml"
        result = {"delivered": "file", "to": recipients, "message_id": msg["Message-ID"], "path": str(path)}
        if path.exists():
            return result | {"duplicate": True}
        try:
            from state.progress import write_atomic

            write_atomic(path, msg.as_bytes())
        except OSError as error:
            problem = f"cannot write {path}: {error.strerror or error}"
        else:
            log.info("notification written: to=%s message_id=%s path=%s (no SMTP server configured)",
                     ",".join(recipients), msg["Message-ID"], path)
            return result
        raise NotificationError(problem, kind="file")

    def _send_smtp(self, msg: EmailMessage, recipients: list[str]) -> None:
        """Deliver through SMTP; every error becomes a `NotificationError` raised outside the
        `except` block (no chained cause that could carry or mis-classify anything)."""
        s = self.settings
        where = f"SMTP server {s.host}:{s.effective_port}"
        failure: NotificationError | None = None
        try:
            context = ssl.create_default_context(cafile=s.ca_file) if (s.starttls or s.effective_port == SMTPS_PORT) else None
            if s.effective_port == SMTPS_PORT:
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.effective_port, timeout=s.timeout_seconds, context=context)
            else:
                client = smtplib.SMTP(s.host, s.effective_port, timeout=s.timeout_seconds)
            with client:
                client.ehlo()
                if s.starttls and s.effective_port != SMTPS_PORT:
                    client.starttls(context=context)
                    client.ehlo()
                if s.user:
                    client.login(s.user, s.password or "")
                client.send_message(msg, from_addr=parseaddr(s.mail_from)[1], to_addrs=recipients)
        except BaseException as error:  # noqa: BLE001 - classified below, re-raised when unknown
            failure = self._classify(error, where)
            if failure is None:
                raise
        if failure is not None:
            log.warning("notification failed: to=%s message_id=%s error=%s", ",".join(recipients), msg["Message-ID"],
                        str(failure))
            raise failure

    def _classify(self, error: BaseException, where: str) -> NotificationError | None:
        """The `NotificationError` for `error` (message scrubbed), or None for what is not ours
        to classify (KeyboardInterrupt, programming errors)."""
        text = lambda detail: self._scrub(f"{where}: {detail}")  # noqa: E731
        if isinstance(error, smtplib.SMTPAuthenticationError):
            return NotificationError(text(f"login refused for user {self.settings.user!r}: {_reply(error)}"), kind="auth")
        if isinstance(error, smtplib.SMTPNotSupportedError):
            return NotificationError(text(f"the server does not support {_unsupported(error)}"), kind="config")
        if isinstance(error, smtplib.SMTPRecipientsRefused):
            refused = ", ".join(f"{addr} ({code} {_decode(reply)})" for addr, (code, reply) in error.recipients.items())
            transient = all(400 <= code < 500 for code, _ in error.recipients.values())
            cls = SmtpTransientError if transient else NotificationError
            return cls(text(f"recipients refused: {refused}"), kind="connection" if transient else "refused")
        if isinstance(error, smtplib.SMTPSenderRefused):
            cls = SmtpTransientError if 400 <= error.smtp_code < 500 else NotificationError
            return cls(text(f"sender {error.sender!r} refused: {_reply(error)}"),
                       kind="connection" if cls is SmtpTransientError else "refused")
        if isinstance(error, smtplib.SMTPResponseException):
            if 400 <= error.smtp_code < 500:
                return SmtpTransientError(text(f"try again later: {_reply(error)}"), kind="connection")
            return NotificationError(text(f"refused: {_reply(error)}"), kind="smtp")
        if isinstance(error, smtplib.SMTPServerDisconnected):
            if "timed out" in str(error):  # smtplib turns a read timeout into a disconnect
                return SmtpTransientError(text(f"timed out after {self.settings.timeout_seconds:g} s"), kind="connection")
            return SmtpTransientError(text(f"the connection closed unexpectedly ({error or 'no reply'})"), kind="connection")
        if isinstance(error, ssl.SSLError):
            return NotificationError(text(f"TLS failed: {error.reason or error}"), kind="tls")
        if isinstance(error, (TimeoutError, socket.timeout)):
            return SmtpTransientError(text(f"timed out after {self.settings.timeout_seconds:g} s"), kind="connection")
        if isinstance(error, socket.gaierror):
            if error.errno == socket.EAI_AGAIN:
                return SmtpTransientError(text(f"name lookup failed for now: {error.strerror}"), kind="connection")
            return NotificationError(text(f"unknown host: {error.strerror}"), kind="config")
        if isinstance(error, ConnectionError):
            return SmtpTransientError(text(f"cannot connect: {error.strerror or type(error).__name__}"), kind="connection")
        if isinstance(error, OSError):
            if error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN, errno.ECONNABORTED):
                return SmtpTransientError(text(f"cannot connect: {error.strerror}"), kind="connection")
            if error.errno is None and isinstance(error, smtplib.SMTPException):
                return NotificationError(text(str(error)), kind="smtp")
            return NotificationError(text(f"{error.strerror or error}"), kind="smtp")
        if isinstance(error, (UnicodeError, ValueError)):
            return NotificationError(text(f"the message could not be sent: {type(error).__name__}"), kind="smtp")
        return None

    def _scrub(self, text: str) -> str:
        """`text` without the password (literally, in any case) and with credentials masked."""
        password = self.settings.password
        if password:
            text = re.sub(re.escape(password), "***", text, flags=re.IGNORECASE)
        return redact_text(text)


def _reply(error: smtplib.SMTPResponseException) -> str:
    return f"{error.smtp_code} {_decode(error.smtp_error)}".strip()


def _decode(reply: Any) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(str(reply).split())


def _unsupported(error: smtplib.SMTPNotSupportedError) -> str:
    message = str(error).lower()
    if "starttls" in message:
        return f"STARTTLS (set {ENV_STARTTLS}=false only for a server you reach over a trusted network)"
    if "auth" in message:
        return f"AUTH (unset {ENV_USER}, or enable STARTTLS: many servers offer AUTH only after it)"
    return str(error)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _check_recipients(to: Sequence[str]) -> list[str]:
    if isinstance(to, str):
        to = [to]
    recipients = []
    for raw in to or []:
        address = parseaddr(raw or "")[1] if "\n" not in (raw or "") and "\r" not in (raw or "") else ""
        if not _ADDRESS.match(address):
            raise NotificationError(f"not an e-mail address: {redact_text(str(raw))!r}", kind="address")
        if address not in recipients:
            recipients.append(address)
    if not recipients:
        raise NotificationError("no recipient to notify", kind="address")
    return recipients


def format_failure_email(
    priority: str,
    job_name: str,
    run_url: str,
    category: str,
    excerpt: str,
    decision: str,
    why: str,
    tried: Sequence[str],
    explanation: str | None = None,
) -> tuple[str, str]:
    """(subject, body) of a failed-run notification; everything passes through `redact_text`.

    Subject: `[<priority>] <job name>: <decision>` on one line. Body: the run link, the failure
    category, the error excerpt (masked, indented), the decision and why, an optional
    explanation paragraph (model-written, `tasks.remediation.email_explanation`; marked as such,
    after the facts, which always come from the run), and what was already tried (a bulleted
    list, or "nothing yet").
    """
    subject = _one_line(redact_text(f"[{priority}] {job_name}: {decision}"))
    excerpt_lines = [f"    {line}" for line in redact_text(excerpt or "").strip("\n").splitlines()] or ["    (no error text)"]
    tried_lines = [f"  - {_one_line(redact_text(item))}" for item in tried] or ["  - nothing yet"]
    body = "\n".join([
        f"A run of the Databricks job \"{redact_text(job_name)}\" failed.",
        "",
        f"Run:       {run_url}",
        f"Category:  {redact_text(category)}",
        f"Priority:  {redact_text(priority)}",
        "",
        "Error excerpt:",
        *excerpt_lines,
        "",
        f"Decision:  {redact_text(decision)}",
        f"Why:       {redact_text(why)}",
        "",
        *(["In plain words (written by a model from the facts above; check them, not this):",
           *textwrap.wrap(_one_line(redact_text(explanation)), 78), ""] if explanation and explanation.strip() else []),
        "Already tried:",
        *tried_lines,
        "",
        "-- job-agent",
        "",
    ])
    return subject, redact_text(body)

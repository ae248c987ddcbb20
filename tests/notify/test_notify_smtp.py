"""The notifier against a real aiosmtpd server: a plain server, AUTH behind STARTTLS with a
self-signed certificate, refused logins, unreachable and silent servers, 4xx replies, and the
`.eml` fallback when no server is configured. The SMTP password must appear nowhere: not in
results, log records, exception messages, reprs or tracebacks."""

from __future__ import annotations

import logging
import socket
import traceback
from email import message_from_bytes, policy

import pytest
from notify_helpers import PASSWORD, USER, free_port

from tasks.notifier import (
    NotificationError,
    Notifier,
    SmtpSettings,
    SmtpTransientError,
    format_failure_email,
    message_id,
)
from worker.retry_policy import is_transient

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

RUN_URL = "https://adb-123.azuredatabricks.net/?o=123#job/42/run/9001"
EXCERPT = ("java.sql.SQLException: login failed for jdbc:postgresql://etl:hunter2pw@db.internal:5432/sales\n"
           "  token used: dapi0123456789abcdef0123456789abcdef\n"
           "  at org.apache.spark.sql.execution.datasources.jdbc.JdbcUtils")


def failure_mail():
    return format_failure_email("P1", "Nightly sales", RUN_URL, "credentials", EXCERPT, "notify owner",
                                "the database refused the login: a person must rotate the secret",
                                ["repair (same settings): failed again"])


def everything_said(caplog, *extra) -> str:
    """All text that could leak: log records (message and args) plus `extra`."""
    parts = [r.getMessage() for r in caplog.records] + [str(x) for x in extra]
    return "\n".join(parts)


def test_format_failure_email_masks_the_excerpt():
    subject, body = failure_mail()
    assert subject == "[P1] Nightly sales: notify owner"
    assert RUN_URL in body and "Category:  credentials" in body
    assert "hunter2pw" not in body and "dapi0123456789abcdef" not in body
    assert "postgresql://etl:***@db.internal:5432/sales" in body
    assert "Decision:  notify owner" in body and "rotate the secret" in body
    assert "  - repair (same settings): failed again" in body
    assert "nothing yet" in format_failure_email("P3", "j", RUN_URL, "c", "", "d", "w", [])[1]


def test_plain_smtp_delivery(plain_smtp, caplog):
    caplog.set_level(logging.DEBUG, logger="job_agent")
    notifier = Notifier(SmtpSettings(host="127.0.0.1", port=plain_smtp.port, mail_from="Job Agent <agent@example.com>"))
    subject, body = failure_mail()
    result = notifier.send(["owner@example.com", "oncall@example.com"], subject, body,
                           idempotency_key="notify:T-0007:9001:0")
    assert result == {"delivered": "smtp", "to": ["owner@example.com", "oncall@example.com"],
                      "message_id": message_id("notify:T-0007:9001:0", "agent@example.com"), "path": None}
    assert result["message_id"].endswith("@example.com>")
    (msg,) = plain_smtp.messages
    assert msg["Subject"] == "[P1] Nightly sales: notify owner"
    assert msg["Message-ID"] == result["message_id"]
    assert msg.envelope_to == ["owner@example.com", "oncall@example.com"] and msg.envelope_from == "agent@example.com"
    text = msg.get_content()
    assert RUN_URL in text and "java.sql.SQLException" in text
    assert "hunter2pw" not in text and "dapi0123456789abcdef" not in text
    # the same key gives the same Message-ID on a retry
    notifier.send(["owner@example.com"], subject, body, idempotency_key="notify:T-0007:9001:0")
    assert plain_smtp.messages[1]["Message-ID"] == msg["Message-ID"]
    assert "notification sent" in caplog.text


def test_subject_and_body_are_masked_even_when_not_formatted(plain_smtp):
    notifier = Notifier(SmtpSettings(host="127.0.0.1", port=plain_smtp.port))
    notifier.send(["a@example.com"], "token dapi0123456789abcdef0123456789abcdef\nleaked",
                  "password=topsecretvalue in the log", idempotency_key="k1")
    (msg,) = plain_smtp.messages
    assert "dapi0123" not in msg["Subject"] and "\n" not in msg["Subject"]
    assert "topsecretvalue" not in msg.get_content()


def test_starttls_and_login(tls_auth_smtp, caplog):
    caplog.set_level(logging.DEBUG)
    settings = SmtpSettings(host="127.0.0.1", port=tls_auth_smtp.port, user=USER, password=PASSWORD, starttls=True,
                            mail_from="agent@example.com", ca_file=tls_auth_smtp.ca_file)
    assert PASSWORD not in repr(settings)
    result = Notifier(settings).send(["owner@example.com"], *failure_mail(), idempotency_key="notify:tls")
    assert result["delivered"] == "smtp"
    assert tls_auth_smtp.logins == [USER]
    assert tls_auth_smtp.messages[0]["Subject"] == "[P1] Nightly sales: notify owner"
    assert PASSWORD not in everything_said(caplog, result)


def test_untrusted_certificate_is_a_permanent_tls_error(tls_auth_smtp, caplog):
    settings = SmtpSettings(host="127.0.0.1", port=tls_auth_smtp.port, user=USER, password=PASSWORD, starttls=True)
    with pytest.raises(NotificationError) as caught:
        Notifier(settings).send(["owner@example.com"], "s", "b", idempotency_key="k")
    assert caught.value.kind == "tls" and not is_transient(caught.value)
    assert tls_auth_smtp.messages == []


def test_wrong_password_is_permanent_and_never_shown(plain_auth_smtp, caplog):
    caplog.set_level(logging.DEBUG, logger="job_agent")
    wrong = "Wr0ng-Pa55word-xyz"
    settings = SmtpSettings(host="127.0.0.1", port=plain_auth_smtp.port, user=USER, password=wrong)
    with pytest.raises(NotificationError) as caught:
        Notifier(settings).send(["owner@example.com"], "s", "b", idempotency_key="k")
    error = caught.value
    assert error.kind == "auth" and not isinstance(error, ConnectionError) and not is_transient(error)
    assert "login refused" in str(error) and USER in str(error)
    assert error.__cause__ is None and error.__context__ is None
    said = everything_said(caplog, error, repr(error), "".join(traceback.format_exception(error)))
    assert wrong not in said and PASSWORD not in said
    assert plain_auth_smtp.messages == []


def test_right_password_over_plain_auth(plain_auth_smtp, caplog):
    caplog.set_level(logging.DEBUG, logger="job_agent")
    settings = SmtpSettings(host="127.0.0.1", port=plain_auth_smtp.port, user=USER, password=PASSWORD)
    result = Notifier(settings).send(["owner@example.com"], "s", "b", idempotency_key="k")
    assert result["delivered"] == "smtp" and plain_auth_smtp.logins == [USER]
    assert PASSWORD not in everything_said(caplog, result)


def test_connection_refused_is_transient():
    settings = SmtpSettings(host="127.0.0.1", port=free_port(), user=USER, password=PASSWORD, timeout_seconds=2)
    with pytest.raises(SmtpTransientError) as caught:
        Notifier(settings).send(["owner@example.com"], "s", "b", idempotency_key="k")
    error = caught.value
    assert isinstance(error, ConnectionError) and isinstance(error, NotificationError)
    assert is_transient(error) and "cannot connect" in str(error)
    assert PASSWORD not in str(error) + repr(error) + "".join(traceback.format_exception(error))


def test_a_silent_server_times_out_as_transient():
    with socket.socket() as listener:  # accepts TCP connections (backlog) but never greets
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        settings = SmtpSettings(host="127.0.0.1", port=listener.getsockname()[1], timeout_seconds=0.5)
        with pytest.raises(SmtpTransientError, match="timed out after 0.5 s") as caught:
            Notifier(settings).send(["owner@example.com"], "s", "b", idempotency_key="k")
    assert is_transient(caught.value)


def test_4xx_reply_is_transient_and_5xx_permanent(plain_smtp):
    notifier = Notifier(SmtpSettings(host="127.0.0.1", port=plain_smtp.port))
    plain_smtp.refuse_data_with = "451 4.3.0 Mail server temporarily rejected message"
    with pytest.raises(SmtpTransientError, match="451"):
        notifier.send(["owner@example.com"], "s", "b", idempotency_key="k")
    plain_smtp.refuse_data_with = "554 5.7.1 Message rejected"
    with pytest.raises(NotificationError, match="554") as caught:
        notifier.send(["owner@example.com"], "s", "b", idempotency_key="k")
    assert not is_transient(caught.value)


def test_bad_recipients_are_refused_before_connecting():
    notifier = Notifier(SmtpSettings(host="127.0.0.1", port=free_port()))
    for bad in ([], ["not-an-address"], ["a@example.com\nBcc: evil@example.com"]):
        with pytest.raises(NotificationError) as caught:
            notifier.send(bad, "s", "b", idempotency_key="k")
        assert caught.value.kind == "address"


def test_file_fallback_without_smtp_host(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="job_agent")
    outbox = tmp_path / ".job-agent" / "outbox"
    notifier = Notifier(SmtpSettings.from_env({}), fallback_dir=outbox)
    subject, body = failure_mail()
    result = notifier.send(["owner@example.com"], subject, body, idempotency_key="remediate:ws:9001:0/notify")
    assert result["delivered"] == "file" and result["to"] == ["owner@example.com"]
    path = outbox / result["path"].rsplit("/", 1)[1]
    assert path.exists() and path.suffix == ".eml" and list(outbox.iterdir()) == [path]
    msg = message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["Subject"] == subject and msg["Message-ID"] == result["message_id"]
    assert RUN_URL in msg.get_content() and "hunter2pw" not in msg.get_content()
    assert "no SMTP server configured" in caplog.text
    again = notifier.send(["owner@example.com"], subject, body, idempotency_key="remediate:ws:9001:0/notify")
    assert again["duplicate"] is True and again["path"] == result["path"] and len(list(outbox.iterdir())) == 1


def test_no_host_and_no_fallback_is_a_config_error():
    with pytest.raises(NotificationError, match="no SMTP server configured") as caught:
        Notifier(SmtpSettings()).send(["owner@example.com"], "s", "b", idempotency_key="k")
    assert caught.value.kind == "config"


def test_settings_from_env():
    env = {"JOB_AGENT_SMTP_HOST": "smtp.example.com", "JOB_AGENT_SMTP_USER": USER,
           "JOB_AGENT_SMTP_PASSWORD": PASSWORD, "JOB_AGENT_MAIL_FROM": "Agent <agent@example.com>"}
    s = SmtpSettings.from_env(env)
    assert (s.host, s.user, s.password, s.starttls, s.effective_port) == ("smtp.example.com", USER, PASSWORD, True, 587)
    s = SmtpSettings.from_env(env | {"JOB_AGENT_SMTP_STARTTLS": "false", "JOB_AGENT_SMTP_PORT": "2525"})
    assert (s.starttls, s.effective_port) == (False, 2525)
    assert SmtpSettings.from_env({"JOB_AGENT_SMTP_HOST": "relay"}).effective_port == 25
    assert SmtpSettings.from_env({}).host is None
    for bad in ({"JOB_AGENT_SMTP_PORT": "smtp"}, {"JOB_AGENT_SMTP_STARTTLS": "maybe"},
                {"JOB_AGENT_MAIL_FROM": "nobody"}, {"JOB_AGENT_SMTP_USER": USER}):
        with pytest.raises(NotificationError) as caught:
            SmtpSettings.from_env(bad)
        assert caught.value.kind == "config" and PASSWORD not in str(caught.value)

"""Helpers of the notifier tests: a real aiosmtpd SMTP server on 127.0.0.1 (plain, or with
AUTH behind STARTTLS using a self-signed certificate made with `cryptography`) and a free port.

`smtp_server(...)` yields a `Mailbox`: `.port`, `.messages` (parsed `email.message.Message`
objects with `.envelope_to`), `.logins` (user names that logged in).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path


USER = "mailer@example.com"
PASSWORD = "S3cr3t-Smtp-Pa55word!"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Mailbox:
    port: int
    messages: list = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    refuse_data_with: str | None = None
    ca_file: str | None = None


class _Handler:
    def __init__(self, box: Mailbox) -> None:
        self.box = box

    async def handle_DATA(self, server, session, envelope):
        if self.box.refuse_data_with:
            return self.box.refuse_data_with
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        msg.envelope_to = list(envelope.rcpt_tos)
        msg.envelope_from = envelope.mail_from
        self.box.messages.append(msg)
        return "250 Message accepted for delivery"


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """(certificate PEM, key PEM) for 127.0.0.1 and localhost, valid for a day."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@contextmanager
def smtp_server(*, tls_dir: Path | None = None, auth: bool = False):
    """A running aiosmtpd server; with `tls_dir` it offers STARTTLS (required) using a fresh
    self-signed certificate written there; with `auth` it accepts only USER / PASSWORD."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

    box = Mailbox(port=free_port())
    kwargs: dict = {}
    if tls_dir is not None:
        cert, key = self_signed_cert(tls_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        kwargs.update(tls_context=context, require_starttls=True)
        box.ca_file = str(cert)
    if auth:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
            if ok:
                box.logins.append(auth_data.login.decode())
            return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd answers 535 itself

        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls_dir is not None)
    controller = Controller(_Handler(box), hostname="127.0.0.1", port=box.port, **kwargs)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()

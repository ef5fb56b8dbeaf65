"""Real receivers for what the desk sends: an SMTP server (aiosmtpd) and a Teams-like webhook
(an HTTP server), both in the test process on loopback. Tests assert on what arrived.

    def test_x(smtp_server, webhook):
        ...  # point MCA_SMTP_HOST/PORT at smtp_server, MCA_TEAMS_WEBHOOK_URL at webhook.url
        assert smtp_server.messages[0]["Subject"] == ...
        assert webhook.cards[0]["body"][0]["text"] == ...
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One message as the SMTP server received it."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    def __getitem__(self, header: str) -> Any:
        return self.message[header]

    def part(self, subtype: str) -> str:
        """The decoded text of the first text/<subtype> part."""
        for part in self.message.walk():
            if part.get_content_type() == f"text/{subtype}":
                return str(part.get_content())
        raise AssertionError(f"no text/{subtype} part in {self.message['Subject']!r}")

    @property
    def text(self) -> str:
        return self.part("plain")

    @property
    def html(self) -> str:
        return self.part("html")

    def images(self) -> list[bytes]:
        return [
            part.get_payload(decode=True)
            for part in self.message.walk()
            if part.get_content_maintype() == "image"
        ]


class _Handler:
    def __init__(self, box: SmtpServer) -> None:
        self.box = box

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.box.refuse_with:
            return self.box.refuse_with
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session: Session, envelope: Envelope):
        if self.box.refuse_with:
            return self.box.refuse_with
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.box.lock:
            self.box.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed)
            )
        return "250 Message accepted for delivery"


@dataclass
class SmtpServer:
    """A real SMTP server on loopback. `refuse_with` (e.g. "451 try later") makes it refuse;
    `stop()` / `start()` take it away and bring it back on the same port; with `users` it
    requires AUTH LOGIN/PLAIN (over plain text: a test server only)."""

    port: int = field(default_factory=free_port)
    users: dict[str, str] | None = None
    refuse_with: str | None = None
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _controller: Controller | None = None

    host = "127.0.0.1"

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {}
        if self.users is not None:
            kwargs = {
                "authenticator": self._authenticate,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.users is not None:
            user = auth_data.login.decode()
            if self.users.get(user) == auth_data.password.decode():
                self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    @property
    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)

    def env(self) -> dict[str, str]:
        """The desk's settings that point at this server (no TLS: loopback only)."""
        return {
            "MCA_SMTP_HOST": self.host,
            "MCA_SMTP_PORT": str(self.port),
            "MCA_SMTP_STARTTLS": "false",
            "MCA_ALERT_FROM": "mca-desk@contoso.example",
        }


class _WebhookHandler(BaseHTTPRequestHandler):
    server: _WebhookHTTPServer

    def do_POST(self) -> None:
        box = self.server.box
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        with box.lock:
            status, extra = box.fail_with.pop(0) if box.fail_with else (box.status, {})
            box.requests.append(
                {"path": self.path, "headers": dict(self.headers), "raw": raw, "status": status}
            )
        self.send_response(status)
        for name, value in extra.items():
            self.send_header(name, value)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"1" if status < 300 else b"error")

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return


class _WebhookHTTPServer(ThreadingHTTPServer):
    box: Webhook


@dataclass
class Webhook:
    """A Teams-like webhook on loopback: records every POST; `status` answers them all,
    `fail_with` [(status, headers), ...] answers the next ones first."""

    status: int = 200
    fail_with: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = field(default_factory=free_port)
    _server: _WebhookHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/webhookb2/abc/IncomingWebhook/secret-signature"

    def start(self) -> Webhook:
        self._server = _WebhookHTTPServer(("127.0.0.1", self.port), _WebhookHandler)
        self._server.box = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def cards(self) -> list[dict[str, Any]]:
        """The Adaptive Cards delivered (answered 2xx), in order (the first attachment each);
        `requests` holds every attempt."""
        with self.lock:
            bodies = [json.loads(r["raw"]) for r in self.requests if r["status"] < 300]
        return [b["attachments"][0]["content"] for b in bodies]


@pytest.fixture
def smtp_server():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def webhook():
    hook = Webhook().start()
    yield hook
    hook.stop()

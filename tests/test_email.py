"""Email delivery over real TLS: a real aiosmtpd server with a certificate from a test CA.

The client side is monitor's own send_email, trusting the test CA through SSL_CERT_FILE (which
OpenSSL's default verify paths read), exactly as a user with a private CA would.
"""

from __future__ import annotations

import email.policy
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from conftest import free_port

from monitor.config import ChannelConfig
from monitor.digest import render
from monitor.errors import DeliveryError
from monitor.notify import send_email
from monitor.records import Digest, DigestArticle, DigestStory
from monitor.schedule import parse_schedule

WHEN = datetime(2025, 9, 19, 9, tzinfo=UTC)
DIGEST = Digest(
    "20250919T090000Z-mail-0a1b2c3d",
    "mail",
    WHEN,
    (
        DigestStory(
            1,
            "OpenAI signs deal with Luxshare to build its first consumer AI device",
            "https://techwire.example/a",
            ("Luxshare", "OpenAI"),
            1.0,
            ("watched: Luxshare, OpenAI",),
            (DigestArticle("立讯精密获OpenAI订单", "https://zg.example/a", "中国电子观察", WHEN),),
        ),
    ),
)


@dataclass
class TlsSmtp:
    port: int
    messages: list[Any]
    logins: list[tuple[bytes, bytes]]


@pytest.fixture
def ca(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> trustme.CA:
    authority = trustme.CA()
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return authority


def _server(ca: trustme.CA, *, implicit_tls: bool) -> tuple[Controller, TlsSmtp]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    state = TlsSmtp(free_port(), [], [])

    class Keep:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            state.messages.append(envelope)
            return "250 OK"

    def authenticator(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        state.logins.append((data.login, data.password))
        # handled=False: aiosmtpd answers a failure with 535 itself.
        return AuthResult(success=data.password == b"s3cret", handled=False)

    options: dict[str, Any] = {"authenticator": authenticator, "auth_required": True}
    if implicit_tls:
        # aiosmtpd only counts STARTTLS as TLS for auth_require_tls (and warns when AUTH is
        # required without it); this connection is TLS from the first byte, so offer AUTH
        # without requiring it. The client logs in all the same.
        options.update(ssl_context=context, auth_require_tls=False, auth_required=False)
    else:
        options.update(tls_context=context, require_starttls=True)
    controller = Controller(Keep(), hostname="127.0.0.1", port=state.port, **options)
    return controller, state


@pytest.fixture
def starttls_server(ca: trustme.CA) -> Iterator[TlsSmtp]:
    controller, state = _server(ca, implicit_tls=False)
    controller.start()
    yield state
    controller.stop()


@pytest.fixture
def ssl_server(ca: trustme.CA) -> Iterator[TlsSmtp]:
    controller, state = _server(ca, implicit_tls=True)
    controller.start()
    yield state
    controller.stop()


def channel(port: int, tls: str, password_env: str | None = "MONITOR_TEST_SMTP") -> ChannelConfig:
    return ChannelConfig(
        name="mail",
        type="email",
        schedule=parse_schedule("immediate"),
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls=tls,
        username="alerts@example.com",
        password_env=password_env,
        from_addr="monitor <alerts@example.com>",
        to=("analyst@example.com",),
    )


def test_starttls_with_login_delivers_the_digest(
    starttls_server: TlsSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_TEST_SMTP", "s3cret")

    send_email(channel(starttls_server.port, "starttls"), DIGEST, render(DIGEST))

    assert starttls_server.logins == [(b"alerts@example.com", b"s3cret")]
    [envelope] = starttls_server.messages
    assert envelope.rcpt_tos == ["analyst@example.com"]
    message = message_from_bytes(envelope.content, policy=email.policy.default)
    assert message["Message-ID"] == f"<{DIGEST.digest_id}@example.com>"
    assert "立讯精密获OpenAI订单" in message.get_body(("plain",)).get_content()


def test_implicit_tls_delivers_the_digest(
    ssl_server: TlsSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_TEST_SMTP", "s3cret")

    send_email(channel(ssl_server.port, "ssl"), DIGEST, render(DIGEST))

    assert ssl_server.logins == [(b"alerts@example.com", b"s3cret")]
    assert len(ssl_server.messages) == 1


def test_wrong_password_is_a_permanent_failure(
    starttls_server: TlsSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONITOR_TEST_SMTP", "wrong")

    with pytest.raises(DeliveryError) as raised:
        send_email(channel(starttls_server.port, "starttls"), DIGEST, render(DIGEST))

    assert raised.value.temporary is False
    assert "535" in str(raised.value) and "wrong" not in str(raised.value)
    assert starttls_server.messages == []


def test_unset_password_variable_is_named(
    starttls_server: TlsSmtp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MONITOR_TEST_SMTP", raising=False)

    with pytest.raises(DeliveryError, match="MONITOR_TEST_SMTP") as raised:
        send_email(channel(starttls_server.port, "starttls"), DIGEST, render(DIGEST))

    assert raised.value.temporary is False


def test_untrusted_certificate_is_refused(
    starttls_server: TlsSmtp, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    monkeypatch.setenv("SSL_CERT_FILE", str(other))
    monkeypatch.setenv("MONITOR_TEST_SMTP", "s3cret")

    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        send_email(channel(starttls_server.port, "starttls"), DIGEST, render(DIGEST))

    assert starttls_server.logins == []

"""Notify stage: hand a rendered digest to a channel (file, webhook or email).

Each sender either returns (the channel accepted the digest) or raises DeliveryError, marked
temporary (worth retrying: connection errors, timeouts, HTTP 408/429/5xx, SMTP 4xx) or permanent.
Secrets (SMTP password, webhook secret, the path and query of a webhook URL, where services such
as Slack put their token) never reach an error message or a log line: see ``redact_url`` and
``scrub``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
import time
from collections.abc import Iterable
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from monitor.chat import discord, slack
from monitor.config import ChannelConfig
from monitor.digest import Rendered
from monitor.errors import DeliveryError
from monitor.fetch import user_agent
from monitor.records import Digest

log = logging.getLogger("monitor.notify")

TIMEOUT = 30.0
FILE_SENDER = "monitor <monitor@localhost>"  # the From of a file channel's .eml
_SMTP_DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}


def send(
    channel: ChannelConfig, digest: Digest, rendered: Rendered, *, http: httpx.Client | None = None
) -> None:
    if channel.type == "file":
        write_files(channel, digest, rendered)
    elif channel.type == "webhook":
        post_webhook(channel, digest, rendered, http=http)
    elif channel.type == "email":
        send_email(channel, digest, rendered)
    else:  # config validation makes this unreachable
        raise DeliveryError(channel.name, f"unknown channel type {channel.type!r}", temporary=False)


def write_files(channel: ChannelConfig, digest: Digest, rendered: Rendered) -> list[Path]:
    """Write <digest_id>.txt, .html, .json and .eml (the message an email channel would send)
    into the channel's folder, each atomically."""
    assert channel.path is not None
    folder = Path(channel.path)
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for suffix, content in (
            (".txt", rendered.text.encode()),
            (".html", rendered.html.encode()),
            (".json", (json.dumps(rendered.payload, ensure_ascii=False, indent=2) + "\n").encode()),
            (".eml", build_email(channel, digest, rendered).as_bytes()),
        ):
            target = folder / f"{digest.digest_id}{suffix}"
            partial = target.with_name(target.name + ".partial")
            partial.write_bytes(content)
            partial.replace(target)
            written.append(target)
    except OSError as e:
        raise DeliveryError(channel.name, f"cannot write to {folder}: {e}") from e
    return written


def redact_url(url: str) -> str:
    """A URL fit for logs: scheme, host and port only. Webhook services put their token in the
    path (Slack, Discord) or the query, and userinfo may hold a password."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    hidden = "/…" if parts.path.strip("/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{hidden}"


def _secrets(channel: ChannelConfig) -> Iterable[str]:
    if channel.url:
        parts = urlsplit(channel.url)
        yield from (channel.url, parts.path, parts.query, parts.password or "")
    if channel.secret:
        yield channel.secret
    for name in (channel.secret_env, channel.password_env):
        if name and os.environ.get(name):
            yield os.environ[name]


def scrub(channel: ChannelConfig, message: str) -> str:
    """The message with every secret of the channel replaced by ***."""
    for secret in sorted(_secrets(channel), key=len, reverse=True):
        if len(secret) > 1 and secret != "/":
            message = message.replace(secret, "***")
    return message


class _RedactWebhookUrls(logging.Filter):
    """httpx logs each request's full URL at INFO (shown with -vv): hide the webhook tokens."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.urls and isinstance(record.args, tuple):
            record.args = tuple(
                redact_url(str(a)) if str(a) in self.urls else a for a in record.args
            )
        return True


_httpx_filter = _RedactWebhookUrls()
logging.getLogger("httpx").addFilter(_httpx_filter)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Monitor-Signature value: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def webhook_body(channel: ChannelConfig, rendered: Rendered) -> dict[str, Any]:
    if channel.format == "slack":
        return slack(rendered.digest)
    if channel.format == "discord":
        return discord(rendered.digest)
    return rendered.payload


def _webhook_secret(channel: ChannelConfig) -> str | None:
    if channel.secret_env:
        secret = os.environ.get(channel.secret_env)
        if not secret:
            raise DeliveryError(
                channel.name,
                f"environment variable {channel.secret_env} (secret_env) is not set",
                temporary=False,
            )
        return secret
    return channel.secret


def post_webhook(
    channel: ChannelConfig,
    digest: Digest,
    rendered: Rendered,
    *,
    http: httpx.Client | None = None,
    clock: Any = time.time,
) -> None:
    assert channel.url is not None
    body = json.dumps(webhook_body(channel, rendered), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": digest.digest_id,
        "User-Agent": user_agent(None),
    }
    secret = _webhook_secret(channel)
    if secret:
        headers["X-Monitor-Signature"] = signature(secret, int(clock()), body)
    _httpx_filter.urls.add(channel.url)
    client = http or httpx.Client(timeout=TIMEOUT)
    try:
        response = client.post(channel.url, content=body, headers=headers)
    except httpx.HTTPError as e:
        raise DeliveryError(channel.name, scrub(channel, f"{type(e).__name__}: {e}")) from e
    finally:
        if http is None:
            client.close()
    if response.is_success:
        return
    status = response.status_code
    temporary = status in (408, 429) or status >= 500
    retry_after = response.headers.get("retry-after", "").strip()
    raise DeliveryError(
        channel.name,
        f"webhook {redact_url(channel.url)} answered HTTP {status}",
        temporary=temporary,
        retry_after=float(retry_after) if retry_after.isdigit() else None,
    )


def build_email(channel: ChannelConfig, digest: Digest, rendered: Rendered) -> EmailMessage:
    """The message an email channel sends; a file channel writes the same one as .eml."""
    sender = channel.from_addr or FILE_SENDER
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = sender
    message["To"] = ", ".join(channel.to) or "undisclosed-recipients:;"
    message["Date"] = formatdate(digest.created.timestamp(), usegmt=True)
    # Derived from the digest id, so a resend after a crash is recognisable as the same message.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "monitor.invalid"
    message["Message-ID"] = f"<{digest.digest_id}@{domain}>"
    message["X-Monitor-Digest"] = digest.digest_id
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def send_email(channel: ChannelConfig, digest: Digest, rendered: Rendered) -> None:
    assert channel.smtp_host is not None
    message = build_email(channel, digest, rendered)
    port = channel.smtp_port or _SMTP_DEFAULT_PORTS[channel.smtp_tls]
    password = None
    if channel.password_env:
        password = os.environ.get(channel.password_env)
        if password is None:
            raise DeliveryError(
                channel.name,
                f"environment variable {channel.password_env} (password_env) is not set",
                temporary=False,
            )
    try:
        smtp: smtplib.SMTP
        if channel.smtp_tls == "ssl":
            smtp = smtplib.SMTP_SSL(
                channel.smtp_host, port, timeout=TIMEOUT, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(channel.smtp_host, port, timeout=TIMEOUT)
        with smtp:
            if channel.smtp_tls == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if channel.username and password is not None:
                if channel.smtp_tls == "none":
                    log.warning(
                        "email channel=%s logs in over an unencrypted connection (smtp_tls = none)",
                        channel.name,
                    )
                smtp.login(channel.username, password)
            refused = smtp.send_message(message)
        if refused:  # some recipients took it: resending would repeat it to them
            log.warning("email status=partial channel=%s refused=%s", channel.name, sorted(refused))
    except smtplib.SMTPResponseException as e:
        detail = (
            e.smtp_error.decode(errors="replace")
            if isinstance(e.smtp_error, bytes)
            else e.smtp_error
        )
        raise DeliveryError(
            channel.name,
            scrub(channel, f"SMTP {e.smtp_code} {detail}"),
            temporary=400 <= e.smtp_code < 500,
        ) from e
    except smtplib.SMTPRecipientsRefused as e:
        # Every recipient refused: temporary only when every refusal was a 4xx.
        codes = [code for code, _ in e.recipients.values()]
        raise DeliveryError(
            channel.name,
            scrub(channel, f"recipients refused: {e.recipients}"),
            temporary=all(400 <= c < 500 for c in codes),
        ) from e
    except (smtplib.SMTPException, OSError) as e:
        raise DeliveryError(channel.name, scrub(channel, f"{type(e).__name__}: {e}")) from e

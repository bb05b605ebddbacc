"""Notify stage: hand a rendered digest to a channel (file, webhook or email).

Each sender either returns (the channel accepted the digest) or raises DeliveryError, marked
temporary (worth retrying: connection errors, timeouts, HTTP 408/429/5xx, SMTP 4xx) or permanent.
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

import httpx

from monitor.config import ChannelConfig
from monitor.digest import Rendered
from monitor.errors import DeliveryError
from monitor.fetch import user_agent
from monitor.records import Digest

TIMEOUT = 30.0
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
    """Write <digest_id>.txt, .html and .json into the channel's folder, each atomically."""
    assert channel.path is not None
    folder = Path(channel.path)
    written = []
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for suffix, text in (
            (".txt", rendered.text),
            (".html", rendered.html),
            (".json", json.dumps(rendered.payload, ensure_ascii=False, indent=2) + "\n"),
        ):
            target = folder / f"{digest.digest_id}{suffix}"
            partial = target.with_name(target.name + ".partial")
            partial.write_text(text, encoding="utf-8")
            partial.replace(target)
            written.append(target)
    except OSError as e:
        raise DeliveryError(channel.name, f"cannot write to {folder}: {e}") from e
    return written


def post_webhook(
    channel: ChannelConfig, digest: Digest, rendered: Rendered, *, http: httpx.Client | None = None
) -> None:
    assert channel.url is not None
    body = json.dumps(rendered.payload, ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "Idempotency-Key": digest.digest_id,
        "User-Agent": user_agent(None),
    }
    client = http or httpx.Client(timeout=TIMEOUT)
    try:
        response = client.post(channel.url, content=body, headers=headers)
    except httpx.HTTPError as e:
        raise DeliveryError(channel.name, f"{type(e).__name__}: {e}") from e
    finally:
        if http is None:
            client.close()
    if response.is_success:
        return
    status = response.status_code
    temporary = status in (408, 429) or status >= 500
    raise DeliveryError(channel.name, f"webhook answered HTTP {status}", temporary=temporary)


def build_email(channel: ChannelConfig, digest: Digest, rendered: Rendered) -> EmailMessage:
    assert channel.from_addr is not None
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = channel.from_addr
    message["To"] = ", ".join(channel.to)
    message["Date"] = formatdate(digest.created.timestamp(), usegmt=True)
    # Derived from the digest id, so a resend after a crash is recognisable as the same message.
    domain = channel.from_addr.rpartition("@")[2] or "monitor.invalid"
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
                smtp.login(channel.username, password)
            smtp.send_message(message)
    except smtplib.SMTPResponseException as e:
        detail = (
            e.smtp_error.decode(errors="replace")
            if isinstance(e.smtp_error, bytes)
            else e.smtp_error
        )
        raise DeliveryError(
            channel.name, f"SMTP {e.smtp_code} {detail}", temporary=400 <= e.smtp_code < 500
        ) from e
    except smtplib.SMTPRecipientsRefused as e:
        raise DeliveryError(
            channel.name, f"recipients refused: {e.recipients}", temporary=False
        ) from e
    except (smtplib.SMTPException, OSError) as e:
        raise DeliveryError(channel.name, f"{type(e).__name__}: {e}") from e

"""Integration: digests delivered to a real webhook receiver, a real SMTP server and a folder,
including a receiver or SMTP server that is down, refuses, or rejects for good."""

from __future__ import annotations

import email.policy
import html
import json
import sqlite3
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from conftest import (
    FeedServer,
    Receiver,
    SmtpServer,
    expected_stories,
    free_port,
    monitor,
    webhook_channel,
    write_config,
)

from monitor.timeutil import utcnow

LUXSHARE_FEEDS = ("techwire.xml", "asia-supply-daily.rdf", "zhongguo-dianzi.xml")


def email_channel(host: str, port: int, *to: str) -> str:
    return f"""
[[channels]]
name = "mail"
type = "email"
smtp_host = "{host}"
smtp_port = {port}
smtp_tls = "none"
from = "monitor@example.com"
to = {json.dumps(list(to))}
"""


def config_with(tmp_path: Path, feed_server: FeedServer, channels: str) -> Path:
    urls = [feed_server.feed_url(n) for n in LUXSHARE_FEEDS]
    return write_config(tmp_path / "monitor.toml", urls, channels)


def test_webhook_answering_500_then_200_gets_the_same_digest_twice_within_one_run(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    config = config_with(tmp_path, feed_server, webhook_channel(receiver))

    monitor("--config", str(config), "run", "--once")

    first, second = receiver.wait_for(2)
    assert second.headers["idempotency-key"] == first.headers["idempotency-key"]
    assert second.body == first.body
    stories = json.loads(monitor("--config", str(config), "stories", "--format", "json").output)
    assert stories and all(s["alerted"] is True for s in stories)
    monitor("--config", str(config), "run", "--once")
    assert len(receiver.requests) == 2


def test_webhook_down_backs_off_and_retry_resends_the_same_digest(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    receiver.statuses = [503, 503, 503]
    config = config_with(tmp_path, feed_server, webhook_channel(receiver))
    monitor("--config", str(config), "run", "--once")
    tries = receiver.wait_for(3)  # the first attempt and two quick retries, all refused
    assert len({t.headers["idempotency-key"] for t in tries}) == 1

    monitor("--config", str(config), "run", "--once")  # backing off: nothing is sent
    assert len(receiver.requests) == 3
    [status] = json.loads(monitor("--config", str(config), "deliveries", "--format", "json").output)
    n = len(expected_stories(LUXSHARE_FEEDS))
    assert (status["channel"], status["pending"], status["sending"], status["sent"]) == (
        "team",
        0,
        n,
        0,
    )
    assert status["next_attempt"] > utcnow().isoformat()
    assert status["last_error"].endswith("answered HTTP 503")
    stories = json.loads(monitor("--config", str(config), "stories", "--format", "json").output)
    assert all(s["alerted"] is False for s in stories)

    retried = monitor("--config", str(config), "deliveries", "retry")
    monitor("--config", str(config), "run", "--once")

    assert retried.output.startswith("re-queued 1 digest\n")
    resent = receiver.wait_for(4)[3]
    assert resent.headers["idempotency-key"] == tries[0].headers["idempotency-key"]
    assert resent.body == tries[0].body
    [status] = json.loads(monitor("--config", str(config), "deliveries", "--format", "json").output)
    assert (status["pending"], status["sending"], status["sent"], status["failed"]) == (0, 0, n, 0)


def test_webhook_rejecting_the_payload_marks_the_digest_failed_until_retried(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    receiver.statuses = [400]
    config = config_with(tmp_path, feed_server, webhook_channel(receiver))
    monitor("--config", str(config), "run", "--once")
    monitor("--config", str(config), "run", "--once")

    assert len(receiver.requests) == 1  # permanent: not retried on its own
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        [(digest_id, status, error)] = conn.execute(
            "select id, status, last_error from digests"
        ).fetchall()
    assert status == "failed"
    assert error == f"channel 'team': webhook {receiver.url}/… answered HTTP 400"
    listed = json.loads(
        monitor("--config", str(config), "deliveries", "--digests", "--format", "json").output
    )
    assert [(d["id"], d["status"], d["attempts"]) for d in listed] == [(digest_id, "failed", 1)]

    assert monitor("--config", str(config), "deliveries", "retry", digest_id).exit_code == 0
    sent = monitor("--config", str(config), "digest", "--send")

    assert sent.exit_code == 0, sent.output
    assert receiver.wait_for(2)[1].headers["idempotency-key"] == digest_id
    unknown = monitor("--config", str(config), "deliveries", "retry", "no-such-digest")
    assert unknown.exit_code == 1 and "no failed or pending digest" in unknown.output


def _parts(message: Message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if not part.is_multipart()
    }


def test_email_digest_arrives_as_multipart_text_and_html(
    tmp_path: Path, feed_server: FeedServer, smtp_server: SmtpServer
) -> None:
    channel = email_channel(
        smtp_server.host, smtp_server.port, "analyst@example.com", "desk@example.com"
    )
    config = config_with(tmp_path, feed_server, channel)

    result = monitor("--config", str(config), "run", "--once")

    assert result.exit_code == 0, result.output
    [received] = smtp_server.messages
    message = message_from_bytes(received.as_bytes(), policy=email.policy.default)
    digest_id = message["X-Monitor-Digest"]
    assert message["Message-ID"] == f"<{digest_id}@example.com>"
    assert message["To"] == "analyst@example.com, desk@example.com"
    stories = expected_stories(LUXSHARE_FEEDS)
    assert message["Subject"].startswith(f"[monitor] {len(stories)} new stories: ")
    parts = _parts(message)
    assert set(parts) == {"text/plain", "text/html"}
    for titles in stories.values():  # every outlet's copy is listed in both parts
        assert all(t in parts["text/plain"] for t in titles)
        assert all(html.escape(t, quote=False) in parts["text/html"] for t in titles)
    assert "立讯精密" in parts["text/plain"] and "立讯精密" in parts["text/html"]


def test_smtp_server_down_keeps_the_digest_for_later(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # Nothing listens on this port: the connection is refused.
    channel = email_channel("127.0.0.1", free_port(), "analyst@example.com")
    config = config_with(tmp_path, feed_server, channel)

    result = monitor("--config", str(config), "run", "--once")

    assert result.exit_code == 0
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        [(status, error)] = conn.execute("select status, last_error from digests").fetchall()
        pending = conn.execute(
            "select count(*) from deliveries where status = 'pending'"
        ).fetchone()
    assert status == "pending" and "ConnectionRefusedError" in error
    assert pending[0] == len(expected_stories(LUXSHARE_FEEDS))


def test_file_channel_writes_text_html_and_json(tmp_path: Path, feed_server: FeedServer) -> None:
    config = config_with(
        tmp_path,
        feed_server,
        f"""
[[channels]]
name = "inbox"
type = "file"
path = "{tmp_path / "digests"}"
""",
    )

    monitor("--config", str(config), "run", "--once")

    files = sorted(p.name for p in (tmp_path / "digests").iterdir())
    [digest_id] = {name.rsplit(".", 1)[0] for name in files}
    assert files == [f"{digest_id}.{s}" for s in ("eml", "html", "json", "txt")]
    # The .eml is the very message an email channel would send, parts equal to the files.
    eml = (tmp_path / "digests" / f"{digest_id}.eml").read_bytes()
    message = message_from_bytes(eml, policy=email.policy.default)
    assert message["Message-ID"] == f"<{digest_id}@localhost>"
    for kind, suffix in (("text/plain", "txt"), ("text/html", "html")):
        written = (tmp_path / "digests" / f"{digest_id}.{suffix}").read_text(encoding="utf-8")
        assert _parts(message)[kind].rstrip("\n") == written.rstrip("\n")
    payload = json.loads((tmp_path / "digests" / f"{digest_id}.json").read_text(encoding="utf-8"))
    assert payload["digest_id"] == digest_id
    assert len(payload["stories"]) == len(expected_stories(LUXSHARE_FEEDS))


class RefuseFirst:
    """An SMTP handler that answers DATA with the given replies in turn, then accepts."""

    def __init__(self, *replies: str) -> None:
        self.replies = list(replies)
        self.accepted: list[Any] = []
        self.refused = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.replies:
            self.refused += 1
            return self.replies.pop(0)
        self.accepted.append(envelope)
        return "250 OK"


def run_twice_against(handler: RefuseFirst, tmp_path: Path, feed_server: FeedServer) -> None:
    """Two `run --once` against a real SMTP server answering with ``handler``."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        channel = email_channel("127.0.0.1", controller.port, "analyst@example.com")
        config = config_with(tmp_path, feed_server, channel)
        monitor("--config", str(config), "run", "--once")
        monitor("--config", str(config), "run", "--once")
    finally:
        controller.stop()


def test_smtp_refusing_then_accepting_delivers_the_same_message_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    handler = RefuseFirst("451 4.3.0 Mailbox busy, try again")

    run_twice_against(handler, tmp_path, feed_server)

    assert handler.refused == 1
    [accepted] = handler.accepted
    message = message_from_bytes(accepted.content, policy=email.policy.default)
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        [(digest_id, status, attempts)] = conn.execute(
            "select id, status, attempts from digests"
        ).fetchall()
    assert (status, attempts) == ("sent", 0)
    assert message["Message-ID"] == f"<{digest_id}@example.com>"


def test_smtp_5xx_marks_the_digest_failed_with_the_reason(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    handler = RefuseFirst("554 5.7.1 Message rejected as spam")

    run_twice_against(handler, tmp_path, feed_server)

    assert (handler.refused, handler.accepted) == (1, [])
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        rows = conn.execute("select status, last_error from digests").fetchall()
    assert rows == [("failed", "channel 'mail': SMTP 554 5.7.1 Message rejected as spam")]


def test_digest_send_sends_now_whatever_the_schedule(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    folder = tmp_path / "digests"
    config = config_with(
        tmp_path,
        feed_server,
        f"""
[[channels]]
name = "morning"
type = "file"
path = "{folder}"
schedule = "0 8 * * *"
timezone = "Asia/Tokyo"
""",
    )
    monitor("--config", str(config), "run", "--once")
    assert not folder.exists()  # not 08:00 in Tokyo since the stories came in

    sent = monitor("--config", str(config), "digest", "--send", "--channel", "morning")
    again = monitor("--config", str(config), "digest", "--send")

    [digest_json] = folder.glob("*.json")
    n = len(expected_stories(LUXSHARE_FEEDS))
    assert sent.output == f"morning: sent {digest_json.stem} ({n} stories)\n"
    assert again.output == "nothing pending: nothing sent\n"
    listed = json.loads(
        monitor("--config", str(config), "deliveries", "--digests", "--format", "json").output
    )
    assert [(d["lane"], d["status"], d["stories"]) for d in listed] == [("manual", "sent", n)]
    both = monitor("--config", str(config), "digest", "--send", "--preview")
    assert both.exit_code == 2 and "give one of --preview or --send" in both.output

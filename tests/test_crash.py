"""Crash safety with a real process: `monitor run --once` is SIGKILLed after the channel took the
digest and before monitor could record it. The rerun must resend that same digest (same digest
id, Idempotency-Key, Message-ID and content) once, so a receiver that drops what it has seen
ends up with every story exactly once."""

from __future__ import annotations

import email.policy
import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from conftest import (
    REPO,
    FeedServer,
    Receiver,
    Seen,
    expected_stories,
    free_port,
    monitor,
    webhook_channel,
    write_config,
)

FEEDS = ("techwire.xml", "asia-supply-daily.rdf", "zhongguo-dianzi.xml")


class Victim:
    """The `monitor run --once` subprocess, and a way to kill it from a server thread."""

    def __init__(self, config: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "-q", "--config", str(config), "run", "--once"],
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stderr=subprocess.DEVNULL,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)

    def wait_killed(self) -> None:
        assert self.process.wait(timeout=120) == -signal.SIGKILL


def statuses(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "select d.status, g.status from deliveries d join digests g on g.id = d.digest_id"
        ).fetchall()


def test_killed_after_the_webhook_took_the_digest_resends_it_once_with_the_same_key(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    config = write_config(
        tmp_path / "monitor.toml",
        [feed_server.feed_url(n) for n in FEEDS],
        webhook_channel(receiver) + 'secret = "s3cret"\n',
    )
    victims: list[Victim] = []
    kept: dict[str, list[int]] = {}  # what a deduplicating receiver keeps: key -> story ids

    def accept(seen: Seen) -> int:
        key = seen.headers["idempotency-key"]
        first_delivery = not kept
        kept.setdefault(key, [s["story_id"] for s in json.loads(seen.body)["stories"]])
        if first_delivery:
            victims[0].kill()  # dies holding the digest, before hearing 200
        return 200

    receiver.decide = accept
    victims.append(Victim(config))
    victims[0].wait_killed()

    [first] = receiver.requests
    n = len(expected_stories(FEEDS))
    assert statuses(tmp_path / "monitor.db") == [("pending", "pending")] * n  # nothing lost

    assert monitor("--config", str(config), "run", "--once").exit_code == 0
    assert monitor("--config", str(config), "run", "--once").exit_code == 0

    first, second = receiver.wait_for(2)
    assert len(receiver.requests) == 2
    assert second.headers["idempotency-key"] == first.headers["idempotency-key"]
    assert second.body == first.body
    assert second.headers["x-monitor-signature"].startswith("t=")
    [(key, story_ids)] = kept.items()
    assert key == json.loads(first.body)["digest_id"]
    assert len(story_ids) == len(set(story_ids)) == n  # every story, exactly once
    assert statuses(tmp_path / "monitor.db") == [("sent", "sent")] * n


@pytest.fixture
def killing_smtp() -> Iterator[tuple[int, list[Any], list[Victim]]]:
    """A real SMTP server that, on its first message, kills the sender before answering 250."""
    messages: list[Any] = []
    victims: list[Victim] = []

    class KillThenAccept:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            messages.append(envelope)
            if len(messages) == 1:
                victims[0].kill()
            return "250 OK"

    controller = Controller(KillThenAccept(), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller.port, messages, victims
    controller.stop()


def test_killed_after_the_smtp_server_took_the_mail_resends_it_with_the_same_message_id(
    tmp_path: Path,
    feed_server: FeedServer,
    killing_smtp: tuple[int, list[Any], list[Victim]],
) -> None:
    port, messages, victims = killing_smtp
    config = write_config(
        tmp_path / "monitor.toml",
        [feed_server.feed_url(n) for n in FEEDS],
        f"""
[[channels]]
name = "mail"
type = "email"
smtp_host = "127.0.0.1"
smtp_port = {port}
smtp_tls = "none"
from = "monitor@example.com"
to = ["analyst@example.com", "desk@example.com"]
""",
    )
    victims.append(Victim(config))
    victims[0].wait_killed()
    assert len(messages) == 1

    monitor("--config", str(config), "run", "--once")
    monitor("--config", str(config), "run", "--once")

    assert len(messages) == 2
    first, second = (message_from_bytes(m.content, policy=email.policy.default) for m in messages)
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Message-ID"] == f"<{first['X-Monitor-Digest']}@example.com>"
    assert first["Subject"] == second["Subject"] and first["Date"] == second["Date"]
    assert first.get_body(("html",)).get_content() == second.get_body(("html",)).get_content()
    assert messages[1].rcpt_tos == ["analyst@example.com", "desk@example.com"]
    n = len(expected_stories(FEEDS))
    assert statuses(tmp_path / "monitor.db") == [("sent", "sent")] * n

"""Webhooks against a real local receiver: signatures checked with the README's own example,
Slack and Discord formats, and secrets kept out of logs, errors and command output."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from conftest import REPO, FeedServer, Receiver, Seen, expected_stories, monitor, write_config

from monitor.chat import discord, slack
from monitor.digest import render
from monitor.notify import signature
from monitor.records import Digest, DigestArticle, DigestStory

FEEDS = ("techwire.xml", "asia-supply-daily.rdf", "zhongguo-dianzi.xml")
SECRET = "whsec_5f1c0ffee"


def readme_verify() -> Callable[[str, str, bytes], bool]:
    """The verify() function exactly as the README prints it."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Verifying webhook signatures", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "the README has no Python example under 'Verifying webhook signatures'"
    namespace: dict[str, object] = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)
    verify = namespace["verify"]
    assert callable(verify)
    return verify  # type: ignore[return-value]


def channel(url: str, extra: str = "") -> str:
    return f"""
[[channels]]
name = "team"
type = "webhook"
url = "{url}"
{extra}
"""


def config_for(tmp_path: Path, feed_server: FeedServer, channels: str) -> Path:
    urls = [feed_server.feed_url(n) for n in FEEDS]
    return write_config(tmp_path / "monitor.toml", urls, channels)


def sent_count(tmp_path: Path) -> int:
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        return int(
            conn.execute("select count(*) from deliveries where status = 'sent'").fetchone()[0]
        )


def test_receiver_verifies_the_signature_with_the_readme_example(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    verify = readme_verify()

    def check(seen: Seen) -> int:
        header = seen.headers.get("x-monitor-signature", "")
        return 200 if verify(SECRET, header, seen.body) else 401

    receiver.decide = check
    config = config_for(
        tmp_path, feed_server, channel(f"{receiver.url}/hook", f'secret = "{SECRET}"')
    )

    monitor("--config", str(config), "run", "--once")

    [request] = receiver.wait_for(1)
    assert sent_count(tmp_path) == len(expected_stories(FEEDS))  # the receiver said 200
    header = request.headers["x-monitor-signature"]
    t = int(header.split(",")[0].removeprefix("t="))
    assert abs(time.time() - t) < 300
    mac = hmac.new(SECRET.encode(), f"{t}.".encode() + request.body, hashlib.sha256)
    assert header == f"t={t},v1={mac.hexdigest()}"
    # What the example must refuse: a changed body, another secret, a stale or garbled header.
    assert not verify(SECRET, header, request.body.replace(b"Luxshare", b"Foxconn"))
    assert not verify("another-secret", header, request.body)
    assert not verify(SECRET, signature(SECRET, t - 3600, request.body), request.body)
    assert not verify(SECRET, "v1=deadbeef", request.body)
    assert verify(SECRET, signature(SECRET, int(time.time()), request.body), request.body)


def test_a_signature_the_receiver_rejects_marks_the_digest_failed(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    verify = readme_verify()
    receiver.decide = lambda seen: (
        200 if verify(SECRET, seen.headers.get("x-monitor-signature", ""), seen.body) else 401
    )
    config = config_for(
        tmp_path, feed_server, channel(f"{receiver.url}/hook", 'secret_env = "TEAM_HOOK_SECRET"')
    )

    monitor("--config", str(config), "run", "--once", env={"TEAM_HOOK_SECRET": "wrong"})

    assert len(receiver.requests) == 1  # 401 is permanent: no quick retries
    assert sent_count(tmp_path) == 0
    monitor("--config", str(config), "deliveries", "retry")
    monitor("--config", str(config), "run", "--once", env={"TEAM_HOOK_SECRET": SECRET})
    assert sent_count(tmp_path) == len(expected_stories(FEEDS))


def test_slack_format_posts_blocks_with_one_section_per_story(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    config = config_for(tmp_path, feed_server, channel(f"{receiver.url}/hook", 'format = "slack"'))

    monitor("--config", str(config), "run", "--once")

    [request] = receiver.wait_for(1)
    body = json.loads(request.body)
    stories = expected_stories(FEEDS)
    assert body["text"].startswith(f"[monitor] {len(stories)} new stories: ")
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header"] + ["section"] * len(stories) + ["context"]
    first = body["blocks"][1]["text"]["text"]
    assert first.startswith("*1. <https://techwire.example/")
    assert "Reported by: <" in first and "outlets" in first
    assert request.headers["idempotency-key"] in body["blocks"][-1]["elements"][0]["text"]


def test_discord_format_posts_embeds_and_pings_nobody(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    config = config_for(
        tmp_path, feed_server, channel(f"{receiver.url}/hook", 'format = "discord"')
    )

    monitor("--config", str(config), "run", "--once")

    [request] = receiver.wait_for(1)
    body = json.loads(request.body)
    assert body["allowed_mentions"] == {"parse": []}
    assert len(body["embeds"]) == len(expected_stories(FEEDS))
    assert all(e["url"].startswith("https://") and e["title"] for e in body["embeds"])


WHEN = datetime(2026, 3, 2, 9, tzinfo=UTC)


def hostile_digest(count: int) -> Digest:
    title = (
        "@everyone <!channel> *Luxshare* & <https://evil.example|click> [x](https://evil.example)"
    )
    return Digest(
        "20260302T090000Z-team-0a0b0c0d",
        "team",
        WHEN,
        tuple(
            DigestStory(
                n,
                f"{title} {n}",
                f"https://news.example/{n}",
                ("Luxshare",),
                0.9,
                ("evidence (title): a <b>deal</b>",),
                (DigestArticle(title, f"https://news.example/{n}", "Outlet|Feed", WHEN),),
            )
            for n in range(1, count + 1)
        ),
    )


def test_slack_escapes_feed_text_so_it_cannot_ping_or_link() -> None:
    body = slack(render(hostile_digest(1)).digest)

    text = body["blocks"][1]["text"]["text"]
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text
    assert "<https://evil.example|click>" not in text
    assert "&amp;" in text
    assert "<https://news.example/1|Outlet¦Feed>" in text


def test_slack_and_discord_keep_within_message_limits() -> None:
    digest = render(hostile_digest(60)).digest

    blocks = slack(digest)["blocks"]
    assert len(blocks) <= 50 and blocks[-2]["text"]["text"] == "… and 20 more"
    body = discord(digest)
    assert len(body["embeds"]) == 9 and body["content"].endswith("… and 51 more")
    assert sum(len(e["title"]) + len(e["description"]) for e in body["embeds"]) <= 6000
    assert "\\[x\\]\\(https://evil.example\\)" in body["content"]  # markdown shown, not linked


def test_secrets_never_reach_logs_errors_or_command_output(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    receiver.statuses = [500, 500, 500]
    token_url = f"{receiver.url}/services/T0001/B0002/tok3nXYZ?key=qw3rty"
    config = config_for(
        tmp_path, feed_server, channel(token_url, 'secret_env = "TEAM_HOOK_SECRET"')
    )
    env = {**os.environ, "PYTHONPATH": str(REPO), "TEAM_HOOK_SECRET": SECRET}

    run = subprocess.run(
        [sys.executable, "-m", "monitor", "-vv", "--config", str(config), "run", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert len(receiver.wait_for(3)) == 3
    assert "answered HTTP 500" in run.stderr  # the failure is logged ...
    listing = monitor("--config", str(config), "deliveries", "--format", "json").output
    digests = monitor("--config", str(config), "deliveries", "--digests").output
    explained = monitor("--config", str(config), "check-config").output
    with sqlite3.connect(tmp_path / "monitor.db") as conn:
        stored = json.dumps(conn.execute("select * from digests").fetchall())
    for shown in (run.stderr, run.stdout, listing, digests, explained, stored):
        for secret in ("tok3nXYZ", "qw3rty", SECRET):  # ... without any secret
            assert secret not in shown
    assert json.loads(listing)[0]["last_error"].endswith(f"{receiver.url}/… answered HTTP 500")

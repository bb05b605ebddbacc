"""Integration: the real pipeline, from a local feed server through SQLite to a webhook receiver.

Every test drives the CLI as a user would (``monitor --config X run --once``) and checks what the
servers received and what the database holds.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import (
    EXPECTED,
    REPO,
    FeedServer,
    Receiver,
    Reply,
    expected_stories,
    fixture_feed_names,
    monitor,
    negative_titles,
    webhook_channel,
    write_config,
)

TABLES = ("feeds", "articles", "sightings", "stories", "deliveries", "digests")


def all_feeds_config(tmp_path: Path, feed_server: FeedServer, channels: str) -> Path:
    urls = [feed_server.feed_url(n) for n in fixture_feed_names()]
    return write_config(tmp_path / "monitor.toml", urls, channels)


def row_counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {t: conn.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def one_rss_feed(
    tmp_path: Path, feed_server: FeedServer, title: str, link: str, items: str
) -> Path:
    """A config polling one RSS feed of these items, served as ``one.xml``."""
    (feed_server.folder / "one.xml").write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>{link}</link>{items}</channel></rss>",
        encoding="utf-8",
    )
    return write_config(tmp_path / "monitor.toml", [feed_server.feed_url("one.xml")])


def test_run_once_sends_one_digest_with_each_partnership_story_once(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    config = all_feeds_config(tmp_path, feed_server, webhook_channel(receiver))

    result = monitor("--config", str(config), "run", "--once")

    assert result.exit_code == 0, result.output
    [request] = receiver.wait_for(1)
    payload = json.loads(request.body)
    assert request.headers["idempotency-key"] == payload["digest_id"]
    assert request.headers["content-type"] == "application/json"
    assert payload["channel"] == "team"
    # Each expected story is one digest story, whose articles are exactly that story's items.
    got = {frozenset(a["title"] for a in s["articles"]) for s in payload["stories"]}
    assert got == {frozenset(titles) for titles in expected_stories().values()}
    sent_titles = {a["title"] for s in payload["stories"] for a in s["articles"]}
    assert not sent_titles & negative_titles()
    for story in payload["stories"]:
        assert set(story) >= {"story_id", "title", "url", "entities", "score", "why", "articles"}
        assert story["why"] and 0 < story["score"] <= 1
        assert {"Luxshare", "OpenAI"} & set(story["entities"])


def test_second_run_once_on_unchanged_feeds_adds_nothing_and_sends_nothing(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    config = all_feeds_config(tmp_path, feed_server, webhook_channel(receiver))
    assert monitor("--config", str(config), "run", "--once").exit_code == 0
    before = row_counts(tmp_path / "monitor.db")

    assert monitor("--config", str(config), "run", "--once").exit_code == 0

    assert row_counts(tmp_path / "monitor.db") == before
    assert len(receiver.requests) == 1
    # The second poll was conditional and the server answered 304.
    second = feed_server.fetches("techwire.xml")[1]
    assert second.headers.get("if-none-match")


def test_server_ignoring_etags_is_still_not_reparsed(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    feed_server.honour_conditional = False
    config = all_feeds_config(tmp_path, feed_server, webhook_channel(receiver))
    monitor("--config", str(config), "run", "--once")
    before = row_counts(tmp_path / "monitor.db")

    result = monitor("--config", str(config), "run", "--once")

    assert "9 not modified" in result.output
    assert row_counts(tmp_path / "monitor.db") == before


def test_syndicated_copy_with_tracking_link_is_one_article_seen_in_two_feeds(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = all_feeds_config(tmp_path, feed_server, "")
    monitor("--config", str(config), "run", "--once")

    original = next(i for i in EXPECTED if i["feed"] == "techwire.xml" and i["alert"])
    rows = query(
        tmp_path / "monitor.db",
        "select a.id, count(si.feed_id) from articles a "
        "join sightings si on si.article_id = a.id where a.canonical_url = ? group by a.id",
        original["link"],
    )
    assert [count for _, count in rows] == [2]


def test_new_item_in_known_story_joins_it_without_a_new_alert(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    config = all_feeds_config(tmp_path, feed_server, webhook_channel(receiver))
    monitor("--config", str(config), "run", "--once")
    stories_before = query(tmp_path / "monitor.db", "select count(*) from stories")[0][0]
    # Another outlet reports the September story a day later, in its own words.
    feed = feed_server.folder / "market-pulse.xml"
    feed.write_text(
        feed.read_text(encoding="utf-8").replace(
            "<item>",
            """<item>
      <title>Luxshare Precision reportedly signs deal to assemble OpenAI's AI device</title>
      <link>https://market-pulse.example/2025/09/20/luxshare-openai-device</link>
      <guid>market-pulse-late-copy</guid>
      <pubDate>Sat, 20 Sep 2025 18:00:00 +0000</pubDate>
      <description>Luxshare Precision has signed a deal with OpenAI to assemble the ChatGPT
      maker's first consumer hardware device, people familiar with the matter said.</description>
    </item>
    <item>""",
            1,
        ),
        encoding="utf-8",
    )

    monitor("--config", str(config), "run", "--once")

    assert query(tmp_path / "monitor.db", "select count(*) from stories")[0][0] == stories_before
    [(count,)] = query(
        tmp_path / "monitor.db",
        "select s.article_count from stories s join articles a on a.story_id = s.id "
        "where a.guid = 'market-pulse-late-copy'",
    )
    assert count == 6
    assert len(receiver.requests) == 1


def test_broken_feeds_are_recorded_and_never_stop_the_others(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    feed_server.routes = {
        "/error.xml": Reply(500, {"Content-Type": "text/plain"}, b"boom"),
        "/gone.xml": Reply(410, {"Content-Type": "text/plain"}, b"gone"),
        "/html.xml": Reply(
            200, {"Content-Type": "text/html"}, b"<html><body><h1>We're sorry</h1></body></html>"
        ),
        "/slow.xml": Reply(200, {"Content-Type": "application/rss+xml"}, b"<rss/>", delay=6),
        "/busy.xml": Reply(429, {"Retry-After": "7200"}, b""),
    }
    broken = [
        feed_server.feed_url(n)
        for n in ("error.xml", "gone.xml", "html.xml", "slow.xml", "busy.xml", "missing.xml")
    ]
    urls = broken + [feed_server.feed_url(n) for n in fixture_feed_names()]
    config = write_config(tmp_path / "monitor.toml", urls, webhook_channel(receiver))

    result = monitor("--config", str(config), "run", "--once")

    assert result.exit_code == 0, result.output
    assert "6 failed" in result.output
    assert len(receiver.wait_for(1)[0].body) > 0  # the good feeds' stories still went out
    listing = json.loads(monitor("--config", str(config), "feeds", "--format", "json").output)
    by_url = {f["url"]: f for f in listing}
    assert by_url[broken[0]]["last_status_code"] == 500
    assert by_url[broken[0]]["last_error"] == "HTTP 500 Internal Server Error"
    assert by_url[broken[1]]["disabled"] is True
    assert "410" in by_url[broken[1]]["disabled_reason"]
    assert "not a feed" in by_url[broken[2]]["last_error"]
    assert "timed out" in by_url[broken[3]]["last_error"]
    assert by_url[broken[5]]["last_status_code"] == 404
    assert all(by_url[u]["consecutive_failures"] == 1 for u in broken)
    assert all(f["last_error"] is None for f in listing if f["url"] not in broken)


def test_feeds_in_backoff_or_retry_after_wait_even_with_run_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes = {
        "/busy.xml": Reply(429, {"Retry-After": "7200"}, b""),
        "/error.xml": Reply(503, {}, b""),
    }
    urls = [
        feed_server.feed_url("busy.xml"),
        feed_server.feed_url("error.xml"),
        feed_server.feed_url("techwire.xml"),
    ]
    config = write_config(tmp_path / "monitor.toml", urls)
    monitor("--config", str(config), "run", "--once")

    monitor("--config", str(config), "run", "--once")

    assert len(feed_server.fetches("busy.xml")) == 1
    assert len(feed_server.fetches("error.xml")) == 1
    assert len(feed_server.fetches("techwire.xml")) == 2  # --once ignores the interval


def test_feed_removed_from_config_is_disabled_and_comes_back(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    both = [feed_server.feed_url("techwire.xml"), feed_server.feed_url("wirepoint.xml")]
    config = write_config(tmp_path / "monitor.toml", both)
    monitor("--config", str(config), "run", "--once")
    write_config(tmp_path / "monitor.toml", both[:1])

    monitor("--config", str(config), "run", "--once")

    feeds = json.loads(monitor("--config", str(config), "feeds", "--format", "json").output)
    assert [(f["url"], f["disabled"]) for f in feeds] == [(both[0], False), (both[1], True)]
    assert len(feed_server.fetches("wirepoint.xml")) == 1
    write_config(tmp_path / "monitor.toml", both)
    monitor("--config", str(config), "run", "--once")
    assert len(feed_server.fetches("wirepoint.xml")) == 2


def test_entries_sharing_one_link_are_all_kept(tmp_path: Path, feed_server: FeedServer) -> None:
    # Podcast and link-blog feeds often give every entry the show's home page as its link.
    items = "".join(
        f"""<item><title>Taverncast {n}</title><link>https://taverncast.example/</link>
        <guid isPermaLink="false">taverncast-{n}</guid><description>Episode {n}.</description>
        </item>"""
        for n in (60, 61, 62)
    )
    config = one_rss_feed(tmp_path, feed_server, "Taverncast", "https://taverncast.example/", items)

    monitor("--config", str(config), "run", "--once")

    [feed] = json.loads(monitor("--config", str(config), "feeds", "--format", "json").output)
    assert feed["article_count"] == 3
    assert query(tmp_path / "monitor.db", "select count(*) from articles") == [(3,)]


def test_a_body_carrying_one_article_twice_stores_it_once(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # A feed's new entries are inserted together; one that copies an earlier entry of the same
    # body (re-posted under a new id, with a tracking link) must still be found as its copy.
    def item(guid: str, n: int, query: str = "") -> str:
        return f"""<item><title>Luxshare wins order {n}</title>
        <link>https://wire.example/story-{n}{query}</link><guid isPermaLink="false">{guid}</guid>
        <description>Luxshare Precision will assemble device {n}.</description></item>"""

    items = item("a", 1) + item("b", 2) + item("c", 1, "?utm_source=rss") + item("d", 3)
    config = one_rss_feed(tmp_path, feed_server, "Reposts", "https://wire.example/", items)

    monitor("--config", str(config), "run", "--once")

    db = tmp_path / "monitor.db"
    assert query(db, "select title from articles order by id") == [
        ("Luxshare wins order 1",),
        ("Luxshare wins order 2",),
        ("Luxshare wins order 3",),
    ]
    assert query(
        db,
        "select si.guid, a.title from sightings si join articles a on "
        "a.id = si.article_id order by si.guid",
    ) == [
        ("a", "Luxshare wins order 1"),
        ("b", "Luxshare wins order 2"),
        ("c", "Luxshare wins order 1"),
        ("d", "Luxshare wins order 3"),
    ]


def test_killed_mid_cycle_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    # One slow feed keeps the first run busy after the others arrived; it is killed then, in the
    # middle of storing them, before any digest went out.
    feed_server.routes["/slow.xml"] = Reply(
        200,
        {"Content-Type": "application/rss+xml"},
        b'<rss version="2.0"><channel/></rss>',
        delay=2,
    )
    names = fixture_feed_names()
    urls = [feed_server.feed_url(n) for n in names] + [feed_server.feed_url("slow.xml")]
    config = write_config(tmp_path / "monitor.toml", urls, webhook_channel(receiver))
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "-q", "--config", str(config), "run", "--once"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        feed_server.wait_for(len(urls))
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert receiver.requests == []

    result = monitor("--config", str(config), "run", "--once")
    monitor("--config", str(config), "run", "--once")

    assert result.exit_code == 0
    [request] = receiver.wait_for(1)
    stories = json.loads(request.body)["stories"]
    got = {frozenset(a["title"] for a in s["articles"]) for s in stories}
    assert got == {frozenset(titles) for titles in expected_stories().values()}
    assert query(tmp_path / "monitor.db", "pragma integrity_check") == [("ok",)]
    assert len(receiver.requests) == 1


def test_malformed_feed_with_entries_is_stored_with_a_warning(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    # Whitespace before the XML declaration: the most common real-world "bozo" cause.
    feed = feed_server.folder / "techwire.xml"
    feed.write_bytes(b"\n\n  " + feed.read_bytes())
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])

    monitor("--config", str(config), "run", "--once")

    [row] = json.loads(monitor("--config", str(config), "feeds", "--format", "json").output)
    assert row["last_error"] is None
    assert "SAXParseException" in row["last_warning"]
    assert row["article_count"] == len([i for i in EXPECTED if i["feed"] == "techwire.xml"])

"""Integration: polite fetching against a real local feed server and a real SQLite file.

Redirects that move a feed, 410, Retry-After, server freshness hints, backoff and its reset,
``interval = "auto"`` and JSON Feed, each checked through ``monitor feeds --format json`` or the
pipeline's own schedule, the way a user would see it.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from conftest import FeedServer, Reply, monitor, write_config

from monitor.config import load_config
from monitor.pipeline import Context, poll
from monitor.store import Store
from monitor.timeutil import from_iso, utcnow

JSONFEED = Path(__file__).resolve().parent / "fixtures" / "jsonfeed" / "feed-1.1.json"


def feeds_json(config: Path) -> dict[str, dict[str, Any]]:
    result = monitor("--config", str(config), "feeds", "--format", "json")
    assert result.exit_code == 0, result.output
    return {f["url"]: f for f in json.loads(result.output)}


def rss(*items: tuple[str, datetime], ttl: int | None = None) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><guid>{title}</guid>"
        f"<pubDate>{email.utils.format_datetime(when)}</pubDate></item>"
        for title, when in items
    )
    ttl_tag = f"<ttl>{ttl}</ttl>" if ttl else ""
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>Generated</title>{ttl_tag}"
        f"{body}</channel></rss>"
    ).encode()


RSS_TYPE = {"Content-Type": "application/rss+xml"}


def run_once(config: Path) -> str:
    result = monitor("--config", str(config), "run", "--once")
    assert result.exit_code == 0, result.output
    return result.output


# --- status handling


def test_301_moves_the_feed_and_later_polls_go_to_the_new_url(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    new_url = feed_server.feed_url("techwire.xml")
    feed_server.routes["/old.xml"] = Reply(301, {"Location": new_url})
    old_url = feed_server.feed_url("old.xml")
    config = write_config(tmp_path / "monitor.toml", [old_url])

    run_once(config)

    feed = feeds_json(config)[old_url]
    assert (feed["moved_to"], feed["last_status_code"], feed["last_error"]) == (new_url, 200, None)
    assert feed["health"] == f"ok, moved to {new_url}"
    assert feed["article_count"] == 5
    table = monitor("--config", str(config), "feeds").output
    assert "moved to" in table

    run_once(config)

    assert len(feed_server.fetches("old.xml")) == 1  # the old address is not asked again
    assert len(feed_server.fetches("techwire.xml")) == 2
    assert feed_server.fetches("techwire.xml")[1].headers.get("if-none-match")


def test_308_moves_the_feed_and_302_does_not(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/perm.xml"] = Reply(308, {"Location": "/techwire.xml"})
    feed_server.routes["/temp.xml"] = Reply(302, {"Location": "/wirepoint.xml"})
    perm, temp = feed_server.feed_url("perm.xml"), feed_server.feed_url("temp.xml")
    config = write_config(tmp_path / "monitor.toml", [perm, temp])

    run_once(config)
    run_once(config)

    feeds = feeds_json(config)
    assert feeds[perm]["moved_to"] == feed_server.feed_url("techwire.xml")
    assert feeds[temp]["moved_to"] is None
    assert feeds[temp]["article_count"] == 5
    assert len(feed_server.fetches("temp.xml")) == 2  # a 302 is asked again every time
    assert len(feed_server.fetches("perm.xml")) == 1


def test_permanent_redirect_to_a_page_that_is_not_a_feed_moves_nothing(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/sold.xml"] = Reply(301, {"Location": "/parked"})
    feed_server.routes["/parked"] = Reply(200, {"Content-Type": "text/html"}, b"<html>for sale")
    url = feed_server.feed_url("sold.xml")
    config = write_config(tmp_path / "monitor.toml", [url])

    run_once(config)

    feed = feeds_json(config)[url]
    assert feed["moved_to"] is None
    assert "not a feed" in feed["last_error"]


def test_redirect_loop_is_an_error_after_five_hops(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/a.xml"] = Reply(302, {"Location": "/b.xml"})
    feed_server.routes["/b.xml"] = Reply(302, {"Location": "/a.xml"})
    url = feed_server.feed_url("a.xml")
    config = write_config(tmp_path / "monitor.toml", [url])

    run_once(config)

    assert feeds_json(config)[url]["last_error"] == "more than 5 redirects"
    assert len(feed_server.requests) == 6


def test_410_disables_the_feed_with_the_reason_and_it_stays_disabled(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/gone.xml"] = Reply(410, {"Content-Type": "text/plain"}, b"gone")
    url = feed_server.feed_url("gone.xml")
    config = write_config(tmp_path / "monitor.toml", [url])

    run_once(config)
    run_once(config)

    feed = feeds_json(config)[url]
    assert (feed["disabled"], feed["disabled_reason"]) == (True, "HTTP 410 Gone")
    assert feed["health"] == "disabled: HTTP 410 Gone"
    assert len(feed_server.fetches("gone.xml")) == 1


def test_429_with_an_http_date_holds_the_feed_until_then(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    until = (utcnow() + timedelta(hours=3)).replace(microsecond=0)
    feed_server.routes["/busy.xml"] = Reply(
        429, {"Retry-After": email.utils.format_datetime(until, usegmt=True)}
    )
    url = feed_server.feed_url("busy.xml")
    config = write_config(tmp_path / "monitor.toml", [url])

    run_once(config)
    run_once(config)

    feed = feeds_json(config)[url]
    assert feed["last_status_code"] == 429
    assert from_iso(feed["next_due"]) == until
    assert from_iso(feed["held_until"]) == until
    assert len(feed_server.fetches("busy.xml")) == 1


def test_503_with_seconds_holds_the_feed(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/down.xml"] = Reply(503, {"Retry-After": "7200"})
    url = feed_server.feed_url("down.xml")
    config = write_config(tmp_path / "monitor.toml", [url])
    before = utcnow()

    run_once(config)

    due = from_iso(feeds_json(config)[url]["next_due"])
    assert due is not None and due >= before + timedelta(seconds=7199)


# --- schedule: backoff, hints, auto interval (the pipeline with an explicit clock)


class Clock:
    """Runs poll cycles of one config at chosen times against the real server and database."""

    def __init__(self, config: Path) -> None:
        self.config = load_config(config)
        self.store = Store.open(self.config.storage_path)
        self.ctx = Context.build(self.config, self.store)

    def poll(self, now: datetime) -> None:
        asyncio.run(poll(self.ctx, now))

    def feed(self, url: str) -> dict[str, Any]:
        row: dict[str, Any] = next(self.store.db.table("feeds").rows_where("url = ?", [url]))
        return row

    def close(self) -> None:
        self.store.close()


def test_backoff_grows_with_failures_and_resets_on_success(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/flaky.xml"] = Reply(500)
    url = feed_server.feed_url("flaky.xml")
    clock = Clock(write_config(tmp_path / "monitor.toml", [url]))
    now = utcnow().replace(microsecond=0)  # the database keeps whole seconds
    gaps = []
    for _ in range(4):
        clock.poll(now)
        due = from_iso(clock.feed(url)["next_due"])
        assert due is not None
        gaps.append((due - now).total_seconds())
        now = due
    assert clock.feed(url)["consecutive_failures"] == 4
    # 15 minutes doubling, each with up to 10 % jitter
    for n, gap in enumerate(gaps):
        assert 900 * 2**n <= gap <= 900 * 2**n * 1.1

    feed_server.routes["/flaky.xml"] = Reply(200, RSS_TYPE, rss(("a", now)))
    clock.poll(now)
    feed = clock.feed(url)
    clock.close()

    assert (feed["consecutive_failures"], feed["last_error"], feed["held_until"]) == (0, None, None)
    assert 900 <= feed["poll_interval"] <= 990


def test_cache_control_max_age_delays_the_next_poll_within_the_cap(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    now = utcnow()
    body = rss(("a", now))
    feed_server.routes["/cached.xml"] = Reply(
        200, {**RSS_TYPE, "Cache-Control": "max-age=7200"}, body
    )
    feed_server.routes["/forever.xml"] = Reply(
        200, {**RSS_TYPE, "Cache-Control": "max-age=31536000"}, body
    )
    feed_server.routes["/short.xml"] = Reply(200, {**RSS_TYPE, "Cache-Control": "max-age=60"}, body)
    feed_server.routes["/expires.xml"] = Reply(
        200,
        {**RSS_TYPE, "Expires": email.utils.format_datetime(now + timedelta(hours=3), usegmt=True)},
        body,
    )
    feed_server.routes["/ttl.xml"] = Reply(200, RSS_TYPE, rss(("b", now), ttl=120))
    names = ("cached.xml", "forever.xml", "short.xml", "expires.xml", "ttl.xml")
    urls = [feed_server.feed_url(n) for n in names]
    clock = Clock(write_config(tmp_path / "monitor.toml", urls))

    clock.poll(now)

    intervals = {n: clock.feed(u)["poll_interval"] for n, u in zip(names, urls, strict=True)}
    ttl = clock.feed(urls[-1])["ttl"]
    clock.close()
    assert 7200 <= intervals["cached.xml"] <= 7920
    assert 6 * 3600 <= intervals["forever.xml"] <= 6.6 * 3600  # fetch.hint_cap
    assert 900 <= intervals["short.xml"] <= 990  # never sooner than the interval
    assert 3 * 3600 - 5 <= intervals["expires.xml"] <= 3.3 * 3600
    assert 7200 <= intervals["ttl.xml"] <= 7920
    assert ttl == 7200


def test_ttl_still_counts_when_the_next_answer_is_304(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    (feed_server.folder / "ttl.xml").write_bytes(rss(("a", utcnow()), ttl=60))
    url = feed_server.feed_url("ttl.xml")
    clock = Clock(write_config(tmp_path / "monitor.toml", [url]))
    now = utcnow()
    clock.poll(now)
    later = now + timedelta(hours=2)

    clock.poll(later)
    feed = clock.feed(url)
    clock.close()

    assert feed_server.requests[-1].headers.get("if-none-match")  # answered 304
    assert feed["last_status_code"] == 304
    assert 3600 <= feed["poll_interval"] <= 3960


def test_auto_interval_follows_how_often_the_feed_publishes(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    now = utcnow()
    hourly = [(f"busy {h}", now - timedelta(hours=h, minutes=10)) for h in range(8)]
    quiet = [(f"quiet {d}", now - timedelta(days=3 + d)) for d in range(8)]
    feed_server.routes["/busy.xml"] = Reply(200, RSS_TYPE, rss(*hourly))
    feed_server.routes["/quiet.xml"] = Reply(200, RSS_TYPE, rss(*quiet))
    urls = [feed_server.feed_url("busy.xml"), feed_server.feed_url("quiet.xml")]
    config = write_config(tmp_path / "monitor.toml", [])
    config.write_text(
        config.read_text()
        + "".join(f'\n[[feeds]]\nurl = "{u}"\ninterval = "auto"\n' for u in urls),
        encoding="utf-8",
    )
    clock = Clock(config)

    clock.poll(now)

    busy, quiet_feed = (clock.feed(u) for u in urls)
    clock.close()
    assert busy["auto_interval"] == 1
    assert 1800 <= busy["poll_interval"] <= 1980  # half the hourly gap
    assert 6 * 3600 <= quiet_feed["poll_interval"] <= 6.6 * 3600  # fetch.auto_max_interval
    listing = feeds_json(config)
    assert listing[urls[0]]["auto_interval"] is True


# --- formats


def test_json_feed_is_stored_like_any_other(tmp_path: Path, feed_server: FeedServer) -> None:
    feed_server.routes["/feed.json"] = Reply(
        200, {"Content-Type": "application/feed+json"}, JSONFEED.read_bytes()
    )
    feed_server.routes["/sniffed"] = Reply(
        200, {"Content-Type": "application/octet-stream"}, JSONFEED.read_bytes()
    )
    urls = [feed_server.feed_url("feed.json"), feed_server.feed_url("sniffed")]
    config = write_config(tmp_path / "monitor.toml", urls)

    run_once(config)

    feeds = feeds_json(config)
    for url in urls:
        assert (feeds[url]["article_count"], feeds[url]["last_error"]) == (3, None)
        assert feeds[url]["name"] == "Hardware Wire"


def test_feed_listing_shows_validators_and_rejected_duplicates(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    now = utcnow()
    feed_server.routes["/dup.xml"] = Reply(
        200,
        {**RSS_TYPE, "ETag": '"v1"', "Last-Modified": "Mon, 02 Mar 2026 08:00:00 GMT"},
        rss(("same", now), ("same", now), ("same", now), ("other", now)),
    )
    url = feed_server.feed_url("dup.xml")
    config = write_config(tmp_path / "monitor.toml", [url])

    run_once(config)

    feed = feeds_json(config)[url]
    assert (feed["etag"], feed["last_modified"]) == ('"v1"', "Mon, 02 Mar 2026 08:00:00 GMT")
    assert (feed["article_count"], feed["rejected_count"]) == (2, 2)

"""Hostile and broken input, all in one poll cycle beside a good feed, over a real local server.

Each case ends with something recorded on its own feed (an error, or a warning for XML that
feedparser reads without expanding what it should not), within bounded time and memory, and the
good feed in the same cycle is stored as if nothing happened.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import resource
import time
import zlib
from pathlib import Path
from typing import Any

import pytest
from conftest import FeedServer, Reply, monitor, write_config

from monitor.config import load_config
from monitor.parse import parse_feed
from monitor.pipeline import Context, poll
from monitor.store import Store
from monitor.timeutil import utcnow

HOSTILE = Path(__file__).resolve().parent / "fixtures" / "hostile"
RSS = {"Content-Type": "application/rss+xml"}
SECRET = "HOSTILE-SECRET-7c1e"
MAX_BYTES = 2 * 1024 * 1024


def gzip_bomb(expanded: int) -> bytes:
    """``expanded`` zero bytes, gzip-compressed (about a thousandth of the size)."""
    packer = zlib.compressobj(9, wbits=16 + zlib.MAX_WBITS)
    block = b"\0" * 1_000_000
    parts = [packer.compress(block) for _ in range(expanded // len(block))]
    return b"".join(parts) + packer.flush()


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


@pytest.fixture
def hostile_routes(tmp_path: Path, feed_server: FeedServer) -> dict[str, Reply]:
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET, encoding="utf-8")
    xxe = (HOSTILE / "xxe.xml").read_text(encoding="utf-8")
    xxe = xxe.replace("{secret}", str(secret_file)).replace(
        "{remote}", feed_server.feed_url("remote-secret")
    )
    bomb = gzip_bomb(1_000_000_000)
    routes = {
        "/billion-laughs.xml": Reply(200, RSS, (HOSTILE / "billion-laughs.xml").read_bytes()),
        "/xxe.xml": Reply(200, RSS, xxe.encode()),
        "/remote-secret": Reply(200, {"Content-Type": "text/plain"}, SECRET.encode()),
        "/gzip-bomb.xml": Reply(200, {**RSS, "Content-Encoding": "gzip"}, bomb),
        "/raw-gzip-bomb.xml": Reply(200, RSS, bomb),
        "/huge.xml": Reply(200, RSS, b"<rss>" + b"x" * (8 * MAX_BYTES)),
        "/never-ends.xml": Reply(200, RSS, b"<rss><channel>", trickle=0.2),
        "/invalid-utf8.xml": Reply(200, RSS, (HOSTILE / "invalid-utf8.xml").read_bytes()),
        "/wrong-charset.xml": Reply(200, RSS, (HOSTILE / "wrong-charset.xml").read_bytes()),
        "/html-page.xml": Reply(
            200, {"Content-Type": "text/html"}, (HOSTILE / "html-page.html").read_bytes()
        ),
        "/empty.xml": Reply(200, RSS, b""),
        "/loop.xml": Reply(302, {"Location": "/loop2.xml"}),
        "/loop2.xml": Reply(301, {"Location": "/loop.xml"}),
        "/gzipped-good.xml": Reply(
            200, RSS, gzip.compress((feed_server.folder / "wirepoint.xml").read_bytes())
        ),
    }
    feed_server.routes.update(routes)
    return routes


def test_hostile_feeds_are_recorded_bounded_and_harmless_to_the_others(
    tmp_path: Path, feed_server: FeedServer, hostile_routes: dict[str, Reply]
) -> None:
    names = [p.lstrip("/") for p in hostile_routes if p != "/remote-secret"]
    urls = [feed_server.feed_url(n) for n in names] + [feed_server.feed_url("techwire.xml")]
    config = write_config(tmp_path / "monitor.toml", urls, extra="")
    text = config.read_text(encoding="utf-8").replace(
        'timeout = "3s"', f'timeout = "3s"\nmax_bytes = {MAX_BYTES}'
    )
    config.write_text(text, encoding="utf-8")
    rss_before = peak_rss_mb()
    started = time.monotonic()

    result = monitor("--config", str(config), "run", "--once")

    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 30  # the trickling server is cut off at the 3 s deadline
    assert peak_rss_mb() - rss_before < 200  # the gigabyte bombs never materialise
    listing = json.loads(monitor("--config", str(config), "feeds", "--format", "json").output)
    feeds: dict[str, dict[str, Any]] = {f["url"].rsplit("/", 1)[1]: f for f in listing}

    def error(name: str) -> str:
        return str(feeds[name]["last_error"])

    assert error("gzip-bomb.xml") == f"body larger than {MAX_BYTES} bytes"
    assert error("raw-gzip-bomb.xml") == f"body larger than {MAX_BYTES} bytes"
    assert error("huge.xml") == f"body larger than {MAX_BYTES} bytes"
    assert error("never-ends.xml") == "timed out after 3s"
    assert error("html-page.xml").startswith("not a feed")
    assert error("empty.xml").startswith("not a feed")
    assert error("loop.xml") == "more than 5 redirects"
    for name in ("gzip-bomb.xml", "huge.xml", "never-ends.xml", "empty.xml", "loop.xml"):
        assert feeds[name]["consecutive_failures"] == 1
        assert feeds[name]["health"].startswith("failing")
    # Entities are neither expanded nor resolved: the entry is kept with the reference dropped,
    # and the feed carries feedparser's complaint as its warning.
    for name in ("billion-laughs.xml", "xxe.xml"):
        assert "undefined entity" in feeds[name]["last_warning"]
    assert feeds["invalid-utf8.xml"]["last_warning"].startswith("CharacterEncodingOverride")
    assert "but the body is UTF-8" in feeds["wrong-charset.xml"]["last_warning"]
    assert not feed_server.fetches("remote-secret")
    search = monitor("--config", str(config), "search", SECRET, "--format", "json")
    assert json.loads(search.output or "[]") == []
    titles = monitor("--config", str(config), "search", "lol", "--format", "json").output
    assert "lollol" not in titles
    # The good feeds, one of them served as a raw gzip file, are stored in full.
    assert (feeds["techwire.xml"]["article_count"], feeds["techwire.xml"]["last_error"]) == (
        5,
        None,
    )
    assert feeds["gzipped-good.xml"]["article_count"] == 5
    assert (
        "Naïve café 立讯"
        in monitor("--config", str(config), "search", "café", "--format", "json").output
    )


def heavy_feed(entries: int) -> bytes:
    """Slow to parse, quick to store: every short entry carries hundreds of categories."""
    categories = "".join(f"<category>tag{j}</category>" for j in range(300))
    items = "".join(
        f"<item><title>Story {i}</title><guid>big-{i}</guid><description>short</description>"
        f"{categories}</item>"
        for i in range(entries)
    )
    return f"<rss version='2.0'><channel><title>Big</title>{items}</channel></rss>".encode()


def test_parsing_a_heavy_feed_never_stalls_the_event_loop(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    body = heavy_feed(300)
    started = time.monotonic()
    parse_feed("https://big.example/feed", body)
    parse_seconds = time.monotonic() - started  # how long it would freeze the loop
    feed_server.routes["/big.xml"] = Reply(200, RSS, body)
    config = load_config(write_config(tmp_path / "monitor.toml", [feed_server.feed_url("big.xml")]))
    store = Store.open(config.storage_path)
    gaps: list[float] = []

    async def cycle_with_ticker() -> None:
        done = asyncio.Event()

        async def ticker() -> None:
            last = time.monotonic()
            while not done.is_set():
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        task = asyncio.create_task(ticker())
        await poll(Context.build(config, store), utcnow())
        done.set()
        await task

    try:
        asyncio.run(cycle_with_ticker())
        stored = store.db.execute("select count(*) from articles").fetchone()[0]
    finally:
        store.close()

    assert stored == 300
    # Parsing in-process would freeze the loop for the whole parse; in the pool it never does.
    assert max(gaps) < parse_seconds / 2

"""Feed management from the command line: add (with feed discovery), remove, import, export.

Feeds live in two places: the config file's ``[[feeds]]`` and the feeds table, where
``monitor feeds add`` and ``feeds import`` put theirs (``origin = 'cli'``). Both are polled. The
config file wins: a URL listed there is owned by the file (name, interval, enabled), so adding or
removing it by command is refused with a message pointing at the file, and a command-added feed
that later appears in the file is taken over by it. Removing a feed disables it and keeps its
history; adding it again brings it back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from sqlite_utils.db import Database

from monitor.errors import FeedError, ParseError
from monitor.fetch import ACCEPT, user_agent
from monitor.opml import Outline
from monitor.parse import parse_feed
from monitor.store import REMOVED_BY_COMMAND
from monitor.timeutil import iso

DISCOVERY_MAX_BYTES = 5 * 1024 * 1024
# <link rel="alternate" type=...> values that name a feed, best first.
FEED_TYPES = (
    "application/atom+xml",
    "application/rss+xml",
    "application/rdf+xml",
    "application/feed+json",
    "application/json",
)


@dataclass(frozen=True)
class Found:
    """What ``discover`` found at a URL."""

    url: str  # the feed's own URL (after redirects, or taken from the page's <link>)
    title: str | None  # the feed's title, when it was fetched and parsed
    via: str | None  # the page it was discovered on; None when the URL was the feed itself


class _AlternateLinks(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str, str | None]] = []  # (type, href, title)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ("link", "a"):
            return
        a = {k.lower(): (v or "") for k, v in attrs}
        rels = a.get("rel", "").lower().split()
        kind = a.get("type", "").split(";")[0].strip().lower()
        if "alternate" in rels and kind in FEED_TYPES and a.get("href"):
            self.links.append((kind, a["href"].strip(), a.get("title") or None))


def alternate_links(html: str, base: str) -> list[str]:
    """Feed URLs a page announces with <link rel="alternate" type="application/rss+xml" ...>,
    absolute, best type first, then in page order."""
    parser = _AlternateLinks()
    parser.feed(html)
    parser.close()
    ranked = sorted(
        enumerate(parser.links), key=lambda item: (FEED_TYPES.index(item[1][0]), item[0])
    )
    urls = []
    for _, (_, href, _) in ranked:
        url = urljoin(base, href)
        if urlsplit(url).scheme in ("http", "https") and url not in urls:
            urls.append(url)
    return urls


def discover(url: str, client: httpx.Client) -> Found:
    """The feed at ``url``: the URL itself when it serves a feed, else the first feed its page
    links to with <link rel="alternate">. Raises FeedError saying what was found instead."""
    body, headers, final = _get(client, url)
    try:
        parsed = parse_feed(final, body, headers)
    except ParseError as e:
        text = body.decode(_charset(headers), errors="replace")
        links = alternate_links(text, final)
        if not links:
            raise FeedError(
                url,
                f"not a feed ({e.reason}), and the page links to no feed "
                '(no <link rel="alternate" type="application/rss+xml" ...>)',
            ) from None
        feed_body, feed_headers, feed_final = _get(client, links[0])
        try:
            parsed = parse_feed(feed_final, feed_body, feed_headers)
        except ParseError as e2:
            raise FeedError(links[0], f"the page {url} links to it, but {e2.reason}") from None
        return Found(feed_final, parsed.title, url)
    return Found(final, parsed.title, None)


def _get(client: httpx.Client, url: str) -> tuple[bytes, dict[str, str], str]:
    try:
        with client.stream("GET", url) as response:
            if response.status_code != 200:
                raise FeedError(url, f"HTTP {response.status_code} {response.reason_phrase}")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > DISCOVERY_MAX_BYTES:
                    raise FeedError(url, f"larger than {DISCOVERY_MAX_BYTES} bytes")
                chunks.append(chunk)
            headers = {k.lower(): v for k, v in response.headers.items()}
            return b"".join(chunks), headers, str(response.url)
    except httpx.HTTPError as e:
        raise FeedError(url, f"cannot fetch: {type(e).__name__}: {e}") from e


def _charset(headers: dict[str, str]) -> str:
    for part in headers.get("content-type", "").split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            try:
                "".encode(value.strip('"'))
                return value.strip('"')
            except LookupError:
                break
    return "utf-8"


def make_client(timeout: float, contact: str | None) -> httpx.Client:
    return httpx.Client(
        timeout=timeout,
        follow_redirects=True,
        max_redirects=5,
        headers={"User-Agent": user_agent(contact), "Accept": f"{ACCEPT}, text/html;q=0.8"},
    )


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FeedError(url, "not an http(s) URL")
    return url.strip()


# --- the feeds table


def add_feed(
    db: Database,
    url: str,
    *,
    name: str | None,
    interval: int,
    now: datetime,
    config_urls: Iterable[str],
    config_source: str | None = None,
) -> str:
    """Add a feed by command, due at once. Returns "added", "re-added" (it was removed or
    disabled before; its history comes back) or "updated"."""
    if url in set(config_urls):
        raise FeedError(url, f"is in the config file{_named(config_source)}; change it there")
    row = _row(db, url)
    if row is None:
        db.table("feeds").insert(
            {
                "url": url,
                "name": name,
                "origin": "cli",
                "interval": interval,
                "enabled": 1,
                "consecutive_failures": 0,
                "next_due": iso(now),
                "created": iso(now),
            }
        )
        return "added"
    values: dict[str, Any] = {"origin": "cli", "interval": interval}
    if name:
        values["name"] = name
    outcome = "updated"
    if not row["enabled"]:
        # Asked for by name: a feed disabled for any reason (410 Gone included) gets a new try.
        values.update(
            enabled=1,
            disabled_reason=None,
            consecutive_failures=0,
            next_due=iso(now),
            held_until=None,
        )
        outcome = "re-added"
    db.table("feeds").update(row["id"], values)
    return outcome


def remove_feed(
    db: Database, feed: str, *, config_urls: Iterable[str], config_source: str | None = None
) -> str:
    """Disable a command-added feed (by URL or id), keeping its articles. Returns its URL."""
    row = _row(db, feed) or (_row_by_id(db, int(feed)) if feed.isdigit() else None)
    if row is None:
        raise FeedError(feed, "no such feed (see `monitor feeds`)")
    if row["url"] in set(config_urls):
        raise FeedError(
            row["url"], f"is in the config file{_named(config_source)}; remove it there"
        )
    if row["enabled"] or row["disabled_reason"] != REMOVED_BY_COMMAND:
        db.table("feeds").update(row["id"], {"enabled": 0, "disabled_reason": REMOVED_BY_COMMAND})
    return str(row["url"])


def import_outlines(
    db: Database,
    outlines: Iterable[Outline],
    *,
    interval: int,
    now: datetime,
    config_urls: Iterable[str],
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> dict[str, int]:
    """Add every feed of an OPML file (one transaction). Returns counts by outcome; URLs
    already in the config file or not http(s) are skipped and counted."""
    outlines = list(outlines)
    config_urls = set(config_urls)
    counts = {"added": 0, "re-added": 0, "already there": 0, "in config": 0, "invalid": 0}
    with db.atomic():
        for done, outline in enumerate(outlines, 1):
            try:
                url = check_url(outline.url)
            except FeedError:
                counts["invalid"] += 1
            else:
                if url in config_urls:
                    counts["in config"] += 1
                else:
                    row = _row(db, url)
                    if row is not None and row["enabled"]:
                        counts["already there"] += 1  # left as it is
                    else:
                        counts[
                            add_feed(
                                db,
                                url,
                                name=outline.title,
                                interval=interval,
                                now=now,
                                config_urls=(),
                            )
                        ] += 1
            progress(done, len(outlines))
    return counts


def export_outlines(db: Database) -> list[Outline]:
    """Every enabled feed, from the config and from commands, for an OPML file."""
    return [
        Outline(r["url"], r["name"] or r["title"])
        for r in db.table("feeds").rows_where("enabled = 1", order_by="id")
    ]


def _named(source: str | None) -> str:
    return f" {source}" if source else ""


def _row(db: Database, url: str) -> dict[str, Any] | None:
    rows = list(db.table("feeds").rows_where("url = ?", [url]))
    return rows[0] if rows else None


def _row_by_id(db: Database, feed_id: int) -> dict[str, Any] | None:
    rows = list(db.table("feeds").rows_where("id = ?", [feed_id]))
    return rows[0] if rows else None

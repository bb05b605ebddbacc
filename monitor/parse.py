"""Parse stage: feed bytes → ParsedFeed of Entry records, via feedparser (JSON Feed: jsonfeed).

feedparser never raises on bad input; it sets ``bozo``. We treat bozo as a warning when entries were
still found (most real-world bozo feeds parse fine), and as a ParseError when nothing came out.
Its HTML sanitising and relative-URI resolution are off: we keep only text and links and escape on
output, and those passes dominate parse time on large feeds.
"""

from __future__ import annotations

import calendar
import io
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import feedparser

from monitor.errors import ParseError
from monitor.jsonfeed import looks_like_json_feed, parse_json_feed
from monitor.records import Entry, ParsedFeed


def parse_feed(url: str, body: bytes, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a feed body: JSON Feed by content type or sniffing, everything else through
    feedparser. ``headers`` are the response headers (any case)."""
    # feedparser looks up "content-type" case-sensitively; with other casing it guesses the
    # charset wrong and flags the feed as bozo.
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    if looks_like_json_feed(body, lowered.get("content-type")):
        return parse_json_feed(url, body)
    relabelled = _utf8_despite_declaration(body, lowered)
    if relabelled:
        lowered["content-type"] = f"{relabelled[0]}; charset=utf-8"
    # Let feedparser see the body only; it must not go and fetch anything itself.
    lowered.pop("content-location", None)
    # A stream, never bytes: given bytes that happen to name a file (a hostile body of
    # "/etc/passwd"), feedparser opens and parses that local file.
    result = feedparser.parse(
        io.BytesIO(body),
        response_headers=lowered,
        sanitize_html=False,
        resolve_relative_uris=False,
    )
    entries = tuple(_entry(e) for e in result.get("entries", []))
    bozo = result.get("bozo_exception") if result.get("bozo") else None
    if not entries and not result.get("version"):
        # Neither entries nor a recognised feed format: an error page, an empty body, XHTML.
        reason = _describe(bozo) if bozo is not None else "no feed format recognised"
        raise ParseError(url, f"not a feed: {reason}")
    feed_info = result.get("feed", {})
    warning = _describe(bozo) if bozo is not None else None
    if relabelled and warning is None:
        warning = f"declared as {relabelled[1]}, but the body is UTF-8: read as UTF-8"
    return ParsedFeed(
        title=_text(feed_info.get("title")),
        entries=entries,
        warning=warning,
        ttl=_ttl(feed_info.get("ttl")),
    )


def _ttl(value: Any) -> int | None:
    """RSS <ttl> is in minutes; anything but a positive whole number is ignored."""
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        minutes = int(value.strip()[:9])
        return minutes * 60 if minutes > 0 else None
    return None


_XML_ENCODING = re.compile(rb"""\A\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")


def _utf8_despite_declaration(body: bytes, headers: Mapping[str, str]) -> tuple[str, str] | None:
    """(media type, declared encoding) when the XML declares a legacy encoding but the body is
    valid, non-ASCII UTF-8 and HTTP names no charset: a mislabelled feed, common in the wild.
    Text in a legacy encoding is almost never valid UTF-8 by accident, so the bytes win."""
    content_type = headers.get("content-type", "")
    if "charset=" in content_type.lower():
        return None
    match = _XML_ENCODING.match(body[:512])
    if match is None:
        return None
    declared = match.group(1).decode("ascii").lower()
    if declared.replace("-", "").replace("_", "") in ("utf8", "usascii", "ascii", "utf16", "utf32"):
        return None
    if body.isascii():
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return content_type.split(";")[0].strip() or "application/xml", declared


def _describe(exc: Any) -> str:
    return f"{type(exc).__name__}: {exc}"


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _when(entry: dict[str, Any]) -> datetime | None:
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get, not entry.get: FeedParserDict maps a missing "updated_parsed" to
        # "published_parsed" with a DeprecationWarning.
        parsed = dict.get(entry, key)
        if isinstance(parsed, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _content(entry: Mapping[str, Any]) -> str | None:
    parts = [c.get("value") for c in entry.get("content", []) if isinstance(c, Mapping)]
    joined = "\n".join(p for p in parts if isinstance(p, str) and p.strip())
    return joined or None


def _authors(entry: Mapping[str, Any]) -> tuple[str, ...]:
    names = [a.get("name") for a in entry.get("authors", []) if isinstance(a, Mapping)]
    clean = tuple(n.strip() for n in names if isinstance(n, str) and n.strip())
    if clean:
        return clean
    author = _text(entry.get("author"))
    return (author,) if author else ()


def _entry(entry: dict[str, Any]) -> Entry:
    return Entry(
        guid=_text(entry.get("id")),
        title=_text(entry.get("title")),
        link=_text(entry.get("link")),
        summary_html=_text(entry.get("summary")),
        content_html=_content(entry),
        published=_when(entry),
        authors=_authors(entry),
    )

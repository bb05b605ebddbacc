"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1) → ParsedFeed, the records feedparser's
feeds become, since released feedparser does not read JSON Feed at all.

Lenient where real feeds are sloppy (a numeric ``id``, a 1.0 ``author`` beside 1.1 ``authors``, any
``version`` or none on an object that does carry ``items``); strict where it matters: what is not
JSON, or JSON that is not a feed, raises ParseError. Plain-text fields are escaped into HTML so
that every Entry carries HTML, as feedparser's do.
"""

from __future__ import annotations

import email.utils
import html
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from monitor.errors import ParseError
from monitor.records import Entry, ParsedFeed

CONTENT_TYPES = ("application/feed+json", "application/json")


def looks_like_json_feed(body: bytes, content_type: str | None) -> bool:
    """By content type (``application/feed+json``, ``application/json``), else by sniffing: the
    first non-blank byte of a JSON object. An XML feed never starts with ``{``."""
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type in CONTENT_TYPES:
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def parse_json_feed(url: str, body: bytes) -> ParsedFeed:
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError
        raise ParseError(url, f"not valid JSON: {e}") from None
    if not isinstance(document, dict):
        raise ParseError(url, "JSON, but not a JSON Feed (not an object)")
    # The version is not checked: real feeds write "http://jsonfeed.org/version/1", "1.0" or
    # nothing, and the items read the same whichever they claim.
    if not isinstance(document.get("items"), list):
        raise ParseError(url, "JSON, but not a JSON Feed (no list of items)")
    feed_authors = _authors(document)
    return ParsedFeed(
        title=_text(document.get("title")),
        entries=tuple(
            _entry(item, feed_authors) for item in document["items"] if isinstance(item, dict)
        ),
        warning=None,
    )


def _entry(item: Mapping[str, Any], feed_authors: tuple[str, ...]) -> Entry:
    raw_id = item.get("id")
    guid = (
        str(raw_id).strip()
        if isinstance(raw_id, str | int) and not isinstance(raw_id, bool)
        else ""
    )
    content = _text(item.get("content_html")) or _escaped(item.get("content_text"))
    return Entry(
        guid=guid or None,
        title=_text(item.get("title")),
        link=_text(item.get("url")) or _text(item.get("external_url")),
        summary_html=_escaped(item.get("summary")),
        content_html=content,
        published=_date(item.get("date_published")) or _date(item.get("date_modified")),
        authors=_authors(item) or feed_authors,
    )


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _escaped(value: Any) -> str | None:
    text = _text(value)
    return html.escape(text) if text else None


def _authors(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """1.1 ``authors`` (a list), else 1.0 ``author`` (one object)."""
    found = obj.get("authors")
    if not isinstance(found, list):
        found = [obj.get("author")]
    names = (_text(a.get("name")) for a in found if isinstance(a, dict))
    return tuple(n for n in names if n)


def _date(value: Any) -> datetime | None:
    """RFC 3339 as the spec asks, with RFC 822 dates accepted too (seen in the wild)."""
    text = _text(value)
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)

"""JSON Feed 1.0 and 1.1: golden files in tests/fixtures/jsonfeed parse to their expected entries,
recognised by content type or by sniffing; JSON that is not a feed is a clear ParseError."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest

from monitor.errors import ParseError
from monitor.jsonfeed import looks_like_json_feed
from monitor.parse import parse_feed
from monitor.records import ParsedFeed

FOLDER = Path(__file__).resolve().parent / "fixtures" / "jsonfeed"
EXPECTED = json.loads((FOLDER / "expected.json").read_text(encoding="utf-8"))


def as_json(parsed: ParsedFeed) -> dict[str, Any]:
    entries = []
    for entry in parsed.entries:
        row = asdict(entry)
        row["published"] = entry.published.isoformat() if entry.published else None
        row["authors"] = list(entry.authors)
        entries.append(row)
    return {"title": parsed.title, "entries": entries}


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize(
    "content_type", ["application/feed+json", "application/json", "application/octet-stream"]
)
def test_json_feed_parses_to_its_golden_entries(name: str, content_type: str) -> None:
    body = (FOLDER / name).read_bytes()

    parsed = parse_feed(f"https://e.example/{name}", body, {"Content-Type": content_type})

    assert as_json(parsed) == EXPECTED[name]
    assert parsed.warning is None


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b'{"items": []}', None, True),
        (b'\xef\xbb\xbf\n  {"items": []}', "text/plain", True),
        (b"[]", "application/json; charset=utf-8", True),
        (b"<rss/>", "application/rss+xml", False),
        (b"<rss/>", None, False),
    ],
)
def test_json_feed_recognised_by_content_type_or_sniffing(
    body: bytes, content_type: str | None, expected: bool
) -> None:
    assert looks_like_json_feed(body, content_type) is expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": [', "not valid JSON"),
        (b"[1, 2]", "not a JSON Feed"),
        (b'{"error": "rate limited"}', "not a JSON Feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}', "not a JSON Feed"),
        (b'{"items": "\xff\xfe"}', "not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not"),
    ],
)
def test_json_that_is_not_a_feed_raises_parse_error(body: bytes, message: str) -> None:
    with pytest.raises(ParseError, match=message):
        parse_feed("https://e.example/feed.json", body, {"content-type": "application/json"})


def test_json_feed_with_any_version_or_none_is_read_by_its_items() -> None:
    body = b'{"version": "http://jsonfeed.org/version/1", "items": [{"id": "a", "title": "A"}]}'
    assert len(parse_feed("https://e.example/f", body).entries) == 1


def test_json_feed_without_version_but_with_items_is_read() -> None:
    body = b'{"items": [{"id": "a", "title": "A"}, "junk", {"id": true, "title": "B"}]}'

    parsed = parse_feed("https://e.example/f", body)

    assert [(e.guid, e.title) for e in parsed.entries] == [("a", "A"), (None, "B")]

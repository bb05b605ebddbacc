"""Parse stage: fixture feeds in every format parse to the entries they hold; non-feeds raise
ParseError; the body is only ever parsed as data, never used to open a file or URL."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.errors import ParseError
from monitor.parse import parse_feed
from monitor.records import Entry, ParsedFeed

ROOT = Path(__file__).resolve().parents[1]
FEEDS = ROOT / "fixtures" / "feeds"
EXPECTED = json.loads((ROOT / "fixtures" / "expected.json").read_text("utf-8"))["items"]

TITLES = {
    "techwire.xml": "TechWire",
    "gadget-ledger.xml": "The Gadget Ledger",
    "wirepoint.xml": "Wirepoint Newswire",
    "market-pulse.xml": "Market Pulse",
    "zhongguo-dianzi.xml": "中国电子观察",
    "asia-supply-daily.rdf": "Asia Supply Daily",
    "component-watch.rdf": "Component Watch",
    "chipletter.atom": "The Chip Letter",
    "datacenter-dispatch.atom": "Datacenter Dispatch",
}


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# Dates and authors as the fixture files write them (RSS 1.0 gives only dc:date; Atom's
# published wins over updated; the Chinese feed writes +0800; Market Pulse names no author).
DATES_AND_AUTHORS: dict[str, list[tuple[datetime, tuple[str, ...]]]] = {
    "techwire.xml": [
        (_utc("2025-09-19T08:30:00+00:00"), ("Dana Whitcombe",)),
        (_utc("2025-10-13T16:00:00+00:00"), ("Ravi Menon",)),
        (_utc("2025-11-06T18:05:00+00:00"), ("Dana Whitcombe",)),
        (_utc("2026-02-05T12:00:00+00:00"), ("Priya Castellanos",)),
        (_utc("2026-03-10T14:00:00+00:00"), ("Dana Whitcombe",)),
    ],
    "gadget-ledger.xml": [
        (_utc("2025-09-19T15:40:00+00:00"), ("Holly Brennan",)),
        (_utc("2025-10-08T10:30:00+00:00"), ("Marcus Iwu",)),
        (_utc("2025-11-18T13:15:00+00:00"), ("Holly Brennan",)),
        (_utc("2026-02-05T09:00:00+00:00"), ("Marcus Iwu",)),
    ],
    "wirepoint.xml": [
        (_utc("2025-09-19T11:05:00+00:00"), ("TechWire (syndicated)",)),
        (_utc("2025-11-12T15:30:00+00:00"), ("Wirepoint Staff",)),
        (_utc("2025-12-16T22:40:00+00:00"), ("Wirepoint Sports",)),
        (_utc("2026-01-20T06:15:00+00:00"), ("Wirepoint Weather Desk",)),
        (_utc("2026-01-27T07:40:00+00:00"), ("Wirepoint Business",)),
    ],
    "market-pulse.xml": [
        (_utc("2025-10-28T12:45:00+00:00"), ()),
        (_utc("2025-12-16T19:20:00+00:00"), ()),
        (_utc("2026-01-20T10:05:00+00:00"), ()),
        (_utc("2026-03-04T21:10:00+00:00"), ()),
    ],
    "zhongguo-dianzi.xml": [
        (_utc("2025-09-20T09:12:00+08:00"), ("本报记者 陈思远",)),
        (_utc("2025-10-21T14:00:00+08:00"), ("本报记者 刘敏",)),
        (_utc("2025-12-03T10:00:00+08:00"), ("本报记者 陈思远",)),
        (_utc("2026-01-15T10:30:00+08:00"), ("本报记者 王浩",)),
        (_utc("2026-03-11T09:00:00+08:00"), ("本报记者 陈思远",)),
    ],
    "asia-supply-daily.rdf": [
        (_utc("2025-09-20T14:00:00+08:00"), ("Kenji Lau",)),
        (_utc("2025-09-30T11:30:00+08:00"), ("Mei-ling Ho",)),
        (_utc("2025-10-30T19:20:00+08:00"), ("Kenji Lau",)),
        (_utc("2026-01-14T21:30:00+08:00"), ("Mei-ling Ho",)),
        (_utc("2026-02-11T08:00:00+08:00"), ("Kenji Lau",)),
    ],
    "component-watch.rdf": [
        (_utc("2025-09-21T03:00:00+00:00"), ("Component Watch Desk",)),
        (_utc("2025-10-02T05:30:00+00:00"), ("Component Watch Desk",)),
        (_utc("2026-02-05T04:00:00+00:00"), ("Component Watch Desk",)),
        (_utc("2026-03-04T06:00:00+00:00"), ("Component Watch Desk",)),
    ],
    "chipletter.atom": [
        (_utc("2025-10-13T13:15:00+00:00"), ("Leah Okonkwo",)),
        (_utc("2025-09-24T08:00:00+00:00"), ("Leah Okonkwo",)),
        (_utc("2025-11-25T17:00:00+00:00"), ("Tom Reyes",)),
        (_utc("2026-02-24T10:00:00+00:00"), ("Tom Reyes",)),
    ],
    "datacenter-dispatch.atom": [
        (_utc("2025-10-14T09:00:00+00:00"), ("Sam Adeyemi",)),
        (_utc("2025-12-09T07:30:00+00:00"), ("Sam Adeyemi",)),
        (_utc("2026-01-08T12:00:00+00:00"), ("Nora Lindqvist",)),
        (_utc("2026-03-04T16:30:00+00:00"), ("Nora Lindqvist",)),
    ],
}


def _parse(name: str, headers: dict[str, str] | None = None) -> ParsedFeed:
    return parse_feed(f"https://fixtures.example/{name}", (FEEDS / name).read_bytes(), headers)


@pytest.mark.parametrize("name", sorted(TITLES))
def test_fixture_feed_parses_to_its_items(name: str) -> None:
    parsed = _parse(name)
    items = [i for i in EXPECTED if i["feed"] == name]
    got = [(e.guid, e.title, e.link, e.published, e.authors) for e in parsed.entries]
    want = [
        (i["guid"], i["title"], i["link"], when, authors)
        for i, (when, authors) in zip(items, DATES_AND_AUTHORS[name], strict=True)
    ]
    assert (parsed.title, parsed.warning, got) == (TITLES[name], None, want)


def test_fixtures_hold_forty_items() -> None:
    assert sum(len(_parse(name).entries) for name in TITLES) == len(EXPECTED) == 40


def test_rss2_content_encoded_is_kept_as_html() -> None:
    entry = _parse("techwire.xml").entries[0]
    assert entry.content_html is not None
    assert entry.content_html.startswith("<p>")
    assert entry.summary_html is not None


def test_atom_escaped_and_cdata_content_both_give_html() -> None:
    # The first entry's content is CDATA, the third's escaped markup; the others have none.
    entries = _parse("chipletter.atom").entries
    assert [(e.content_html or "")[:42] for e in entries] == [
        '<p>OpenAI and <a href="https://chipletter.',
        "",
        "<p>Veridian Semiconductor has launched the",
        "",
    ]


@pytest.mark.parametrize(
    "headers",
    [
        {"Content-Type": "application/rss+xml; charset=gb18030"},
        {"CONTENT-TYPE": "application/rss+xml; charset=GB18030"},
        {"content-type": "application/rss+xml; charset=gb18030"},
    ],
)
def test_header_names_in_any_case_give_the_charset(headers: dict[str, str]) -> None:
    # No encoding in the XML declaration: only the header says this is GB18030.
    body = (
        '<?xml version="1.0"?>\n<rss version="2.0"><channel><title>中国电子观察</title>'
        "<link>https://zhongguo-dianzi.example/</link><description>d</description>"
        "<item><title>立讯精密与微软签署协议</title><link>https://zhongguo-dianzi.example/1</link>"
        "<guid>zgdz-1</guid></item></channel></rss>"
    ).encode("gb18030")
    assert parse_feed("https://zhongguo-dianzi.example/rss", body, headers) == ParsedFeed(
        title="中国电子观察",
        entries=(
            Entry(
                guid="zgdz-1",
                title="立讯精密与微软签署协议",
                link="https://zhongguo-dianzi.example/1",
                summary_html=None,
                content_html=None,
                published=None,
                authors=(),
            ),
        ),
        warning=None,
    )


def test_fixture_parses_the_same_with_capitalised_headers() -> None:
    headers = {"Content-Type": "application/rss+xml; charset=utf-8", "ETag": '"abc"'}
    assert _parse("zhongguo-dianzi.xml", headers) == _parse("zhongguo-dianzi.xml")


# --- things that are not feeds

HTML5_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>TechWire - page not found</title>
  <link rel="stylesheet" href="/style.css">
</head>
<body>
  <h1>Not found</h1>
  <p>The page you asked for has moved.<br>
  Try the <a href="/">home page</a>.</p>
</body>
</html>
"""

XHTML_PAGE = b"""<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml">
<head><title>TechWire</title></head>
<body><h1>Welcome to TechWire</h1><p>Read our latest stories on the home page.</p></body>
</html>
"""


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(HTML5_PAGE, id="html5-page"),
        pytest.param(XHTML_PAGE, id="well-formed-xhtml-page"),
        pytest.param(b"", id="empty-body"),
        pytest.param(b"   \n\t  ", id="whitespace-body"),
        pytest.param(b'{"error": "rate limited"}', id="json-error"),
        pytest.param(b"Service Unavailable", id="plain-text"),
    ],
)
def test_not_a_feed_raises_parse_error(body: bytes) -> None:
    with pytest.raises(ParseError) as info:
        parse_feed("https://techwire.example/feed.xml", body)
    assert info.value.url == "https://techwire.example/feed.xml"


def test_valid_feed_without_items_has_no_entries() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        b"<title>Quiet Feed</title><link>https://quiet.example/</link>"
        b"<description>Nothing yet</description></channel></rss>"
    )
    assert parse_feed("https://quiet.example/rss", body) == ParsedFeed(
        title="Quiet Feed", entries=(), warning=None
    )


def test_valid_atom_feed_without_entries_has_no_entries() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        b"<title>Quiet Atom</title><id>tag:quiet.example,2026:feed</id>"
        b"<updated>2026-01-01T00:00:00Z</updated></feed>"
    )
    assert parse_feed("https://quiet.example/atom", body) == ParsedFeed(
        title="Quiet Atom", entries=(), warning=None
    )


def test_broken_feed_with_entries_parses_with_warning() -> None:
    # &nbsp; is not defined in XML: a strict parser stops, feedparser's loose one carries on.
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        b"<title>Loose</title><link>https://loose.example/</link><description>d</description>"
        b"<item><title>OpenAI&nbsp;signs deal</title><link>https://loose.example/1</link>"
        b"<guid>l1</guid><pubDate>Fri, 19 Sep 2025 08:30:00 +0000</pubDate></item>"
        b"<item><title>Second</title><link>https://loose.example/2</link><guid>l2</guid></item>"
        b"</channel></rss>"
    )
    parsed = parse_feed("https://loose.example/rss", body)
    assert [(e.guid, e.title, e.published) for e in parsed.entries] == [
        ("l1", "OpenAI\u00a0signs deal", datetime(2025, 9, 19, 8, 30, tzinfo=UTC)),
        ("l2", "Second", None),
    ]
    assert parsed.warning is not None
    assert parsed.warning.startswith("SAXParseException: ")


def test_truncated_feed_keeps_the_entries_before_the_cut() -> None:
    body = (FEEDS / "techwire.xml").read_bytes()
    cut = body[: body.index(b"<item>", body.index(b"<item>") + 1) + 20]
    parsed = parse_feed("https://techwire.example/feed.xml", cut)
    assert [e.guid for e in parsed.entries][:1] == ["techwire-2025-0919-openai-luxshare"]
    assert parsed.warning is not None


def test_unparseable_date_gives_no_date() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        b"<title>T</title><link>https://e.example/</link><description>d</description>"
        b"<item><title>Undated</title><link>https://e.example/1</link><guid>u1</guid>"
        b"<pubDate>sometime last week</pubDate></item></channel></rss>"
    )
    assert parse_feed("https://e.example/rss", body).entries == (
        Entry("u1", "Undated", "https://e.example/1", None, None, None, ()),
    )


# --- security: the body is data, never a name of something to open


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(lambda p: str(p), id="absolute-path"),
        pytest.param(lambda p: p.as_uri(), id="file-uri"),
    ],
)
def test_body_naming_a_local_file_is_not_read(name: Callable[[Path], str]) -> None:
    path = FEEDS / "techwire.xml"
    body = name(path).encode()
    with pytest.raises(ParseError):
        parse_feed("https://hostile.example/feed", body)


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []  # noqa: RUF012  (shared with the test through the class)

    def do_GET(self) -> None:
        type(self).requests.append(self.path)
        data = (FEEDS / "techwire.xml").read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []
    handler = type("Handler", (_CountingHandler,), {"requests": requests})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/techwire.xml", requests
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_body_naming_a_url_is_not_fetched(feed_server: tuple[str, list[str]]) -> None:
    url, requests = feed_server
    with pytest.raises(ParseError):
        parse_feed("https://hostile.example/feed", url.encode())
    assert requests == []


def test_content_location_header_does_not_rebase_links() -> None:
    # A response header must not move the feed's relative links onto another host.
    body = (
        b'<?xml version="1.0"?>\n<rss version="2.0"><channel><title>T</title><link>/</link>'
        b"<description>d</description><item><title>A</title><link>/2025/story</link>"
        b"<guid>g</guid></item></channel></rss>"
    )
    parsed = parse_feed(
        "https://real.example/feed", body, {"Content-Location": "https://evil.example/x/"}
    )
    links = [e.link for e in parsed.entries]
    assert len(links) == 1
    assert not any("evil.example" in (link or "") for link in links)


def test_external_entities_are_not_resolved(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-MARKER-42", encoding="utf-8")
    body = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<!DOCTYPE rss [ <!ENTITY leak SYSTEM "{secret.as_uri()}"> ]>\n'
        '<rss version="2.0"><channel><title>T &leak;</title><link>https://e.example/</link>'
        "<description>d</description><item><title>Item &leak;</title>"
        "<link>https://e.example/1</link><description>x &leak; y</description>"
        "<guid>g1</guid></item></channel></rss>"
    ).encode()
    try:
        parsed = parse_feed("https://hostile.example/feed", body)
    except ParseError:
        return
    texts = [parsed.title or ""] + [
        f"{e.title} {e.summary_html} {e.content_html}" for e in parsed.entries
    ]
    assert not any("SECRET-MARKER-42" in t for t in texts)


def test_json_feed_is_recognised_by_content_type_despite_a_bom_and_blanks() -> None:
    body = (
        b'\xef\xbb\xbf {"version": "https://jsonfeed.org/version/1.1", "title": "x", '
        b'"items": [{"id": "1", "title": "One", "url": "https://e.example/1"}]}'
    )

    parsed = parse_feed(
        "https://example.com/feed.json", body, {"Content-Type": "application/feed+json"}
    )

    assert parsed.title == "x"
    assert [(e.guid, e.title, e.link) for e in parsed.entries] == [
        ("1", "One", "https://e.example/1")
    ]


def test_rss_ttl_is_read_in_seconds() -> None:
    body = (
        b"<rss version='2.0'><channel><title>t</title><ttl>90</ttl>"
        b"<item><title>a</title><guid>a</guid></item></channel></rss>"
    )

    assert parse_feed("https://e.example/rss", body).ttl == 90 * 60


@pytest.mark.parametrize("ttl", ["", "0", "-5", "soon", "1.5", "\u0663"])
def test_unusable_ttl_is_ignored(ttl: str) -> None:
    body = (
        f"<rss version='2.0'><channel><title>t</title><ttl>{ttl}</ttl>"
        "<item><title>a</title><guid>a</guid></item></channel></rss>"
    ).encode()

    assert parse_feed("https://e.example/rss", body).ttl is None

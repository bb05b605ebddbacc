"""Normalise stage: plain text, canonical links, stable hashes, guids that are never empty."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.normalise import canonical_url, content_hash, html_to_text, normalise
from monitor.records import Article, Entry

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_LINKS = [
    item["link"]
    for item in json.loads((ROOT / "fixtures" / "expected.json").read_text("utf-8"))["items"]
]
# Hypothesis keeps no example database in the checkout.
PROPERTY = settings(max_examples=300, database=None)

# --- html_to_text


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<b>OpenAI</b> signs <i>deal</i>", "OpenAI signs deal"),
        ("AT&amp;T &lt;3 caf&eacute; &#8217;s &#x4e2d;", "AT&T <3 café ’s 中"),
        (
            "<p>Lead.</p><script>alert('x')</script><style>p { color: red }</style><p>Body.</p>",
            "Lead.\nBody.",
        ),
        (
            "<p>First paragraph.</p>\n\n<p>  Second   paragraph. </p>",
            "First paragraph.\nSecond paragraph.",
        ),
        ("one<br>two<br/>three", "one\ntwo\nthree"),
        ("<ul><li>a</li><li>b</li></ul>", "a\nb"),
        ("<h2>Title</h2><div>text&nbsp;here</div>", "Title\ntext here"),
        ("<noscript>enable js</noscript>kept", "kept"),
        ("plain text, no tags", "plain text, no tags"),
        ("<p>立讯精密　与微软签署协议</p>", "立讯精密 与微软签署协议"),
        ("", ""),
        (None, ""),
    ],
)
def test_html_to_text(html: str | None, text: str) -> None:
    assert html_to_text(html) == text


# --- canonical_url


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "https://techwire.example/2025/09/19/story?utm_source=rss&utm_medium=feed&utm_campaign=x",
            "https://techwire.example/2025/09/19/story",
        ),
        (
            "https://techwire.example/story?fbclid=IwAR0abc&id=7",
            "https://techwire.example/story?id=7",
        ),
        ("https://techwire.example/story#comments", "https://techwire.example/story"),
        ("HTTPS://TechWire.EXAMPLE/Story", "https://techwire.example/Story"),
        ("https://techwire.example:443/story", "https://techwire.example/story"),
        ("http://techwire.example:80/story", "http://techwire.example/story"),
        ("http://techwire.example:8080/story", "http://techwire.example:8080/story"),
        ("https://techwire.example:80/story", "https://techwire.example:80/story"),
        ("https://techwire.example/list?b=2&a=1&c=3", "https://techwire.example/list?a=1&b=2&c=3"),
        ("https://techwire.example", "https://techwire.example/"),
        ("https://techwire.example./story", "https://techwire.example/story"),
        ("  https://techwire.example/story  ", "https://techwire.example/story"),
        ("https://techwire.example/s?q=a%20b&gclid=1&ref=rss", "https://techwire.example/s?q=a+b"),
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "ftp://files.example/feed.xml",
        "mailto:editor@techwire.example",
        "javascript:alert(1)",
        "/2025/09/19/relative-link",
        "not a url",
        "http://",
        "http://[::1",
        "http://techwire.example:99999/",
    ],
)
def test_canonical_url_unreadable_is_none(url: str | None) -> None:
    assert canonical_url(url) is None


def test_ipv6_host_keeps_brackets() -> None:
    assert canonical_url("http://[2001:db8::1]:8080/feed?utm_source=x") == (
        "http://[2001:db8::1]:8080/feed"
    )


def test_syndicated_copy_link_matches_original() -> None:
    # Wirepoint republishes TechWire's report under TechWire's link plus utm_* parameters.
    original, copy = (
        "https://techwire.example/2025/09/19/openai-luxshare-consumer-ai-device",
        "https://techwire.example/2025/09/19/openai-luxshare-consumer-ai-device"
        "?utm_source=rss&utm_medium=feed&utm_campaign=syndication",
    )
    assert canonical_url(copy) == canonical_url(original) == original


def test_fixture_links_stay_distinct() -> None:
    # 40 items, one of them the syndicated copy of another's link.
    canonical = {canonical_url(link) for link in FIXTURE_LINKS}
    assert canonical == {_page(link) for link in FIXTURE_LINKS}
    assert len(canonical) == 39


_hosts = st.one_of(
    st.from_regex(
        r"[a-zA-Z][a-zA-Z0-9-]{0,8}(\.[a-zA-Z][a-zA-Z0-9-]{0,8}){0,2}\.[a-z]{2,5}", fullmatch=True
    ),
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(lambda ip: f"[{ip}]"),
)
_ports = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
_segment = st.text("abcXYZ019-._~%20!$'()*+,;=:@é中", max_size=8)
_paths = st.lists(_segment, max_size=4).map(lambda parts: "/" + "/".join(parts))
_keys = st.one_of(
    st.sampled_from(["utm_source", "utm_campaign", "fbclid", "gclid", "ref", "id", "page", "q"]),
    st.text("abcdefgh_", min_size=1, max_size=6),
)
_values = st.text("abc0123 +/%&=é中?", max_size=6)
_queries = st.lists(st.tuples(_keys, _values), max_size=5).map(
    lambda pairs: "?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else ""
)
_fragments = st.one_of(st.just(""), st.text("abc12-", max_size=6).map(lambda f: f"#{f}"))
http_urls = st.builds(
    lambda scheme, host, port, path, query, fragment: (
        f"{scheme}://{host}{port}{path}{query}{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    _hosts,
    _ports,
    _paths,
    _queries,
    _fragments,
)


@PROPERTY
@given(http_urls)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    assert once is not None
    assert canonical_url(once) == once


_tracking = st.lists(
    st.tuples(
        st.sampled_from(["utm_source", "utm_medium", "utm_campaign", "fbclid", "gclid", "mc_cid"]),
        st.text("abc0123", min_size=1, max_size=6),
    ),
    max_size=3,
)


def _decorate(link: str, tracking: list[tuple[str, str]], fragment: str) -> str:
    if tracking:
        link += ("&" if "?" in link else "?") + "&".join(f"{k}={v}" for k, v in tracking)
    return link + (f"#{fragment}" if fragment else "")


def _page(link: str) -> str:
    # Fixture links carry no query except the syndicated copy's utm_* tracking.
    return link.split("?")[0]


@PROPERTY
@given(
    st.sampled_from(FIXTURE_LINKS),
    st.sampled_from(FIXTURE_LINKS),
    _tracking,
    _tracking,
    st.text("abc-1", max_size=5),
)
def test_tracking_never_merges_or_splits_pages(
    a: str, b: str, tracking_a: list[tuple[str, str]], tracking_b: list[tuple[str, str]], frag: str
) -> None:
    decorated_a = canonical_url(_decorate(a, tracking_a, frag))
    decorated_b = canonical_url(_decorate(b, tracking_b, ""))
    assert decorated_a == canonical_url(a)
    assert (decorated_a == decorated_b) == (_page(a) == _page(b))


# --- content_hash


def test_content_hash_is_pinned() -> None:
    # Stored hashes must keep matching: a change of recipe needs a new version prefix.
    assert content_hash("Title", "Some text") == (
        "v1:03c501fce8611b44f37e49330a8dbd419f909f073983e9f9b2c28feb46c93691"
    )


def test_content_hash_ignores_whitespace_and_case() -> None:
    assert content_hash("  OpenAI signs DEAL ", "Luxshare\n will   assemble\tit. ") == content_hash(
        "openai signs deal", "luxshare will assemble it."
    )


def test_content_hash_folds_full_width_characters() -> None:
    assert content_hash("ＯｐｅｎＡＩ", "立讯精密") == content_hash("openai", "立讯精密")


def test_content_hash_changes_with_the_words() -> None:
    assert (
        len(
            {
                content_hash("OpenAI signs deal", "Luxshare will assemble it."),
                content_hash("OpenAI signs deal", "Foxconn will assemble it."),
                content_hash("OpenAI signs pact", "Luxshare will assemble it."),
                content_hash("OpenAI signs deal Luxshare", "will assemble it."),
            }
        )
        == 4
    )


# --- normalise

WHEN = datetime(2025, 9, 19, 8, 30, tzinfo=UTC)
FEED = "https://techwire.example/feed.xml"


ENTRY = Entry(
    guid="techwire-1",
    title="OpenAI signs deal with <b>Luxshare</b>",
    link="https://techwire.example/story?utm_source=rss#top",
    summary_html="<p>Luxshare will assemble the device.</p>",
    content_html="<p>Luxshare will assemble the device.</p><p>More detail.</p>",
    published=WHEN,
    authors=("Dana Whitcombe",),
)


def test_normalise_whole_article() -> None:
    assert normalise(ENTRY, FEED) == Article(
        feed_url=FEED,
        guid="techwire-1",
        title="OpenAI signs deal with Luxshare",
        url="https://techwire.example/story?utm_source=rss#top",
        canonical_url="https://techwire.example/story",
        summary="Luxshare will assemble the device.",
        content="Luxshare will assemble the device.\nMore detail.",
        published=WHEN,
        authors=("Dana Whitcombe",),
        content_hash=content_hash(
            "OpenAI signs deal with Luxshare", "Luxshare will assemble the device.\nMore detail."
        ),
        title_key="openai signs deal with luxshare",
    )


def test_summary_is_kept_once_when_there_is_no_other_content() -> None:
    """Stored and indexed once, hashed as before (so entries stored earlier, with the summary
    repeated as content, are still recognised)."""
    summary_only = normalise(replace(ENTRY, content_html=None), FEED)
    repeated = normalise(replace(ENTRY, content_html=ENTRY.summary_html), FEED)
    for article in (summary_only, repeated):
        assert (article.summary, article.content) == ("Luxshare will assemble the device.", "")
        assert article.content_hash == content_hash(
            "OpenAI signs deal with Luxshare", "Luxshare will assemble the device."
        )


def test_guid_falls_back_to_link() -> None:
    assert normalise(replace(ENTRY, guid=None), FEED).guid == (
        "https://techwire.example/story?utm_source=rss#top"
    )


def test_guid_falls_back_to_hash_of_title_and_date() -> None:
    article = normalise(replace(ENTRY, guid=None, link=None), FEED)
    expected = hashlib.sha256(
        b"OpenAI signs deal with Luxshare\n2025-09-19T08:30:00+00:00"
    ).hexdigest()
    assert (article.guid, article.url, article.canonical_url) == (f"hash:{expected}", None, None)


def test_hash_guid_tells_apart_same_title_on_other_days() -> None:
    first = normalise(replace(ENTRY, guid=None, link=None), FEED)
    again = normalise(replace(ENTRY, guid=None, link=None), FEED)
    other_day = normalise(
        replace(ENTRY, guid=None, link=None, published=datetime(2025, 9, 20, tzinfo=UTC)), FEED
    )
    undated = normalise(replace(ENTRY, guid=None, link=None, published=None), FEED)
    assert first.guid == again.guid
    assert len({first.guid, other_day.guid, undated.guid}) == 3
    assert all(a.guid.startswith("hash:") for a in (first, other_day, undated))


def test_untitled_entry_takes_title_from_summary() -> None:
    article = normalise(replace(ENTRY, title=None), FEED)
    assert article.title == "Luxshare will assemble the device."


def test_entry_with_nothing_still_gets_title_and_guid() -> None:
    article = normalise(Entry(None, None, None, None, None, None, ()), FEED)
    assert (article.title, article.guid.startswith("hash:"), article.summary) == (
        "(untitled)",
        True,
        "",
    )

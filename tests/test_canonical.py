"""Canonical links: tracking, AMP and redirector spellings fold onto the page they point at,
and nothing else does."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.canonical import canonical_url, unwrap

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _real_pages() -> list[str]:
    """Every distinct page the fixtures link to: the demo feeds' items (bar the syndicated copy
    that links to TechWire's page with tracking added) and the evaluation set's own links."""
    items = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))["items"]
    pages = {item["link"] for item in items if "?" not in item["link"]}
    domains = json.loads(
        (FIXTURES / "eval" / "stories" / "outlets.json").read_text(encoding="utf-8")
    )
    for path in sorted((FIXTURES / "eval" / "stories").glob("items-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            if item["kind"] != "syndicated":
                pages.add(item.get("url") or f"https://{domains[item['outlet']]}/news/{item['id']}")
    return sorted(pages)


PAGES = _real_pages()
PAGE = "https://techwire.example/2025/09/19/openai-luxshare-consumer-ai-device"


@pytest.mark.parametrize(
    "link",
    [
        PAGE + "?utm_source=wirepoint&utm_medium=rss#comments",
        PAGE + "/",
        PAGE + "/amp",
        PAGE + "/amp/",
        PAGE + ".amp",
        PAGE + "?amp=1",
        PAGE + "?output=amp&fbclid=x",
        "https://www.techwire.example/2025/09/19/openai-luxshare-consumer-ai-device",
        "https://amp.techwire.example/2025/09/19/openai-luxshare-consumer-ai-device",
        "https://m.techwire.example/2025/09/19/openai-luxshare-consumer-ai-device",
        "HTTPS://TECHWIRE.EXAMPLE:443/2025/09/19/openai-luxshare-consumer-ai-device",
        "https://techwire.example/2025/09/19/openai%2Dluxshare%2Dconsumer%2Dai%2Ddevice",
        "https://www.google.com/amp/s/techwire.example/2025/09/19/openai-luxshare-consumer-ai-device",
        "https://techwire-example.cdn.ampproject.org/c/s/techwire.example/2025/09/19/"
        "openai-luxshare-consumer-ai-device/amp",
        "https://www.google.com/url?sa=t&url=" + quote(PAGE + "?utm_source=google", safe=""),
        "https://news.google.com/articles/CBMi?url=" + quote(PAGE, safe="") + "&hl=en-US&gl=US",
        "https://www.bing.com/news/apiclick.aspx?ref=FexRss&aid=&tid=9A7E&url="
        + quote(PAGE + "?utm_source=bing", safe="")
        + "&c=1234&mkt=en-us",
        "https://l.facebook.com/l.php?u=" + quote(PAGE + "?fbclid=abc", safe="") + "&h=AT0",
        # nested: Google's click tracker around a Bing News link around the page
        "https://www.google.com/url?q="
        + quote("https://www.bing.com/news/apiclick.aspx?url=" + quote(PAGE, safe=""), safe=""),
    ],
)
def test_every_spelling_of_a_page_folds_onto_it(link: str) -> None:
    assert canonical_url(link) == PAGE


def test_google_news_base64_article_id_carries_its_target() -> None:
    # Older Google News ids are base64 of a protobuf holding the link in clear.
    token = (
        "CBMiRWh0dHBzOi8vdGVjaHdpcmUuZXhhbXBsZS8yMDI1LzA5LzE5L29wZW5haS1sdXhzaGFyZS1jb25zdW1lci1h"
        "aS1kZXZpY2XSAQA"
    )
    assert canonical_url(f"https://news.google.com/rss/articles/{token}?oc=5") == PAGE


def test_opaque_google_news_link_is_left_alone() -> None:
    link = "https://news.google.com/rss/articles/AU_yqLOpaque123?oc=5"
    assert unwrap(link) is None
    assert canonical_url(link) == "https://news.google.com/rss/articles/AU_yqLOpaque123?oc=5"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://techwire.example/story?id=7", "https://techwire.example/story?id=8"),
        ("https://techwire.example/story?page=2", "https://techwire.example/story"),
        ("https://techwire.example/Story", "https://techwire.example/story"),
        ("https://techwire.example/ramp", "https://techwire.example/r"),
        ("https://techwire.example/champ.html", "https://techwire.example/ch.html"),
        ("https://m.example/story", "https://example/story"),
        ("https://techwire.example/search?q=amp", "https://techwire.example/search"),
        ("http://techwire.example:8080/story", "http://techwire.example/story"),
        ("https://www.google.com/search?q=luxshare", "https://www.google.com/search?q=openai"),
    ],
)
def test_different_pages_stay_apart(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


def test_real_fixture_pages_stay_distinct() -> None:
    assert len(PAGES) > 200
    assert len({canonical_url(p) for p in PAGES}) == len(PAGES)


# --- properties

_tracking = st.sampled_from(
    ["utm_source=rss", "utm_medium=feed", "utm_campaign=x-y", "fbclid=IwAR0", "gclid=Cj0",
     "mc_cid=88a1", "ref=dealdesk", "amp=1", "outputType=amp", "_ga=2.1", "igshid=Z"]
)  # fmt: skip
_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12)


@st.composite
def decorated(draw: st.DrawFn, page: str) -> str:
    """``page`` as an outlet or aggregator might link to it."""
    link = page
    if draw(st.booleans()):
        link = link.replace(
            "https://", draw(st.sampled_from(["https://www.", "HTTPS://", "https://m."])), 1
        )
    params = draw(st.lists(_tracking, max_size=3))
    if params:
        link += ("&" if "?" in link else "?") + "&".join(params)
    if draw(st.booleans()):
        link += "#" + draw(st.sampled_from(["comments", "top", "x"]))
    wrapper = draw(st.sampled_from(["", "google", "bing", "facebook", "amp-viewer"]))
    if wrapper == "google":
        link = "https://www.google.com/url?q=" + quote(link, safe="")
    elif wrapper == "bing":
        link = "https://www.bing.com/news/apiclick.aspx?ref=FexRss&url=" + quote(link, safe="")
    elif wrapper == "facebook":
        link = "https://l.facebook.com/l.php?u=" + quote(link, safe="")
    elif wrapper == "amp-viewer" and link.startswith("https://"):
        link = "https://www.google.com/amp/s/" + link.removeprefix("https://")
    return link


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_decorated_real_page_folds_onto_it_and_onto_no_other(data: st.DataObject) -> None:
    page = data.draw(st.sampled_from(PAGES))
    other = data.draw(st.sampled_from(PAGES).filter(lambda p: p != page))
    link = data.draw(decorated(page))
    assert canonical_url(link) == canonical_url(page)
    assert canonical_url(link) != canonical_url(data.draw(decorated(other)))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.sampled_from(PAGES).flatmap(decorated), _text.map(lambda t: PAGE + "/" + t)))
def test_canonical_url_is_idempotent(link: str) -> None:
    once = canonical_url(link)
    assert canonical_url(once) == once


@settings(max_examples=500, deadline=None)
@given(
    st.builds(
        "{}://{}/{}?{}={}#{}".format,
        st.sampled_from(["http", "https", "HTTP"]),
        st.from_regex(
            r"(www\.|m\.|amp\.)?[a-z0-9-]{1,10}\.[a-z]{2,6}(:[0-9]{1,5})?", fullmatch=True
        ),
        _text,
        _text,
        _text,
        _text,
    )
)
def test_canonical_url_is_idempotent_on_arbitrary_links(link: str) -> None:
    once = canonical_url(link)
    assert once is None or canonical_url(once) == once

"""Normalise stage: Entry (as the feed wrote it) → Article (plain text, canonical link, hash).

Pure functions. The content hash covers normalised fields only (no fetch time, no tracking
parameters) and carries a version prefix, so a change of recipe is explicit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.records import Article, Entry

HASH_VERSION = "v1"

# Query parameters that identify a campaign or a click, never a page.
_TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "ref",
        "ref_src",
        "cmpid",
        "ncid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "spm",
        "smid",
        "sr_share",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")
_DEFAULT_PORTS = {"http": 80, "https": 443}

_BLOCK_TAGS = frozenset(
    {
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "blockquote",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "figure",
        "figcaption",
        "pre",
        "hr",
    }
)
_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "iframe", "svg"})
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skipping += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str | None) -> str:
    """Readable plain text: tags dropped, entities decoded, paragraphs kept as single newlines."""
    if not html:
        return ""
    if "<" in html or "&" in html:
        extractor = _TextExtractor()
        extractor.feed(html)
        extractor.close()
        html = "".join(extractor.parts)
    text = _SPACES.sub(" ", html)
    return _NEWLINES.sub("\n", text).strip()


def canonical_url(url: str | None) -> str | None:
    """The link with scheme and host lower-cased, default port, fragment and tracking dropped,
    and the remaining query parameters sorted. None for links we cannot read."""
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host = f"{host}:{port}"
    query = sorted(
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k.lower() not in _TRACKING_PARAMS and not k.lower().startswith(_TRACKING_PREFIXES)
    )
    return urlunsplit((scheme, host, parts.path or "/", urlencode(query), ""))


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(title: str, text: str) -> str:
    digest = hashlib.sha256(f"{_fold(title)}\n{_fold(text)}".encode()).hexdigest()
    return f"{HASH_VERSION}:{digest}"


def normalise(entry: Entry, feed_url: str) -> Article:
    summary = html_to_text(entry.summary_html)
    content = html_to_text(entry.content_html) or summary
    title = html_to_text(entry.title) or summary[:120] or "(untitled)"
    guid = (
        entry.guid
        or entry.link
        or "hash:"
        + hashlib.sha256(
            f"{title}\n{entry.published.isoformat() if entry.published else ''}".encode()
        ).hexdigest()
    )
    return Article(
        feed_url=feed_url,
        guid=guid,
        title=title,
        url=entry.link,
        canonical_url=canonical_url(entry.link),
        summary=summary,
        content=content,
        published=entry.published,
        authors=entry.authors,
        content_hash=content_hash(title, content),
    )

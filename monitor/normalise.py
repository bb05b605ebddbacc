"""Normalise stage: Entry (as the feed wrote it) → Article (plain text, canonical link, hash).

Pure functions. The content hash covers normalised fields only (no fetch time, no tracking
parameters) and carries a version prefix, so a change of recipe is explicit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from html import unescape

from monitor.canonical import canonical_url
from monitor.records import Article, Entry

HASH_VERSION = "v1"

# Tags are dropped with regular expressions rather than an HTML parser: we want text, not a tree,
# and on the feed corpus this gives the same text as html.parser at a third of the time.
_INVISIBLE = re.compile(
    r"<(script|style|noscript|template|iframe|svg)\b[^>]*>.*?</\1\s*>|<!--.*?-->", re.S | re.I
)
_BLOCK_TAG = re.compile(
    r"</?(?:p|div|br|li|ul|ol|h[1-6]|blockquote|tr|table|section|article|header|footer|figure"
    r"|figcaption|pre|hr)\b[^>]*>",
    re.I,
)
_TAG = re.compile(r"</?[A-Za-z!?][^>]*>")  # "a < b" in text is not a tag
_SPACES = re.compile(r"[ \t\r\f\v\u00a0\u3000]+")
_NEWLINES = re.compile(r"\s*\n\s*")


def html_to_text(html: str | None) -> str:
    """Readable plain text: tags dropped, entities decoded, paragraphs kept as single newlines."""
    if not html:
        return ""
    if "<" in html or "&" in html:
        html = _TAG.sub("", _BLOCK_TAG.sub("\n", _INVISIBLE.sub("", html)))
        html = unescape(html)
    text = _SPACES.sub(" ", html)
    return _NEWLINES.sub("\n", text).strip()


def fold(text: str) -> str:
    """Text as compared: Unicode-normalised (full-width to ASCII), case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def content_hash(title: str, text: str) -> str:
    digest = hashlib.sha256(f"{fold(title)}\n{fold(text)}".encode()).hexdigest()
    return f"{HASH_VERSION}:{digest}"


def normalise(entry: Entry, feed_url: str) -> Article:
    summary = html_to_text(entry.summary_html)
    # Most feeds give a summary only, or content that repeats it: store and index it once.
    content = html_to_text(entry.content_html)
    content = "" if content == summary else content
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
        content_hash=content_hash(title, content or summary),
        title_key=fold(title),
    )

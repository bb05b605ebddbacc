"""Digest stage: render a Digest record as plain text, HTML and the webhook JSON payload. Pure.

HTML comes from Jinja templates with autoescaping on (feed text is untrusted). The templates ship in
``monitor/templates``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import jinja2

from monitor.records import Digest, DigestStory
from monitor.timeutil import iso

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("monitor", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
)


def _when(moment: datetime | None) -> str:
    """For people: "2025-09-19 08:30 UTC"; machines get ISO 8601 in the JSON payload."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "undated"


_env.filters["when"] = _when


def _http_only(url: str | None) -> str | None:
    """Links from feeds go into href only when they are http(s): no javascript: or data: URLs."""
    return url if url and urlsplit(url).scheme.lower() in ("http", "https") else None


_env.filters["http_only"] = _http_only


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    payload: dict[str, Any]  # the documented webhook JSON


def outlets(story: DigestStory) -> list[str]:
    return list(dict.fromkeys(a.feed for a in story.articles))


def subject(digest: Digest) -> str:
    n = len(digest.stories)
    if n == 0:
        return "[monitor] no new stories"
    top = digest.stories[0].title if digest.stories else ""
    more = f" (+{n - 1} more)" if n > 1 else ""
    return f"[monitor] {n} new stor{'y' if n == 1 else 'ies'}: {top}{more}"


def payload(digest: Digest) -> dict[str, Any]:
    """The webhook body. Field names are a public contract: extend, never rename."""
    return {
        "digest_id": digest.digest_id,
        "channel": digest.channel,
        "created": iso(digest.created),
        "stories": [
            {
                "story_id": s.story_id,
                "title": s.title,
                "url": s.url,
                "entities": list(s.entities),
                "score": s.score,
                "why": list(s.why),
                "outlets": outlets(s),
                "articles": [
                    {"title": a.title, "url": a.url, "feed": a.feed, "published": iso(a.published)}
                    for a in s.articles
                ],
            }
            for s in digest.stories
        ],
    }


def render(digest: Digest) -> Rendered:
    context = {"digest": digest, "outlets": outlets, "subject": subject(digest)}
    return Rendered(
        subject=subject(digest),
        text=_env.get_template("digest.txt").render(context),
        html=_env.get_template("digest.html").render(context),
        payload=payload(digest),
    )

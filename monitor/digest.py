"""Digest stage: render a Digest record as plain text, HTML and the webhook JSON payload. Pure.

Feed text is untrusted. ``sanitise`` runs first, for every rendering: control and bidi-override
characters go, long fields are cut, links that are not http(s) are dropped. HTML comes from Jinja
templates with autoescaping on; they ship in ``monitor/templates`` and a channel's ``templates``
folder may replace either of them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import jinja2

from monitor.records import Digest, DigestArticle, DigestStory, StoryUpdate
from monitor.timeutil import from_iso, iso

# Longest fields shown, in characters: enough for any real headline, not for a pasted article.
MAX_TITLE = 300
MAX_LINE = 400  # a why line
MAX_NAME = 100  # an outlet or entity name
MAX_URL = 2048  # a longer link is broken, not shortened
MAX_SUBJECT_TITLE = 120
MAX_WHY_LINE = 240

# Bidi embeddings, overrides and isolates can make a title read as something else.
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str, limit: int) -> str:
    """One line of untrusted text: no control or bidi characters, spaces collapsed, cut to
    ``limit`` characters with an ellipsis."""
    text = _BIDI.sub("", text)
    text = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def clean_url(url: str | None) -> str | None:
    """A link from a feed, kept only when it is a plain http(s) URL of sane length."""
    if not url:
        return None
    url = url.strip()
    if len(url) > MAX_URL or any(unicodedata.category(c) in ("Cc", "Zs") for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def _clean_story(s: DigestStory) -> DigestStory:
    return DigestStory(
        story_id=s.story_id,
        title=clean_text(s.title, MAX_TITLE) or "(untitled)",
        url=clean_url(s.url),
        entities=tuple(clean_text(e, MAX_NAME) for e in s.entities),
        score=s.score,
        why=tuple(clean_text(w, MAX_LINE) for w in s.why),
        articles=tuple(
            DigestArticle(
                clean_text(a.title, MAX_TITLE) or "(untitled)",
                clean_url(a.url),
                clean_text(a.feed, MAX_NAME),
                a.published,
            )
            for a in s.articles
        ),
    )


def sanitise(digest: Digest) -> Digest:
    """The digest with every field that came from a feed made safe to show."""
    return replace(
        digest,
        stories=tuple(_clean_story(s) for s in digest.stories),
        updates=tuple(
            replace(u, title=clean_text(u.title, MAX_TITLE), url=clean_url(u.url))
            for u in digest.updates
        ),
    )


def _when(moment: datetime | None) -> str:
    """For people: "2025-09-19 08:30 UTC"; machines get ISO 8601 in the JSON payload."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else "undated"


def _http_only(url: str | None) -> str | None:
    """Links go into href only when they are http(s): no javascript: or data: URLs, even from a
    user's template that forgot to ask."""
    return clean_url(url)


@lru_cache(maxsize=16)
def _environment(folder: str | None) -> jinja2.Environment:
    """Templates from the channel's folder first, then the built-in ones."""
    loaders: list[jinja2.BaseLoader] = [jinja2.PackageLoader("monitor", "templates")]
    if folder:
        loaders.insert(0, jinja2.FileSystemLoader(folder))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(["html", "htm"], default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters["when"] = _when
    env.filters["http_only"] = _http_only
    return env


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    payload: dict[str, Any]  # the documented webhook JSON
    digest: Digest  # sanitised: what every rendering above shows


def outlets(story: DigestStory) -> list[str]:
    return list(dict.fromkeys(a.feed for a in story.articles))


def why_line(story: DigestStory) -> str:
    """The one reason that explains the story best: an evidence sentence that says more than the
    title when there is one, else the title's evidence, else the first reason."""
    evidence = [r.split(": ", 1)[1] for r in story.why if r.startswith("evidence") and ": " in r]
    beyond_title = [e for e in evidence if e != story.title]
    chosen = (beyond_title or evidence or list(story.why[:1]) or [""])[0]
    return clean_text(chosen, MAX_WHY_LINE)


def subject(digest: Digest) -> str:
    n = len(digest.stories)
    if n == 0:
        return "[monitor] no new stories"
    top = clean_text(digest.stories[0].title, MAX_SUBJECT_TITLE)
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
        "updates": [
            {
                "story_id": u.story_id,
                "title": u.title,
                "url": u.url,
                "outlets": u.outlets,
                "previously": u.previously,
            }
            for u in digest.updates
        ],
        "source_health": list(digest.health),
    }


def from_payload(data: dict[str, Any], lane: str = "scheduled") -> Digest:
    """The Digest a payload was made from: a digest is kept as its payload when it is made, so a
    resend says exactly what the first attempt said."""
    return Digest(
        digest_id=data["digest_id"],
        channel=data["channel"],
        created=from_iso(data["created"]) or datetime.now(UTC),
        stories=tuple(
            DigestStory(
                story_id=s["story_id"],
                title=s["title"],
                url=s["url"],
                entities=tuple(s["entities"]),
                score=s["score"],
                why=tuple(s["why"]),
                articles=tuple(
                    DigestArticle(a["title"], a["url"], a["feed"], from_iso(a["published"]))
                    for a in s["articles"]
                ),
            )
            for s in data["stories"]
        ),
        updates=tuple(
            StoryUpdate(u["story_id"], u["title"], u["url"], u["outlets"], u["previously"])
            for u in data.get("updates", [])
        ),
        lane=lane,
        health=tuple(data.get("source_health", [])),
    )


def render(digest: Digest, templates: str | None = None) -> Rendered:
    """Subject, plain text, HTML and payload of a digest; ``templates`` is a channel's folder of
    its own digest.txt / digest.html. Raises jinja2.TemplateError for a broken user template."""
    digest = sanitise(digest)
    env = _environment(templates)
    context = {
        "digest": digest,
        "outlets": outlets,
        "why_line": why_line,
        "subject": subject(digest),
    }
    return Rendered(
        subject=subject(digest),
        text=env.get_template("digest.txt").render(context),
        html=env.get_template("digest.html").render(context),
        payload=payload(digest),
        digest=digest,
    )

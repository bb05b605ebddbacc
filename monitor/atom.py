"""Atom output: the alerted stories as a feed (RFC 4287), so any feed reader can follow alerts.

``render`` is pure (stories in, XML out); ``alert_stories`` reads them from the archive and
``write`` replaces a file atomically, so a reader polling the file never sees half a feed.
Entry ids are stable URNs derived from the story id and when it was first seen, so a reader
shows each alert once however often the feed is rewritten.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import uuid
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any

from sqlite_utils.db import Database

from monitor import __version__, queries
from monitor.config import Config
from monitor.timeutil import iso

log = logging.getLogger("monitor.atom")

ATOM = "http://www.w3.org/2005/Atom"
FEED_ID = "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, "monitor:alerted-stories"))
DEFAULT_DAYS = 30  # what the daemon's file holds: alerts of the last 30 days
DEFAULT_LIMIT = 100

ET.register_namespace("", ATOM)


def alert_stories(
    db: Database, *, since: datetime | None, limit: int = DEFAULT_LIMIT
) -> list[dict[str, Any]]:
    """Stories alerted since ``since``, newest alert first, each with every outlet's copy."""
    ids = db.execute(
        "select id from stories where alerted = 1 and alerted_at >= :since "
        "order by alerted_at desc, id desc limit :limit",
        {"since": iso(since) or "", "limit": limit},
    ).fetchall()
    stories = [queries.story(db, story_id) for (story_id,) in ids]
    return [s for s in stories if s is not None]


def render(stories: list[dict[str, Any]], now: datetime, *, self_url: str | None = None) -> str:
    """The Atom document for ``stories`` (as ``queries.story`` returns them)."""
    feed = ET.Element(f"{{{ATOM}}}feed")
    _text(feed, "id", FEED_ID)
    _text(feed, "title", "monitor: alerted stories")
    _text(feed, "subtitle", "Hardware-partnership stories about the watched companies")
    updated = max((_updated(s) for s in stories), default=iso(now) or "")
    _text(feed, "updated", updated)
    author = ET.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", "monitor")
    generator = _text(feed, "generator", "monitor")
    generator.set("version", __version__)
    if self_url:
        ET.SubElement(feed, f"{{{ATOM}}}link", rel="self", href=self_url)
    for story in stories:
        _entry(feed, story)
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def _entry(feed: ET.Element, story: dict[str, Any]) -> None:
    entry = ET.SubElement(feed, f"{{{ATOM}}}entry")
    key = f"monitor:story:{story['id']}:{story['first_seen']}"
    _text(entry, "id", "urn:uuid:" + str(uuid.uuid5(uuid.NAMESPACE_URL, key)))
    _text(entry, "title", story["title"] or f"Story {story['id']}")
    _text(entry, "updated", _updated(story))
    if story["first_published"]:
        _text(entry, "published", story["first_published"])
    if story["url"]:
        ET.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=story["url"])
    for entity in story["entities"] or []:
        ET.SubElement(entry, f"{{{ATOM}}}category", term=entity)
    outlets = story["outlets"]
    _text(
        entry,
        "summary",
        f"{', '.join(story['entities'] or [])} | score {story['score'] or 0:.2f} | "
        f"{len(outlets)} outlet{'s' if len(outlets) != 1 else ''}: {', '.join(outlets)}",
    )
    _text(entry, "content", _content_html(story)).set("type", "html")


def _content_html(story: dict[str, Any]) -> str:
    why = "".join(f"<li>{escape(reason)}</li>" for reason in story["why"] or [])
    copies = "".join(
        f"<li>{escape(a['feed'])} ({escape(a['published'] or '')}): "
        f'<a href="{escape(a["url"] or "")}">{escape(a["title"] or "")}</a></li>'
        for a in story["articles"]
    )
    return (
        f"<p>Entities: {escape(', '.join(story['entities'] or []))}; "
        f"score {story['score'] or 0:.2f}</p><p>Why:</p><ul>{why}</ul>"
        f"<p>Reported by:</p><ul>{copies}</ul>"
    )


def _updated(story: dict[str, Any]) -> str:
    return str(story["alerted_at"] or story["last_seen"] or story["first_seen"])


def _text(parent: ET.Element, name: str, text: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}")
    element.text = _NOT_XML.sub("", text)
    return element


# Characters XML 1.0 does not allow (control characters a feed may have carried in).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def write(path: str | Path, db: Database, now: datetime) -> Path:
    """Write the daemon's feed file (alerts of the last DEFAULT_DAYS days) atomically."""
    target = Path(path)
    document = render(alert_stories(db, since=now - timedelta(days=DEFAULT_DAYS)), now)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(document)
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


def export_configured(config: Config, db: Database, now: datetime) -> None:
    """After a poll or digest run: rewrite the [export] atom file, if one is configured. A
    file that cannot be written is logged, never fatal: the alerts went out by their channels."""
    if not config.atom_path:
        return
    try:
        write(config.atom_path, db, now)
    except OSError as e:
        log.error("atom export failed path=%s error=%r", config.atom_path, str(e))

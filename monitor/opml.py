"""OPML, the format feed readers exchange subscription lists in: read outlines, write a list.

Outlines may nest (folders); every outline with an ``xmlUrl`` is a feed, wherever it sits.
Python's expat refuses entity-expansion bombs and ElementTree never fetches external entities,
so a hostile file cannot do more than fail to parse.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from monitor.errors import MonitorError


@dataclass(frozen=True)
class Outline:
    url: str  # xmlUrl
    title: str | None  # title, else text; None when the file gives neither


class OpmlError(MonitorError):
    def __init__(self, source: str, message: str) -> None:
        self.source = source
        super().__init__(f"{source}: {message}")


def read_opml(data: bytes, source: str = "OPML") -> list[Outline]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as e:
        raise OpmlError(source, f"not valid OPML (XML error: {e})") from None
    if root.tag.lower() != "opml":
        raise OpmlError(source, f"not OPML: the root element is <{root.tag}>, not <opml>")
    outlines = []
    seen: set[str] = set()
    for node in root.iter("outline"):
        url = (node.get("xmlUrl") or node.get("xmlurl") or "").strip()
        if url and url not in seen:
            seen.add(url)
            title = (node.get("title") or node.get("text") or "").strip() or None
            outlines.append(Outline(url, title))
    return outlines


def write_opml(feeds: Iterable[Outline], title: str, now: datetime) -> str:
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        text = feed.title or feed.url
        ET.SubElement(body, "outline", type="rss", text=text, title=text, xmlUrl=feed.url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

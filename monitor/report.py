"""The report page: one self-contained HTML file about a period of the archive.

``gather`` reads what the page shows from the database (mentions per watched entity per day,
alerted stories with their outlets, who broke them first, feed health); ``render`` turns that
into HTML with inline SVG charts (``monitor.charts``) and inline CSS: no script, no fonts, no
images to fetch, so it opens anywhere, offline, and can be mailed as an attachment.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jinja2
from markupsafe import Markup
from sqlite_utils.db import Database

from monitor import __version__, charts, queries
from monitor.timeutil import from_iso, iso

_WHEN = "coalesce(a.published, a.first_seen)"


@dataclass(frozen=True)
class ReportData:
    since: datetime
    until: datetime
    days: list[date]
    mentions: dict[str, list[int]]  # watched entity -> articles naming it, per day
    stories: list[dict[str, Any]]  # alerted stories first published in the period, oldest first
    outlets: list[tuple[str, int, int]]  # outlet, stories it broke first, stories it carried
    feeds: list[dict[str, Any]]  # every feed with its health (queries.feeds)
    article_count: int  # articles published in the period


def gather(db: Database, since: datetime, until: datetime) -> ReportData:
    days = [since.date() + timedelta(days=n) for n in range((until.date() - since.date()).days + 1)]
    window = {"since": iso(since), "until": iso(until)}
    mentions: dict[str, list[int]] = {}
    index = {day.isoformat(): n for n, day in enumerate(days)}
    for entity, day, count in db.execute(
        f"""
        select e.value, substr({_WHEN}, 1, 10), count(*)
        from articles a, json_each(a.entities) e
        where {_WHEN} >= :since and {_WHEN} <= :until
        group by e.value, substr({_WHEN}, 1, 10) order by e.value
        """,
        window,
    ).fetchall():
        if day in index:
            mentions.setdefault(entity, [0] * len(days))[index[day]] = count
    stories = queries.alerted_in(db, since, until)
    first = Counter(s["outlets"][0] for s in stories if s["outlets"])
    carried = Counter(outlet for s in stories for outlet in s["outlets"])
    outlets = sorted(
        ((name, first[name], n) for name, n in carried.items()), key=lambda r: (-r[1], -r[2], r[0])
    )
    [(article_count,)] = db.execute(
        f"select count(*) from articles a where {_WHEN} >= :since and {_WHEN} <= :until", window
    ).fetchall()
    return ReportData(
        since=since,
        until=until,
        days=days,
        mentions=dict(sorted(mentions.items(), key=lambda kv: -sum(kv[1]))),
        stories=stories,
        outlets=outlets[:15],
        feeds=queries.feeds(db, until),
        article_count=article_count,
    )


def _health_state(feed: dict[str, Any]) -> str:
    health = str(feed["health"])
    for state in ("disabled", "failing", "not polled"):
        if health.startswith(state):
            return state
    return "ok"


def render(data: ReportData) -> str:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("monitor", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    states = Counter(_health_state(f) for f in data.feeds)
    events = [
        (from_iso(s["first_published"]) or data.since, s["outlet_count"], s["title"] or "")
        for s in data.stories
    ]
    return env.get_template("report.html").render(
        data=data,
        version=__version__,
        generated=iso(datetime.now(UTC)),
        states=states,
        state_of=_health_state,
        mentions_chart=Markup(charts.line_chart("mentions", data.days, data.mentions)),
        timeline_chart=Markup(charts.timeline("timeline", data.since, data.until, events)),
        outlets_chart=Markup(
            charts.bar_chart("first-reporters", data.outlets, "broke first", "carried")
        ),
        health_chart=Markup(charts.health_bar("feed-health", dict(states))),
        json=json,
    )

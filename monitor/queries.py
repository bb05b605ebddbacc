"""The read side of the archive: listings and search for the CLI and other tools.

Each function returns plain dicts whose keys are the documented output fields (a public contract:
extend, never rename). JSON columns come back as lists.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlite_utils.db import Database

from monitor.timeutil import iso

_FEED_NAME = "coalesce(f.name, f.title, f.url)"


def _decode(row: dict[str, Any], *json_columns: str) -> dict[str, Any]:
    for column in json_columns:
        if row.get(column) is not None:
            row[column] = json.loads(row[column])
    return row


def _rows(db: Database, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def search(
    db: Database,
    query: str,
    *,
    limit: int = 50,
    offset: int = 0,
    story_id: int | None = None,
    matched: bool = False,
) -> list[dict[str, Any]]:
    """Full-text search over title, summary and content, best match first.

    ``query`` is taken as words to find (quoted for FTS5), not as FTS syntax, so punctuation in
    a company name cannot break the query.
    """
    terms = " ".join(_quote_term(t) for t in query.split())
    if not terms:
        return []
    where = ["articles_fts match :terms"]
    if story_id is not None:
        where.append("a.story_id = :story_id")
    if matched:
        where.append("a.alert_worthy = 1")
    sql = f"""
        select a.id, a.title, a.url, a.published, {_FEED_NAME} as feed, a.story_id,
               a.entities, a.alert_worthy, a.score,
               snippet(articles_fts, -1, '[', ']', '…', 12) as snippet
        from articles_fts
        join articles a on a.rowid = articles_fts.rowid
        join feeds f on f.id = a.feed_id
        where {" and ".join(where)}
        order by bm25(articles_fts), a.id
        limit :limit offset :offset
    """
    rows = _rows(db, sql, {"terms": terms, "story_id": story_id, "limit": limit, "offset": offset})
    for row in rows:
        _decode(row, "entities")
        row["alert_worthy"] = bool(row["alert_worthy"])
    return rows


def _quote_term(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def stories(
    db: Database, *, since: datetime | None = None, alerted: bool | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    where = ["1 = 1"]
    if since is not None:
        where.append("s.first_published >= :since")
    if alerted is not None:
        where.append("s.alerted = :alerted")
    sql = f"""
        select s.id, s.title, s.url, s.article_count,
               (select count(distinct si.feed_id) from sightings si
                  join articles a on a.id = si.article_id where a.story_id = s.id) as outlet_count,
               s.first_published, s.first_seen, s.last_seen, s.entities, s.score,
               s.alerted, s.alerted_at, s.why
        from stories s where {" and ".join(where)}
        order by s.first_published desc, s.id desc limit :limit
    """
    rows = _rows(db, sql, {"since": iso(since), "alerted": int(bool(alerted)), "limit": limit})
    for row in rows:
        _decode(row, "entities", "why")
        row["alerted"] = bool(row["alerted"])
    return rows


def feeds(db: Database) -> list[dict[str, Any]]:
    sql = f"""
        select f.id, f.url, {_FEED_NAME} as name, f.origin, f.interval,
               f.last_attempt, f.last_success, f.last_status_code, f.last_error, f.last_warning,
               f.consecutive_failures, f.next_due, f.held_until,
               case when f.enabled then 0 else 1 end as disabled, f.disabled_reason,
               (select count(*) from sightings si where si.feed_id = f.id) as article_count
        from feeds f order by f.id
    """
    rows = _rows(db, sql, {})
    for row in rows:
        row["disabled"] = bool(row["disabled"])
    return rows

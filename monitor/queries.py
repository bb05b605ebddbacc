"""The read side of the archive: listings and search for the CLI and other tools.

Each function returns plain dicts whose keys are the documented output fields (a public contract:
extend, never rename). JSON columns come back as lists.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlite_utils.db import Database

from monitor.errors import QueryError
from monitor.schedule import parse_duration
from monitor.schema import BLOCK_ARTICLES, STORY_OUTLETS, block_index
from monitor.search import compile_query, display_text, pair_query
from monitor.timeutil import from_iso, iso

_FEED_NAME = "coalesce(f.name, f.title, f.url)"


def parse_moment(text: str, now: datetime) -> datetime:
    """A point in time from ``--since``/``--until``: a date (2025-09-19, midnight UTC), an ISO
    8601 time, or a duration back from ``now`` (7d, 24h). Raises ValueError for the user."""
    try:
        return now - timedelta(seconds=parse_duration(text))
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a date (2025-09-19), a time (2025-09-19T08:00:00Z) "
            "nor a duration back from now (24h, 7d)"
        ) from None
    return moment.replace(tzinfo=moment.tzinfo or UTC).astimezone(UTC)


def _decode(row: dict[str, Any], *json_columns: str) -> dict[str, Any]:
    for column in json_columns:
        if row.get(column) is not None:
            row[column] = json.loads(row[column])
    return row


def _rows(db: Database, sql: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    cursor = db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# Results are ranked (or sorted by date) among the newest RANK_WINDOW matches that pass the
# filters. FTS5 scores every match it is given, so ranking all of them would make a common word
# cost time in proportion to the archive; the window keeps it flat (bench/bench_search.py
# measures both). window=0 ranks every match.
RANK_WINDOW = 1_000
SORTS = ("relevance", "date")


@dataclass(frozen=True)
class SearchResults:
    rows: list[dict[str, Any]]  # the documented search fields, best first
    window: int | None  # set when the window was full (older matches were not ranked)


def search(
    db: Database,
    query: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    feed: str | None = None,
    entity: str | None = None,
    matched: bool = False,
    story_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
    sort: str = "relevance",
    window: int = RANK_WINDOW,
) -> SearchResults:
    """Full-text search over title, summary and content (query syntax: ``monitor.search``).

    Ranked by bm25 (titles weigh most) or, with ``sort="date"``, newest first. Raises
    QueryError for a malformed query or an unknown feed.
    """
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {SORTS}")
    match = compile_query(query)
    # A query of phrases alone is found and ranked in the pair index (--matched has its own).
    pair_match = None if matched else pair_query(query)
    params: dict[str, Any] = {
        "match": pair_match or match,
        "since": iso(since),
        "until": iso(until),
        "entity": entity,
        "story_id": story_id,
        "limit": limit,
        "offset": offset,
        "window": max(window, offset + limit) if window else None,
    }
    filters = []
    if since is not None:
        filters.append(f"{_WHEN} >= :since")
    if until is not None:
        filters.append(f"{_WHEN} < :until")
    if feed is not None:
        feed_ids = ", ".join(str(i) for i in _feed_ids(db, feed))
        filters.append(
            "exists (select 1 from sightings si "
            f"where si.article_id = a.id and si.feed_id in ({feed_ids}))"
        )
    if entity is not None:
        filters.append(
            "exists (select 1 from json_each(a.entities) e where e.value = :entity collate nocase)"
        )
    if matched:
        filters.append(_MATCHED)
    if story_id is not None:
        filters.append("a.story_id = :story_id")
    with _one_snapshot(db):  # several statements, one state of the archive
        ids = _id_range(db, params)
        if ids is None:
            return SearchResults([], None)
        params["low"], params["high"] = ids
        # --matched searches the index of alert-worthy articles, which holds them all.
        whole = _ALERTS if matched else _PAIRS if pair_match else _FULL
        try:
            ranked = None
            if sort == "relevance" and window:
                if whole == _PAIRS and _window_in_recent(db, filters, params):
                    whole, params["match"] = _FULL, match
                if whole == _FULL:
                    segments, complete = _small_indexes(db, params["low"], params["high"])
                else:  # an index whose statistics stay cheap however large it grows
                    segments, complete = [_Segment(whole, params["low"], params["high"])], True
                ranked = _rank_in(db, segments, complete, filters, params)
            if ranked is not None:
                rows, full = _page(db, ranked, params, match)
            else:  # one index for every match: all ranked, a date sort, or an old window
                rows = _rows(db, _on_one_index(whole, filters, sort), params)
                full = bool(rows and rows[0]["window_full"])
                snippets = _snippets(db, match, [(whole, r["id"]) for r in rows])
                for row in rows:
                    del row["window_full"]
                    row["snippet"] = snippets.get(row["id"])
        except sqlite3.OperationalError as e:  # what our own check let through, FTS5 still refuses
            if "fts5" not in str(e):
                raise
            raise QueryError(f"search query {query!r}", str(e)) from e
    for row in rows:
        _decode(row, "entities")
        row["alert_worthy"] = bool(row["alert_worthy"])
        row["snippet"] = display_text(row["snippet"])
    return SearchResults(rows, params["window"] if full else None)


_WHEN = "coalesce(a.published, a.first_seen)"
_MATCHED = "a.alert_worthy = 1"
_FULL, _RECENT, _ALERTS = "article_search_fts", "article_recent_fts", "article_alert_fts"
_PAIRS = "article_pair_fts"
_HIT_COLUMNS = f"""a.id, a.title, a.url, a.published, {_FEED_NAME} as feed, a.story_id,
    a.entities, a.alert_worthy, a.score"""


@contextmanager
def _one_snapshot(db: Database) -> Iterator[None]:
    """A read transaction around a search's statements. It reads the ring, then the indexes it
    names; the daemon may write in between (a new block empties a slot), and each statement
    would otherwise see a different archive."""
    if db.conn.in_transaction:  # the caller's transaction is the snapshot already
        yield
        return
    db.conn.execute("begin deferred")
    try:
        yield
    finally:
        db.conn.execute("commit")


def _id_range(db: Database, params: dict[str, Any]) -> tuple[int, int] | None:
    """The lowest and highest article id that can pass --since/--until, from the time span of
    each block of ids (schema.m_issue7_search_blocks); None when no article can."""
    row = db.execute(
        f"""select min(block) * {BLOCK_ARTICLES}, (max(block) + 1) * {BLOCK_ARTICLES} - 1
        from article_blocks
        where (:since is null or latest >= :since) and (:until is null or earliest < :until)""",
        params,
    ).fetchone()
    return None if row[0] is None else (row[0], row[1])


@dataclass(frozen=True)
class _Segment:
    """An index and the ids it answers for: it holds every article in ``low``..``high``."""

    table: str
    low: int
    high: int


def _small_indexes(db: Database, low: int, high: int) -> tuple[list[_Segment], bool]:
    """The recent index, then the ring's block indexes, newest first, for ids ``high`` down
    to ``low`` or as far as they reach; and whether they reach ``low``."""
    first_recent = db.execute(f"select rowid from {_RECENT} order by rowid limit 1").fetchone()
    held = dict(db.execute("select block, slot from article_search_ring").fetchall())
    segments = []
    top = high
    if first_recent is not None and first_recent[0] <= high:
        segments.append(_Segment(_RECENT, max(low, first_recent[0]), high))
        top = first_recent[0] - 1
    while top >= low:
        block = top // BLOCK_ARTICLES
        if block not in held:
            return segments, False
        segments.append(_Segment(block_index(held[block]), max(low, block * BLOCK_ARTICLES), top))
        top = block * BLOCK_ARTICLES - 1
    return segments, True


def _window_in_recent(db: Database, filters: list[str], params: dict[str, Any]) -> bool:
    """Whether a query of phrases is better ranked in the recent index than in the pair index:
    when the window fills within the recent index and the archive reaches further back. bm25
    counts the articles holding each phrase in the whole index it ranks in: for a phrase in
    one article in ten (立讯 in Chinese news), 100,000 articles of a million in the pair
    index, against at most 2,000 in the recent index."""
    first_recent = db.execute(f"select rowid from {_RECENT} order by rowid limit 1").fetchone()
    first = db.execute("select min(id) from articles").fetchone()
    if first_recent is None or first[0] >= first_recent[0]:
        return False
    oldest, counted = db.execute(
        f"""select min(id), count(*) from (
            select fts.rowid as id {_matches(_PAIRS, filters, False)}
            order by fts.rowid desc limit :window)""",
        params,
    ).fetchone()
    return bool(counted == params["window"] and oldest >= first_recent[0])


@dataclass(frozen=True)
class _Ranked:
    hits: list[tuple[float, int, _Segment]]  # (rank, id, index it was ranked in), best first
    window_full: bool


def _rank_in(
    db: Database,
    segments: list[_Segment],
    complete: bool,
    filters: list[str],
    params: dict[str, Any],
) -> _Ranked | None:
    """The page of best matches among the newest window, ranked in the indexes that hold
    them (``segments``, newest first), so bm25 counts documents within each; None when the
    window reaches older articles than they hold (``complete``: they reach :low). Each index is
    walked newest first, scoring only matches that pass the filters, until the window is full,
    and hands back its own best page: the best of those is the page."""
    page = params["offset"] + params["limit"]
    hits: list[tuple[float, int, _Segment]] = []
    counted = 0
    for segment in segments:
        rows = db.execute(
            f"""
            with window as materialized (
                select fts.rowid as id, fts.rank as rank
                {_matches(segment.table, filters, False)}
                order by fts.rowid desc limit :remaining
            )
            select rank, id, (select count(*) from window) from window order by rank limit :page
            """,
            {
                **params,
                "low": segment.low,
                "high": segment.high,
                "remaining": params["window"] - counted,
                "page": page,
            },
        ).fetchall()
        hits.extend((rank, article_id, segment) for rank, article_id, _ in rows)
        counted += rows[0][2] if rows else 0
        if counted >= params["window"]:
            break
    else:
        if not complete:
            return None
    hits.sort(key=lambda hit: (hit[0], -hit[1]))
    return _Ranked(hits[params["offset"] : page], counted >= params["window"])


def _page(
    db: Database, ranked: _Ranked, params: dict[str, Any], match: str
) -> tuple[list[dict[str, Any]], bool]:
    """The rows for ranked hits, in their order, with their snippets."""
    ids = [article_id for _, article_id, _ in ranked.hits]
    if not ids:
        return [], ranked.window_full
    listed = ", ".join(str(int(i)) for i in ids)
    found = {
        row["id"]: row
        for row in _rows(
            db,
            f"select {_HIT_COLUMNS} from articles a join feeds f on f.id = a.feed_id "
            f"where a.id in ({listed})",
            {},
        )
    }
    snippets = _snippets(db, match, [(seg.table, i) for _, i, seg in ranked.hits])
    rows = []
    for rank, article_id, _ in ranked.hits:
        row = found[article_id]
        row["rank"] = rank
        row["snippet"] = snippets.get(article_id)
        rows.append(row)
    return rows, ranked.window_full


def _snippet(table: str) -> str:
    return f"snippet({table}, -1, '[', ']', '…', 16) as snippet"


def _matches(table: str, filters: list[str], joined: bool, *, feeds: bool = False) -> str:
    """FROM and WHERE over the index's matches with ids in :low..:high that pass the filters.

    Without filters the index alone answers: joining articles would cost a lookup per match.
    Filters read articles through the covering index, which holds every column they read
    (SQLite would not pick it for a lookup by id, and the table's row drags the article's text
    in). With --matched the few alert-worthy articles in the range are filtered first
    (``article_alerts``) and the walk only checks that a match is among them. ``joined``: the
    caller reads articles (``a``) too; ``feeds`` joins the output's feeds instead."""
    conditions = [f"fts.{table} match :match", "fts.rowid between :low and :high"]
    if _MATCHED in filters:
        passing = " and ".join(["a.id between :low and :high", *filters])
        conditions.append(
            "+fts.rowid in (select a.id from articles a indexed by article_alerts "
            f"where {passing})"  # the unary + keeps SQLite from turning IN into lookups
        )
    else:
        conditions += filters
        joined = joined or bool(filters)
    where = " and ".join(conditions)
    if not joined:
        return f"from {table} fts where {where}"
    index = "" if feeds else "indexed by article_search_filters"
    join = f"join articles a {index} on a.id = fts.rowid"
    if feeds:
        join += " join feeds f on f.id = a.feed_id"
    return f"from {table} fts {join} where {where}"


def _on_one_index(table: str, filters: list[str], sort: str) -> str:
    if sort == "relevance" and not filters:
        return _by_relevance(table)
    return _in_window(table, filters, ranked=sort == "relevance")


def _by_relevance(table: str) -> str:
    """bm25 order among the matches from the window's oldest on, with no filters to apply.
    Finding that oldest match walks the index newest first without scoring; FTS5 then scores
    only the window and hands the hits over in rank order."""
    return f"""
        with bound as (
            select case when :window is null then 0 else coalesce((
                select fts.rowid {_matches(table, [], False)}
                order by fts.rowid desc limit 1 offset :window - 1), 0) end as floor
        )
        select {_HIT_COLUMNS}, fts.rank as rank,
               (select floor from bound) > 0 as window_full
        {_matches(table, [], True, feeds=True)} and fts.rowid >= (select floor from bound)
        order by fts.rank limit :limit offset :offset
    """


def _in_window(table: str, filters: list[str], *, ranked: bool) -> str:
    """By rank (``ranked``) or newest first among the newest matches that pass the filters,
    found in one walk of the index newest first that scores only what passes (and nothing when
    sorting by date), stopping when the window is full."""
    order = "rank" if ranked else "at desc, id desc"
    return f"""
        with window as materialized (
            select fts.rowid as id, {"fts.rank" if ranked else "null"} as rank, {_WHEN} as at
            {_matches(table, filters, True)}
            order by fts.rowid desc limit coalesce(:window, -1)
        ), hits as (
            select id, rank, at from window order by {order} limit :limit offset :offset
        )
        select {_HIT_COLUMNS}, hits.rank,
               (select count(*) from window) >= :window as window_full
        from hits
        join articles a on a.id = hits.id
        join feeds f on f.id = a.feed_id
        order by {", ".join("hits." + term for term in order.split(", "))}
    """


def _snippets(db: Database, match: str, hits: list[tuple[str, int]]) -> dict[int, str]:
    """Snippets for matches (``match``: the word indexes' expression), each from the index
    given for it. One walk over an index between the lowest and the highest id costs less than
    looking each one up, since every lookup starts the query afresh. But the pair index holds
    no text, and the hits of a phrase may lie far apart: those are looked up in the full index
    (cheap once housekeeping has merged it into a few segments: 0.07 ms a hit at a million
    articles, 0.2 ms before)."""
    by_table: dict[str, list[int]] = {}
    for table, article_id in hits:
        by_table.setdefault(table, []).append(int(article_id))
    snippets: dict[int, str] = {}
    for table, ids in by_table.items():
        listed = ", ".join(str(i) for i in ids)
        if table == _PAIRS:
            table, where, bounds = _FULL, f"rowid in ({listed})", {}
        else:  # the unary + keeps SQLite from turning IN into lookups
            where = f"rowid between :low and :high and +rowid in ({listed})"
            bounds = {"low": min(ids), "high": max(ids)}
        cursor = db.execute(
            f"select rowid, {_snippet(table)} from {table} where {table} match :match and {where}",
            {"match": match, **bounds},
        )
        snippets.update(cursor.fetchall())
    return snippets


def _feed_ids(db: Database, feed: str) -> list[int]:
    """Feeds named ``feed`` (display name, feed title, URL or id)."""
    ids = [
        r[0]
        for r in db.execute(
            "select id from feeds where name = :f collate nocase or title = :f collate nocase "
            "or url = :f or cast(id as text) = :f",
            {"f": feed},
        ).fetchall()
    ]
    if not ids:
        raise QueryError(
            f"--feed {feed!r}", "no feed has this name, title, URL or id (see `monitor feeds`)"
        )
    return ids


def stories(
    db: Database,
    *,
    since: datetime | None = None,
    alerted: bool | None = None,
    limit: int = 100,
    everything: bool = False,
) -> list[dict[str, Any]]:
    """Stories, newest first: the alert-worthy ones, or with ``everything`` every cluster of
    articles (each stored article belongs to one story)."""
    where = ["1 = 1"] if everything else ["s.alert_worthy = 1"]
    if since is not None:
        where.append("s.first_published >= :since")
    if alerted is not None:
        where.append("s.alerted = :alerted")
    sql = f"""
        select s.id, s.title, s.url, s.article_count, s.outlet_count,
               s.first_published, s.first_seen, s.last_seen, s.entities, s.organisations,
               s.score, s.alert_worthy, s.alerted, s.alerted_at, s.why
        from stories s where {" and ".join(where)}
        order by s.first_published desc, s.id desc limit :limit
    """
    rows = _rows(db, sql, {"since": iso(since), "alerted": int(bool(alerted)), "limit": limit})
    for row in rows:
        _decode(row, "entities", "organisations", "why")
        row["outlets"] = [r[0] for r in db.execute(STORY_OUTLETS, [row["id"]])]
        row["alerted"] = bool(row["alerted"])
        row["alert_worthy"] = bool(row["alert_worthy"])
    return rows


def story_articles(db: Database, story_id: int) -> list[dict[str, Any]]:
    """Every copy of a story, one row per outlet that carried it (with that outlet's own link),
    earliest first. Exact duplicates are one article seen in several feeds."""
    sql = f"""
        select a.id as article_id, a.story_id,
               coalesce(si.published, a.published, si.first_seen) as published,
               {_FEED_NAME} as feed, coalesce(si.url, a.url) as url, a.title,
               si.first_seen, a.revisions, a.updated, a.alert_worthy, a.score
        from articles a join sightings si on si.article_id = a.id
        join feeds f on f.id = si.feed_id
        where a.story_id = :story_id
        order by coalesce(si.published, a.published, si.first_seen), si.feed_id
    """
    rows = _rows(db, sql, {"story_id": story_id})
    for row in rows:
        row["alert_worthy"] = bool(row["alert_worthy"])
    return rows


# What `monitor feeds` shows as a table; json, ndjson and csv carry every field of feeds().
FEED_COLUMNS = (
    "id",
    "name",
    "health",
    "last_status_code",
    "consecutive_failures",
    "last_success",
    "next_due",
    "article_count",
    "last_error",
)


def feeds(db: Database, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every feed with its health, oldest first. ``now`` dates the ``health`` summary."""
    sql = f"""
        select f.id, f.url, {_FEED_NAME} as name, f.origin, f.interval,
               case when f.auto_interval then 1 else 0 end as auto_interval, f.poll_interval,
               f.last_attempt, f.last_success, f.last_status_code, f.last_error, f.last_warning,
               f.consecutive_failures, f.next_due, f.held_until,
               case when f.enabled then 0 else 1 end as disabled, f.disabled_reason,
               f.moved_to, f.moved_at, f.etag, f.last_modified, f.ttl, f.created,
               (select count(*) from sightings si where si.feed_id = f.id) as article_count,
               (select coalesce(sum(r.copies), 0) from rejected_entries r
                 where r.feed_id = f.id) as rejected_count
        from feeds f order by f.id
    """
    rows = _rows(db, sql, {})
    for row in rows:
        row["disabled"] = bool(row["disabled"])
        row["auto_interval"] = bool(row["auto_interval"])
        row["health"] = feed_health(row, now or datetime.now(UTC))
        del row["created"]
    return rows


def feed_health(row: dict[str, Any], now: datetime) -> str:
    """One phrase for a feed's state, worst news first: disabled, failing (and for how long),
    moved, ok or not polled yet."""
    if row["disabled"]:
        return f"disabled: {row['disabled_reason'] or 'no reason recorded'}"
    if row["consecutive_failures"]:
        since = from_iso(row["last_success"] or row["created"])
        span = f" for {_span(now - since)}" if since else ""
        failures = row["consecutive_failures"]
        return f"failing{span} ({failures} attempt{'s' if failures != 1 else ''})"
    if row["moved_to"]:
        return f"ok, moved to {row['moved_to']}"
    return "ok" if row["last_success"] else "not polled yet"


def _span(delta: timedelta) -> str:
    seconds = max(int(delta.total_seconds()), 0)
    days, seconds = divmod(seconds, 86400)
    hours, seconds = divmod(seconds, 3600)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {seconds // 60}m" if hours else f"{seconds // 60}m"


def channel_deliveries(db: Database, channels: list[str]) -> list[dict[str, Any]]:
    """Per channel: stories pending (waiting for a digest), sending (in a digest not yet
    accepted), sent and failed, when it last got a digest, and the last error. Channels in the
    config come first, in its order, then any that only the database remembers."""
    sql = """
        select d.channel,
               sum(d.status = 'pending' and d.digest_id is null) as pending,
               sum(d.status = 'pending' and d.digest_id is not null) as sending,
               sum(d.status = 'sent') as sent,
               sum(d.status = 'failed') as failed,
               (select max(g.sent_at) from digests g
                 where g.channel = d.channel and g.status = 'sent') as last_sent,
               (select min(g.next_attempt) from digests g
                 where g.channel = d.channel and g.status = 'pending') as next_attempt,
               (select g.last_error from digests g where g.channel = d.channel
                 and g.status != 'sent' and g.last_error is not null
                 order by g.created desc limit 1) as last_error
        from deliveries d group by d.channel
    """
    found = {row["channel"]: row for row in _rows(db, sql, {})}
    empty = dict.fromkeys(("pending", "sending", "sent", "failed"), 0)
    rows = [
        found.pop(
            name,
            {"channel": name, **empty, "last_sent": None, "next_attempt": None, "last_error": None},
        )
        for name in channels
    ]
    return rows + sorted(found.values(), key=lambda r: r["channel"])


def digests(db: Database, *, limit: int = 50) -> list[dict[str, Any]]:
    """Digests, newest first: id, channel, lane, status, how many stories, attempts, times and
    the last error."""
    sql = """
        select id, channel, coalesce(lane, 'scheduled') as lane, status,
               json_array_length(story_ids) as stories, attempts, created, sent_at,
               next_attempt, last_error
        from digests order by created desc, id desc limit :limit
    """
    return _rows(db, sql, {"limit": limit})


def story(db: Database, story_id: int) -> dict[str, Any] | None:
    """One story with every outlet's copy (earliest first) and the channels it went to."""
    rows = _rows(
        db,
        """
        select s.id, s.title, s.url, s.first_published, s.first_seen, s.last_seen,
               s.article_count, s.entities, s.organisations, s.score, s.why,
               s.alerted, s.alerted_at
        from stories s where s.id = :id
        """,
        {"id": story_id},
    )
    if not rows:
        return None
    found = _decode(rows[0], "entities", "organisations", "why")
    found["alerted"] = bool(found["alerted"])
    found["articles"] = story_articles(db, story_id)
    found["outlets"] = list(dict.fromkeys(a["feed"] for a in found["articles"]))
    found["outlet_count"] = len(found["outlets"])
    found["deliveries"] = _rows(
        db,
        "select channel, status, digest_id, queued_at, sent_at, last_error from deliveries "
        "where story_id = :id order by channel",
        {"id": story_id},
    )
    return found


def article(db: Database, article_id: int) -> dict[str, Any] | None:
    """One article with its match (entities, score, why), its story and the feeds that
    carried it."""
    rows = _rows(
        db,
        f"""
        select a.id, a.title, a.url, a.canonical_url, a.published, a.first_seen,
               {_FEED_NAME} as feed, a.authors, a.entities, a.organisations, a.alert_worthy,
               a.score, a.why, a.story_id, s.title as story_title, a.summary
        from articles a join feeds f on f.id = a.feed_id
        left join stories s on s.id = a.story_id
        where a.id = :id
        """,
        {"id": article_id},
    )
    if not rows:
        return None
    found = _decode(rows[0], "authors", "entities", "organisations", "why")
    found["alert_worthy"] = bool(found["alert_worthy"])
    found["seen_in"] = _rows(
        db,
        f"""
        select {_FEED_NAME} as feed, f.url as feed_url, si.first_seen from sightings si
        join feeds f on f.id = si.feed_id where si.article_id = :id order by si.first_seen
        """,
        {"id": article_id},
    )
    return found


def alerted_in(db: Database, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Alerted stories first published between ``since`` and ``until``, oldest first, with
    their outlets (first reporter first)."""
    rows = _rows(
        db,
        """
        select s.id, s.title, s.url, s.first_published, s.alerted_at, s.article_count,
               s.outlet_count, s.outlet_names as outlets, s.entities, s.score
        from stories s
        where s.alerted = 1 and s.first_published >= :since and s.first_published <= :until
        order by s.first_published, s.id
        """,
        {"since": iso(since), "until": iso(until)},
    )
    for row in rows:
        _decode(row, "outlets", "entities")
        row["outlets"] = row["outlets"] or []
    return rows

"""Store stage: the SQLite archive (its schema and migrations are in ``monitor.schema``).

Everything monitor knows is in one SQLite file: feeds and their health, articles and where they were
seen, stories, the outbox of deliveries and the digests sent. The scheduler's state lives here too
(each feed's next_due), so restarts, backoff and Retry-After need no memory of their own.

Writes take plain records and return plain values; rows never leave this module except through
``monitor.queries``, the read side.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlite_utils

from monitor.bands import BandIndex
from monitor.config import ChannelConfig, FeedConfig
from monitor.errors import StorageError
from monitor.pairs import made_ahead
from monitor.records import (
    Article,
    Digest,
    DigestArticle,
    DigestStory,
    DueFeed,
    FetchResult,
    Match,
    Sketch,
    StoryCandidate,
    StoryUpdate,
    UnsentDigest,
)
from monitor.schema import migrations, register_functions
from monitor.story_store import StoryStoreMixin
from monitor.timeutil import from_iso, iso

log = logging.getLogger("monitor.store")

CACHE_KIB = 64 * 1024  # SQLite's page cache for this connection, at most
BUSY_TIMEOUT_MS = 10_000
# How many distinct feeds carried a story: its outlets, kept current by refresh_outlets.
_OUTLETS = "s.outlet_count"
# disabled_reason values that the config owns: the config may lift them again.
REMOVED_BY_COMMAND = "removed by command"  # `monitor feeds remove`; the config may lift it too
_CONFIG_REASONS = (None, "disabled in config", "removed from config", REMOVED_BY_COMMAND)


def _json(value: Iterable[Any]) -> str:
    return json.dumps(list(value), ensure_ascii=False)


# Rows per insert statement: 21 columns each, under the 999 variables SQLite allowed before 3.32.
_ARTICLES_PER_INSERT = 45


def _article_row(feed_id: int, article: Article, match: Match, now: datetime) -> dict[str, Any]:
    return {
        "feed_id": feed_id,
        "guid": article.guid,
        "url": article.url,
        "canonical_url": article.canonical_url,
        "content_hash": article.content_hash,
        "title_key": article.title_key,
        "title": article.title,
        "summary": article.summary,
        "content": article.content,
        "published": iso(article.published),
        "authors": _json(article.authors),
        "first_seen": iso(now),
        "updated": iso(now),
        **_match_columns(match),
    }


_STORED_COLUMNS = (
    "a.id, f.url, a.guid, a.title, a.url, a.canonical_url, a.summary, a.content, a.published, "
    "a.authors, a.content_hash, a.title_key, a.first_seen, a.alert_worthy, a.score, a.rules, "
    "a.channels, a.story_id, coalesce(s.alert_worthy, 0)"
)
_STORED_FROM = (
    "articles a join feeds f on f.id = a.feed_id left join stories s on s.id = a.story_id"
)


@dataclass(frozen=True)
class StoredArticle:
    """A stored article and the verdict stored with it (store → explain/reclassify)."""

    id: int
    article: Article
    first_seen: datetime | None
    alert_worthy: bool
    score: float
    rules: tuple[str, ...]
    channels: tuple[str, ...]
    story_id: int | None
    story_alerted: bool  # its story is alert-worthy, and so was queued


def _stored(row: tuple[Any, ...]) -> StoredArticle:
    article = Article(
        feed_url=row[1],
        guid=row[2],
        title=row[3] or "",
        url=row[4],
        canonical_url=row[5],
        summary=row[6] or "",
        content=row[7] or "",
        published=from_iso(row[8]),
        authors=tuple(json.loads(row[9] or "[]")),
        content_hash=row[10] or "",
        title_key=row[11] or "",
    )
    return StoredArticle(
        id=row[0],
        article=article,
        first_seen=from_iso(row[12]),
        alert_worthy=bool(row[13]),
        score=row[14] or 0.0,
        rules=tuple(json.loads(row[15] or "[]")),
        channels=tuple(json.loads(row[16] or "[]")),
        story_id=row[17],
        story_alerted=bool(row[18]),
    )


def _event_json(match: Match) -> str | None:
    """The event as JSON, each dataclass an object of its fields: what ``asdict`` gives, without
    its deep copy of every value (a measurable share of the store thread, twice per article)."""
    if match.event is None:
        return None
    return json.dumps(match.event, ensure_ascii=False, default=_fields)


def _fields(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in fields(record)}


def _match_columns(match: Match) -> dict[str, Any]:
    """The articles columns that hold a verdict of the matcher (stored, and re-stored by
    ``monitor reclassify``)."""
    return {
        "entities": _json(match.entities),
        "organisations": _json(match.organisations),
        "alert_worthy": int(match.alert_worthy),
        "score": match.score,
        "why": _json(match.why),
        "event": _event_json(match),
        "rules": _json(match.rules),
        "channels": _json(match.channels),
    }


class _ImmediateConnection(sqlite3.Connection):
    """A connection whose explicit transactions take the write lock up front.

    sqlite-utils opens transactions with a plain (deferred) BEGIN. Two processes write this file
    (the daemon, and commands such as `monitor feeds add`); a deferred transaction that read
    before the other process committed cannot upgrade to a write and fails at once with
    "database is locked", whatever the busy timeout. BEGIN IMMEDIATE waits for the lock instead.
    """

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if sql.strip().rstrip(";").upper() == "BEGIN":
            sql = "BEGIN IMMEDIATE"
        return super().execute(sql, parameters)


class Store(StoryStoreMixin):
    """The archive. Open with ``Store.open(path)``; every method is one short transaction."""

    def __init__(self, db: sqlite_utils.Database, path: str) -> None:
        self.db = db
        self.path = path
        self.bands = BandIndex(db)

    @classmethod
    def open(cls, path: str | Path) -> Store:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # The daemon's jobs run in a scheduler worker thread, one job at a time (the
            # executor has a single worker), so the connection is never used concurrently.
            conn = sqlite3.connect(
                path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                check_same_thread=False,
                factory=_ImmediateConnection,
            )
            db = sqlite_utils.Database(conn)
            db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            with db.ensure_autocommit_on():
                db.execute("PRAGMA journal_mode = wal")
            # In WAL mode NORMAL syncs at checkpoints, not at every commit: a crashed process
            # loses nothing, and a power cut can lose only the last polls, which the next poll
            # fetches again (their ETags roll back with them). A poll of a thousand feeds
            # commits a thousand times, and an fsync each cost more than storing the articles.
            # What must survive a power cut too (the outbox) commits with ``durable()``.
            db.execute("PRAGMA synchronous = NORMAL")
            # The near-duplicate index takes random keys: a cold poll touches most of its
            # pages, and the default 2 MB cache spills them to the WAL over and over.
            db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
            db.execute("PRAGMA foreign_keys = ON")
            register_functions(db)
            migrations.apply(db)
        except (sqlite3.Error, OSError) as e:
            raise StorageError(str(path), f"cannot open database: {e}") from e
        return cls(db, str(path))

    def close(self) -> None:
        try:
            self.bands.flush()
        except sqlite3.Error as e:  # the keys are rebuilt from the sketches on the next open
            log.warning("near-duplicate keys not written at close: %s", e)
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        try:
            with self.db.atomic():
                yield
        except BaseException:
            self.bands.forget_unsaved()  # it may hold keys the rollback took back
            raise

    @contextmanager
    def durable(self) -> Iterator[None]:
        """A transaction synced to disk when it commits, with everything committed before it:
        for the delivery records, so that not even a power cut sends a digest twice. Inside
        another transaction it is a savepoint (SQLite fixes the sync level per transaction)."""
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield
            return
        self.db.execute("PRAGMA synchronous = FULL")
        try:
            with self.db.atomic():
                yield
        finally:
            self.db.execute("PRAGMA synchronous = NORMAL")

    def schema_version(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

    # --- feeds

    def sync_feeds(self, feeds: Iterable[FeedConfig], now: datetime) -> None:
        """Make the feeds table agree with the config: add new feeds (due at once), update names
        and intervals, and disable config feeds that were removed from it. Writes only what
        changed, so calling it on every poll tick costs one read."""
        wanted = {f.url: f for f in feeds}
        rows = {r["url"]: r for r in self.db.table("feeds").rows}
        with self.db.atomic():
            for url, feed in wanted.items():
                row = rows.get(url)
                values: dict[str, Any] = {
                    "name": feed.name,
                    "interval": feed.interval,
                    "auto_interval": int(feed.auto_interval),
                    "origin": "config",
                }
                if row is None or row["disabled_reason"] in _CONFIG_REASONS:
                    values["enabled"] = int(feed.enabled)
                    values["disabled_reason"] = None if feed.enabled else "disabled in config"
                # else: disabled for a reason of its own (e.g. 410 Gone), which stays
                if row is None:
                    self.db.table("feeds").insert(
                        {
                            **values,
                            "url": url,
                            "consecutive_failures": 0,
                            "next_due": iso(now),
                            "created": iso(now),
                        }
                    )
                elif any(row[k] != v for k, v in values.items()):
                    self._update("feeds", row["id"], values)
            for url, row in rows.items():
                if url not in wanted and row["origin"] == "config" and row["enabled"]:
                    self._update(
                        "feeds", row["id"], {"enabled": 0, "disabled_reason": "removed from config"}
                    )

    def due_feeds(self, now: datetime, *, force: bool = False) -> list[DueFeed]:
        """Enabled feeds due now. ``force`` ignores the polling interval but not a server's
        Retry-After or error backoff (held_until)."""
        where = "enabled = 1 and (held_until is null or held_until <= :now)"
        if not force:
            where += " and (next_due is null or next_due <= :now)"
        return [
            DueFeed(
                r["id"],
                r["moved_to"] or r["url"],  # a feed that moved (301/308) is fetched where it went
                r["name"] or r["title"],
                r["interval"],
                r["etag"],
                r["last_modified"],
                r["consecutive_failures"],
                auto_interval=bool(r["auto_interval"]),
                ttl=r["ttl"],
            )
            for r in self.db.table("feeds").rows_where(where, {"now": iso(now)}, order_by="id")
        ]

    def known_guids(self, feed_id: int) -> frozenset[str]:
        """The entry ids this feed has carried before (its sightings)."""
        rows = self.db.execute("select guid from sightings where feed_id = ?", [feed_id])
        return frozenset(guid for (guid,) in rows)

    def recent_entry_times(self, feed_id: int, limit: int = 10) -> list[datetime]:
        """When the feed's latest entries appeared: published, but never later than first seen
        (a feed's future dates are not believed), newest first."""
        rows = self.db.execute(
            "select min(coalesce(a.published, si.first_seen), si.first_seen) as t "
            "from sightings si join articles a on a.id = si.article_id "
            "where si.feed_id = ? order by t desc limit ?",
            [feed_id, limit],
        ).fetchall()
        return [when for (text,) in rows if (when := from_iso(text)) is not None]

    def reject_entries(
        self, feed_id: int, guid: str, copies: int, reason: str, now: datetime
    ) -> None:
        """Record ``copies`` entries with one id that a body carried and that were not stored.
        Seeing the same body again records nothing new."""
        self.db.execute(
            "insert into rejected_entries (feed_id, guid, reason, copies, first_seen) "
            "values (?, ?, ?, ?, ?) on conflict (feed_id, guid) "
            "do update set copies = max(copies, excluded.copies)",
            [feed_id, guid, reason, copies, iso(now)],
        )

    def body_unchanged(self, feed_id: int, body: bytes) -> bool:
        stored: str | None = self._row("feeds", feed_id)["body_hash"]
        return stored == _body_hash(body)

    def record_success(
        self,
        feed: DueFeed,
        result: FetchResult,
        now: datetime,
        next_due: datetime,
        *,
        title: str | None = None,
        warning: str | None = None,
        ttl: int | None = None,
        poll_interval: int | None = None,
    ) -> None:
        """Record a successful fetch. ``title``, ``warning`` and ``ttl`` come from a parsed body
        (none when it was not modified). A permanent redirect moves the feed only here, once its
        new address served a feed: a 301 to a parked domain's HTML page moves nothing."""
        values: dict[str, Any] = {
            "last_attempt": iso(now),
            "last_success": iso(now),
            "last_status_code": result.status_code,
            "last_error": None,
            "consecutive_failures": 0,
            "next_due": iso(next_due),
            "held_until": None,
            "poll_interval": poll_interval,
        }
        if not result.not_modified:
            values["etag"] = result.headers.get("etag")
            values["last_modified"] = result.headers.get("last-modified")
            values["last_warning"] = warning
            values["ttl"] = ttl
            if result.body is not None:
                values["body_hash"] = _body_hash(result.body)
        if result.permanent_url and result.permanent_url != feed.url:
            values.update(moved_to=result.permanent_url, moved_at=iso(now))
        if title:
            values["title"] = title
        self._update("feeds", feed.id, values)

    def record_failure(
        self,
        feed: DueFeed,
        now: datetime,
        error: str,
        status_code: int | None,
        next_due: datetime,
        *,
        disable: bool,
        poll_interval: int | None = None,
    ) -> None:
        values: dict[str, Any] = {
            "last_attempt": iso(now),
            "last_status_code": status_code,
            "last_error": error,
            "consecutive_failures": feed.consecutive_failures + 1,
            "next_due": iso(next_due),
            "held_until": iso(next_due),
            "poll_interval": poll_interval,
        }
        if disable:
            values.update(enabled=0, disabled_reason=error)
        self._update("feeds", feed.id, values)

    # --- articles

    def sighting_known(self, feed_id: int, guid: str) -> bool:
        return bool(
            self.db.execute(
                "select 1 from sightings where feed_id = ? and guid = ?", [feed_id, guid]
            ).fetchone()
        )

    def find_article(self, article: Article) -> int | None:
        """An article already stored with the same content hash, or under the same canonical link
        with the same title. A link alone is not enough: podcast and link-blog feeds give many
        different entries one link (the show's or the site's home page)."""
        row = self.db.execute(
            "select id from articles where content_hash = :hash "
            "or (canonical_url = :url and title_key = :title_key) order by id limit 1",
            {
                "url": article.canonical_url,
                "hash": article.content_hash,
                "title_key": article.title_key,
            },
        ).fetchone()
        return row[0] if row else None

    def add_sighting(
        self,
        feed_id: int,
        guid: str,
        article_id: int,
        now: datetime,
        *,
        url: str | None = None,
        published: datetime | None = None,
    ) -> None:
        """One more feed carried the article, under its own link (``url``, as that feed gave it)."""
        self._insert_sighting(feed_id, guid, article_id, now, url, published)
        story_id = self.db.execute(
            "select story_id from articles where id = ?", [article_id]
        ).fetchone()[0]
        self.refresh_outlets(story_id, now)

    def _insert_sighting(
        self,
        feed_id: int,
        guid: str,
        article_id: int,
        now: datetime,
        url: str | None,
        published: datetime | None,
    ) -> None:
        self._insert(
            "sightings",
            {
                "feed_id": feed_id,
                "guid": guid,
                "article_id": article_id,
                "first_seen": iso(now),
                "url": url,
                "published": iso(published),
            },
            ignore=True,
        )

    def prefer_earlier_copy(self, article_id: int, feed_id: int, copy: Article) -> None:
        """A copy of a stored article published earlier than it is the original: the article,
        and its story when the story is told by it, take the copy's link, date and feed. Feeds
        are stored in the order their fetches finish, and what the archive shows must not
        depend on that: copies published at the same moment go to the feed configured first."""
        row = self._row("articles", article_id)
        stored = from_iso(row["published"])
        if copy.published is None or (
            stored is not None and (stored, row["feed_id"]) <= (copy.published, feed_id)
        ):
            return
        self._update(
            "articles",
            article_id,
            {
                "url": copy.url,
                "canonical_url": copy.canonical_url,
                "published": iso(copy.published),
                "feed_id": feed_id,
            },
        )
        if row["story_id"] is None:
            return
        story = self._row("stories", row["story_id"])
        values: dict[str, Any] = {}
        if story["article_id"] == article_id or story["url"] == row["url"]:
            values["url"] = copy.url
        first = from_iso(story["first_published"])
        if first is None or copy.published < first:
            values["first_published"] = iso(copy.published)
        if values:
            self._update("stories", row["story_id"], values)
        if "first_published" in values:
            before = (story["organisations"], story["first_published"])
            self.index_story_organisations(row["story_id"], before)

    def add_article(
        self,
        feed_id: int,
        article: Article,
        match: Match,
        now: datetime,
        sketch: Sketch | None = None,
    ) -> int:
        (article_id,) = self.insert_articles(feed_id, [(article, match)], now)
        self.record_new_article(feed_id, article_id, article, now, sketch)
        return article_id

    def insert_articles(
        self,
        feed_id: int,
        articles: Sequence[tuple[Article, Match]],
        now: datetime,
        pairs: Iterable[Mapping[str, str]] = (),
    ) -> list[int]:
        """Insert new articles of one feed (distinct ids) in as few statements as SQLite
        allows, and return their ids in order. Their sketches and sightings come next, one
        article at a time (``record_new_article``). ``pairs``: what ``schema.pair_texts``
        made of (some of) them, for the pair index.

        Why together: an insert whose triggers fill the search indexes opens a statement
        savepoint, and FTS5 writes out its pending postings at every savepoint. Row by row,
        each article became a tiny segment in each of five indexes, to be merged again later:
        inserting a feed's articles in one statement halved what an insert costs."""
        rows = [_article_row(feed_id, article, match, now) for article, match in articles]
        ids: list[int] = []
        # In a transaction even when the caller has none: the new rows are told by their ids.
        with self.transaction(), made_ahead(pairs):
            for start in range(0, len(rows), _ARTICLES_PER_INSERT):
                ids.extend(self._insert_rows(rows[start : start + _ARTICLES_PER_INSERT]))
        return ids

    def _insert_rows(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert article rows with one statement; their ids, in order. SQLite gives a new row an
        id above every id in the table, and this runs holding the write lock, so the new rows
        are the ones above the largest id before (no RETURNING: it needs SQLite 3.35)."""
        (before,) = self.db.execute("select coalesce(max(id), 0) from articles").fetchone()
        columns = ", ".join(f'"{c}"' for c in rows[0])
        marks = ", ".join(["(" + ", ".join("?" * len(rows[0])) + ")"] * len(rows))
        self.db.execute(
            f"insert into articles ({columns}) values {marks}",
            [value for row in rows for value in row.values()],
        )
        id_of = dict(self.db.execute("select guid, id from articles where id > ?", [before]))
        return [id_of[row["guid"]] for row in rows]

    def record_new_article(
        self,
        feed_id: int,
        article_id: int,
        article: Article,
        now: datetime,
        sketch: Sketch | None,
    ) -> None:
        """The sketch (when there is one) and the first sighting of an article just inserted."""
        # A new article has no sketch to replace, and no story yet whose outlets would change.
        if sketch is not None:
            self.index_sketch(article_id, article.published or now, sketch)
        self._insert_sighting(
            feed_id, article.guid, article_id, now, article.url, article.published
        )

    # Row access by id for the per-article path. sqlite-utils' Table.insert/update/get look the
    # schema up on every call (sqlite_master, PRAGMA table_info, and a get before each update):
    # on a cold poll that was a third of the store thread's time, and the store thread is the
    # poll's bottleneck. Column names come from our own code, never from input.

    def _insert(self, table: str, row: dict[str, Any], *, ignore: bool = False) -> int:
        columns = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        verb = "insert or ignore" if ignore else "insert"
        cursor = self.db.execute(
            f'{verb} into "{table}" ({columns}) values ({marks})', list(row.values())
        )
        return int(cursor.lastrowid or 0)

    def _update(self, table: str, row_id: int | str, values: dict[str, Any]) -> None:
        assignments = ", ".join(f'"{c}" = ?' for c in values)
        cursor = self.db.execute(
            f'update "{table}" set {assignments} where id = ?', [*values.values(), row_id]
        )
        if cursor.rowcount != 1:
            raise StorageError(self.path, f"{table} {row_id}: no such row to update")

    def _row(self, table: str, row_id: int | str) -> dict[str, Any]:
        cursor = self.db.execute(f'select * from "{table}" where id = ?', [row_id])
        values = cursor.fetchone()
        if values is None:
            raise StorageError(self.path, f"{table} {row_id}: no such row")
        return dict(zip((d[0] for d in cursor.description), values, strict=True))

    # --- re-reading stored articles (explain, reclassify)

    def stored_article(self, article_id: int) -> StoredArticle | None:
        row = self.db.execute(
            f"select {_STORED_COLUMNS} from {_STORED_FROM} where a.id = ?",
            [article_id],
        ).fetchone()
        return None if row is None else _stored(row)

    def articles_since(self, since: datetime | None) -> list[StoredArticle]:
        """Stored articles published (else first seen) at or after ``since``, oldest first."""
        return [
            _stored(row)
            for row in self.db.execute(
                f"select {_STORED_COLUMNS} from {_STORED_FROM} "
                "where coalesce(a.published, a.first_seen) >= ? "
                "order by coalesce(a.published, a.first_seen), a.id",
                [iso(since) if since else ""],
            ).fetchall()
        ]

    def update_match(self, article_id: int, match: Match, now: datetime) -> None:
        """Record a re-run of the matcher on a stored article (``monitor reclassify``)."""
        self._update(
            "articles",
            article_id,
            {
                **_match_columns(match),
                "updated": iso(now),
            },
        )

    # --- stories

    def story_candidates(self, since: datetime, until: datetime) -> list[StoryCandidate]:
        """Stories whose first article was published between ``since`` and ``until``."""
        rows = self.db.execute(
            "select id, organisations, first_published, title from stories "
            "where first_published between ? and ?",
            [iso(since), iso(until)],
        ).fetchall()
        return [
            StoryCandidate(r[0], frozenset(json.loads(r[1])), from_iso(r[2]) or since, r[3])
            for r in rows
        ]

    def create_story(
        self,
        article_id: int,
        article: Article,
        match: Match,
        published: datetime,
        now: datetime,
        anchors: frozenset[str] = frozenset(),
    ) -> int:
        """A new story told by this article; alert-worthy only once ``mark_alert_worthy``.
        Written whole: a story of one article needs none of ``join_story``'s merging (most
        articles start a story, so this is the common path of a poll)."""
        story_id = self._insert(
            "stories",
            {
                "title": article.title,
                "url": article.url,
                "first_published": iso(published),
                "first_seen": iso(now),
                "last_seen": iso(now),
                "article_count": 1,
                "entities": _json(sorted(set(match.entities))),
                "organisations": _json(sorted(set(match.organisations))),
                "score": match.score,
                "why": _json(match.why),
                "event": _event_json(match),
                "alerted": 0,
                "alert_worthy": 0,
                "anchors": _json(sorted(anchors)),
                "article_id": article_id,
            },
        )
        self._update("articles", article_id, {"story_id": story_id})
        self.add_story_organisations(story_id, match.organisations, iso(published))
        self.refresh_outlets(story_id, now)
        return story_id

    def join_story(
        self,
        story_id: int,
        article_id: int,
        match: Match,
        published: datetime,
        now: datetime,
        anchors: frozenset[str] = frozenset(),
    ) -> None:
        story = self._row("stories", story_id)
        entities = sorted(set(json.loads(story["entities"])) | set(match.entities))
        all_anchors = sorted(set(json.loads(story["anchors"] or "[]")) | anchors)
        organisations = sorted(set(json.loads(story["organisations"])) | set(match.organisations))
        self._update("articles", article_id, {"story_id": story_id})
        first = from_iso(story["first_published"]) or published
        if self._tells_it_better(story["article_id"], article_id, match, published):
            article = self._row("articles", article_id)
            self._update(
                "stories",
                story_id,
                {
                    "title": article["title"],
                    "url": article["url"],
                    "why": _json(match.why),
                    "event": _event_json(match),
                    "article_id": article_id,
                },
            )
        first = min(first, published)
        self._update(
            "stories",
            story_id,
            {
                "entities": _json(entities),
                "organisations": _json(organisations),
                "anchors": _json(all_anchors),
                "score": max(story["score"] or 0.0, match.score),
                "last_seen": iso(now),
                "first_published": iso(first),
                "article_count": self.db.execute(
                    "select count(*) from articles where story_id = ?", [story_id]
                ).fetchone()[0],
            },
        )
        if (
            organisations != json.loads(story["organisations"])
            or iso(first) != story["first_published"]
        ):
            self.index_story_organisations(
                story_id, (story["organisations"], story["first_published"])
            )
        self.refresh_outlets(story_id, now)

    def _tells_it_better(
        self, representative: int | None, article_id: int, match: Match, published: datetime
    ) -> bool:
        """Whether the joining article should title the story: an alert-worthy article over
        one that is not (its "why" explains the alert), then whoever broke the story."""
        if representative is None or representative == article_id:
            return representative is None
        row = self.db.execute(
            "select alert_worthy, published from articles where id = ?", [representative]
        ).fetchone()
        current = (bool(row[0]), from_iso(row[1]) or published) if row else (False, published)
        return (match.alert_worthy, current[1]) > (current[0], published)

    # --- outbox and digests

    def queue_deliveries(
        self, story_id: int, channels: Iterable[ChannelConfig | str], now: datetime
    ) -> int:
        """Put the story in the outbox of each channel given, once per channel; returns how many
        were queued. The caller picks the channels: every configured one (``pipeline.ingest``), or
        the ones a rule routes the story to."""
        queued = 0
        for channel in channels:
            name = channel if isinstance(channel, str) else channel.name
            queued += self.db.execute(
                "insert or ignore into deliveries (story_id, channel, status, queued_at) "
                "values (?, ?, 'pending', ?)",
                [story_id, name, iso(now)],
            ).rowcount
        return queued

    def last_sent(
        self, channel: str, lanes: tuple[str, ...] = ("scheduled", "manual")
    ) -> datetime | None:
        """When the channel last got a digest in one of ``lanes`` (old digests have no lane)."""
        marks = ",".join("?" * len(lanes))
        row = self.db.execute(
            "select max(sent_at) from digests where channel = ? and status = 'sent' "
            f"and coalesce(lane, 'scheduled') in ({marks})",
            [channel, *lanes],
        ).fetchone()
        return from_iso(row[0])

    def sent_since(self, channel: str, lane: str, since: datetime) -> int:
        """How many digests of ``lane`` the channel accepted since ``since``."""
        row = self.db.execute(
            "select count(*) from digests where channel = ? and status = 'sent' "
            "and lane = ? and sent_at > ?",
            [channel, lane, iso(since)],
        ).fetchone()
        return int(row[0])

    def oldest_pending(self, channel: str) -> datetime | None:
        row = self.db.execute(
            "select min(queued_at) from deliveries where channel = ? and status = 'pending' "
            "and digest_id is null",
            [channel],
        ).fetchone()
        return from_iso(row[0])

    def unsent_digest(self, channel: str) -> UnsentDigest | None:
        """A digest made earlier and not yet accepted by the channel: it goes out again as it is,
        with the same id, so a receiver can recognise the resend."""
        row = self.db.execute(
            "select id, created, story_ids, coalesce(lane, 'scheduled'), payload, next_attempt, "
            "attempts from digests where channel = ? and status = 'pending' "
            "order by created, id limit 1",
            [channel],
        ).fetchone()
        if row is None:
            return None
        return UnsentDigest(
            digest_id=row[0],
            created=from_iso(row[1]) or datetime.min,
            story_ids=tuple(json.loads(row[2])),
            lane=row[3],
            payload=json.loads(row[4]) if row[4] else None,
            next_attempt=from_iso(row[5]),
            attempts=row[6],
        )

    def pending_stories(self, channel: str) -> list[tuple[int, float]]:
        """(story id, score) of the stories waiting for the channel's next digest, best first:
        by score, then by how many outlets carry the story."""
        return [
            (r[0], r[1] or 0.0)
            for r in self.db.execute(
                f"select d.story_id, s.score, {_OUTLETS} as outlets "
                "from deliveries d join stories s on s.id = d.story_id "
                "where d.channel = ? and d.status = 'pending' and d.digest_id is null "
                "order by s.score desc, outlets desc, s.first_published, s.id",
                [channel],
            ).fetchall()
        ]

    def pending_story_ids(self, channel: str) -> list[int]:
        return [story_id for story_id, _ in self.pending_stories(channel)]

    def story_updates(
        self, channel: str, exclude: Iterable[int] = (), limit: int = 20
    ) -> list[StoryUpdate]:
        """Stories the channel was told of that more outlets have reported since, those that
        grew most first; at most ``limit`` (the rest wait for a later digest)."""
        skip = set(exclude)
        rows = self.db.execute(
            f"select s.id, s.title, s.url, {_OUTLETS} as outlets, d.outlets_reported "
            "from deliveries d join stories s on s.id = d.story_id "
            "where d.channel = ? and d.status = 'sent' and d.outlets_reported is not null "
            "and s.last_seen > d.sent_at and outlets > d.outlets_reported "
            "order by outlets - d.outlets_reported desc, s.id",
            [channel],
        ).fetchall()
        updates = [StoryUpdate(r[0], r[1], r[2], r[3], r[4]) for r in rows if r[0] not in skip]
        return updates[:limit]

    def open_digest(self, digest: Digest, payload: dict[str, Any]) -> None:
        """Record a digest before it is sent and take its stories out of the pending queue, so a
        crash at any later moment resends this same digest (its payload is kept verbatim)."""
        story_ids = [s.story_id for s in digest.stories]
        with self.durable():
            self.db.table("digests").insert(
                {
                    "id": digest.digest_id,
                    "channel": digest.channel,
                    "created": iso(digest.created),
                    "status": "pending",
                    "story_ids": json.dumps(story_ids),
                    "attempts": 0,
                    "lane": digest.lane,
                    "payload": json.dumps(payload, ensure_ascii=False),
                    "updates": json.dumps([[u.story_id, u.outlets] for u in digest.updates]),
                }
            )
            marks = ",".join("?" * len(story_ids))
            self.db.execute(
                f"update deliveries set digest_id = ? where channel = ? and status = 'pending' "
                f"and digest_id is null and story_id in ({marks})",
                [digest.digest_id, digest.channel, *story_ids],
            )

    def record_digest_sent(
        self, digest_id: str, now: datetime, reported: Mapping[int, int] | None = None
    ) -> None:
        """The channel accepted the digest: its stories leave the outbox, in one transaction.
        ``reported``: story id -> outlets the digest named, for later "now reported by" lines."""
        with self.durable():
            channel = self._row("digests", digest_id)["channel"]
            self._update(
                "digests", digest_id, {"status": "sent", "sent_at": iso(now), "next_attempt": None}
            )
            self.db.execute(
                "update deliveries set status = 'sent', sent_at = ?, last_error = null "
                "where digest_id = ?",
                [iso(now), digest_id],
            )
            for story_id, outlets in (reported or {}).items():
                self.db.execute(
                    "update deliveries set outlets_reported = ? where channel = ? and story_id = ?",
                    [outlets, channel, story_id],
                )
            self.db.execute(
                "update stories set alerted = 1, alerted_at = coalesce(alerted_at, ?) "
                "where id in (select story_id from deliveries where digest_id = ?)",
                [iso(now), digest_id],
            )

    def record_digest_failed(
        self,
        digest_id: str,
        error: str,
        *,
        permanent: bool,
        next_attempt: datetime | None = None,
    ) -> None:
        """A failed attempt: kept pending until ``next_attempt``, or failed for good."""
        status = "failed" if permanent else "pending"
        with self.durable():
            self.db.execute(
                "update digests set attempts = attempts + 1, last_error = ?, status = ?, "
                "next_attempt = ? where id = ?",
                [error, status, None if permanent else iso(next_attempt), digest_id],
            )
            self.db.execute(
                "update deliveries set last_error = ?, status = ? where digest_id = ?",
                [error, status, digest_id],
            )

    def digest_attempts(self, digest_id: str) -> int:
        return int(self._row("digests", digest_id)["attempts"])

    def requeue_digests(self, digest_id: str | None = None) -> list[str]:
        """Failed digests (one, or all) go back to pending, and pending ones waiting out a retry
        backoff become due now. Each keeps its id, so the receiver can still recognise it."""
        where = "status in ('failed', 'pending')" + (" and id = ?" if digest_id else "")
        with self.db.atomic():
            ids = [
                r[0]
                for r in self.db.execute(
                    f"select id from digests where {where} order by created, id",
                    [digest_id] if digest_id else [],
                )
            ]
            for requeued in ids:
                self.db.execute(
                    "update digests set status = 'pending', next_attempt = null where id = ?",
                    [requeued],
                )
                self.db.execute(
                    "update deliveries set status = 'pending' where digest_id = ?", [requeued]
                )
        return ids

    def digest_stories(self, story_ids: list[int]) -> list[DigestStory]:
        """Stories with every outlet's copy, in the order given."""
        stories = []
        for story_id in story_ids:
            s = self._row("stories", story_id)
            articles = [
                DigestArticle(r[0], r[1], r[2], from_iso(r[3]))
                for r in self.db.execute(
                    "select a.title, coalesce(si.url, a.url), coalesce(f.name, f.title, f.url), "
                    "coalesce(si.published, a.published, si.first_seen) "
                    "from articles a join sightings si on si.article_id = a.id "
                    "join feeds f on f.id = si.feed_id where a.story_id = ? "
                    "order by coalesce(si.published, a.published, si.first_seen), f.id",
                    [story_id],
                )
            ]
            stories.append(
                DigestStory(
                    story_id=story_id,
                    title=s["title"],
                    url=s["url"],
                    entities=tuple(json.loads(s["entities"])),
                    score=s["score"] or 0.0,
                    why=tuple(json.loads(s["why"])),
                    articles=tuple(articles),
                )
            )
        return stories


def _body_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()

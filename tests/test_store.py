"""Tests of the SQLite archive, against a real database file in tmp_path."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from monitor import queries
from monitor.config import ChannelConfig, FeedConfig, load_config_text
from monitor.delivery import digest_id
from monitor.digest import payload
from monitor.match import match_article
from monitor.normalise import fold, normalise
from monitor.pipeline import watchlist_of
from monitor.records import (
    Article,
    Digest,
    DigestArticle,
    DigestStory,
    DueFeed,
    Entry,
    FetchResult,
    Match,
)
from monitor.schedule import parse_schedule
from monitor.schema import migrations
from monitor.sketch import sketch_article
from monitor.store import Store, _event_json

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Every migration defined, in order (sqlite-utils keeps them in a list it does not expose).
ALL_MIGRATIONS = [m.name for m in migrations._migrations]
FEED_A = "https://feeds.example.com/a.xml"
FEED_B = "https://feeds.example.com/b.xml"
FEED_C = "https://feeds.example.com/c.xml"


def make_article(
    n: int,
    *,
    title: str | None = None,
    feed_url: str = FEED_A,
    canonical_url: str | None = "",
    content_hash: str | None = None,
    published: datetime | None = NOW,
) -> Article:
    """The n-th article; each part unique to n unless given."""
    url = f"https://news.example.com/story-{n}"
    title = title or f"Story {n}"
    return Article(
        feed_url=feed_url,
        guid=f"guid-{n}",
        title=title,
        url=f"{url}?utm_source=rss",
        canonical_url=url if canonical_url == "" else canonical_url,
        summary=f"Summary {n}",
        content=f"Content {n}",
        published=published,
        authors=("A. Writer",),
        content_hash=content_hash or "v1:" + hashlib.sha256(f"story {n}".encode()).hexdigest(),
        title_key=fold(title),
    )


def make_match(
    entities: tuple[str, ...] = ("OpenAI",),
    organisations: tuple[str, ...] = ("OpenAI", "Luxshare"),
    *,
    score: float = 0.8,
    why: tuple[str, ...] = ("names OpenAI and Luxshare",),
) -> Match:
    return Match(
        entities=entities,
        organisations=organisations,
        alert_worthy=True,
        score=score,
        why=why,
    )


def channel(name: str = "team") -> ChannelConfig:
    return ChannelConfig(name=name, type="file", schedule=parse_schedule("immediate"), path="out")


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "monitor.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    s = Store.open(db_path)
    yield s
    s.close()


def feed_row(store: Store, url: str) -> dict[str, object]:
    rows = list(store.db.table("feeds").rows_where("url = ?", [url]))
    assert len(rows) == 1
    return rows[0]


def one_feed(store: Store, url: str = FEED_A, now: datetime = NOW) -> DueFeed:
    """Sync a single config feed and return it as due."""
    store.sync_feeds([FeedConfig(url, "Feed A", 900)], now)
    [feed] = store.due_feeds(now)
    return feed


# --- opening


def test_migrations_applied_once(db_path: Path) -> None:
    Store.open(db_path).close()
    store = Store.open(db_path)
    try:
        assert store.schema_version() == ALL_MIGRATIONS
    finally:
        store.close()


def test_journal_mode_is_wal(store: Store, db_path: Path) -> None:
    assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert Path(f"{db_path}-wal").exists()


def test_polls_commit_without_a_sync_and_the_outbox_commits_with_one(store: Store) -> None:
    """A poll's commit need not reach the disk (the next poll fetches it again); a sent digest
    must, or a power cut would send it twice."""
    first, second = stories_for_outbox(store, 2)
    store.queue_deliveries(first, [channel("team")], NOW)
    store.queue_deliveries(second, [channel("team")], NOW)
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    opened = open_digest(store, "team", NOW)
    assert opened is not None
    store.record_digest_sent(opened[0], NOW)
    store.db.conn.set_trace_callback(None)

    levels = [s.split("=")[1].strip() for s in statements if "synchronous" in s.lower()]
    assert levels == ["FULL", "NORMAL", "FULL", "NORMAL"]  # around each of the two commits
    assert store.db.execute("pragma synchronous").fetchone()[0] == 1  # NORMAL
    with store.transaction():  # nested: a savepoint, the enclosing commit decides
        store.record_digest_sent(opened[0], NOW)


def test_open_creates_missing_parent_folders(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "deep" / "er" / "monitor.db")
    try:
        assert store.schema_version() == ALL_MIGRATIONS
    finally:
        store.close()


def test_second_store_reads_while_first_holds_a_write_transaction(
    store: Store, db_path: Path
) -> None:
    store.sync_feeds([FeedConfig(FEED_A, "Feed A", 900)], NOW)
    with store.transaction():
        store.sync_feeds([FeedConfig(FEED_A, "Renamed", 900)], NOW)  # takes the write lock
        other = Store.open(db_path)
        try:
            due = other.due_feeds(NOW)
            assert other.schema_version() == ALL_MIGRATIONS
        finally:
            other.close()

    assert [f.name for f in due] == ["Feed A"]  # the other reader sees the last commit


# --- feeds


def test_sync_feeds_adds_new_feeds_due_now(store: Store) -> None:
    store.sync_feeds([FeedConfig(FEED_A, "Feed A", 900), FeedConfig(FEED_B, None, 600)], NOW)

    due = store.due_feeds(NOW)

    assert due == [
        DueFeed(due[0].id, FEED_A, "Feed A", 900, None, None, 0),
        DueFeed(due[1].id, FEED_B, None, 600, None, None, 0),
    ]
    assert store.due_feeds(NOW - timedelta(seconds=1)) == []


def test_sync_feeds_updates_names_and_intervals(store: Store) -> None:
    store.sync_feeds([FeedConfig(FEED_A, "Feed A", 900)], NOW)
    store.sync_feeds([FeedConfig(FEED_A, "Feed A, renamed", 3600)], NOW)

    [feed] = store.due_feeds(NOW)

    assert (feed.name, feed.interval) == ("Feed A, renamed", 3600)


def test_sync_feeds_adds_feed_disabled_in_config_as_disabled(store: Store) -> None:
    store.sync_feeds([FeedConfig(FEED_A, "Feed A", 900, enabled=False)], NOW)

    row = feed_row(store, FEED_A)

    assert (row["enabled"], row["disabled_reason"]) == (0, "disabled in config")
    assert store.due_feeds(NOW, force=True) == []


def test_feed_removed_from_config_is_disabled_and_comes_back_enabled(store: Store) -> None:
    a, b = FeedConfig(FEED_A, "Feed A", 900), FeedConfig(FEED_B, "Feed B", 900)
    store.sync_feeds([a, b], NOW)

    store.sync_feeds([a], NOW)

    assert [f.url for f in store.due_feeds(NOW)] == [FEED_A]
    row = feed_row(store, FEED_B)
    assert (row["enabled"], row["disabled_reason"]) == (0, "removed from config")

    store.sync_feeds([a, b], NOW)

    assert [f.url for f in store.due_feeds(NOW)] == [FEED_A, FEED_B]
    row = feed_row(store, FEED_B)
    assert (row["enabled"], row["disabled_reason"]) == (1, None)


def test_removing_every_feed_from_config_disables_them_all(store: Store) -> None:
    store.sync_feeds([FeedConfig(FEED_A, "Feed A", 900), FeedConfig(FEED_B, "Feed B", 900)], NOW)

    store.sync_feeds([], NOW)

    assert store.due_feeds(NOW, force=True) == []
    assert feed_row(store, FEED_A)["disabled_reason"] == "removed from config"


def test_feed_disabled_for_its_own_reason_stays_disabled(store: Store) -> None:
    feed = one_feed(store)
    store.record_failure(feed, NOW, "HTTP 410 Gone", 410, NOW + timedelta(hours=1), disable=True)

    store.sync_feeds([FeedConfig(FEED_A, "Feed A, renamed", 1800)], NOW + timedelta(days=1))

    row = feed_row(store, FEED_A)
    assert (row["enabled"], row["disabled_reason"], row["name"], row["interval"]) == (
        0,
        "HTTP 410 Gone",
        "Feed A, renamed",
        1800,
    )
    assert store.due_feeds(NOW + timedelta(days=1), force=True) == []


def test_feed_disabled_for_its_own_reason_keeps_it_when_removed_from_config(
    store: Store,
) -> None:
    feed = one_feed(store)
    store.record_failure(feed, NOW, "HTTP 410 Gone", 410, NOW + timedelta(hours=1), disable=True)

    store.sync_feeds([], NOW)

    assert feed_row(store, FEED_A)["disabled_reason"] == "HTTP 410 Gone"


def test_due_feeds_honours_next_due_unless_forced(store: Store) -> None:
    feed = one_feed(store)
    result = FetchResult(FEED_A, FEED_A, 200, {}, b"<rss/>")
    store.record_success(feed, result, NOW, NOW + timedelta(minutes=15))

    assert store.due_feeds(NOW + timedelta(minutes=14)) == []
    assert [f.url for f in store.due_feeds(NOW + timedelta(minutes=15))] == [FEED_A]
    assert [f.url for f in store.due_feeds(NOW + timedelta(minutes=1), force=True)] == [FEED_A]


def test_force_never_overrides_held_until(store: Store) -> None:
    feed = one_feed(store)
    held = NOW + timedelta(hours=2)
    store.record_failure(feed, NOW, "HTTP 503 Service Unavailable", 503, held, disable=False)

    assert store.due_feeds(NOW + timedelta(hours=1), force=True) == []
    assert [f.url for f in store.due_feeds(held, force=True)] == [FEED_A]


def test_record_failure_counts_failures_and_holds_the_feed(store: Store) -> None:
    feed = one_feed(store)
    first_retry = NOW + timedelta(minutes=30)
    store.record_failure(feed, NOW, "ConnectError: refused", None, first_retry, disable=False)
    [feed] = store.due_feeds(first_retry)
    second_retry = first_retry + timedelta(hours=1)
    store.record_failure(feed, first_retry, "HTTP 500", 500, second_retry, disable=False)

    [again] = store.due_feeds(second_retry)
    row = feed_row(store, FEED_A)

    assert again.consecutive_failures == 2
    assert {k: row[k] for k in ("last_error", "last_status_code", "held_until", "enabled")} == {
        "last_error": "HTTP 500",
        "last_status_code": 500,
        "held_until": "2026-03-02T10:30:00Z",
        "enabled": 1,
    }


def test_record_success_resets_failures_and_keeps_validators(store: Store) -> None:
    feed = one_feed(store)
    store.record_failure(feed, NOW, "HTTP 500", 500, NOW + timedelta(minutes=5), disable=False)
    [feed] = store.due_feeds(NOW + timedelta(minutes=5))
    later = NOW + timedelta(minutes=5)
    result = FetchResult(
        FEED_A,
        FEED_A,
        200,
        {"etag": '"v1"', "last-modified": "Mon, 02 Mar 2026 09:00:00 GMT"},
        b"<rss/>",
    )
    store.record_success(feed, result, later, later + timedelta(minutes=15), title="Feed title")

    [again] = store.due_feeds(later + timedelta(minutes=15))
    row = feed_row(store, FEED_A)

    assert again == DueFeed(
        feed.id, FEED_A, "Feed A", 900, '"v1"', "Mon, 02 Mar 2026 09:00:00 GMT", 0
    )
    assert (row["held_until"], row["last_error"], row["title"]) == (None, None, "Feed title")
    assert store.body_unchanged(feed.id, b"<rss/>")
    assert not store.body_unchanged(feed.id, b"<rss>changed</rss>")


def test_not_modified_success_keeps_stored_validators(store: Store) -> None:
    feed = one_feed(store)
    result = FetchResult(FEED_A, FEED_A, 200, {"etag": '"v1"'}, b"<rss/>")
    store.record_success(feed, result, NOW, NOW)
    [feed] = store.due_feeds(NOW)

    store.record_success(
        feed, FetchResult(FEED_A, FEED_A, 304, {}, None, not_modified=True), NOW, NOW
    )

    assert store.due_feeds(NOW)[0].etag == '"v1"'


# --- articles


def test_add_article_records_a_sighting(store: Store) -> None:
    feed = one_feed(store)
    article = make_article(1)

    store.add_article(feed.id, article, make_match(), NOW)

    assert store.sighting_known(feed.id, "guid-1")
    assert not store.sighting_known(feed.id, "guid-2")
    assert not store.sighting_known(feed.id + 1, "guid-1")


def test_a_bodys_articles_are_inserted_in_few_statements_and_indexed(store: Store) -> None:
    # One statement per 45 articles, not one per article: FTS5 writes its pending postings at
    # each statement savepoint, which an insert with triggers opens.
    feed = one_feed(store)
    articles = [(make_article(n, title=f"Story {n} wafer{n}"), make_match()) for n in range(250)]
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)

    ids = store.insert_articles(feed.id, articles, NOW)

    store.db.conn.set_trace_callback(None)
    # (traced once per trigger step too, with the values filled in: count distinct texts)
    assert len({s for s in statements if s.lower().startswith("insert into articles")}) == 6
    guids = dict(store.db.execute("select id, guid from articles").fetchall())
    assert [guids[i] for i in ids] == [article.guid for article, _ in articles]
    for n in (0, 44, 45, 249):  # each index holds the articles of every statement
        [hit] = queries.search(store.db, f"wafer{n}").rows
        assert hit["id"] == ids[n]
        [hit] = queries.search(store.db, f'"story {n} wafer{n}"').rows  # the pair index
        assert hit["id"] == ids[n]
    assert not store.db.conn.in_transaction  # committed, outside a transaction of the caller's


def test_find_article_by_canonical_url_and_title(store: Store) -> None:
    feed = one_feed(store)
    article_id = store.add_article(feed.id, make_article(1), make_match(), NOW)

    copy = make_article(2, title="STORY  1", canonical_url="https://news.example.com/story-1")

    assert store.find_article(copy) == article_id


def test_same_link_with_another_title_is_another_article(store: Store) -> None:
    # Podcast and link-blog feeds give many entries one link (the show's home page).
    feed = one_feed(store)
    home = "https://taverncast.example/"
    store.add_article(feed.id, make_article(61, canonical_url=home), make_match(), NOW)

    assert store.find_article(make_article(62, canonical_url=home)) is None


def test_find_article_by_content_hash(store: Store) -> None:
    feed = one_feed(store)
    original = make_article(1)
    article_id = store.add_article(feed.id, original, make_match(), NOW)

    copy = make_article(2, content_hash=original.content_hash)
    copy_without_link = make_article(3, canonical_url=None, content_hash=original.content_hash)

    assert store.find_article(copy) == article_id
    assert store.find_article(copy_without_link) == article_id


def test_find_article_misses_different_article(store: Store) -> None:
    feed = one_feed(store)
    store.add_article(feed.id, make_article(1, canonical_url=None), make_match(), NOW)

    assert store.find_article(make_article(2)) is None
    assert store.find_article(make_article(3, canonical_url=None)) is None


def test_add_sighting_from_a_second_feed(store: Store) -> None:
    store.sync_feeds([FeedConfig(FEED_A, "A", 900), FeedConfig(FEED_B, "B", 900)], NOW)
    a, b = store.due_feeds(NOW)
    article_id = store.add_article(a.id, make_article(1), make_match(), NOW)

    store.add_sighting(b.id, "their-guid", article_id, NOW)
    store.add_sighting(b.id, "their-guid", article_id, NOW)  # a re-poll: ignored

    assert store.sighting_known(b.id, "their-guid")
    assert store.db.table("sightings").count == 2


def test_a_copy_published_earlier_becomes_the_article_and_tells_its_story(store: Store) -> None:
    store.sync_feeds([FeedConfig(FEED_A, "A", 900), FeedConfig(FEED_B, "B", 900)], NOW)
    a, b = store.due_feeds(NOW)
    syndicated = replace(make_article(1), url="https://b.example/copy?utm_source=rss")
    article_id = store.add_article(b.id, syndicated, make_match(), NOW)
    story_id = store.create_story(article_id, syndicated, make_match(), NOW, NOW)
    original = replace(make_article(1), published=NOW - timedelta(hours=3))

    store.prefer_earlier_copy(article_id, a.id, original)
    store.prefer_earlier_copy(article_id, b.id, replace(syndicated, published=NOW))  # later

    row = store.db.table("articles").get(article_id)
    assert (row["url"], row["published"], row["feed_id"]) == (
        original.url,
        "2026-03-02T06:00:00Z",
        a.id,
    )
    story = store.db.table("stories").get(story_id)
    assert (story["url"], story["first_published"]) == (original.url, "2026-03-02T06:00:00Z")


def test_copies_published_at_the_same_moment_go_to_the_feed_configured_first(
    store: Store,
) -> None:
    # Feeds are stored in the order their fetches finish: either order must give one answer.
    store.sync_feeds([FeedConfig(FEED_A, "A", 900), FeedConfig(FEED_B, "B", 900)], NOW)
    a, b = store.due_feeds(NOW)
    first = replace(make_article(1), url="https://a.example/story")
    second = replace(make_article(2), url="https://b.example/story", content_hash="other")
    for stored_feed, stored, other_feed, other in ((b, second, a, first), (a, first, b, second)):
        article_id = store.add_article(stored_feed.id, stored, make_match(), NOW)
        store.prefer_earlier_copy(article_id, other_feed.id, other)
        row = store.db.table("articles").get(article_id)
        assert (row["url"], row["feed_id"]) == (first.url, a.id)


# --- stories


def test_create_story_counts_its_article_and_keeps_match(store: Store) -> None:
    feed = one_feed(store)
    article = make_article(1, title="OpenAI picks Luxshare")
    match = make_match(("OpenAI",), ("OpenAI", "Luxshare"), score=0.7, why=("reason",))
    article_id = store.add_article(feed.id, article, match, NOW)

    story_id = store.create_story(article_id, article, match, NOW, NOW)

    row = store.db.table("stories").get(story_id)
    assert row["article_count"] == 1
    assert store.digest_stories([story_id]) == [
        DigestStory(
            story_id=story_id,
            title="OpenAI picks Luxshare",
            url="https://news.example.com/story-1?utm_source=rss",
            entities=("OpenAI",),
            score=0.7,
            why=("reason",),
            articles=(DigestArticle("OpenAI picks Luxshare", article.url, "Feed A", NOW),),
        )
    ]


def test_join_story_counts_unions_entities_and_retitles_after_earliest(store: Store) -> None:
    store.sync_feeds(
        [FeedConfig(FEED_A, "Outlet A", 900), FeedConfig(FEED_B, "Outlet B", 900)], NOW
    )
    a, b = store.due_feeds(NOW)
    first = make_article(1, title="Luxshare to build OpenAI device", published=NOW)
    first_match = make_match(("OpenAI",), ("OpenAI", "Luxshare"), score=0.6)
    first_id = store.add_article(a.id, first, first_match, NOW)
    story_id = store.create_story(first_id, first, first_match, NOW, NOW)

    earlier = NOW - timedelta(hours=3)
    scoop = make_article(
        2, title="Scoop: OpenAI picks Luxshare", feed_url=FEED_B, published=earlier
    )
    scoop_match = make_match(
        ("OpenAI", "Luxshare"), ("OpenAI", "Luxshare", "Foxconn"), score=0.9, why=("scoop",)
    )
    scoop_id = store.add_article(b.id, scoop, scoop_match, NOW)
    store.join_story(story_id, scoop_id, scoop_match, earlier, NOW + timedelta(minutes=5))

    later = make_article(3, title="Late copy", feed_url=FEED_B, published=NOW + timedelta(hours=1))
    later_id = store.add_article(b.id, later, first_match, NOW)
    store.join_story(story_id, later_id, first_match, NOW + timedelta(hours=1), NOW)

    row = store.db.table("stories").get(story_id)
    assert {
        k: row[k]
        for k in ("title", "url", "why", "article_count", "entities", "organisations", "score")
    } == {
        "title": "Scoop: OpenAI picks Luxshare",
        "why": '["scoop"]',
        "url": scoop.url,
        "article_count": 3,
        "entities": '["Luxshare", "OpenAI"]',
        "organisations": '["Foxconn", "Luxshare", "OpenAI"]',
        "score": 0.9,
    }
    assert row["first_published"] == "2026-03-02T06:00:00Z"
    [story] = store.digest_stories([story_id])
    assert [(x.feed, x.title) for x in story.articles] == [
        ("Outlet B", "Scoop: OpenAI picks Luxshare"),
        ("Outlet A", "Luxshare to build OpenAI device"),
        ("Outlet B", "Late copy"),
    ]


def test_story_candidates_are_the_stories_within_the_window(store: Store) -> None:
    feed = one_feed(store)
    old = make_article(1, published=NOW - timedelta(days=10))
    new = make_article(2, published=NOW - timedelta(hours=1))
    match = make_match()
    old_id = store.add_article(feed.id, old, match, NOW)
    new_id = store.add_article(feed.id, new, match, NOW)
    future = make_article(3, published=NOW + timedelta(days=10))
    future_id = store.add_article(feed.id, future, match, NOW)
    store.create_story(old_id, old, match, NOW - timedelta(days=10), NOW)
    new_story = store.create_story(new_id, new, match, NOW - timedelta(hours=1), NOW)
    store.create_story(future_id, future, match, NOW + timedelta(days=10), NOW)

    candidates = store.story_candidates(NOW - timedelta(hours=72), NOW + timedelta(hours=72))

    assert [(c.id, c.organisations, c.first_published) for c in candidates] == [
        (new_story, frozenset({"OpenAI", "Luxshare"}), NOW - timedelta(hours=1))
    ]


# --- outbox and digests


def stories_for_outbox(store: Store, count: int) -> list[int]:
    feed = one_feed(store)
    ids = []
    for n in range(1, count + 1):
        article = make_article(n)
        match = make_match(score=0.5 + n / 10)
        article_id = store.add_article(feed.id, article, match, NOW)
        ids.append(store.create_story(article_id, article, match, NOW, NOW))
    return ids


def open_digest(store: Store, channel_name: str, now: datetime) -> tuple[str, list[int]] | None:
    """Gather the channel's pending stories into a recorded digest, as delivery does."""
    story_ids = store.pending_story_ids(channel_name)
    if not story_ids:
        return None
    digest = Digest(
        digest_id(channel_name, now, story_ids),
        channel_name,
        now,
        tuple(store.digest_stories(story_ids)),
    )
    store.open_digest(digest, payload(digest))
    return digest.digest_id, story_ids


def test_digest_sent_moves_stories_out_of_outbox_and_marks_them_alerted(store: Store) -> None:
    first, second = stories_for_outbox(store, 2)
    assert store.queue_deliveries(first, [channel("team"), channel("ops")], NOW) == 2
    store.queue_deliveries(second, ["team"], NOW)  # a channel by name will do

    assert store.pending_story_ids("team") == [second, first]  # best score first
    assert store.oldest_pending("team") == NOW
    opened = open_digest(store, "team", NOW)
    assert opened is not None
    digest_id, story_ids = opened
    assert story_ids == [second, first]
    assert store.pending_story_ids("team") == []
    assert store.oldest_pending("team") is None

    sent_at = NOW + timedelta(minutes=1)
    store.record_digest_sent(digest_id, sent_at, {first: 1, second: 1})

    assert store.unsent_digest("team") is None
    assert store.last_sent("team") == sent_at
    assert open_digest(store, "team", sent_at) is None
    alerted = {r["id"]: (r["alerted"], r["alerted_at"]) for r in store.db.table("stories").rows}
    assert alerted == {
        first: (1, "2026-03-02T09:01:00Z"),
        second: (1, "2026-03-02T09:01:00Z"),
    }
    # The other channel's delivery of the first story is untouched.
    assert store.pending_story_ids("ops") == [first]


def test_same_score_puts_the_story_with_more_outlets_first(store: Store) -> None:
    feed_a = one_feed(store)
    store.sync_feeds([FeedConfig(FEED_A, "A", 900), FeedConfig(FEED_B, "B", 900)], NOW)
    feed_b = next(f for f in store.due_feeds(NOW) if f.url == FEED_B)
    ids = []
    for n in (1, 2):
        article = make_article(n)
        article_id = store.add_article(feed_a.id, article, make_match(score=0.7), NOW)
        ids.append(store.create_story(article_id, article, make_match(score=0.7), NOW, NOW))
        store.queue_deliveries(ids[-1], ["team"], NOW)
    store.add_sighting(feed_b.id, "copy-of-2", store.find_article(make_article(2)) or 0, NOW)

    assert store.pending_story_ids("team") == [ids[1], ids[0]]


def test_digest_id_names_time_and_channel() -> None:
    assert digest_id("Team Alerts!", NOW, [1]).startswith("20260302T090000Z-team-alerts-")


def test_queueing_a_story_twice_keeps_one_delivery(store: Store) -> None:
    [story_id] = stories_for_outbox(store, 1)

    assert store.queue_deliveries(story_id, [channel("team")], NOW) == 1
    assert store.queue_deliveries(story_id, [channel("team")], NOW + timedelta(minutes=1)) == 0

    assert store.pending_story_ids("team") == [story_id]
    assert store.db.table("deliveries").count == 1


def test_temporary_digest_failure_keeps_the_same_digest_pending(store: Store) -> None:
    first, second = stories_for_outbox(store, 2)
    store.queue_deliveries(first, [channel()], NOW)
    store.queue_deliveries(second, [channel()], NOW)
    opened = open_digest(store, "team", NOW)
    assert opened is not None
    digest_id, story_ids = opened
    later = NOW + timedelta(minutes=2)

    store.record_digest_failed(digest_id, "HTTP 503 from webhook", permanent=False)
    store.record_digest_failed(
        digest_id, "HTTP 503 from webhook", permanent=False, next_attempt=later
    )

    unsent = store.unsent_digest("team")
    assert unsent is not None
    assert (unsent.digest_id, unsent.created, list(unsent.story_ids)) == (digest_id, NOW, story_ids)
    assert (unsent.attempts, unsent.next_attempt) == (2, later)
    assert unsent.payload is not None and unsent.payload["digest_id"] == digest_id
    assert store.pending_story_ids("team") == []  # not gathered into a second digest

    store.record_digest_sent(digest_id, NOW + timedelta(minutes=10))

    assert store.unsent_digest("team") is None


def test_permanent_digest_failure_marks_it_failed_until_requeued(store: Store) -> None:
    [story_id] = stories_for_outbox(store, 1)
    store.queue_deliveries(story_id, [channel()], NOW)
    opened = open_digest(store, "team", NOW)
    assert opened is not None
    digest_id, _ = opened

    store.record_digest_failed(digest_id, "HTTP 400 from webhook", permanent=True)

    assert store.unsent_digest("team") is None
    digest = store.db.table("digests").get(digest_id)
    assert (digest["status"], digest["last_error"]) == ("failed", "HTTP 400 from webhook")
    assert [r["status"] for r in store.db.table("deliveries").rows] == ["failed"]
    assert store.db.table("stories").get(story_id)["alerted"] == 0
    assert store.last_sent("team") is None

    assert store.requeue_digests(digest_id) == [digest_id]

    unsent = store.unsent_digest("team")
    assert unsent is not None and unsent.digest_id == digest_id and unsent.next_attempt is None
    assert [r["status"] for r in store.db.table("deliveries").rows] == ["pending"]
    assert store.requeue_digests("no-such-digest") == []


def test_sync_of_thousands_of_feeds_writes_only_what_changed(store: Store) -> None:
    feeds = [FeedConfig(f"https://feeds.example/{i}.xml", None, 900) for i in range(3000)]
    store.sync_feeds(feeds, NOW)
    before = store.db.conn.total_changes

    store.sync_feeds(feeds, NOW + timedelta(minutes=1))
    assert store.db.conn.total_changes == before

    store.sync_feeds(feeds[1:], NOW + timedelta(minutes=2))
    assert store.db.conn.total_changes == before + 1
    assert len(store.due_feeds(NOW + timedelta(minutes=2), force=True)) == 2999


def test_writes_outside_a_transaction_are_committed_at_once(store: Store, db_path: Path) -> None:
    """Storing an article's sketch and filing its story outside ``transaction()`` commits them,
    as every other write does: nothing is left in an open transaction that a later write would
    join and a close would roll back."""
    feed = one_feed(store)
    article = make_article(1)
    match = make_match()
    article_id = store.add_article(feed.id, article, match, NOW, sketch_article(article))
    store.create_story(article_id, article, match, NOW, NOW)

    assert not store.db.conn.in_transaction
    other = Store.open(db_path)
    try:
        assert other.db.execute("select count(*) from article_sketches").fetchone()[0] == 1
        assert other.db.execute("select count(*) from story_organisations").fetchone()[0] == 2
    finally:
        other.close()


def test_an_event_is_stored_as_json_of_its_fields_with_its_parties_as_objects() -> None:
    config = load_config_text(
        '[[feeds]]\nurl = "https://a.example/f"\n[watch.entities]\n'
        'OpenAI = ["OpenAI"]\nLuxshare = ["Luxshare", "立讯精密"]\n'
    )
    title = "OpenAI signs deal with Luxshare to build its first AI device"
    article = normalise(Entry("g", title, "https://a.example/1", title, None, None, ()), "f")
    match = match_article(article, watchlist_of(config))
    assert match.event is not None and len(match.event.parties) == 2
    stored = _event_json(match)
    assert stored is not None
    assert json.loads(stored) == json.loads(json.dumps(asdict(match.event)))
    assert json.loads(stored)["parties"][0] == {"name": "OpenAI", "watched": True}

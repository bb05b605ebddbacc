"""Search on a big archive: the block indexes and the id range that bound its work.

The real sizes (blocks of 10,000 articles, 16 of them, 20,000 in the recent index) would need
hundreds of thousands of articles; these tests shrink them to blocks of 10, a ring of 4 and a
recent index of 20 before the database is created, so 100 articles span ten blocks and every
path of the search runs: the recent index, the block indexes, the full index for what the ring
no longer holds. Results are checked against the full index queried directly and against the
articles themselves.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlite_utils

from monitor import queries, retention, schema
from monitor.schema import block_index, migrations
from monitor.search import compile_query
from monitor.store import Store

START = datetime(2025, 1, 1, tzinfo=UTC)
WORDS = ["market", "server", "price", "supply", "factory", "order", "device", "chip", "deal"]


@pytest.fixture
def small(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(schema, "RECENT_ARTICLES", 20)
    monkeypatch.setattr(schema, "BLOCK_ARTICLES", 10)
    monkeypatch.setattr(schema, "RING_BLOCKS", 4)
    monkeypatch.setattr(queries, "BLOCK_ARTICLES", 10)


def published(article_id: int) -> str:
    return (START + timedelta(hours=article_id)).strftime("%Y-%m-%dT%H:%M:%SZ")


def text(article_id: int) -> tuple[str, str, str]:
    """Title, summary and content: a few common words; every article naming Foxconn somewhere
    (in the title of one in three, so ranking has something to order); 'quarzel' in two."""
    rng = random.Random(article_id)
    title = " ".join(rng.choices(WORDS, k=4))
    summary = " ".join(rng.choices(WORDS, k=12))
    content = " ".join(rng.choices(WORDS, k=rng.randint(0, 40)))
    if article_id % 3 == 0:
        title += " Foxconn"
    else:
        content += " Foxconn"
    if article_id in (3, 97):
        summary += " quarzel"
    return title, summary, content


def add(db: sqlite_utils.Database, article_id: int, when: str | None = None) -> None:
    title, summary, content = text(article_id)
    db.execute(
        "insert into articles (id, feed_id, title, summary, content, published) "
        "values (?, 1, ?, ?, ?, ?)",
        [article_id, title, summary, content, when or published(article_id)],
    )


def add_feed(db: sqlite_utils.Database) -> None:
    db.execute(
        "insert into feeds (id, url, origin, interval, enabled, consecutive_failures) "
        "values (1, 'https://example.com/feed', 'config', 900, 1, 0)"
    )


@pytest.fixture
def db(small: None, tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    store = Store.open(tmp_path / "monitor.db")
    add_feed(store.db)
    for article_id in range(1, 101):
        add(store.db, article_id)
    yield store.db
    store.close()


def matching(db: sqlite_utils.Database, query: str, since: str = "") -> list[int]:
    """Every match, newest first, from the full index queried directly."""
    return [
        r[0]
        for r in db.execute(
            "select fts.rowid from article_search_fts fts join articles a on a.id = fts.rowid "
            "where article_search_fts match ? and coalesce(a.published, a.first_seen) >= ? "
            "order by fts.rowid desc",
            [compile_query(query), since],
        ).fetchall()
    ]


def ids(found: queries.SearchResults) -> list[int]:
    return [r["id"] for r in found.rows]


def test_the_ring_holds_the_newest_blocks_each_in_its_own_index(db: sqlite_utils.Database) -> None:
    held = dict(db.execute("select slot, block from article_search_ring").fetchall())
    assert held == {3: 7, 0: 8, 1: 9, 2: 10}  # ids 70..109: blocks 7 to 10, block b in slot b % 4
    for slot, block in held.items():
        in_index = db.execute(
            f"select rowid from {block_index(slot)} where {block_index(slot)} match 'foxconn' "
            "order by rowid"
        ).fetchall()
        assert [r[0] for r in in_index] == [
            i for i in range(block * 10, block * 10 + 10) if i <= 100
        ]
    spans = db.execute(
        "select block, earliest, latest from article_blocks order by block"
    ).fetchall()
    assert spans[0] == (0, published(1), published(9))
    assert spans[-1] == (10, published(100), published(100))


def test_a_window_beyond_the_recent_index_is_ranked_in_the_block_indexes(
    db: sqlite_utils.Database,
) -> None:
    newest = matching(db, "Foxconn")[:45]  # recent holds 81..100: this reaches back to block 5
    assert newest[-1] < 70  # ... further than the ring, so the full index answers
    assert set(ids(queries.search(db, "Foxconn", window=45, limit=45))) == set(newest)
    newest = matching(db, "Foxconn")[:25]  # ids 76..100: the recent index and block 7
    found = queries.search(db, "Foxconn", window=25, limit=25)
    assert set(ids(found)) == set(newest)
    assert found.window == 25
    # Titles first: every block's index weighs Foxconn alike (one in three of its articles).
    in_title = [r["id"] % 3 == 0 for r in found.rows]
    assert in_title == sorted(in_title, reverse=True)
    page = queries.search(db, "Foxconn", window=25, limit=5, offset=5)
    assert ids(page) == ids(found)[5:10]
    assert all("[Foxconn]" in r["snippet"] for r in found.rows)


def test_a_rare_old_match_is_still_found(db: sqlite_utils.Database) -> None:
    # quarzel: article 3 (block 0, long gone from the ring) and 97 (in the recent index).
    assert sorted(ids(queries.search(db, "quarzel"))) == [3, 97]
    assert sorted(ids(queries.search(db, "quarzel market"))) == sorted(
        set(matching(db, "quarzel market"))
    )
    assert ids(queries.search(db, "quarzel", since=START + timedelta(hours=50))) == [97]


@pytest.mark.parametrize("sort", ["relevance", "date"])
@pytest.mark.parametrize("window", [0, 10, 1000])
def test_since_and_until_give_what_the_filter_alone_gives(
    db: sqlite_utils.Database, sort: str, window: int
) -> None:
    # Two articles out of order: an old id published late, a new id published long ago.
    db.execute("update articles set published = ? where id = 12", [published(95)])
    db.execute("update articles set published = ? where id = 88", [published(5)])
    for since, until in [
        (60, None),
        (72, None),
        (75, 98),
        (94, None),
        (0, 10),
        (40, 70),
        (1000, None),
    ]:
        start = START + timedelta(hours=since)
        end = START + timedelta(hours=until) if until is not None else None
        found = queries.search(
            db, "Foxconn", since=start, until=end, sort=sort, window=window, limit=window or 1000
        )
        expected = {
            r[0]
            for r in db.execute(
                "select id from articles where published >= ? and (? is null or published < ?)",
                [published(since), end and published(until or 0), end and published(until or 0)],
            ).fetchall()
        }
        if window:  # every article names Foxconn: the window is the newest that pass
            expected = set(sorted(expected, reverse=True)[:window])
        assert set(ids(found)) == expected, (since, until)
    assert 12 in ids(queries.search(db, "Foxconn", since=START + timedelta(hours=94)))
    assert 88 in ids(queries.search(db, "Foxconn", until=START + timedelta(hours=6)))


def test_block_indexes_follow_updates_deletes_and_new_blocks(db: sqlite_utils.Database) -> None:
    db.execute("update articles set title = 'Luxshare wins order' where id = 75")
    assert ids(queries.search(db, "Luxshare", window=5)) == [75]
    slot = 7 % 4
    table = block_index(slot)
    in_ring = f"select rowid from {table} where {table} match ?"
    assert [r[0] for r in db.execute(in_ring, ['"luxshare"']).fetchall()] == [75]
    db.execute("delete from articles where id = 75")
    assert db.execute(in_ring, ['"luxshare"']).fetchall() == []
    assert queries.search(db, "Luxshare").rows == []
    # The first article of block 11 takes slot 3 from block 7, whose index is emptied at once.
    add(db, 110)
    assert db.execute("select block from article_search_ring where slot = 3").fetchone() == (11,)
    assert [r[0] for r in db.execute(in_ring.replace("?", "'foxconn'")).fetchall()] == [110]


def test_the_migration_indexes_an_existing_archive(small: None, tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(path)
    schema.register_functions(old)
    migrations.apply(old, stop_before="m_issue7_search_blocks")
    add_feed(old)
    for article_id in range(1, 101):
        add(old, article_id)
    old.execute("update articles set alert_worthy = 1 where id % 7 = 0")
    old.conn.commit()
    old.close()

    store = Store.open(path)
    try:
        db = store.db
        held = dict(db.execute("select slot, block from article_search_ring").fetchall())
        assert held == {3: 7, 0: 8, 1: 9, 2: 10}
        assert db.execute("select count(*) from article_blocks").fetchone() == (11,)
        newest = matching(db, "Foxconn")[:25]
        assert set(ids(queries.search(db, "Foxconn", window=25, limit=25))) == set(newest)
        assert sorted(ids(queries.search(db, "quarzel"))) == [3, 97]
        matched = queries.search(db, "Foxconn", matched=True, limit=100)
        assert sorted(ids(matched)) == list(range(7, 101, 7))
        add(db, 110)  # and the triggers carry on from there
        assert 110 in ids(queries.search(db, "Foxconn", window=3))
    finally:
        store.close()


@pytest.mark.parametrize("window", [0, 5, 1000])
def test_matched_gives_what_the_filter_alone_gives(db: sqlite_utils.Database, window: int) -> None:
    db.execute("update articles set alert_worthy = 1 where id % 7 = 0")
    for since in (0, 60, 75, 99):
        found = queries.search(
            db,
            "Foxconn",
            matched=True,
            since=START + timedelta(hours=since),
            window=window,
            limit=window or 1000,
        )
        expected = sorted((i for i in range(max(since, 1), 101) if i % 7 == 0), reverse=True)
        assert set(ids(found)) == set(expected[:window] if window else expected), since
        assert all(r["alert_worthy"] for r in found.rows)


def test_the_alert_index_follows_the_alert_flag(db: sqlite_utils.Database) -> None:
    def alert_index() -> list[int]:
        rows = db.execute(
            "select rowid from article_alert_fts where article_alert_fts match 'foxconn' "
            "order by rowid"
        ).fetchall()
        return [r[0] for r in rows]

    assert alert_index() == []
    db.execute("update articles set alert_worthy = 1 where id in (4, 50, 99)")
    assert alert_index() == [4, 50, 99]
    db.execute("update articles set alert_worthy = 0 where id = 50")
    db.execute("update articles set title = 'Luxshare order' where id = 99")
    db.execute("delete from articles where id = 4")
    assert alert_index() == []  # 99's Foxconn was in the title
    assert ids(queries.search(db, "Luxshare", matched=True)) == [99]
    assert ids(queries.search(db, "Luxshare", matched=True, sort="date", window=0)) == [99]
    assert (
        queries.search(db, "Luxshare", matched=True, since=START + timedelta(hours=100)).rows == []
    )


def test_a_search_sees_one_state_of_the_archive(db: sqlite_utils.Database, tmp_path: Path) -> None:
    """The daemon writes while a search runs: here the first article of block 11 arrives (in
    another connection) as the search fetches the snippets of its hits in block 7, whose slot
    block 11 takes and empties. The search answers from the archive as it was when it began."""
    expected = set(matching(db, "Foxconn")[:25])  # reaches block 7 (ids 76..100)
    path = db.execute("pragma database_list").fetchone()[2]
    writer = sqlite_utils.Database(path)
    schema.register_functions(writer)
    arrived: list[str] = []

    def daemon_writes(statement: str) -> None:
        if f"snippet({block_index(7 % 4)}" in statement and not arrived:
            arrived.append(statement)
            add(writer, 110)
            writer.conn.commit()

    db.conn.set_trace_callback(daemon_writes)
    try:
        found = queries.search(db, "Foxconn", window=25, limit=25)
    finally:
        db.conn.set_trace_callback(None)
        writer.close()
    assert arrived, "the search took no snippet from block 7's index"
    assert set(ids(found)) == expected
    assert all(r["snippet"] and "[Foxconn]" in r["snippet"] for r in found.rows)
    assert not db.conn.in_transaction
    # The next search sees the new article, and ranks block 7 in the full index now.
    assert 110 in ids(queries.search(db, "Foxconn", window=25, limit=25))


def test_a_phrase_found_in_the_pair_index_has_snippets_from_every_index(
    db: sqlite_utils.Database,
) -> None:
    # Matches in the recent index, in the ring's blocks, and older than the ring holds.
    expected = matching(db, '"device chip"')
    assert min(expected) < 70 and max(expected) > 80
    found = queries.search(db, '"device chip"', window=0, limit=1000)
    assert sorted(ids(found)) == sorted(expected)
    assert all("[device chip]" in r["snippet"].lower() for r in found.rows)


@pytest.mark.parametrize("window", [3, 12, 25, 60])
def test_a_phrase_is_ranked_among_its_newest_matches_in_the_recent_or_the_pair_index(
    db: sqlite_utils.Database, window: int
) -> None:
    # A small window fills within the recent index (ranked there, as words are); a larger one
    # reaches back past it (ranked in the pair index). Either way: the newest matches.
    expected = matching(db, '"device chip"')
    found = queries.search(db, '"device chip"', window=window, limit=window)
    assert set(ids(found)) == set(expected[:window])
    assert all("[device chip]" in r["snippet"].lower() for r in found.rows)
    ranks = [r["rank"] for r in found.rows]
    assert ranks == sorted(ranks)


def test_housekeeping_merges_every_index_into_one_segment_in_short_steps(
    db: sqlite_utils.Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Articles one transaction each: each index holds a pile of small segments.
    for article_id in range(101, 400):
        add(db, article_id)
    monkeypatch.setattr(retention, "MERGE_PAGES", 2)
    merges: list[str] = []
    db.conn.set_trace_callback(lambda sql: merges.append(sql) if "'merge'" in sql else None)
    try:
        retention.optimise_search_index(db)
    finally:
        db.conn.set_trace_callback(None)
    full = [sql for sql in merges if "[article_search_fts]" in sql]
    assert len(full) > 3  # in steps, not all at once
    for table in ("article_search_fts", "article_pair_fts", "article_recent_fts"):
        # Nothing left for 'optimize' to merge: it changes at most its structure record.
        before = db.conn.total_changes
        db.execute(f"insert into {table} ({table}) values ('optimize')")
        assert db.conn.total_changes - before < 2, table
    assert sorted(ids(queries.search(db, "quarzel"))) == [3, 97]

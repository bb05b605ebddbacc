"""Full-text search: the query language, the Chinese-aware index, every filter of `search`.

The archive is the demo's: the fixtures polled over a real local HTTP server into a real SQLite
file, so results are checked against what the articles really say.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from click.testing import CliRunner
from conftest import monitor

from monitor import queries
from monitor.cli import cli
from monitor.errors import QueryError
from monitor.schema import RECENT_ARTICLES, migrations
from monitor.search import compile_query, display_text, search_text
from monitor.store import Store


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    assert monitor("demo", "--out", str(out)).exit_code == 0
    return out / "monitor.db"


@pytest.fixture
def db(archive: Path) -> Iterator[sqlite_utils.Database]:
    store = Store.open(archive)
    yield store.db
    store.close()


def search(archive: Path, *args: str) -> list[dict[str, Any]]:
    result = monitor("--db", str(archive), "search", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def containing(db: sqlite_utils.Database, needle: str) -> set[int]:
    """Ids of articles whose text contains ``needle`` (case-insensitive), found the slow way."""
    rows = db.execute("select id, title, summary, content from articles").fetchall()
    return {r[0] for r in rows if needle.lower() in " ".join(filter(None, r[1:])).lower()}


# --- the query language


@pytest.mark.parametrize(
    ("query", "expression"),
    [
        ("luxshare device", '"luxshare" AND "device"'),
        ('"consumer AI device"', '"consumer AI device"'),
        ("lux* OR foxconn", '"lux"* OR "foxconn"'),
        ("openai NOT (chip OR chips)", '"openai" NOT ( "chip" OR "chips" )'),
        ("openai (chip OR server)", '"openai" AND ( "chip" OR "server" )'),
        ("AT&T - Co.,", '"AT&T" AND "Co.,"'),
        ("立讯", '"\u200b立\u200b讯\u200b"'),
        ("and or not", '"and" AND "or" AND "not"'),
    ],
)
def test_queries_compile_to_fts5(query: str, expression: str) -> None:
    assert compile_query(query) == expression


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("luxshare AND", "AND at the end has nothing to its right"),
        ("OR luxshare", "OR at the start has nothing to its left"),
        ("luxshare AND OR device", "OR after 'AND' has nothing to its left"),
        ('"consumer AI device', "the quote before '\"consumer AI device' is never closed"),
        ("(luxshare OR device", "a '(' is never closed"),
        ("luxshare)", "a ')' has no '(' to close"),
        ("luxshare ()", "empty parentheses"),
        ("- & *", "nothing to search for"),
        ("", "nothing to search for"),
    ],
)
def test_malformed_queries_are_refused_with_a_reason(query: str, message: str) -> None:
    with pytest.raises(QueryError, match="search query .*: " + re.escape(message)):
        compile_query(query)


def test_cjk_is_split_into_characters_for_the_index_and_joined_again_for_display() -> None:
    text = "立讯精密获OpenAI订单, 2026"
    indexed = search_text(text)
    assert indexed is not None and indexed.split("\u200b") == [
        "",
        *"立讯精密获",
        "OpenAI",
        "订",
        "单",
        ", 2026",
    ]
    assert display_text(indexed) == text
    assert search_text("Luxshare signs a deal") == "Luxshare signs a deal"


# --- what the index finds


def test_a_chinese_term_finds_every_article_containing_it(
    archive: Path, db: sqlite_utils.Database
) -> None:
    expected = containing(db, "立讯")
    assert len(expected) >= 3
    rows = search(archive, "立讯")
    assert {r["id"] for r in rows} == expected
    assert all("[立讯]" in r["snippet"] for r in rows)
    assert any("立讯精密" in r["title"] for r in rows)  # a substring of a longer word


def test_a_latin_word_glued_to_chinese_text_is_found(
    archive: Path, db: sqlite_utils.Database
) -> None:
    [glued] = db.execute(
        "select id from articles where title = '立讯精密获OpenAI订单，将代工其首款消费级AI设备'"
    ).fetchall()
    assert glued[0] in {r["id"] for r in search(archive, "OpenAI", "--limit", "100")}
    assert glued[0] in {r["id"] for r in search(archive, "立讯精密获OpenAI")}


def test_english_words_match_their_stems(archive: Path, db: sqlite_utils.Database) -> None:
    found = {r["id"] for r in search(archive, "devices", "--limit", "100")}
    assert containing(db, "device ") <= found
    assert found == {r["id"] for r in search(archive, "device", "--limit", "100")}


def test_phrase_or_not_and_prefix(archive: Path, db: sqlite_utils.Database) -> None:
    phrase = {r["id"] for r in search(archive, '"AI device"', "--limit", "100")}
    assert phrase and phrase <= containing(db, "AI device")
    either = {r["id"] for r in search(archive, "Broadcom OR Microsoft", "--limit", "100")}
    assert either == containing(db, "broadcom") | containing(db, "microsoft")
    without = {r["id"] for r in search(archive, "OpenAI NOT Luxshare", "--limit", "100")}
    assert without and not without & containing(db, "luxshare")
    assert without == {r["id"] for r in search(archive, "OpenAI", "--limit", "100")} - (
        containing(db, "luxshare")
    )
    prefix = {r["id"] for r in search(archive, "Lux*", "--limit", "100")}
    assert prefix == containing(db, "lux")


def test_best_match_first_titles_weigh_most(archive: Path) -> None:
    rows = search(archive, "TrendForce", "--limit", "100")
    ranks = [r["rank"] for r in rows]
    assert ranks == sorted(ranks)  # bm25: lower is better
    in_title = ["trendforce" in r["title"].lower() for r in rows]
    assert any(in_title) and not all(in_title)
    assert in_title == sorted(in_title, reverse=True)


def test_a_malformed_query_exits_2_with_a_sentence(archive: Path) -> None:
    result = CliRunner().invoke(cli, ["--db", str(archive), "search", "Luxshare AND"])
    assert result.exit_code == 2
    assert "search query 'Luxshare AND': AND at the end has nothing to its right" in result.output
    assert "Traceback" not in result.output


def test_punctuation_inside_words_cannot_break_the_query(archive: Path) -> None:
    assert search(archive, "AT&T Co., Ltd.") == []
    assert search(archive, "OpenAI's") != []


# --- filters


def test_since_and_until_take_dates_and_durations(archive: Path) -> None:
    rows = search(archive, "OpenAI", "--since", "2025-09-19", "--until", "2025-09-20")
    assert rows and all(r["published"].startswith("2025-09-19") for r in rows)
    everything = search(archive, "OpenAI", "--limit", "100")
    assert len(rows) < len(everything)
    # The fixtures are dated 2025-2026; "within 100000 days" is all of them, "1h" none.
    assert len(search(archive, "OpenAI", "--since", "100000d", "--limit", "100")) == len(everything)
    assert search(archive, "OpenAI", "--since", "1h") == []
    bad = CliRunner().invoke(cli, ["--db", str(archive), "search", "x", "--since", "yesterday"])
    assert bad.exit_code == 2 and "'yesterday' is neither a date" in bad.output


def test_feed_filter_takes_name_or_url_and_refuses_unknown_feeds(
    archive: Path, db: sqlite_utils.Database
) -> None:
    [(feed_id, url)] = db.execute("select id, url from feeds where name = 'TechWire'").fetchall()
    carried = {
        r[0] for r in db.execute("select article_id from sightings where feed_id = ?", [feed_id])
    }
    by_name = {r["id"] for r in search(archive, "OpenAI", "--feed", "techwire")}
    assert by_name and by_name <= carried
    assert by_name == {r["id"] for r in search(archive, "OpenAI", "--feed", url)}
    unknown = CliRunner().invoke(cli, ["--db", str(archive), "search", "x", "--feed", "Nope"])
    assert unknown.exit_code == 2 and "--feed 'Nope': no feed has this name" in unknown.output


def test_entity_matched_and_story_filters(archive: Path) -> None:
    everything = search(archive, "OpenAI", "--limit", "100")
    luxshare = search(archive, "OpenAI", "--entity", "luxshare", "--limit", "100")
    assert luxshare and all("Luxshare" in r["entities"] for r in luxshare)
    assert {r["id"] for r in luxshare} == {
        r["id"] for r in everything if "Luxshare" in r["entities"]
    }
    matched = search(archive, "OpenAI", "--matched", "--limit", "100")
    assert {r["id"] for r in matched} == {r["id"] for r in everything if r["alert_worthy"]}
    assert len(matched) < len(everything)
    story = next(r["story_id"] for r in everything if r["story_id"])
    in_story = search(archive, "OpenAI", "--story", str(story))
    assert in_story and {r["story_id"] for r in in_story} == {story}


def test_limit_offset_page_through_results_and_date_sort(archive: Path) -> None:
    everything = search(archive, "OpenAI", "--limit", "100")
    assert len(everything) > 6
    page = search(archive, "OpenAI", "--limit", "3", "--offset", "2")
    assert [r["id"] for r in page] == [r["id"] for r in everything[2:5]]
    newest = search(archive, "OpenAI", "--sort", "date", "--limit", "100")
    assert sorted(r["id"] for r in newest) == sorted(r["id"] for r in everything)
    dates = [r["published"] for r in newest]
    assert dates == sorted(dates, reverse=True)


def test_formats(archive: Path) -> None:
    table = monitor("--db", str(archive), "search", "立讯").output
    assert "立讯精密" in table and "story_id" in table
    ndjson = monitor("--db", str(archive), "search", "立讯", "--format", "ndjson").output
    csv_out = monitor("--db", str(archive), "search", "立讯", "--format", "csv").output
    ids = [json.loads(line)["id"] for line in ndjson.splitlines()]
    assert ids == [r["id"] for r in search(archive, "立讯")]
    assert csv_out.splitlines()[0].startswith("id,title,url,published,feed,story_id")
    assert len(csv_out.splitlines()) == len(ids) + 1


def test_relevance_is_ranked_within_the_newest_matches(db: sqlite_utils.Database) -> None:
    everything = queries.search(db, "OpenAI", limit=100)
    assert everything.window is None
    windowed = queries.search(db, "OpenAI", limit=3, window=4)
    assert windowed.window == 4
    newest_four = sorted((r["id"] for r in everything.rows), reverse=True)[:4]
    assert {r["id"] for r in windowed.rows} <= set(newest_four)
    assert len(windowed.rows) == 3


def test_the_cli_says_when_older_matches_were_not_ranked(archive: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--db", str(archive), "search", "OpenAI", "--window", "2", "--limit", "1"]
    )
    assert result.exit_code == 0
    assert "ranked the newest 2 matching articles" in result.stderr
    everything = CliRunner().invoke(
        cli, ["--db", str(archive), "search", "OpenAI", "--window", "0"]
    )
    assert "ranked the newest" not in everything.stderr


# --- the index in the database


def test_existing_articles_are_indexed_when_the_migration_runs(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite_utils.Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m_issue7_search_index")
    old.execute(
        "insert into feeds (id, url, origin, interval, enabled, consecutive_failures) "
        "values (1, 'https://cn.example/feed', 'config', 900, 1, 0)"
    )
    old.execute(
        "insert into articles (id, feed_id, title, summary, content, published) values "
        "(1, 1, '立讯精密获OpenAI订单', '', '', '2025-09-20T01:12:00Z')"
    )
    old.conn.commit()
    old.close()

    store = Store.open(path)
    try:
        found = queries.search(store.db, "立讯")
        assert [r["id"] for r in found.rows] == [1]
        assert not store.db.table("articles_fts").exists()
        store.db.execute("update articles set title = 'Foxconn wins Apple order' where id = 1")
        assert queries.search(store.db, "立讯").rows == []
        assert [r["id"] for r in queries.search(store.db, "Foxconn").rows] == [1]
        store.db.execute("delete from articles where id = 1")
        assert queries.search(store.db, "Foxconn").rows == []
    finally:
        store.close()


def test_the_recent_index_keeps_only_the_newest_articles_and_search_falls_back(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "monitor.db")
    try:
        db = store.db
        db.execute(
            "insert into feeds (id, url, origin, interval, enabled, consecutive_failures) "
            "values (1, 'https://example.com/feed', 'config', 900, 1, 0)"
        )
        for article_id in (1, 2, 3, 1 + RECENT_ARTICLES):
            db.execute(
                "insert into articles (id, feed_id, title, summary, content, published) "
                "values (?, 1, ?, '', '', '2025-09-19T08:30:00Z')",
                [article_id, f"Foxconn wins order {article_id}"],
            )
        recent = [r[0] for r in db.execute("select rowid from article_recent_fts").fetchall()]
        assert recent == [2, 3, 1 + RECENT_ARTICLES]  # 1 fell out of the newest RECENT_ARTICLES
        # The recent index holds 3 matches, fewer than the window: the full index answers.
        found = queries.search(db, "Foxconn", window=10)
        assert sorted(r["id"] for r in found.rows) == [1, 2, 3, 1 + RECENT_ARTICLES]
        # A window the recent index holds whole is ranked there, with the same answer.
        newest = queries.search(db, "Foxconn", window=2, limit=2)
        assert sorted(r["id"] for r in newest.rows) == [3, 1 + RECENT_ARTICLES]
        assert newest.window == 2
        db.execute("update articles set title = 'Luxshare' where id = 3")
        assert [r["id"] for r in queries.search(db, "Luxshare").rows] == [3]
        db.execute("delete from articles where id = 3")
        assert queries.search(db, "Luxshare").rows == []
        assert [r[0] for r in db.execute("select rowid from article_recent_fts")] == [
            2,
            1 + RECENT_ARTICLES,
        ]
    finally:
        store.close()

"""The pair index (monitor.pairs): phrases found and ranked exactly as the word index would.

The claim that lets search use it: for a query made of phrases, ``article_pair_fts`` matches the
same articles as ``article_search_fts`` and gives each the same bm25 score. Both depend on our
tokens being FTS5's own, which these tests check against SQLite itself, over every code point.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlite_utils
from test_store import NOW, make_article, make_match, one_feed

from monitor import pairs, queries, schema
from monitor.pairs import WORD_TOKENIZER, Tokeniser, pair_text
from monitor.schema import migrations
from monitor.search import compile_query, pair_query, search_text
from monitor.store import Store


def fts5_tokens(texts: list[str]) -> list[list[str]]:
    """What FTS5's word tokeniser makes of each text, read back from fts5vocab."""
    db = sqlite3.connect(":memory:")
    db.execute(f"create virtual table t using fts5(x, tokenize = '{WORD_TOKENIZER}')")
    db.execute("create virtual table v using fts5vocab(t, instance)")
    db.executemany("insert into t (rowid, x) values (?, ?)", enumerate(texts))
    found: list[list[str]] = [[] for _ in texts]
    for doc, term in db.execute("select doc, term from v order by doc, offset"):
        found[doc].append(term)
    return found


def test_the_tokeniser_agrees_with_fts5_on_every_code_point() -> None:
    characters = [chr(c) for c in range(1, 0x30000) if not 0xD800 <= c < 0xE000]
    texts = [
        search_text("x".join(characters[i : i + 60]) + " Devices, ÉCOLE naïve 立讯精密获OpenAI订单")
        or ""
        for i in range(0, len(characters), 60)
    ]
    rng = random.Random(5)
    pool = "abc DEF éü-_.'’ 立讯 1234\u0301\u200b\u3000"
    texts += [
        "".join(
            rng.choice(characters) if rng.random() < 0.3 else rng.choice(pool)
            for _ in range(rng.randint(0, 60))
        )
        for _ in range(2000)
    ]
    tokeniser = Tokeniser()
    expected = fts5_tokens(texts)
    wrong = [(t, e) for t, e in zip(texts, expected, strict=True) if tokeniser.tokens(t) != e]
    assert wrong == []
    # Asked again, from its cache, it answers the same.
    assert [tokeniser.tokens(t) for t in texts[:200]] == expected[:200]


def test_the_tokeniser_forgets_words_beyond_its_limit_and_asks_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pairs, "_CACHE_LIMIT", 50)
    rng = random.Random(2)
    texts = [
        " ".join(
            rng.choice(["devices", "Luxshare's", "naïve", "立讯", f"w{k}x{n}ing"])
            for n in range(30)
        )
        for k in range(40)
    ]
    tokeniser = Tokeniser()
    assert [tokeniser.tokens(t) for t in texts] == fts5_tokens(texts)
    assert len(tokeniser._words) <= 50 + 30  # forgotten along the way (hundreds were met)


def test_each_position_pairs_its_token_with_the_next() -> None:
    assert (
        pair_text("AI devices, made by Luxshare.")
        == "ai_devic devic_made made_by by_luxshar luxshar_"
    )
    assert pair_text(search_text("立讯精密")) == "立_讯 讯_精 精_密 密_"
    assert pair_text("") == ""
    assert pair_text(None) is None


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ('"AI device"', '"ai_devic"'),
        ('"consumer AI device"', '"consum_ai ai_devic"'),
        ("立讯", '"立_讯"'),
        ('"AI devices" OR AT&T', '"ai_devic" OR "at_t"'),
        (
            '("AI device" NOT 立讯) "TrendForce estimate"',
            '( "ai_devic" NOT "立_讯" ) AND "trendforc_estim"',
        ),
        ("OpenAI", None),  # a single word: the pair index has none
        ('"AI device" OpenAI', None),
        ('"AI device" lux*', None),
        ('"OpenAI"', None),
    ],
)
def test_pair_queries(query: str, expected: str | None) -> None:
    assert pair_query(query) == expected


VOCABULARY = [
    *("AI", "device", "devices", "consumer", "hardware", "Luxshare", "OpenAI", "deal", "deals"),
    *("assembler", "Apple", "custom", "TrendForce", "estimate", "estimates", "launch", "chip"),
    *("server", "立讯精密", "立讯", "精密", "代工", "AT&T", "naïve", "café"),
]


def article(rng: random.Random) -> tuple[str, str, str]:
    def words(n: int) -> str:
        return " ".join(rng.choices(VOCABULARY, k=n)) + rng.choice(["", ".", ",", "!"])

    return words(rng.randint(1, 8)), words(rng.randint(0, 20)), words(rng.randint(0, 60))


def add_articles(db: sqlite_utils.Database, count: int = 400) -> None:
    db.execute(
        "insert into feeds (id, url, origin, interval, enabled, consecutive_failures) "
        "values (1, 'https://example.com/feed', 'config', 900, 1, 0)"
    )
    rng = random.Random(11)
    for article_id in range(1, count + 1):
        db.execute(
            "insert into articles (id, feed_id, title, summary, content) values (?, 1, ?, ?, ?)",
            [article_id, *article(rng)],
        )


@pytest.fixture
def db(tmp_path: Path) -> Iterator[sqlite_utils.Database]:
    store = Store.open(tmp_path / "monitor.db")
    add_articles(store.db)
    yield store.db
    store.close()


PHRASES = [
    '"AI device"',
    '"AI devices"',  # the same stems: the same matches
    '"consumer AI device"',
    '"deal Luxshare"',
    "立讯",
    "立讯精密",
    '"精密 代工"',
    "AT&T",
    '"naïve café"',
    '"AI device" OR "custom chip"',
    '"AI device" NOT 立讯',
    '("Apple deal" OR "OpenAI deal") "launch chip"',
    '"device device"',
]


def ranked(db: sqlite_utils.Database, table: str, match: str) -> list[tuple[int, float]]:
    return db.execute(
        f"select rowid, rank from {table} where {table} match ? order by rank, rowid",
        [match],
    ).fetchall()


def same_in_both(db: sqlite_utils.Database) -> None:
    for query in PHRASES:
        pairs = pair_query(query)
        assert pairs is not None, query
        words = ranked(db, "article_search_fts", compile_query(query))
        assert words, f"{query} matches nothing: the test would prove nothing"
        in_pairs = ranked(db, "article_pair_fts", pairs)
        assert [i for i, _ in in_pairs] == [i for i, _ in words], query
        assert [r for _, r in in_pairs] == pytest.approx([r for _, r in words], rel=1e-12)


def test_the_pair_index_matches_and_ranks_as_the_word_index(db: sqlite_utils.Database) -> None:
    same_in_both(db)
    # No phrase runs from the end of one column into the next.
    db.execute(
        "insert into articles (id, feed_id, title, summary, content) "
        "values (900, 1, 'quarzel AI', 'device quarzel', 'AI')"
    )
    assert ranked(db, "article_pair_fts", '"ai_devic"') == [
        (i, r) for i, r in ranked(db, "article_search_fts", '"ai device"')
    ]
    assert 900 not in [i for i, _ in ranked(db, "article_pair_fts", '"ai_devic"')]


def test_the_pair_index_follows_updates_and_deletes(db: sqlite_utils.Database) -> None:
    rng = random.Random(3)
    for article_id in rng.sample(range(1, 401), 60):
        title, summary, content = article(rng)
        db.execute(
            "update articles set title = ?, summary = ?, content = ? where id = ?",
            [title, summary, content, article_id],
        )
    db.execute("delete from articles where id % 7 = 0")
    same_in_both(db)
    # A contentless index fed the wrong text on delete would hold postings of no article.
    db.execute("insert into article_pair_fts (article_pair_fts) values ('integrity-check')")
    assert (
        db.execute("select count(*) from article_pair_fts").fetchone()[0]
        == db.execute("select count(*) from articles").fetchone()[0]
    )


def test_search_finds_phrases_through_the_pair_index(db: sqlite_utils.Database) -> None:
    for query in PHRASES:
        expected = ranked(db, "article_search_fts", compile_query(query))
        found = queries.search(db, query, limit=1000, window=0)
        assert sorted(r["id"] for r in found.rows) == sorted(i for i, _ in expected), query
        assert [r["rank"] for r in found.rows] == pytest.approx([r for _, r in expected])
        assert all("[" in r["snippet"] for r in found.rows), query
        newest = queries.search(db, query, limit=10, window=10)
        assert {r["id"] for r in newest.rows} == set(sorted(i for i, _ in expected)[-10:])
        by_date = queries.search(db, query, limit=5, sort="date")
        assert [r["id"] for r in by_date.rows] == sorted((i for i, _ in expected), reverse=True)[:5]


def test_the_migration_indexes_an_existing_archive(tmp_path: Path) -> None:
    old = sqlite_utils.Database(tmp_path / "old.db")
    schema.register_functions(old)
    migrations.apply(old, stop_before="m_issue7_phrase_pairs")
    add_articles(old)
    old.conn.commit()
    old.close()
    store = Store.open(tmp_path / "old.db")
    try:
        same_in_both(store.db)
    finally:
        store.close()


def test_pair_texts_made_ahead_are_the_ones_the_store_indexes(tmp_path: Path) -> None:
    # The parse processes make the pair texts of the articles they hand back (schema.pair_texts)
    # and the store indexes those instead of making them again on its thread.
    article = make_article(1, title="Luxshare builds AI devices")
    made = schema.pair_texts(article)
    assert made == {
        text: pair_text(text) for text in ("Luxshare builds AI devices", "Summary 1", "Content 1")
    }
    assert made["Luxshare builds AI devices"] == "luxshar_build build_ai ai_devic devic_"
    store = Store.open(tmp_path / "made.db")
    feed = one_feed(store)
    # A marker no tokeniser would make shows which text was indexed.
    marked = {text: f"{pairs}marker_{n}" for n, (text, pairs) in enumerate(made.items())}
    store.insert_articles(feed.id, [(article, make_match())], NOW, [marked])
    store.insert_articles(feed.id, [(make_article(2), make_match())], NOW)  # made here

    store.db.execute("create virtual table temp.v using fts5vocab(main, article_pair_fts, row)")
    terms = {term for (term,) in store.db.execute("select term from temp.v")}
    assert {"devic_marker_0", "1_marker_1", "1_marker_2"} <= terms
    assert {"summari_2", "content_2"} <= terms and "2_marker_1" not in terms
    with pairs.made_ahead([{"some text": "not_these"}]):
        assert pair_text("some text") == "not_these"
    assert pair_text("some text") == "some_text text_"  # forgotten after the block
    store.close()

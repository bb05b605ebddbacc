"""Integration: stories across outlets, rewrites and languages, through the real pipeline
(local feed server, SQLite file, webhook receiver), driven by the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import (
    FeedServer,
    Receiver,
    fixture_feed_names,
    monitor,
    webhook_channel,
    write_config,
)

from monitor.normalise import normalise
from monitor.records import Entry, Match, Sketch
from monitor.sketch import band_keys, minhash, shingles, sketch_article
from monitor.store import Store
from monitor.story_store import MAX_SIMILAR
from monitor.timeutil import from_iso

ORIGINAL_GUID = "techwire-2025-0919-openai-luxshare"
ORIGINAL_LINK = "https://techwire.example/2025/09/19/openai-luxshare-consumer-ai-device"


def run_all_feeds(tmp_path: Path, feed_server: FeedServer, channels: str = "") -> Path:
    urls = [feed_server.feed_url(n) for n in fixture_feed_names()]
    config = write_config(tmp_path / "monitor.toml", urls, channels)
    result = monitor("--config", str(config), "run", "--once")
    assert result.exit_code == 0, result.output
    return config


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def as_json(*args: str) -> Any:
    result = monitor(*args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def device_story(config: Path) -> dict[str, Any]:
    stories = as_json("--config", str(config), "stories")
    return next(s for s in stories if s["url"] == ORIGINAL_LINK)


def test_each_outlet_keeps_its_own_link_and_the_story_counts_outlets(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = run_all_feeds(tmp_path, feed_server)
    story = device_story(config)

    copies = as_json("--config", str(config), "search", "--story", str(story["id"]))

    by_feed = {c["feed"]: c for c in copies}
    assert story["outlet_count"] == len(copies) == 6
    assert story["outlets"][0] == "TechWire"  # whoever broke it comes first
    # Wirepoint's verbatim copy is the same article, linked as Wirepoint linked it.
    assert by_feed["Wirepoint Newswire"]["article_id"] == by_feed["TechWire"]["article_id"]
    assert by_feed["Wirepoint Newswire"]["url"].startswith(ORIGINAL_LINK + "?utm_source=")
    assert by_feed["TechWire"]["url"] == ORIGINAL_LINK
    assert by_feed["中国电子观察"]["title"].startswith("立讯精密获OpenAI订单")
    assert story["first_published"] == "2025-09-19T08:30:00Z"


def test_updated_entry_is_revised_and_never_alerted_again(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    config = run_all_feeds(tmp_path, feed_server, webhook_channel(receiver))
    receiver.wait_for(1)
    db = tmp_path / "monitor.db"
    articles_before = query(db, "select count(*) from articles")[0][0]
    feed = feed_server.folder / "techwire.xml"
    feed.write_text(
        feed.read_text(encoding="utf-8").replace(
            "OpenAI and Luxshare declined to comment.",
            "OpenAI and Luxshare declined to comment. Update: Luxshare confirmed the order.",
        ),
        encoding="utf-8",
    )

    monitor("--config", str(config), "run", "--once")

    [(revisions, updated, first_seen, content)] = query(
        db,
        "select a.revisions, a.updated, a.first_seen, a.content from articles a "
        "join sightings si on si.article_id = a.id where si.guid = ?",
        ORIGINAL_GUID,
    )
    assert revisions == 2
    assert updated >= first_seen
    assert "Luxshare confirmed the order" in content
    assert query(db, "select count(*) from articles")[0][0] == articles_before
    assert len(receiver.requests) == 1


def test_story_gaining_outlets_after_its_alert_is_not_alerted_again(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    config = run_all_feeds(tmp_path, feed_server, webhook_channel(receiver))
    receiver.wait_for(1)
    before = device_story(config)
    assert before["alerted"] is True
    # Another outlet runs a synonym-spun copy of TechWire's report a day later.
    feed = feed_server.folder / "market-pulse.xml"
    feed.write_text(
        feed.read_text(encoding="utf-8").replace(
            "<item>",
            """<item>
      <title>OpenAI inks pact with Luxshare to construct its initial consumer AI gadget</title>
      <link>https://market-pulse.example/2025/09/20/openai-luxshare-pact</link>
      <guid>market-pulse-spun-copy</guid>
      <pubDate>Sat, 20 Sep 2025 18:00:00 +0000</pubDate>
      <description>OpenAI has inked a manufacturing pact with Luxshare Precision, the Chinese
      electronics firm best known for putting together iPhones and AirPods for Apple, to
      construct the ChatGPT creator's initial consumer AI gadget, according to two individuals
      acquainted with the arrangement.</description>
    </item>
    <item>""",
            1,
        ),
        encoding="utf-8",
    )

    monitor("--config", str(config), "run", "--once")

    after = device_story(config)
    assert after["id"] == before["id"]
    assert after["outlet_count"] == before["outlet_count"] + 1
    assert after["alerted"] is True
    assert len(receiver.requests) == 1


def test_every_article_has_a_story_but_only_alert_worthy_ones_are_listed(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = run_all_feeds(tmp_path, feed_server)
    db = tmp_path / "monitor.db"

    listed = as_json("--config", str(config), "stories")
    everything = as_json("--config", str(config), "stories", "--all")

    assert query(db, "select count(*) from articles where story_id is null") == [(0,)]
    assert len(listed) == 4
    assert all(s["alert_worthy"] for s in listed)
    assert len(everything) == query(db, "select count(*) from stories")[0][0] > len(listed)


def test_search_story_without_query_needs_a_story(tmp_path: Path, feed_server: FeedServer) -> None:
    config = run_all_feeds(tmp_path, feed_server)

    assert monitor("--config", str(config), "search").exit_code == 2
    missing = monitor("--config", str(config), "search", "--story", "99999")
    assert missing.exit_code == 1
    assert "no story with id 99999" in missing.output


def test_candidates_are_found_through_indexes_not_table_scans(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "monitor.db")
    try:
        signature = minhash(shingles("OpenAI signs deal with Luxshare"))
        sketch = Sketch(signature, tuple(band_keys(signature)), frozenset())
        plans = []
        for sql, params in _candidate_queries(sketch):
            plans += [r[3] for r in store.db.execute("explain query plan " + sql, params)]
    finally:
        store.close()

    assert any("article_bands USING PRIMARY KEY" in p for p in plans), plans
    assert any("story_organisations USING PRIMARY KEY" in p for p in plans), plans
    # Scanning a subquery reads only the rows its LIMIT let through, not a table.
    tables_scanned = [p for p in plans if p.startswith("SCAN") and "subquery" not in p]
    assert not [p for p in tables_scanned if "fts" not in p], plans


def _candidate_queries(sketch: Sketch) -> list[tuple[str, list[Any]]]:
    """The two candidate queries, as the store runs them (recorded through a trace)."""
    statements: list[str] = []
    store = Store.open(":memory:")
    try:
        store.db.conn.set_trace_callback(statements.append)
        now = from_iso("2026-03-02T08:00:00+00:00")
        assert now is not None
        store.similar_articles(sketch, now, now)
        store.stories_naming(["OpenAI", "Luxshare"], now, now)
    finally:
        store.close()
    return [(s, []) for s in statements if s.lstrip().lower().startswith("select")]


@pytest.mark.parametrize("written_before", [False, True], ids=["waiting", "written"])
def test_revised_article_is_indexed_by_its_new_text_only(
    tmp_path: Path, written_before: bool
) -> None:
    """Whether its old keys still wait in memory or were written to the table."""
    store = Store.open(tmp_path / "monitor.db")
    try:
        store.db.execute("insert into feeds (url, origin, interval) values ('f', 'config', 60)")
        feed_id = store.db.execute("select id from feeds").fetchone()[0]
        now = from_iso("2026-03-02T08:00:00+00:00")
        assert now is not None
        old_text = "Luxshare to assemble OpenAI device in Vietnam, sources say"
        new_text = "Correction: Foxconn, not Luxshare, will build the device in India"
        article = normalise(
            Entry("g", old_text, "https://a.example/x", old_text, None, now, ()), "f"
        )
        revised = normalise(
            Entry("g", new_text, "https://a.example/x", new_text, None, now, ()), "f"
        )
        match = Match((), (), False, 0.0, ())
        article_id = store.add_article(feed_id, article, match, now, sketch_article(article))
        if written_before:
            store.bands.flush()

        store.revise_article(article_id, revised, match, sketch_article(revised), now)

        similar = store.similar_articles(sketch_article(revised), now, now)
        store.bands.flush()
        stored = {r[0] for r in store.db.execute("select band from article_bands")}

        assert stored == set(sketch_article(revised).bands)  # the old text's keys are gone
        assert [s.article_id for s in similar] == [article_id]
        assert similar[0].minhash == sketch_article(revised).minhash
        assert store.sighting(feed_id, "g") == (article_id, revised.content_hash)
    finally:
        store.close()


def test_near_duplicate_is_found_among_hundreds_sharing_a_common_band_key(
    tmp_path: Path,
) -> None:
    """Unrelated articles that share one common band key (as common words make them do) must
    neither drown an older near-duplicate that shares several keys nor all be compared."""
    store = Store.open(tmp_path / "monitor.db")
    try:
        store.db.execute("insert into feeds (url, origin, interval) values ('f', 'config', 60)")
        feed_id = store.db.execute("select id from feeds").fetchone()[0]
        now = from_iso("2026-03-02T08:00:00+00:00")
        assert now is not None
        match = Match((), (), False, 0.0, ())
        text = "Luxshare to assemble OpenAI device in Vietnam, sources say, for a 2026 launch"
        copy = normalise(Entry("copy", text, "https://a.example/c", text, None, now, ()), "f")
        copy_id = store.add_article(feed_id, copy, match, now, sketch_article(copy))
        probe = sketch_article(copy)
        common_key = probe.bands[0]
        for n in range(600):
            other = f"Unrelated story number {n} about tariffs and quarterly results"
            article = normalise(
                Entry(f"o{n}", other, f"https://b.example/{n}", other, None, now, ()), "f"
            )
            own = sketch_article(article)
            sketch = Sketch(own.minhash, (common_key, *own.bands[1:]), own.anchors)
            store.add_article(feed_id, article, match, now, sketch)

        similar = store.similar_articles(probe, now, now)

        assert copy_id in [s.article_id for s in similar]
        assert len(similar) <= MAX_SIMILAR
    finally:
        store.close()

"""The near-duplicate index (monitor.bands): keys that wait in memory, their batches, and what a
crash, a rollback or a close does to them."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, FeedServer, Reply, fixture_feed_names, monitor, write_config
from test_store import NOW, make_article, make_match, one_feed

from monitor import bands
from monitor.config import load_config
from monitor.pipeline import Context, poll
from monitor.records import Sketch
from monitor.sketch import sketch_article
from monitor.store import Store
from monitor.timeutil import utcnow


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setattr(bands, "FLUSH_AT", 5)
    yield 5


def written(store: Store) -> tuple[set[int], int]:
    """The articles with keys in the table, and the table's watermark."""
    ids = {i for (i,) in store.db.execute("select distinct article_id from article_bands")}
    (upto,) = store.db.execute("select upto from article_bands_written").fetchone()
    return ids, upto


def add(store: Store, n: int, sketch: Sketch | None = None) -> int:
    feed = one_feed(store)
    article = make_article(n, title=f"Luxshare builds device number {n} for OpenAI")
    return store.add_article(feed.id, article, make_match(), NOW, sketch or sketch_article(article))


def test_keys_wait_in_memory_and_are_written_in_batches(tmp_path: Path, small_batches: int) -> None:
    store = Store.open(tmp_path / "monitor.db")
    try:
        ids = [add(store, n) for n in range(small_batches - 1)]
        assert written(store) == (set(), 0)
        probe = sketch_article(make_article(1, title="Luxshare builds device number 1 for OpenAI"))
        assert ids[1] in [s.article_id for s in store.similar_articles(probe, NOW, NOW)]

        ids.append(add(store, small_batches))  # the batch is full

        assert written(store) == (set(ids), ids[-1])
        assert ids[1] in [s.article_id for s in store.similar_articles(probe, NOW, NOW)]
    finally:
        store.close()


def test_candidates_are_the_newest_per_key_across_memory_and_table(
    tmp_path: Path, small_batches: int
) -> None:
    store = Store.open(tmp_path / "monitor.db")
    try:
        shared = 12345  # one key every article has, besides keys of its own
        ids = []
        for n in range(20):
            own = sketch_article(make_article(n, title=f"Story {n} of its own {n * 7}"))
            ids.append(add(store, n, Sketch(own.minhash, (shared, *own.bands[1:]), own.anchors)))
        assert len(written(store)[0]) == 20 - 20 % small_batches  # some wait, the rest written
        store.bands.flush()
        for n in range(20, 23):  # and three more wait in memory
            own = sketch_article(make_article(n, title=f"Story {n} of its own {n * 7}"))
            ids.append(add(store, n, Sketch(own.minhash, (shared, *own.bands[1:]), own.anchors)))

        newest = [i for key, i in store.bands.newest([shared], exclude=ids[-1]) if key == shared]

        assert newest == sorted(ids[:-1], reverse=True)[: bands.PER_BAND]
    finally:
        store.close()


def test_keys_lost_with_a_crashed_process_are_rebuilt_from_the_sketches(tmp_path: Path) -> None:
    path = tmp_path / "monitor.db"
    crashed = Store.open(path)
    article = make_article(1, title="Luxshare to assemble OpenAI device in Vietnam")
    article_id = add(crashed, 1)
    # The process dies: its connection is never closed, so its waiting keys never reach the table.
    crashed.db.conn.close()

    store = Store.open(path)
    try:
        assert written(store) == (set(), 0)
        similar = store.similar_articles(sketch_article(article), NOW, NOW)
        assert [s.article_id for s in similar] == [article_id]
    finally:
        store.close()
    reopened = Store.open(path)
    try:
        assert written(reopened) == ({article_id}, article_id)  # close wrote them
    finally:
        reopened.close()


def test_a_rollback_takes_back_the_keys_it_added(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "monitor.db")
    try:
        kept = add(store, 1)
        with pytest.raises(RuntimeError), store.transaction():
            add(store, 2)
            raise RuntimeError("the job failed")
        store.bands.flush()
        assert written(store) == ({kept}, kept)
    finally:
        store.close()


def test_the_migration_marks_an_existing_archives_keys_as_written(tmp_path: Path) -> None:
    # An archive from before the watermark: its keys are all in the table.
    store = Store.open(tmp_path / "old.db")
    ids = [add(store, n) for n in range(3)]
    store.bands.flush()
    store.db.execute("delete from _sqlite_migrations where name = 'm_issue3_band_watermark'")
    store.db.execute("drop table article_bands_written")
    store.close()

    store = Store.open(tmp_path / "old.db")
    try:
        assert written(store) == (set(ids), ids[-1])
        assert store.bands.newest([], None) == [] and store.bands._articles == 0
    finally:
        store.close()


def test_a_poll_cycle_writes_its_keys_to_the_table_when_it_ends(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    urls = [feed_server.feed_url(name) for name in fixture_feed_names()]
    config = load_config(write_config(tmp_path / "monitor.toml", urls))
    store = Store.open(config.storage_path)
    try:
        asyncio.run(poll(Context.build(config, store), utcnow()))
        # Seen from another connection while the daemon's store stays open.
        other = sqlite3.connect(config.storage_path)
        sketched = {
            i for (i, s) in other.execute("select article_id, minhash from article_sketches")
        }
        indexed = {i for (i,) in other.execute("select distinct article_id from article_bands")}
        (upto,) = other.execute("select upto from article_bands_written").fetchone()
        other.close()
    finally:
        store.close()

    assert len(sketched) > 10
    assert indexed == sketched and upto == max(sketched)


def rss(title: str, items: str) -> str:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>https://{title.lower()}.example/</link>{items}</channel></rss>"
    )


def item(guid: str, link: str, title: str, text: str) -> str:
    return (
        f'<item><guid isPermaLink="false">{guid}</guid><link>{link}</link>'
        f"<title>{title}</title><description>{text}</description></item>"
    )


def test_keys_a_killed_process_held_in_memory_still_find_copies(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """``run --once`` is SIGKILLed mid-cycle, after storing an article and before the cycle's
    end wrote its band keys. A copy that arrives on the next run must still join its story.
    Neither names an organisation: only the near-duplicate index can link them."""
    title = "Smart glasses to be assembled in northern Vietnam"
    text = (
        "A contract manufacturer will assemble the first smart glasses designed by a phone "
        "maker at its plants in northern Vietnam, according to people familiar with the plans; "
        "analysts expect mass production to start in late 2026 with a launch in 2027."
    )
    (feed_server.folder / "one.xml").write_text(
        rss("Wire", item("a", "https://wire.example/a", title, text)), encoding="utf-8"
    )
    feed_server.routes["/slow.xml"] = Reply(200, {}, b"", delay=60)  # holds the cycle open
    urls = [feed_server.feed_url("one.xml"), feed_server.feed_url("slow.xml")]
    config = write_config(tmp_path / "monitor.toml", urls, fetch='timeout = "90s"')
    db = tmp_path / "monitor.db"
    victim = subprocess.Popen(
        [sys.executable, "-m", "monitor", "-q", "--config", str(config), "run", "--once"],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (_count(db, "article_sketches") and _count(db, "sightings")):
            assert time.monotonic() < deadline and victim.poll() is None, "nothing stored"
            time.sleep(0.05)
    finally:
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=60)
    assert _count(db, "article_bands") == 0  # its keys died with it

    feed_server.routes.clear()
    (feed_server.folder / "two.xml").write_text(
        rss("Digest", item("b", "https://digest.example/b?ref=rss", f"Report: {title}", text)),
        encoding="utf-8",
    )
    urls = [feed_server.feed_url("one.xml"), feed_server.feed_url("two.xml")]
    monitor("--config", str(write_config(tmp_path / "monitor.toml", urls)), "run", "--once")

    conn = sqlite3.connect(db)
    stories = conn.execute("select guid, story_id from articles order by guid").fetchall()
    conn.close()
    assert [guid for guid, _ in stories] == ["a", "b"]
    assert stories[0][1] == stories[1][1] is not None  # one story told twice


def _count(db: Path, table: str) -> int:
    """Rows in ``table`` (0 while the file or the table does not exist yet)."""
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return 0
    try:
        return int(conn.execute(f"select count(*) from {table}").fetchone()[0])
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()

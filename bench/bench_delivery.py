"""Benchmark: one digest delivered from a large outbox, against a floor.

Builds a SQLite archive with a long history (--history stories already sent to the channel, a
tenth of them since carried by more outlets) and --pending stories waiting, each told by three
outlets, then measures in the same run:

- floor: render the same digest from records already in memory and write its files (.txt,
  .html, .json, .eml): what any digest sender does at least, with no outbox;
- monitor: ``deliver`` to a file channel with include_updates: choose the lane, read the pending
  stories in order, find the updates, record the digest and its payload, render, write, and
  record the send with every story's outlet count, all in SQLite.

Prints the median of --repeat runs and the ratio to the floor. Not a test: run it by hand,
    .venv/bin/python bench/bench_delivery.py [--pending 500] [--history 20000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import FeedConfig, load_config_text
from monitor.delivery import deliver
from monitor.digest import render
from monitor.notify import write_files
from monitor.records import Article, Digest, Match
from monitor.store import Store

START = datetime(2026, 1, 1, tzinfo=UTC)
OUTLETS = [f"https://feeds.example/{n}.xml" for n in range(8)]


def article(n: int, when: datetime) -> Article:
    return Article(
        OUTLETS[0],
        f"guid-{n}",
        f"Luxshare signs deal {n} to assemble AI servers for OpenAI",
        f"https://news.example/{n}",
        f"https://news.example/{n}",
        "summary",
        "content",
        when,
        (),
        f"v1:{n}",
        f"luxshare deal {n}",
    )


def add_stories(store: Store, first: int, count: int, when: datetime, outlets: int) -> list[int]:
    feeds = store.due_feeds(START, force=True)
    ids = []
    with store.transaction():
        for n in range(first, first + count):
            match = Match(
                ("Luxshare", "OpenAI"),
                ("Luxshare", "OpenAI"),
                True,
                random.random(),
                (f"evidence (title): deal {n}", "watched: Luxshare, OpenAI"),
            )
            article_id = store.add_article(feeds[0].id, article(n, when), match, when)
            for feed in feeds[1:outlets]:
                store.add_sighting(feed.id, f"copy-{n}", article_id, when)
            story_id = store.create_story(article_id, article(n, when), match, when, when)
            store.queue_deliveries(story_id, ["inbox"], when)
            ids.append(story_id)
    return ids


def build(folder: Path, pending: int, history: int) -> tuple[Store, datetime]:
    store = Store.open(folder / "monitor.db")
    store.sync_feeds([FeedConfig(url, f"Outlet {i}", 900) for i, url in enumerate(OUTLETS)], START)
    old = add_stories(store, 0, history, START, outlets=1)
    config = load_config_text(f'[watch.entities]\nX = ["X"]\n{channel(folder / "history")}')
    deliver(store, config, START + timedelta(hours=1))  # the history: sent, one outlet each
    feeds = store.due_feeds(START, force=True)
    with store.transaction():  # a tenth of the old stories gained outlets since
        for story_id in old[::10]:
            row = store.db.execute("select id from articles where story_id = ?", [story_id])
            article_id = row.fetchone()[0]
            store.add_sighting(feeds[1].id, f"late-{story_id}", article_id, START + timedelta(2))
    now = START + timedelta(days=3)
    add_stories(store, history, pending, now, outlets=3)
    return store, now


def channel(path: Path) -> str:
    return f'[[channels]]\nname = "inbox"\ntype = "file"\npath = "{path}"\ninclude_updates = true\n'


def measure(pending: int, history: int) -> tuple[float, float, int, int]:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        store, now = build(folder, pending, history)
        config = load_config_text(f'[watch.entities]\nX = ["X"]\n{channel(folder / "out")}')
        # The floor's digest: the same stories and updates, already in memory.
        ids = store.pending_story_ids("inbox")
        digest = Digest(
            "floor",
            "inbox",
            now,
            tuple(store.digest_stories(ids)),
            tuple(store.story_updates("inbox", ids)),
        )
        started = time.perf_counter()
        write_files(config.channels[0], digest, render(digest))
        floor = time.perf_counter() - started

        started = time.perf_counter()
        [outcome] = deliver(store, config, now)
        full = time.perf_counter() - started
        store.close()
    assert outcome.status == "sent" and outcome.stories == pending
    return floor, full, len(digest.stories), len(digest.updates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pending", type=int, default=500)
    parser.add_argument("--history", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    random.seed(5)
    runs = [measure(args.pending, args.history) for _ in range(args.repeat)]
    floor = statistics.median(r[0] for r in runs)
    full = statistics.median(r[1] for r in runs)
    _, _, stories, updates = runs[0]
    print(
        f"digest of {stories} pending stories + {updates} updates, "
        f"{args.history} stories in the channel's history"
    )
    print(f"floor (render + write, records in memory): {floor * 1000:8.1f} ms")
    print(f"monitor deliver (outbox to files, SQLite): {full * 1000:8.1f} ms")
    print(f"ratio to floor: {full / floor:.2f}x  (median of {args.repeat})")


if __name__ == "__main__":
    main()

"""Benchmark: search latency at 10k, 100k and 1M articles, against the same FTS5 query run directly.

Loads synthetic articles into a real monitor database (``Store.open``: the real schema, the
triggers that keep the search index in step, the Chinese-aware index) with realistic lengths:
titles of 6-16 words, summaries of 20-90 words, and full content of 100-900 words for 60 % of
the articles (the rest come from summary-only feeds). Words follow a Zipf distribution over a
30,000-word vocabulary plus the names a news monitor watches; 8 % of the articles are Chinese,
with Latin names glued to the Chinese text as real Chinese outlets write them.

At each size it times several query shapes, in the same run:

- monitor: ``queries.search`` as ``monitor search`` calls it (parse the query, filters, bm25
  within the newest matches, snippets, JSON columns decoded);
- floor: the same FTS5 expression issued directly with sqlite3, written as one would by hand
  (MATCH, the same filters, ORDER BY rank or date, LIMIT, the same columns and snippet).

Reports p50 and p95 per shape and size, the ratio monitor/floor at each size (floor: <= 1.5) and
monitor's p50 at the largest size over its p50 at the smallest (floor: <= 3). Not a test; run by
hand (the 1M load takes 15 to 30 minutes and about 12 GB in --dir):

    .venv/bin/python bench/bench_search.py [--sizes 10000,100000,1000000] [--dir FOLDER]

With --dir the databases are kept (monitor-SIZE.db) and a later run reuses them, loading only
the articles a database lacks; opening one runs any newer schema migration on it first, so a
schema change is measured on the loaded archive without loading it again (the migration's own
time is printed). After loading, the search indexes are optimised as the daemon's daily
housekeeping does (``retention.optimise_search_index``): an archive the daemon has kept for a
while has its indexes merged into few segments, which makes lookups by id several times
cheaper than in an index that was never merged. --budget caps the seconds spent per shape and
size; --shapes picks shapes by name ("phrase,Chinese term").
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from monitor import queries
from monitor.retention import optimise_search_index
from monitor.search import compile_query
from monitor.store import Store

START = datetime(2024, 1, 1, tzinfo=UTC)
SPACING = timedelta(seconds=60)  # one article a minute: 1M articles span about two years
FEEDS = 200
NAMES = ["OpenAI", "Luxshare", "Foxconn", "Broadcom", "TSMC", "Apple", "Microsoft", "TrendForce"]
CUES = ["deal", "agreement", "device", "devices", "chip", "chips", "server", "assemble", "AI"]
CJK_NAMES = ["立讯精密", "富士康", "台积电", "集邦咨询", "OpenAI", "Apple"]
CJK_WORDS = [
    "签署",
    "协议",
    "代工",
    "芯片",
    "设备",
    "服务器",
    "订单",
    "合作",
    "发布",
    "消费级",
    "市场",
]


@dataclass(frozen=True)
class Shape:
    name: str
    query: str
    options: dict[str, Any]


SHAPES = [
    Shape("common word", "OpenAI", {}),
    Shape("rare word", "quarzel", {}),
    Shape("two words", "Luxshare device", {}),
    Shape("phrase", '"AI device"', {}),
    Shape("OR", "Broadcom OR Foxconn", {}),
    Shape("prefix", "lux*", {}),
    Shape("NOT", "OpenAI NOT chip", {}),
    Shape("Chinese term", "立讯", {}),
    Shape("filtered 30d matched", "OpenAI", {"since": "30d", "matched": True}),
    Shape("date sort", "device", {"sort": "date"}),
]


class Corpus:
    """Deterministic synthetic text: Zipf-distributed words, sentences drawn from a pool."""

    def __init__(self, seed: int = 7) -> None:
        self.random = random.Random(seed)
        syllables = ["ka", "lo", "mer", "tin", "sa", "vo", "rel", "qu", "ar", "zel", "pon", "di"]
        vocabulary = sorted(
            {
                "".join(self.random.choices(syllables, k=self.random.randint(2, 4)))
                for _ in range(40_000)
            }
        )[:30_000]
        self.random.shuffle(vocabulary)
        weights = [1 / (rank + 1) for rank in range(len(vocabulary))]
        words = self.random.choices(vocabulary, weights, k=400_000)
        self.sentences = [self._sentence(words) for _ in range(20_000)]
        self.cjk = "".join(chr(c) for c in range(0x4E00, 0x4E00 + 2500))
        self.cjk_sentences = [self._cjk_sentence() for _ in range(5_000)]

    def _sentence(self, words: list[str]) -> str:
        picked = [self.random.choice(words) for _ in range(self.random.randint(8, 22))]
        for _ in range(self.random.choice((0, 0, 1, 1, 2))):
            picked.insert(self.random.randrange(len(picked)), self.random.choice(NAMES + CUES))
        return " ".join(picked).capitalize() + "."

    def _cjk_sentence(self) -> str:
        parts = [
            self.random.choice((*CJK_NAMES, *CJK_WORDS))
            if self.random.random() < 0.3
            else "".join(self.random.choices(self.cjk, k=self.random.randint(1, 4)))
            for _ in range(self.random.randint(6, 20))
        ]
        return "".join(parts) + "。"

    def words(self, low: int, high: int) -> str:
        target = self.random.randint(low, high)
        out: list[str] = []
        while sum(s.count(" ") + 1 for s in out) < target:
            out.append(self.random.choice(self.sentences))
        return " ".join(out)

    def article(self, n: int) -> dict[str, Any]:
        # Each article from its own seed, so a load can resume where an earlier one stopped.
        self.random = random.Random(n)
        chinese = self.random.random() < 0.08
        if chinese:
            title = self.random.choice(self.cjk_sentences)[:40]
            summary = "".join(self.random.choices(self.cjk_sentences, k=3))
            content = "".join(self.random.choices(self.cjk_sentences, k=self.random.randint(5, 40)))
        else:
            title = " ".join(self.words(6, 16).split()[: self.random.randint(6, 16)])
            summary = self.words(20, 90)
            content = self.words(100, 900) if self.random.random() < 0.6 else ""
        entities = sorted({name for name in NAMES[:3] if name in title + summary})
        worthy = bool(entities) and self.random.random() < 0.3
        published = START + SPACING * n + timedelta(seconds=self.random.randint(-600, 600))
        return {
            "id": n,
            "feed_id": n % FEEDS + 1,
            "guid": f"guid-{n}",
            "url": f"https://news{n % FEEDS}.example/{n}",
            "title": title,
            "summary": summary,
            "content": content,
            "published": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "first_seen": published.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "entities": json.dumps(entities),
            "alert_worthy": int(worthy),
            "score": 0.9 if worthy else 0.1,
            "why": "[]",
        }


def load(store: Store, corpus: Corpus, start: int, stop: int) -> float:
    """Insert articles start..stop-1 (with their sightings); returns seconds taken."""
    began = time.perf_counter()
    columns = list(corpus.article(0))
    names = ", ".join(columns)
    values = ", ".join(":" + c for c in columns)
    insert = f"insert into articles ({names}) values ({values})"
    for batch_start in range(start, stop, 5_000):
        rows = [corpus.article(n) for n in range(batch_start, min(stop, batch_start + 5_000))]
        with store.db.conn:
            store.db.conn.executemany(insert, rows)
            store.db.conn.executemany(
                "insert into sightings (feed_id, guid, article_id, first_seen) "
                "values (:feed_id, :guid, :id, :first_seen)",
                rows,
            )
    return time.perf_counter() - began


def ours(store: Store, shape: Shape, now: datetime) -> Callable[[], int]:
    options = dict(shape.options)
    if "since" in options:
        options["since"] = queries.parse_moment(options["since"], now)

    def run() -> int:
        return len(queries.search(store.db, shape.query, limit=20, **options).rows)

    return run


def direct(store: Store, shape: Shape, now: datetime) -> Callable[[], int]:
    """The same FTS5 expression, by hand: one statement, no window, no Python after it."""
    where = ["article_search_fts match :match"]
    params: dict[str, Any] = {"match": compile_query(shape.query)}
    if "since" in shape.options:
        where.append("coalesce(a.published, a.first_seen) >= :since")
        since = queries.parse_moment(shape.options["since"], now)
        params["since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    if shape.options.get("matched"):
        where.append("a.alert_worthy = 1")
    order = "coalesce(a.published, a.first_seen) desc" if "sort" in shape.options else "rank"
    sql = f"""
        select a.id, a.title, a.url, a.published, coalesce(f.name, f.title, f.url), a.story_id,
               a.entities, a.alert_worthy, a.score, rank,
               snippet(article_search_fts, -1, '[', ']', '…', 16)
        from article_search_fts join articles a on a.id = article_search_fts.rowid
        join feeds f on f.id = a.feed_id
        where {" and ".join(where)} order by {order} limit 20
    """
    conn = store.db.conn

    def run() -> int:
        return len(conn.execute(sql, params).fetchall())

    return run


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p95 of samples in seconds, in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


def compare(
    first: Callable[[], int], second: Callable[[], int], repeat: int, budget: float
) -> tuple[tuple[float, float], tuple[float, float], int]:
    """Time both in alternation (a busy machine slows both alike); p50/p95 of each, and rows.
    Stops early, after at least 3 rounds, once ``budget`` seconds are spent."""
    rows = first()  # warm the page cache
    second()
    samples: tuple[list[float], list[float]] = ([], [])
    started = time.perf_counter()
    for round_ in range(repeat):
        if round_ >= 3 and time.perf_counter() - started > budget:
            break
        for run, kept in ((first, samples[0]), (second, samples[1])):
            began = time.perf_counter()
            run()
            kept.append(time.perf_counter() - began)
    return percentiles(samples[0]), percentiles(samples[1]), rows


def measure(
    store: Store, size: int, repeat: int, budget: float, shapes: list[Shape]
) -> dict[str, tuple[float, float, float, float]]:
    now = START + SPACING * size
    print(f"\n{size:,} articles")
    print(
        f"  {'shape':<22}{'rows':>5}  {'monitor p50':>11} {'p95':>8}  {'direct p50':>10} "
        f"{'p95':>8}  {'ratio':>5}"
    )
    results = {}
    for shape in shapes:
        (ours_p50, ours_p95), (direct_p50, direct_p95), rows = compare(
            ours(store, shape, now), direct(store, shape, now), repeat, budget
        )
        ratio = ours_p50 / direct_p50
        print(
            f"  {shape.name:<22}{rows:>5}  {ours_p50:>9.2f}ms {ours_p95:>6.2f}ms  "
            f"{direct_p50:>8.2f}ms {direct_p95:>6.2f}ms  {ratio:>5.2f}",
            flush=True,
        )
        results[shape.name] = (ours_p50, ours_p95, direct_p50, direct_p95)
    return results


def sizes_argument(text: str) -> list[int]:
    return sorted(int(s.replace("_", "")) for s in text.split(","))


@contextmanager
def folder(path: str | None) -> Iterator[Path]:
    if path:
        Path(path).mkdir(parents=True, exist_ok=True)
        yield Path(path)
        return
    with tempfile.TemporaryDirectory(prefix="bench-search-") as temporary:
        yield Path(temporary)


def open_store(path: Path) -> Store:
    store = Store.open(path)
    store.db.execute("pragma synchronous = normal")
    with store.db.conn:
        store.db.conn.executemany(
            "insert or ignore into feeds (id, url, name, origin, interval, enabled, "
            "consecutive_failures) values (?, ?, ?, 'config', 900, 1, 0)",
            [(i, f"https://news{i}.example/feed", f"Outlet {i}") for i in range(1, FEEDS + 1)],
        )
    return store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes_argument, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--repeat", type=int, default=21, help="timed runs per query")
    parser.add_argument(
        "--dir",
        help="folder for one database per size, monitor-SIZE.db; kept, and a later run with "
        "the same folder reuses what is loaded (default: a temporary folder)",
    )
    parser.add_argument(
        "--budget", type=float, default=60, help="seconds per shape and size before stopping early"
    )
    parser.add_argument(
        "--shapes",
        type=lambda text: text.split(","),
        default=[shape.name for shape in SHAPES],
        help="comma-separated names of the query shapes to time (default: all)",
    )
    args = parser.parse_args()
    shapes = [shape for shape in SHAPES if shape.name in args.shapes]
    if len(shapes) != len(args.shapes):
        parser.error(f"--shapes: choose among {', '.join(s.name for s in SHAPES)}")
    corpus = Corpus()
    results = {}
    print(f"sqlite {sqlite3.sqlite_version}")
    with folder(args.dir) as where:
        for size in args.sizes:
            path = where / f"monitor-{size}.db"
            began = time.perf_counter()
            store = open_store(path)
            print(f"\n{path}: opened (and migrated) in {time.perf_counter() - began:.0f}s")
            loaded = store.db.execute("select count(*) from articles").fetchone()[0]
            if loaded > size:
                raise SystemExit(f"{path} holds {loaded:,} articles, more than {size:,}")
            seconds = load(store, corpus, loaded, size)
            print(f"\n{path}: {loaded:,} articles kept, {size - loaded:,} loaded in {seconds:.0f}s")
            began = time.perf_counter()
            optimise_search_index(store.db)  # as the daemon's daily housekeeping does
            print(f"{path}: search indexes optimised in {time.perf_counter() - began:.0f}s")
            results[size] = measure(store, size, args.repeat, args.budget, shapes)
            store.close()
    first, last = args.sizes[0], args.sizes[-1]
    print(f"\nfloors: monitor p50 <= 1.5 x direct p50; p50 at {last:,} <= 3 x p50 at {first:,}")
    failures = 0
    for shape in shapes:
        growth = results[last][shape.name][0] / results[first][shape.name][0]
        worst = max(r[shape.name][0] / r[shape.name][2] for r in results.values())
        ok = growth <= 3 and worst <= 1.5
        failures += not ok
        print(
            f"  {shape.name:<22} p50 {last:,}/{first:,}: {growth:5.2f}   worst monitor/direct: "
            f"{worst:4.2f}   {'ok' if ok else 'MISSED'}"
        )
    print("all floors met" if not failures else f"{failures} shapes missed a floor")


if __name__ == "__main__":
    main()

"""Benchmark: poll cycles over N generated feeds on a local server, against floors and a peer.

A server process serves N RSS feeds (default 1000, about 30 entries each) with ETags and
answers If-None-Match with 304; before the warm cycle a share of the feeds (default 10 %) gains
new entries. Entries read like news (``Text``): Zipf-distributed words, and a tenth of them
retell a wire story that eight feeds carry, so clustering has real copies to find. Measured in
the same run, on the same server:

- monitor, cold cycle: ``poll`` into an empty SQLite file (fetch, parse in the process pool,
  normalise, dedupe, match, cluster, store with the FTS index);
- monitor, warm cycle: the same feeds again, mostly 304;
- parse floor: feedparser with the settings the pipeline uses (lower-case headers,
  ``sanitize_html=False``, ``resolve_relative_uris=False``) parsing the same bodies one after
  another in one process, nothing fetched, nothing stored;
- fetch floor: one bare ``httpx.AsyncClient`` GETting every feed at the same concurrency,
  nothing parsed;
- the peer: the ``reader`` library (PyPI, ``pip install -e '.[bench]'``), cold and warm, with as
  many worker threads as monitor's concurrency.

Each figure is wall time, entries per second, CPU seconds and peak RSS (the process and its
descendants: the server is not counted). All feeds live on one host here, so ``fetch.per_host``
is set to the concurrency: with the default of 2 the benchmark would measure politeness, not
speed.
Not a test; run it by hand:

    .venv/bin/python bench/bench_fetch.py [--feeds 1000] [--entries 30] [--share 0.1]
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import io
import logging
import multiprocessing
import os
import random
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import accumulate
from pathlib import Path
from typing import Any

import feedparser
import httpx

from monitor import parsepool
from monitor.config import load_config_text
from monitor.pipeline import Context, poll
from monitor.store import Store
from monitor.timeutil import utcnow

CONCURRENCY = 8
NAMES = ("OpenAI", "Luxshare", "Foxconn", "Apple", "Samsung", "TSMC", "Nvidia", "Pegatron")
DOMAIN = (  # noqa: SIM905 (one readable line of words)
    "chip server device supply deal partner factory assemble launch market share quarter "
    "revenue growth cloud model data centre design wafer module camera display battery "
    "phone laptop robot sensor network software update price report analyst investor plant "
    "order capacity export policy tariff research engineer contract prototype shipment"
).split()
FUNCTION = (  # noqa: SIM905
    "the of and to a in that is for on with as by at from it was be are this an has have "
    "said will its not but which or more"
).split()
WIRE_SHARE = 0.1  # entries that retell a wire story other feeds also carry
WIRE_OUTLETS = 8  # feeds that carry one wire story


class Text:
    """News-like text: words drawn with Zipf frequencies from function words, the trade's words
    and 20,000 made-up ones, as in real news, where two unrelated articles share little beyond
    "the" and "of". A toy vocabulary of a few dozen words would make every article a
    near-duplicate of every other and measure a pathological clustering load, not a poll."""

    def __init__(self) -> None:
        rng = random.Random(0)
        syllables = ["ka", "lo", "mer", "tin", "sa", "vo", "rel", "qu", "ar", "zel", "pon", "di"]
        made_up: set[str] = set()
        while len(made_up) < 20_000:
            made_up.add("".join(rng.choices(syllables, k=rng.randint(2, 5))))
        vocabulary = FUNCTION + DOMAIN + sorted(made_up)
        self.vocabulary = vocabulary
        self.cumulative = list(
            accumulate(1 / (rank + 1) ** 1.05 for rank in range(len(vocabulary)))
        )

    def words(self, rng: random.Random, n: int) -> list[str]:
        return rng.choices(self.vocabulary, cum_weights=self.cumulative, k=n)

    def retold(self, rng: random.Random, words: list[str]) -> list[str]:
        """An outlet's rewrite of a wire story: about one word in six replaced."""
        return [self.words(rng, 1)[0] if rng.random() < 0.15 else w for w in words]


TEXT = Text()


def entry_xml(feed: int, n: int, rng: random.Random, when: datetime) -> str:
    """Entry ``n`` of a feed: its own story, or (a ``WIRE_SHARE`` of entries) this hour's wire
    story as this feed retells it, which ``WIRE_OUTLETS`` feeds carry."""
    if rng.random() < WIRE_SHARE:
        wire = random.Random(f"wire {n} {feed // WIRE_OUTLETS}")
        title_words, body_words = TEXT.words(wire, 9), TEXT.words(wire, 90)
        title_words, body_words = TEXT.retold(rng, title_words), TEXT.retold(rng, body_words)
    else:
        title_words, body_words = TEXT.words(rng, rng.randint(6, 14)), TEXT.words(rng, 90)
    title = " ".join(title_words).capitalize()
    if rng.random() < 0.05:
        title = f"{rng.choice(NAMES)} signs {title.lower()} deal with {rng.choice(NAMES)}"
    body = " ".join(body_words)
    return (
        f"<item><title>{title}</title><link>https://site{feed}.example/post/{n}</link>"
        f"<guid>https://site{feed}.example/post/{n}</guid>"
        f"<pubDate>{email.utils.format_datetime(when)}</pubDate>"
        f"<description><![CDATA[<p>{body}.</p><p><a href='https://site{feed}.example/'>"
        f"More</a></p>]]></description></item>"
    )


def feed_xml(feed: int, round_: int, entries: int, share: float) -> bytes:
    """Feed ``feed`` as served in ``round_``: in each round a ``share`` of the feeds gains
    two entries, the oldest drop off."""
    gained = sum(2 for r in range(1, round_ + 1) if random.Random(feed * 1000 + r).random() < share)
    newest = entries + gained
    base = datetime(2026, 11, 1, tzinfo=UTC)
    items = []
    for n in range(newest - 1, newest - 1 - entries, -1):
        items.append(
            entry_xml(feed, n, random.Random(feed * 100_000 + n), base + timedelta(hours=n))
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Site {feed}</title><link>https://site{feed}.example/</link>"
        f"<description>Feed {feed}</description>{''.join(items)}</channel></rss>"
    ).encode()


def serve(entries: int, share: float, ready: Any, port: Any, round_: Any) -> None:
    """The server process: /N.xml is feed N at the current round, with an ETag."""
    cache: dict[tuple[int, int], bytes] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            feed = int(self.path.strip("/").split(".")[0])
            current = round_.value
            key = (feed, current)
            if key not in cache:
                cache[key] = feed_xml(feed, current, entries, share)
            body = cache[key]
            etag = f'"{feed}-{hash(body) & 0xFFFFFFFF:08x}"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

    httpd = Server(("127.0.0.1", 0), Handler)
    port.value = httpd.server_address[1]
    ready.set()
    httpd.serve_forever()


# --- measuring


class Usage:
    """What a measurement cost this process and its descendants (the server excepted): CPU
    seconds (all threads, all processes) and peak resident memory, each process's high-water
    mark (VmHWM), reset when the measurement starts.

    Read from /proc at the start and the end rather than sampled: a sampling thread walking
    /proc every few milliseconds took the GIL from the very process being timed, whose poll is
    bound by it, and could miss a short peak anyway. The sum of the processes' peaks bounds
    their peak together from above. CPU seconds over wall seconds says how many of the cores
    a contender kept busy.
    """

    def __init__(self, exclude: int) -> None:
        self.exclude = exclude  # the server process
        self.peak = 0
        self.cpu = 0.0
        self._started: dict[int, float] = {}

    def _tree(self, pid: int) -> Iterator[int]:
        yield pid
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as f:
                    for child in f.read().split():
                        if int(child) != self.exclude:
                            yield from self._tree(int(child))
        except OSError:
            return

    @staticmethod
    def _cpu(pid: int) -> float:
        """User and system CPU seconds of a process, all its threads."""
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self) -> Usage:
        for pid in self._tree(os.getpid()):
            try:
                self._started[pid] = self._cpu(pid)
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5")  # reset the high-water mark to the current RSS
            except OSError:
                continue
        return self

    def __exit__(self, *exc: object) -> None:
        for pid in self._tree(os.getpid()):
            try:
                self.cpu += self._cpu(pid) - self._started.get(pid, 0.0)
                with open(f"/proc/{pid}/status") as f:
                    fields = dict(line.split(":", 1) for line in f if ":" in line)
            except OSError:
                continue
            self.peak += int(fields.get("VmHWM", "0 kB").split()[0]) * 1024


def measure(label: str, entries: int, run: Callable[[], Any], exclude: int) -> dict[str, Any]:
    with Usage(exclude) as usage:
        started = time.perf_counter()
        outcome = run()
        seconds = time.perf_counter() - started
    return {
        "label": label,
        "s": seconds,
        "entries": entries,
        "rss": usage.peak,
        "cpu": usage.cpu,
        "outcome": outcome,
    }


# --- the contenders


def config_text(urls: list[str], db: Path) -> str:
    feeds = "\n".join(f'[[feeds]]\nurl = "{u}"' for u in urls)
    return f"""
[storage]
path = "{db}"
[fetch]
concurrency = {CONCURRENCY}
per_host = {CONCURRENCY}
{feeds}
[watch.entities]
OpenAI = ["OpenAI"]
Luxshare = ["Luxshare", "Luxshare Precision", "立讯精密", "立讯"]
"""


async def fetch_all(urls: list[str]) -> list[tuple[bytes, dict[str, str]]]:
    gate = asyncio.Semaphore(CONCURRENCY)
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(url: str) -> tuple[bytes, dict[str, str]]:
            async with gate:
                response = await client.get(url)
                return response.content, {k.lower(): v for k, v in response.headers.items()}

        return await asyncio.gather(*(one(u) for u in urls))


def parse_all(bodies: list[tuple[bytes, dict[str, str]]]) -> int:
    found = 0
    for body, headers in bodies:
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=False,
        )
        found += len(parsed.get("entries", []))
    return found


def run_reader(db: Path, urls: list[str]) -> Callable[[], int]:
    from reader import make_reader

    reader = make_reader(str(db))
    for url in urls:
        reader.add_feed(url, exist_ok=True)

    def update() -> int:
        reader.update_feeds(workers=CONCURRENCY, scheduled=False)  # every feed, every time
        return int(reader.get_entry_counts().total)

    return update


def report(rows: list[dict[str, Any]]) -> None:
    print(f"{'':44} {'wall s':>8} {'entries/s':>10} {'CPU s':>7} {'peak RSS MB':>12}")
    for r in rows:
        rate = r["entries"] / r["s"] if r["s"] else 0
        print(f"{r['label']:44} {r['s']:8.2f} {rate:10.0f} {r['cpu']:7.2f} {r['rss'] / 1e6:12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=30)
    parser.add_argument("--share", type=float, default=0.1, help="feeds that gain entries")
    parser.add_argument("--no-reader", action="store_true", help="skip the reader peer")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # per-feed log lines would drown the figures

    context = multiprocessing.get_context("spawn")
    ready, port, round_ = context.Event(), context.Value("i", 0), context.Value("i", 0)
    server = context.Process(
        target=serve, args=(args.entries, args.share, ready, port, round_), daemon=True
    )
    server.start()
    ready.wait()
    base = f"http://127.0.0.1:{port.value}"
    urls = [f"{base}/{i}.xml" for i in range(args.feeds)]
    pid = server.pid or -1
    rows: list[dict[str, Any]] = []
    try:
        bodies = asyncio.run(fetch_all(urls))  # also warms the server's cache for round 0
        total = sum(len(b) for b, _ in bodies)
        found = parse_all(bodies[:20])  # warm imports
        fetch_floor = measure(
            "fetch floor (bare httpx, no parsing)", 0, lambda: asyncio.run(fetch_all(urls)), pid
        )
        found = parse_all(bodies)
        parse_floor = measure(
            "parse floor (feedparser, one process)", found, lambda: parse_all(bodies), pid
        )
        fetch_floor["entries"] = found
        rows += [parse_floor, fetch_floor]
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config_text(config_text(urls, Path(tmp) / "bench.db"))
            store = Store.open(config.storage_path)
            ctx = Context.build(config, store)
            asyncio.run(parsepool.run(len, b""))  # start the pool: a daemon pays this once
            cold = measure(
                "monitor cold cycle (empty database)",
                found,
                lambda: asyncio.run(poll(ctx, utcnow(), force=True)),
                pid,
            )
            round_.value = 1
            asyncio.run(fetch_all(urls))  # the server renders round 1 before anyone is timed
            warm = measure(
                "monitor warm cycle (mostly 304)",
                found,
                lambda: asyncio.run(poll(ctx, utcnow(), force=True)),
                pid,
            )
            store.close()
            rows += [cold, warm]
            if not args.no_reader:
                round_.value = 0
                update = run_reader(Path(tmp) / "reader.db", urls)
                reader_cold = measure("reader cold cycle", found, update, pid)
                round_.value = 1
                reader_warm = measure("reader warm cycle", found, update, pid)
                rows += [reader_cold, reader_warm]
    finally:
        server.terminate()
    cold_summary, warm_summary = cold["outcome"][0], warm["outcome"][0]
    print(
        f"{args.feeds} feeds x {args.entries} entries ({total / 1e6:.1f} MB, {found} entries); "
        f"{args.share:.0%} gain entries before the warm cycle; concurrency {CONCURRENCY}; "
        f"{parsepool.workers()} parse processes on {os.cpu_count()} cores"
    )
    print(
        f"monitor cold: {cold_summary.new_articles} articles stored, "
        f"{cold_summary.failed} failed; "
        f"warm: {warm_summary.not_modified} not modified, "
        f"{warm_summary.new_articles} new articles, "
        f"{warm_summary.failed} failed"
    )
    report(rows)
    print(f"cold / parse floor:  {cold['s'] / parse_floor['s']:.2f}  (target <= 1.3)")
    print(f"warm / fetch floor:  {warm['s'] / fetch_floor['s']:.2f}  (target <= 1.2)")
    if not args.no_reader:
        print(f"reader cold / monitor cold: {reader_cold['s'] / cold['s']:.2f}  (target >= 3)")
        print(f"reader cold / parse floor:  {reader_cold['s'] / parse_floor['s']:.2f}")
        print(f"reader warm / fetch floor:  {reader_warm['s'] / fetch_floor['s']:.2f}")
    # Where the cold cycle's time goes: CPU per entry, every process of the contender counted.
    per_entry = [("monitor", cold), ("parse floor", parse_floor)]
    if not args.no_reader:
        per_entry.insert(1, ("reader", reader_cold))
    print(
        "cold CPU per entry (ms): "
        + ", ".join(f"{name} {row['cpu'] / row['entries'] * 1000:.2f}" for name, row in per_entry)
    )


if __name__ == "__main__":
    main()

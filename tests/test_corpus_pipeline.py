"""The whole pipeline over the shared real-world corpus, served over a real local HTTP server.

One poll cycle fetches every file of ../shared/corpus/realfeeds (5,312 when written) into a real
SQLite file: nothing crashes, nothing hangs, and every entry feedparser finds in a file is either
stored or rejected with a recorded reason (``article_count`` + ``rejected_count`` in
``monitor feeds --format json``). JSON Feeds, which feedparser cannot read, are counted by their
items instead; the two gzip files are served with Content-Encoding: gzip, as the corpus README asks.
"""

from __future__ import annotations

import asyncio
import csv
import gzip
import io
import json
import logging
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import CORPUS, FeedServer, Reply, monitor

from monitor.config import load_config_text
from monitor.pipeline import Context, poll
from monitor.store import Store
from monitor.timeutil import utcnow

if not (CORPUS / "MANIFEST.tsv").is_file():
    pytest.skip(f"feed corpus not found at {CORPUS}", allow_module_level=True)

GZIPPED = ("node-feedparser/compressed.xml", "node-feedparser/invalid-characters-gzipped.xml")
# A generous bound on one cycle over the whole corpus (about a minute on a loaded 2-core machine).
CYCLE_LIMIT = 600


def manifest() -> list[dict[str, str]]:
    text = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text), delimiter="\t"))


def recorded_headers() -> dict[str, dict[str, str]]:
    headers: dict[str, dict[str, str]] = {}
    text = (CORPUS / "HTTP-HEADERS.tsv").read_text(encoding="utf-8")
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        headers.setdefault(row["path"], {})[row["header"]] = row["value"]
    return headers


def expected_entries(row: dict[str, str], body: bytes, headers: dict[str, str]) -> int:
    """What a reader could find in the file: feedparser's count with the same headers (on the
    decompressed body for the gzip files), or the items of a JSON Feed."""
    if row["format"] == "json":
        try:
            items = json.loads(body).get("items")
        except (ValueError, AttributeError):
            return 0
        return sum(isinstance(i, dict) for i in items) if isinstance(items, list) else 0
    if row["path"] in GZIPPED:
        body = gzip.decompress(body)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = feedparser.parse(
            io.BytesIO(body),
            response_headers={k.lower(): v for k, v in headers.items()},
            sanitize_html=False,
            resolve_relative_uris=False,
        )
    return len(parsed.get("entries", []))


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FeedServer, list[dict[str, str]]]]:
    rows = manifest()
    server = FeedServer(CORPUS)
    for path, headers in recorded_headers().items():
        server.routes[f"/{path}"] = Reply(200, headers, (CORPUS / path).read_bytes())
    for path in GZIPPED:
        server.routes[f"/{path}"] = Reply(
            200,
            {"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"},
            (CORPUS / path).read_bytes(),
        )
    yield server, rows
    server.close()


def test_every_corpus_entry_is_stored_or_rejected_with_a_reason(
    tmp_path: Path, served: tuple[FeedServer, list[dict[str, str]]]
) -> None:
    server, rows = served
    feeds = "\n".join(f'[[feeds]]\nurl = "{server.feed_url(r["path"])}"' for r in rows)
    db = tmp_path / "corpus.db"
    config = load_config_text(
        f'[storage]\npath = "{db}"\n[fetch]\nconcurrency = 16\nper_host = 16\n{feeds}\n'
        '[watch.entities]\nOpenAI = ["OpenAI"]\nLuxshare = ["Luxshare", "立讯精密"]\n'
    )
    store = Store.open(config.storage_path)
    logging.getLogger("monitor").setLevel(logging.CRITICAL)  # 5,000 feed lines are noise here
    started = time.monotonic()
    try:
        summary, outcomes = asyncio.run(
            asyncio.wait_for(poll(Context.build(config, store), utcnow()), CYCLE_LIMIT)
        )
    finally:
        logging.getLogger("monitor").setLevel(logging.NOTSET)
        store.close()
    elapsed = time.monotonic() - started

    assert summary.feeds_polled == len(rows) >= 5000
    internal = [o for o in outcomes if o.error and o.error.startswith("internal error")]
    assert internal == [], internal[:5]
    listing: dict[str, dict[str, Any]] = {
        f["url"]: f
        for f in json.loads(monitor("--db", str(db), "feeds", "--format", "json").output)
    }
    recorded = recorded_headers()
    lost = []
    counted = 0
    for row in rows:
        feed = listing[server.feed_url(row["path"])]
        body = (CORPUS / row["path"]).read_bytes()
        expected = expected_entries(row, body, recorded.get(row["path"], {}))
        got = feed["article_count"] + feed["rejected_count"]
        counted += got
        if got != expected:
            lost.append(
                f"{row['path']}: {expected} entries, {got} stored or rejected "
                f"({feed['last_error'] or feed['last_warning']})"
            )
        if feed["last_error"] is None and feed["last_status_code"] is None:
            lost.append(f"{row['path']}: neither fetched nor failed")
    assert not lost, f"{len(lost)} files:\n" + "\n".join(lost[:50])
    assert counted > 9000
    print(f"corpus cycle: {len(rows)} feeds, {counted} entries, {elapsed:.1f} s")

"""Benchmark: the whole poll cycle over the real-world feed corpus, against a floor.

Serves every real-world RSS/Atom file of ../shared/corpus/realfeeds from a local HTTP server and
measures, in the same run:

- floor: fetch every URL with one plain httpx client and run feedparser.parse with its defaults
  on each body (what any feed reader does at least, with nothing stored);
- monitor: ``poll`` with force=True into a fresh SQLite file (fetch, parse, normalise, dedupe,
  match, cluster, store, FTS index);
- monitor, second poll: the same feeds again, unchanged (conditional requests / body hash).

Prints the median of --repeat runs and the ratio to the floor. Not a test: run it by hand,
    .venv/bin/python bench/bench_pipeline.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import logging
import statistics
import tempfile
import time
from pathlib import Path

import feedparser
import httpx

from monitor.config import load_config_text
from monitor.demo import serve_folder
from monitor.pipeline import Context, poll
from monitor.store import Store
from monitor.timeutil import utcnow

# ../shared/corpus/realfeeds from a checkout at /work/main; a worktree sits one level deeper.
_ROOT = Path(__file__).resolve().parents[1]
CORPUS = (
    next(
        (p for p in (_ROOT.parent / "shared", _ROOT.parent.parent / "shared") if p.is_dir()),
        _ROOT.parent / "shared",
    )
    / "corpus"
    / "realfeeds"
)


def corpus_files() -> list[str]:
    rows = csv.DictReader(io.StringIO((CORPUS / "MANIFEST.tsv").read_text()), delimiter="\t")
    return [r["path"] for r in rows if r["kind"] == "real-world" and r["format"] != "json"]


def config_text(urls: list[str], db: Path) -> str:
    feeds = "\n".join(f'[[feeds]]\nurl = "{u}"' for u in urls)
    return f"""
[storage]
path = "{db}"
[fetch]
concurrency = 8
{feeds}
[watch.entities]
OpenAI = ["OpenAI"]
Luxshare = ["Luxshare", "Luxshare Precision", "立讯精密", "立讯"]
TrendForce = ["TrendForce", "集邦咨询"]
"""


async def floor(urls: list[str]) -> int:
    entries = 0
    gate = asyncio.Semaphore(8)
    async with httpx.AsyncClient(timeout=30) as client:

        async def one(url: str) -> bytes:
            async with gate:
                return (await client.get(url)).content

        for body in await asyncio.gather(*(one(u) for u in urls)):
            entries += len(feedparser.parse(io.BytesIO(body)).entries)
    return entries


def run_once(urls: list[str]) -> dict[str, float]:
    started = time.perf_counter()
    entries = asyncio.run(floor(urls))
    floor_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        config = load_config_text(config_text(urls, Path(tmp) / "bench.db"))
        store = Store.open(config.storage_path)
        ctx = Context.build(config, store)
        started = time.perf_counter()
        first, _ = asyncio.run(poll(ctx, utcnow(), force=True))
        first_s = time.perf_counter() - started
        started = time.perf_counter()
        second, _ = asyncio.run(poll(ctx, utcnow(), force=True))
        second_s = time.perf_counter() - started
        store.close()
    return {
        "entries": entries,
        "floor_s": floor_s,
        "first_s": first_s,
        "second_s": second_s,
        "stored": first.new_articles,
        "failed": first.failed,
        "not_modified": second.not_modified,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # per-feed log lines would drown the figures
    if not CORPUS.is_dir():
        raise SystemExit(f"corpus not found at {CORPUS}")
    files = corpus_files()
    with serve_folder(CORPUS) as base:
        urls = [f"{base}/{f}" for f in files]
        runs = [run_once(urls) for _ in range(args.repeat)]
    median = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    total_mb = sum((CORPUS / f).stat().st_size for f in files) / 1e6
    print(
        f"corpus: {len(files)} real-world RSS/Atom files, {total_mb:.1f} MB, "
        f"{median['entries']:.0f} entries (feedparser count); median of {args.repeat} runs"
    )
    print(f"floor   (httpx GET + feedparser defaults, nothing stored): {median['floor_s']:.2f} s")
    print(
        f"monitor first poll  (full pipeline into SQLite):            {median['first_s']:.2f} s"
        f"  -> {median['stored']:.0f} articles stored, {median['failed']:.0f} feeds failed"
    )
    print(
        f"monitor second poll (unchanged feeds):                      {median['second_s']:.2f} s"
        f"  -> {median['not_modified']:.0f} not modified"
    )
    print(f"ratio first poll / floor:  {median['first_s'] / median['floor_s']:.2f}")
    print(f"ratio second poll / floor: {median['second_s'] / median['floor_s']:.2f}")
    print(f"throughput first poll: {median['entries'] / median['first_s']:.0f} entries/s")


if __name__ == "__main__":
    main()

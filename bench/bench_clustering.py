"""Evaluation: how well monitor groups the items of fixtures/eval/stories/ into stories.

Feeds every item, in publication order, through the real ingest path (normalise, dedupe, match,
cluster, store) into a fresh SQLite file, then compares the stories the store holds with the
labels. An item that ends in no story counts as a cluster of its own (with any exact duplicate
stored as the same article). Prints B-cubed precision, recall and F1, and lists every error:
labelled stories split over several clusters and clusters that mix labelled stories.

Not a test: run it by hand,
    .venv/bin/python bench/bench_clustering.py [--eval fixtures/eval/stories] [--floor 0.9]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from monitor.config import load_config_text
from monitor.normalise import normalise
from monitor.pipeline import Context, ingest
from monitor.records import DueFeed, Entry
from monitor.store import Store
from monitor.timeutil import from_iso

EVAL = Path(__file__).resolve().parents[1] / "fixtures" / "eval" / "stories"


@dataclass(frozen=True)
class Item:
    id: str
    story: str
    kind: str
    outlet: str
    at: datetime
    title: str
    text: str
    url: str


def load_items(folder: Path) -> list[Item]:
    raw = [
        json.loads(line)
        for path in sorted(folder.glob("items-*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    by_id = {r["id"]: r for r in raw}
    domains = json.loads((folder / "outlets.json").read_text(encoding="utf-8"))
    items = []
    for r in raw:
        source = by_id[r["copy_of"]] if "copy_of" in r else r
        at = from_iso(r["at"].replace("Z", "+00:00"))
        assert at is not None
        items.append(
            Item(
                r["id"],
                r["story"],
                r["kind"],
                r["outlet"],
                at,
                r.get("title") or source["title"],
                r.get("text") or source["text"],
                r.get("url") or f"https://{domains[r['outlet']]}/news/{r['id']}",
            )
        )
    return sorted(items, key=lambda i: (i.at, i.id))


def config_text(folder: Path, db: Path) -> str:
    domains = json.loads((folder / "outlets.json").read_text(encoding="utf-8"))
    watch = json.loads((folder / "watch.json").read_text(encoding="utf-8"))
    feeds = "\n".join(
        f"[[feeds]]\nurl = {json.dumps(feed_url(d))}\nname = {json.dumps(n)}"
        for n, d in domains.items()
    )
    entities = "\n".join(f"{json.dumps(n)} = {json.dumps(a)}" for n, a in watch.items())
    return f'[storage]\npath = "{db}"\n{feeds}\n[watch.entities]\n{entities}\n'


def feed_url(domain: str) -> str:
    return f"https://{domain}/feed.xml"


def run(folder: Path, db: Path) -> dict[str, str]:
    """Ingest every item; returns item id -> the cluster it ended in."""
    domains = json.loads((folder / "outlets.json").read_text(encoding="utf-8"))
    config = load_config_text(config_text(folder, db))
    store = Store.open(db)
    items = load_items(folder)
    try:
        ctx = Context.build(config, store, random.Random(0))
        store.sync_feeds(config.feeds, items[0].at)
        feeds = {f.url: f for f in store.due_feeds(items[0].at, force=True)}
        for item in items:
            feed: DueFeed = feeds[feed_url(domains[item.outlet])]
            entry = Entry(item.id, item.title, item.url, item.text, None, item.at, ())
            with store.transaction():
                ingest(ctx, feed, normalise(entry, feed.url), item.at)
        rows = store.db.execute(
            "select si.guid, a.id, a.story_id from sightings si "
            "join articles a on a.id = si.article_id"
        ).fetchall()
    finally:
        store.close()
    return {guid: f"story {story}" if story else f"article {art}" for guid, art, story in rows}


def bcubed(gold: dict[str, str], found: dict[str, str]) -> tuple[float, float, float]:
    by_gold: dict[str, set[str]] = defaultdict(set)
    by_found: dict[str, set[str]] = defaultdict(set)
    for item, key in gold.items():
        by_gold[key].add(item)
        by_found[found[item]].add(item)
    precision = recall = 0.0
    for item in gold:
        both = len(by_gold[gold[item]] & by_found[found[item]])
        precision += both / len(by_found[found[item]])
        recall += both / len(by_gold[gold[item]])
    p, r = precision / len(gold), recall / len(gold)
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def errors(items: list[Item], found: dict[str, str]) -> list[str]:
    by_id = {i.id: i for i in items}
    by_gold: dict[str, list[Item]] = defaultdict(list)
    by_found: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        by_gold[item.story].append(item)
        by_found[found[item.id]].append(item)

    def line(item: Item) -> str:
        return f"    {item.id:<11} {item.kind:<10} {found[item.id]:<12} {item.title[:70]}"

    out = []
    for story, members in sorted(by_gold.items()):
        clusters = {found[m.id] for m in members}
        if len(clusters) > 1:
            out.append(f"  split: {story} over {len(clusters)} clusters")
            out.extend(line(m) for m in members)
    for cluster, members in sorted(by_found.items()):
        stories = {m.story for m in members}
        if len(stories) > 1:
            out.append(f"  merged: {cluster} holds {', '.join(sorted(stories))}")
            out.extend(line(by_id[m.id]) for m in members)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", type=Path, default=EVAL, help="folder of the evaluation set")
    parser.add_argument("--floor", type=float, default=0.9, help="F1 below this exits 1")
    args = parser.parse_args(argv)
    items = load_items(args.eval)
    with tempfile.TemporaryDirectory() as tmp:
        found = run(args.eval, Path(tmp) / "eval.db")
    gold = {i.id: i.story for i in items}
    p, r, f1 = bcubed(gold, found)
    stories = len(set(gold.values()))
    print(f"items {len(items)}  labelled stories {stories}  clusters {len(set(found.values()))}")
    print(f"B-cubed precision {p:.3f}  recall {r:.3f}  F1 {f1:.3f}  (floor {args.floor})")
    problems = errors(items, found)
    print(f"errors: {sum(1 for e in problems if not e.startswith('    '))}")
    print("\n".join(problems))
    return 0 if f1 >= args.floor else 1


if __name__ == "__main__":
    sys.exit(main())

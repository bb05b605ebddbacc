"""Benchmark: the hardware-partnership detector's quality on fixtures/eval and its speed.

Quality: every item of fixtures/eval/items.jsonl is classified as the default rule's detector
half does it (a hardware_partnership event scoring at least the threshold); prints precision,
recall and F1, per language, and each error with the detector's explanation.

Speed, on one core: ``match_article`` (detector, default rule, explanation) over the evaluation
items plus every entry of the real-world corpus ../shared/corpus/realfeeds when present, against
a floor measured in the same run: the keyword alert a feed reader's filter gives (does the
casefolded text contain a watched name?). Prints articles/s and the ratio.

    .venv/bin/python bench/bench_detector.py [--repeat 5] [--quiet]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any

from monitor.detect import detect
from monitor.entities import Watchlist
from monitor.match import DEFAULT_THRESHOLD, body_text, match_article
from monitor.normalise import normalise
from monitor.parse import parse_feed
from monitor.records import Article, Entry

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT / "fixtures" / "eval" / "items.jsonl"
# ../shared/corpus/realfeeds from a checkout at /work/main; worktrees sit one level deeper.
CORPUS = (
    next(
        (p for p in (ROOT.parent / "shared", ROOT.parent.parent / "shared") if p.is_dir()),
        ROOT.parent / "shared",
    )
    / "corpus"
    / "realfeeds"
)
WATCH = {
    "OpenAI": ["OpenAI"],
    "Luxshare": ["Luxshare", "Luxshare Precision", "立讯精密", "立讯"],
    "TrendForce": ["TrendForce", "集邦咨询"],
}


def load_items() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EVAL.read_text("utf-8").splitlines() if line.strip()]


def article_of(title: str, summary: str, guid: str = "eval") -> Article:
    entry = Entry(guid, title, None, summary or None, None, None, ())
    return normalise(entry, "https://eval.example/feed")


def evaluate(items: list[dict[str, Any]], watchlist: Watchlist, quiet: bool) -> None:
    counts: Counter[str] = Counter()
    by_lang: dict[str, Counter[str]] = {}
    errors = []
    for item in items:
        article = article_of(item["title"], item["summary"], item["id"])
        detection = detect(article.title, body_text(article), watchlist)
        predicted = detection.event is not None and detection.score >= DEFAULT_THRESHOLD
        outcome = ("t" if predicted == item["label"] else "f") + ("p" if predicted else "n")
        counts[outcome] += 1
        by_lang.setdefault(item["lang"], Counter())[outcome] += 1
        if predicted != item["label"]:
            why = match_article(article, watchlist).why
            errors.append((item, detection.score, why))
    print(
        f"evaluation set: {len(items)} items ({sum(i['label'] for i in items)} positive), "
        f"threshold {DEFAULT_THRESHOLD}"
    )
    print(_scores("all", counts))
    for lang, c in sorted(by_lang.items()):
        print(_scores(lang, c))
    print(f"errors: {len(errors)}")
    for item, score, why in errors:
        kind = "false positive" if not item["label"] else "false negative"
        print(f"- {item['id']} ({kind}, {item['kind']}, score {score:.2f}): {item['title']}")
        if not quiet:
            for line in why:
                print(f"    {line}")


def _scores(name: str, c: Counter[str]) -> str:
    tp, fp, fn = c["tp"], c["fp"], c["fn"]
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return (
        f"  {name:4} precision {precision:.3f}  recall {recall:.3f}  F1 {f1:.3f}  "
        f"(tp {tp}, fp {fp}, fn {fn}, tn {c['tn']})"
    )


def corpus_articles() -> list[Article]:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        print(f"(corpus not found at {CORPUS}: speed measured on the evaluation set only)")
        return []
    rows = csv.DictReader(io.StringIO((CORPUS / "MANIFEST.tsv").read_text()), delimiter="\t")
    articles = []
    for row in rows:
        if row["kind"] != "real-world" or row["format"] == "json":
            continue
        url = f"https://corpus.example/{row['path']}"
        try:
            parsed = parse_feed(url, (CORPUS / row["path"]).read_bytes())
        except Exception:  # a corpus file the parser refuses is not this benchmark's business
            continue
        articles.extend(normalise(e, url) for e in parsed.entries)
    return articles


def keyword_floor(articles: list[Article]) -> int:
    names = [a.casefold() for aliases in WATCH.values() for a in aliases]
    hits = 0
    for a in articles:
        text = f"{a.title}\n{a.summary}\n{a.content}".casefold()
        hits += any(n in text for n in names)
    return hits


def classify_all(articles: list[Article], watchlist: Watchlist) -> int:
    return sum(match_article(a, watchlist).alert_worthy for a in articles)


def timed(fn: Any, *args: Any) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def speed(items: list[dict[str, Any]], watchlist: Watchlist, repeat: int) -> None:
    articles = [article_of(i["title"], i["summary"], i["id"]) for i in items]
    articles += corpus_articles()
    chars = sum(len(a.title) + len(a.summary) + len(a.content) for a in articles)
    floor = statistics.median(timed(keyword_floor, articles) for _ in range(repeat))
    ours = statistics.median(timed(classify_all, articles, watchlist) for _ in range(repeat))
    print(
        f"speed: {len(articles)} articles ({chars / 1e6:.1f} M characters), one core, "
        f"median of {repeat} runs"
    )
    print(
        f"  floor (keyword alert: casefold + substring): {len(articles) / floor:10.0f} articles/s"
    )
    print(f"  match_article (detector + rule + why):       {len(articles) / ours:10.0f} articles/s")
    print(f"  ratio match_article time / floor time: {ours / floor:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quiet", action="store_true", help="Errors without explanations.")
    args = parser.parse_args()
    watchlist = Watchlist.build(WATCH)
    items = load_items()
    evaluate(items, watchlist, args.quiet)
    speed(items, watchlist, args.repeat)


if __name__ == "__main__":
    main()

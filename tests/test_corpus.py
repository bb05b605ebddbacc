"""Robustness over the shared real-world feed corpus (5,312 files from 29 feed projects).

Every file either parses or raises ParseError; every entry normalises and matches without error;
for real-world feeds no entry is lost compared with feedparser's own count. Each test loops over
the files and collects failures, so one assertion lists every file that went wrong.
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import feedparser
import pytest
from conftest import CORPUS

from monitor.entities import Watchlist
from monitor.errors import ParseError
from monitor.match import match_article
from monitor.normalise import normalise
from monitor.parse import parse_feed
from monitor.records import Article, ParsedFeed

if not (CORPUS / "MANIFEST.tsv").is_file():
    pytest.skip(f"feed corpus not found at {CORPUS}", allow_module_level=True)

T = TypeVar("T")


@dataclass(frozen=True)
class CorpusFile:
    path: str
    kind: str  # real-world, edge-case, illformed, encoding
    format: str  # rss2, rss1, atom, json, other
    body: bytes = field(repr=False)
    headers: dict[str, str]

    @property
    def url(self) -> str:
        return f"http://corpus.example/{self.path}"


@dataclass(frozen=True)
class Outcome:
    file: CorpusFile
    parsed: ParsedFeed | None = field(repr=False)  # None when parse_feed raised
    error: BaseException | None  # ParseError, or anything else (a failure)


def _strict(call: Callable[..., T], *args: Any) -> T:
    """Call with warnings as errors, as the test suite does, whatever filter is in force."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return call(*args)


def _describe(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:300]


@pytest.fixture(scope="module")
def corpus() -> list[CorpusFile]:
    manifest = (CORPUS / "MANIFEST.tsv").read_text(encoding="utf-8")
    headers: dict[str, dict[str, str]] = {}
    header_file = CORPUS / "HTTP-HEADERS.tsv"
    if header_file.is_file():
        for row in csv.DictReader(io.StringIO(header_file.read_text("utf-8")), delimiter="\t"):
            headers.setdefault(row["path"], {})[row["header"]] = row["value"]
    return [
        CorpusFile(
            row["path"],
            row["kind"],
            row["format"],
            (CORPUS / row["path"]).read_bytes(),
            headers.get(row["path"], {}),
        )
        for row in csv.DictReader(io.StringIO(manifest), delimiter="\t")
    ]


@pytest.fixture(scope="module")
def outcomes(corpus: list[CorpusFile]) -> list[Outcome]:
    results = []
    for f in corpus:
        try:
            parsed = _strict(parse_feed, f.url, f.body, f.headers)
        except Exception as e:
            results.append(Outcome(f, None, e))
        else:
            results.append(Outcome(f, parsed, None))
    return results


def test_manifest_lists_the_whole_corpus(corpus: list[CorpusFile]) -> None:
    assert len(corpus) >= 5000  # 5,312 when written; guards against a silently empty loop
    assert {f.kind for f in corpus} == {"real-world", "edge-case", "illformed", "encoding"}


def test_every_file_parses_or_raises_parse_error(outcomes: list[Outcome]) -> None:
    failures = [
        f"{o.file.path}: {_describe(o.error)}"
        for o in outcomes
        if o.error is not None and not isinstance(o.error, ParseError)
    ]
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


def test_most_real_world_feeds_yield_entries(outcomes: list[Outcome]) -> None:
    # A guard against a parser that "never fails" by returning nothing.
    real = [o for o in outcomes if o.file.kind == "real-world" and o.file.format != "json"]
    with_entries = [o for o in real if o.parsed is not None and o.parsed.entries]
    assert len(with_entries) >= 0.9 * len(real)


def test_every_entry_normalises_with_guid_and_title(outcomes: list[Outcome]) -> None:
    failures = []
    for o in outcomes:
        if o.parsed is None:
            continue
        for i, entry in enumerate(o.parsed.entries):
            try:
                article = _strict(normalise, entry, o.file.url)
            except Exception as e:
                failures.append(f"{o.file.path} entry {i}: {_describe(e)}")
                continue
            if not isinstance(article, Article) or not article.guid.strip():
                failures.append(f"{o.file.path} entry {i}: empty guid")
            elif not article.title.strip():
                failures.append(f"{o.file.path} entry {i}: empty title")
            elif not article.content_hash.startswith("v1:"):
                failures.append(f"{o.file.path} entry {i}: hash {article.content_hash!r}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


def test_every_article_matches_without_error(outcomes: list[Outcome]) -> None:
    watchlist = Watchlist.build(
        {
            "OpenAI": ["OpenAI"],
            "Luxshare": ["Luxshare", "Luxshare Precision", "立讯精密", "立讯"],
            "TrendForce": ["TrendForce", "集邦咨询"],
        }
    )
    failures = []
    for o in outcomes:
        if o.parsed is None:
            continue
        for i, entry in enumerate(o.parsed.entries):
            try:
                article = normalise(entry, o.file.url)
                match = _strict(match_article, article, watchlist)
            except Exception as e:
                failures.append(f"{o.file.path} entry {i}: {_describe(e)}")
                continue
            if not 0.0 <= match.score <= 1.0:
                failures.append(f"{o.file.path} entry {i}: score {match.score}")
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)


def test_real_world_feeds_lose_no_entries(outcomes: list[Outcome]) -> None:
    failures = []
    checked = 0
    for o in outcomes:
        if o.file.kind != "real-world" or o.file.format == "json":
            continue
        if o.parsed is None or not o.parsed.entries:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            own = feedparser.parse(io.BytesIO(o.file.body), response_headers=o.file.headers)
        checked += 1
        if len(own.entries) != len(o.parsed.entries):
            failures.append(
                f"{o.file.path}: feedparser {len(own.entries)}, parse_feed {len(o.parsed.entries)}"
            )
    assert checked > 250
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures)

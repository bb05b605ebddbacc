"""The pipeline, written down once:

    store.due_feeds ─► fetch.fetch_each ─► parse.parse_feed ─► normalise.normalise (pool process)
        ─► dedupe (store: feed+guid, canonical link, content hash; a changed entry is revised)
        ─► match.match_article ─► sketch.sketch_article
        ─► cluster.assign_story (near-duplicates by LSH band, same event by organisations)
        ─► store (article, sighting, story, outbox)

and its delivery half, in ``monitor.delivery``:

    store.open_digest ─► digest.render ─► notify.send ─► store.record_digest_sent

Each stage lives in its own module and only this one wires them together. Network, disk and the
clock come in as arguments (``client``, ``store``, ``now``); the deciders in between are pure.
One feed's failure is recorded on that feed and never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import random
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from monitor import fetch, parsepool
from monitor.cluster import assign_story
from monitor.config import Config
from monitor.entities import Watchlist
from monitor.errors import ParseError
from monitor.match import match_article
from monitor.normalise import normalise
from monitor.parse import parse_feed
from monitor.records import (
    Article,
    CycleSummary,
    DueFeed,
    FeedOutcome,
    FetchResult,
    Match,
    ParsedFeed,
    Sketch,
)
from monitor.rules import Rule
from monitor.schedule import adaptive_interval, freshness_hint, next_poll
from monitor.schema import pair_texts
from monitor.sketch import sketch_article
from monitor.store import Store
from monitor.writer import MAX_BATCH, StoreWriter

log = logging.getLogger("monitor.pipeline")


@dataclass(frozen=True)
class Context:
    """What a poll cycle needs besides the clock: built once per configuration."""

    config: Config
    store: Store
    watchlist: Watchlist
    rng: random.Random
    rules: tuple[Rule, ...] | None = None  # what is alert-worthy and where it goes;
    # None: the default rule, on every channel
    matcher: Matcher | None = None  # the same, for the pool processes

    @classmethod
    def build(cls, config: Config, store: Store, rng: random.Random | None = None) -> Context:
        return cls(
            config,
            store,
            watchlist_of(config),
            rng or random.Random(),
            config.alert_rules(),
            Matcher.of(config),
        )


def watchlist_of(config: Config) -> Watchlist:
    """The watch list a configuration describes: watched entities, negative contexts, case."""
    return Watchlist.build(config.entities, config.entity_excludes, config.case_sensitive)


async def poll(
    ctx: Context,
    now: datetime,
    *,
    force: bool = False,
    client: httpx.AsyncClient | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[CycleSummary, list[FeedOutcome]]:
    """Poll the feeds that are due (all enabled ones with ``force``) and store what is new.
    ``progress(done, total)`` is called as each feed is stored.

    Three kinds of work overlap: fetches on the event loop, parsing in the process pool
    (``monitor.parsepool``), and storing in one store thread (``monitor.writer``: the SQLite
    connection is used by one thread at a time, and feeds stored together commit together).
    No exception escapes for one feed's sake.
    """
    ctx.store.sync_feeds(ctx.config.feeds, now)
    due = ctx.store.due_feeds(now, force=force)
    own_client = client is None
    client = client or fetch.make_client(ctx.config.fetch)
    writer = StoreWriter(ctx.store)
    on_store = writer.submit

    # Bounds the feeds between fetched and stored: enough to keep every parser busy and to let
    # the store thread commit several feeds at once when it falls behind.
    gate = asyncio.Semaphore(2 * parsepool.workers() + MAX_BATCH // 2)
    outcomes: list[FeedOutcome] = []
    tasks: set[asyncio.Task[None]] = set()

    async def handle(feed: DueFeed, result: FetchResult) -> None:
        try:
            outcomes.append(await process(ctx, feed, result, now, on_store))
        except Exception as e:  # the store itself failed (disk full): log it, go on
            log.exception("feed status=error url=%s cannot record outcome", feed.url)
            outcomes.append(FeedOutcome(feed.url, "error", error=f"{type(e).__name__}: {e}"))
        finally:
            gate.release()
        if progress is not None:
            progress(len(outcomes), len(due))

    try:
        async for feed, result in fetch.fetch_each(client, due, ctx.config.fetch, now):
            await gate.acquire()
            task = asyncio.create_task(handle(feed, result))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        await on_store(ctx.store.bands.flush)  # the cycle's near-duplicate keys, in one batch
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        writer.close()
        if own_client:
            await client.aclose()
    summary = CycleSummary(
        feeds_polled=len(outcomes),
        not_modified=sum(o.status == "not_modified" for o in outcomes),
        failed=sum(o.status == "error" for o in outcomes),
        new_articles=sum(o.new_articles for o in outcomes),
        new_stories=sum(o.new_stories for o in outcomes),
        alerts_queued=sum(o.alerts_queued for o in outcomes),
    )
    # A daemon tick with nothing due is not news: it stays out of the log unless -v.
    log.log(
        logging.INFO if outcomes else logging.DEBUG,
        "cycle polled=%d not_modified=%d failed=%d new_articles=%d new_stories=%d alerts_queued=%d",
        *summary.__dict__.values(),
    )
    return summary, outcomes


OnStore = Callable[..., "asyncio.Future[Any]"]


async def process(
    ctx: Context, feed: DueFeed, result: FetchResult, now: datetime, on_store: OnStore
) -> FeedOutcome:
    """Record one fetch on its feed and store what it brought. A bug on one feed's data is
    recorded on that feed instead of ending the cycle for every feed; loud all the same."""
    try:
        return await _process(ctx, feed, result, now, on_store)
    except Exception as e:
        log.exception("feed status=error url=%s internal error", feed.url)
        outcome: FeedOutcome = await on_store(
            _failed, ctx, feed, f"internal error: {type(e).__name__}: {e}", None, now
        )
        return outcome


async def _process(
    ctx: Context, feed: DueFeed, result: FetchResult, now: datetime, on_store: OnStore
) -> FeedOutcome:
    outcome: FeedOutcome
    if result.error is not None:
        outcome = await on_store(
            _failed,
            ctx,
            feed,
            result.error,
            result.status_code,
            now,
            result.retry_after,
            not result.temporary,
        )
        return outcome
    body = result.body
    known: frozenset[str] = frozenset()
    unchanged = False
    if body is not None and not result.not_modified:
        unchanged, known = await on_store(_seen_before, ctx, feed, body)
    if result.not_modified or unchanged:
        outcome = await on_store(_unchanged, ctx, feed, result, now)
        return outcome
    assert body is not None
    try:
        parsed, articles = await parsepool.run(
            read_feed, feed.url, body, result.headers, known, ctx.matcher
        )
    except ParseError as e:
        outcome = await on_store(_failed, ctx, feed, e.reason, result.status_code, now)
        return outcome
    except BrokenProcessPool:
        outcome = await on_store(
            _failed, ctx, feed, "the parser process died on this body", result.status_code, now
        )
        return outcome
    outcome = await on_store(store_feed, ctx, feed, result, parsed, articles, now)
    return outcome


def _seen_before(ctx: Context, feed: DueFeed, body: bytes) -> tuple[bool, frozenset[str]]:
    """Whether the body is the one stored last time, and the entry ids the feed already had."""
    if ctx.store.body_unchanged(feed.id, body):
        return True, frozenset()
    return False, ctx.store.known_guids(feed.id)


@dataclass(frozen=True)
class Matcher:
    """What matching needs, small enough to send to a pool process with every feed; the
    process builds the Watchlist from it once and keeps it (``_watchlist``)."""

    entities: Mapping[str, tuple[str, ...]]
    excludes: Any
    case_sensitive: Any
    rules: tuple[Rule, ...] | None
    key: bytes = b""  # the pickled fields: one Watchlist per distinct key

    @classmethod
    def of(cls, config: Config) -> Matcher:
        fields = (dict(config.entities), config.entity_excludes, config.case_sensitive)
        rules = config.alert_rules()
        return cls(*fields, rules, pickle.dumps((fields, rules)))


_watchlists: dict[bytes, Watchlist] = {}


def _watchlist(matcher: Matcher) -> Watchlist:
    if matcher.key not in _watchlists:
        _watchlists.clear()  # a new configuration replaces the old one
        _watchlists[matcher.key] = Watchlist.build(
            matcher.entities, matcher.excludes, matcher.case_sensitive
        )
    return _watchlists[matcher.key]


@dataclass(frozen=True)
class Prepared:
    """An entry as the pool process hands it back: normalised and, when the feed has not
    carried it before, matched, sketched and its pair texts made (``schema.pair_texts``): pure
    CPU work, kept off the store thread."""

    article: Article
    match: Match | None = None
    sketch: Sketch | None = None
    pairs: Mapping[str, str] | None = None


def read_feed(
    url: str,
    body: bytes,
    headers: dict[str, str],
    known: frozenset[str],
    matcher: Matcher | None,
) -> tuple[ParsedFeed, list[Prepared]]:
    """Parse, normalise, match and sketch one body, and make the pair texts of its articles:
    the CPU-heavy part, run in a pool process.

    Entries come back as articles only (the parsed feed without them), to pickle each once;
    those whose id the feed already carried (``known``) come back as articles only, since
    they will not be stored again, and matching is the costliest step of all.
    """
    parsed = parse_feed(url, body, headers)
    watchlist = _watchlist(matcher) if matcher is not None else None
    prepared = []
    for entry in parsed.entries:
        article = normalise(entry, url)
        if article.guid in known:
            prepared.append(Prepared(article))
            continue
        match = None
        if watchlist is not None and matcher is not None:
            match = match_article(article, watchlist, matcher.rules)
        prepared.append(Prepared(article, match, sketch_article(article), pair_texts(article)))
    return replace(parsed, entries=()), prepared


def store_feed(
    ctx: Context,
    feed: DueFeed,
    result: FetchResult,
    parsed: ParsedFeed,
    articles: list[Prepared],
    now: datetime,
) -> FeedOutcome:
    """Store a parsed body's articles and record the success, in one transaction. An entry whose
    id the body already carried is rejected with that reason, and counted."""
    store = ctx.store
    copies = Counter(entry.article.guid for entry in articles)
    with store.transaction():
        for guid, count in copies.items():
            if count > 1:
                store.reject_entries(
                    feed.id, guid, count - 1, "another entry in the feed has the same id", now
                )
        new_articles, new_stories, alerts = ingest_all(ctx, feed, _first_of_each(articles), now)
        next_due, interval = _schedule(ctx, feed, now, result.headers, parsed.ttl)
        store.record_success(
            feed,
            result,
            now,
            next_due,
            title=parsed.title,
            warning=parsed.warning,
            ttl=parsed.ttl,
            poll_interval=interval,
        )
    if parsed.warning:
        log.warning("feed warning url=%s warning=%r", feed.url, parsed.warning)
    _log_move(feed, result)
    log.info(
        "feed status=ok url=%s entries=%d new_articles=%d new_stories=%d",
        feed.url,
        len(articles),
        new_articles,
        new_stories,
    )
    return FeedOutcome(feed.url, "ok", new_articles, new_stories, alerts)


def _first_of_each(entries: list[Prepared]) -> list[Prepared]:
    """The entries whose id no earlier entry of the body had."""
    seen: set[str] = set()
    first = []
    for entry in entries:
        if entry.article.guid not in seen:
            seen.add(entry.article.guid)
            first.append(entry)
    return first


def _unchanged(ctx: Context, feed: DueFeed, result: FetchResult, now: datetime) -> FeedOutcome:
    """A 304, or a body identical to the last one: nothing to parse."""
    next_due, interval = _schedule(ctx, feed, now, result.headers, feed.ttl)
    ctx.store.record_success(feed, result, now, next_due, poll_interval=interval)
    _log_move(feed, result)
    log.info("feed status=not_modified url=%s", feed.url)
    return FeedOutcome(feed.url, "not_modified")


def _log_move(feed: DueFeed, result: FetchResult) -> None:
    if result.permanent_url and result.permanent_url != feed.url:
        log.warning(
            "feed moved url=%s new_url=%s (permanent redirect; update the config to match)",
            feed.url,
            result.permanent_url,
        )


def _schedule(
    ctx: Context, feed: DueFeed, now: datetime, headers: dict[str, str], ttl: int | None
) -> tuple[datetime, int]:
    """When a feed that was just fetched successfully is next due, and the interval that makes."""
    config = ctx.config.fetch
    interval = feed.interval
    if feed.auto_interval:
        interval = adaptive_interval(
            ctx.store.recent_entry_times(feed.id),
            now,
            config.auto_min_interval,
            config.auto_max_interval,
            feed.interval,
        )
    due = next_poll(
        now,
        interval,
        hint=freshness_hint(headers, ttl, now),
        hint_cap=timedelta(seconds=config.hint_cap),
        rng=ctx.rng,
    )
    return due, round((due - now).total_seconds())


def _failed(
    ctx: Context,
    feed: DueFeed,
    error: str,
    status: int | None,
    now: datetime,
    retry_after: datetime | None = None,
    disable: bool = False,
) -> FeedOutcome:
    due = next_poll(
        now,
        feed.interval,
        consecutive_failures=feed.consecutive_failures + 1,
        retry_after=retry_after,
        rng=ctx.rng,
    )
    ctx.store.record_failure(
        feed,
        now,
        error,
        status,
        due,
        disable=disable,
        poll_interval=round((due - now).total_seconds()),
    )
    log.warning(
        "feed status=error url=%s error=%r next_due=%s%s",
        feed.url,
        error,
        due.isoformat(),
        " disabled=1" if disable else "",
    )
    return FeedOutcome(feed.url, "error", error=error)


def ingest_all(
    ctx: Context, feed: DueFeed, entries: list[Prepared], now: datetime
) -> tuple[int, int, int]:
    """Dedupe, cluster and store a body's entries (distinct ids), in order: (new articles,
    new alert-worthy stories, alerts queued).

    The new articles among them are inserted together (``Store.insert_articles`` says why),
    then sketched, sighted and filed into stories one by one, in order. An entry
    that copies a new article not inserted yet (a feed carrying one story twice) first has
    those inserted, so that it is found as the copy it is."""
    totals = (0, 0, 0)
    waiting: list[Prepared] = []
    keys: set[tuple[str | None, ...]] = set()
    for entry in entries:
        copy_keys = _copy_keys(entry.article)
        if keys.intersection(copy_keys):
            totals = _add(totals, _store_new(ctx, feed, waiting, now))
            waiting, keys = [], set()
        if dedupe(ctx, feed, entry.article, now):
            waiting.append(entry)
            keys.update(copy_keys)
    return _add(totals, _store_new(ctx, feed, waiting, now))


def _copy_keys(article: Article) -> list[tuple[str | None, ...]]:
    """What ``Store.find_article`` matches an article by."""
    keys: list[tuple[str | None, ...]] = [("hash", article.content_hash)]
    if article.canonical_url is not None and article.title_key is not None:
        keys.append(("link", article.canonical_url, article.title_key))
    return keys


def _add(a: tuple[int, int, int], b: tuple[int, int, int]) -> tuple[int, int, int]:
    return a[0] + b[0], a[1] + b[1], a[2] + b[2]


def _store_new(
    ctx: Context, feed: DueFeed, entries: list[Prepared], now: datetime
) -> tuple[int, int, int]:
    if not entries:
        return 0, 0, 0
    matched = [
        (entry.article, entry.match or match_article(entry.article, ctx.watchlist, ctx.rules))
        for entry in entries
    ]
    made = [entry.pairs for entry in entries if entry.pairs is not None]
    ids = ctx.store.insert_articles(feed.id, matched, now, made)
    new_stories = alerts = 0
    for entry, (article, match), article_id in zip(entries, matched, ids, strict=True):
        sketch = entry.sketch or sketch_article(article)
        ctx.store.record_new_article(feed.id, article_id, article, now, sketch)
        story_created, queued = file_story(ctx, article_id, article, match, sketch, now)
        new_stories += story_created
        alerts += queued
    return len(entries), new_stories, alerts


def dedupe(ctx: Context, feed: DueFeed, article: Article, now: datetime) -> bool:
    """Whether the entry is a new article. An entry the feed carried before is revised when the
    feed changed it; a copy of a stored article becomes one more sighting of it."""
    store = ctx.store
    known = store.sighting(feed.id, article.guid)
    if known is not None:
        article_id, stored_hash = known
        if stored_hash != article.content_hash:  # the feed updated the entry: never news again
            match = match_article(article, ctx.watchlist, ctx.rules)
            store.revise_article(article_id, article, match, sketch_article(article), now)
        return False
    existing = store.find_article(article)
    if existing is not None:
        store.add_sighting(
            feed.id, article.guid, existing, now, url=article.url, published=article.published
        )
        store.prefer_earlier_copy(existing, feed.id, article)
        return False
    return True


def ingest(
    ctx: Context,
    feed: DueFeed,
    article: Article,
    now: datetime,
    match: Match | None = None,
    sketch: Sketch | None = None,
) -> tuple[int, int, int]:
    """Dedupe, match and sketch (unless done already), cluster and store one article:
    (new articles, new alert-worthy stories, alerts queued)."""
    return ingest_all(ctx, feed, [Prepared(article, match, sketch)], now)


def file_story(
    ctx: Context, article_id: int, article: Article, match: Match, sketch: Sketch, now: datetime
) -> tuple[int, int]:
    """Put the article into a story: a recent one it copies or that tells the same event, else a
    new one. A story is queued, on the channels its rules route to, once: when its first
    alert-worthy article arrives; copies arriving later only add outlets. Returns (new
    alert-worthy stories, alerts queued)."""
    store = ctx.store
    published = article.published or now
    window = timedelta(seconds=ctx.config.story_window)
    since, until = published - window, published + window
    story_id = assign_story(
        frozenset(match.organisations),
        published,
        store.stories_naming(match.organisations, since, until),
        window,
        article.title,
        minhash=sketch.minhash,
        anchors=sketch.anchors,
        similar=store.similar_articles(sketch, since, until, exclude=article_id),
    )
    if story_id is None:
        story_id = store.create_story(article_id, article, match, published, now, sketch.anchors)
    else:
        store.join_story(story_id, article_id, match, published, now, sketch.anchors)
    return queue_story(ctx, story_id, match, now)


def queue_story(ctx: Context, story_id: int, match: Match, now: datetime) -> tuple[int, int]:
    """Queue a story on the channels the match's rules route to, the first time one of its
    articles is alert-worthy: (new alert-worthy stories, alerts queued)."""
    if not (match.alert_worthy and ctx.store.mark_alert_worthy(story_id)):
        return 0, 0
    # A match that names no channel came from rules that route nowhere in particular.
    channels = [c for c in ctx.config.channels if c.name in match.channels or not match.channels]
    return 1, ctx.store.queue_deliveries(story_id, channels, now)

"""The pipeline, written down once:

    store.due_feeds ─► fetch.fetch_each ─► parse.parse_feed ─► normalise.normalise
        ─► dedupe (store: feed+guid, canonical link, content hash)
        ─► match.match_article ─► cluster.assign_story ─► store (article, story, outbox)

and its delivery half, in ``monitor.delivery``:

    store.open_digest ─► digest.render ─► notify.send ─► store.record_digest_sent

Each stage lives in its own module and only this one wires them together. Network, disk and the
clock come in as arguments (``client``, ``store``, ``now``); the deciders in between are pure.
One feed's failure is recorded on that feed and never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from monitor import fetch
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
)
from monitor.schedule import next_poll
from monitor.store import Store

log = logging.getLogger("monitor.pipeline")


@dataclass(frozen=True)
class Context:
    """What a poll cycle needs besides the clock: built once per configuration."""

    config: Config
    store: Store
    watchlist: Watchlist
    rng: random.Random

    @classmethod
    def build(cls, config: Config, store: Store, rng: random.Random | None = None) -> Context:
        return cls(config, store, Watchlist.build(config.entities), rng or random.Random())


async def poll(
    ctx: Context, now: datetime, *, force: bool = False, client: httpx.AsyncClient | None = None
) -> tuple[CycleSummary, list[FeedOutcome]]:
    """Poll the feeds that are due (all enabled ones with ``force``) and store what is new."""
    ctx.store.sync_feeds(ctx.config.feeds, now)
    due = ctx.store.due_feeds(now, force=force)
    own_client = client is None
    client = client or fetch.make_client(ctx.config.fetch)
    outcomes = []
    try:
        async for feed, result in fetch.fetch_each(client, due, ctx.config.fetch, now):
            # Parsing and storing run in a worker thread, one feed at a time, so the event loop
            # keeps the other fetches moving while a large feed is parsed.
            outcomes.append(await asyncio.to_thread(process_isolated, ctx, feed, result, now))
    finally:
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
    log.info(
        "cycle polled=%d not_modified=%d failed=%d new_articles=%d new_stories=%d alerts_queued=%d",
        *summary.__dict__.values(),
    )
    return summary, outcomes


def process_isolated(
    ctx: Context, feed: DueFeed, result: FetchResult, now: datetime
) -> FeedOutcome:
    """process_result, with a bug on one feed's data recorded on that feed instead of ending the
    cycle for every feed. Loud all the same: logged with its traceback."""
    try:
        return process_result(ctx, feed, result, now)
    except Exception as e:
        log.exception("feed status=error url=%s internal error", feed.url)
        return _failed(ctx, feed, f"internal error: {type(e).__name__}: {e}", None, now)


def process_result(ctx: Context, feed: DueFeed, result: FetchResult, now: datetime) -> FeedOutcome:
    """Record one fetch on its feed and store what it brought."""
    store = ctx.store
    if result.error is not None:
        return _failed(
            ctx,
            feed,
            result.error,
            result.status_code,
            now,
            retry_after=result.retry_after,
            disable=not result.temporary,
        )
    if result.not_modified or (
        result.body is not None and store.body_unchanged(feed.id, result.body)
    ):
        store.record_success(feed, result, now, next_poll(now, feed.interval, rng=ctx.rng))
        log.info("feed status=not_modified url=%s", feed.url)
        return FeedOutcome(feed.url, "not_modified")
    assert result.body is not None
    try:
        parsed = parse_feed(feed.url, result.body, result.headers)
    except ParseError as e:
        return _failed(ctx, feed, e.reason, result.status_code, now)

    new_articles = new_stories = alerts = 0
    with store.transaction():
        for entry in parsed.entries:
            article = normalise(entry, feed.url)
            added, story_created, queued = ingest(ctx, feed, article, now)
            new_articles += added
            new_stories += story_created
            alerts += queued
        store.record_success(
            feed,
            result,
            now,
            next_poll(now, feed.interval, rng=ctx.rng),
            title=parsed.title,
            warning=parsed.warning,
        )
    if parsed.warning:
        log.warning("feed warning url=%s warning=%r", feed.url, parsed.warning)
    log.info(
        "feed status=ok url=%s entries=%d new_articles=%d new_stories=%d",
        feed.url,
        len(parsed.entries),
        new_articles,
        new_stories,
    )
    return FeedOutcome(feed.url, "ok", new_articles, new_stories, alerts)


def _failed(
    ctx: Context,
    feed: DueFeed,
    error: str,
    status: int | None,
    now: datetime,
    *,
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
    ctx.store.record_failure(feed, now, error, status, due, disable=disable)
    log.warning(
        "feed status=error url=%s error=%r next_due=%s%s",
        feed.url,
        error,
        due.isoformat(),
        " disabled=1" if disable else "",
    )
    return FeedOutcome(feed.url, "error", error=error)


def ingest(ctx: Context, feed: DueFeed, article: Article, now: datetime) -> tuple[int, int, int]:
    """Dedupe, match, cluster and store one article: (new articles, new stories, alerts queued)."""
    store = ctx.store
    if store.sighting_known(feed.id, article.guid):
        return 0, 0, 0
    existing = store.find_article(article)
    if existing is not None:
        store.add_sighting(feed.id, article.guid, existing, now)
        return 0, 0, 0
    match = match_article(article, ctx.watchlist)
    article_id = store.add_article(feed.id, article, match, now)
    if not match.alert_worthy:
        return 1, 0, 0
    published = article.published or now
    window = timedelta(seconds=ctx.config.story_window)
    candidates = store.story_candidates(published - window, published + window)
    story_id = assign_story(
        frozenset(match.organisations), published, candidates, window, article.title
    )
    if story_id is not None:
        store.join_story(story_id, article_id, match, published, now)
        return 1, 0, 0
    story_id = store.create_story(article_id, article, match, published, now)
    return 1, 1, store.queue_deliveries(story_id, ctx.config.channels, now)

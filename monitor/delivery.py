"""The delivery half of the pipeline: outbox → digest → channel → outbox.

    store.pending_stories ─► outbox deciders (lane, schedule, quiet hours, cap) ─► store.open_digest
        ─► digest.render ─► notify.send ─► store.record_digest_sent (or record_digest_failed)

A digest is recorded, with its payload, before it is sent, so a digest interrupted by a crash goes
out again with the same id and the same content; a story leaves the outbox only in the transaction
that records the channel's acceptance. A temporary failure is retried at once a couple of times,
then on later runs after an exponential backoff with jitter; a permanent one marks the digest
failed until ``monitor deliveries retry``.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

import httpx
import jinja2

from monitor.config import ChannelConfig, Config
from monitor.digest import from_payload, outlets, payload, render
from monitor.errors import DeliveryError
from monitor.notify import scrub, send
from monitor.outbox import quiet_until, retry_delay
from monitor.records import DeliveryOutcome, Digest, UnsentDigest
from monitor.schedule import digest_due, parse_timezone
from monitor.status import source_health
from monitor.store import Store
from monitor.timeutil import iso

log = logging.getLogger("monitor.delivery")

# Within one run a temporary failure is tried again after about this many seconds (each stretched
# by up to 50 % of jitter); after that the digest waits for a later run (outbox.retry_delay).
QUICK_RETRIES = (0.5, 1.5)
HOUR = timedelta(hours=1)


def digest_id(channel: str, now: datetime, story_ids: list[int]) -> str:
    """ "20250919T090000Z-team-3f2a9c1b": when, for which channel, and a hash of what."""
    slug = re.sub(r"[^a-z0-9]+", "-", channel.lower()).strip("-") or "channel"
    key = hashlib.sha256(f"{channel}|{iso(now)}|{story_ids}".encode()).hexdigest()[:8]
    return f"{now:%Y%m%dT%H%M%SZ}-{slug}-{key}"


def _quiet(channel: ChannelConfig, now: datetime) -> bool:
    return quiet_until(channel.quiet_hours, parse_timezone(channel.timezone), now) is not None


def _held_by_quiet_hours(channel: ChannelConfig, lane: str) -> bool:
    """Quiet hours hold immediate alerts and every-N digests; cron digests and digest --send go
    at the times the user chose."""
    return lane == "immediate" or (lane == "scheduled" and channel.schedule.kind == "interval")


def _immediate_slot(store: Store, channel: ChannelConfig, now: datetime) -> bool:
    cap = channel.max_immediate_per_hour
    return cap is None or store.sent_since(channel.name, "immediate", now - HOUR) < cap


def choose_lane(
    store: Store, channel: ChannelConfig, now: datetime, *, force: bool = False
) -> tuple[str, list[int]] | None:
    """Which lane goes out now and with which pending stories; None when nothing is due."""
    pending = store.pending_stories(channel.name)
    if not pending:
        return None  # nothing pending, nothing sent
    every_story = [story_id for story_id, _ in pending]
    if force:
        return "manual", every_story
    quiet = _quiet(channel, now)
    tz = parse_timezone(channel.timezone)
    if channel.schedule.kind == "immediate":
        if quiet or not _immediate_slot(store, channel, now):
            return None  # held back: they roll into the next message that may go
        return "immediate", every_story
    if not (quiet and _held_by_quiet_hours(channel, "scheduled")) and digest_due(
        channel.schedule,
        tz,
        last_sent=store.last_sent(channel.name),
        oldest_pending=store.oldest_pending(channel.name),
        now=now,
    ):
        return "scheduled", every_story
    if channel.min_score is not None and not quiet and _immediate_slot(store, channel, now):
        urgent = [story_id for story_id, score in pending if score >= channel.min_score]
        if urgent:
            return "immediate", urgent
    return None


def _resend(store: Store, unsent: UnsentDigest) -> Digest:
    if unsent.payload is not None:
        return from_payload(unsent.payload, unsent.lane)
    # Made before digests kept their payload: rebuilt from the stories as they are now.
    return Digest(
        unsent.digest_id,
        "",
        unsent.created,
        tuple(store.digest_stories(list(unsent.story_ids))),
        lane=unsent.lane,
    )


def next_digest(
    store: Store, channel: ChannelConfig, now: datetime, *, force: bool = False
) -> Digest | None:
    """The digest the channel should get now: an earlier unsent one first (once its retry
    backoff has passed), else a new one when a lane is due; None when nothing is due. ``force``
    (digest --send) ignores schedule, quiet hours, cap and backoff."""
    unsent = store.unsent_digest(channel.name)
    if unsent is not None:
        waiting = unsent.next_attempt is not None and unsent.next_attempt > now
        quiet = _held_by_quiet_hours(channel, unsent.lane) and _quiet(channel, now)
        if not force and (waiting or quiet):
            return None
        return replace(_resend(store, unsent), channel=channel.name)
    chosen = choose_lane(store, channel, now, force=force)
    if chosen is None:
        return None
    lane, story_ids = chosen
    updates = store.story_updates(channel.name, story_ids) if channel.include_updates else []
    digest = Digest(
        digest_id(channel.name, now, story_ids),
        channel.name,
        now,
        tuple(store.digest_stories(story_ids)),
        tuple(updates),
        lane,
        tuple(source_health(store.db, now)) if channel.source_health else (),
    )
    store.open_digest(digest, payload(digest))
    return digest


def preview_digest(store: Store, channel: ChannelConfig, now: datetime) -> Digest:
    """What the channel's next digest would contain, without recording anything."""
    unsent = store.unsent_digest(channel.name)
    story_ids = list(unsent.story_ids if unsent else ()) + store.pending_story_ids(channel.name)
    updates = store.story_updates(channel.name, story_ids) if channel.include_updates else []
    return Digest(
        "preview", channel.name, now, tuple(store.digest_stories(story_ids)), tuple(updates)
    )


def deliver(
    store: Store,
    config: Config,
    now: datetime,
    *,
    http: httpx.Client | None = None,
    force: bool = False,
    channel: str | None = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[DeliveryOutcome]:
    """Send every channel's due digest (only ``channel``'s, when named). ``force`` sends what is
    pending now whatever the schedule (digest --send). A story leaves the outbox only once its
    channel took it."""
    rng = rng or random.Random()
    outcomes = []
    for target in config.channels:
        if channel is not None and target.name != channel:
            continue
        # An earlier unsent digest first, then a new one if one is due.
        for _ in range(2):
            digest = next_digest(store, target, now, force=force)
            if digest is None:
                break
            outcome = _send(store, target, digest, now, http, rng, sleep)
            outcomes.append(outcome)
            if outcome.status != "sent":
                break
    return outcomes


def _attempt(
    channel: ChannelConfig,
    digest: Digest,
    http: httpx.Client | None,
    rng: random.Random,
    sleep: Callable[[float], None],
) -> tuple[DeliveryError | None, int]:
    """Render and send, retrying a temporary failure at once a few times: (error or None, tries)."""
    try:
        rendered = render(digest, channel.templates)
    except jinja2.TemplateError as e:
        return DeliveryError(channel.name, f"template: {e}", temporary=False), 1
    tries = 0
    for delay in (0.0, *QUICK_RETRIES):
        if delay:
            sleep(delay * (1 + rng.uniform(0, 0.5)))
        tries += 1
        try:
            send(channel, digest, rendered, http=http)
        except DeliveryError as e:
            error = e
        except Exception as e:
            # A bug of ours, not the channel's answer: loud, and kept as a temporary failure so
            # the digest is not lost and one channel's trouble does not stop the others.
            log.exception("digest status=error channel=%s internal error", channel.name)
            text = scrub(channel, f"internal error: {type(e).__name__}: {e}")
            return DeliveryError(channel.name, text), tries
        else:
            return None, tries
        if not error.temporary or error.retry_after:
            break
        log.info(
            "digest status=retrying channel=%s digest_id=%s error=%r",
            channel.name,
            digest.digest_id,
            str(error),
        )
    return error, tries


def _send(
    store: Store,
    channel: ChannelConfig,
    digest: Digest,
    now: datetime,
    http: httpx.Client | None,
    rng: random.Random,
    sleep: Callable[[float], None],
) -> DeliveryOutcome:
    error, tries = _attempt(channel, digest, http, rng, sleep)
    if error is None:
        reported = {s.story_id: len(outlets(s)) for s in digest.stories}
        reported.update({u.story_id: u.outlets for u in digest.updates})
        store.record_digest_sent(digest.digest_id, now, reported)
        log.info(
            "digest status=sent channel=%s digest_id=%s lane=%s stories=%d updates=%d",
            channel.name,
            digest.digest_id,
            digest.lane,
            len(digest.stories),
            len(digest.updates),
        )
        return DeliveryOutcome(channel.name, digest.digest_id, len(digest.stories), "sent")
    next_attempt = None
    if error.temporary:
        attempts = store.digest_attempts(digest.digest_id) + 1
        wait = retry_delay(attempts, rng)
        if error.retry_after:
            wait = max(wait, timedelta(seconds=error.retry_after))
        next_attempt = now + wait
    store.record_digest_failed(
        digest.digest_id, str(error), permanent=not error.temporary, next_attempt=next_attempt
    )
    status = "retry" if error.temporary else "failed"
    log.warning(
        "digest status=%s channel=%s digest_id=%s tries=%d next_attempt=%s error=%r",
        status,
        channel.name,
        digest.digest_id,
        tries,
        iso(next_attempt) if next_attempt else "-",
        str(error),
    )
    return DeliveryOutcome(channel.name, digest.digest_id, len(digest.stories), status, str(error))

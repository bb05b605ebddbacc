"""The delivery half of the pipeline: outbox → digest → channel → outbox.

    store.unsent_digest / store.open_digest ─► digest.render ─► notify.send
        ─► store.record_digest_sent (or record_digest_failed)

A digest is recorded before it is sent, so a digest interrupted by a crash goes out again with the
same id; a story leaves the outbox only in the transaction that records the channel's acceptance.
"""

from __future__ import annotations

import logging
from datetime import datetime

import httpx

from monitor.config import ChannelConfig, Config
from monitor.digest import render
from monitor.errors import DeliveryError
from monitor.notify import send
from monitor.records import DeliveryOutcome, Digest
from monitor.schedule import digest_due, parse_timezone
from monitor.store import Store

log = logging.getLogger("monitor.delivery")


def next_digest(store: Store, channel: ChannelConfig, now: datetime) -> Digest | None:
    """The digest the channel should get now: an earlier unsent one first, else a new one when
    the channel's schedule says it is due and stories are pending; None when nothing is due."""
    unsent = store.unsent_digest(channel.name)
    if unsent is not None:
        digest_id, created, story_ids = unsent
    else:
        if not digest_due(
            channel.schedule,
            parse_timezone(channel.timezone),
            last_sent=store.last_sent(channel.name),
            oldest_pending=store.oldest_pending(channel.name),
            now=now,
        ):
            return None
        opened = store.open_digest(channel.name, now)
        if opened is None:
            return None
        (digest_id, story_ids), created = opened, now
    return Digest(digest_id, channel.name, created, tuple(store.digest_stories(story_ids)))


def preview_digest(store: Store, channel: ChannelConfig, now: datetime) -> Digest:
    """What the channel's next digest would contain, without recording anything."""
    unsent = store.unsent_digest(channel.name)
    story_ids = (unsent[2] if unsent else []) + store.pending_story_ids(channel.name)
    return Digest("preview", channel.name, now, tuple(store.digest_stories(story_ids)))


def deliver(
    store: Store, config: Config, now: datetime, *, http: httpx.Client | None = None
) -> list[DeliveryOutcome]:
    """Send every channel's due digest. A story leaves the outbox only once its channel took it."""
    outcomes = []
    for channel in config.channels:
        digest = next_digest(store, channel, now)
        if digest is not None:
            outcomes.append(_send(store, channel, digest, now, http))
    return outcomes


def _send(
    store: Store, channel: ChannelConfig, digest: Digest, now: datetime, http: httpx.Client | None
) -> DeliveryOutcome:
    try:
        send(channel, digest, render(digest), http=http)
    except DeliveryError as e:
        error = e
    except Exception as e:
        # A bug of ours, not the channel's answer: loud, and kept as a temporary failure so the
        # digest is not lost and one channel's trouble does not stop the others.
        log.exception("digest status=error channel=%s internal error", channel.name)
        error = DeliveryError(channel.name, f"internal error: {type(e).__name__}: {e}")
    else:
        store.record_digest_sent(digest.digest_id, now)
        log.info(
            "digest status=sent channel=%s digest_id=%s stories=%d",
            channel.name,
            digest.digest_id,
            len(digest.stories),
        )
        return DeliveryOutcome(channel.name, digest.digest_id, len(digest.stories), "sent")
    store.record_digest_failed(digest.digest_id, str(error), permanent=not error.temporary)
    status = "retry" if error.temporary else "failed"
    log.warning(
        "digest status=%s channel=%s digest_id=%s error=%r",
        status,
        channel.name,
        digest.digest_id,
        str(error),
    )
    return DeliveryOutcome(channel.name, digest.digest_id, len(digest.stories), status, str(error))

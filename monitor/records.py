"""The plain records that travel between pipeline stages.

Each stage takes and returns these; feedparser results and SQLite rows never leave the module that
produced them. Times are timezone-aware UTC datetimes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class DueFeed:
    """A feed the store says should be polled now (store → fetch)."""

    id: int
    url: str
    name: str | None  # configured name; None until the feed's own title is known
    interval: int  # seconds between polls
    etag: str | None  # from the last 200 response, sent back as If-None-Match
    last_modified: str | None  # likewise, sent back as If-Modified-Since
    consecutive_failures: int
    auto_interval: bool = False  # interval = "auto": ``interval`` is only where it starts
    ttl: int | None = None  # the feed's own <ttl> from its last parsed body, in seconds


@dataclass(frozen=True)
class FetchResult:
    """What one HTTP fetch produced (fetch → pipeline). Exactly one of body/error/not_modified."""

    url: str  # the URL asked for
    final_url: str  # after redirects
    status_code: int | None  # None when no response arrived (timeout, DNS, refused)
    headers: dict[str, str]  # response headers, names lower-cased
    body: bytes | None  # the decoded body of a 200 response
    not_modified: bool = False  # 304, or a body identical to the last one
    error: str | None = None  # why the fetch failed, for the feed's health record
    temporary: bool = True  # whether retrying later may help
    retry_after: datetime | None = None  # from Retry-After on 429/503
    # Where the feed moved: the last target of an unbroken chain of 301/308 redirects from
    # ``url``; None when there was no redirect or a temporary one (302/303/307) came first.
    permanent_url: str | None = None


@dataclass(frozen=True)
class Entry:
    """One feed entry as the feed wrote it (parse → normalise). HTML is still HTML here."""

    guid: str | None  # id/guid as published; None when the feed gives none
    title: str | None
    link: str | None
    summary_html: str | None
    content_html: str | None
    published: datetime | None  # published, else updated; None when absent or unparseable
    authors: tuple[str, ...]


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed body (parse → pipeline)."""

    title: str | None
    entries: tuple[Entry, ...]
    warning: str | None  # feedparser's bozo exception when entries were still found
    ttl: int | None = None  # the feed's own <ttl> (RSS: minutes), in seconds; None when absent


@dataclass(frozen=True)
class Article:
    """A normalised entry: plain text, canonical link, stable hash (normalise → match/store)."""

    feed_url: str
    guid: str  # entry guid, else its link, else a hash of title and date: never empty
    title: str
    url: str | None  # link as published
    canonical_url: str | None  # url without tracking parameters, fragments and default ports
    summary: str  # plain text
    content: str  # plain text of the full content; "" when the feed gave none beyond the summary
    published: datetime | None
    authors: tuple[str, ...]
    content_hash: str  # "v1:" + sha256 over normalised title and text
    title_key: str  # the title folded (case, width, spacing), to compare titles across copies


@dataclass(frozen=True)
class Party:
    """One organisation taking part in an event (detect → match)."""

    name: str  # configured name of a watched entity, else the gazetteer's name
    watched: bool  # one of the configured watched entities


@dataclass(frozen=True)
class Event:
    """A typed hardware-partnership event read from one article (detect → match/cluster/store).

    ``object`` and ``stage`` come from fixed vocabularies (OBJECTS and STAGES in monitor.detect),
    so they can be compared across articles and outlets.
    """

    kind: str  # the detector that produced it: "hardware_partnership"
    parties: tuple[Party, ...]  # salient organisations (title or evidence), watched ones first
    object: str  # what the deal is about: "device", "custom chip", "memory supply", ...
    stage: str  # "rumoured", "announced", "confirmed" or "ended"
    score: float  # 0..1: how surely this is a hardware partnership
    evidence: tuple[str, ...]  # the sentence(s) that carry it, best first
    partnership_cues: tuple[str, ...]  # cues as written in the evidence, e.g. "signs", "deal"
    hardware_cues: tuple[str, ...]  # e.g. "device", "芯片"
    where: str  # where the best evidence stands: "title", "lead" or "body"


@dataclass(frozen=True)
class Match:
    """What the matcher found in an article (match → cluster/store)."""

    entities: tuple[str, ...]  # watched entities mentioned, by configured name
    organisations: tuple[str, ...]  # every known organisation mentioned (watched ones included)
    alert_worthy: bool  # at least one rule matched (the default: a watched entity is a party
    # of a hardware partnership scoring at least the threshold)
    score: float  # 0..1 confidence that this is a hardware partnership (the event's score)
    why: tuple[str, ...]  # human-readable reasons: a one-line summary first, then evidence
    event: Event | None = None  # None when the article reads as no hardware partnership at all
    rules: tuple[str, ...] = ()  # names of the rules that matched, in configuration order
    channels: tuple[str, ...] = ()  # channels those rules route to; empty when none matched


@dataclass(frozen=True)
class Sketch:
    """What the clusterer compares an article by, beside its organisations (sketch → store)."""

    minhash: tuple[int, ...]  # MinHash signature of the title and text shingles
    bands: tuple[int, ...]  # LSH band keys of the signature, indexed by the store
    anchors: frozenset[str]  # figures and product codes, language-independent (monitor.anchors)


@dataclass(frozen=True)
class SimilarArticle:
    """A stored article sharing an LSH band with a new one (store → cluster)."""

    article_id: int
    story_id: int | None  # None only for articles stored before stories covered every article
    published: datetime
    minhash: tuple[int, ...]
    anchors: frozenset[str]


@dataclass(frozen=True)
class StoryCandidate:
    """A recent story naming one of an article's organisations (store → cluster)."""

    id: int
    organisations: frozenset[str]  # every organisation its articles name
    first_published: datetime
    title: str = ""  # the story's representative title
    anchors: frozenset[str] = frozenset()  # figures and codes of all its articles


@dataclass(frozen=True)
class DigestArticle:
    title: str
    url: str | None
    feed: str  # the feed's display name
    published: datetime | None


@dataclass(frozen=True)
class DigestStory:
    story_id: int
    title: str
    url: str | None
    entities: tuple[str, ...]
    score: float
    why: tuple[str, ...]
    articles: tuple[DigestArticle, ...]  # every outlet's copy, earliest first


@dataclass(frozen=True)
class StoryUpdate:
    """A story the channel was told of earlier that has since gained outlets (include_updates)."""

    story_id: int
    title: str
    url: str | None
    outlets: int  # outlets reporting it now
    previously: int  # outlets the channel was last told of


@dataclass(frozen=True)
class Digest:
    """One message for one channel (store → digest → notify)."""

    digest_id: str  # stable across resends: Idempotency-Key and Message-ID derive from it
    channel: str
    created: datetime
    stories: tuple[DigestStory, ...]
    updates: tuple[StoryUpdate, ...] = ()  # only on channels with include_updates
    lane: str = "scheduled"  # "scheduled", "immediate" or "manual" (digest --send)
    health: tuple[str, ...] = ()  # "source health" lines, only on channels with source_health


@dataclass(frozen=True)
class UnsentDigest:
    """A digest recorded but not yet accepted by its channel (store → delivery)."""

    digest_id: str
    created: datetime
    story_ids: tuple[int, ...]
    lane: str  # "scheduled", "immediate" or "manual"
    payload: dict[str, Any] | None  # the JSON payload as first made; None for old digests
    next_attempt: datetime | None  # after a temporary failure: not before this
    attempts: int  # failed attempts so far


@dataclass(frozen=True)
class FeedOutcome:
    """How one feed's poll went, for logs and the cycle summary."""

    url: str
    status: str  # "ok", "not_modified", "error", "skipped"
    new_articles: int = 0
    new_stories: int = 0
    alerts_queued: int = 0
    error: str | None = None


@dataclass(frozen=True)
class CycleSummary:
    feeds_polled: int
    not_modified: int
    failed: int
    new_articles: int
    new_stories: int
    alerts_queued: int


@dataclass(frozen=True)
class DeliveryOutcome:
    """How one channel's digest went."""

    channel: str
    digest_id: str
    stories: int
    status: str  # "sent", "retry" (temporary failure, stays queued) or "failed"
    error: str | None = None

"""Re-running the matcher and the rules over stored articles after a rule change.

``reclassify`` compares each stored verdict with what the current configuration decides and
reports the differences. It writes only when asked (not ``dry_run``), and it marks the stories
of newly alert-worthy articles alert-worthy, and so queues them, only with ``alert``: old
stories are never alerted by surprise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from monitor.match import match_article
from monitor.pipeline import Context, queue_story


@dataclass(frozen=True)
class Change:
    """One stored article whose verdict changes under the current configuration."""

    article_id: int
    title: str
    was_alert: bool
    now_alert: bool
    was_score: float
    now_score: float
    was_rules: tuple[str, ...]
    now_rules: tuple[str, ...]
    story_id: int | None  # the story it is in (before, or after --alert filed it)
    alerts_queued: int = 0  # with --alert, the deliveries queued for it

    @property
    def kind(self) -> str:
        if self.now_alert and self.was_alert and self.alerts_queued:
            return "alerted now"
        if self.now_alert and not self.was_alert:
            return "now alert-worthy"
        if self.was_alert and not self.now_alert:
            return "no longer alert-worthy"
        return "verdict changed"


@dataclass(frozen=True)
class ReplaySummary:
    articles: int  # articles re-read
    changes: tuple[Change, ...]
    written: bool  # whether the new verdicts were stored
    alerted: bool  # whether newly alert-worthy articles were filed into stories and queued


def reclassify(
    ctx: Context,
    since: datetime | None,
    now: datetime,
    *,
    dry_run: bool,
    alert: bool,
    progress: Callable[[int, int], None] | None = None,
) -> ReplaySummary:
    """``progress(done, total)`` is called after each article (``monitor.progress``)."""
    count = 0
    changes = []
    with ctx.store.transaction():
        stored_articles = ctx.store.articles_since(since)
        for stored in stored_articles:
            count += 1
            if progress is not None:
                progress(count, len(stored_articles))
            match = match_article(stored.article, ctx.watchlist, ctx.rules)
            same = (
                match.alert_worthy == stored.alert_worthy
                and round(match.score, 2) == round(stored.score, 2)
                and match.rules == stored.rules
                and match.channels == stored.channels
            )
            # An earlier run without --alert may have left alert-worthy articles unqueued.
            unqueued = (
                alert
                and match.alert_worthy
                and stored.story_id is not None
                and not stored.story_alerted
            )
            if same and not unqueued:
                continue
            story_id, queued = stored.story_id, 0
            if not dry_run:
                ctx.store.update_match(stored.id, match, now)
                if unqueued and story_id is not None:
                    _, queued = queue_story(ctx, story_id, match, now)
            changes.append(
                Change(
                    stored.id,
                    stored.article.title,
                    stored.alert_worthy,
                    match.alert_worthy,
                    stored.score,
                    match.score,
                    stored.rules,
                    match.rules,
                    story_id,
                    queued,
                )
            )
    return ReplaySummary(count, tuple(changes), not dry_run, alert and not dry_run)

"""Cluster stage: which story an alert-worthy article belongs to. Pure: data in, decision out.

First version: an article joins a recent story when they share the organisations involved
(at least two in common, or the same single one) and it was published within the story window of
the story's first article. Syndicated, reworded and translated copies name the same parties, so
they join; an unrelated partnership of one of the same companies names a different partner and
does not. ``assign_story`` is the one entry point a later near-duplicate clusterer replaces.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.records import StoryCandidate


def _same_parties(a: frozenset[str], b: frozenset[str]) -> bool:
    shared = a & b
    return len(shared) >= 2 or (len(shared) == 1 and a == b)


def assign_story(
    organisations: frozenset[str],
    published: datetime,
    candidates: Iterable[StoryCandidate],
    window: timedelta,
) -> int | None:
    """The id of the story this article joins, or None for a new story.

    Of several fitting stories the one with the most shared organisations wins, then the closest
    in time, so the decision does not depend on the order of the candidates.
    """
    best: tuple[int, float, int] | None = None
    for story in candidates:
        gap = abs((published - story.first_published).total_seconds())
        if gap > window.total_seconds() or not _same_parties(organisations, story.organisations):
            continue
        key = (-len(organisations & story.organisations), gap, story.id)
        if best is None or key < best:
            best = key
    return best[2] if best else None

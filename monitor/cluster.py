"""Cluster stage: which story an alert-worthy article belongs to. Pure: data in, decision out.

First version: an article joins a recent story when it was published within the story window of
the story's first article and names the same parties:

- at least two organisations in common: syndicated, reworded and translated copies name the same
  parties, while another partnership of one of the same companies names a different partner;
- or the same single known organisation, and titles that share enough words. With one known
  party the other one is unknown to us ("OpenAI taps a robotics start-up"), and two such stories
  in one week must not become one alert.

``assign_story`` is the one entry point a later near-duplicate clusterer replaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.records import StoryCandidate

# Share of title words (Jaccard) a single-party copy needs in common with the story.
TITLE_OVERLAP = 0.25

# fmt: off
_STOPWORDS = frozenset({
    "a", "an", "and", "as", "at", "be", "by", "for", "from", "has", "have", "in", "into", "is",
    "it", "its", "of", "on", "or", "over", "says", "said", "the", "to", "was", "will", "with",
    "after", "new", "first", "report", "reports", "reportedly",
})
# fmt: on
_LATIN_WORD = re.compile(r"[0-9a-z\u00e0-\u024f]+")
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")


def title_words(title: str) -> frozenset[str]:
    """Content words of a title, plurals folded; Chinese as character pairs (no spaces there)."""
    text = title.casefold()
    words = {
        word[:-1] if len(word) > 3 and word.endswith("s") else word
        for word in _LATIN_WORD.findall(text)
        if word not in _STOPWORDS and len(word) > 1
    }
    for run in _CJK_RUN.findall(text):
        words.update(run[i : i + 2] for i in range(len(run) - 1))
    return frozenset(words)


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _same_story(
    organisations: frozenset[str], words: frozenset[str], story: StoryCandidate
) -> bool:
    shared = organisations & story.organisations
    if len(shared) >= 2:
        return True
    return (
        len(shared) == 1
        and organisations == story.organisations
        and _overlap(words, title_words(story.title)) >= TITLE_OVERLAP
    )


def assign_story(
    organisations: frozenset[str],
    published: datetime,
    candidates: Iterable[StoryCandidate],
    window: timedelta,
    title: str = "",
) -> int | None:
    """The id of the story this article joins, or None for a new story.

    Of several fitting stories the one with the most shared organisations wins, then the closest
    in time, so the decision does not depend on the order of the candidates.
    """
    words = title_words(title)
    best: tuple[int, float, int] | None = None
    for story in candidates:
        gap = abs((published - story.first_published).total_seconds())
        if gap > window.total_seconds() or not _same_story(organisations, words, story):
            continue
        key = (-len(organisations & story.organisations), gap, story.id)
        if best is None or key < best:
            best = key
    return best[2] if best else None

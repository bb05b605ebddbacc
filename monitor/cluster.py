"""Cluster stage: which story a new article belongs to. Pure: data in, decision out.

Every stored article belongs to a story; an article joins a story only when published within the
story window of the story's first article, and then in one of two ways:

1. **Near-duplicate**: it shares an LSH band with an article of the story (``monitor.sketch``)
   and their MinHash similarity is at least ``NEAR_DUPLICATE``: syndicated, lightly reworded and
   synonym-spun copies.
2. **Same event**: it names the same parties (translations and heavy rewrites share little
   text, but not who is involved):
   - at least two organisations in common, since another partnership of one of the companies
     names a different partner;
   - or the same single known organisation, and titles that share enough words. With one
     known party the other one is unknown to us ("OpenAI taps a robotics start-up"), and two
     such stories in one week must not become one alert.

Either way the two must not contradict each other's anchors (``monitor.anchors``): when both
carry figures or product codes and share none, they are two events between the same companies,
such as a server plant and a supercomputer announced in the same week.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta

from monitor.records import SimilarArticle, StoryCandidate
from monitor.sketch import similarity

# Share of title words (Jaccard) a single-party copy needs in common with the story.
TITLE_OVERLAP = 0.25
# Estimated Jaccard similarity of word and word-pair shingles that makes a near-duplicate. On the
# evaluation set spun copies score 0.32 and more against their original, while different stories
# published within three days of each other score 0.16 at most.
NEAR_DUPLICATE = 0.3

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


def contradicts(a: frozenset[str], b: frozenset[str]) -> bool:
    """Both carry anchors and share none: two different events."""
    return bool(a) and bool(b) and not a & b


def _same_story(
    organisations: frozenset[str],
    words: frozenset[str],
    anchors: frozenset[str],
    story: StoryCandidate,
) -> bool:
    if contradicts(anchors, story.anchors):
        return False
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
    *,
    minhash: tuple[int, ...] = (),
    anchors: frozenset[str] = frozenset(),
    similar: Iterable[SimilarArticle] = (),
) -> int | None:
    """The id of the story this article joins, or None for a new story.

    A near-duplicate wins over a same-event match. Of several near-duplicates the most similar
    wins; of several fitting stories the one with the most shared organisations, then the
    closest in time, so the decision does not depend on the order of the candidates.
    """
    near = nearest_duplicate(published, window, minhash, anchors, similar)
    if near is not None:
        return near
    words = title_words(title)
    best: tuple[int, float, int] | None = None
    for story in candidates:
        gap = abs((published - story.first_published).total_seconds())
        if gap > window.total_seconds() or not _same_story(organisations, words, anchors, story):
            continue
        key = (-len(organisations & story.organisations), gap, story.id)
        if best is None or key < best:
            best = key
    return best[2] if best else None


def nearest_duplicate(
    published: datetime,
    window: timedelta,
    minhash: tuple[int, ...],
    anchors: frozenset[str],
    similar: Iterable[SimilarArticle],
) -> int | None:
    """The story of the most similar near-duplicate within the window, if any."""
    best: tuple[float, float, int] | None = None
    for other in similar:
        gap = abs((published - other.published).total_seconds())
        if other.story_id is None or gap > window.total_seconds():
            continue
        score = similarity(minhash, other.minhash) if minhash else 0.0
        if score < NEAR_DUPLICATE or contradicts(anchors, other.anchors):
            continue
        key = (-score, gap, other.story_id)
        if best is None or key < best:
            best = key
    return best[2] if best else None

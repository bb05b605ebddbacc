"""Match stage: which watched entities an article mentions, and whether it reads as a
hardware-partnership story. Pure: article and watch list in, Match out.

First version, deliberately simple and explainable: an article is alert-worthy when a sentence in
its title or lead carries a partnership cue (deal, agreement, tie-up, to assemble, 签署, 代工, ...)
together with a hardware cue (chip, server, device, 芯片, ...), and a watched entity is named in
the title or in that sentence (so a passing mention does not count). ``match_article`` is the one
entry point a later scored detector replaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from monitor.cues import HARDWARE_RE, PARTNERSHIP_RE
from monitor.entities import Watchlist
from monitor.records import Article, Match

LEAD_SENTENCES = 3  # sentences of the body, after the title, that count as the lead
ALERT_THRESHOLD = 0.5

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'“‘(\[]?[A-Z0-9\u4e00-\u9fff])|(?<=[。！？；])|\n+")


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


@dataclass(frozen=True)
class _Sentence:
    where: str  # "title", "lead" or "body"
    text: str
    partnership: tuple[str, ...]
    hardware: tuple[str, ...]
    organisations: frozenset[str]


def _sentence(where: str, text: str, watchlist: Watchlist) -> _Sentence:
    return _Sentence(
        where,
        text,
        tuple(dict.fromkeys(m.group(0).lower() for m in PARTNERSHIP_RE.finditer(text))),
        tuple(dict.fromkeys(m.group(0).lower() for m in HARDWARE_RE.finditer(text))),
        frozenset(watchlist.organisations_in(text)),
    )


def _body_text(article: Article) -> str:
    # The summary is usually the lead; content may start with the same words. Use content when
    # it is richer, else the summary.
    return article.content if len(article.content) > len(article.summary) else article.summary


def match_article(article: Article, watchlist: Watchlist) -> Match:
    """Decide whether an article is an alert-worthy hardware-partnership story, and explain why."""
    body = split_sentences(_body_text(article))
    title = _sentence("title", article.title, watchlist)
    head = [title] + [_sentence("lead", s, watchlist) for s in body[:LEAD_SENTENCES]]
    rest_orgs = watchlist.organisations_in(" ".join(body[LEAD_SENTENCES:]))

    organisations = set(rest_orgs).union(*(s.organisations for s in head))
    entities = tuple(sorted(organisations & watchlist.watched))

    # Evidence: a title/lead sentence with both cues; the title's cues also pair with a lead
    # sentence's (headlines are terse: "OpenAI taps Luxshare" over "... to build its device").
    evidence = [s for s in head if s.partnership and s.hardware]
    if not evidence and title.partnership:
        evidence = [s for s in head[1:] if s.hardware]
    salient = title.organisations | frozenset().union(*(s.organisations for s in evidence))
    salient_watched = sorted(salient & watchlist.watched)

    score = 0.0
    if evidence:
        score += 0.4
    if title.partnership:
        score += 0.2
    if title.hardware:
        score += 0.15
    if any(len(s.organisations | title.organisations) >= 2 for s in evidence):
        score += 0.15
    if title.organisations & watchlist.watched:
        score += 0.1
    score = round(min(score, 1.0), 2)

    alert_worthy = bool(evidence and salient_watched and score >= ALERT_THRESHOLD)
    why = _explain(title, evidence, salient_watched, entities, organisations)
    return Match(entities, tuple(sorted(organisations)), alert_worthy, score, tuple(why))


def _explain(
    title: _Sentence,
    evidence: list[_Sentence],
    salient_watched: list[str],
    entities: tuple[str, ...],
    organisations: set[str],
) -> list[str]:
    why = []
    if evidence:
        cues_p = sorted({c for s in [*evidence, title] for c in s.partnership})
        cues_h = sorted({c for s in [*evidence, title] for c in s.hardware})
        why.append(f"partnership cues: {', '.join(cues_p)}; hardware cues: {', '.join(cues_h)}")
        why.append(f"evidence ({evidence[0].where}): {evidence[0].text}")
    else:
        why.append("no sentence in the title or lead pairs a partnership cue with a hardware cue")
    if salient_watched:
        why.append(f"watched: {', '.join(salient_watched)}")
    elif entities:
        why.append(f"watched entities only in passing: {', '.join(entities)}")
    others = sorted(organisations - set(entities))
    if others:
        why.append(f"also involved: {', '.join(others)}")
    return why

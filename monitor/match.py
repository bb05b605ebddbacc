"""Match stage: which watched entities an article mentions, what hardware partnership it reports,
and which rules it satisfies. Pure: article, watch list and rules in, Match out.

The detector (monitor.detect) reads the event; the rules (monitor.rules) decide whether it is
worth an alert and where it goes. Without configured rules the default rule applies: a watched
entity is a party of a hardware partnership scoring at least DEFAULT_THRESHOLD.
"""

from __future__ import annotations

from collections.abc import Sequence

from monitor.detect import Detection, detect, split_sentences
from monitor.entities import Watchlist
from monitor.records import Article, Match
from monitor.rules import DEFAULT_THRESHOLD, Document, Rule, default_rule, rule_matches

__all__ = ["DEFAULT_THRESHOLD", "body_text", "explain_lines", "match_article", "split_sentences"]


def body_text(article: Article) -> str:
    # The summary is usually the lead; content may start with the same words. Use content when
    # it is richer, else the summary.
    return article.content if len(article.content) > len(article.summary) else article.summary


def match_article(
    article: Article, watchlist: Watchlist, rules: Sequence[Rule] | None = None
) -> Match:
    """Detect the event, apply the rules (default: the default rule) and explain the outcome."""
    rules = (default_rule(),) if rules is None else rules
    body = body_text(article)
    detection = detect(article.title, body, watchlist)
    organisations = detection.organisations | watchlist.organisations_in(f"{article.title}\n{body}")
    entities = tuple(sorted(organisations & watchlist.watched))
    document = Document(f"{article.title}\n{body}") if any(r.query for r in rules) else None
    matched = [r for r in rules if rule_matches(r, detection, entities, organisations, document)]
    channels = tuple(dict.fromkeys(c for r in matched for c in r.channels))
    why = explain_lines(detection, entities, organisations, [r.name for r in matched])
    return Match(
        entities=entities,
        organisations=tuple(sorted(organisations)),
        alert_worthy=bool(matched),
        score=detection.score,
        why=tuple(why),
        event=detection.event,
        rules=tuple(r.name for r in matched),
        channels=channels,
    )


def summary_line(detection: Detection) -> str:
    """The one line a digest shows: who, what, how far, how sure, and the cues."""
    event = detection.event
    if event is None:
        return "no sentence in the title or lead pairs a partnership cue with a hardware cue"
    parties = " + ".join(p.name + ("*" if p.watched else "") for p in event.parties) or "?"
    return (
        f"{event.kind} {event.score:.2f} ({event.where}): {parties}; {event.object}, "
        f"{event.stage}; cues: {', '.join(event.partnership_cues[:3])} / "
        f"{', '.join(event.hardware_cues[:3])}"
    )


def explain_lines(
    detection: Detection,
    entities: tuple[str, ...],
    organisations: frozenset[str],
    rules: Sequence[str],
) -> list[str]:
    event = detection.event
    why = [summary_line(detection)]
    if event is not None:
        why.append(f"evidence ({event.where}): {event.evidence[0]}")
        why.extend(f"evidence: {text}" for text in event.evidence[1:2])
    party_names = {p.name for p in event.parties} if event else set()
    salient_watched = sorted(party_names & set(entities))
    if salient_watched:
        why.append(f"watched: {', '.join(salient_watched)}")
    passing = sorted(set(entities) - party_names)
    if passing:
        why.append(f"watched entities only in passing: {', '.join(passing)}")
    if detection.contrary:
        why.append("lowered by: " + ", ".join(f"{cat} ({cue})" for cat, cue in detection.contrary))
    others = [p.name for p in event.parties if not p.watched] if event else []
    if others:
        why.append(f"other parties: {', '.join(others)}")
    named = sorted(organisations - party_names - set(entities))
    if named:
        why.append(f"also named: {', '.join(named)}")
    if rules:
        why.append(f"rules: {', '.join(rules)}")
    return why

"""Why an article is (or is not) an alert: the detector's reading and every rule's verdict.

Pure: an article, the watch list and the rules in, a JSON-ready explanation out, and its text
rendering. ``monitor explain`` prints it for a title and summary given on the command line or
for a stored article.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from monitor.detect import detect
from monitor.entities import Watchlist
from monitor.match import body_text, match_article
from monitor.records import Article
from monitor.rules import Document, Rule, describe, why_not


def explain(article: Article, watchlist: Watchlist, rules: Sequence[Rule]) -> dict[str, Any]:
    body = body_text(article)
    detection = detect(article.title, body, watchlist)
    match = match_article(article, watchlist, rules)
    document = Document(f"{article.title}\n{body}")
    verdicts = [
        {
            "rule": rule.name,
            "description": describe(rule),
            "matched": (
                reason := why_not(rule, detection, match.entities, match.organisations, document)
            )
            is None,
            "reason": reason,
        }
        for rule in rules
    ]
    return {
        "title": article.title,
        "alert_worthy": match.alert_worthy,
        "score": match.score,
        "event": asdict(match.event) if match.event else None,
        "entities": list(match.entities),
        "organisations": list(match.organisations),
        "lowered_by": [{"kind": kind, "cue": cue} for kind, cue in detection.contrary],
        "rules": verdicts,
        "channels": list(match.channels),
        "why": list(match.why),
    }


def render(explanation: dict[str, Any]) -> str:
    event = explanation["event"]
    verdict = "ALERT" if explanation["alert_worthy"] else "no alert"
    lines = [f"{verdict}: hardware_partnership score {explanation['score']:.2f}"]
    lines.append(f"  title: {explanation['title']}")
    if event is None:
        lines.append(
            "  no sentence in the title or lead pairs a partnership cue with a hardware cue"
        )
    else:
        parties = ", ".join(
            p["name"] + (" (watched)" if p["watched"] else "") for p in event["parties"]
        )
        lines += [
            f"  parties: {parties or 'none known'}",
            f"  object: {event['object']}; stage: {event['stage']}",
            f"  partnership cues: {', '.join(event['partnership_cues'])}",
            f"  hardware cues: {', '.join(event['hardware_cues'])}",
            "  evidence:",
            *(
                f"    - ({event['where'] if i == 0 else 'also'}) {text}"
                for i, text in enumerate(event["evidence"])
            ),
        ]
    if explanation["lowered_by"]:
        cues = ", ".join(f"{c['kind']} ({c['cue']})" for c in explanation["lowered_by"])
        lines.append(f"  lowered by: {cues}")
    lines.append(f"  watched entities named: {', '.join(explanation['entities']) or 'none'}")
    lines.append("  rules:")
    for v in explanation["rules"]:
        mark = "yes" if v["matched"] else f"no, {v['reason']}"
        lines.append(f"    - {v['description']}: {mark}")
    if explanation["alert_worthy"]:
        lines.append(f"  routed to: {', '.join(explanation['channels']) or 'every channel'}")
    return "\n".join(lines)

"""Slack and Discord message formats for a webhook channel (``format = "slack" | "discord"``). Pure.

Both take a sanitised Digest (``digest.render`` makes one) and return the JSON body the service's
incoming webhooks accept. Feed text is escaped for each service's markup, and each service's size
limits are kept: a digest larger than a message can hold lists the top stories and says how many
more there are.
"""

from __future__ import annotations

import re
from typing import Any

from monitor.digest import outlets, subject, why_line
from monitor.records import Digest, DigestStory

# Slack: at most 50 blocks per message, 3000 characters per section text, 150 per header.
SLACK_STORIES = 40
SLACK_SECTION = 3000
# Discord: 2000 characters of content, 10 embeds, 256 per embed title, 6000 over all embeds.
DISCORD_STORIES = 9
DISCORD_DESCRIPTION = 400

_DISCORD_MARKUP = re.compile(r"([\\*_~`|>\[\]()#-])")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _headline(digest: Digest) -> str:
    n = len(digest.stories)
    return f"{n} new stor{'y' if n == 1 else 'ies'}"


# --- Slack


def _slack_escape(text: str) -> str:
    """Slack mrkdwn: &, < and > are the only characters that must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_link(url: str | None, text: str) -> str:
    label = _slack_escape(text).replace("|", "¦")
    if not url:
        return label
    return f"<{url.replace('|', '%7C').replace('>', '%3E')}|{label}>"


def _slack_story(index: int, story: DigestStory) -> dict[str, Any]:
    names = outlets(story)
    lines = [
        f"*{index}. {_slack_link(story.url, story.title)}*",
        f"{_slack_escape(', '.join(story.entities))} · {_plural(len(names), 'outlet')} · "
        f"score {story.score:.2f}",
    ]
    if why := why_line(story):
        lines.append(f"_{_slack_escape(why)}_")
    firsts = {a.feed: a for a in reversed(story.articles)}  # each outlet's earliest copy
    lines.append("Reported by: " + ", ".join(_slack_link(firsts[n].url, n) for n in names))
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut("\n".join(lines), 3000)}}


def slack(digest: Digest) -> dict[str, Any]:
    """A Slack incoming-webhook message with Block Kit blocks; ``text`` is the notification."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(_headline(digest), 150)}}
    ]
    shown = digest.stories[:SLACK_STORIES]
    for i, story in enumerate(shown, 1):
        blocks.append(_slack_story(i, story))
    if len(digest.stories) > len(shown):
        more = len(digest.stories) - len(shown)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"… and {more} more"}})
    if digest.updates:
        lines = [
            f"• {_slack_link(u.url, u.title)}: now reported by {u.outlets} outlets"
            for u in digest.updates
        ]
        text = _cut("*Updates*\n" + "\n".join(lines), SLACK_SECTION)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": f"digest {digest.digest_id}"}]}
    )
    return {"text": _slack_escape(subject(digest)), "blocks": blocks}


# --- Discord


def _discord_escape(text: str) -> str:
    return _DISCORD_MARKUP.sub(r"\\\1", text)


def _discord_story(story: DigestStory) -> dict[str, Any]:
    names = outlets(story)
    lines = [
        f"{_discord_escape(', '.join(story.entities))} · {_plural(len(names), 'outlet')} · "
        f"score {story.score:.2f}"
    ]
    if why := why_line(story):
        lines.append(f"*{_discord_escape(why)}*")
    lines.append("Reported by: " + _discord_escape(", ".join(names)))
    embed: dict[str, Any] = {
        "title": _cut(story.title, 256),
        "description": _cut("\n".join(lines), DISCORD_DESCRIPTION),
    }
    if story.url:
        embed["url"] = story.url
    return embed


def discord(digest: Digest) -> dict[str, Any]:
    """A Discord webhook message: the subject as content, one embed per story. Mentions are
    disabled, so "@everyone" in a headline pings nobody."""
    shown = digest.stories[:DISCORD_STORIES]
    content = _discord_escape(subject(digest))
    if len(digest.stories) > len(shown):
        content += f"\n… and {len(digest.stories) - len(shown)} more"
    embeds = [_discord_story(s) for s in shown]
    if digest.updates:
        lines = [
            f"{_discord_escape(u.title)}: now reported by {u.outlets} outlets"
            for u in digest.updates
        ]
        embeds.append({"title": "Updates", "description": _cut("\n".join(lines), 1000)})
    return {
        "content": _cut(content, 2000),
        "embeds": embeds,
        "allowed_mentions": {"parse": []},
    }

"""Durations and schedules: parsing them, and deciding when something is next due.

Pure functions of their inputs and ``now``. The daemon drives them; ``run --once`` asks them.
"""

from __future__ import annotations

import email.utils
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

_DURATION_PART = re.compile(r"(\d+)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# Backoff after consecutive fetch failures: interval * 2**(failures-1), capped.
BACKOFF_CAP = timedelta(hours=24)


def parse_duration(text: str | int) -> int:
    """Seconds in a duration such as ``90s``, ``15m``, ``1h30m``, ``1d``, or a bare number.

    Raises ValueError with a message fit for the user.
    """
    if isinstance(text, bool) or not isinstance(text, str | int):
        raise ValueError(f"{text!r} is not a duration such as 90s, 15m, 1h or 1d")
    if isinstance(text, int):
        seconds = text
    else:
        compact = text.strip().lower().replace(" ", "")
        if compact.isdigit():
            seconds = int(compact)
        else:
            parts = _DURATION_PART.findall(compact)
            if not parts or "".join(n + u for n, u in parts) != compact:
                raise ValueError(f"{text!r} is not a duration such as 90s, 15m, 1h or 1d")
            seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError("a duration must be longer than zero")
    return seconds


def parse_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as e:  # OSError: "Europe" is a folder
        raise ValueError(
            f"{name!r} is not a known time zone (use an IANA name like Europe/Berlin)"
        ) from e


@dataclass(frozen=True)
class Schedule:
    """When a channel's digest goes out."""

    kind: Literal["immediate", "interval", "cron"]
    text: str  # as written in the config
    seconds: int | None = None  # interval length; only for kind == "interval"
    cron: str | None = None  # five-field crontab line; only for kind == "cron"


def parse_schedule(text: str) -> Schedule:
    """``immediate``, ``every <duration>``, or a five-field cron line such as ``0 8 * * *``."""
    stripped = " ".join(text.split())
    if stripped.lower() == "immediate":
        return Schedule("immediate", stripped)
    if stripped.lower().startswith("every "):
        return Schedule("interval", stripped, seconds=parse_duration(stripped[6:]))
    if len(stripped.split(" ")) == 5:
        try:
            CronTrigger.from_crontab(stripped, timezone=UTC)
        except ValueError as e:
            raise ValueError(f"{text!r} is not a valid cron line: {e}") from e
        return Schedule("cron", stripped, cron=stripped)
    raise ValueError(
        f'{text!r} is not a schedule: use "immediate", "every 30m" or a cron line like "0 8 * * *"'
    )


def cron_trigger(schedule: Schedule, tz: ZoneInfo) -> CronTrigger:
    assert schedule.cron is not None
    return CronTrigger.from_crontab(schedule.cron, timezone=tz)


def digest_due(
    schedule: Schedule,
    tz: ZoneInfo,
    *,
    last_sent: datetime | None,
    oldest_pending: datetime | None,
    now: datetime,
) -> bool:
    """Whether a channel's digest should go out now. Nothing pending is never due."""
    if oldest_pending is None:
        return False
    if schedule.kind == "immediate":
        return True
    if schedule.kind == "interval":
        assert schedule.seconds is not None
        return last_sent is None or now >= last_sent + timedelta(seconds=schedule.seconds)
    # cron: due once a fire time has passed since the last digest and since the oldest pending
    # story was queued: a story that arrives after a fire time with nothing to send waits for
    # the next fire time, not for the next poll.
    since = max(last_sent or oldest_pending, oldest_pending) + timedelta(seconds=1)
    fire = cron_trigger(schedule, tz).get_next_fire_time(None, since)
    return fire is not None and fire <= now


def next_poll(
    now: datetime,
    interval: int,
    *,
    consecutive_failures: int = 0,
    retry_after: datetime | None = None,
    hint: timedelta | None = None,
    hint_cap: timedelta = timedelta(hours=6),
    rng: random.Random | None = None,
) -> datetime:
    """When a feed should next be polled.

    On success: ``now + interval`` with up to 10 % jitter so feeds added together spread out.
    After failures: exponential backoff from the interval, capped at BACKOFF_CAP.
    A server's Retry-After is a floor, never a reason to poll sooner; so is ``hint`` (the
    server's or the feed's own idea of how long its content stays fresh), at most ``hint_cap``.
    """
    rng = rng or random.Random()
    base = timedelta(seconds=interval)
    if hint is not None:
        base = max(base, min(hint, hint_cap))
    if consecutive_failures:
        # Integer seconds: 2**n of a timedelta overflows after a month of daily failures.
        backoff = interval * 2 ** min(consecutive_failures - 1, 64)
        base = min(timedelta(seconds=min(backoff, 10**9)), max(BACKOFF_CAP, base))
    due = now + base + timedelta(seconds=rng.uniform(0, 0.1 * base.total_seconds()))
    if retry_after is not None and retry_after > due:
        due = retry_after
    return due


def freshness_hint(headers: Mapping[str, str], ttl: int | None, now: datetime) -> timedelta | None:
    """How long the server (Cache-Control max-age less Age, else Expires) or the feed itself
    (``<ttl>``, in seconds) says its content stays fresh: the longest of them, or None.

    ``headers`` have lower-case names. ``no-cache``/``no-store`` and expiry dates in the past
    give no hint rather than an error: a hint can only ever delay a poll.
    """
    hints: list[timedelta] = []
    if ttl is not None and ttl > 0:
        hints.append(timedelta(seconds=ttl))
    directives = _cache_directives(headers.get("cache-control", ""))
    if "no-cache" in directives or "no-store" in directives:
        return max(hints, default=None)
    max_age = _seconds(directives.get("max-age"))
    if max_age is not None:
        hints.append(timedelta(seconds=max_age - (_seconds(headers.get("age")) or 0)))
    elif headers.get("expires"):
        expires = _http_date(headers["expires"])
        date = _http_date(headers.get("date", "")) or now
        if expires is not None:
            hints.append(expires - date)
    positive = [h for h in hints if h > timedelta(0)]
    return max(positive, default=None)


def _cache_directives(value: str) -> dict[str, str | None]:
    directives: dict[str, str | None] = {}
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        if name:
            directives[name.lower()] = arg.strip().strip('"') or None
    return directives


def _seconds(value: str | None) -> int | None:
    if value is None or not value.strip().isascii() or not value.strip().isdigit():
        return None
    return min(int(value.strip()[:12]), 10**9)


def _http_date(value: str) -> datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def adaptive_interval(
    entry_times: Sequence[datetime], now: datetime, lowest: int, highest: int, default: int
) -> int:
    """The polling interval for a feed with ``interval = "auto"``, in seconds.

    ``entry_times`` are when its most recent entries appeared (published, but never later than
    first seen). Poll about twice per average gap between them, so a new entry waits half a gap
    on average; and when the feed has gone quiet for longer, back off to a quarter of the
    silence. Kept within ``lowest``..``highest``; ``default`` until two entries are known.
    """
    times = sorted(min(t, now) for t in entry_times)
    if len(times) < 2 or times[0] == times[-1]:  # no spread to learn from (no dates given)
        seconds = float(default)
    else:
        mean_gap = (times[-1] - times[0]).total_seconds() / (len(times) - 1)
        silence = (now - times[-1]).total_seconds()
        seconds = max(mean_gap / 2, silence / 4)
    return int(min(max(seconds, lowest), highest))

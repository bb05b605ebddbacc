"""Durations and schedules: parsing them, and deciding when something is next due.

Pure functions of their inputs and ``now``. The daemon drives them; ``run --once`` asks them.
"""

from __future__ import annotations

import random
import re
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
    # cron: due once a fire time has passed since the last digest (or since the oldest pending
    # story, for a channel that never sent one).
    since = (last_sent or oldest_pending) + timedelta(seconds=1)
    fire = cron_trigger(schedule, tz).get_next_fire_time(None, since)
    return fire is not None and fire <= now


def next_poll(
    now: datetime,
    interval: int,
    *,
    consecutive_failures: int = 0,
    retry_after: datetime | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """When a feed should next be polled.

    On success: ``now + interval`` with up to 10 % jitter so feeds added together spread out.
    After failures: exponential backoff from the interval, capped at BACKOFF_CAP.
    A server's Retry-After is a floor, never a reason to poll sooner.
    """
    rng = rng or random.Random()
    base = timedelta(seconds=interval)
    if consecutive_failures:
        # Integer seconds: 2**n of a timedelta overflows after a month of daily failures.
        backoff = interval * 2 ** min(consecutive_failures - 1, 64)
        base = min(timedelta(seconds=min(backoff, 10**9)), max(BACKOFF_CAP, base))
    due = now + base + timedelta(seconds=rng.uniform(0, 0.1 * base.total_seconds()))
    if retry_after is not None and retry_after > due:
        due = retry_after
    return due

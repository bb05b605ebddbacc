"""Outbox deciders: which lane a channel's pending stories go out in, and when. Pure.

A channel has up to two lanes:

- the **scheduled** digest, on the channel's ``schedule`` (``every 30m`` or a cron line);
- the **immediate** lane: every story on an ``immediate`` channel, or, on a scheduled channel
  with ``min_score``, the stories scoring at least that much.

The immediate lane waits out ``quiet_hours`` (in the channel's timezone) and sends at most
``max_immediate_per_hour`` messages in any 60 minutes; what it holds back rolls into the next
digest that goes out. ``every`` digests wait out quiet hours too; a cron digest goes at the times
the user wrote down. Retries of a digest that failed wait an exponential backoff with jitter.

These functions take plain values and ``now``; ``monitor.delivery`` reads the store and wires them.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

# Retries after a temporary failure, between runs: 1 min, 2 min, 4 min ... capped at an hour, each
# stretched by up to 25 % so that many channels failing together do not retry in lockstep.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
RETRY_JITTER = 0.25

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class QuietHours:
    """A daily window such as 22:00-07:00 (it may cross midnight), in the channel's timezone."""

    start: time
    end: time
    text: str  # as written in the config


def parse_quiet_hours(text: str) -> QuietHours:
    """``"22:00-07:00"``: start and end as 24-hour HH:MM. Raises ValueError for the user."""
    parts = [p.strip() for p in text.split("-")]
    clocks = [_CLOCK.match(p) for p in parts]
    if len(parts) != 2 or not all(clocks):
        raise ValueError(f'{text!r} is not a time window like "22:00-07:00"')
    start, end = (time(int(m.group(1)), int(m.group(2))) for m in clocks if m)
    if start == end:
        raise ValueError(f"{text!r} starts and ends at the same time")
    return QuietHours(start, end, text)


def quiet_until(quiet: QuietHours | None, tz: ZoneInfo, now: datetime) -> datetime | None:
    """When the quiet window that ``now`` falls in ends (UTC), or None when it is not quiet."""
    if quiet is None:
        return None
    local = now.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    crosses_midnight = quiet.start > quiet.end
    if crosses_midnight:
        inside = clock >= quiet.start or clock < quiet.end
    else:
        inside = quiet.start <= clock < quiet.end
    if not inside:
        return None
    end_day = local.date()
    if crosses_midnight and clock >= quiet.start:
        end_day += timedelta(days=1)
    end = datetime.combine(end_day, quiet.end, tzinfo=tz)
    return end.astimezone(now.tzinfo)


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """How long a digest waits before its next attempt after ``attempts`` failed ones."""
    exponent = min(max(attempts - 1, 0), 16)
    base: timedelta = min(RETRY_BASE * 2**exponent, RETRY_CAP)
    return base * (1 + rng.uniform(0, RETRY_JITTER))

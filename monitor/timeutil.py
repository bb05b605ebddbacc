"""How times are written in the database and in output: ISO 8601 UTC, to the second."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache


# Cached: a poll writes the same few times (its "now", the entries' dates) a dozen times per
# article, and formatting them was a measurable share of the store thread's work.
@lru_cache(maxsize=4096)
def iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    # isoformat, not strftime("%Y"): strftime writes the year 103 as "103", which
    # fromisoformat then refuses (feeds do carry such dates).
    return when.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def from_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)

"""How times are written in the database and in output: ISO 8601 UTC, to the second."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(when: datetime | None) -> str | None:
    if when is None:
        return None
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)

"""Times in the database: ISO 8601 UTC to the second, readable back whatever the year."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.timeutil import from_iso, iso


@pytest.mark.parametrize(
    ("when", "text"),
    [
        (datetime(2026, 3, 2, 9, 0, 5, 999999, tzinfo=UTC), "2026-03-02T09:00:05Z"),
        (datetime(2026, 3, 2, 10, 0, tzinfo=timezone(timedelta(hours=1))), "2026-03-02T09:00:00Z"),
        # feeds carry dates like these; the year must stay four digits to be read back
        (datetime(103, 12, 13, 18, 30, 2, tzinfo=UTC), "0103-12-13T18:30:02Z"),
        (datetime(9999, 12, 31, tzinfo=UTC), "9999-12-31T00:00:00Z"),
    ],
)
def test_iso_round_trips(when: datetime, text: str) -> None:
    assert iso(when) == text
    assert from_iso(text) == when.replace(microsecond=0)

"""Durations, schedules, when a digest is due and when a feed is next polled."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.schedule import (
    BACKOFF_CAP,
    Schedule,
    adaptive_interval,
    digest_due,
    freshness_hint,
    next_poll,
    parse_duration,
    parse_schedule,
    parse_timezone,
)

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
UTC_ZONE = ZoneInfo("UTC")

# --- durations


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("1h", 3600),
        ("1d", 86400),
        ("2w", 1209600),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        (" 15M ", 900),
        ("120", 120),
        (45, 45),
    ],
)
def test_parse_duration(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    "text", ["", "0", "0s", "-5m", "1.5h", "15x", "m", "h1", "1h30", "soon", True, 0, -3]
)
def test_parse_duration_rejects(text: str | int) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


# --- time zones


def test_parse_timezone_known_zone() -> None:
    assert parse_timezone("Asia/Shanghai") == ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("name", ["Mars/Olympus", "Europe/", "../../etc/passwd", "Europe"])
def test_parse_timezone_rejects_unknown_zone(name: str) -> None:
    with pytest.raises(ValueError, match="not a known time zone"):
        parse_timezone(name)


# --- schedules


@pytest.mark.parametrize(
    ("text", "schedule"),
    [
        ("immediate", Schedule("immediate", "immediate")),
        ("Immediate", Schedule("immediate", "Immediate")),
        ("every 30m", Schedule("interval", "every 30m", seconds=1800)),
        ("every  1h30m", Schedule("interval", "every 1h30m", seconds=5400)),
        ("0 8 * * *", Schedule("cron", "0 8 * * *", cron="0 8 * * *")),
        ("30  7 * * mon-fri", Schedule("cron", "30 7 * * mon-fri", cron="30 7 * * mon-fri")),
    ],
)
def test_parse_schedule(text: str, schedule: Schedule) -> None:
    assert parse_schedule(text) == schedule


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sometimes",
        "every",
        "every 0m",
        "every soon",
        "0 8 * *",
        "0 8 * * * *",
        "61 8 * * *",
        "0 25 * * *",
        "a b c d e",
    ],
)
def test_parse_schedule_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        parse_schedule(text)


# --- digest_due


@pytest.mark.parametrize(
    "schedule",
    [parse_schedule("immediate"), parse_schedule("every 1h"), parse_schedule("* * * * *")],
)
def test_nothing_pending_is_never_due(schedule: Schedule) -> None:
    assert not digest_due(
        schedule, UTC_ZONE, last_sent=NOW - timedelta(days=30), oldest_pending=None, now=NOW
    )


def test_immediate_is_due_whenever_something_is_pending() -> None:
    assert digest_due(
        parse_schedule("immediate"),
        UTC_ZONE,
        last_sent=NOW - timedelta(seconds=1),
        oldest_pending=NOW,
        now=NOW,
    )


def test_interval_waits_for_the_gap_since_last_digest() -> None:
    schedule = parse_schedule("every 1h")
    last = NOW - timedelta(hours=1)

    def due(now: datetime) -> bool:
        return digest_due(schedule, UTC_ZONE, last_sent=last, oldest_pending=last, now=now)

    assert (due(NOW - timedelta(seconds=1)), due(NOW), due(NOW + timedelta(minutes=5))) == (
        False,
        True,
        True,
    )


def test_interval_channel_that_never_sent_is_due_at_once() -> None:
    assert digest_due(
        parse_schedule("every 1d"), UTC_ZONE, last_sent=None, oldest_pending=NOW, now=NOW
    )


def test_cron_is_due_only_after_fire_time_in_its_zone() -> None:
    # 08:00 in Shanghai is 00:00 UTC.
    schedule = parse_schedule("0 8 * * *")
    shanghai = ZoneInfo("Asia/Shanghai")
    last = datetime(2026, 1, 10, 0, 0, 5, tzinfo=UTC)  # just after the 10 January digest
    pending = datetime(2026, 1, 10, 3, 0, tzinfo=UTC)

    def due(now: datetime) -> bool:
        return digest_due(schedule, shanghai, last_sent=last, oldest_pending=pending, now=now)

    assert (
        due(datetime(2026, 1, 10, 8, 0, tzinfo=UTC)),  # 16:00 in Shanghai
        due(datetime(2026, 1, 10, 23, 59, 59, tzinfo=UTC)),  # 07:59:59 on the 11th
        due(datetime(2026, 1, 11, 0, 0, tzinfo=UTC)),  # 08:00 on the 11th
        due(datetime(2026, 1, 11, 6, 0, tzinfo=UTC)),  # later that morning
    ) == (False, False, True, True)


def test_cron_follows_daylight_saving_time() -> None:
    # 08:00 in Berlin is 07:00 UTC in winter and 06:00 UTC in summer.
    schedule = parse_schedule("0 8 * * *")
    berlin = ZoneInfo("Europe/Berlin")

    def due(last: datetime, now: datetime) -> bool:
        return digest_due(schedule, berlin, last_sent=last, oldest_pending=last, now=now)

    winter = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 10, 9, 0, tzinfo=UTC)
    assert (
        due(winter, datetime(2026, 1, 11, 6, 30, tzinfo=UTC)),
        due(winter, datetime(2026, 1, 11, 7, 0, tzinfo=UTC)),
        due(summer, datetime(2026, 7, 11, 5, 59, tzinfo=UTC)),
        due(summer, datetime(2026, 7, 11, 6, 0, tzinfo=UTC)),
    ) == (False, True, False, True)


def test_cron_channel_that_never_sent_waits_for_fire_after_oldest_pending() -> None:
    schedule = parse_schedule("0 8 * * *")
    pending = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)  # after that day's 08:00

    def due(now: datetime) -> bool:
        return digest_due(schedule, UTC_ZONE, last_sent=None, oldest_pending=pending, now=now)

    assert (
        due(datetime(2026, 1, 10, 20, 0, tzinfo=UTC)),
        due(datetime(2026, 1, 11, 8, 0, tzinfo=UTC)),
    ) == (False, True)


# --- next_poll


def _delay(interval: int, seed: int = 1, consecutive_failures: int = 0) -> float:
    due = next_poll(
        NOW, interval, consecutive_failures=consecutive_failures, rng=random.Random(seed)
    )
    return (due - NOW).total_seconds()


def test_success_polls_after_interval_with_up_to_ten_percent_jitter() -> None:
    delays = [_delay(900, seed) for seed in range(200)]
    assert all(900 <= d <= 990 for d in delays)
    # The jitter spreads feeds out: not all at one moment, and over most of the window.
    assert max(delays) - min(delays) > 60


def test_same_seed_gives_same_time() -> None:
    assert _delay(900, seed=7) == _delay(900, seed=7)


def test_backoff_doubles_with_each_failure() -> None:
    delays = [_delay(600, seed=3, consecutive_failures=n) for n in range(1, 6)]
    assert [d / delays[0] for d in delays] == pytest.approx([1, 2, 4, 8, 16])
    assert 600 <= delays[0] <= 660


def test_backoff_is_capped_at_a_day() -> None:
    cap = BACKOFF_CAP.total_seconds()
    assert cap == 24 * 3600
    capped = [_delay(3600, seed=5, consecutive_failures=n) for n in (6, 10, 20, 30)]
    assert capped == [capped[0]] * 4
    assert cap <= capped[0] <= cap * 1.1


def test_long_failure_streak_stays_capped() -> None:
    # A feed that has been down for months keeps counting failures.
    delay = _delay(900, seed=5, consecutive_failures=200)
    assert 24 * 3600 <= delay <= 24 * 3600 * 1.1


def test_backoff_never_polls_sooner_than_a_long_interval() -> None:
    two_days = 2 * 86400
    assert _delay(two_days, seed=2, consecutive_failures=4) == _delay(two_days, seed=2)


def test_retry_after_is_a_floor() -> None:
    later = NOW + timedelta(hours=6)
    assert next_poll(NOW, 900, retry_after=later, rng=random.Random(1)) == later


def test_retry_after_never_makes_it_sooner() -> None:
    without = next_poll(NOW, 3600, consecutive_failures=2, rng=random.Random(4))
    soon = NOW + timedelta(seconds=30)
    assert (
        next_poll(NOW, 3600, consecutive_failures=2, retry_after=soon, rng=random.Random(4))
        == without
    )


# --- server hints: a capped floor on the next poll


@pytest.mark.parametrize(
    ("headers", "ttl", "expected"),
    [
        ({"cache-control": "public, max-age=7200"}, None, 7200),
        ({"cache-control": "max-age=7200", "age": "200"}, None, 7000),
        ({"cache-control": 'max-age="600"'}, None, 600),
        ({"expires": "Sat, 10 Jan 2026 15:00:00 GMT"}, None, 3 * 3600),
        (
            {"expires": "Sat, 10 Jan 2026 15:00:00 GMT", "date": "Sat, 10 Jan 2026 14:00:00 GMT"},
            None,
            3600,
        ),
        # max-age wins over Expires, as HTTP says
        ({"cache-control": "max-age=60", "expires": "Sat, 10 Jan 2026 15:00:00 GMT"}, None, 60),
        ({}, 1800, 1800),
        ({"cache-control": "max-age=60"}, 1800, 1800),  # the longest hint counts
        ({"cache-control": "no-cache, max-age=7200"}, None, None),
        ({"cache-control": "no-store"}, 600, 600),
        ({"cache-control": "max-age=0"}, None, None),
        ({"cache-control": "max-age=-5"}, None, None),
        ({"expires": "0"}, None, None),
        ({"expires": "Thu, 01 Jan 1970 00:00:00 GMT"}, None, None),
        ({}, None, None),
    ],
)
def test_freshness_hint(headers: dict[str, str], ttl: int | None, expected: int | None) -> None:
    hint = freshness_hint(headers, ttl, NOW)
    assert hint == (None if expected is None else timedelta(seconds=expected))


def test_server_hint_delays_the_next_poll() -> None:
    due = next_poll(NOW, 900, hint=timedelta(hours=2), rng=random.Random(1))
    assert NOW + timedelta(hours=2) <= due <= NOW + timedelta(hours=2.2)


def test_server_hint_is_capped() -> None:
    due = next_poll(
        NOW, 900, hint=timedelta(days=30), hint_cap=timedelta(hours=6), rng=random.Random(1)
    )
    assert NOW + timedelta(hours=6) <= due <= NOW + timedelta(hours=6.6)


def test_server_hint_never_makes_a_poll_sooner() -> None:
    assert next_poll(NOW, 3600, hint=timedelta(minutes=5), rng=random.Random(2)) == next_poll(
        NOW, 3600, rng=random.Random(2)
    )


# --- interval = "auto"


def _hours_ago(*hours: float) -> list[datetime]:
    return [NOW - timedelta(hours=h) for h in hours]


def test_busy_feed_is_polled_about_twice_per_gap() -> None:
    hourly = _hours_ago(0.2, 1.2, 2.2, 3.2, 4.2)
    assert adaptive_interval(hourly, NOW, 300, 6 * 3600, 900) == 1800


def test_very_busy_feed_stops_at_the_lower_bound() -> None:
    every_minute = [NOW - timedelta(minutes=m) for m in range(10)]
    assert adaptive_interval(every_minute, NOW, 300, 6 * 3600, 900) == 300


def test_feed_gone_quiet_backs_off_to_the_upper_bound() -> None:
    busy_last_week = _hours_ago(170, 171, 172, 173)
    assert adaptive_interval(busy_last_week, NOW, 300, 6 * 3600, 900) == 6 * 3600


def test_quiet_feed_slows_gradually() -> None:
    hourly_then_silent = _hours_ago(4, 5, 6, 7)
    assert adaptive_interval(hourly_then_silent, NOW, 300, 6 * 3600, 900) == 3600


def test_feed_without_history_or_dates_keeps_its_default() -> None:
    assert adaptive_interval([], NOW, 300, 6 * 3600, 900) == 900
    assert adaptive_interval(_hours_ago(1), NOW, 300, 6 * 3600, 900) == 900
    assert adaptive_interval(_hours_ago(1, 1, 1), NOW, 300, 6 * 3600, 900) == 900


def test_future_dates_count_as_now() -> None:
    future = [NOW + timedelta(days=300), *_hours_ago(1, 2)]
    assert 300 <= adaptive_interval(future, NOW, 300, 6 * 3600, 900) <= 1800

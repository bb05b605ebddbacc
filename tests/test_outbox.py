"""The outbox on the clock: lanes, quiet hours, the hourly cap, updates, backoff and templates.

A real SQLite store, a real webhook receiver (or a real folder), and ``deliver`` called with the
moment it is asked about, so each schedule can be walked through hour by hour.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from conftest import Receiver

from monitor.config import Config, FeedConfig, load_config_text
from monitor.delivery import deliver
from monitor.outbox import RETRY_CAP, parse_quiet_hours, quiet_until, retry_delay
from monitor.records import Article, DeliveryOutcome, Match
from monitor.store import Store

BERLIN = ZoneInfo("Europe/Berlin")
DAY = datetime(2026, 3, 2, tzinfo=UTC)  # winter: Berlin is UTC+1
FEEDS = [f"https://feeds.example/{n}.xml" for n in range(4)]


def at(hour: int, minute: int = 0, day: int = 0) -> datetime:
    return DAY + timedelta(days=day, hours=hour, minutes=minute)


def config(channels: str) -> Config:
    return load_config_text(f'[watch.entities]\nOpenAI = ["OpenAI"]\n{channels}')


def webhook(receiver: Receiver, name: str = "team", **keys: Any) -> str:
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in keys.items())
    return (
        f'[[channels]]\nname = "{name}"\ntype = "webhook"\nurl = "{receiver.url}/{name}"\n{lines}\n'
    )


@pytest.fixture
def store(tmp_path: Path) -> Any:
    s = Store.open(tmp_path / "monitor.db")
    s.sync_feeds([FeedConfig(url, f"Outlet {n}", 900) for n, url in enumerate(FEEDS)], DAY)
    yield s
    s.close()


def add_story(store: Store, n: int, score: float, when: datetime, channels: tuple[str, ...]) -> int:
    """A story of one article from the first feed, queued for ``channels`` at ``when``."""
    feed = store.due_feeds(DAY, force=True)[0]
    article = Article(
        FEEDS[0],
        f"guid-{n}",
        f"OpenAI deal {n}",
        f"https://news.example/{n}",
        f"https://news.example/{n}",
        "summary",
        "content",
        when,
        (),
        f"v1:{n}",
        f"openai deal {n}",
    )
    match = Match(
        ("OpenAI",), ("OpenAI", "Luxshare"), True, score, (f"evidence (title): deal {n}",)
    )
    article_id = store.add_article(feed.id, article, match, when)
    story_id = store.create_story(article_id, article, match, when, when)
    store.queue_deliveries(story_id, channels, when)
    return story_id


def run(store: Store, cfg: Config, now: datetime, **kwargs: Any) -> list[DeliveryOutcome]:
    return deliver(store, cfg, now, rng=random.Random(7), sleep=lambda seconds: None, **kwargs)


def stories_in(receiver: Receiver, index: int) -> list[int]:
    return [s["story_id"] for s in receiver.payloads()[index]["stories"]]


# --- quiet hours


def test_quiet_hours_cross_midnight_in_the_channel_timezone() -> None:
    quiet = parse_quiet_hours("22:00-07:00")

    assert (quiet.start, quiet.end) == (time(22), time(7))
    assert quiet_until(quiet, BERLIN, at(20, 59)) is None  # 21:59 in Berlin
    assert quiet_until(quiet, BERLIN, at(21)) == at(6, day=1)  # 22:00 -> 07:00 Berlin
    assert quiet_until(quiet, BERLIN, at(3, day=1)) == at(6, day=1)
    assert quiet_until(quiet, BERLIN, at(6, day=1)) is None
    daytime = parse_quiet_hours("12:00-13:30")
    assert quiet_until(daytime, BERLIN, at(11, 15)) == at(12, 30)


@pytest.mark.parametrize("text", ["22-07", "22:00", "25:00-07:00", "07:00-07:00", "a-b"])
def test_bad_quiet_hours_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_quiet_hours(text)


def test_immediate_alerts_wait_for_the_end_of_quiet_hours(store: Store, receiver: Receiver) -> None:
    cfg = config(webhook(receiver, quiet_hours="22:00-07:00", timezone="Europe/Berlin"))
    add_story(store, 1, 0.9, at(21, 30), ("team",))  # 22:30 in Berlin

    assert run(store, cfg, at(21, 30)) == []
    assert run(store, cfg, at(5, 59, day=1)) == []  # 06:59 in Berlin
    [sent] = run(store, cfg, at(6, day=1))

    assert sent.status == "sent" and receiver.requests and stories_in(receiver, 0) == [1]


def test_every_digests_wait_out_quiet_hours_but_cron_digests_keep_their_time(
    store: Store, receiver: Receiver
) -> None:
    quiet = {"quiet_hours": "22:00-07:00", "timezone": "Europe/Berlin"}
    cfg = config(
        webhook(receiver, "every", schedule="every 30m", **quiet)
        + webhook(receiver, "nightly", schedule="0 23 * * *", **quiet)
    )
    add_story(store, 1, 0.9, at(21, 30), ("every", "nightly"))

    [nightly] = run(store, cfg, at(22))  # 23:00 in Berlin: the cron line says so
    [every] = run(store, cfg, at(6, day=1))  # 07:00 in Berlin

    assert (nightly.channel, every.channel) == ("nightly", "every")
    assert [r.path for r in receiver.requests] == ["/nightly", "/every"]


# --- the immediate lane


def test_min_score_sends_confident_stories_at_once_and_the_rest_on_schedule(
    store: Store, receiver: Receiver
) -> None:
    cfg = config(webhook(receiver, schedule="0 8 * * *", min_score=0.9))
    add_story(store, 1, 0.95, at(10), ("team",))
    add_story(store, 2, 0.6, at(10), ("team",))

    [urgent] = run(store, cfg, at(10))
    assert run(store, cfg, at(12)) == []
    [morning] = run(store, cfg, at(8, day=1))

    assert (urgent.stories, morning.stories) == (1, 1)
    assert (stories_in(receiver, 0), stories_in(receiver, 1)) == ([1], [2])
    assert run(store, cfg, at(8, 30, day=1)) == []  # nothing pending, nothing sent


def test_hourly_cap_rolls_held_stories_into_the_next_message(
    store: Store, receiver: Receiver
) -> None:
    cfg = config(webhook(receiver, max_immediate_per_hour=2))
    for n, minute in ((1, 0), (2, 10), (3, 20), (4, 30)):
        add_story(store, n, 0.5 + n / 10, at(10, minute), ("team",))
        run(store, cfg, at(10, minute))
    assert len(receiver.requests) == 2  # the third and fourth wait

    assert run(store, cfg, at(10, 59)) == []
    [rolled] = run(store, cfg, at(11, 1))

    assert rolled.stories == 2
    assert stories_in(receiver, 2) == [4, 3]  # best score first


def test_nothing_pending_sends_nothing_on_any_schedule(store: Store, receiver: Receiver) -> None:
    cfg = config(
        webhook(receiver, "now")
        + webhook(receiver, "every", schedule="every 30m")
        + webhook(receiver, "cron", schedule="0 8 * * *")
    )

    assert run(store, cfg, at(8)) == []
    assert run(store, cfg, at(8), force=True) == []
    assert receiver.requests == []


# --- updates


def test_updates_say_now_reported_by_n_outlets_once_and_only_when_asked(
    store: Store, receiver: Receiver
) -> None:
    cfg = config(webhook(receiver, include_updates=True) + webhook(receiver, "plain"))
    first = add_story(store, 1, 0.9, at(9), ("team", "plain"))
    run(store, cfg, at(9))
    article_id = store.db.execute("select id from articles").fetchone()[0]
    for feed in store.due_feeds(DAY, force=True)[1:3]:  # two more outlets carry it
        store.add_sighting(feed.id, "copy", article_id, at(10))

    assert run(store, cfg, at(10)) == []  # an update alone sends nothing
    add_story(store, 2, 0.8, at(11), ("team", "plain"))
    run(store, cfg, at(11))
    add_story(store, 3, 0.7, at(12), ("team",))
    run(store, cfg, at(12))

    team = [p for p in receiver.payloads() if p["channel"] == "team"]
    plain = [p for p in receiver.payloads() if p["channel"] == "plain"]
    assert [[s["story_id"] for s in p["stories"]] for p in team] == [[1], [2], [3]]
    assert [p["updates"] for p in team] == [
        [],
        [
            {
                "story_id": first,
                "title": "OpenAI deal 1",
                "url": "https://news.example/1",
                "outlets": 3,
                "previously": 1,
            }
        ],
        [],  # told once
    ]
    assert all(p["updates"] == [] for p in plain)


# --- retries


def test_retry_delay_doubles_with_jitter_up_to_an_hour() -> None:
    rng = random.Random(3)
    delays = [retry_delay(n, rng) for n in range(1, 10)]

    for n, delay in enumerate(delays[:6], 1):
        base = timedelta(minutes=2 ** (n - 1))
        assert base <= delay <= base * 1.25
    assert all(RETRY_CAP <= d <= RETRY_CAP * 1.25 for d in delays[6:])


def test_temporary_failure_waits_its_backoff_then_resends_the_same_digest(
    store: Store, receiver: Receiver
) -> None:
    receiver.statuses = [503, 503, 503]
    cfg = config(webhook(receiver))
    add_story(store, 1, 0.9, at(9), ("team",))

    [failed] = run(store, cfg, at(9))
    assert failed.status == "retry" and len(receiver.requests) == 3
    assert run(store, cfg, at(9, 0) + timedelta(seconds=50)) == []
    [sent] = run(store, cfg, at(9, 2))

    assert sent.status == "sent" and sent.digest_id == failed.digest_id
    keys = {r.headers["idempotency-key"] for r in receiver.requests}
    assert keys == {failed.digest_id} and len(receiver.requests) == 4


def test_retry_after_is_respected_and_skips_the_quick_retries(store: Store) -> None:
    seen: list[httpx.Request] = []

    def busy(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "900"})

    cfg = config('[[channels]]\nname = "team"\ntype = "webhook"\nurl = "https://hooks.example/x"\n')
    add_story(store, 1, 0.9, at(9), ("team",))
    with httpx.Client(transport=httpx.MockTransport(busy)) as client:
        [outcome] = run(store, cfg, at(9), http=client)
        assert run(store, cfg, at(9, 14), http=client) == []
        assert len(seen) == 1

    assert outcome.status == "retry"
    assert store.unsent_digest("team").next_attempt >= at(9, 15)  # type: ignore[union-attr]


# --- templates


def test_user_templates_replace_the_built_in_ones_and_stay_escaped(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "digest.html").write_text(
        "<h1>{{ digest.stories | length }}</h1>{% for s in digest.stories %}"
        "<p>{{ s.title }}</p>{% endfor %}",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    cfg = config(
        f'[[channels]]\nname = "inbox"\ntype = "file"\npath = "{out}"\ntemplates = "{folder}"\n'
    )
    story_id = add_story(store, 1, 0.9, at(9), ("inbox",))
    store.db.table("stories").update(story_id, {"title": "<script>alert(1)</script> deal"})

    [sent] = run(store, cfg, at(9))

    html = (out / f"{sent.digest_id}.html").read_text(encoding="utf-8")
    assert html == "<h1>1</h1><p>&lt;script&gt;alert(1)&lt;/script&gt; deal</p>"
    text = (out / f"{sent.digest_id}.txt").read_text(encoding="utf-8")
    assert text.startswith("[monitor] 1 new story: <script>")  # the built-in text template


def test_a_broken_user_template_fails_the_digest_with_the_reason(
    store: Store, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "digest.txt").write_text("{{ digest.nothing_here }}", encoding="utf-8")
    cfg = config(
        f'[[channels]]\nname = "inbox"\ntype = "file"\npath = "{tmp_path / "out"}"\n'
        f'templates = "{folder}"\n'
    )
    add_story(store, 1, 0.9, at(9), ("inbox",))

    [failed] = run(store, cfg, at(9))

    assert failed.status == "failed"
    assert failed.error is not None and "template:" in failed.error
    assert "nothing_here" in failed.error

"""The real daemon as a subprocess (`python -m monitor run`) against the local feed server and
webhook receiver: polling and delivery, signals, reload, the one-daemon lock, crash safety."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from apscheduler.triggers.interval import IntervalTrigger
from conftest import (
    REPO,
    FeedServer,
    Receiver,
    Reply,
    expected_stories,
    fixture_feed_names,
    monitor,
    webhook_channel,
    write_config,
)

from monitor import parsepool
from monitor.daemon import make_scheduler

FAST = '[daemon]\ntick = "1s"\n'  # look for due feeds every second, so tests need not wait


class Daemon:
    """`monitor run` in a subprocess, its log in a file the test can wait on."""

    def __init__(self, config: Path, *options: str, command: tuple[str, ...] = ("run",)) -> None:
        self.log_path = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "monitor", "--config", str(config), *options, *command],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_log(self, pattern: str, timeout: float = 30.0, count: int = 1) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.log()
            if len(re.findall(pattern, text)) >= count:
                return text
            if self.process.poll() is not None:
                raise AssertionError(f"daemon exited ({self.process.returncode}):\n{text}")
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} in the daemon's log after {timeout}s:\n{self.log()}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> tuple[int, float]:
        """Send ``signum``; return the exit status and how long the process took to exit."""
        started = time.monotonic()
        self.process.send_signal(signum)
        try:
            status = self.process.wait(timeout=timeout)
        finally:
            self.close()
        return status, time.monotonic() - started

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()


@pytest.fixture
def daemons() -> Iterator[list[Daemon]]:
    started: list[Daemon] = []
    yield started
    for daemon in started:
        daemon.close()


def start(daemons: list[Daemon], config: Path, *options: str) -> Daemon:
    daemon = Daemon(config, *options)
    daemons.append(daemon)
    return daemon


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def wait_ticks(db: Path, count: int, timeout: float = 30.0) -> None:
    """Wait until the daemon's poll job has run ``count`` more times."""
    seen: set[str] = set()
    deadline = time.monotonic() + timeout
    while len(seen) <= count:
        assert time.monotonic() < deadline, f"the poll job ran {len(seen)} times"
        rows = query(db, "select last_run from jobs where id = 'poll' and last_run is not null")
        seen.update(r[0] for r in rows)
        time.sleep(0.1)


def slow_feed(feed_server: FeedServer, delay: float) -> str:
    body = (feed_server.folder / "techwire.xml").read_bytes()
    feed_server.routes["/slow.xml"] = Reply(
        200, {"Content-Type": "application/rss+xml"}, body.replace(b"techwire", b"slowwire"), delay
    )
    return feed_server.feed_url("slow.xml")


def test_new_entry_in_a_feed_reaches_the_webhook(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, daemons: list[Daemon]
) -> None:
    config = write_config(
        tmp_path / "monitor.toml",
        [feed_server.feed_url("techwire.xml")],
        webhook_channel(receiver),
        extra=FAST,
        fetch='interval = "1s"',
    )
    daemon = start(daemons, config)
    receiver.wait_for(1, timeout=30)

    feed = feed_server.folder / "techwire.xml"
    item = (
        "<item><title>OpenAI signs deal with Foxconn to manufacture AI servers</title>"
        "<link>https://techwire.example/2026/openai-foxconn-servers</link>"
        "<guid>https://techwire.example/2026/openai-foxconn-servers</guid>"
        f"<pubDate>{datetime.now(UTC):%a, %d %b %Y %H:%M:%S} +0000</pubDate>"
        "<description>OpenAI signed an agreement with Foxconn to assemble AI servers."
        "</description></item>"
    )
    feed.write_text(
        feed.read_text(encoding="utf-8").replace("</channel>", item + "</channel>"),
        encoding="utf-8",
    )
    [_, second] = receiver.wait_for(2, timeout=30)

    assert [s["title"] for s in json.loads(second.body)["stories"]] == [
        "OpenAI signs deal with Foxconn to manufacture AI servers"
    ]
    status, _ = daemon.stop()
    assert status == 0


def test_sigterm_cancels_a_stuck_poll_and_exits_0_within_10s(
    tmp_path: Path, feed_server: FeedServer, daemons: list[Daemon]
) -> None:
    urls = [feed_server.feed_url("techwire.xml"), slow_feed(feed_server, delay=60)]
    config = write_config(tmp_path / "monitor.toml", urls, fetch='timeout = "120s"')
    daemon = start(daemons, config)
    feed_server.wait_for(2)
    daemon.wait_log(r"feed status=ok url=\S+techwire.xml")

    status, seconds = daemon.stop()

    assert status == 0, daemon.log()
    assert seconds < 10
    log = daemon.log()
    assert "cancelling the running poll" in log and "daemon stopped" in log
    db = tmp_path / "monitor.db"
    assert query(db, "pragma integrity_check") == [("ok",)]
    # The feed that was stored stays stored; the cancelled one was not marked failed and is
    # polled first thing after a restart.
    rows = dict(query(db, "select url, last_attempt from feeds"))
    assert rows[urls[0]] is not None and rows[urls[1]] is None
    assert query(db, "select count(*) from articles")[0][0] > 0


def test_sigterm_lets_a_poll_that_is_nearly_done_finish(
    tmp_path: Path, feed_server: FeedServer, daemons: list[Daemon]
) -> None:
    urls = [feed_server.feed_url("techwire.xml"), slow_feed(feed_server, delay=1.5)]
    config = write_config(tmp_path / "monitor.toml", urls)
    daemon = start(daemons, config)
    feed_server.wait_for(2)

    status, seconds = daemon.stop(signal.SIGINT)

    assert status == 0 and seconds < 10, daemon.log()
    assert "cancelling" not in daemon.log()
    rows = query(tmp_path / "monitor.db", "select url, last_success from feeds order by id")
    assert all(success is not None for _, success in rows), rows
    assert query(tmp_path / "monitor.db", "select count(*) from cycles")[0][0] == 1


def test_sighup_reloads_feeds_and_keeps_running_config_when_new_file_is_invalid(
    tmp_path: Path, feed_server: FeedServer, daemons: list[Daemon]
) -> None:
    first, second = feed_server.feed_url("techwire.xml"), feed_server.feed_url("wirepoint.xml")
    config = write_config(tmp_path / "monitor.toml", [first], extra=FAST)
    daemon = start(daemons, config)
    daemon.wait_log(r"cycle polled=1 ")
    assert feed_server.fetches("wirepoint.xml") == []

    write_config(config, [first, second], extra=FAST)
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_log(r"reloaded feeds=2")
    daemon.wait_log(r"feed status=ok url=\S+wirepoint.xml")
    assert len(feed_server.fetches("wirepoint.xml")) == 1

    good = config.read_text(encoding="utf-8")
    config.write_text(good.replace("[fetch]", "[fetch]\nintervall = 5"), encoding="utf-8")
    daemon.process.send_signal(signal.SIGHUP)
    log = daemon.wait_log(r"reload failed")
    assert "keeping the running configuration" in log and "fetch.intervall" in log

    # Still running on the old configuration: a feed removed from the file keeps its place
    # only in a configuration that loaded, so the next good reload drops it again.
    write_config(config, [second], extra=FAST)
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_log(r"reloaded feeds=1")
    # The next tick makes the feeds table follow the new file.
    deadline = time.monotonic() + 30
    disabled: list[tuple[Any, ...]] = []
    while not disabled and time.monotonic() < deadline:
        time.sleep(0.1)
        disabled = query(
            tmp_path / "monitor.db", "select url, disabled_reason from feeds where not enabled"
        )
    assert disabled == [(first, "removed from config")]
    status, _ = daemon.stop()
    assert status == 0


def test_one_daemon_per_database_and_status_sees_it(
    tmp_path: Path, feed_server: FeedServer, daemons: list[Daemon]
) -> None:
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])
    daemon = start(daemons, config)
    daemon.wait_log(r"cycle polled=1 ")

    for command in (("run",), ("run", "--once")):
        second = Daemon(config, command=command)
        daemons.append(second)
        assert second.process.wait(timeout=30) == 1
        message = second.log()
        assert "another monitor is already running on this database" in message
        assert f"pid {daemon.process.pid}" in message

    running = monitor("--config", str(config), "status", "--format", "json")
    report = json.loads(running.output)
    assert running.exit_code == 0, running.output
    assert report["daemon"] == {"running": True, "pid": daemon.process.pid}
    assert report["last_cycle"]["feeds_polled"] == 1
    assert {"poll", "housekeeping"} <= {job["id"] for job in report["jobs"]}

    assert daemon.stop()[0] == 0
    stopped = monitor("--config", str(config), "status")
    assert stopped.exit_code == 1
    assert "no monitor daemon is running" in stopped.output


def test_sigkill_and_restart_lose_nothing_and_send_nothing_twice(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, daemons: list[Daemon]
) -> None:
    urls = [feed_server.feed_url(n) for n in fixture_feed_names()]
    urls.append(slow_feed(feed_server, delay=3))
    config = write_config(tmp_path / "monitor.toml", urls, webhook_channel(receiver), extra=FAST)
    first = start(daemons, config)
    feed_server.wait_for(len(urls))
    first.wait_log(r"feed status=ok")
    first.stop(signal.SIGKILL)
    assert receiver.requests == []

    second = start(daemons, config)
    receiver.wait_for(1, timeout=30)
    wait_ticks(tmp_path / "monitor.db", 3)  # and nothing is sent again
    assert second.stop()[0] == 0

    assert len(receiver.requests) == 1
    stories = json.loads(receiver.requests[0].body)["stories"]
    got = {frozenset(a["title"] for a in s["articles"]) for s in stories}
    assert got == {frozenset(titles) for titles in expected_stories().values()}
    assert query(tmp_path / "monitor.db", "pragma integrity_check") == [("ok",)]


def test_cli_reads_and_writes_while_the_daemon_writes(
    tmp_path: Path, feed_server: FeedServer, daemons: list[Daemon]
) -> None:
    # Many feeds (copies of the fixtures under other names) keep the daemon writing.
    names = []
    for i in range(30):
        for name in fixture_feed_names():
            copy = f"copy{i}-{name}"
            (feed_server.folder / copy).write_bytes((feed_server.folder / name).read_bytes())
            names.append(copy)
    config = write_config(
        tmp_path / "monitor.toml", [feed_server.feed_url(n) for n in names], extra=FAST
    )
    daemon = start(daemons, config)
    daemon.wait_log(r"feed status=ok")
    commands = [
        ("feeds", "--format", "json"),
        ("search", "Luxshare"),
        ("stories",),
        ("status", "--format", "json"),
        ("feeds", "add", "--no-discover", feed_server.feed_url("extra.xml")),
        ("feeds", "remove", feed_server.feed_url("extra.xml")),
    ]
    runs = 0
    while "cycle polled=" not in daemon.log() or runs < len(commands):
        result = monitor("--config", str(config), *commands[runs % len(commands)])
        assert result.exit_code == 0, result.output
        assert "locked" not in result.output
        runs += 1
    assert daemon.stop()[0] == 0
    assert "locked" not in daemon.log()
    assert "internal error" not in daemon.log()


def test_after_a_suspend_missed_runs_happen_once() -> None:
    # A job due every 10 minutes whose next run was ten days ago, as after waking from a
    # suspend: over a thousand runs were missed. It runs once now (the default misfire grace of
    # one second would drop it; without coalescing it would run in a burst).
    scheduler = make_scheduler()
    runs: list[datetime] = []
    asleep = datetime.now(UTC) - timedelta(days=10, seconds=300)  # the last miss: 5 min ago
    scheduler.add_job(
        lambda: runs.append(datetime.now(UTC)),
        IntervalTrigger(seconds=600, start_date=asleep, timezone=UTC),
        next_run_time=asleep,
    )
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while not runs and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # give a burst, if there were one, time to show
    finally:
        scheduler.shutdown()
    assert len(runs) == 1


def test_parser_workers_leave_stop_signals_to_the_daemon() -> None:
    # Ctrl-C signals the whole process group: a parser worker that died of it would break the
    # pool and mark the feed it was parsing as failed.
    async def scenario() -> int:
        worker = await parsepool.run(os.getpid)
        os.kill(worker, signal.SIGINT)
        os.kill(worker, signal.SIGTERM)
        await parsepool.run(time.sleep, 0.2)  # the signals have landed by now
        return await parsepool.run(os.getpid)

    assert asyncio.run(scenario()) > 0


def test_sighup_adds_a_channel_that_then_gets_new_stories(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver, daemons: list[Daemon]
) -> None:
    urls = [feed_server.feed_url("techwire.xml")]
    config = write_config(tmp_path / "monitor.toml", urls, extra=FAST, fetch='interval = "1s"')
    daemon = start(daemons, config)
    daemon.wait_log(r"cycle polled=1 ")

    write_config(config, urls, webhook_channel(receiver), extra=FAST, fetch='interval = "1s"')
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_log(r"reloaded feeds=1 channels=1")
    feed = feed_server.folder / "techwire.xml"
    item = (
        "<item><title>OpenAI signs deal with Foxconn to manufacture AI servers</title>"
        "<link>https://techwire.example/2026/openai-foxconn-servers</link>"
        f"<pubDate>{datetime.now(UTC):%a, %d %b %Y %H:%M:%S} +0000</pubDate>"
        "<description>OpenAI signed an agreement with Foxconn to assemble AI servers."
        "</description></item>"
    )
    feed.write_text(
        feed.read_text(encoding="utf-8").replace("</channel>", item + "</channel>"),
        encoding="utf-8",
    )
    [request] = receiver.wait_for(1, timeout=30)

    assert [s["title"] for s in json.loads(request.body)["stories"]] == [
        "OpenAI signs deal with Foxconn to manufacture AI servers"
    ]
    assert daemon.stop()[0] == 0

"""Operations commands on a real database and the local feed server: status, feed management
(add with discovery, remove, OPML import/export), retention and the db commands, logging,
progress bars, XDG paths and the systemd unit."""

from __future__ import annotations

import configparser
import json
import os
import pty
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import (
    EXPECTED,
    REPO,
    FeedServer,
    Receiver,
    Reply,
    monitor,
    webhook_channel,
    write_config,
)

from monitor.cli import cli
from monitor.lock import DatabaseLock
from monitor.logs import message_fields
from monitor.opml import read_opml
from monitor.paths import default_db_path
from monitor.status import is_silent, usual_gap


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()


def invoke(*args: str) -> Any:
    """Run the CLI in-process and return the result whatever its exit status."""
    return CliRunner().invoke(cli, list(args))


# --- status


def test_status_reports_failing_feeds_and_is_healthy_without_daemon_when_told(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/broken.xml"] = Reply(500, {}, b"oops")
    urls = [feed_server.feed_url("techwire.xml"), feed_server.feed_url("broken.xml")]
    config = write_config(tmp_path / "monitor.toml", urls)
    monitor("--config", str(config), "run", "--once")

    result = invoke("--config", str(config), "status", "--no-daemon", "--format", "json")
    report = json.loads(result.output)

    assert result.exit_code == 0, result.output
    assert report["healthy"] is True
    assert "1 of 2 feeds failing" in report["warnings"]
    assert [f["url"] for f in report["failing_feeds"]] == [urls[1]]
    assert report["failing_feeds"][0]["last_error"] == "HTTP 500 Internal Server Error"
    assert report["last_cycle"]["origin"] == "once"
    assert report["last_cycle"]["feeds_polled"] == 2
    assert report["last_cycle"]["failed"] == 1
    # Without --no-daemon, a stopped daemon is unhealthy: exit 1, the reason first.
    text = invoke("--config", str(config), "status")
    assert text.exit_code == 1
    assert text.output.splitlines()[:2] == [
        f"monitor UNHEALTHY: {tmp_path / 'monitor.db'}",
        f"  problem: no monitor daemon is running on {tmp_path / 'monitor.db'}",
    ]
    assert "failing: " in text.output and "HTTP 500" in text.output


def test_status_is_unhealthy_when_every_feed_fails_or_a_delivery_failed(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    receiver.statuses = [400]  # a permanent refusal
    config = write_config(
        tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")], webhook_channel(receiver)
    )
    monitor("--config", str(config), "run", "--once")
    feed_server.routes["/techwire.xml"] = Reply(503, {}, b"down")
    monitor("--config", str(config), "run", "--once")

    result = invoke("--config", str(config), "status", "--no-daemon", "--format", "json")
    report = json.loads(result.output)

    assert result.exit_code == 1
    assert report["problems"] == [
        "every enabled feed is failing (1)",
        f"channel team: {report['deliveries']['team']['failed']} deliveries failed for good",
    ]
    assert report["deliveries"]["team"]["failed"] >= 1


def test_a_feed_is_silent_after_four_of_its_usual_gaps() -> None:
    now = datetime(2026, 1, 31, tzinfo=UTC)
    daily = [now - timedelta(days=10 + i) for i in range(10)]  # last entry 10 days ago
    assert usual_gap(daily) == timedelta(days=1)
    assert is_silent(daily, now) == timedelta(days=1)
    assert is_silent(daily, daily[0] + timedelta(days=3)) is None  # 3 gaps: not yet
    hourly = [now - timedelta(hours=i) for i in range(1, 11)]
    assert is_silent(hourly, now + timedelta(hours=5)) is None  # under a day is never silent
    assert is_silent(hourly, now + timedelta(hours=30)) == timedelta(hours=1)
    assert usual_gap(daily[:4]) is None  # too few entries to know a rhythm


def test_status_lists_a_silent_feed(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])
    monitor("--config", str(config), "run", "--once")
    db = tmp_path / "monitor.db"
    # Give the feed a daily rhythm that stopped a month ago.
    ids = [r[0] for r in query(db, "select id from articles order by id")]
    with sqlite3.connect(db) as conn:
        for i, article_id in enumerate(ids):
            day = datetime.now(UTC) - timedelta(days=30 + i)
            conn.execute(
                "update articles set published = ? where id = ?",
                [day.strftime("%Y-%m-%dT%H:%M:%SZ"), article_id],
            )
    assert len(ids) >= 5

    report = json.loads(
        invoke("--config", str(config), "status", "--no-daemon", "--format", "json").output
    )

    [silent] = report["silent_feeds"]
    assert silent["url"] == feed_server.feed_url("techwire.xml")
    assert silent["usual_gap_hours"] == 24.0
    assert "1 feeds gone silent" in report["warnings"]


# --- feed management


def test_feeds_add_discovers_the_feed_of_a_web_page_and_the_daemon_polls_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    (feed_server.folder / "blog.html").write_text(
        "<!doctype html><html><head><title>Blog</title>"
        '<link rel="stylesheet" href="/style.css">'
        '<link rel="alternate" type="application/rss+xml" title="RSS" href="/techwire.xml">'
        "</head><body>hello</body></html>",
        encoding="utf-8",
    )
    feed_server.routes["/blog.html"] = Reply(
        200,
        {"Content-Type": "text/html; charset=utf-8"},
        (feed_server.folder / "blog.html").read_bytes(),
    )
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("gadget-ledger.xml")])

    added = invoke(
        "--config",
        str(config),
        "feeds",
        "add",
        feed_server.feed_url("blog.html"),
        "--interval",
        "30m",
    )

    assert added.exit_code == 0, added.output
    feed, page = feed_server.feed_url("techwire.xml"), feed_server.feed_url("blog.html")
    assert added.output.startswith(f"added: {feed} (found on {page})")
    monitor("--config", str(config), "run", "--once")
    rows = json.loads(monitor("--config", str(config), "feeds", "--format", "json").output)
    by_url = {r["url"]: r for r in rows}
    cli_feed = by_url[feed_server.feed_url("techwire.xml")]
    assert (cli_feed["origin"], cli_feed["interval"]) == ("cli", 1800)
    assert cli_feed["article_count"] == len([i for i in EXPECTED if i["feed"] == "techwire.xml"])
    assert by_url[feed_server.feed_url("gadget-ledger.xml")]["origin"] == "config"


def test_feeds_add_refuses_a_page_without_a_feed_and_a_url_the_config_owns(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/plain.html"] = Reply(
        200, {"Content-Type": "text/html"}, b"<html><head></head><body>no feed</body></html>"
    )
    owned = feed_server.feed_url("techwire.xml")
    config = write_config(tmp_path / "monitor.toml", [owned])

    page = invoke("--config", str(config), "feeds", "add", feed_server.feed_url("plain.html"))
    mine = invoke("--config", str(config), "feeds", "add", owned)
    gone = invoke("--config", str(config), "feeds", "add", feed_server.feed_url("missing.xml"))

    assert page.exit_code == 1
    assert "not a feed" in page.output and 'no <link rel="alternate"' in page.output
    assert mine.exit_code == 1
    assert f"{owned}: is in the config file {config}; change it there" in mine.output
    assert gone.exit_code == 1 and "HTTP 404" in gone.output


def test_feeds_remove_disables_a_command_feed_and_adding_it_again_restores_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    owned, added = feed_server.feed_url("techwire.xml"), feed_server.feed_url("wirepoint.xml")
    config = write_config(tmp_path / "monitor.toml", [owned])
    monitor("--config", str(config), "feeds", "add", added)
    monitor("--config", str(config), "run", "--once")
    db = tmp_path / "monitor.db"
    stored = query(db, "select count(*) from sightings")[0][0]

    removed = invoke("--config", str(config), "feeds", "remove", added)
    refused = invoke("--config", str(config), "feeds", "remove", owned)
    before = len(feed_server.fetches("wirepoint.xml"))
    monitor("--config", str(config), "run", "--once")

    assert removed.output == f"removed: {added}\n"
    assert refused.exit_code == 1 and "remove it there" in refused.output
    assert len(feed_server.fetches("wirepoint.xml")) == before  # no longer polled
    assert query(db, "select count(*) from sightings")[0][0] == stored  # history kept
    again = invoke("--config", str(config), "feeds", "add", added)
    assert again.output.startswith(f"re-added: {added}")
    assert query(db, "select enabled from feeds where url = ?", added) == [(1,)]


def test_a_feed_added_by_command_that_appears_in_the_config_belongs_to_the_config(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    url = feed_server.feed_url("techwire.xml")
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("wirepoint.xml")])
    monitor("--config", str(config), "feeds", "add", url, "--name", "By hand")
    write_config(config, [feed_server.feed_url("wirepoint.xml"), url])
    monitor("--config", str(config), "run", "--once")

    assert query(tmp_path / "monitor.db", "select origin, name from feeds where url = ?", url) == [
        ("config", None)
    ]


OPML = """<?xml version="1.0"?>
<opml version="2.0"><head><title>Exported</title></head><body>
  <outline text="Tech"><outline text="TechWire" type="rss" xmlUrl="{tw}"/>
    <outline text="Wirepoint" title="Wire Point" xmlUrl="{wp}"/></outline>
  <outline text="In config" xmlUrl="{owned}"/>
  <outline text="Not http" xmlUrl="ftp://example.com/feed"/>
  <outline text="A folder without feeds"/>
</body></opml>"""


def test_opml_import_then_export_round_trips(tmp_path: Path, feed_server: FeedServer) -> None:
    tw, wp = feed_server.feed_url("techwire.xml"), feed_server.feed_url("wirepoint.xml")
    owned = feed_server.feed_url("gadget-ledger.xml")
    config = write_config(tmp_path / "monitor.toml", [owned])
    opml = tmp_path / "subs.opml"
    opml.write_text(OPML.format(tw=tw, wp=wp, owned=owned), encoding="utf-8")

    imported = invoke("--config", str(config), "feeds", "import", str(opml))
    again = invoke("--config", str(config), "feeds", "import", str(opml))
    monitor("--config", str(config), "run", "--once")
    exported = invoke("--config", str(config), "feeds", "export")

    assert imported.output == f"4 feeds in {opml}: 2 added, 1 in config, 1 invalid\n"
    assert again.output == f"4 feeds in {opml}: 2 already there, 1 in config, 1 invalid\n"
    names = {o.url: o.title for o in read_opml(exported.output.encode())}
    assert names[tw] == "TechWire" and names[wp] == "Wire Point"
    assert set(names) == {tw, wp, owned}


def test_opml_import_of_a_file_that_is_not_opml_is_a_clear_error(tmp_path: Path) -> None:
    config = write_config(tmp_path / "monitor.toml", [])
    bad = tmp_path / "feeds.opml"
    bad.write_text("<rss><channel/></rss>", encoding="utf-8")

    result = invoke("--config", str(config), "feeds", "import", str(bad))

    assert result.exit_code == 1
    assert f"{bad}: not OPML: the root element is <rss>, not <opml>" in result.output


def test_feeds_without_subcommand_still_lists(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])
    monitor("--config", str(config), "run", "--once")
    listing = monitor("--config", str(config), "feeds", "--format", "csv").output
    assert listing.splitlines()[0].startswith("id,")
    assert feed_server.feed_url("techwire.xml") in listing or "TechWire" in listing


# --- retention and db commands


def test_prune_empties_old_unmatched_text_and_keeps_stories_and_alerts(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(
        tmp_path / "monitor.toml",
        [feed_server.feed_url("techwire.xml")],
        extra="",
    )
    monitor("--config", str(config), "run", "--once")
    db = tmp_path / "monitor.db"
    old = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with sqlite3.connect(db) as conn:
        conn.execute("update articles set first_seen = ?", [old])
    columns = "id, title, summary, content, story_id, alert_worthy"
    before = query(db, f"select {columns} from articles")
    stories = query(db, "select * from stories")
    # Unmatched: neither the article nor any article of its story is alert-worthy.
    unmatched = query(
        db,
        f"select {columns} from articles where story_id not in "
        "(select story_id from articles where alert_worthy and story_id is not null)",
    )
    assert unmatched and len(unmatched) < len(before)
    word = next(w for w in unmatched[0][2].split() if len(w) > 6 and w.isalpha())

    result = monitor("--config", str(config), "db", "prune", "--keep-days", "90")

    assert result.output == f"pruned the text of {len(unmatched)} articles older than 90 days\n"
    after = {r[0]: r for r in query(db, f"select {columns} from articles")}
    for row in before:
        if row in unmatched:
            assert after[row[0]][1:4] == (row[1], "", "")
        else:
            assert after[row[0]] == row
    assert query(db, "select * from stories") == stories
    # The search index follows: the pruned text is no longer found, the title still is.
    found = json.loads(monitor("--db", str(db), "search", word, "--format", "json").output)
    assert unmatched[0][0] not in [r["id"] for r in found]
    title_hits = json.loads(
        monitor("--db", str(db), "search", unmatched[0][1], "--format", "json").output
    )
    assert unmatched[0][0] in [r["id"] for r in title_hits]
    # A second run of the same polls nothing back in as new.
    monitor("--config", str(config), "run", "--once")
    assert query(db, "select count(*) from articles")[0][0] == len(before)


def test_keep_days_is_read_from_the_config(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])
    config.write_text(
        config.read_text(encoding="utf-8").replace("[storage]", "[storage]\nkeep_days = 30"),
        encoding="utf-8",
    )
    monitor("--config", str(config), "run", "--once")
    assert monitor("--config", str(config), "db", "prune").output.startswith(
        "pruned the text of 0 "
    )
    no_setting = write_config(tmp_path / "other.toml", [])
    refused = invoke("--config", str(no_setting), "db", "prune")
    assert refused.exit_code == 2 and "keep_days" in refused.output


def test_vacuum_refuses_while_a_daemon_holds_the_database_and_backup_copies_it(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])
    monitor("--config", str(config), "run", "--once")
    db = tmp_path / "monitor.db"

    with DatabaseLock(db):
        refused = invoke("--config", str(config), "db", "vacuum")
        backed_up = invoke("--config", str(config), "db", "backup", str(tmp_path / "b" / "copy.db"))
    vacuumed = invoke("--config", str(config), "db", "vacuum")

    assert refused.exit_code == 1
    assert "another monitor is already running on this database" in refused.output
    assert backed_up.exit_code == 0, backed_up.output
    copy = tmp_path / "b" / "copy.db"
    assert query(copy, "select count(*) from articles") == query(
        db, "select count(*) from articles"
    )
    assert query(copy, "pragma integrity_check") == [("ok",)]
    assert vacuumed.exit_code == 0 and " MB -> " in vacuumed.output
    again = invoke("--config", str(config), "db", "backup", str(copy))
    assert again.exit_code == 1 and "exists" in again.output


# --- logging, progress, paths, deployment


def test_message_fields_split_our_log_events() -> None:
    assert message_fields("cycle polled=3 not_modified=1 failed=0") == {
        "event": "cycle",
        "polled": 3,
        "not_modified": 1,
        "failed": 0,
    }
    assert message_fields("feed status=error url=http://x/y error='timed out after 3s'") == {
        "event": "feed",
        "status": "error",
        "url": "http://x/y",
        "error": "timed out after 3s",
    }
    assert message_fields("reload failed, keeping the running configuration error='a: b'") == {
        "error": "a: b"
    }


def _run(*args: str, **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    options: dict[str, Any] = {
        "env": {**os.environ, "PYTHONPATH": str(REPO)},
        "stdout": subprocess.PIPE,
        "stderr": subprocess.PIPE,
        **kwargs,
    }
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args], timeout=120, check=False, **options
    )


def test_json_logs_are_one_object_per_line_with_the_cycle_summary(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])

    result = _run("--log-format", "json", "--config", str(config), "run", "--once")

    lines = result.stderr.decode().splitlines()
    records = [json.loads(line) for line in lines[:-1]]  # the last line is run's own summary
    assert result.returncode == 0
    [cycle] = [r for r in records if r.get("event") == "cycle"]
    assert cycle["level"] == "info" and cycle["logger"] == "monitor.pipeline"
    assert cycle["polled"] == 1 and cycle["new_articles"] > 0
    assert {"time", "message"} <= set(cycle)


def test_quiet_keeps_info_lines_out(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])
    loud = _run("-v", "--config", str(config), "run", "--once").stderr.decode()
    quiet = _run("-q", "--config", str(config), "run", "--once").stderr.decode()
    assert " INFO monitor.pipeline cycle polled=1 " in loud and " DEBUG " in loud
    assert " INFO " not in quiet


def test_opml_import_shows_progress_on_a_terminal_and_not_when_piped(tmp_path: Path) -> None:
    config = write_config(tmp_path / "monitor.toml", [])
    opml = tmp_path / "many.opml"
    outlines = "".join(
        f'<outline text="Feed {i}" xmlUrl="https://feeds.example/{i}.xml"/>' for i in range(300)
    )
    opml.write_text(f"<opml version='2.0'><body>{outlines}</body></opml>", encoding="utf-8")
    args = ["--config", str(config), "feeds", "import", str(opml)]

    piped = _run(*args)
    on_terminal, drawn = _run_on_terminal(*args)

    assert piped.returncode == 0 and piped.stderr == b""
    assert on_terminal.returncode == 0
    assert b"Importing many.opml" in drawn and b"100%" in drawn


def test_reclassify_shows_progress_on_a_terminal_and_not_when_piped(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])
    assert _run("--config", str(config), "run", "--once").returncode == 0
    args = ["--config", str(config), "reclassify", "--dry-run"]

    piped = _run(*args)
    on_terminal, drawn = _run_on_terminal(*args)

    assert piped.returncode == 0 and piped.stderr == b""
    assert b"re-read" in piped.stdout and b"Reclassifying" not in piped.stdout
    assert on_terminal.returncode == 0
    assert b"Reclassifying" in drawn and b"100%" in drawn


def _run_on_terminal(*args: str) -> tuple[subprocess.CompletedProcess[bytes], bytes]:
    """Run with standard error on a pseudo-terminal: the result, and what was drawn there."""
    primary, replica = pty.openpty()
    try:
        result = _run(*args, stderr=replica, stdout=subprocess.PIPE)
        os.close(replica)
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
    return result, drawn


def test_database_defaults_to_the_xdg_data_dir(tmp_path: Path) -> None:
    assert default_db_path({"XDG_DATA_HOME": "/srv/data"}) == "/srv/data/monitor/monitor.db"
    assert default_db_path({"XDG_DATA_HOME": "relative/ignored"}) == str(
        Path.home() / ".local/share/monitor/monitor.db"
    )
    config = tmp_path / "monitor.toml"
    config.write_text('[watch.entities]\nOpenAI = ["OpenAI"]\n', encoding="utf-8")
    result = _run(
        "--config",
        str(config),
        "run",
        "--once",
        env={**os.environ, "PYTHONPATH": str(REPO), "XDG_DATA_HOME": str(tmp_path / "xdg")},
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "xdg" / "monitor" / "monitor.db").is_file()


def test_systemd_unit_runs_a_valid_command_and_stops_in_time() -> None:
    unit = configparser.ConfigParser(interpolation=None, strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(REPO / "config" / "monitor.service", encoding="utf-8")
    service = unit["Service"]
    program, *args = service["ExecStart"].split()
    assert Path(program).name == "monitor"
    # The arguments are ones our CLI accepts, ending in the daemon command.
    assert args[-1] == "run"
    shown = CliRunner().invoke(cli, [*args, "--help"])
    assert shown.exit_code == 0 and "Run the daemon" in shown.output
    assert service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert int(service["TimeoutStopSec"]) > 10  # we stop within 10 s
    assert service["StateDirectory"] == "monitor"
    assert args[args.index("--db") + 1].startswith("/var/lib/monitor/")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


@pytest.mark.parametrize("command", ["status", "feeds", "db"])
def test_ops_commands_are_documented(command: str) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    group = cli.commands[command]
    names = getattr(group, "commands", {})
    for name in names:
        assert f"monitor {command} {name}" in readme, name


def test_a_channel_can_opt_in_to_a_source_health_section(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    feed_server.routes["/broken.xml"] = Reply(500, {}, b"oops")
    broken = feed_server.feed_url("broken.xml")
    channels = "".join(
        f'\n[[channels]]\nname = "{name}"\ntype = "file"\npath = "{tmp_path / name}"\n{extra}'
        for name, extra in (("ops", "source_health = true\n"), ("news", ""))
    )
    config = write_config(
        tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml"), broken], channels
    )

    monitor("--config", str(config), "run", "--once")

    [ops] = (tmp_path / "ops").glob("*.json")
    [news] = (tmp_path / "news").glob("*.json")
    line = f"{broken}: failing (1x): HTTP 500 Internal Server Error"
    assert json.loads(ops.read_text(encoding="utf-8"))["source_health"][0] == line
    assert json.loads(news.read_text(encoding="utf-8"))["source_health"] == []
    text = ops.with_suffix(".txt").read_text(encoding="utf-8")
    assert f"Source health:\n - {line}" in text
    assert "Source health" in ops.with_suffix(".html").read_text(encoding="utf-8")
    assert "Source health" not in news.with_suffix(".txt").read_text(encoding="utf-8")


def test_feed_health_says_how_long_and_how_often_a_feed_has_failed() -> None:
    from monitor.queries import feed_health

    now = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    row = {
        "disabled": 0,
        "disabled_reason": None,
        "consecutive_failures": 1,
        "last_success": "2026-03-02T09:30:00Z",
        "created": "2026-02-01T00:00:00Z",
        "moved_to": None,
    }
    assert feed_health(row, now) == "failing for 2h 30m (1 attempt)"
    assert feed_health({**row, "consecutive_failures": 7}, now) == "failing for 2h 30m (7 attempts)"

"""The command line as users and other tools see it: the demo, listings and their JSON contract."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import (
    REPO,
    FeedServer,
    Receiver,
    expected_stories,
    fixture_feed_names,
    monitor,
    negative_titles,
    webhook_channel,
    write_config,
)

from monitor.cli import cli


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("demo")
    result = monitor("demo", "--out", str(out))
    assert result.exit_code == 0, result.output
    return out, result.output


def test_demo_prints_each_partnership_story_and_no_negative(demo_dir: tuple[Path, str]) -> None:
    out, output = demo_dir
    for titles in expected_stories().values():
        assert all(t in output for t in titles)
    assert not [t for t in negative_titles() if t in output]
    suffixes = sorted(p.suffix for p in (out / "digests").iterdir())
    assert suffixes == [".eml", ".html", ".json", ".txt"]
    assert (out / "monitor.db").is_file()


def test_readme_shows_lines_the_demo_really_prints(demo_dir: tuple[Path, str]) -> None:
    _, output = demo_dir
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    excerpt = readme.split("```text\n", 1)[1].split("```", 1)[0]
    assert [line for line in excerpt.splitlines() if line not in output.splitlines()] == []


def test_demo_runs_again_from_scratch(demo_dir: tuple[Path, str], tmp_path: Path) -> None:
    _, first = demo_dir
    again = monitor("demo", "--out", str(tmp_path))
    digest_lines = [line for line in first.splitlines() if line[:3].strip(". ").isdigit()]
    assert digest_lines and all(line in again.output for line in digest_lines)


def test_search_json_has_the_documented_fields(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    result = monitor(
        "--db", str(out / "monitor.db"), "search", "Luxshare device", "--format", "json"
    )
    rows = json.loads(result.output)
    assert rows
    for row in rows:
        assert set(row) >= {"id", "title", "url", "published", "feed", "story_id"}
    assert any(r["story_id"] is not None for r in rows)
    assert all("luxshare" in (r["title"] + r["snippet"]).lower() for r in rows)


def test_search_within_a_story_and_punctuation_in_queries(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    db = str(out / "monitor.db")
    stories = json.loads(monitor("--db", db, "stories", "--format", "json").output)
    device = max(stories, key=lambda s: s["article_count"])
    rows = json.loads(
        monitor(
            "--db", db, "search", "OpenAI", "--story", str(device["id"]), "--format", "json"
        ).output
    )
    assert rows and {r["story_id"] for r in rows} == {device["id"]}
    odd = monitor("--db", db, "search", 'AT&T "quoted" (x OR y)', "--format", "json")
    assert odd.exit_code == 0 and json.loads(odd.output) == []


def test_stories_json_has_the_documented_fields(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    rows = json.loads(
        monitor("--db", str(out / "monitor.db"), "stories", "--format", "json").output
    )
    assert len(rows) == len(expected_stories())
    for row in rows:
        assert set(row) >= {"id", "title", "article_count", "first_seen", "alerted"}
        assert row["alerted"] is True
    assert sorted(r["article_count"] for r in rows) == sorted(
        len(t) for t in expected_stories().values()
    )


def test_feeds_json_has_the_documented_fields(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    rows = json.loads(monitor("--db", str(out / "monitor.db"), "feeds", "--format", "json").output)
    assert len(rows) == len(fixture_feed_names())
    for row in rows:
        assert set(row) >= {
            "url",
            "name",
            "last_status_code",
            "last_error",
            "consecutive_failures",
            "next_due",
            "disabled",
            "article_count",
        }
        assert row["last_status_code"] == 200 and row["disabled"] is False
    # The syndicated copy counts for both feeds that carried it.
    by_name = {r["name"]: r["article_count"] for r in rows}
    assert by_name["Wirepoint"] == 5 and by_name["TechWire"] == 5


def test_listings_in_csv_ndjson_and_table(demo_dir: tuple[Path, str]) -> None:
    out, _ = demo_dir
    db = str(out / "monitor.db")
    as_json = json.loads(monitor("--db", db, "feeds", "--format", "json").output)
    as_csv = list(
        csv.DictReader(io.StringIO(monitor("--db", db, "feeds", "--format", "csv").output))
    )
    assert [r["url"] for r in as_csv] == [r["url"] for r in as_json]
    ndjson = monitor("--db", db, "stories", "--format", "ndjson").output.splitlines()
    assert [json.loads(line)["id"] for line in ndjson] == [
        r["id"] for r in json.loads(monitor("--db", db, "stories", "--format", "json").output)
    ]
    table = monitor("--db", db, "feeds").output
    assert "TechWire" in table and "article_count" in table


def test_digest_preview_shows_pending_stories_without_sending(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    folder = tmp_path / "digests"
    config = write_config(
        tmp_path / "monitor.toml",
        [feed_server.feed_url("techwire.xml")],
        f"""
[[channels]]
name = "morning"
type = "file"
path = "{folder}"
schedule = "0 8 * * *"
timezone = "Europe/Berlin"
""",
    )
    monitor("--config", str(config), "run", "--once")
    assert not folder.exists()  # a morning digest is not due right after the stories arrived

    preview = monitor("--config", str(config), "digest", "--preview", "--as", "json")

    payload = json.loads(preview.output)
    assert payload["digest_id"] == "preview"
    assert len(payload["stories"]) == len(expected_stories(("techwire.xml",)))
    assert not folder.exists()


def test_db_option_overrides_the_configured_path(tmp_path: Path, feed_server: FeedServer) -> None:
    config = write_config(tmp_path / "monitor.toml", [feed_server.feed_url("techwire.xml")])
    other = tmp_path / "other.db"
    monitor("--config", str(config), "--db", str(other), "run", "--once")
    assert other.is_file() and not (tmp_path / "monitor.db").exists()


def test_every_command_help_ends_with_an_example() -> None:
    for name, command in cli.commands.items():
        assert "Example: monitor" in (command.help or ""), name


def test_daemon_polls_delivers_and_stops_cleanly_on_sigterm(
    tmp_path: Path, feed_server: FeedServer, receiver: Receiver
) -> None:
    config = write_config(
        tmp_path / "monitor.toml",
        [feed_server.feed_url("techwire.xml")],
        webhook_channel(receiver),
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--config", str(config), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        [request] = receiver.wait_for(1, timeout=30)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr.decode()
    assert len(json.loads(request.body)["stories"]) == len(expected_stories(("techwire.xml",)))
    assert b"daemon stopped" in stderr


def test_listing_a_missing_database_is_an_error_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    for command in (["stories"], ["feeds"], ["search", "OpenAI"]):
        result = CliRunner().invoke(cli, ["--db", str(missing), *command])
        assert result.exit_code == 1
        assert f"no database at {missing}" in result.output
    assert not missing.exists()


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "notes.db"
    bad.write_text("these are my notes, not a database\n", encoding="utf-8")

    result = CliRunner().invoke(cli, ["--db", str(bad), "stories"])

    assert result.exit_code == 1
    assert f"{bad}: cannot open database: file is not a database" in result.output
    assert bad.read_text(encoding="utf-8") == "these are my notes, not a database\n"

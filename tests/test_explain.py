"""`monitor explain` shows score and evidence for a headline or a stored article;
`monitor reclassify` reports what a rule change would change, stores new verdicts only without
--dry-run, and queues alerts for old articles only with --alert. Real SQLite file, real CLI."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.config import load_config
from monitor.normalise import normalise
from monitor.pipeline import Context, ingest
from monitor.records import Entry
from monitor.store import Store

NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
CONFIG = """
[storage]
path = "{db}"

[[feeds]]
url = "https://techwire.example/feed.xml"

[watch.entities]
OpenAI = ["OpenAI"]
Luxshare = ["Luxshare", "Luxshare Precision", "立讯精密"]

[[channels]]
name = "inbox"
type = "file"
path = "{out}"
"""
ARTICLES = [
    ("OpenAI taps Luxshare to assemble its first device", "The deal was signed on Friday."),
    ("Luxshare to build new device plant in Vietnam", ""),
    ("OpenAI releases a new model", "GPT-5.5 reasons faster."),
]


def _config(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / f"monitor{len(extra)}.toml"
    text = CONFIG.format(db=tmp_path / "monitor.db", out=tmp_path / "out") + extra
    path.write_text(text, "utf-8")
    return path


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A database holding ARTICLES, matched under the default threshold."""
    config = load_config(_config(tmp_path))
    store = Store.open(config.storage_path)
    try:
        ctx = Context.build(config, store)
        store.sync_feeds(config.feeds, NOW)
        feed = store.due_feeds(NOW, force=True)[0]
        with store.transaction():
            for i, (title, summary) in enumerate(ARTICLES):
                entry = Entry(f"g{i}", title, f"https://t.example/{i}", summary, None, NOW, ())
                ingest(ctx, feed, normalise(entry, feed.url), NOW)
    finally:
        store.close()
    return tmp_path


def _run(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), *args])
    return result.exit_code, result.output


def _rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "monitor.db") as db:
        return db.execute(sql).fetchall()


def test_explain_a_headline(tmp_path: Path) -> None:
    code, out = _run(
        _config(tmp_path),
        "explain",
        "--title",
        "OpenAI taps Luxshare to assemble its first device",
        "--summary",
        "People familiar with the deal said so.",
    )
    assert code == 0, out
    assert out.splitlines()[:8] == [
        "ALERT: hardware_partnership score 0.85",
        "  title: OpenAI taps Luxshare to assemble its first device",
        "  parties: OpenAI (watched), Luxshare (watched)",
        "  object: assembly; stage: announced",
        "  partnership cues: taps, to assemble",
        "  hardware cues: assemble, device",
        "  evidence:",
        "    - (title) OpenAI taps Luxshare to assemble its first device",
    ]
    assert (
        "    - default: a watched entity is a party; hardware_partnership >= 0.50 -> inbox: yes"
        in out
    )


def test_explain_a_hard_negative_says_which_rule_failed(tmp_path: Path) -> None:
    code, out = _run(
        _config(tmp_path), "explain", "--title", "Luxshare shares rise after strong quarter"
    )
    assert code == 0
    assert out.startswith("no alert: hardware_partnership score 0.00\n")
    assert "-> inbox: no, no hardware_partnership event" in out


def test_explain_a_stored_article_as_json(archive: Path) -> None:
    code, out = _run(_config(archive), "explain", "1", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert (data["alert_worthy"], data["event"]["object"], data["channels"]) == (
        True,
        "assembly",
        ["inbox"],
    )
    assert [p["name"] for p in data["event"]["parties"]] == ["OpenAI", "Luxshare"]


def test_explain_needs_an_id_or_a_title(archive: Path) -> None:
    assert _run(_config(archive), "explain")[0] == 2
    code, out = _run(_config(archive), "explain", "99")
    assert code == 1 and "no article with id 99" in out


def test_reclassify_dry_run_reports_and_writes_nothing(archive: Path) -> None:
    before = _rows(archive, "select id, alert_worthy, score, rules from articles order by id")
    code, out = _run(_config(archive, "[detect]\nthreshold = 0.3\n"), "reclassify", "--dry-run")
    assert code == 0, out
    assert out.splitlines() == [
        "#2 now alert-worthy (score 0.46 -> 0.46; rules: default; story 2): "
        "Luxshare to build new device plant in Vietnam",
        "re-read 3 articles: 1 now alert-worthy",
        "dry run: nothing was written",
    ]
    assert (
        _rows(archive, "select id, alert_worthy, score, rules from articles order by id") == before
    )


def test_reclassify_stores_verdicts_but_alerts_only_when_asked(archive: Path) -> None:
    looser = _config(archive, "[detect]\nthreshold = 0.3\n")
    queued_before = _rows(archive, "select count(*) from deliveries")[0][0]
    code, out = _run(looser, "reclassify", "--since", "3650d")
    assert code == 0, out
    assert "newly alert-worthy articles were not alerted" in out
    assert _rows(
        archive,
        "select a.alert_worthy, s.alert_worthy from articles a join stories s "
        "on s.id = a.story_id where a.id = 2",
    ) == [(1, 0)]
    assert _rows(archive, "select count(*) from deliveries")[0][0] == queued_before

    code, out = _run(looser, "reclassify", "--alert")
    assert code == 0, out
    assert out.splitlines()[-1] == "re-read 3 articles: 1 alerted now"
    story = _rows(archive, "select story_id from articles where id = 2")[0][0]
    assert _rows(archive, f"select alert_worthy from stories where id = {story}") == [(1,)]
    assert _rows(archive, f"select channel, status from deliveries where story_id = {story}") == [
        ("inbox", "pending")
    ]


def test_reclassify_reports_articles_a_stricter_rule_drops(archive: Path) -> None:
    code, out = _run(_config(archive, "[detect]\nthreshold = 0.9\n"), "reclassify")
    assert code == 0, out
    assert out.splitlines()[0].startswith(
        "#1 no longer alert-worthy (score 0.85 -> 0.85; rules: none"
    )

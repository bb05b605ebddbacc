"""Reading the archive back: `monitor show`, the Atom export (by command and after each run)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner
from conftest import REPO, FeedServer, expected_stories, monitor, write_config

from monitor import atom
from monitor.cli import cli
from monitor.store import Store


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    assert monitor("demo", "--out", str(out)).exit_code == 0
    return out / "monitor.db"


def json_out(archive: Path, *args: str) -> Any:
    result = monitor("--db", str(archive), *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


# --- show


def test_show_story_lists_every_outlet_with_entities_score_and_why(archive: Path) -> None:
    listed = json_out(archive, "stories", "--format", "json")
    biggest = max(listed, key=lambda s: s["article_count"])
    shown = json_out(archive, "show", str(biggest["id"]), "--format", "json")
    assert shown["title"] == biggest["title"] and shown["entities"] == biggest["entities"]
    assert shown["score"] == biggest["score"] and shown["why"] == biggest["why"]
    titles = {a["title"] for a in shown["articles"]}
    assert any(titles == story for story in expected_stories().values())
    assert (
        shown["outlet_count"]
        == len(shown["outlets"])
        == len({a["feed"] for a in shown["articles"]})
    )
    published = [a["published"] for a in shown["articles"]]
    assert published == sorted(published)  # earliest first: who broke it comes first
    assert shown["deliveries"] and shown["deliveries"][0]["status"] == "sent"
    assert json_out(archive, "show", f"story:{biggest['id']}", "--format", "json") == shown


def test_show_article_gives_its_match_story_and_feeds(archive: Path) -> None:
    [hit] = json_out(archive, "search", '"立讯精密获OpenAI订单"', "--format", "json")
    shown = json_out(archive, "show", f"article:{hit['id']}", "--format", "json")
    assert shown["title"] == hit["title"] and shown["alert_worthy"] is True
    assert {"Luxshare", "OpenAI"} <= set(shown["entities"])
    assert shown["why"] and shown["score"] == hit["score"]
    assert shown["story_id"] == hit["story_id"] and shown["story_title"]
    assert [s["feed"] for s in shown["seen_in"]] == ["中国电子观察"]
    text = monitor("--db", str(archive), "show", f"article:{hit['id']}").output
    assert "why:\n  - " in text and "story_title:" in text


@pytest.mark.parametrize(
    ("ident", "message"),
    [
        ("article:99999", "no article with ID 99999"),
        ("99999", "no story with ID 99999"),
        ("feed:1", "'feed:1' is not a story ID"),
    ],
)
def test_show_refuses_what_does_not_exist(archive: Path, ident: str, message: str) -> None:
    result = CliRunner().invoke(cli, ["--db", str(archive), "show", ident])
    assert result.exit_code != 0 and message in result.output


# --- Atom


def test_atom_export_round_trips_through_feedparser(archive: Path) -> None:
    stories = json_out(archive, "stories", "--alerted", "--format", "json")
    xml = monitor("--db", str(archive), "export", "atom").output

    parsed = feedparser.parse(xml)

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "monitor: alerted stories"
    assert len(parsed.entries) == len(stories) == len(expected_stories())
    by_title = {e.title: e for e in parsed.entries}
    for story in stories:
        entry = by_title[story["title"]]
        assert entry.link == story["url"]
        assert {t.term for t in entry.tags} == set(story["entities"])
        assert (
            entry.published_parsed[:5]
            == datetime.fromisoformat(story["first_published"]).timetuple()[:5]
        )
        assert story["why"][0] in entry.content[0].value
        assert entry.id.startswith("urn:uuid:")
    assert len({e.id for e in parsed.entries}) == len(parsed.entries)
    # The same story keeps its entry id, so a feed reader shows each alert once.
    again = feedparser.parse(monitor("--db", str(archive), "export", "atom").output)
    assert [e.id for e in again.entries] == [e.id for e in parsed.entries]


def test_atom_export_since_counts_from_the_alert(archive: Path) -> None:
    everything = feedparser.parse(monitor("--db", str(archive), "export", "atom").output)
    assert everything.entries
    recent = feedparser.parse(
        monitor("--db", str(archive), "export", "atom", "--since", "1h").output
    )
    assert len(recent.entries) == len(everything.entries)  # the demo alerted them just now
    nothing = feedparser.parse(
        monitor("--db", str(archive), "export", "atom", "--since", "2999-01-01").output
    )
    assert not nothing.bozo and nothing.entries == []


def test_atom_export_since_leaves_older_alerts_out(archive: Path, tmp_path: Path) -> None:
    copy = tmp_path / "monitor.db"
    shutil.copy(archive, copy)
    with sqlite3.connect(copy) as conn:
        conn.execute("update stories set alerted_at = '2025-01-01T00:00:00Z' where id = 1")
    titles = {
        e.title
        for e in feedparser.parse(
            monitor("--db", str(copy), "export", "atom", "--since", "2025-06-01").output
        ).entries
    }
    old = json_out(copy, "show", "1", "--format", "json")["title"]
    assert titles and old not in titles


def test_atom_survives_control_characters_and_markup_in_titles() -> None:
    story = {
        "id": 7,
        "title": "Foxconn <b>wins</b> & ships\x07 servers",
        "url": "https://example.com/a?x=1&y=2",
        "first_published": "2025-09-19T08:30:00Z",
        "first_seen": "2025-09-19T09:00:00Z",
        "last_seen": "2025-09-19T09:00:00Z",
        "alerted_at": "2025-09-19T09:01:00Z",
        "entities": ["Foxconn"],
        "score": 0.9,
        "why": ["evidence (title): <script>x</script>"],
        "outlets": ["A&B News"],
        "articles": [
            {
                "feed": "A&B News",
                "title": "Foxconn <b>wins</b>",
                "url": "https://example.com/a?x=1&y=2",
                "published": "2025-09-19T08:30:00Z",
            }
        ],
    }
    parsed = feedparser.parse(atom.render([story], datetime(2025, 9, 20, tzinfo=UTC)))
    assert not parsed.bozo, parsed.get("bozo_exception")
    [entry] = parsed.entries
    assert entry.title == "Foxconn <b>wins</b> & ships servers"
    assert entry.link == "https://example.com/a?x=1&y=2"
    assert "<script>" not in entry.content[0].value  # feedparser sanitises; we escaped


def test_run_writes_the_configured_atom_file_after_each_cycle(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    target = tmp_path / "public" / "alerts.xml"
    config = write_config(
        tmp_path / "monitor.toml",
        [feed_server.feed_url("techwire.xml")],
        f"""
[[channels]]
name = "team"
type = "file"
path = "{tmp_path / "digests"}"
""",
        extra=f'[export]\natom = "{target}"\n',
    )

    monitor("--config", str(config), "run", "--once")

    parsed = feedparser.parse(target.read_bytes())
    assert not parsed.bozo
    assert {e.title for e in parsed.entries} <= {
        t for titles in expected_stories(("techwire.xml",)).values() for t in titles
    }
    assert len(parsed.entries) == len(expected_stories(("techwire.xml",)))
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]  # no temp left


def test_a_bad_atom_key_names_the_key(tmp_path: Path) -> None:
    config = write_config(tmp_path / "monitor.toml", [], extra="[export]\natom = 3\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "check-config"])
    assert result.exit_code == 2 and "export.atom" in result.output


# --- the documented schema and its views


def test_every_table_and_view_is_documented(tmp_path: Path) -> None:
    schema_doc = (REPO / "docs" / "schema.md").read_text(encoding="utf-8")
    store = Store.open(tmp_path / "monitor.db")
    try:
        names = [
            t
            for t in store.db.table_names()
            # FTS5's own tables, and the ring of block indexes (documented as one section)
            if not t.startswith(
                (
                    "article_search_fts_",
                    "article_recent_fts_",
                    "article_alert_fts_",
                    "article_pair_fts_",
                    "article_block_fts_",
                )
            )
        ] + store.db.view_names()
        assert store.db.table("article_block_fts_0").exists()
        columns = {v: [c.name for c in store.db[v].columns] for v in store.db.view_names()}
    finally:
        store.close()
    undocumented = [n for n in names if f"### `{n}`" not in schema_doc]
    assert "### `article_block_fts_N`" in schema_doc
    assert undocumented == [], f"docs/schema.md needs a '### `name`' section for {undocumented}"
    assert set(columns) >= {"alerted_stories", "article_search"}
    for view, names_ in columns.items():
        section = schema_doc.split(f"### `{view}`", 1)[1].split("\n### ", 1)[0]
        assert [c for c in names_ if f"`{c}`" not in section] == [], view


def test_views_answer_what_the_docs_promise(archive: Path) -> None:
    with sqlite3.connect(archive) as conn:
        alerted = conn.execute("select id, outlet_count, outlets from alerted_stories").fetchall()
        found = conn.execute(
            "select s.id, s.feed, s.story_title from article_search s where s.id in "
            "(select rowid from article_search_fts where article_search_fts match '\"立 讯\"')"
        ).fetchall()
    stories = json_out(archive, "stories", "--alerted", "--format", "json")
    assert sorted(r[0] for r in alerted) == sorted(s["id"] for s in stories)
    for story_id, outlet_count, outlets in alerted:
        shown = json_out(archive, "show", str(story_id), "--format", "json")
        assert outlet_count == shown["outlet_count"]
        assert outlets.split(", ") == shown["outlets"]
    assert found and {r[1] for r in found} == {"中国电子观察"}


def test_datasette_metadata_points_at_the_index_and_views() -> None:
    metadata = json.loads((REPO / "docs" / "datasette-metadata.json").read_text())
    tables = metadata["databases"]["monitor"]["tables"]
    for name in ("articles", "article_search"):
        assert tables[name]["fts_table"] == "article_search_fts"
        assert tables[name]["fts_pk"] == "id"
    assert "alerted_stories" in tables

"""The report page: what its charts show, that it needs nothing from the network, and that a
real browser (headless Chromium, when installed) renders its charts."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import monitor

from monitor.charts import line_chart, timeline
from monitor.cli import cli

PERIOD = ("--since", "2025-09-01", "--until", "2026-04-01")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class Page(HTMLParser):
    """Every element as (tag, attributes), plus the text of each <title> inside charts."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {k: v or "" for k, v in attrs}))

    def all(self, tag: str, **wanted: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.elements
            if t == tag and all(a.get(k.replace("_", "-")) == v for k, v in wanted.items())
        ]

    def inside(self, chart_id: str, tag: str) -> list[dict[str, str]]:
        """Elements ``tag`` between <svg id=chart_id> and the next <svg>."""
        found, inside = [], False
        for t, a in self.elements:
            if t == "svg":
                inside = a.get("id") == chart_id
            elif inside and t == tag:
                found.append(a)
        return found


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("archive")
    assert monitor("demo", "--out", str(out)).exit_code == 0
    return out / "monitor.db"


@pytest.fixture(scope="module")
def report(archive: Path) -> Path:
    out = archive.parent / "report.html"
    result = monitor("--db", str(archive), "report", *PERIOD, "--out", str(out))
    assert result.exit_code == 0, result.output
    return out


def query(archive: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(archive) as conn:
        return conn.execute(sql).fetchall()


def test_mentions_chart_has_one_line_per_entity_with_its_article_count(
    archive: Path, report: Path
) -> None:
    page = Page(report.read_text(encoding="utf-8"))
    lines = {a["data-series"]: int(a["data-total"]) for a in page.inside("mentions", "polyline")}
    expected = dict(
        query(
            archive,
            "select e.value, count(*) from articles a, json_each(a.entities) e "
            "where a.published >= '2025-09-01' and a.published < '2026-04-01' group by e.value",
        )
    )
    assert lines == expected and len(lines) >= 3


def test_timeline_has_one_circle_per_alerted_story_sized_by_outlets(
    archive: Path, report: Path
) -> None:
    page = Page(report.read_text(encoding="utf-8"))
    circles = sorted(int(a["data-outlets"]) for a in page.inside("timeline", "circle"))
    stories = query(archive, "select outlet_count from stories where alerted = 1")
    assert circles == sorted(int(str(r[0])) for r in stories) and circles
    radii = {int(a["data-outlets"]): float(a["r"]) for a in page.inside("timeline", "circle")}
    assert radii[max(radii)] > radii[min(radii)]


def test_first_reporters_chart_credits_each_story_to_its_first_outlet(
    archive: Path, report: Path
) -> None:
    page = Page(report.read_text(encoding="utf-8"))
    bars = {
        a["data-label"]: int(a["data-value"])
        for a in page.inside("first-reporters", "rect")
        if "data-label" in a
    }
    alerted = query(archive, "select count(*) from stories where alerted = 1")[0][0]
    assert sum(bars.values()) == alerted
    [(first_reporter,)] = query(
        archive,
        "select json_extract(outlet_names, '$[0]') from stories where alerted = 1 "
        "order by outlet_count desc limit 1",
    )
    assert bars[str(first_reporter)] >= 1


def test_feed_health_counts_every_feed(archive: Path, report: Path) -> None:
    page = Page(report.read_text(encoding="utf-8"))
    states = {a["data-state"]: int(a["data-count"]) for a in page.inside("feed-health", "rect")}
    [(feeds,)] = query(archive, "select count(*) from feeds")
    assert sum(states.values()) == feeds and states.get("ok") == feeds


def test_the_page_needs_nothing_from_the_network(report: Path) -> None:
    page = Page(report.read_text(encoding="utf-8"))
    assert page.all("script") == [] and page.all("link") == [] and page.all("img") == []
    assert page.all("iframe") == [] and page.all("object") == []
    policy = page.all("meta", http_equiv="Content-Security-Policy")
    assert policy and "default-src 'none'" in policy[0]["content"]
    assert "url(" not in report.read_text(encoding="utf-8")  # no CSS fetches either


def test_an_empty_period_still_makes_a_page_that_says_so(archive: Path, tmp_path: Path) -> None:
    out = tmp_path / "empty.html"
    result = monitor(
        "--db",
        str(archive),
        "report",
        "--since",
        "2020-01-01",
        "--until",
        "2020-02-01",
        "--out",
        str(out),
    )
    assert result.exit_code == 0
    html = out.read_text(encoding="utf-8")
    assert "No story was alerted in this period." in html
    assert "No article named a watched entity in this period." in html


def test_a_period_that_ends_before_it_starts_is_refused(archive: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "--db",
            str(archive),
            "report",
            "--since",
            "2026-01-01",
            "--until",
            "2025-01-01",
            "--out",
            str(tmp_path / "r.html"),
        ],
    )
    assert result.exit_code == 2 and "the period ends before it starts" in result.output


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM
    return subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get install chromium)"
)
def test_headless_chromium_renders_the_charts(report: Path, tmp_path: Path) -> None:
    dom = chromium("--dump-dom", report.as_uri(), profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = Page(dom.stdout)
    charts = {a["id"] for a in rendered.all("svg") if "chart" in a.get("class", "")}
    assert charts == {"mentions", "timeline", "first-reporters", "feed-health"}
    source = Page(report.read_text(encoding="utf-8"))
    for chart, mark in (("mentions", "polyline"), ("timeline", "circle"), ("feed-health", "rect")):
        assert len(rendered.inside(chart, mark)) == len(source.inside(chart, mark)) > 0, chart

    shot = tmp_path / "report.png"
    taken = chromium(
        f"--screenshot={shot}",
        "--window-size=1000,2400",
        report.as_uri(),
        profile=tmp_path / "profile2",
    )
    assert taken.returncode == 0, taken.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000


def test_axis_labels_carry_the_year_when_the_period_spans_years() -> None:
    days = [date(2016, 12, 5) + timedelta(days=i) for i in range(0, 3650, 10)]
    chart = line_chart("m", days, {"OpenAI": [0] * len(days)})
    assert ">Dec 2016<" in chart and ">Dec 05<" not in chart
    start, end = datetime(2016, 12, 5, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)
    assert ">Dec 2026<" in timeline("t", start, end, [])
    month = [date(2026, 11, 1) + timedelta(days=i) for i in range(30)]
    assert ">Nov 01<" in line_chart("m", month, {"OpenAI": [0] * 30})

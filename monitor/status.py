"""Health of a monitor installation, for `monitor status` and a channel's "source health" section.

``gather`` reads the database (and the daemon lock); ``assess`` is the pure decider that turns what
was read into problems (unhealthy: `monitor status` exits 1) and warnings (worth a look).

Unhealthy: no daemon on the database (unless not expected), the poll job overdue by STALL, every
enabled feed failing, a delivery failed for good, or a digest retrying for over RETRYING_TOO_LONG.
Warnings: some feeds failing, feeds disabled for a reason of their own (410 Gone), and feeds gone
silent: no new entry for SILENT_FACTOR times their usual gap between entries (and MIN_SILENCE).
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlite_utils.db import Database

from monitor import runlog
from monitor.lock import read_holder
from monitor.store import _CONFIG_REASONS
from monitor.timeutil import from_iso, iso

STALL = timedelta(minutes=30)
RETRYING_TOO_LONG = timedelta(hours=1)
SILENT_FACTOR = 4
MIN_SILENCE = timedelta(days=1)
MIN_ENTRIES = 5  # fewer dated entries say nothing about a feed's rhythm
HISTORY = 50  # recent entries that define a feed's usual gap


@dataclass(frozen=True)
class SilentFeed:
    url: str
    name: str
    last_entry: datetime
    usual_gap: timedelta


@dataclass
class Report:
    db: str
    daemon_pid: int | None  # None: no daemon holds the lock
    last_cycle: dict[str, Any] | None
    jobs: list[dict[str, Any]]
    feeds_enabled: int
    failing: list[dict[str, Any]]  # enabled feeds whose last poll failed
    disabled: list[dict[str, Any]]  # feeds disabled for a reason of their own (e.g. 410 Gone)
    silent: list[SilentFeed]
    deliveries: dict[str, dict[str, int]]  # channel -> {"pending": n, "failed": n}
    retrying_since: dict[str, datetime]  # channel -> created time of its oldest retried digest
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "healthy": self.healthy,
            "problems": self.problems,
            "warnings": self.warnings,
            "db": self.db,
            "daemon": {"running": self.daemon_pid is not None, "pid": self.daemon_pid},
            "last_cycle": self.last_cycle,
            "jobs": self.jobs,
            "feeds_enabled": self.feeds_enabled,
            "failing_feeds": self.failing,
            "disabled_feeds": self.disabled,
            "silent_feeds": [
                {
                    "url": s.url,
                    "name": s.name,
                    "last_entry": iso(s.last_entry),
                    "usual_gap_hours": round(s.usual_gap.total_seconds() / 3600, 1),
                }
                for s in self.silent
            ],
            "deliveries": self.deliveries,
        }


def gather(db: Database, db_path: str, now: datetime, *, with_daemon: bool = True) -> Report:
    holder = read_holder(db_path) if with_daemon else None
    feeds = _rows(
        db,
        "select id, url, coalesce(name, title, url) as name, enabled, disabled_reason, "
        "consecutive_failures, last_error, last_status_code, last_success, next_due "
        "from feeds order by id",
    )
    enabled = [f for f in feeds if f["enabled"]]
    return Report(
        db=db_path,
        daemon_pid=holder[0] if holder and holder[1] == "daemon" else None,
        last_cycle=runlog.last_cycle(db),
        jobs=runlog.jobs(db),
        feeds_enabled=len(enabled),
        failing=[
            {k: f[k] for k in ("id", "url", "name", "consecutive_failures", "last_error")}
            for f in enabled
            if f["consecutive_failures"]
        ],
        disabled=[
            {k: f[k] for k in ("id", "url", "name", "disabled_reason")}
            for f in feeds
            if not f["enabled"] and f["disabled_reason"] not in _CONFIG_REASONS
        ],
        silent=silent_feeds(db, [f for f in enabled if not f["consecutive_failures"]], now),
        deliveries=_delivery_counts(db),
        retrying_since=_retrying_since(db),
    )


def assess(report: Report, now: datetime, *, expect_daemon: bool = True) -> Report:
    """Fill in ``problems`` and ``warnings`` from what was gathered."""
    problems, warnings = report.problems, report.warnings
    if report.daemon_pid is None and expect_daemon:
        problems.append(f"no monitor daemon is running on {report.db}")
    poll = next((j for j in report.jobs if j["id"] == "poll"), None)
    overdue = from_iso(poll["next_run"]) if poll else None
    if report.daemon_pid is not None and overdue is not None and now - overdue > STALL:
        problems.append(f"the poll job is overdue since {iso(overdue)}: the daemon is stuck")
    if report.feeds_enabled and len(report.failing) == report.feeds_enabled:
        problems.append(f"every enabled feed is failing ({report.feeds_enabled})")
    elif report.failing:
        warnings.append(f"{len(report.failing)} of {report.feeds_enabled} feeds failing")
    for channel, counts in sorted(report.deliveries.items()):
        if counts.get("failed"):
            problems.append(f"channel {channel}: {counts['failed']} deliveries failed for good")
    for channel, since in sorted(report.retrying_since.items()):
        if now - since > RETRYING_TOO_LONG:
            problems.append(f"channel {channel}: a digest has been retried since {iso(since)}")
    if report.disabled:
        warnings.append(f"{len(report.disabled)} feeds disabled (see `monitor feeds`)")
    if report.silent:
        warnings.append(f"{len(report.silent)} feeds gone silent")
    return report


def usual_gap(times: list[datetime]) -> timedelta | None:
    """The median gap between consecutive entries; None with too few entries or no spread."""
    if len(times) < MIN_ENTRIES:
        return None
    ordered = sorted(times)
    gaps = [b - a for a, b in itertools.pairwise(ordered) if b > a]
    if len(gaps) < MIN_ENTRIES - 1:
        return None
    return timedelta(seconds=statistics.median(g.total_seconds() for g in gaps))


def is_silent(times: list[datetime], now: datetime) -> timedelta | None:
    """The feed's usual gap when it has been silent for SILENT_FACTOR of them, else None."""
    gap = usual_gap(times)
    if gap is None:
        return None
    silence = now - max(times)
    return gap if silence > max(gap * SILENT_FACTOR, MIN_SILENCE) else None


def silent_feeds(db: Database, feeds: list[dict[str, Any]], now: datetime) -> list[SilentFeed]:
    silent = []
    for feed in feeds:
        times = [
            t
            for (raw,) in db.execute(
                "select coalesce(a.published, si.first_seen) as t from sightings si "
                "join articles a on a.id = si.article_id where si.feed_id = ? "
                "order by t desc limit ?",
                [feed["id"], HISTORY],
            ).fetchall()
            if (t := from_iso(raw)) is not None and t <= now
        ]
        gap = is_silent(times, now)
        if gap is not None:
            silent.append(SilentFeed(feed["url"], feed["name"], max(times), gap))
    return silent


def _delivery_counts(db: Database) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    for channel, status, n in db.execute(
        "select channel, status, count(*) from deliveries where status in ('pending', 'failed') "
        "group by channel, status"
    ).fetchall():
        counts.setdefault(channel, {"pending": 0, "failed": 0})[status] = n
    return counts


def _retrying_since(db: Database) -> dict[str, datetime]:
    since = {}
    for channel, created in db.execute(
        "select channel, min(created) from digests where status = 'pending' and attempts > 0 "
        "group by channel"
    ).fetchall():
        when = from_iso(created)
        if when is not None:
            since[channel] = when
    return since


def _rows(db: Database, sql: str) -> list[dict[str, Any]]:
    cursor = db.execute(sql)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def render_text(report: Report) -> str:
    """`monitor status` for people."""
    lines = [f"monitor {'healthy' if report.healthy else 'UNHEALTHY'}: {report.db}"]
    lines += [f"  problem: {p}" for p in report.problems]
    lines += [f"  warning: {w}" for w in report.warnings]
    daemon = f"running (pid {report.daemon_pid})" if report.daemon_pid else "not running"
    lines.append(f"daemon: {daemon}")
    c = report.last_cycle
    if c:
        lines.append(
            f"last cycle: {c['finished']} ({c['origin']}): polled {c['feeds_polled']}, "
            f"{c['not_modified']} not modified, {c['failed']} failed, "
            f"{c['new_articles']} new articles, {c['new_stories']} new stories, "
            f"{c['alerts_queued']} alerts queued, {c['digests_sent']} digests sent"
        )
    else:
        lines.append("last cycle: none yet")
    if report.jobs:
        lines.append("next jobs:")
        lines += [
            f"  {j['next_run'] or '-':20} {j['id']}"
            + (f"  (last run failed: {j['last_error']})" if j["last_error"] else "")
            for j in report.jobs
        ]
    lines.append(f"feeds: {report.feeds_enabled} enabled, {len(report.failing)} failing")
    lines += [
        f"  failing: {f['name']} ({f['consecutive_failures']}x): {f['last_error']}"
        for f in report.failing
    ]
    lines += [f"  disabled: {f['name']}: {f['disabled_reason']}" for f in report.disabled]
    lines += [
        f"  silent: {s.name}: last entry {iso(s.last_entry)}, usually every {_hours(s.usual_gap)}"
        for s in report.silent
    ]
    if report.deliveries:
        lines.append("deliveries:")
        lines += [
            f"  {channel}: {counts.get('pending', 0)} pending, {counts.get('failed', 0)} failed"
            for channel, counts in sorted(report.deliveries.items())
        ]
    else:
        lines.append("deliveries: none pending or failed")
    return "\n".join(lines)


def source_health(db: Database, now: datetime) -> list[str]:
    """The "source health" section a channel can opt into: one line per feed needing a look."""
    return source_health_lines(gather(db, "", now, with_daemon=False))


def source_health_lines(report: Report) -> list[str]:
    lines = [
        f"{f['name']}: failing ({f['consecutive_failures']}x): {f['last_error']}"
        for f in report.failing
    ]
    lines += [f"{f['name']}: disabled: {f['disabled_reason']}" for f in report.disabled]
    lines += [
        f"{s.name}: silent since {iso(s.last_entry)} (usually every {_hours(s.usual_gap)})"
        for s in report.silent
    ]
    return lines


def _hours(gap: timedelta) -> str:
    hours = gap.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"

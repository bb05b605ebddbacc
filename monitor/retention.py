"""Housekeeping: prune what the archive no longer needs, keep the indexes lean, back up.

Only the *text* (summary and content) of old articles that matched nothing is pruned: articles
that are not alert-worthy and whose story has no alert-worthy article. Their row stays (title,
links, content hash, sightings), so a re-poll still recognises them and nothing comes back as
new; stories, alert-worthy articles (and every copy of their story) and everything about
deliveries stay whole.
Work is done in small transactions so the daemon and CLI queries never wait long on it.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from sqlite_utils.db import Database

from monitor.runlog import prune_cycles
from monitor.timeutil import iso

log = logging.getLogger("monitor.retention")

BATCH = 500  # articles per transaction: short enough that a writer never waits a second


def prune_bodies(db: Database, keep_days: int, now: datetime) -> int:
    """Empty the summary and content of unmatched articles first seen over keep_days ago.
    Returns how many articles were pruned."""
    cutoff = iso(now - timedelta(days=keep_days))
    pruned = 0
    while True:
        with db.atomic():
            count = db.execute(
                "update articles set summary = '', content = '' where id in ("
                "select a.id from articles a where a.first_seen < ? "
                "and (coalesce(a.summary, '') != '' or coalesce(a.content, '') != '') "
                "and not coalesce(a.alert_worthy, 0) and not exists ("
                "select 1 from articles b where b.story_id = a.story_id and b.alert_worthy) "
                "limit ?)",
                [cutoff, BATCH],
            ).rowcount
        pruned += count
        if count < BATCH:
            return pruned


# Pages (about 4 KB each) an index merge writes per transaction: tens of milliseconds.
MERGE_PAGES = 1_000


def optimise_search_index(db: Database) -> None:
    """Merge the segments of every FTS5 index into one (they pile up as articles arrive one by
    one; lookups by id seek through every segment). Found by looking, so the search module may
    name and rename its indexes as it likes."""
    tables = [
        name
        for (name,) in db.execute(
            "select name from sqlite_master where type = 'table' "
            "and lower(sql) like 'create virtual table % using fts5%'"
        ).fetchall()
    ]
    for table in tables:
        _merge_in_steps(db, table)


def _merge_in_steps(db: Database, table: str) -> None:
    """What FTS5's 'optimize' does, in steps of MERGE_PAGES pages, each its own transaction:
    a writer waits for one step, not the whole merge ('optimize' of a million-article index
    held the write lock for 60 to 100 s). A negative page count starts the merge of every
    segment into one, positive ones carry it on; a step that changes fewer than two rows
    found nothing left to do."""
    pages = -MERGE_PAGES
    while True:
        with db.atomic():
            before = db.conn.total_changes
            db.execute(f"insert into [{table}] ([{table}], rank) values ('merge', ?)", [pages])
            if db.conn.total_changes - before < 2:
                return
        pages = MERGE_PAGES


def housekeeping(db: Database, keep_days: int | None, now: datetime) -> dict[str, int]:
    """Everything the daemon does once a day. Returns counts for the log line."""
    pruned = prune_bodies(db, keep_days, now) if keep_days else 0
    cycles = prune_cycles(db)
    optimise_search_index(db)
    db.execute("pragma optimize")
    return {"pruned": pruned, "cycles_dropped": cycles}


def vacuum(db: Database) -> tuple[int, int]:
    """Rebuild the file to give pruned space back to the disk: (bytes before, bytes after)."""
    before = _size(db)
    db.execute("pragma wal_checkpoint(truncate)")
    db.vacuum()
    db.execute("pragma wal_checkpoint(truncate)")
    return before, _size(db)


def backup(db: Database, target: Path) -> None:
    """A consistent copy of the live database (SQLite's online backup: safe while the daemon
    writes)."""
    if target.exists():
        raise FileExistsError(f"{target} exists; give a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(target) as copy:
        db.conn.backup(copy)
    copy.close()


def _size(db: Database) -> int:
    page_count = db.execute("pragma page_count").fetchone()[0]
    page_size = db.execute("pragma page_size").fetchone()[0]
    return int(page_count) * int(page_size)

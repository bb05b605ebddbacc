"""What the daemon did and plans to do, kept in the database for other processes to read.

The daemon's scheduler lives in its memory; ``monitor status`` runs in another process. So each
poll cycle's summary goes into ``cycles`` and each job's next and last run into ``jobs``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlite_utils.db import Database

from monitor.records import CycleSummary
from monitor.timeutil import iso

KEEP_CYCLES = 5000  # about two weeks of 4-minute cycles: plenty for "what happened lately"


def record_cycle(
    db: Database,
    summary: CycleSummary,
    *,
    origin: str,
    started: datetime,
    finished: datetime,
    digests_sent: int = 0,
    cancelled: bool = False,
) -> None:
    with db.atomic():
        db.table("cycles").insert(
            {
                "origin": origin,
                "started": iso(started),
                "finished": iso(finished),
                **summary.__dict__,
                "digests_sent": digests_sent,
                "cancelled": int(cancelled),
            }
        )


def record_jobs(db: Database, jobs: Iterable[tuple[str, datetime | None]]) -> None:
    """Replace the table of scheduled jobs with ``(id, next run)`` pairs, keeping last runs."""
    jobs = list(jobs)
    with db.atomic():
        db.execute(
            f"delete from jobs where id not in ({','.join('?' * len(jobs))})",
            [job_id for job_id, _ in jobs],
        )
        for job_id, next_run in jobs:
            db.execute(
                "insert into jobs (id, next_run) values (?, ?) "
                "on conflict(id) do update set next_run = excluded.next_run",
                [job_id, iso(next_run)],
            )


def record_job_run(
    db: Database, job_id: str, when: datetime, next_run: datetime | None, error: str | None
) -> None:
    with db.atomic():
        db.execute(
            "insert into jobs (id, next_run, last_run, last_error) values (?, ?, ?, ?) "
            "on conflict(id) do update set next_run = excluded.next_run, "
            "last_run = excluded.last_run, last_error = excluded.last_error",
            [job_id, iso(next_run), iso(when), error],
        )


def prune_cycles(db: Database, keep: int = KEEP_CYCLES) -> int:
    with db.atomic():
        return db.execute(
            "delete from cycles where id <= (select max(id) from cycles) - ?", [keep]
        ).rowcount


def last_cycle(db: Database) -> dict[str, Any] | None:
    cursor = db.execute("select * from cycles order by id desc limit 1")
    row = cursor.fetchone()
    if row is None:
        return None
    names = [d[0] for d in cursor.description]
    return dict(zip(names, row, strict=True))


def jobs(db: Database) -> list[dict[str, Any]]:
    cursor = db.execute("select id, next_run, last_run, last_error from jobs order by next_run")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

"""Writes that commit at once unless a transaction is open."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import sqlite_utils


@contextmanager
def committed(db: sqlite_utils.Database) -> Iterator[None]:
    """Inside a transaction, nothing; outside one, a transaction of its own. For writes through
    ``db.conn`` (``executemany``), committed as sqlite-utils' ``execute`` commits: the sqlite3
    module would open a transaction implicitly and leave it open, and every later write (even
    in ``atomic()``, which would nest as a savepoint) would be lost with it."""
    if db.conn.in_transaction:
        yield
        return
    with db.atomic():
        yield


def executemany(db: sqlite_utils.Database, sql: str, rows: Iterable[Sequence[object]]) -> None:
    """``sql`` for each row, committed at once unless a transaction is open."""
    with committed(db):
        db.conn.executemany(sql, rows)

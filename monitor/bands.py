"""The near-duplicate index: every article's LSH band keys, found by key.

Band keys are random, so their B-tree (``article_bands``) is written all over: once it outgrows
what one commit fills, each new key dirties a page of its own and every commit writes those pages
to the WAL again: the store stage of a cold poll of 30,000 articles in some 330 commits wrote
11 GB, 7 GB of it for this index. So the keys of new articles wait in memory and go to the table
in sorted batches, each page written once per batch: at the end of each poll cycle, every
``FLUSH_AT`` articles, and when the store closes. Lookups read both.

Nothing is lost in a crash: the keys come from the signatures in ``article_sketches``, and
``article_bands_written.upto`` says up to which article the table has them. The keys of every
sketch above it are rebuilt from the signatures the first time they are needed, and again after
a rollback (which may have taken back keys the memory still held). One writer per database (the
daemon's lock) keeps the memory and the table in step."""

from __future__ import annotations

from bisect import insort
from collections.abc import Iterable, Sequence
from functools import cache
from itertools import islice

import sqlite_utils

from monitor.sketch import band_keys, unpack
from monitor.txn import committed, executemany

FLUSH_AT = 4096  # articles whose keys wait in memory: about 20 MB at most
# Candidates for a new article: the newest PER_BAND articles sharing each of its band keys.
# Unrelated news articles share common words ("the", "said", "chip"), so about one pair in twenty
# shares some band key: without this bound (and story_store.MAX_SIMILAR) every article would be
# compared with every article in the window, and a cold poll of a thousand feeds would grow with
# the square of its size.
PER_BAND = 16


@cache
def _newest_per_band(bands: int) -> str:
    """One statement reading the newest ``PER_BAND`` articles of each of ``bands`` band keys,
    each through the primary key: (band, article id) rows."""
    one = (
        "select * from (select band, article_id from article_bands "
        "where band = ? and article_id is not ? order by article_id desc limit ?)"
    )
    return " union all ".join([one] * bands)


class BandIndex:
    """``article_bands`` and the keys of the newest articles, not yet written to it."""

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._waiting: dict[int, list[int]] | None = None  # key -> article ids, oldest first
        self._upto = 0  # the table holds the keys of every article up to this id
        self._articles = 0  # articles with keys waiting
        self._top = 0  # the newest article with keys waiting
        self._used = False

    def add(self, article_id: int, keys: Sequence[int]) -> None:
        """Index an article's keys."""
        if not keys:
            return
        waiting = self._loaded()
        if article_id <= self._upto:  # a revised article whose old keys were in the table
            self._write([(key, article_id) for key in keys])
            return
        # Ids stay in order, once each: a revised article comes back with keys of its own, and
        # the first article indexed may already be here, loaded from its sketch.
        for key in keys:
            ids = waiting.setdefault(key, [])
            if not ids or ids[-1] < article_id:
                ids.append(article_id)
            elif article_id not in ids:
                insort(ids, article_id)
        if article_id > self._top:
            self._articles += 1
            self._top = article_id
        if self._articles >= FLUSH_AT:
            self.flush()

    def remove(self, article_id: int, keys: Iterable[int]) -> None:
        """Take an article's old keys out of the index (its text changed)."""
        waiting = self._loaded()
        if article_id <= self._upto:
            executemany(
                self.db,
                "delete from article_bands where band = ? and article_id = ?",
                [(key, article_id) for key in keys],
            )
            return
        for key in keys:
            ids = waiting.get(key)
            if ids and article_id in ids:
                ids.remove(article_id)
                if not ids:
                    del waiting[key]

    def newest(self, keys: Sequence[int], exclude: int | None) -> list[tuple[int, int]]:
        """(key, article id) for the newest ``PER_BAND`` articles having each key, but
        ``exclude``."""
        waiting = self._loaded()
        found: dict[int, int] = {}
        rows: list[tuple[int, int]] = []
        for key in keys:
            # A common key may be waiting for thousands of articles: read only the newest.
            newest = [
                *islice((i for i in reversed(waiting.get(key, ())) if i != exclude), PER_BAND)
            ]
            found[key] = len(newest)
            rows += [(key, article_id) for article_id in newest]
        # Articles in memory are newer than any in the table: the table fills what is left.
        keys_left = [key for key in keys if found[key] < PER_BAND]
        if keys_left:
            params = [value for key in keys_left for value in (key, exclude, PER_BAND)]
            for band, article_id in self.db.execute(
                _newest_per_band(len(keys_left)), params
            ).fetchall():
                if found[band] < PER_BAND:
                    found[band] += 1
                    rows.append((band, article_id))
        return rows

    def flush(self) -> None:
        """Write the waiting keys to the table, in key order."""
        if not self._used:  # nothing was indexed here (a query's connection): nothing to write
            return
        waiting = self._loaded()
        if not waiting:
            return
        # In key order, made as they are written: a list of them would be another 9 MB.
        self._write(((key, i) for key in sorted(waiting) for i in waiting[key]), upto=self._top)
        self._upto = self._top
        self._waiting, self._articles = {}, 0

    def forget_unsaved(self) -> None:
        """A transaction rolled back: rebuild the waiting keys from what the database holds."""
        self._waiting = None

    def _loaded(self) -> dict[int, list[int]]:
        if self._waiting is None:
            self._used = True
            self._waiting, self._articles, self._top = {}, 0, 0
            self._upto = self.db.execute(
                "select upto from article_bands_written where id = 1"
            ).fetchone()[0]
            for article_id, signature in self.db.execute(
                "select article_id, minhash from article_sketches where article_id > ? "
                "order by article_id",
                [self._upto],
            ).fetchall():
                for key in band_keys(unpack(signature)):
                    self._waiting.setdefault(key, []).append(article_id)
                self._articles += 1
                self._top = article_id
        return self._waiting

    def _write(self, rows: Iterable[tuple[int, int]], upto: int | None = None) -> None:
        with committed(self.db):
            self.db.conn.executemany(
                "insert or ignore into article_bands (band, article_id) values (?, ?)", rows
            )
            if upto is not None:
                self.db.execute("update article_bands_written set upto = ? where id = 1", [upto])

"""The store's story side: sketches and their LSH index, story lookup by organisation, outlets,
and entries that change after they were stored. Mixed into ``monitor.store.Store``.

Finding candidates never reads a whole table: near-duplicates come from the band index
(``monitor.bands``), a bounded number per band key, stories from the
``story_organisations`` primary key (organisation, first published, story id), bounded by the
story window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

import sqlite_utils

from monitor.bands import BandIndex
from monitor.records import Article, Match, SimilarArticle, Sketch, StoryCandidate
from monitor.schema import STORY_OUTLETS
from monitor.sketch import band_keys, pack, unpack
from monitor.timeutil import from_iso, iso
from monitor.txn import executemany

# Near-duplicate candidates: the newest PER_BAND articles sharing each band key (bands.py), of
# which the MAX_SIMILAR that share the most (and the rarest) keys are compared in full.
MAX_SIMILAR = 10


def _json(value: Iterable[str]) -> str:
    return json.dumps(sorted(value), ensure_ascii=False)


def _marks(values: Iterable[object]) -> str:
    return ",".join("?" for _ in values)


def _likeliest(rows: Iterable[tuple[int, int]]) -> list[int]:
    """The ``MAX_SIMILAR`` articles sharing the most band keys, each key weighted by how rare
    it is (a key shared by one other article counts 1, by sixteen 1/16), newest first on a tie:
    near-duplicates share several keys, unrelated articles one common one."""
    by_band: dict[int, list[int]] = {}
    for band, article_id in rows:
        by_band.setdefault(band, []).append(article_id)
    weight: dict[int, float] = {}
    for ids in by_band.values():
        for article_id in ids:
            weight[article_id] = weight.get(article_id, 0.0) + 1 / len(ids)
    ranked = sorted(weight, key=lambda article_id: (-weight[article_id], -article_id))
    return ranked[:MAX_SIMILAR]


class StoryStoreMixin:
    db: sqlite_utils.Database
    bands: BandIndex

    # --- entries seen before

    def sighting(self, feed_id: int, guid: str) -> tuple[int, str] | None:
        """The article a feed's entry was stored as, and that article's content hash."""
        row = self.db.execute(
            "select a.id, a.content_hash from sightings si join articles a on a.id = si.article_id "
            "where si.feed_id = ? and si.guid = ?",
            [feed_id, guid],
        ).fetchone()
        return (row[0], row[1]) if row else None

    def revise_article(
        self, article_id: int, article: Article, match: Match, sketch: Sketch, now: datetime
    ) -> None:
        """The feed changed an entry we stored: keep the new text, count the revision. The
        story keeps its alert state: a corrected entry is not news again."""
        self.db.execute(
            "update articles set title = ?, summary = ?, content = ?, content_hash = ?, "
            "title_key = ?, entities = ?, organisations = ?, score = ?, why = ?, updated = ?, "
            "revisions = revisions + 1 where id = ?",
            [
                article.title,
                article.summary,
                article.content,
                article.content_hash,
                article.title_key,
                json.dumps(list(match.entities), ensure_ascii=False),
                json.dumps(list(match.organisations), ensure_ascii=False),
                match.score,
                json.dumps(list(match.why), ensure_ascii=False),
                iso(now),
                article_id,
            ],
        )
        self.db.execute(
            "update stories set title = ? where id = (select story_id from articles where id = ?) "
            "and article_id = ?",
            [article.title, article_id, article_id],
        )
        self.store_sketch(article_id, article.published or now, sketch)

    # --- sketches

    def store_sketch(self, article_id: int, published: datetime, sketch: Sketch) -> None:
        """Index an article's sketch, replacing the one it had."""
        old = self.db.execute(
            "select minhash from article_sketches where article_id = ?", [article_id]
        ).fetchone()
        if old is not None:
            self.bands.remove(article_id, band_keys(unpack(old[0])))
        self.index_sketch(article_id, published, sketch)

    def index_sketch(self, article_id: int, published: datetime, sketch: Sketch) -> None:
        """Index the sketch of an article that has none yet."""
        self.db.execute(
            "insert or replace into article_sketches (article_id, published, minhash, anchors) "
            "values (?, ?, ?, ?)",
            [article_id, iso(published), pack(sketch.minhash), _json(sketch.anchors)],
        )
        self.bands.add(article_id, sketch.bands)

    def similar_articles(
        self, sketch: Sketch, since: datetime, until: datetime, *, exclude: int | None = None
    ) -> list[SimilarArticle]:
        """Articles published between ``since`` and ``until`` sharing band keys with ``sketch``:
        the likeliest near-duplicates among them, at most ``MAX_SIMILAR``."""
        if not sketch.bands:
            return []
        ids = _likeliest(self.bands.newest(sketch.bands, exclude))
        if not ids:
            return []
        rows = self.db.execute(
            "select s.article_id, a.story_id, s.published, s.minhash, s.anchors "
            "from article_sketches s join articles a on a.id = s.article_id "
            f"where s.article_id in ({_marks(ids)}) and s.published between ? and ?",
            [*ids, iso(since), iso(until)],
        ).fetchall()
        return [
            SimilarArticle(
                r[0], r[1], from_iso(r[2]) or since, unpack(r[3]), frozenset(json.loads(r[4]))
            )
            for r in rows
        ]

    # --- stories by organisation

    def stories_naming(
        self, organisations: Iterable[str], since: datetime, until: datetime
    ) -> list[StoryCandidate]:
        """Stories first published between ``since`` and ``until`` naming any of
        ``organisations``."""
        names = sorted(set(organisations))
        if not names:
            return []
        rows = self.db.execute(
            "select id, organisations, first_published, title, anchors from stories where id in "
            "(select story_id from story_organisations "
            f"where organisation in ({_marks(names)}) and first_published between ? and ?)",
            [*names, iso(since), iso(until)],
        ).fetchall()
        return [
            StoryCandidate(
                r[0],
                frozenset(json.loads(r[1])),
                from_iso(r[2]) or since,
                r[3],
                frozenset(json.loads(r[4] or "[]")),
            )
            for r in rows
        ]

    def index_story_organisations(
        self, story_id: int, before: tuple[str | None, str | None] | None = None
    ) -> None:
        """Make the organisation index agree with the story's organisations and first date.
        ``before``: the story's organisations (JSON) and first date as last indexed, whose rows
        are replaced (found by primary key: no scan of the index)."""
        if before is not None:
            executemany(
                self.db,
                "delete from story_organisations "
                "where organisation = ? and first_published = ? and story_id = ?",
                [(name, before[1] or "", story_id) for name in json.loads(before[0] or "[]")],
            )
        organisations, first = self.db.execute(
            "select organisations, first_published from stories where id = ?", [story_id]
        ).fetchone()
        self.add_story_organisations(story_id, json.loads(organisations or "[]"), first)

    def add_story_organisations(
        self, story_id: int, organisations: Iterable[str], first_published: str | None
    ) -> None:
        """Index the story under each organisation, as the story row says them."""
        executemany(
            self.db,
            "insert or ignore into story_organisations (organisation, first_published, story_id) "
            "values (?, ?, ?)",
            [(name, first_published or "", story_id) for name in sorted(set(organisations))],
        )

    # --- alerting and outlets

    def mark_alert_worthy(self, story_id: int) -> bool:
        """Mark the story alert-worthy; True only the first time, when it should be queued."""
        return bool(
            self.db.execute(
                "update stories set alert_worthy = 1 where id = ? and alert_worthy = 0",
                [story_id],
            ).rowcount
        )

    def refresh_outlets(self, story_id: int | None, now: datetime) -> None:
        """Recount and name the feeds that carried the story, first reporter first. The names
        are as of now: a feed without a configured name is named by its URL until its first
        poll is stored, so ``monitor stories`` reads them afresh."""
        if story_id is None:
            return
        names = [r[0] for r in self.db.execute(STORY_OUTLETS, [story_id])]
        self.db.execute(
            "update stories set outlet_count = ?, outlet_names = ?, last_seen = ? where id = ?",
            [len(names), json.dumps(names, ensure_ascii=False), iso(now), story_id],
        )

    def outlet_count(self, story_id: int) -> int:
        """How many feeds carried the story, for "now reported by N outlets"."""
        row = self.db.execute(
            "select outlet_count from stories where id = ?", [story_id]
        ).fetchone()
        return int(row[0]) if row else 0

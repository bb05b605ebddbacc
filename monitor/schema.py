"""The database schema: every table, index and FTS index, as sqlite-utils migrations.

Migrations run on every start (``Store.open``) and are recorded in ``_sqlite_migrations``; a change
to the schema is a new migration appended here, never an edit of an applied one.
"""

from __future__ import annotations

import json

import sqlite_utils
from sqlite_utils import Migrations

from monitor.pairs import PAIR_TOKENIZER, WORD_TOKENIZER, pair_text
from monitor.records import Article
from monitor.search import search_text

migrations = Migrations("monitor")

# The feeds that carried a story (parameter: story id), first reporter first.
STORY_OUTLETS = (
    "select coalesce(f.name, f.title, f.url) from sightings si "
    "join articles a on a.id = si.article_id join feeds f on f.id = si.feed_id "
    "where a.story_id = ? group by si.feed_id "
    "order by min(coalesce(si.published, a.published, si.first_seen)), si.feed_id"
)


@migrations()
def m001_initial(db: sqlite_utils.Database) -> None:
    db.table("feeds").create(
        {
            "id": int,
            "url": str,
            "name": str,
            "title": str,
            "origin": str,  # "config" or "cli": who added it
            "interval": int,
            "enabled": int,
            "disabled_reason": str,
            "etag": str,
            "last_modified": str,
            "body_hash": str,
            "last_attempt": str,
            "last_success": str,
            "last_status_code": int,
            "last_error": str,
            "last_warning": str,
            "consecutive_failures": int,
            "next_due": str,
            "held_until": str,
            "created": str,
        },
        pk="id",
        not_null={"url", "origin", "interval", "enabled", "consecutive_failures"},
        defaults={"enabled": 1, "consecutive_failures": 0},
    )
    db.table("feeds").create_index(["url"], unique=True)

    db.table("stories").create(
        {
            "id": int,
            "title": str,
            "url": str,
            "first_published": str,
            "first_seen": str,
            "last_seen": str,
            "article_count": int,
            "entities": str,
            "organisations": str,  # JSON lists
            "score": float,
            "why": str,  # why: JSON list, from the story's first article
            "alerted": int,
            "alerted_at": str,
        },
        pk="id",
        defaults={"alerted": 0, "article_count": 0},
    )
    db.table("stories").create_index(["first_published"])

    db.table("articles").create(
        {
            "id": int,
            "feed_id": int,  # the feed it was first seen in
            "guid": str,
            "url": str,
            "canonical_url": str,
            "content_hash": str,
            "title_key": str,
            "title": str,
            "summary": str,
            "content": str,
            "published": str,
            "authors": str,
            "first_seen": str,
            "updated": str,
            "entities": str,
            "organisations": str,
            "alert_worthy": int,
            "score": float,
            "why": str,
            "story_id": int,
        },
        pk="id",
        foreign_keys=[("feed_id", "feeds", "id"), ("story_id", "stories", "id")],
    )
    db.table("articles").create_index(["canonical_url"])
    db.table("articles").create_index(["content_hash"])
    db.table("articles").create_index(["story_id"])
    db.table("articles").create_index(["published"])
    db.table("articles").enable_fts(
        ["title", "summary", "content"], create_triggers=True, tokenize="porter"
    )

    # A sighting is one feed carrying one article: feed+guid is how re-polls are recognised.
    db.table("sightings").create(
        {
            "feed_id": int,
            "guid": str,
            "article_id": int,
            "first_seen": str,
        },
        pk=("feed_id", "guid"),
        foreign_keys=[("feed_id", "feeds", "id"), ("article_id", "articles", "id")],
    )
    db.table("sightings").create_index(["article_id"])

    db.table("digests").create(
        {
            "id": str,
            "channel": str,
            "created": str,
            "status": str,  # pending | sent | failed
            "story_ids": str,
            "attempts": int,
            "last_error": str,
            "sent_at": str,
        },
        pk="id",
        defaults={"attempts": 0},
    )
    db.table("digests").create_index(["channel", "status"])

    # The outbox: one row per story per channel, pending until the channel accepted it.
    db.table("deliveries").create(
        {
            "id": int,
            "story_id": int,
            "channel": str,
            "status": str,  # pending | sent | failed
            "queued_at": str,
            "digest_id": str,
            "sent_at": str,
            "last_error": str,
        },
        pk="id",
        foreign_keys=[("story_id", "stories", "id"), ("digest_id", "digests", "id")],
    )
    db.table("deliveries").create_index(["story_id", "channel"], unique=True)
    db.table("deliveries").create_index(["channel", "status"])


def register_functions(db: sqlite_utils.Database) -> None:
    """SQL functions the schema's triggers call; every connection that writes articles needs
    them (``Store.open`` registers them before migrating)."""
    db.conn.create_function("monitor_search_text", 1, search_text, deterministic=True)
    db.conn.create_function("monitor_pair_text", 1, pair_text, deterministic=True)


# The search indexes (article_search_fts, and article_recent_fts over the newest articles) must
# agree on columns, tokeniser and ranking weights: search ranks on either and expects one answer.
_SEARCH_COLUMNS = "title, summary, content"
_SEARCH_INDEXED = ", ".join(f"monitor_search_text(new.{c})" for c in _SEARCH_COLUMNS.split(", "))


def pair_texts(article: Article) -> dict[str, str]:
    """What the pair index's insert trigger asks ``monitor_pair_text`` about this article (its
    indexed columns), with the answers: made where the article is parsed, off the store
    thread, and handed to ``pairs.made_ahead`` around the insert."""
    texts = [search_text(getattr(article, column)) for column in _SEARCH_COLUMNS.split(", ")]
    return {text: pair_text(text) or "" for text in texts if text}


def _create_search_table(
    db: sqlite_utils.Database, name: str, content: str | None = None, tokenize: str = WORD_TOKENIZER
) -> None:
    """An FTS5 table over the articles' search text: English stems, titles weighing most.
    ``content``: an index that holds the text, so this one stores only its postings (''
    for none at all)."""
    options = "" if content is None else f", content = '{content}'"
    db.execute(
        f"create virtual table {name} using fts5({_SEARCH_COLUMNS}, "
        f'tokenize = "{tokenize}"{options})'
    )
    db.execute(f"insert into {name} ({name}, rank) values ('rank', 'bm25(10.0, 3.0, 1.0)')")


@migrations()
def m_issue7_search_index(db: sqlite_utils.Database) -> None:
    """Replace articles_fts with an index that finds Chinese terms and English stems alike.

    ``article_search_fts`` holds the articles' title, summary and content as ``search_text``
    spells them (each CJK character its own token; see ``monitor.search``), tokenised by
    ``porter unicode61``. Triggers keep it in step with ``articles``. Titles weigh most in the
    ranking, then summaries. articles_fts (plain porter, blind to 立讯 inside 立讯精密 and to
    "OpenAI" glued to Chinese text) is dropped with its triggers: nothing else read it.
    """
    register_functions(db)
    _create_search_table(db, "article_search_fts")
    columns, indexed = _SEARCH_COLUMNS, _SEARCH_INDEXED
    db.executescript(
        f"""
        create trigger article_search_ai after insert on articles begin
          insert into article_search_fts (rowid, {columns}) values (new.id, {indexed});
        end;
        create trigger article_search_ad after delete on articles begin
          delete from article_search_fts where rowid = old.id;
        end;
        create trigger article_search_au after update of {columns} on articles begin
          delete from article_search_fts where rowid = old.id;
          insert into article_search_fts (rowid, {columns}) values (new.id, {indexed});
        end;
        """
    )
    db.execute(
        f"insert into article_search_fts (rowid, {columns}) "
        f"select id, {indexed.replace('new.', '')} from articles"
    )
    if db.table("articles_fts").exists():
        db.table("articles").disable_fts()


@migrations()
def m_issue3_feed_health(db: sqlite_utils.Database) -> None:
    """Feed health for polite fetching: where a feed moved (301/308), how it is scheduled
    (interval = "auto", the interval last used, the feed's own <ttl>), and the entries it carried
    that were not stored, each with the reason."""
    feeds = db.table("feeds")
    feeds.add_column("moved_to", str)  # the feed's new URL after a permanent redirect
    feeds.add_column("moved_at", str)
    feeds.add_column("auto_interval", int, not_null_default=0)
    feeds.add_column("poll_interval", int)  # seconds from the last poll to the next, with jitter
    feeds.add_column("ttl", int)  # the feed's own <ttl>, in seconds
    db.table("rejected_entries").create(
        # copies: how many entries with this id one body carried beyond the one stored
        {"feed_id": int, "guid": str, "reason": str, "copies": int, "first_seen": str},
        pk=("feed_id", "guid"),
        foreign_keys=[("feed_id", "feeds", "id")],
    )


@migrations()
def m_issue5_delivery_lanes(db: sqlite_utils.Database) -> None:
    # digests.lane: "scheduled", "immediate" (counted against max_immediate_per_hour) or
    # "manual" (digest --send). next_attempt: when a temporarily failed digest is retried.
    # updates: JSON [[story_id, outlets], ...], the "now reported by N outlets" lines it carries.
    digests = db.table("digests")
    digests.add_column("lane", str)
    digests.add_column("next_attempt", str)
    digests.add_column("updates", str)
    # payload: the digest's JSON payload as first made, so a resend repeats it exactly.
    digests.add_column("payload", str)
    # deliveries.outlets_reported: how many outlets the channel was last told of for the story.
    db.table("deliveries").add_column("outlets_reported", int)
    digests.create_index(["channel", "lane", "sent_at"])


@migrations()
def m_issue8_events(db: sqlite_utils.Database) -> None:
    """The detector's typed event (JSON) on each article and story, and which rules matched an
    article and the channels they route to (JSON lists)."""
    db.table("articles").add_column("event", str)
    db.table("articles").add_column("rules", str)
    db.table("articles").add_column("channels", str)
    db.table("stories").add_column("event", str)


@migrations()
def m_issue7_search_filters(db: sqlite_utils.Database) -> None:
    """What search filters and sorts on, for every article, in one covering index.

    A filtered search looks up each match in articles; the columns it needs (published, alert
    flag, story, feed, entities) sit after the article's text, so each lookup read the text's
    overflow pages. Read from this index instead, the lookup costs a tenth (bench_search.py).
    """
    db.table("articles").create_index(
        ["id", "published", "first_seen", "alert_worthy", "story_id", "feed_id", "entities"],
        index_name="article_search_filters",
    )


@migrations()
def m_issue4_stories(db: sqlite_utils.Database) -> None:
    """Stories for every article, sighting links, revisions, and the near-duplicate index."""
    # Each sighting keeps the link its own feed gave, so a digest links every outlet's own page.
    db.table("sightings").add_column("url", str)
    db.table("sightings").add_column("published", str)
    db.execute(
        "update sightings set url = (select url from articles a where a.id = article_id), "
        "published = (select published from articles a where a.id = article_id)"
    )
    # How often a feed changed an entry after we first stored it (1 = never).
    db.table("articles").add_column("revisions", int, not_null_default=1)

    stories = db.table("stories")
    stories.add_column("alert_worthy", int, not_null_default=0)  # any article alert-worthy
    stories.add_column("outlet_count", int, not_null_default=0)  # distinct feeds that carried it
    stories.add_column("outlet_names", str)  # JSON list of the feeds, first reporter first
    stories.add_column("anchors", str)  # JSON list: figures and codes of all its articles
    stories.add_column("article_id", int)  # the representative article (earliest published)
    # Before this migration only alert-worthy articles had stories.
    db.execute("update stories set alert_worthy = 1, anchors = '[]'")
    db.execute(
        "update stories set article_id = (select min(id) from articles a "
        "where a.story_id = stories.id), outlet_count = (select count(distinct si.feed_id) "
        "from sightings si join articles a on a.id = si.article_id where a.story_id = stories.id)"
    )
    stories.create_index(["alert_worthy", "first_published"])

    # Story lookup by organisation and time, so a new article meets only the stories naming one
    # of its organisations in its window, however many stories are stored.
    db.execute(
        "create table story_organisations (organisation text not null, "
        "first_published text not null, story_id integer not null references stories(id), "
        "primary key (organisation, first_published, story_id)) without rowid"
    )
    for row in db.execute("select id, organisations, first_published from stories").fetchall():
        for name in json.loads(row[1] or "[]"):
            db.execute(
                "insert or ignore into story_organisations values (?, ?, ?)",
                [name, row[2] or "", row[0]],
            )

    # MinHash signatures, and their LSH band keys as a clustered index: candidates for a new
    # article are the articles sharing a band key, found by key without reading the table.
    db.execute(
        "create table article_sketches (article_id integer primary key references articles(id), "
        "published text, minhash blob not null, anchors text not null)"
    )
    db.execute(
        "create table article_bands (band integer not null, article_id integer not null, "
        "primary key (band, article_id)) without rowid"
    )


@migrations()
def m_issue7_views(db: sqlite_utils.Database) -> None:
    """Views for browsing the archive with SQL tools and Datasette (docs/schema.md).

    ``alerted_stories``: one row per alerted story, newest alert first, with how many outlets
    carried it and their names, first reporter first. ``article_search``: articles with their
    feed's name and their story's title, the rows Datasette shows for a search of
    ``article_search_fts`` (docs/datasette-metadata.json says so).
    """
    db.create_view(
        "alerted_stories",
        """
        select s.id, s.title, s.url, s.first_published, s.alerted_at, s.article_count,
               s.outlet_count,
               (select group_concat(value, ', ') from json_each(s.outlet_names)) as outlets,
               s.entities, s.score, s.why
        from stories s where s.alerted = 1
        order by s.alerted_at desc, s.id desc
        """,
    )
    db.create_view(
        "article_search",
        """
        select a.id, a.title, a.url, a.published, coalesce(f.name, f.title, f.url) as feed,
               a.story_id, s.title as story_title, a.alert_worthy, a.score, a.entities,
               a.summary
        from articles a join feeds f on f.id = a.feed_id
        left join stories s on s.id = a.story_id
        """,
    )


RECENT_ARTICLES = 20_000  # how many of the newest articles article_recent_fts holds


@migrations()
def m_issue7_recent_index(db: sqlite_utils.Database) -> None:
    """A second FTS5 index over only the newest RECENT_ARTICLES articles, for ranking.

    bm25 weighs each term by how many documents in the whole index contain it, and FTS5 counts
    them afresh for every query: for a common word that is a walk of its whole posting list, so
    ranking got slower in step with the archive even though search ranks only the newest 1,000
    matches. Those newest matches nearly always lie among the newest articles, so ranking runs
    on this small index when it holds the whole window (monitor.queries falls back to
    ``article_search_fts`` when it does not). Same columns, tokeniser and weights; triggers add
    each new article and drop the one that falls out of the window.
    """
    _create_search_table(db, "article_recent_fts")
    columns, indexed = _SEARCH_COLUMNS, _SEARCH_INDEXED
    db.executescript(
        f"""
        create trigger article_recent_ai after insert on articles begin
          insert into article_recent_fts (rowid, {columns}) values (new.id, {indexed});
          delete from article_recent_fts where rowid <= new.id - {RECENT_ARTICLES};
        end;
        create trigger article_recent_ad after delete on articles begin
          delete from article_recent_fts where rowid = old.id;
        end;
        create trigger article_recent_au after update of {columns} on articles begin
          delete from article_recent_fts where rowid = old.id;
          insert into article_recent_fts (rowid, {columns}) select new.id, {indexed}
          where new.id > (select max(id) from articles) - {RECENT_ARTICLES};
        end;
        """
    )
    db.execute(
        f"insert into article_recent_fts (rowid, {columns}) "
        f"select rowid, {columns} from article_search_fts "
        f"where rowid > (select coalesce(max(rowid), 0) from article_search_fts) "
        f"- {RECENT_ARTICLES}"
    )


@migrations()
def m_issue6_daemon_ops(db: sqlite_utils.Database) -> None:
    # One row per poll cycle that polled something: what `monitor status` shows as the last
    # cycle. Pruned by housekeeping to the most recent few thousand.
    db.table("cycles").create(
        {
            "id": int,
            "origin": str,  # "daemon" or "once"
            "started": str,
            "finished": str,
            "feeds_polled": int,
            "not_modified": int,
            "failed": int,
            "new_articles": int,
            "new_stories": int,
            "alerts_queued": int,
            "digests_sent": int,
            "cancelled": int,  # 1 when a shutdown cut the cycle short
        },
        pk="id",
    )
    # The daemon's scheduled jobs as it last saw them, so another process (`monitor status`)
    # can say what runs next and whether the daemon is keeping up.
    db.table("jobs").create(
        {
            "id": str,
            "next_run": str,
            "last_run": str,
            "last_error": str,
        },
        pk="id",
    )


# Block indexes: ranking a window of matches older than article_recent_fts reaches, and finding
# the ids a --since/--until range can hold. Articles are grouped in blocks of BLOCK_ARTICLES ids
# (ids grow with ingest time); each of the newest RING_BLOCKS blocks has an FTS5 index of its own.
BLOCK_ARTICLES = 10_000
RING_BLOCKS = 16


def block_index(slot: int) -> str:
    """The FTS5 table of ring slot ``slot`` (0 <= slot < RING_BLOCKS)."""
    return f"article_block_fts_{slot}"


@migrations()
def m_issue7_search_blocks(db: sqlite_utils.Database) -> None:
    """Bound search's work by what it ranks, not by the size of the archive.

    bm25 counts, for every query, the documents of the whole index that contain each term (for
    a phrase, checking positions in each): a window of matches that reaches past the newest
    RECENT_ARTICLES articles was ranked on the full index at a cost growing with the archive.

    - ``article_blocks``: per block of BLOCK_ARTICLES ids, the earliest and latest time
      (published, else first seen) of its articles; triggers widen them as articles come and
      change (never narrow: a bound may be loose, never wrong). ``--since``/``--until`` become
      an id range the index walk stays within, instead of a filter checked on every match.
    - ``article_block_fts_0`` .. ``_15``: a ring of FTS5 indexes, block ``b`` in slot
      ``b % RING_BLOCKS``, so the newest RING_BLOCKS blocks each have a small index to rank in
      (bm25 counts within the block). They store no text: their content is
      ``article_search_fts`` (snippets read it there). When a block starts in a slot, the
      slot's old block is wiped at once ('delete-all'); ``article_search_ring`` says which
      block each slot holds.
    - ``article_recent_fts`` is rebuilt once here and optimised every RECENT_ARTICLES
      articles from now on: dropping one article per insert left FTS5 delete markers and dead
      postings that no merge reclaimed (at 100,000 articles it held 4x its live size, and its
      queries ran 2 to 30 times slower).
    - ``article_alerts``: the alert-worthy articles, a small share, for ``--matched``.
    """
    size, ring = BLOCK_ARTICLES, RING_BLOCKS
    when = "coalesce(new.published, new.first_seen)"
    db.execute(
        "create table article_blocks (block integer primary key, earliest text, latest text)"
    )
    db.execute(
        "create table article_search_ring (slot integer primary key, block integer not null)"
    )
    for slot in range(ring):
        _create_search_table(db, block_index(slot), content="article_search_fts")
    columns, indexed = _SEARCH_COLUMNS, _SEARCH_INDEXED
    slot_of, block_of = f"(new.id / {size}) % {ring}", f"new.id / {size}"
    held = f"(select block from article_search_ring where slot = {slot_of})"
    wipe = "\n".join(
        f"  insert into {block_index(s)} ({block_index(s)}) select 'delete-all' "
        f"where {slot_of} = {s} and {held} < {block_of};"
        for s in range(ring)
    )
    add = "\n".join(
        f"  insert into {block_index(s)} (rowid, {columns}) select new.id, {indexed} "
        f"where {slot_of} = {s} and {held} = {block_of};"
        for s in range(ring)
    )
    old_indexed = indexed.replace("new.", "old.")
    old_slot, old_block = f"(old.id / {size}) % {ring}", f"old.id / {size}"
    old_held = f"(select block from article_search_ring where slot = {old_slot})"
    remove = "\n".join(
        f"  insert into {block_index(s)} ({block_index(s)}, rowid, {columns}) "
        f"select 'delete', old.id, {old_indexed} "
        f"where {old_slot} = {s} and {old_held} = {old_block};"
        for s in range(ring)
    )
    widen = f"""
          insert into article_blocks (block, earliest, latest) values ({block_of}, {when}, {when})
          on conflict (block) do update set
            earliest = coalesce(min(earliest, excluded.earliest), earliest, excluded.earliest),
            latest = coalesce(max(latest, excluded.latest), latest, excluded.latest);"""
    db.executescript(
        f"""
        create trigger article_blocks_ai after insert on articles begin {widen}
        end;
        create trigger article_blocks_au after update of published, first_seen on articles
        begin {widen}
        end;
        create trigger article_ring_ai after insert on articles begin
        {wipe}
          insert into article_search_ring (slot, block) values ({slot_of}, {block_of})
          on conflict (slot) do update set block = excluded.block
          where excluded.block > article_search_ring.block;
        {add}
        end;
        create trigger article_ring_ad after delete on articles begin
        {remove}
        end;
        create trigger article_ring_au after update of {columns} on articles begin
        {remove}
        {add}
        end;
        create trigger article_recent_tidy after insert on articles
        when new.id % {RECENT_ARTICLES} = 0 begin
          insert into article_recent_fts (article_recent_fts) values ('optimize');
        end;
        """
    )
    db.execute(
        f"insert into article_blocks (block, earliest, latest) "
        f"select id / {size}, min(coalesce(published, first_seen)), "
        f"max(coalesce(published, first_seen)) from articles group by id / {size}"
    )
    newest = db.execute("select max(block) from article_blocks").fetchone()[0]
    if newest is not None:
        for block in range(max(0, newest - ring + 1), newest + 1):
            slot = block % ring
            db.execute("insert into article_search_ring (slot, block) values (?, ?)", [slot, block])
            db.execute(
                f"insert into {block_index(slot)} (rowid, {columns}) "
                f"select rowid, {columns} from article_search_fts "
                "where rowid between ? and ?",
                [block * size, (block + 1) * size - 1],
            )
    db.execute("insert into article_recent_fts (article_recent_fts) values ('optimize')")
    # --matched: the few alert-worthy articles, with what the other filters read.
    db.execute(
        "create index article_alerts on articles "
        "(id, published, first_seen, story_id, feed_id, entities) where alert_worthy = 1"
    )


def _follow_articles(
    db: sqlite_utils.Database, name: str, add: str, remove: str, updated: str
) -> None:
    """Triggers ``{name}_ai``, ``_ad``, ``_au``: ``add`` after an insert into articles,
    ``remove`` after a delete, both after an update of the columns ``updated``."""
    db.executescript(
        f"""
        create trigger {name}_ai after insert on articles begin {add} end;
        create trigger {name}_ad after delete on articles begin {remove} end;
        create trigger {name}_au after update of {updated} on articles
        begin {remove} {add} end;
        """
    )


@migrations()
def m_issue7_alert_index(db: sqlite_utils.Database) -> None:
    """``article_alert_fts``: the search index of the alert-worthy articles alone.

    ``monitor search --matched`` searches the articles worth an alert, a small share of the
    archive. Walking the full or block indexes, it met every match of the words and skipped
    nearly all of them; over this index it meets only alert-worthy ones, and bm25 counts
    documents among them (ranking within that collection). Postings only, like the block
    indexes: the text is read from ``article_search_fts``. Triggers follow inserts, deletes,
    and updates of the text or of ``alert_worthy``.
    """
    _create_search_table(db, "article_alert_fts", content="article_search_fts")
    columns, indexed = _SEARCH_COLUMNS, _SEARCH_INDEXED
    old_indexed = indexed.replace("new.", "old.")
    add = (
        f"insert into article_alert_fts (rowid, {columns}) select new.id, {indexed} "
        "where new.alert_worthy = 1;"
    )
    remove = (
        f"insert into article_alert_fts (article_alert_fts, rowid, {columns}) "
        f"select 'delete', old.id, {old_indexed} where old.alert_worthy = 1;"
    )
    _follow_articles(db, "article_alert", add, remove, f"alert_worthy, {columns}")
    db.execute(
        f"insert into article_alert_fts (rowid, {columns}) "
        f"select rowid, {columns} from article_search_fts "
        "where rowid in (select id from articles where alert_worthy = 1)"
    )


@migrations()
def m_issue7_phrase_pairs(db: sqlite_utils.Database) -> None:
    """``article_pair_fts``: each position's word paired with the next (see ``monitor.pairs``).

    A phrase of common words was the one kind of query whose cost grew with the archive: FTS5
    walks the position lists of every word in it, and bm25 walks them again to count the
    articles holding the phrase. In this index a two-word phrase is one token, with postings as
    short as the phrase is rare; queries made only of phrases are ranked here, with the same
    bm25 scores. Contentless (no text, no rowid table): a delete hands FTS5 the pairs again,
    computed from the old text as they were on insert.
    """
    register_functions(db)
    _create_search_table(db, "article_pair_fts", content="", tokenize=PAIR_TOKENIZER)
    columns = _SEARCH_COLUMNS
    paired = ", ".join(f"monitor_pair_text({c})" for c in _SEARCH_INDEXED.split(", "))
    old_paired = paired.replace("new.", "old.")
    add = f"insert into article_pair_fts (rowid, {columns}) values (new.id, {paired});"
    remove = (
        f"insert into article_pair_fts (article_pair_fts, rowid, {columns}) "
        f"values ('delete', old.id, {old_paired});"
    )
    _follow_articles(db, "article_pair", add, remove, columns)
    db.execute(
        f"insert into article_pair_fts (rowid, {columns}) "
        f"select id, {paired.replace('new.', '')} from articles"
    )


@migrations()
def m_issue3_band_watermark(db: sqlite_utils.Database) -> None:
    """``article_bands_written``: the article up to which ``article_bands`` holds the band keys.

    The keys of newer articles wait in memory and are written in batches (``monitor.bands``);
    after a crash they are rebuilt from the signatures above this mark.
    """
    db.execute(
        "create table article_bands_written "
        "(id integer primary key check (id = 1), upto integer not null)"
    )
    db.execute(
        "insert into article_bands_written select 1, coalesce(max(article_id), 0) "
        "from article_sketches"
    )

"""The command line: parse options, call one library function, format the result."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from monitor import __version__, atom, queries, runlog
from monitor.config import Config, load_config, reference, resolve_path
from monitor.delivery import deliver, preview_digest
from monitor.digest import render
from monitor.errors import ConfigError, MonitorError, QueryError, StorageError
from monitor.lock import DatabaseLock
from monitor.logs import LOG_FORMATS, setup_logging
from monitor.normalise import normalise
from monitor.notify import redact_url, scrub
from monitor.output import FORMATS, format_record, format_rows
from monitor.pipeline import Context, poll, watchlist_of
from monitor.progress import progress_bar
from monitor.records import Entry
from monitor.rules import describe
from monitor.schedule import parse_duration
from monitor.store import Store
from monitor.timeutil import utcnow

F = TypeVar("F", bound=Callable[..., Any])


class ConfigProblem(click.ClickException):
    """A configuration error: exit status 2, message names the key."""

    exit_code = 2


@dataclass
class State:
    config_path: str | None
    db_path: str | None
    verbose: int = 0
    _config: Config | None = field(default=None, repr=False)

    def load_config(self) -> Config:
        """Read the configuration file afresh (the daemon does on SIGHUP); raises ConfigError."""
        config = load_config(resolve_path(self.config_path))
        return replace(config, storage_path=self.db_path) if self.db_path else config

    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = self.load_config()
            except ConfigError as e:
                raise ConfigProblem(str(e)) from None
        return self._config

    @contextmanager
    def store(self, *, existing: bool = False) -> Iterator[Store]:
        """The database: --db PATH, else the configured storage.path. Read-only commands pass
        ``existing`` so a mistyped path is an error, not a new empty database."""
        path = self.db_path or self.config().storage_path
        if existing and not Path(path).is_file():
            raise click.ClickException(
                f"no database at {path} (run `monitor run --once` first, or give --db PATH)"
            )
        try:
            store = Store.open(path)
        except StorageError as e:
            raise click.ClickException(str(e)) from None
        try:
            yield store
        finally:
            store.close()

    @contextmanager
    def lock(self, db_path: str, purpose: str = "daemon") -> Iterator[None]:
        try:
            with DatabaseLock(db_path, purpose):
                yield
        except StorageError as e:
            raise click.ClickException(str(e)) from None


def output_option(f: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(f)


def record_output_option(f: F) -> F:
    """--format for commands that print one record (show, explain): text for people, or JSON."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(["text", "json"]),
        default="text",
        show_default=True,
        help="Output format.",
    )(f)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    help="Configuration file. Default: $MONITOR_CONFIG, else config/monitor.toml.",
)
@click.option("--db", "db_path", metavar="PATH", help="SQLite database; overrides storage.path.")
@click.option("-v", "--verbose", count=True, help="More logging (repeat for more).")
@click.option("-q", "--quiet", count=True, help="Less logging.")
@click.option(
    "--log-format",
    type=click.Choice(LOG_FORMATS),
    default="human",
    show_default=True,
    help="Log lines for people, or one JSON object per line for log collectors.",
)
@click.version_option(__version__, prog_name="monitor")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: str | None,
    db_path: str | None,
    verbose: int,
    quiet: int,
    log_format: str,
) -> None:
    """Watch news feeds for hardware-partnership stories about the companies you follow.

    Global options come before the command:

        monitor --config config/monitor.toml run --once
    """
    setup_logging(verbose, quiet, log_format)
    ctx.obj = State(config_path, db_path, verbose)


@cli.command()
@click.option("--once", is_flag=True, help="Poll every enabled feed now, send due digests, exit.")
@click.pass_obj
def run(state: State, once: bool) -> None:
    """Run the daemon, or one poll cycle with --once.

    With --once every enabled feed is polled whatever its interval, except feeds held back by a
    server's Retry-After or by error backoff. Exit status is 0 even when some feeds failed;
    non-zero only for configuration (2) or database (1) errors.

    Example: monitor --config config/monitor.toml run --once
    """
    config = state.config()
    # One writer per database: a second daemon (or a cron `run --once` overlapping the daemon)
    # would poll the same feeds and send the same digests twice.
    with state.lock(config.storage_path), state.store() as store:
        if not once:
            from monitor.daemon import run_daemon

            run_daemon(config, store, state.load_config)
            return
        started = utcnow()
        with progress_bar("Polling feeds") as advance:
            summary, _ = asyncio.run(
                poll(Context.build(config, store), started, force=True, progress=advance)
            )
        outcomes = deliver(store, config, utcnow())
        atom.export_configured(config, store.db, utcnow())
        runlog.record_cycle(
            store.db,
            summary,
            origin="once",
            started=started,
            finished=utcnow(),
            digests_sent=sum(o.status == "sent" for o in outcomes),
        )
    click.echo(
        f"polled {summary.feeds_polled} feeds ({summary.not_modified} not modified, "
        f"{summary.failed} failed): {summary.new_articles} new articles, "
        f"{summary.new_stories} new stories, {summary.alerts_queued} alerts queued; "
        f"{sum(o.status == 'sent' for o in outcomes)} digests sent",
        err=True,
    )


@cli.command()
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Folder for monitor.db and digests/.",
)
@click.option(
    "--fixtures",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Fixtures folder to serve (default: the checkout's fixtures/).",
)
@click.pass_obj
def demo(state: State, out: Path, fixtures: Path | None) -> None:
    """Run the whole pipeline offline on the bundled fixtures and print the digest.

    Serves fixtures/ over a local HTTP server, polls every feed into OUT/monitor.db, writes the
    digest to OUT/digests/ (txt, html, json and the .eml a mail would be) and prints it. Each
    run starts from an empty database.

    Example: monitor demo --out /tmp/demo
    """
    from monitor.demo import find_fixtures, run_demo

    if not state.verbose:  # the digest is the point here; per-feed log lines would bury it
        logging.getLogger("monitor").setLevel(logging.WARNING)
    try:
        fixtures = fixtures or find_fixtures()
    except FileNotFoundError as e:
        raise click.ClickException(str(e)) from None
    result = run_demo(fixtures, out)
    s = result.summary
    for path in result.digest_files:
        if path.suffix == ".txt":
            click.echo(path.read_text(encoding="utf-8"))
    click.echo(
        f"Polled {s.feeds_polled} feeds: {s.new_articles} articles stored, {s.new_stories} "
        f"stories alerted.\nDigest files:\n"
        + "\n".join(f"  {p}" for p in result.digest_files)
        + f"\nExplore: {_program()} --db {out / 'monitor.db'} stories"
    )


def _moment(text: str | None, option: str) -> datetime | None:
    if text is None:
        return None
    try:
        return queries.parse_moment(text, utcnow())
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=option) from None


@cli.command()
@click.argument("query", required=False, default="")
@click.option("--since", metavar="WHEN", help="Published at or after: 2025-09-19, or 7d, 24h ago.")
@click.option("--until", metavar="WHEN", help="Published before: a date, a time or 7d, 24h ago.")
@click.option("--feed", metavar="NAME", help="Only articles carried by this feed (name or URL).")
@click.option("--entity", metavar="NAME", help="Only articles naming this watched entity.")
@click.option("--matched", is_flag=True, help="Only alert-worthy articles.")
@click.option(
    "--story",
    "story_id",
    type=int,
    metavar="ID",
    help="Only articles of this story; without QUERY, every outlet's copy of it.",
)
@click.option(
    "--limit", default=50, show_default=True, type=click.IntRange(1), help="Most results."
)
@click.option("--offset", default=0, type=click.IntRange(0), help="Skip this many results.")
@click.option(
    "--sort",
    type=click.Choice(queries.SORTS),
    default="relevance",
    show_default=True,
    help="Best match (bm25, titles weigh most) or newest first.",
)
@click.option(
    "--window",
    default=queries.RANK_WINDOW,
    show_default=True,
    type=click.IntRange(0),
    metavar="N",
    help="Rank among the newest N matching articles (0: all of them, slower on a big archive).",
)
@output_option
@click.pass_obj
def search(
    state: State,
    query: str,
    since: str | None,
    until: str | None,
    feed: str | None,
    entity: str | None,
    matched: bool,
    story_id: int | None,
    limit: int,
    offset: int,
    sort: str,
    window: int,
    fmt: str,
) -> None:
    """Full-text search of stored articles (title, summary, content), best match first.

    QUERY takes words (English words match their stems: device finds devices), "quoted
    phrases", AND, OR, NOT, parentheses and prefix* terms. Chinese and Japanese terms are found
    inside longer words: 立讯 finds 立讯精密. The snippet marks hits with [brackets].

    Example: monitor search '"AI device" AND (Luxshare OR 立讯)' --since 30d --format json
    """
    if not query.strip():
        if story_id is None:
            raise click.UsageError("give a QUERY to search for, or --story ID to list a story")
        with state.store(existing=True) as store:
            rows = queries.story_articles(store.db, story_id)
        if not rows:
            raise click.ClickException(f"no story with id {story_id}")
        click.echo(format_rows(rows, fmt, ["article_id", "published", "feed", "url", "title"]))
        return
    start, end = _moment(since, "--since"), _moment(until, "--until")
    with state.store(existing=True) as store:
        try:
            found = queries.search(
                store.db,
                query,
                since=start,
                until=end,
                feed=feed,
                entity=entity,
                matched=matched,
                story_id=story_id,
                limit=limit,
                offset=offset,
                sort=sort,
                window=window,
            )
        except QueryError as e:
            raise click.UsageError(str(e)) from None
    click.echo(format_rows(found.rows, fmt, ["id", "published", "feed", "story_id", "title"]))
    if found.window:
        click.echo(
            f"(ranked the newest {found.window} matching articles; narrow with --since/--until "
            "or give --window 0 to rank them all)",
            err=True,
        )


@cli.command()
@click.option("--since", metavar="WHEN", help="Only stories first published since: 7d, or a date.")
@click.option("--alerted/--not-alerted", default=None, help="Only alerted (or not yet alerted).")
@click.option("--limit", default=100, show_default=True)
@click.option(
    "--all", "everything", is_flag=True, help="Every story, not only the alert-worthy ones."
)
@output_option
@click.pass_obj
def stories(
    state: State, since: str | None, alerted: bool | None, limit: int, everything: bool, fmt: str
) -> None:
    """List stories: one per event, however many outlets reported it.

    A story groups every copy of one event: syndicated, reworded, translated. By default only
    alert-worthy stories are listed; --all lists every group of articles.

    Example: monitor stories --since 30d --format json
    """
    cutoff = _moment(since, "--since")
    with state.store(existing=True) as store:
        rows = queries.stories(
            store.db, since=cutoff, alerted=alerted, limit=limit, everything=everything
        )
    click.echo(
        format_rows(
            rows, fmt, ["id", "first_published", "outlet_count", "alerted", "entities", "title"]
        )
    )


@cli.command()
@click.argument("ident", metavar="ID")
@record_output_option
@click.pass_obj
def show(state: State, ident: str, fmt: str) -> None:
    """Show one story (ID, or story:ID) with every outlet's copy, its entities, score, why and
    deliveries; or one article (article:ID) with its match and the feeds that carried it.

    Story IDs are in `monitor stories`, article IDs in `monitor search`.

    Example: monitor show 3
    """
    kind, _, number = ident.rpartition(":")
    if kind not in ("", "story", "article") or not number.isdigit():
        raise click.BadParameter(
            f"{ident!r} is not a story ID (3, story:3) or an article ID (article:12)",
            param_hint="ID",
        )
    with state.store(existing=True) as store:
        if kind == "article":
            record = queries.article(store.db, int(number))
        else:
            record = queries.story(store.db, int(number))
    if record is None:
        raise click.ClickException(f"no {kind or 'story'} with ID {number}")
    click.echo(format_record(record, fmt))


@cli.group()
def export() -> None:
    """Write the archive in formats other tools read.

    Example: monitor export atom --since 30d > alerts.xml
    """


@export.command("atom")
@click.option("--since", metavar="WHEN", help="Stories alerted since: 30d, 2025-09-01.")
@click.option("--limit", default=atom.DEFAULT_LIMIT, show_default=True, type=click.IntRange(1))
@click.option("--self-url", metavar="URL", help="Where the feed will be served (rel=self link).")
@click.pass_obj
def export_atom(state: State, since: str | None, limit: int, self_url: str | None) -> None:
    """Print an Atom feed of the alerted stories, newest alert first, for any feed reader.

    Each entry links the story, lists its entities, score, why and every outlet's copy. Set
    [export] atom in the configuration to have `run` keep such a file up to date.

    Example: monitor export atom --since 30d > alerts.xml
    """
    start = _moment(since, "--since")
    with state.store(existing=True) as store:
        stories = atom.alert_stories(store.db, since=start, limit=limit)
    click.echo(atom.render(stories, utcnow(), self_url=self_url), nl=False)


@cli.command()
@click.option(
    "--since", metavar="WHEN", default="30d", show_default=True, help="Start: 30d or a date."
)
@click.option("--until", metavar="WHEN", help="End: a date, or 7d ago (default: now).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="HTML file to write.",
)
@click.pass_obj
def report(state: State, since: str, until: str | None, out: Path) -> None:
    """Write one self-contained HTML page about a period: mentions per watched entity per day,
    alerted stories on a timeline with their outlet counts, the outlets that broke stories
    first, and feed health. Charts are inline SVG: the page needs no network to view.

    Example: monitor report --since 30d --out report.html
    """
    from monitor.report import gather, render

    end = _moment(until, "--until") or utcnow()
    start = _moment(since, "--since") or end
    if start >= end:
        raise click.BadParameter("the period ends before it starts", param_hint="--since")
    with state.store(existing=True) as store:
        page = render(gather(store.db, start, end))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    click.echo(f"wrote {out} ({len(page) // 1024} KiB)", err=True)


@cli.group(invoke_without_command=True)
@output_option
@click.pass_obj
def feeds(state: State, fmt: str) -> None:
    """List feeds with their health: disabled and why, failing and since when, moved (301/308),
    last status and error, next due. JSON adds ETag, Last-Modified, rejected entries and more.

    Subcommands add, remove, import and export feeds (see `monitor feeds COMMAND --help`).

    Example: monitor feeds --format json
    """
    if click.get_current_context().invoked_subcommand is not None:
        return
    with state.store(existing=True) as store:
        rows = queries.feeds(store.db, utcnow())
    click.echo(format_rows(rows, fmt, queries.FEED_COLUMNS))


@cli.command()
@click.option(
    "--preview", is_flag=True, help="Render what the next digest would contain, without sending it."
)
@click.option(
    "--send",
    is_flag=True,
    help="Send what is pending now, whatever the schedule, quiet hours or retry backoff.",
)
@click.option("--channel", help="Only this channel (default: every channel).")
@click.option(
    "--as",
    "as_",
    type=click.Choice(["text", "html", "json"]),
    default="text",
    show_default=True,
    help="Rendering to print with --preview.",
)
@click.pass_obj
def digest(state: State, preview: bool, send: bool, channel: str | None, as_: str) -> None:
    """Show what the next digest would contain (--preview), or send it now (--send).

    With --send, an earlier digest that is still unsent goes first, with its own id; nothing
    pending means nothing is sent. Exit status 1 when a channel did not accept its digest.

    Example: monitor digest --preview --channel team
    """
    if preview == send:
        raise click.UsageError("give one of --preview or --send")
    config = state.config()
    channels = [c for c in config.channels if channel in (None, c.name)]
    if channel and not channels:
        raise click.ClickException(f"no channel named {channel!r} in {config.source}")
    if send:
        with state.store() as store:
            outcomes = deliver(store, config, utcnow(), force=True, channel=channel)
        for o in outcomes:
            click.echo(f"{o.channel}: {o.status} {o.digest_id} ({o.stories} stories)")
            if o.error:
                click.echo(f"  {o.error}", err=True)
        if not outcomes:
            click.echo("nothing pending: nothing sent")
        if any(o.status != "sent" for o in outcomes):
            sys.exit(1)
        return
    with state.store(existing=True) as store:
        for c in channels:
            rendered = render(preview_digest(store, c, utcnow()), c.templates)
            if as_ == "json":
                click.echo(json.dumps(rendered.payload, ensure_ascii=False, indent=2))
            else:
                click.echo(rendered.html if as_ == "html" else rendered.text)


@cli.group(invoke_without_command=True)
@click.option("--digests", "list_digests", is_flag=True, help="List digests instead of channels.")
@click.option("--limit", default=50, show_default=True, help="Most digests to list.")
@output_option
@click.pass_context
def deliveries(ctx: click.Context, list_digests: bool, limit: int, fmt: str) -> None:
    """Delivery status per channel: stories pending, sent and failed, the last error.

    With --digests, one row per digest (newest first) with its id, status and attempts; the
    id is what `monitor deliveries retry ID` takes.

    Example: monitor deliveries --digests --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    state: State = ctx.obj
    config = state.config()
    with state.store(existing=True) as store:
        if list_digests:
            rows = queries.digests(store.db, limit=limit)
            columns = ["id", "channel", "lane", "status", "stories", "attempts", "next_attempt"]
        else:
            rows = queries.channel_deliveries(store.db, [c.name for c in config.channels])
            columns = [
                "channel",
                "pending",
                "sending",
                "sent",
                "failed",
                "last_sent",
                "next_attempt",
            ]
    for row in rows:  # errors may quote a webhook URL or server reply: no secrets in output
        channel_config = next((c for c in config.channels if c.name == row["channel"]), None)
        if row.get("last_error") and channel_config is not None:
            row["last_error"] = scrub(channel_config, row["last_error"])
    click.echo(format_rows(rows, fmt, [*columns, "last_error"]))


@deliveries.command("retry")
@click.argument("digest_id", metavar="[ID]", required=False)
@click.pass_obj
def deliveries_retry(state: State, digest_id: str | None) -> None:
    """Re-queue a failed digest (or every failed one), keeping its id.

    Digests waiting out a retry backoff become due at once too. They go out on the next run,
    or now with `monitor digest --send`.

    Example: monitor deliveries retry 20250919T090000Z-team-3f2a9c1b
    """
    with state.store(existing=True) as store:
        requeued = store.requeue_digests(digest_id)
    if digest_id and not requeued:
        raise click.ClickException(
            f"no failed or pending digest {digest_id!r} (see `monitor deliveries --digests`)"
        )
    click.echo(f"re-queued {len(requeued)} digest{'' if len(requeued) == 1 else 's'}")
    for requeued_id in requeued:
        click.echo(f"  {requeued_id}")


@cli.command("check-config")
@click.pass_obj
def check_config(state: State) -> None:
    """Validate the configuration and explain what it will do. Exit status 2 when invalid,
    with a line naming the key of each mistake.

    Example: monitor --config config/monitor.toml check-config
    """
    config = state.config()
    click.echo(f"{config.source}: OK")
    click.echo(f"  database: {config.storage_path}")
    click.echo(f"  {len(config.feeds)} feeds ({sum(f.enabled for f in config.feeds)} enabled)")
    for f in config.feeds:
        click.echo(
            f"    - {f.name or f.url} "
            + ("interval auto" if f.auto_interval else f"every {f.interval}s")
            + ("" if f.enabled else " (disabled)")
        )
    click.echo(f"  watching {len(config.entities)} entities:")
    for name, aliases in config.entities.items():
        click.echo(f"    - {name}: {', '.join(aliases)}")
    click.echo(f"  {len(config.channels)} channels:")
    for c in config.channels:
        target = redact_url(c.url) if c.url else c.path or ", ".join(c.to)
        extras = [f"schedule {c.schedule.text}"]
        if c.schedule.kind == "cron" or c.quiet_hours:
            extras.append(f"timezone {c.timezone}")
        if c.quiet_hours:
            extras.append(f"quiet {c.quiet_hours.text}")
        if c.min_score is not None:
            extras.append(f"score >= {c.min_score:g} at once")
        if c.max_immediate_per_hour:
            extras.append(f"at most {c.max_immediate_per_hour} immediate per hour")
        if c.type == "webhook":
            extras.append(f"format {c.format}" + (", signed" if c.secret or c.secret_env else ""))
        click.echo(f"    - {c.name} ({c.type}) -> {target}, {', '.join(extras)}")
    rules = config.alert_rules()
    click.echo(f"  {len(rules)} rules:")
    for rule in rules:
        click.echo(f"    - {describe(rule)}")


@cli.command()
@click.argument("article_id", type=int, required=False)
@click.option("--title", help="Explain this headline instead of a stored article.")
@click.option("--summary", default="", help="The lead that goes with --title.")
@record_output_option
@click.pass_obj
def explain(
    state: State, article_id: int | None, title: str | None, summary: str, fmt: str
) -> None:
    """Show why an article is or is not an alert: score, parties, object, stage, evidence, cues,
    and each rule's verdict under the current configuration.

    Give a stored ARTICLE_ID (see `monitor search`), or --title and --summary.

    Example: monitor explain --title "OpenAI taps Luxshare to build its first device"
    """
    from monitor.explain import explain as explain_article
    from monitor.explain import render as render_explanation

    if (article_id is None) == (title is None):
        raise click.UsageError("give either ARTICLE_ID or --title (with --summary)")
    config = state.config()
    if title is not None:
        entry = Entry("explain", title, None, summary or None, None, None, ())
        article = normalise(entry, "https://explain.invalid/")
    else:
        assert article_id is not None
        with state.store(existing=True) as store:
            stored = store.stored_article(article_id)
        if stored is None:
            raise click.ClickException(f"no article with id {article_id}")
        article = stored.article
    explanation = explain_article(article, watchlist_of(config), config.alert_rules())
    if fmt == "json":
        click.echo(json.dumps(explanation, ensure_ascii=False, indent=2))
    else:
        click.echo(render_explanation(explanation))


@cli.command()
@click.option("--since", metavar="DURATION", help="Only articles published within, e.g. 30d.")
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option(
    "--alert",
    is_flag=True,
    help="Queue the stories of newly alert-worthy articles on their rules' channels.",
)
@click.pass_obj
def reclassify(state: State, since: str | None, dry_run: bool, alert: bool) -> None:
    """Re-run the detector and the rules over stored articles after a rule change, and report
    what changes. New verdicts are stored; old stories are never alerted unless --alert is given.

    Example: monitor reclassify --since 30d --dry-run
    """
    from monitor.replay import reclassify as replay

    try:
        cutoff = utcnow() - timedelta(seconds=parse_duration(since)) if since else None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--since") from None
    config = state.config()
    with state.store(existing=True) as store, progress_bar("Reclassifying") as advance:
        summary = replay(
            Context.build(config, store),
            cutoff,
            utcnow(),
            dry_run=dry_run,
            alert=alert,
            progress=advance,
        )
    for c in summary.changes:
        rules = ", ".join(c.now_rules) or "none"
        story = f"; story {c.story_id}" if c.story_id else ""
        queued = f"; {c.alerts_queued} alerts queued" if c.alerts_queued else ""
        click.echo(
            f"#{c.article_id} {c.kind} (score {c.was_score:.2f} -> {c.now_score:.2f}; "
            f"rules: {rules}{story}{queued}): {c.title}"
        )
    kinds = Counter(c.kind for c in summary.changes)
    counted = ", ".join(f"{n} {kind}" for kind, n in kinds.items()) or "nothing changes"
    click.echo(f"re-read {summary.articles} articles: {counted}")
    gained = kinds["now alert-worthy"]
    if dry_run:
        click.echo("dry run: nothing was written")
    elif gained and not alert:
        click.echo(
            "new verdicts stored; newly alert-worthy articles were not alerted "
            "(run again with --alert to queue them)"
        )


@cli.command("config-keys")
def config_keys() -> None:
    """List every configuration key with its default and meaning, as a Markdown table.

    Example: monitor config-keys
    """
    click.echo(reference())


def _program() -> str:
    """How the user invoked us (".venv/bin/monitor"), for commands we suggest."""
    invoked = sys.argv[0] if sys.argv else ""
    return invoked if Path(invoked).name == "monitor" else "monitor"


def main() -> None:
    try:
        cli(prog_name="monitor")
    except MonitorError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(1)
    except sqlite3.Error as e:  # a disk that filled up, a file another program locked or broke
        click.echo(f"Error: database: {type(e).__name__}: {e}", err=True)
        sys.exit(1)


# The operations commands (status, feeds add/remove/import/export, db) live in their own module.
from monitor import cli_ops  # noqa: E402

cli_ops.register(cli, feeds)

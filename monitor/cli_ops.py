"""Operations commands: `status`, `feeds add/remove/import/export` and `db prune/vacuum/backup`.

Kept apart from ``monitor.cli`` (which registers them) so the query commands and these evolve
without stepping on each other. Same rules: parse, call one library function, format.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor import feedadmin, retention, status
from monitor.errors import FeedError, MonitorError
from monitor.opml import read_opml, write_opml
from monitor.progress import progress_bar
from monitor.schedule import parse_duration
from monitor.timeutil import utcnow

if TYPE_CHECKING:
    from monitor.cli import State


def register(cli: click.Group, feeds: click.Group) -> None:
    cli.add_command(status_command)
    cli.add_command(db)
    for command in (feeds_add, feeds_remove, feeds_import, feeds_export):
        feeds.add_command(command)


@click.command("status")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option(
    "--no-daemon",
    is_flag=True,
    help="Do not count a stopped daemon as a problem (for `run --once` from cron).",
)
@click.pass_obj
def status_command(state: State, fmt: str, no_daemon: bool) -> None:
    """Health at a glance: daemon, last cycle, next jobs, failing and silent feeds, deliveries.

    Exit status 1 when unhealthy (no daemon on this database, the daemon stuck, every feed
    failing, deliveries failed or retried for over an hour), so it can serve as a container
    health check. Failing, disabled and silent feeds are reported as warnings.

    Example: monitor --db /var/lib/monitor/monitor.db status
    """
    with state.store(existing=True) as store:
        now = utcnow()
        report = status.assess(
            status.gather(store.db, store.path, now), now, expect_daemon=not no_daemon
        )
    if fmt == "json":
        click.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        click.echo(status.render_text(report))
    if not report.healthy:
        sys.exit(1)


def _interval(text: str | None, default: int) -> int:
    if text is None:
        return default
    try:
        return parse_duration(text)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--interval") from None


@click.command("add")
@click.argument("url")
@click.option("--name", help="Display name (default: the feed's own title).")
@click.option(
    "--interval", metavar="DURATION", help="How often to poll, e.g. 15m (default: fetch.interval)."
)
@click.option(
    "--no-discover",
    is_flag=True,
    help="Add the URL as it is, without fetching it to check it or find its feed.",
)
@click.pass_obj
def feeds_add(
    state: State, url: str, name: str | None, interval: str | None, no_discover: bool
) -> None:
    """Add a feed; a web page's URL is fetched and its feed found from <link rel="alternate">.

    The daemon picks the feed up at its next tick, without a restart. Feeds in the config
    file win: a URL listed there is changed in the file, not by this command.

    Example: monitor feeds add https://example.com/blog --interval 30m
    """
    config = state.config()
    try:
        url = feedadmin.check_url(url)
        found = feedadmin.Found(url, None, None)
        if not no_discover:
            with feedadmin.make_client(config.fetch.timeout, config.fetch.contact) as client:
                found = feedadmin.discover(url, client)
        with state.store() as store:
            outcome = feedadmin.add_feed(
                store.db,
                found.url,
                name=name,
                interval=_interval(interval, config.fetch.interval),
                now=utcnow(),
                config_urls=[f.url for f in config.feeds],
                config_source=config.source,
            )
    except FeedError as e:
        raise click.ClickException(str(e)) from None
    via = f" (found on {found.via})" if found.via else ""
    title = name or found.title
    click.echo(f"{outcome}: {found.url}{via}" + (f": {title}" if title else ""))


@click.command("remove")
@click.argument("feed")
@click.pass_obj
def feeds_remove(state: State, feed: str) -> None:
    """Stop polling a feed added by command (URL or id from `monitor feeds`); its articles stay.

    Example: monitor feeds remove https://example.com/feed.xml
    """
    config = state.config()
    with state.store(existing=True) as store:
        try:
            url = feedadmin.remove_feed(
                store.db,
                feed,
                config_urls=[f.url for f in config.feeds],
                config_source=config.source,
            )
        except FeedError as e:
            raise click.ClickException(str(e)) from None
    click.echo(f"removed: {url}")


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--interval", metavar="DURATION", help="Polling interval for the imported feeds.")
@click.pass_obj
def feeds_import(state: State, file: Path, interval: str | None) -> None:
    """Add every feed of an OPML file (as feed readers export them).

    Example: monitor feeds import subscriptions.opml
    """
    config = state.config()
    try:
        outlines = read_opml(file.read_bytes(), str(file))
    except MonitorError as e:
        raise click.ClickException(str(e)) from None
    with state.store() as store, progress_bar(f"Importing {file.name}") as advance:
        counts = feedadmin.import_outlines(
            store.db,
            outlines,
            interval=_interval(interval, config.fetch.interval),
            now=utcnow(),
            config_urls=[f.url for f in config.feeds],
            progress=advance,
        )
    click.echo(
        f"{len(outlines)} feeds in {file}: "
        + ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    )


@click.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE (default: stdout).",
)
@click.pass_obj
def feeds_export(state: State, out: Path | None) -> None:
    """Write every enabled feed (from the config and from commands) as OPML.

    Example: monitor feeds export --out subscriptions.opml
    """
    with state.store(existing=True) as store:
        text = write_opml(feedadmin.export_outlines(store.db), "monitor feeds", utcnow())
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@click.group()
def db() -> None:
    """Database upkeep: prune, vacuum, backup.

    Example: monitor db backup /backups/monitor-$(date +%F).db
    """


@db.command()
@click.option("--keep-days", type=click.IntRange(min=1), help="Default: storage.keep_days.")
@click.pass_obj
def prune(state: State, keep_days: int | None) -> None:
    """Prune the text of old articles that matched nothing, now (the daemon does it daily).

    Example: monitor db prune --keep-days 90
    """
    keep_days = keep_days or state.config().keep_days
    if not keep_days:
        raise click.UsageError("give --keep-days N or set [storage] keep_days in the config")
    with state.store(existing=True) as store:
        pruned = retention.prune_bodies(store.db, keep_days, utcnow())
        retention.optimise_search_index(store.db)
    click.echo(f"pruned the text of {pruned} articles older than {keep_days} days")


@db.command()
@click.pass_obj
def vacuum(state: State) -> None:
    """Rebuild the database file to give pruned space back (stop the daemon first).

    Example: monitor db vacuum
    """
    path = state.db_path or state.config().storage_path
    with state.lock(path, "vacuum"), state.store(existing=True) as store:
        before, after = retention.vacuum(store.db)
    click.echo(f"{path}: {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")


@db.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def backup(state: State, target: Path) -> None:
    """Copy the database to TARGET consistently, even while the daemon writes.

    Example: monitor db backup /backups/monitor.db
    """
    with state.store(existing=True) as store:
        try:
            retention.backup(store.db, target)
        except (FileExistsError, OSError) as e:
            raise click.ClickException(str(e)) from None
    click.echo(f"backed up {store.path} to {target}")

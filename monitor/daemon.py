"""The daemon: APScheduler 3.x drives the pipeline; the database holds the schedule.

One poll tick runs every TICK seconds and polls the feeds whose next_due has passed (so intervals,
backoff and Retry-After all live in the feeds table). Each channel gets a digest job on its own
schedule; ``immediate`` channels are served right after every tick. Jobs are coalesced, never run
twice at once, and run late rather than being dropped after a suspend.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable
from datetime import datetime
from types import FrameType

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.atom import export_configured
from monitor.config import Config
from monitor.delivery import deliver
from monitor.pipeline import Context, poll
from monitor.schedule import cron_trigger, parse_timezone
from monitor.store import Store
from monitor.timeutil import utcnow

log = logging.getLogger("monitor.daemon")

TICK = 30  # seconds between checks for due feeds
MISFIRE_GRACE = 3600  # a job late by up to an hour (suspend, busy machine) still runs, once


def run_daemon(config: Config, store: Store, clock: Callable[[], datetime] = utcnow) -> None:
    ctx = Context.build(config, store)
    scheduler = BlockingScheduler(
        timezone="UTC",
        # One worker: jobs share one SQLite connection and must not overlap.
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE},
    )

    def tick() -> None:
        now = clock()
        asyncio.run(poll(ctx, now))
        # Immediate channels go right after the poll; scheduled channels also get here, but
        # their schedule only says "due" when a fire time has passed.
        deliver(store, config, clock())
        export_configured(config, store.db, clock())  # [export] atom, when set

    def digests(channel: str) -> None:
        deliver(store, config, clock(), channel=channel)
        export_configured(config, store.db, clock())

    scheduler.add_job(tick, IntervalTrigger(seconds=TICK), id="poll", next_run_time=clock())
    for channel in config.channels:
        if channel.schedule.kind == "cron":
            trigger = cron_trigger(channel.schedule, parse_timezone(channel.timezone))
            scheduler.add_job(digests, trigger, args=[channel.name], id=f"digest:{channel.name}")

    def on_error(event: JobExecutionEvent) -> None:
        log.error(
            "job failed job=%s error=%r", event.job_id, event.exception, exc_info=event.exception
        )

    scheduler.add_listener(on_error, EVENT_JOB_ERROR)

    def stop(signum: int, frame: FrameType | None) -> None:
        log.info("stopping signal=%s", signal.Signals(signum).name)
        # Let a running job finish: the store is closed after this returns.
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info(
        "daemon started feeds=%d channels=%d db=%s",
        len(config.feeds),
        len(config.channels),
        store.path,
    )
    scheduler.start()
    log.info("daemon stopped")

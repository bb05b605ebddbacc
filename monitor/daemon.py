"""The daemon: APScheduler 3.x drives the pipeline; the database holds the schedule.

Jobs, all on one worker thread (they share one SQLite connection and must not overlap):

- ``poll``: every ``[daemon] tick`` (30 s), polls the feeds whose next_due has passed (intervals,
  jitter, backoff and Retry-After all live in the feeds table), then sends the digests that are due
  (``immediate`` channels are served here);
- ``digest:<channel>``: for channels on a cron line or ``every`` schedule, fires on that schedule;
- ``housekeeping``: daily, prunes old unmatched article text (``[storage] keep_days``), old cycle
  records and optimises the search index.

Every job is coalesced (after a suspend, the many missed runs become one), never runs twice at once,
and has no misfire limit: a job late by an hour still runs, once. APScheduler's default grace of one
second would silently drop it.

Signals are only noted by their handlers; the main thread acts on them between jobs:
SIGHUP reloads the whole configuration (an invalid file is logged and the running one kept);
SIGTERM/SIGINT stop: running work gets STOP_FINISH seconds to finish, a poll still running is then
cancelled (each feed is stored in its own transaction, so the feeds not yet stored simply stay due),
and anything that still has not ended by STOP_ABANDON is abandoned (SQLite rolls back its open
transaction; a digest being sent is resent with the same id on the next start). The process always
exits 0 within 10 seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import threading
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from queue import Empty, SimpleQueue
from types import FrameType
from typing import Any, TypeVar

from apscheduler.events import EVENT_JOB_ERROR, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor import runlog
from monitor.atom import export_configured
from monitor.config import ChannelConfig, Config
from monitor.delivery import deliver
from monitor.errors import MonitorError
from monitor.pipeline import Context, poll
from monitor.retention import housekeeping
from monitor.schedule import cron_trigger, parse_timezone
from monitor.store import Store
from monitor.timeutil import utcnow

log = logging.getLogger("monitor.daemon")

T = TypeVar("T")

# Every job: one run after any number of missed ones, never two at once, never dropped for being
# late (None: no grace limit).
JOB_DEFAULTS: dict[str, Any] = {"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
HOUSEKEEPING_EVERY = timedelta(days=1)
HOUSEKEEPING_FIRST = timedelta(minutes=5)  # after start, so the first poll comes first
STOP_FINISH = 4.0  # seconds running work gets to finish after SIGTERM before it is cancelled
STOP_ABANDON = 8.0  # seconds after SIGTERM at which work that has not ended is abandoned


def make_scheduler() -> BackgroundScheduler:
    return BackgroundScheduler(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults=JOB_DEFAULTS,
    )


def digest_trigger(channel: ChannelConfig) -> Any:
    """The APScheduler trigger of a channel's digest job; None for ``immediate`` channels, which
    are served after every poll."""
    schedule = channel.schedule
    if schedule.kind == "cron":
        return cron_trigger(schedule, parse_timezone(channel.timezone))
    if schedule.kind == "interval":
        return IntervalTrigger(seconds=schedule.seconds, timezone=UTC)
    return None


class Daemon:
    """``Daemon(config, store, load_config).run()`` runs until SIGTERM or SIGINT.

    ``load_config`` reads the configuration afresh (for SIGHUP); ``clock`` gives the time.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        load_config: Callable[[], Config],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.clock = clock
        self._load_config = load_config
        self.ctx = Context.build(config, store)
        self.scheduler = make_scheduler()
        self._signals: SimpleQueue[int] = SimpleQueue()
        self._idle = threading.Event()
        self._idle.set()
        self._stopping = threading.Event()
        self._poll_task: tuple[asyncio.AbstractEventLoop, asyncio.Task[Any]] | None = None

    @property
    def config(self) -> Config:
        return self.ctx.config

    # --- lifecycle

    def run(self) -> None:
        self._add_jobs()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, self._note_signal)
        self.scheduler.start()
        log.info(
            "daemon started pid=%d feeds=%d channels=%d db=%s tick=%ds",
            os.getpid(),
            len(self.config.feeds),
            len(self.config.channels),
            self.store.path,
            self.config.tick,
        )
        while True:
            try:
                signum = self._signals.get(timeout=0.5)
            except Empty:
                continue
            if signum == signal.SIGHUP:
                self.reload()
            else:
                log.info("stopping signal=%s", signal.Signals(signum).name)
                break
        self.stop()

    def _note_signal(self, signum: int, frame: FrameType | None) -> None:
        # A signal handler may interrupt the main thread anywhere; SimpleQueue.put is the one
        # reentrant-safe thing to do here. The main loop acts on it.
        self._signals.put(signum)

    def stop(self) -> None:
        """Stop scheduling, let running work finish or cancel it; never longer than STOP_ABANDON."""
        self._stopping.set()
        self.scheduler.shutdown(wait=False)
        if not self._idle.wait(STOP_FINISH):
            log.warning("stopping: cancelling the running poll")
            self._cancel_poll()
            if not self._idle.wait(STOP_ABANDON - STOP_FINISH):
                # A digest send or SQLite call that does not return. Exiting now is safe: SQLite
                # rolls back the open transaction, an unsent digest keeps its id for the resend.
                log.error("stopping: abandoning a job that did not end in time")
                logging.shutdown()
                os._exit(0)
        log.info("daemon stopped")

    def reload(self) -> None:
        """Read the configuration again and use it from the next job on; feeds, rules, channels
        and schedules all come from the new file. A file that does not load changes nothing."""
        try:
            config = self._load_config()
            if config.storage_path != self.config.storage_path:
                log.warning(
                    "reload storage.path changed, restart to use it path=%s", config.storage_path
                )
                config = replace(config, storage_path=self.config.storage_path)
            ctx = Context.build(config, self.store)
        except MonitorError as e:
            log.error("reload failed, keeping the running configuration error=%r", str(e))
            return
        self.ctx = ctx  # jobs read self.ctx once when they start: a running one finishes as it was
        self._schedule_digests(config)
        self.scheduler.reschedule_job(
            "poll",
            trigger=IntervalTrigger(seconds=config.tick, timezone=UTC),
        )
        # Poll now: new feeds are due at once, and the feeds table follows the file.
        self.scheduler.modify_job("poll", next_run_time=self.clock())
        log.info(
            "reloaded feeds=%d channels=%d source=%s",
            len(config.feeds),
            len(config.channels),
            config.source,
        )

    # --- jobs

    def _add_jobs(self) -> None:
        now = self.clock()
        self.scheduler.add_job(
            self._job("poll", self._poll_and_deliver),
            IntervalTrigger(seconds=self.config.tick, timezone=UTC),
            id="poll",
            next_run_time=now,
        )
        self.scheduler.add_job(
            self._job("housekeeping", self._housekeeping),
            IntervalTrigger(seconds=HOUSEKEEPING_EVERY.total_seconds(), timezone=UTC),
            id="housekeeping",
            next_run_time=now + HOUSEKEEPING_FIRST,
        )
        self._schedule_digests(self.config)
        self.scheduler.add_listener(self._on_job_error, EVENT_JOB_ERROR)

    def _schedule_digests(self, config: Config) -> None:
        for job in self.scheduler.get_jobs():
            if job.id.startswith("digest:"):
                job.remove()
        for channel in config.channels:
            trigger = digest_trigger(channel)
            if trigger is not None:
                job_id = f"digest:{channel.name}"
                self.scheduler.add_job(
                    self._job(job_id, self._deliver),
                    trigger,
                    args=[channel.name],
                    id=job_id,
                )

    def _job(self, job_id: str, work: Callable[..., None]) -> Callable[..., None]:
        """Wrap a job: skip it once stopping, mark the daemon busy while it runs, and record
        its run (and every job's next run) for `monitor status`."""

        def run(*args: Any) -> None:
            self._idle.clear()
            try:
                if self._stopping.is_set():
                    return
                error = None
                try:
                    work(*args)
                except Exception as e:
                    error = f"{type(e).__name__}: {e}"
                    log.exception("job failed job=%s", job_id)
                self._record_jobs(job_id, error)
            finally:
                self._idle.set()

        return run

    def _record_jobs(self, job_id: str, error: str | None) -> None:
        try:
            jobs = [(job.id, job.next_run_time) for job in self.scheduler.get_jobs()]
            next_run = dict(jobs).get(job_id)
            runlog.record_jobs(self.store.db, jobs)
            runlog.record_job_run(self.store.db, job_id, self.clock(), next_run, error)
        except sqlite3.Error:
            log.exception("cannot record job run job=%s", job_id)

    def _on_job_error(self, event: JobExecutionEvent) -> None:
        log.error(
            "job failed job=%s error=%r", event.job_id, event.exception, exc_info=event.exception
        )

    def _poll_and_deliver(self) -> None:
        ctx = self.ctx
        started = self.clock()
        try:
            summary, _ = asyncio.run(self._cancellable(lambda: poll(ctx, started)))
        except asyncio.CancelledError:
            log.warning("cycle cancelled by shutdown: feeds not yet stored stay due")
            return
        sent = 0
        if not self._stopping.is_set():
            # Immediate channels go right after the poll; scheduled ones only when their
            # schedule says a digest is due.
            outcomes = deliver(self.store, ctx.config, self.clock(), sleep=self._pause)
            sent = sum(o.status == "sent" for o in outcomes)
            export_configured(ctx.config, self.store.db, self.clock())  # [export] atom, when set
        if summary.feeds_polled or sent:
            runlog.record_cycle(
                self.store.db,
                summary,
                origin="daemon",
                started=started,
                finished=self.clock(),
                digests_sent=sent,
            )

    async def _cancellable(self, make: Callable[[], Awaitable[T]]) -> T:
        """Run ``make()`` as the task stop() can cancel from the main thread."""
        task = asyncio.current_task()
        assert task is not None
        self._poll_task = (asyncio.get_running_loop(), task)
        try:
            return await make()
        finally:
            self._poll_task = None

    def _cancel_poll(self) -> None:
        running = self._poll_task
        if running is not None:
            loop, task = running
            with suppress(RuntimeError):  # the loop closed in between: nothing left to cancel
                loop.call_soon_threadsafe(task.cancel)

    def _deliver(self, channel: str) -> None:
        deliver(self.store, self.config, self.clock(), channel=channel, sleep=self._pause)
        export_configured(self.config, self.store.db, self.clock())

    def _pause(self, seconds: float) -> None:
        """Delivery's wait between retries, cut short by a shutdown."""
        self._stopping.wait(seconds)

    def _housekeeping(self) -> None:
        counts = housekeeping(self.store.db, self.config.keep_days, self.clock())
        log.info("housekeeping pruned=%d cycles_dropped=%d", *counts.values())


def run_daemon(
    config: Config,
    store: Store,
    load_config: Callable[[], Config] | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> None:
    Daemon(config, store, load_config or (lambda: config), clock).run()

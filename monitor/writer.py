"""The store thread: the one thread that uses the SQLite connection during a poll.

Work reaches it from the event loop as jobs (store a parsed feed, record a failure, ...). Jobs
that queue up while it is busy are committed together, each in a savepoint of one transaction
(group commit): a failing job undoes only its own work, and a cold poll of a thousand feeds
commits tens of times instead of a thousand. Every commit rewrites each page it touched, and the
near-duplicate index touches pages all over its table: committing each feed on its own made a
cold poll several times slower. A job queued alone is committed at once: no timer, no waiting
for company.

A job's future is settled only after its transaction commits, so nothing downstream hears of
work that a crash could still undo.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, TypeVar

from monitor.store import Store

T = TypeVar("T")

# Most jobs in one transaction: bounds how long other processes (``monitor feeds add``) wait for
# the write lock, and how much a power cut can take back.
MAX_BATCH = 32


@dataclass
class _Job:
    function: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


class StoreWriter:
    """Runs jobs on one thread against ``store``, committing queued jobs together."""

    def __init__(self, store: Store, max_batch: int = MAX_BATCH) -> None:
        self._store = store
        self._max_batch = max_batch
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="monitor-store", daemon=True)
        self._thread.start()

    def submit(self, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Queue ``function(*args)``; the future settles once its transaction has committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(function, args, future, loop))
        return future

    def close(self) -> None:
        """Finish the jobs already queued, then stop the thread."""
        self._jobs.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            batch, closing = self._gather(job)
            self._commit(batch)
            if closing:
                return

    def _gather(self, first: _Job) -> tuple[list[_Job], bool]:
        """The first job and whatever queued behind it, up to the batch size; and whether
        ``close`` was called meanwhile."""
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _commit(self, batch: list[_Job]) -> None:
        results: list[tuple[Any, BaseException | None]]
        try:
            with self._store.transaction():
                results = [self._attempt(job) for job in batch]
        except BaseException as e:  # the commit itself failed (disk full): none of it is stored
            results = [(None, e)] * len(batch)
        for job, (value, error) in zip(batch, results, strict=True):
            with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
                job.loop.call_soon_threadsafe(_settle, job.future, value, error)

    def _attempt(self, job: _Job) -> tuple[Any, BaseException | None]:
        try:
            with self._store.transaction():  # a savepoint: on error only this job is undone
                return job.function(*job.args), None
        except Exception as e:
            return None, e


def _settle(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled while it waited
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)

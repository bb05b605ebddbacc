"""Where CPU-heavy parsing runs: a process pool sized to the cores, shared by every poll cycle.

feedparser holds the GIL for the whole of a large feed (a second or more for some real ones), so
parsing on the event loop, or in a thread, would stall every fetch in flight. The pool is made on
first use and lives as long as the process; a worker that dies (killed, out of memory) breaks
the pool, which is then replaced so the next feed still gets parsed. Workers run at a lower CPU
priority than the process that made them (``_yield_to_parent``).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import select
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress
from typing import TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None


def workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def _get() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            # forkserver, not fork: the daemon and the tests run threads, and forking a process
            # with threads can copy a held lock into the child.
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["monitor.parse", "monitor.normalise"])
            _pool = ProcessPoolExecutor(
                max_workers=workers(),
                mp_context=context,
                initializer=_start_worker,
                initargs=(os.getpid(),),
            )
        return _pool


def _start_worker(owner: int) -> None:
    """Pool initializer."""
    _leave_signals_to_parent()
    _end_with(owner)
    _yield_to_parent()


# How much lower the workers' CPU priority is than the daemon's (Linux: a weight of a ninth).
NICENESS = 10


def _yield_to_parent() -> None:
    """Workers run at a lower CPU priority than the process that made them. On a cold poll
    the parsers produce faster than the one store thread can store, and with as many parsers
    as cores they took CPU from it, the step every feed waits on: the store thread got two
    thirds of a core. Parsed feeds wait behind the store anyway (the poll's gate bounds how
    many), so parsers lose nothing by yielding, and they still take every core it leaves
    idle. Measured on 300 feeds: a cold poll 15 % faster."""
    with suppress(AttributeError, OSError):  # no nice() on Windows
        os.nice(NICENESS)


def _leave_signals_to_parent() -> None:
    """Workers ignore SIGINT and SIGTERM. Ctrl-C reaches the whole process group, and a service
    manager may signal every process of the service: the daemon decides how to stop (let a
    parse finish, or cancel), and a worker killed mid-parse would mark a healthy feed failed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _end_with(owner: int) -> None:
    """Pool initializer: end this worker when the process that made the pool ends.

    A pool worker blocks on its task queue, of which it holds both ends, so it never sees its
    owner go; and it holds the forkserver's liveness pipe, so the forkserver stays too. Without
    this, every daemon killed with SIGKILL (or by the OOM killer) left its parse processes
    behind for good.
    """
    threading.Thread(target=_exit_after, args=(owner,), name="owner-watch", daemon=True).start()


def _exit_after(owner: int) -> None:
    try:
        handle = os.pidfd_open(owner)  # Linux: readable once the process has exited
    except (AttributeError, OSError):
        while _running(owner):
            time.sleep(1)
    else:
        select.select([handle], [], [])
    os._exit(0)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _discard(broken: ProcessPoolExecutor) -> None:
    global _pool
    with _lock:
        if _pool is broken:
            _pool = None
    broken.shutdown(wait=False, cancel_futures=True)


async def run(function: Callable[..., T], *args: object) -> T:
    """``function(*args)`` in a pool process. Raises BrokenProcessPool if the worker died; the
    next call gets a fresh pool."""
    # Made and fed from a thread: the first submit starts the worker processes, which takes
    # long enough to stall the event loop if done on it.
    pool = await asyncio.to_thread(_get)
    try:
        future = await asyncio.to_thread(pool.submit, function, *args)
        return await asyncio.wrap_future(future)
    except BrokenProcessPool:
        _discard(pool)
        raise

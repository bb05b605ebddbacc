"""The parse pool's processes end with the process that made them, however it ends, and yield
the CPU to it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pytest

from monitor import parsepool

# Starts the pool, prints the pids of its worker and of the forkserver, then waits to be killed.
SCRIPT = """
import asyncio, os, sys, time
import multiprocessing.forkserver as forkserver
from monitor import parsepool

if __name__ == "__main__":
    worker = asyncio.run(parsepool.run(os.getpid))
    print(worker, forkserver._forkserver._forkserver_pid, flush=True)
    time.sleep(120)
"""


def gone(pid: int) -> bool:
    """True when the process has exited (a zombie nobody reaped has exited too)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def test_killed_owner_takes_its_parse_processes_with_it(tmp_path: Path) -> None:
    script = tmp_path / "owner.py"
    script.write_text(SCRIPT)
    with subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path
    ) as owner:
        assert owner.stdout is not None
        worker, server = (int(pid) for pid in owner.stdout.readline().split())
        assert not gone(worker) and not gone(server)
        os.kill(owner.pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not (gone(worker) and gone(server)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert gone(worker), "the parse worker outlived the process that made it"
    assert gone(server), "the forkserver outlived the process that made it"


def test_a_worker_that_dies_breaks_only_its_own_call_and_the_pool_is_replaced() -> None:
    with pytest.raises(BrokenProcessPool):
        asyncio.run(parsepool.run(os._exit, 3))  # a parser killed mid-feed (OOM, segfault)

    assert asyncio.run(parsepool.run(len, b"next feed")) == 9


def test_parse_processes_yield_the_cpu_to_the_store() -> None:
    # A cold poll waits on the store thread; parsers at the same priority took its CPU.
    worker = asyncio.run(parsepool.run(os.nice, 0))
    assert worker == min(os.nice(0) + parsepool.NICENESS, 19)  # 19: the lowest priority

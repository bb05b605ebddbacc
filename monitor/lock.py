"""One daemon per database: an advisory lock on ``<database>.lock`` next to the database.

The lock is an ``flock`` held for the life of the process, so the kernel releases it however the
process ends (SIGKILL and power loss included): there is never a stale lock to clean up. The file
holds the holder's pid, for messages and for ``monitor status``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from monitor.errors import StorageError


def lock_path(db_path: str | Path) -> Path:
    return Path(f"{db_path}.lock")


class DatabaseLock:
    """Exclusive use of a database by one long-running writer (the daemon, ``run --once``,
    ``db vacuum``). ``acquire`` raises StorageError naming the holder when it is taken."""

    def __init__(self, db_path: str | Path, purpose: str = "daemon") -> None:
        self.db_path = str(db_path)
        self.path = lock_path(db_path)
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self) -> DatabaseLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            holder = read_holder(self.db_path)
            who = f"pid {holder[0]}, {holder[1]}" if holder else "another process"
            raise StorageError(
                self.db_path,
                f"another monitor is already running on this database ({who}); "
                "stop it first, or give this one another database with --db PATH",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {self.purpose}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing drops the flock
            self._fd = None

    def __enter__(self) -> DatabaseLock:
        return self.acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def read_holder(db_path: str | Path) -> tuple[int, str] | None:
    """(pid, purpose) of the process holding the database's lock, or None when nobody does."""
    path = lock_path(db_path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            # A shared lock succeeds only when no one holds the exclusive one.
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 200).decode(errors="replace").split()
            pid = int(text[0]) if text and text[0].isdigit() else 0
            return pid, (text[1] if len(text) > 1 else "daemon")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)

"""The store thread's group commit (monitor.writer), on a real SQLite file."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from monitor.store import Store
from monitor.writer import StoreWriter


@pytest.fixture
def store(tmp_path: Path) -> Any:
    store = Store.open(tmp_path / "monitor.db")
    store.db.execute("create table notes (text text)")
    yield store
    store.close()


def note(store: Store, text: str) -> str:
    store.db.execute("insert into notes (text) values (?)", [text])
    return text


def fail_after_note(store: Store, text: str) -> None:
    note(store, text)
    raise ValueError(f"bad feed {text}")


def notes_seen_by_another_connection(store: Store) -> list[str]:
    other = sqlite3.connect(store.path)
    try:
        return [r[0] for r in other.execute("select text from notes order by rowid")]
    finally:
        other.close()


def test_jobs_queued_while_the_writer_is_busy_commit_together(store: Store) -> None:
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    release = threading.Event()

    def wait_then_note(text: str) -> str:
        release.wait(10)
        return note(store, text)

    async def main() -> list[str]:
        writer = StoreWriter(store)
        try:
            first = writer.submit(wait_then_note, "first")
            await asyncio.sleep(0.05)  # the writer is now inside the first job's batch
            queued = [writer.submit(note, store, f"queued {n}") for n in range(5)]
            release.set()
            return [await first, *[await q for q in queued]]
        finally:
            writer.close()

    results = asyncio.run(main())

    assert results == ["first", *(f"queued {n}" for n in range(5))]
    assert notes_seen_by_another_connection(store) == results
    commits = [s for s in statements if s.strip().upper() == "COMMIT"]
    assert len(commits) == 2  # the first job alone, then the five that queued behind it


def test_a_failing_job_undoes_only_its_own_work(store: Store) -> None:
    async def main() -> list[Any]:
        writer = StoreWriter(store)
        try:
            futures = [
                writer.submit(note, store, "before"),
                writer.submit(fail_after_note, store, "broken"),
                writer.submit(note, store, "after"),
            ]
            return await asyncio.gather(*futures, return_exceptions=True)
        finally:
            writer.close()

    before, broken, after = asyncio.run(main())

    assert (before, after) == ("before", "after")
    assert isinstance(broken, ValueError) and "bad feed broken" in str(broken)
    assert notes_seen_by_another_connection(store) == ["before", "after"]


def test_results_arrive_only_after_the_commit(store: Store) -> None:
    """What a job's future reports is already visible to other processes."""

    async def main() -> list[list[str]]:
        writer = StoreWriter(store)
        seen = []
        try:
            for n in range(3):
                await writer.submit(note, store, f"note {n}")
                seen.append(notes_seen_by_another_connection(store))
        finally:
            writer.close()
        return seen

    assert asyncio.run(main()) == [["note 0"], ["note 0", "note 1"], ["note 0", "note 1", "note 2"]]


def test_a_failed_commit_fails_every_job_of_the_batch(store: Store) -> None:
    release = threading.Event()

    def break_the_transaction() -> str:
        # Ends the transaction under the savepoints, so the batch cannot commit.
        store.db.conn.execute("rollback")
        return "done"

    async def main() -> list[Any]:
        writer = StoreWriter(store)
        try:
            blocker = writer.submit(release.wait, 10)
            await asyncio.sleep(0.05)
            batch = [writer.submit(note, store, "lost"), writer.submit(break_the_transaction)]
            release.set()
            await blocker
            return await asyncio.gather(*batch, return_exceptions=True)
        finally:
            writer.close()

    outcomes = asyncio.run(main())

    assert all(isinstance(o, sqlite3.Error) for o in outcomes), outcomes
    assert notes_seen_by_another_connection(store) == []
    assert not store.db.conn.in_transaction


def test_close_finishes_queued_jobs(store: Store) -> None:
    async def main() -> None:
        writer = StoreWriter(store)
        for n in range(40):  # more than one batch
            writer.submit(note, store, f"note {n}")
        writer.close()

    asyncio.run(main())

    assert len(notes_seen_by_another_connection(store)) == 40

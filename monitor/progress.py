"""Progress bars for long commands: drawn on standard error when it is a terminal, silent when
piped or redirected (logs and scripts get no carriage-return noise).

``progress_bar(label)`` yields ``advance(done, total)``, which a library function can call without
knowing about terminals (``pipeline.poll`` takes it as ``progress``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO, Any

import click


def on_terminal(stream: IO[Any] | None = None) -> bool:
    stream = stream or sys.stderr
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or fake stream
        return False


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    if not on_terminal():
        yield lambda done, total: None
        return
    bars: list[Any] = []

    def advance(done: int, total: int) -> None:
        if not bars:  # the total is known only once work starts
            bars.append(click.progressbar(length=total, label=label, file=sys.stderr))
            bars[0].__enter__()
        bars[0].update(done - bars[0].pos)

    try:
        yield advance
    finally:
        if bars:
            bars[0].__exit__(None, None, None)

"""Our exceptions, one tree, each naming the thing it is about.

    MonitorError
    ├── ConfigError        a configuration key is missing, unknown or invalid (carries the key)
    ├── StorageError       the database cannot be opened, migrated or locked (carries the path)
    ├── ParseError         a fetched body is not a feed we can read (carries the URL)
    ├── QueryError         a query of the archive that cannot be run (carries the query)
    ├── DeliveryError      a channel did not accept a digest (carries the channel; temporary or not)
    ├── RuleSyntaxError    a rule's query does not parse (carries the 1-based column)
    └── FeedError          a feed cannot be added, found or removed as asked (carries the feed)

Foreign exceptions are wrapped once, at the boundary that called the foreign library, with
``raise ... from e``, so a log line shows our context and the root cause. Fetch failures are not
exceptions at all: ``fetch.fetch_feed`` returns them in its FetchResult, because a feed that is
down is an expected outcome of a poll, not an error of the program.
"""

from __future__ import annotations

from collections.abc import Sequence


class MonitorError(Exception):
    """Base class for every error monitor raises on purpose."""


class ConfigError(MonitorError):
    """A configuration problem. ``key`` is the dotted path of the bad key (``feeds[2].url``).

    One error can carry every problem a file has (``problems``, in the order of the file's
    sections; ``key`` and ``message`` are the first), so that one run of ``check-config`` names
    them all, one line each.
    """

    def __init__(
        self,
        key: str,
        message: str,
        source: str | None = None,
        problems: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.key = key
        self.message = message
        self.source = source
        self.problems = tuple(problems) or ((key, message),)
        where = f"{source}: " if source else ""
        super().__init__(
            "\n".join(f"{where}{k}: {m}" if k else f"{where}{m}" for k, m in self.problems)
        )

    @classmethod
    def of(cls, errors: Sequence[ConfigError], source: str | None = None) -> ConfigError:
        """One error carrying every problem of ``errors``."""
        problems = [problem for error in errors for problem in error.problems]
        return cls(*problems[0], source, problems)


class StorageError(MonitorError):
    """The database cannot be used."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        super().__init__(f"{path}: {message}")


class ParseError(MonitorError):
    """A fetched body could not be read as a feed."""

    def __init__(self, url: str, message: str) -> None:
        self.url = url
        self.reason = message  # without the URL, for the feed's own health record
        super().__init__(f"{url}: {message}")

    def __reduce__(self) -> tuple[type[ParseError], tuple[str, str]]:
        # Parsing runs in a pool process: the error must cross back whole.
        return ParseError, (self.url, self.reason)


class QueryError(MonitorError):
    """A malformed search query or a filter naming nothing, with a sentence saying what."""

    def __init__(self, what: str, message: str) -> None:
        self.what = what  # e.g. "search query 'lux AND'" or "--feed 'Techwire'"
        super().__init__(f"{what}: {message}")


class DeliveryError(MonitorError):
    """A channel did not accept a digest. ``temporary`` failures are retried."""

    def __init__(
        self,
        channel: str,
        message: str,
        *,
        temporary: bool = True,
        retry_after: float | None = None,
    ) -> None:
        self.channel = channel
        self.temporary = temporary
        self.retry_after = retry_after  # seconds the channel asked us to wait (Retry-After)
        super().__init__(f"channel {channel!r}: {message}")


class RuleSyntaxError(MonitorError):
    """A rule's query does not parse. ``column`` is 1-based, where the problem starts."""

    def __init__(self, column: int, message: str) -> None:
        self.column = column
        self.message = message
        super().__init__(f"column {column}: {message}")


class FeedError(MonitorError):
    """A feed cannot be added, found or removed as asked (carries the URL or id given)."""

    def __init__(self, feed: str, message: str) -> None:
        self.feed = feed
        super().__init__(f"{feed}: {message}")

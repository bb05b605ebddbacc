"""Fetch stage: get feed bodies over HTTP, politely and within limits.

One shared ``httpx.AsyncClient`` (made by ``make_client``) serves a whole poll cycle.
``fetch_each`` fetches many feeds at once under a concurrency limit and hands each result on as it
arrives; ``fetch_feed`` never raises for network or HTTP trouble, it returns a FetchResult carrying
the error, so one bad feed never stops the others.
"""

from __future__ import annotations

import asyncio
import email.utils
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta

import httpx

from monitor import __version__
from monitor.config import FetchConfig
from monitor.records import DueFeed, FetchResult

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)
MAX_REDIRECTS = 5
# A Retry-After further out than this is a broken or hostile server, not a plan: wait this long.
RETRY_AFTER_CAP = timedelta(days=7)


def user_agent(contact: str | None) -> str:
    suffix = f"; +{contact}" if contact else ""
    return f"monitor/{__version__} (news monitor{suffix})"


def make_client(
    config: FetchConfig, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(config.timeout),
        limits=httpx.Limits(max_connections=config.concurrency * 2),
        follow_redirects=True,
        max_redirects=MAX_REDIRECTS,
        headers={"User-Agent": user_agent(config.contact), "Accept": ACCEPT},
        transport=transport,
    )


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # isdigit alone admits "²", which int() refuses
        return now + min(timedelta(seconds=int(value[:12])), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(when, now), now + RETRY_AFTER_CAP)


def _conditional_headers(feed: DueFeed) -> dict[str, str]:
    headers = {}
    if feed.etag:
        headers["If-None-Match"] = feed.etag
    if feed.last_modified:
        headers["If-Modified-Since"] = feed.last_modified
    return headers


async def _read_capped(response: httpx.Response, max_bytes: int) -> bytes | None:
    """The decoded body, or None once it passes max_bytes (counted after decompression)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > max_bytes:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_feed(
    client: httpx.AsyncClient, feed: DueFeed, config: FetchConfig, now: datetime
) -> FetchResult:
    """Fetch one feed. Network and HTTP failures come back as a FetchResult with ``error`` set."""
    url = feed.url

    def failed(
        message: str,
        status: int | None = None,
        *,
        temporary: bool = True,
        headers: dict[str, str] | None = None,
        final_url: str = url,
        retry_after: datetime | None = None,
    ) -> FetchResult:
        return FetchResult(
            url,
            final_url,
            status,
            headers or {},
            None,
            error=message,
            temporary=temporary,
            retry_after=retry_after,
        )

    try:
        # The client's timeouts bound each connect and read; this bounds the whole fetch, so a
        # server trickling one byte at a time is still cut off.
        async with (
            asyncio.timeout(config.timeout),
            client.stream("GET", url, headers=_conditional_headers(feed)) as response,
        ):
            headers = {k.lower(): v for k, v in response.headers.items()}
            final_url = str(response.url)
            status = response.status_code
            if status == 304:
                return FetchResult(url, final_url, status, headers, None, not_modified=True)
            if status != 200:
                retry_after = (
                    parse_retry_after(headers.get("retry-after"), now)
                    if status in (429, 503)
                    else None
                )
                return failed(
                    f"HTTP {status} {response.reason_phrase}".strip(),
                    status,
                    temporary=status != 410,
                    headers=headers,
                    final_url=final_url,
                    retry_after=retry_after,
                )
            body = await _read_capped(response, config.max_bytes)
            if body is None:
                return failed(
                    f"body larger than {config.max_bytes} bytes",
                    status,
                    headers=headers,
                    final_url=final_url,
                )
            return FetchResult(url, final_url, status, headers, body)
    except TimeoutError:
        return failed(f"timed out after {config.timeout}s")
    except httpx.TooManyRedirects:
        return failed(f"more than {MAX_REDIRECTS} redirects")
    except httpx.TimeoutException as e:
        return failed(f"timed out ({type(e).__name__})")
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        return failed(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)


async def fetch_each(
    client: httpx.AsyncClient, feeds: Iterable[DueFeed], config: FetchConfig, now: datetime
) -> AsyncIterator[tuple[DueFeed, FetchResult]]:
    """Fetch feeds ``config.concurrency`` at a time and yield each result as it arrives.

    Fetching runs ahead of the consumer by at most ``concurrency`` finished results, so memory
    stays bounded however many feeds there are and however slowly results are processed.
    """
    pending = list(feeds)
    todo = iter(pending)
    done: asyncio.Queue[tuple[DueFeed, FetchResult]] = asyncio.Queue(maxsize=config.concurrency)

    async def worker() -> None:
        for feed in todo:  # the workers share one iterator: each feed is fetched once
            await done.put((feed, await fetch_feed(client, feed, config, now)))

    workers = [asyncio.create_task(worker()) for _ in range(min(config.concurrency, len(pending)))]
    try:
        for _ in range(len(pending)):
            yield await done.get()
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

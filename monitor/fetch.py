"""Fetch stage: get feed bodies over HTTP, politely and within limits.

One shared ``httpx.AsyncClient`` (made by ``make_client``) serves a whole poll cycle.
``fetch_each`` fetches many feeds at once under a global and a per-host concurrency limit and hands
each result on as it arrives; ``fetch_feed`` never raises for network or HTTP trouble, it returns a
FetchResult carrying the error, so one bad feed never stops the others.

Redirects are followed here, not by httpx, because their kind matters: a chain that starts with
permanent redirects (301/308) moves the feed, and the FetchResult says where to
(``permanent_url``); a temporary one (302/303/307) does not. Bodies are decompressed here too, with
the size limit applied to the bytes on the wire and again to every decompressed byte, so a gzip
bomb stops at the limit instead of filling memory.
"""

from __future__ import annotations

import asyncio
import email.utils
import zlib
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta

import httpx

from monitor import __version__
from monitor.config import FetchConfig
from monitor.records import DueFeed, FetchResult

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)
# Only what _Inflater can decode within the size limit.
ACCEPT_ENCODING = "gzip, deflate"
MAX_REDIRECTS = 5
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
PERMANENT_REDIRECTS = (301, 308)
# A Retry-After further out than this is a broken or hostile server, not a plan: wait this long.
RETRY_AFTER_CAP = timedelta(days=7)
GZIP_MAGIC = b"\x1f\x8b"


def user_agent(contact: str | None) -> str:
    suffix = f"; +{contact}" if contact else ""
    return f"monitor/{__version__} (news monitor{suffix})"


def make_client(
    config: FetchConfig, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(
            config.read_timeout, connect=config.connect_timeout, pool=config.timeout
        ),
        limits=httpx.Limits(
            max_connections=config.concurrency * 2,
            max_keepalive_connections=config.concurrency * 2,
        ),
        follow_redirects=False,  # fetch_feed follows them, to see which were permanent
        headers={
            "User-Agent": user_agent(config.contact),
            "Accept": ACCEPT,
            "Accept-Encoding": ACCEPT_ENCODING,
        },
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


class BodyTooLarge(Exception):
    """Internal to this module: the body (on the wire or decompressed) passed the limit."""


class _Inflater:
    """Incremental gzip/deflate decoding that never produces more than ``room`` bytes.

    zlib's ``max_length`` stops each step at the limit, so a few kilobytes of a gzip bomb cost a
    few kilobytes of memory, not the gigabytes they would expand to.
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.z: zlib._Decompress | None = None

    def _start(self, first: bytes) -> zlib._Decompress:
        if self.encoding == "gzip":
            return zlib.decompressobj(16 + zlib.MAX_WBITS)
        # "deflate" is meant to be zlib-wrapped, but some servers send a raw deflate stream.
        wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and int.from_bytes(first[:2]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        if self.z is None:
            self.z = self._start(data)
        out: list[bytes] = []
        while data and not self.z.eof:
            piece = self.z.decompress(data, room + 1)
            room -= len(piece)
            if room < 0:
                raise BodyTooLarge
            out.append(piece)
            data = self.z.unconsumed_tail
        return b"".join(out)


def inflate(body: bytes, max_bytes: int) -> bytes:
    """A whole gzip body, decompressed within ``max_bytes`` (raises BodyTooLarge past it)."""
    return _Inflater("gzip").feed(body, max_bytes)


async def read_body(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body; raises BodyTooLarge once the wire or decoded size passes ``max_bytes``.

    A body that is itself gzip data with no Content-Encoding (a ``.gz`` file served as a feed) is
    decompressed too, within the same limit.
    """
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("identity", "", "gzip", "x-gzip", "deflate"):
        raise httpx.DecodingError(f"unsupported Content-Encoding {encoding!r}")
    inflater = _Inflater("deflate" if encoding == "deflate" else "gzip")
    decode = encoding not in ("identity", "")
    chunks: list[bytes] = []
    wire = size = 0
    # The raw stream itself, not aiter_raw(): an in-memory response (httpx.MockTransport) is
    # read at construction, and aiter_raw() would refuse to go over it again.
    stream = response.stream
    assert isinstance(stream, httpx.AsyncByteStream)
    async for chunk in stream:
        wire += len(chunk)
        if wire > max_bytes:
            raise BodyTooLarge
        try:
            piece = inflater.feed(chunk, max_bytes - size) if decode else chunk
        except zlib.error as e:
            raise httpx.DecodingError(f"cannot decode {encoding} body: {e}") from e
        size += len(piece)
        if size > max_bytes:
            raise BodyTooLarge
        chunks.append(piece)
    body = b"".join(chunks)
    if body.startswith(GZIP_MAGIC):
        try:
            body = inflate(body, max_bytes)
        except zlib.error as e:
            raise httpx.DecodingError(f"cannot decode gzip body: {e}") from e
    return body


async def fetch_feed(
    client: httpx.AsyncClient, feed: DueFeed, config: FetchConfig, now: datetime
) -> FetchResult:
    """Fetch one feed. Network and HTTP failures come back as a FetchResult with ``error`` set."""
    url = feed.url
    final_url = url
    permanent_url: str | None = None
    moved = True  # every hop so far was a permanent redirect

    def failed(
        message: str,
        status: int | None = None,
        *,
        temporary: bool = True,
        headers: dict[str, str] | None = None,
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
            permanent_url=permanent_url,
        )

    try:
        # The client's timeouts bound each connect and read; this bounds the whole fetch,
        # redirects included, so a server trickling one byte at a time is still cut off.
        async with asyncio.timeout(config.timeout):
            for hop in range(MAX_REDIRECTS + 1):
                request = client.build_request("GET", final_url, headers=_conditional_headers(feed))
                response = await client.send(request, stream=True)
                try:
                    status = response.status_code
                    location = response.headers.get("location")
                    if status in REDIRECT_STATUSES and location:
                        if hop == MAX_REDIRECTS:
                            return failed(f"more than {MAX_REDIRECTS} redirects", status)
                        target = str(response.url.join(location))
                        # Only a chain of permanent redirects from the feed's own URL moves it:
                        # after a temporary hop, the old address is still the one to ask.
                        moved = moved and status in PERMANENT_REDIRECTS
                        if moved:
                            permanent_url = target
                        final_url = target
                        continue
                    return await _result(response, url, final_url, permanent_url, config, now)
                finally:
                    await response.aclose()
    except TimeoutError:
        return failed(f"timed out after {config.timeout}s")
    except httpx.TimeoutException as e:
        return failed(f"timed out ({type(e).__name__})")
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        return failed(f"{type(e).__name__}: {e}" if str(e) else type(e).__name__)
    raise AssertionError("unreachable: the redirect loop always returns")


async def _result(
    response: httpx.Response,
    url: str,
    final_url: str,
    permanent_url: str | None,
    config: FetchConfig,
    now: datetime,
) -> FetchResult:
    headers = {k.lower(): v for k, v in response.headers.items()}
    status = response.status_code
    if status == 304:
        return FetchResult(
            url, final_url, status, headers, None, not_modified=True, permanent_url=permanent_url
        )
    if status != 200:
        retry_after = (
            parse_retry_after(headers.get("retry-after"), now) if status in (429, 503) else None
        )
        return FetchResult(
            url,
            final_url,
            status,
            headers,
            None,
            error=f"HTTP {status} {response.reason_phrase}".strip(),
            temporary=status != 410,
            retry_after=retry_after,
            permanent_url=permanent_url,
        )
    try:
        body = await read_body(response, config.max_bytes)
    except (BodyTooLarge, httpx.DecodingError) as e:
        error = (
            f"body larger than {config.max_bytes} bytes"
            if isinstance(e, BodyTooLarge)
            else f"DecodingError: {e}"
        )
        return FetchResult(
            url, final_url, status, headers, None, error=error, permanent_url=permanent_url
        )
    return FetchResult(url, final_url, status, headers, body, permanent_url=permanent_url)


def host_of(url: str) -> str:
    try:
        return httpx.URL(url).host
    except httpx.InvalidURL:
        return ""


def interleave_by_host(feeds: Iterable[DueFeed]) -> list[DueFeed]:
    """Feeds reordered round-robin across hosts, so that the per-host limit rarely makes a
    worker wait while feeds on other hosts are ready."""
    queues: dict[str, deque[DueFeed]] = defaultdict(deque)
    for feed in feeds:
        queues[host_of(feed.url)].append(feed)
    ordered: list[DueFeed] = []
    while queues:
        for host in list(queues):
            ordered.append(queues[host].popleft())
            if not queues[host]:
                del queues[host]
    return ordered


async def fetch_each(
    client: httpx.AsyncClient, feeds: Iterable[DueFeed], config: FetchConfig, now: datetime
) -> AsyncIterator[tuple[DueFeed, FetchResult]]:
    """Fetch feeds ``config.concurrency`` at a time, at most ``config.per_host`` at once from one
    host, and yield each result as it arrives.

    Fetching runs ahead of the consumer by at most ``concurrency`` finished results, so memory
    stays bounded however many feeds there are and however slowly results are processed.
    """
    pending = interleave_by_host(feeds)
    todo = iter(pending)
    done: asyncio.Queue[tuple[DueFeed, FetchResult]] = asyncio.Queue(maxsize=config.concurrency)
    hosts: dict[str, asyncio.Semaphore] = defaultdict(lambda: asyncio.Semaphore(config.per_host))

    async def worker() -> None:
        for feed in todo:  # the workers share one iterator: each feed is fetched once
            async with hosts[host_of(feed.url)]:
                result = await fetch_feed(client, feed, config, now)
            await done.put((feed, result))

    workers = [asyncio.create_task(worker()) for _ in range(min(config.concurrency, len(pending)))]
    try:
        for _ in range(len(pending)):
            yield await done.get()
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)

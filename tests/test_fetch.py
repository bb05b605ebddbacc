"""Narrow tests of the fetch stage's HTTP behaviour, through httpx.MockTransport (no network)."""

from __future__ import annotations

import asyncio
import gzip
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from monitor import __version__
from monitor.config import FetchConfig
from monitor.fetch import fetch_each, fetch_feed, make_client, parse_retry_after
from monitor.records import DueFeed, FetchResult

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
URL = "https://feeds.example.com/rss"
RSS = b"<?xml version='1.0'?><rss version='2.0'><channel><title>t</title></channel></rss>"

Handler = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]]


def due_feed(
    url: str = URL,
    *,
    id: int = 1,
    etag: str | None = None,
    last_modified: str | None = None,
) -> DueFeed:
    return DueFeed(
        id=id,
        url=url,
        name="Example",
        interval=900,
        etag=etag,
        last_modified=last_modified,
        consecutive_failures=0,
    )


def fetch(
    handler: Handler,
    feed: DueFeed | None = None,
    config: FetchConfig | None = None,
    now: datetime = NOW,
) -> FetchResult:
    config = config or FetchConfig()

    async def run() -> FetchResult:
        async with make_client(config, transport=httpx.MockTransport(handler)) as client:
            return await fetch_feed(client, feed or due_feed(), config, now)

    return asyncio.run(run())


# --- successful fetches


def test_200_returns_body_and_lower_cased_headers() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            content=RSS,
            headers={"Content-Type": "application/rss+xml", "ETag": '"abc"', "X-Odd-Case": "1"},
        )

    assert fetch(handler) == FetchResult(
        url=URL,
        final_url=URL,
        status_code=200,
        headers={
            "content-type": "application/rss+xml",
            "etag": '"abc"',
            "x-odd-case": "1",
            "content-length": str(len(RSS)),
        },
        body=RSS,
    )


def test_conditional_headers_sent_when_feed_has_etag_and_last_modified() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(304)

    feed = due_feed(etag='"v42"', last_modified="Mon, 02 Mar 2026 08:00:00 GMT")
    fetch(handler, feed)

    assert seen[0]["If-None-Match"] == '"v42"'
    assert seen[0]["If-Modified-Since"] == "Mon, 02 Mar 2026 08:00:00 GMT"


def test_no_conditional_headers_for_a_feed_never_fetched() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, content=RSS)

    fetch(handler)

    assert "If-None-Match" not in seen[0]
    assert "If-Modified-Since" not in seen[0]


def test_304_is_not_modified_without_body() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(304, headers={"ETag": '"v42"'})

    result = fetch(handler, due_feed(etag='"v42"'))

    assert result == FetchResult(
        url=URL,
        final_url=URL,
        status_code=304,
        headers={"etag": '"v42"'},
        body=None,
        not_modified=True,
    )


def test_gzip_body_under_limit_is_returned_decompressed() -> None:
    compressed = gzip.compress(RSS)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=compressed, headers={"Content-Encoding": "gzip"})

    result = fetch(handler)

    assert result.error is None
    assert result.body == RSS


def test_body_exactly_max_bytes_is_accepted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 100)

    result = fetch(handler, config=FetchConfig(max_bytes=100))

    assert (result.error, result.body) == (None, b"x" * 100)


# --- HTTP errors


@pytest.mark.parametrize(
    ("status", "error", "temporary"),
    [
        (404, "HTTP 404 Not Found", True),
        (500, "HTTP 500 Internal Server Error", True),
        (410, "HTTP 410 Gone", False),
    ],
)
def test_http_error_status_gives_error_result(status: int, error: str, temporary: bool) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status)

    assert fetch(handler) == FetchResult(
        url=URL,
        final_url=URL,
        status_code=status,
        headers={},
        body=None,
        error=error,
        temporary=temporary,
    )


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (429, "120", NOW + timedelta(seconds=120)),
        (503, "3600", NOW + timedelta(hours=1)),
        (429, "Mon, 02 Mar 2026 10:30:00 GMT", datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),
        (503, "Mon, 02 Mar 2026 10:30:00 GMT", datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),
    ],
)
def test_retry_after_on_429_and_503(status: int, retry_after: str, expected: datetime) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"Retry-After": retry_after})

    result = fetch(handler)

    assert (result.status_code, result.temporary, result.retry_after) == (status, True, expected)
    assert result.error is not None
    assert result.error.startswith(f"HTTP {status} ")


def test_retry_after_ignored_on_other_statuses() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, headers={"Retry-After": "120"})

    assert fetch(handler).retry_after is None


@pytest.mark.parametrize(
    "retry_after",
    [
        "99999999999999",  # well-formed delta-seconds, but beyond what datetime can hold
        "999999999999",
        "\xb2",  # a latin-1 byte that str.isdigit() accepts and int() refuses
    ],
)
def test_unusable_retry_after_still_gives_error_result(retry_after: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers=[(b"Retry-After", retry_after.encode("latin-1"))])

    result = fetch(handler)

    assert (result.status_code, result.error) == (503, "HTTP 503 Service Unavailable")


# --- parse_retry_after


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0", NOW),
        ("120", NOW + timedelta(seconds=120)),
        (" 120 ", NOW + timedelta(seconds=120)),
        ("Mon, 02 Mar 2026 10:30:00 GMT", datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),
        ("Mon, 02 Mar 2026 11:30:00 +0100", datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),
        ("Mon, 02 Mar 2026 10:30:00", datetime(2026, 3, 2, 10, 30, tzinfo=UTC)),  # no zone: UTC
        ("Thu, 01 Jan 2026 00:00:00 GMT", NOW),  # in the past: retry now, not earlier
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("Mon, 99 Foo 2026 xx:yy:zz GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: datetime | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize("value", ["99999999999999", "999999999999", "\xb2", "\u0663\u0660"])
def test_parse_retry_after_never_raises(value: str) -> None:
    when = parse_retry_after(value, NOW)

    assert when is None or when >= NOW


# --- limits


def test_body_larger_than_max_bytes_is_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"x" * 101)

    result = fetch(handler, config=FetchConfig(max_bytes=100))

    assert result == FetchResult(
        url=URL,
        final_url=URL,
        status_code=200,
        headers={"content-length": "101"},
        body=None,
        error="body larger than 100 bytes",
    )


def test_gzip_body_over_limit_after_decompression_is_refused() -> None:
    compressed = gzip.compress(b"\0" * 1_000_000)
    assert len(compressed) < 10_000  # small on the wire

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=compressed, headers={"Content-Encoding": "gzip"})

    result = fetch(handler, config=FetchConfig(max_bytes=100_000))

    assert (result.status_code, result.body, result.error) == (
        200,
        None,
        "body larger than 100000 bytes",
    )


# --- network failures


def test_connect_error_gives_error_result() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    assert fetch(handler) == FetchResult(
        url=URL,
        final_url=URL,
        status_code=None,
        headers={},
        body=None,
        error="ConnectError: connection refused",
        temporary=True,
    )


def test_read_timeout_gives_error_result() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("read timed out", request=request)

    assert fetch(handler) == FetchResult(
        url=URL,
        final_url=URL,
        status_code=None,
        headers={},
        body=None,
        error="timed out (ReadTimeout)",
        temporary=True,
    )


class EndlessStream(httpx.AsyncByteStream):
    """A body that trickles forever: one chunk every 10 ms."""

    def __init__(self) -> None:
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while True:
            yield b"<item/>"
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        self.closed = True


def test_total_deadline_cuts_off_a_body_that_never_ends() -> None:
    stream = EndlessStream()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=stream)

    started = time.monotonic()
    result = fetch(handler, config=FetchConfig(timeout=1))
    elapsed = time.monotonic() - started

    assert elapsed < 5
    assert (result.status_code, result.body, result.error) == (None, None, "timed out after 1s")
    assert stream.closed


# --- client behaviour


def test_user_agent_names_monitor_version_and_contact() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, content=RSS)

    fetch(handler, config=FetchConfig(contact="mailto:ops@example.com"))

    agent = seen[0]["User-Agent"]
    assert agent.startswith(f"monitor/{__version__} ")
    assert "mailto:ops@example.com" in agent


def test_redirects_are_followed_and_final_url_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"Location": "https://new.example.com/feed"})
        if request.url.path == "/feed":
            return httpx.Response(302, headers={"Location": "/rss"})
        return httpx.Response(200, content=RSS)

    result = fetch(handler, due_feed("https://feeds.example.com/old"))

    assert (result.url, result.final_url, result.status_code, result.body) == (
        "https://feeds.example.com/old",
        "https://new.example.com/rss",
        200,
        RSS,
    )


def test_redirect_loop_gives_error_result() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"Location": str(request.url)})

    result = fetch(handler)

    assert (result.status_code, result.body, result.error) == (302, None, "more than 5 redirects")


# --- fetch_each


def _collect(
    handler: Handler, feeds: list[DueFeed], config: FetchConfig
) -> list[tuple[DueFeed, FetchResult]]:
    async def run() -> list[tuple[DueFeed, FetchResult]]:
        async with make_client(config, transport=httpx.MockTransport(handler)) as client:
            return [item async for item in fetch_each(client, feeds, config, NOW)]

    return asyncio.run(run())


def test_fetch_each_yields_every_feed_once_as_it_completes_within_concurrency() -> None:
    concurrency = 3
    feeds = [due_feed(f"https://feeds.example.com/{i}", id=i) for i in range(10)]
    in_flight = 0
    max_in_flight = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, max_in_flight
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        index = int(request.url.path.strip("/"))
        # Earlier feeds answer later, so completion order differs from input order.
        for _ in range(3 * (10 - index)):
            await asyncio.sleep(0)
        in_flight -= 1
        return httpx.Response(200, content=request.url.path.encode())

    results = _collect(handler, feeds, FetchConfig(concurrency=concurrency, per_host=concurrency))

    assert sorted((feed.id, result.body) for feed, result in results) == [
        (feed.id, f"/{feed.id}".encode()) for feed in feeds
    ]
    assert [feed.id for feed, _ in results] != [feed.id for feed in feeds]  # as they completed
    assert max_in_flight == concurrency


def test_fetch_each_runs_ahead_of_a_slow_consumer_by_a_bounded_amount() -> None:
    concurrency = 2
    feeds = [due_feed(f"https://feeds.example.com/{i}", id=i) for i in range(20)]
    answered = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal answered
        answered += 1
        return httpx.Response(200, content=RSS)

    config = FetchConfig(concurrency=concurrency)

    async def run() -> tuple[int, int]:
        async with make_client(config, transport=httpx.MockTransport(handler)) as client:
            results = fetch_each(client, feeds, config, NOW)
            await anext(results)
            for _ in range(200):  # the consumer dawdles; the fetchers may run ahead
                await asyncio.sleep(0)
            ahead = answered
            rest = [item async for item in results]
            return ahead, 1 + len(rest)

    ahead, total = asyncio.run(run())

    # At most `concurrency` results wait in the queue and `concurrency` more wait to be queued.
    assert ahead <= 2 * concurrency + 1
    assert total == len(feeds) == answered


def test_fetch_each_one_failure_does_not_stop_the_others() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, content=RSS)

    feeds = [
        due_feed("https://feeds.example.com/a", id=1),
        due_feed("https://feeds.example.com/down", id=2),
        due_feed("https://feeds.example.com/b", id=3),
    ]

    results = _collect(handler, feeds, FetchConfig())

    assert sorted((feed.id, result.body, result.error) for feed, result in results) == [
        (1, RSS, None),
        (2, None, "ConnectError: refused"),
        (3, RSS, None),
    ]


# --- redirects: which ones move a feed


def _redirects(chain: dict[str, tuple[int, str]]) -> Handler:
    """path -> (status, location); any other path serves the feed."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path in chain:
            status, location = chain[request.url.path]
            return httpx.Response(status, headers={"Location": location})
        return httpx.Response(200, content=RSS)

    return handler


@pytest.mark.parametrize("status", [301, 308])
def test_permanent_redirect_reports_the_new_url(status: int) -> None:
    result = fetch(_redirects({"/rss": (status, "https://new.example.com/feed")}))

    assert (result.status_code, result.body) == (200, RSS)
    assert result.permanent_url == result.final_url == "https://new.example.com/feed"


@pytest.mark.parametrize("status", [302, 303, 307])
def test_temporary_redirect_moves_nothing(status: int) -> None:
    result = fetch(_redirects({"/rss": (status, "https://new.example.com/feed")}))

    assert (result.final_url, result.body) == ("https://new.example.com/feed", RSS)
    assert result.permanent_url is None


def test_chain_of_permanent_redirects_moves_to_its_end() -> None:
    chain = {"/rss": (301, "/a"), "/a": (308, "/b")}

    assert fetch(_redirects(chain)).permanent_url == "https://feeds.example.com/b"


def test_temporary_hop_after_a_permanent_one_moves_only_that_far() -> None:
    chain = {"/rss": (301, "/a"), "/a": (302, "/b")}

    result = fetch(_redirects(chain))

    assert (result.permanent_url, result.final_url) == (
        "https://feeds.example.com/a",
        "https://feeds.example.com/b",
    )


def test_permanent_hop_after_a_temporary_one_moves_nothing() -> None:
    chain = {"/rss": (302, "/a"), "/a": (301, "/b")}

    result = fetch(_redirects(chain))

    assert (result.permanent_url, result.final_url) == (None, "https://feeds.example.com/b")


def test_five_redirects_are_followed_and_a_sixth_is_refused() -> None:
    five = {f"/r{i}": (302, f"/r{i + 1}") for i in range(5)}
    five["/rss"] = five.pop("/r0")
    assert fetch(_redirects(five)).body == RSS

    six = {**five, "/r5": (302, "/r6")}
    result = fetch(_redirects(six))
    assert (result.body, result.error) == (None, "more than 5 redirects")


def test_permanent_redirect_to_an_error_still_reports_where_it_went() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/rss":
            return httpx.Response(301, headers={"Location": "/gone"})
        return httpx.Response(410)

    result = fetch(handler)

    assert (result.status_code, result.temporary) == (410, False)
    assert result.permanent_url == "https://feeds.example.com/gone"


# --- decoding within the size limit


class ChunkStream(httpx.AsyncByteStream):
    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def test_raw_gzip_body_without_content_encoding_is_decompressed() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=gzip.compress(RSS), headers={"Content-Type": "text/xml"})

    assert fetch(handler).body == RSS


def test_raw_gzip_bomb_without_content_encoding_is_refused_at_the_limit() -> None:
    bomb = gzip.compress(b"\0" * 2_000_000)

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=bomb)

    result = fetch(handler, config=FetchConfig(max_bytes=100_000))

    assert (result.body, result.error) == (None, "body larger than 100000 bytes")


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_body_is_decoded_wrapped_or_raw(wbits: int) -> None:
    packer = zlib.compressobj(wbits=wbits)
    deflated = packer.compress(RSS) + packer.flush()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=deflated, headers={"Content-Encoding": "deflate"})

    assert fetch(handler).body == RSS


def test_unsupported_content_encoding_is_an_error_not_junk() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"\x8b\x00", headers={"Content-Encoding": "br"})

    result = fetch(handler)

    assert result.body is None
    assert result.error == "DecodingError: unsupported Content-Encoding 'br'"


def test_corrupt_gzip_is_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, stream=ChunkStream([b"\x1f\x8bnot gzip"]), headers={"Content-Encoding": "gzip"}
        )

    result = fetch(handler)

    assert (result.status_code, result.body) == (200, None)
    assert result.error is not None and result.error.startswith("DecodingError: cannot decode")


def test_gzip_bomb_never_holds_much_more_than_the_limit_in_memory() -> None:
    # 1 GB of zeros is about 1 MB of gzip; sent in 64 KiB chunks, as a server would.
    packer = zlib.compressobj(1, wbits=16 + zlib.MAX_WBITS)
    block = b"\0" * 1_000_000
    bomb = b"".join(packer.compress(block) for _ in range(1000)) + packer.flush()
    chunks = [bomb[i : i + 65536] for i in range(0, len(bomb), 65536)]

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=ChunkStream(chunks), headers={"Content-Encoding": "gzip"})

    tracemalloc.start()
    try:
        result = fetch(handler, config=FetchConfig(max_bytes=1_000_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (result.body, result.error) == (None, "body larger than 1000000 bytes")
    assert peak < 8_000_000  # the limit and a few chunks, never the gigabyte


def test_body_over_the_limit_without_content_length_is_cut_off_while_streaming() -> None:
    sent = 0

    def endless() -> Iterator[bytes]:
        nonlocal sent
        while True:
            sent += 65536
            yield b"x" * 65536

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=ChunkStream(endless()))

    result = fetch(handler, config=FetchConfig(max_bytes=1_000_000))

    assert (result.body, result.error) == (None, "body larger than 1000000 bytes")
    assert sent < 1_200_000


# --- client settings


def test_client_uses_the_configured_connect_and_read_timeouts() -> None:
    config = FetchConfig(timeout=40, connect_timeout=7, read_timeout=11)

    async def timeouts() -> httpx.Timeout:
        async with make_client(config) as client:
            return client.timeout

    timeout = asyncio.run(timeouts())

    assert (timeout.connect, timeout.read) == (7, 11)


def test_per_host_limit_holds_while_other_hosts_proceed() -> None:
    feeds = [
        due_feed(f"https://{host}.example.com/{i}", id=10 * n + i)
        for n, host in enumerate(["a", "b", "c"])
        for i in range(4)
    ]
    in_flight: dict[str, int] = {}
    most: dict[str, int] = {}
    overall = 0
    most_overall = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal overall, most_overall
        host = request.url.host
        in_flight[host] = in_flight.get(host, 0) + 1
        overall += 1
        most[host] = max(most.get(host, 0), in_flight[host])
        most_overall = max(most_overall, overall)
        for _ in range(20):
            await asyncio.sleep(0)
        in_flight[host] -= 1
        overall -= 1
        return httpx.Response(200, content=RSS)

    results = _collect(handler, feeds, FetchConfig(concurrency=6, per_host=2))

    assert len(results) == 12
    assert most == {"a.example.com": 2, "b.example.com": 2, "c.example.com": 2}
    assert most_overall == 6

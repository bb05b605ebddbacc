"""Real local servers for integration tests: a feed server, a webhook receiver, an SMTP server.

All listen on 127.0.0.1 at ephemeral ports and record what they saw. Nothing here touches the
internet, and nothing replaces monitor's own code.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from monitor.cli import cli

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
FEEDS = FIXTURES / "feeds"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text(encoding="utf-8"))["items"]


def find_corpus() -> Path:
    """../shared/corpus/realfeeds beside the checkout; a worktree in ../wt/NAME looks two up."""
    for base in (REPO.parent, REPO.parent.parent):
        if (base / "shared" / "corpus" / "realfeeds" / "MANIFEST.tsv").is_file():
            return base / "shared" / "corpus" / "realfeeds"
    return REPO.parent / "shared" / "corpus" / "realfeeds"


CORPUS = find_corpus()

CONTENT_TYPES = {
    ".xml": "application/rss+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8",
    ".json": "application/feed+json",
}


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0  # seconds before answering (a slow server)
    # > 0: after the body, keep sending one byte every ``trickle`` seconds and never finish
    # (until the client hangs up, or two minutes pass)
    trickle: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class _Server:
    """A threaded HTTP server whose answers come from a function of the request."""

    def __init__(self, answer: Callable[[Seen], Reply]) -> None:
        self.requests: list[Seen] = []
        self.lock = threading.Condition()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command,
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                with server.lock:
                    server.requests.append(seen)
                    server.lock.notify_all()
                reply = answer(seen)
                if reply.delay:
                    time.sleep(reply.delay)  # the server is slow, not the test
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                length = 10**9 if reply.trickle else len(reply.body)
                self.send_header("Content-Length", str(length))
                self.end_headers()
                if self.command != "HEAD":
                    # The client may have given up (a timeout test); nothing to do then.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(reply.body)
                        self._trickle(reply.trickle)

            def _trickle(self, pause: float) -> None:
                deadline = time.monotonic() + 120
                while pause and time.monotonic() < deadline:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(pause)

            do_GET = do_POST = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Seen]:
        """Block until ``count`` requests have arrived (or fail after ``timeout``)."""
        with self.lock:
            if not self.lock.wait_for(lambda: len(self.requests) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(self.requests)}")
            return list(self.requests)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class FeedServer(_Server):
    """Serves a copy of fixtures/feeds from a folder the test may change, with ETags, plus
    per-path overrides (``routes``) for hostile answers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.routes: dict[str, Reply] = {}
        self.honour_conditional = True
        super().__init__(self._answer)

    def _answer(self, seen: Seen) -> Reply:
        path = seen.path.split("?")[0]
        if path in self.routes:
            return self.routes[path]
        file = self.folder / path.lstrip("/")
        if not file.is_file():
            return Reply(404, {"Content-Type": "text/plain"}, b"not found")
        body = file.read_bytes()
        etag = f'"{hash(body) & 0xFFFFFFFF:08x}"'
        if self.honour_conditional and seen.headers.get("if-none-match") == etag:
            return Reply(304, {"ETag": etag})
        return Reply(
            200,
            {"Content-Type": CONTENT_TYPES.get(file.suffix, "application/xml"), "ETag": etag},
            body,
        )

    def feed_url(self, name: str) -> str:
        return f"{self.url}/{name}"

    def fetches(self, name: str) -> list[Seen]:
        return [r for r in self.requests if r.path.split("?")[0] == f"/{name}"]


class Receiver(_Server):
    """A webhook receiver. ``statuses`` are answered in turn (then 200), unless ``decide``."""

    def __init__(self) -> None:
        self.statuses: list[int] = []
        # When set, decides each answer from the request itself (a receiver that checks
        # signatures, or one that does something before it answers).
        self.decide: Callable[[Seen], int] | None = None
        super().__init__(self._answer)

    def _answer(self, seen: Seen) -> Reply:
        if self.decide is not None:
            return Reply(self.decide(seen), {"Content-Type": "application/json"}, b"{}")
        status = self.statuses.pop(0) if self.statuses else 200
        return Reply(status, {"Content-Type": "application/json"}, b'{"ok": true}')

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(r.body) for r in self.requests]


@pytest.fixture
def feed_server(tmp_path: Path) -> Iterator[FeedServer]:
    folder = tmp_path / "served"
    shutil.copytree(FEEDS, folder)
    server = FeedServer(folder)
    yield server
    server.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class SmtpServer:
    host: str
    port: int
    messages: list[Any]
    handler: Any


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) that keeps every message it accepts."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    messages: list[Any] = []

    class Keep(Message):
        def handle_message(self, message: Any) -> None:
            messages.append(message)

    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer("127.0.0.1", controller.port, messages, handler)
    controller.stop()


def write_config(
    path: Path, feeds: list[str], channels: str = "", extra: str = "", fetch: str = ""
) -> Path:
    """A config with the fixtures' watch list, the given feed URLs and channel tables;
    ``fetch`` adds lines to the [fetch] table (whose timeout is 3s unless it sets one)."""
    feed_tables = "\n".join(f'[[feeds]]\nurl = "{url}"\n' for url in feeds)
    path.write_text(
        f"""
[storage]
path = "{path.parent / "monitor.db"}"

[fetch]
{fetch if "timeout" in fetch else 'timeout = "3s"' + chr(10) + fetch}

{feed_tables}

[watch.entities]
OpenAI = ["OpenAI"]
Luxshare = ["Luxshare", "Luxshare Precision", "立讯精密", "立讯"]
TrendForce = ["TrendForce", "集邦咨询"]

{extra}
{channels}
""",
        encoding="utf-8",
    )
    return path


def monitor(*args: str, env: dict[str, str] | None = None) -> Result:
    """Run the CLI in-process, as a user would from the shell."""
    return CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)


def webhook_channel(receiver: Receiver, schedule: str = "immediate") -> str:
    return f"""
[[channels]]
name = "team"
type = "webhook"
url = "{receiver.url}/hook"
schedule = "{schedule}"
"""


def fixture_feed_names() -> list[str]:
    return sorted(p.name for p in FEEDS.iterdir())


def expected_stories(feeds: tuple[str, ...] | None = None) -> dict[str, set[str]]:
    """story key -> titles of the items that tell it (in the given feed files, else all)."""
    stories: dict[str, set[str]] = {}
    for item in EXPECTED:
        if item["story"] and (feeds is None or item["feed"] in feeds):
            stories.setdefault(item["story"], set()).add(item["title"])
    return stories


def negative_titles() -> set[str]:
    return {item["title"] for item in EXPECTED if not item["alert"]}

"""The offline demo: serve fixtures/ over a real local HTTP server and run the whole pipeline.

Also used by the tests as their feed server: a plain ThreadingHTTPServer on an ephemeral port.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from monitor.config import Config, load_config_text
from monitor.delivery import deliver
from monitor.pipeline import Context, poll
from monitor.records import CycleSummary, DeliveryOutcome
from monitor.store import Store
from monitor.timeutil import utcnow

DEMO_CONFIG = "demo.toml"  # in the fixtures folder; "{base}" stands for the server's address


class _QuietHandler(SimpleHTTPRequestHandler):
    extensions_map = {  # noqa: RUF012 (the base class declares it as a plain dict)
        **SimpleHTTPRequestHandler.extensions_map,
        ".xml": "application/rss+xml",
        ".rdf": "application/rdf+xml",
        ".atom": "application/atom+xml",
        ".json": "application/feed+json",
    }

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve ``folder`` on 127.0.0.1 at an ephemeral port; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def find_fixtures() -> Path:
    """fixtures/ beside the package in a source checkout, else in the working directory."""
    for candidate in (Path(__file__).resolve().parent.parent / "fixtures", Path("fixtures")):
        if (candidate / DEMO_CONFIG).is_file():
            return candidate
    raise FileNotFoundError(
        "cannot find the fixtures/ folder with demo.toml; run from a "
        "checkout of monitor or pass --fixtures DIR"
    )


def demo_config(fixtures: Path, base_url: str, out: Path) -> Config:
    text = (fixtures / DEMO_CONFIG).read_text(encoding="utf-8").replace("{base}", base_url)
    config = load_config_text(text, str(fixtures / DEMO_CONFIG))
    channels = tuple(
        replace(c, path=str(out / "digests")) if c.type == "file" else c for c in config.channels
    )
    return replace(config, storage_path=str(out / "monitor.db"), channels=channels)


@dataclass(frozen=True)
class DemoResult:
    config: Config
    summary: CycleSummary
    deliveries: list[DeliveryOutcome]
    digest_files: list[Path]  # what the file channel wrote per digest: .txt, .html, .json, .eml


def run_demo(fixtures: Path, out: Path) -> DemoResult:
    """Run the pipeline once over the fixtures into ``out``, starting from an empty database."""
    for stale in ("monitor.db", "monitor.db-wal", "monitor.db-shm"):
        (out / stale).unlink(missing_ok=True)
    shutil.rmtree(out / "digests", ignore_errors=True)
    with serve_folder(fixtures) as base_url:
        config = demo_config(fixtures, base_url, out)
        store = Store.open(config.storage_path)
        try:
            summary, _ = asyncio.run(poll(Context.build(config, store), utcnow(), force=True))
            outcomes = deliver(store, config, utcnow())
        finally:
            store.close()
    files = sorted((out / "digests").glob("*")) if (out / "digests").is_dir() else []
    return DemoResult(config, summary, outcomes, files)

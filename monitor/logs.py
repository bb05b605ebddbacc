"""Logging setup: human-readable lines by default, one JSON object per line for collectors.

Our log messages are stable events: a short event name followed by ``key=value`` fields
(``cycle polled=12 failed=1 ...``, ``feed status=error url=... error='timed out'``). The JSON
format keeps the message and also splits it into ``event`` and those fields, numbers as numbers,
so a collector can filter on ``event == "cycle"`` without parsing text.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

LOG_FORMATS = ("human", "json")
_FIELD = re.compile(r"""(\w+)=('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)""")
_EVENT = re.compile(r"(\w+(?: \w+)*?)(?= \w+=|$)")


def message_fields(message: str) -> dict[str, Any]:
    """``"cycle polled=3 error='x y'"`` -> {"event": "cycle", "polled": 3, "error": "x y"}."""
    fields: dict[str, Any] = {}
    event = _EVENT.match(message)
    if event and "=" not in event.group(1):
        fields["event"] = event.group(1)
    for name, raw in _FIELD.findall(message):
        fields[name] = _value(raw)
    return fields


def _value(raw: str) -> Any:
    if raw[:1] in ("'", '"'):
        try:
            return ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            return raw
    if re.fullmatch(r"-?\d+", raw):
        return int(raw)
    return raw


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        for name, value in message_fields(message).items():
            data.setdefault(name, value)  # a field never hides time, level or logger
        data["message"] = message
        if record.exc_info:
            data["traceback"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def setup_logging(verbose: int = 0, quiet: int = 0, log_format: str = "human") -> None:
    """Configure the root logger on standard error. Each -v lowers the level one step
    (INFO, DEBUG), each -q raises it (WARNING, ERROR, CRITICAL)."""
    level = max(logging.INFO - 10 * verbose + 10 * quiet, logging.DEBUG)
    root = logging.getLogger()
    ours = [h for h in root.handlers if getattr(h, "monitor", False)]
    # Like logging.basicConfig: a host that set up logging already (a test runner, an embedding
    # program) keeps its handlers; we only ever replace our own.
    if len(ours) == len(root.handlers):
        for old in ours:
            root.removeHandler(old)
        handler = logging.StreamHandler(sys.stderr)
        handler.monitor = True  # type: ignore[attr-defined]
        handler.setFormatter(
            JsonFormatter()
            if log_format == "json"
            else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
        )
        root.addHandler(handler)
        root.setLevel(level)
    # httpx logs every request at INFO; that is noise unless asked for.
    logging.getLogger("httpx").setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.INFO if verbose else logging.WARNING)

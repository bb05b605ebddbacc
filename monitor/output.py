"""Rendering listings for the terminal and for other tools: table, json, ndjson, csv."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from tabulate import tabulate
from wcwidth import wcwidth

FORMATS = ("table", "json", "ndjson", "csv")
_CELL_WIDTH = 60


def _cell(value: Any, truncate: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        value = ", ".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return _clip(text, _CELL_WIDTH) if truncate else text


def _clip(text: str, columns: int) -> str:
    """The text cut to fit ``columns`` terminal columns, with an ellipsis when cut. Chinese,
    Japanese and Korean characters take two columns each (wcwidth, which tabulate also uses to
    align them), so a title of 60 of them is cut at 29, not left twice as wide as the others."""
    widths = [max(wcwidth(c), 0) for c in text]
    if sum(widths) <= columns:
        return text
    used = 0
    for i, width in enumerate(widths):
        if used + width > columns - 1:
            return text[:i] + "…"
        used += width
    return text


def format_rows(
    rows: Sequence[dict[str, Any]], fmt: str, columns: Sequence[str] | None = None
) -> str:
    """``columns`` picks what a table shows; json, ndjson and csv always carry every field."""
    if fmt == "json":
        return json.dumps(list(rows), ensure_ascii=False, indent=2)
    if fmt == "ndjson":
        return "\n".join(json.dumps(r, ensure_ascii=False) for r in rows)
    if fmt == "csv":
        buffer = io.StringIO()
        if rows:
            writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _cell(v, truncate=False) for k, v in r.items()} for r in rows)
        return buffer.getvalue().rstrip("\n")
    if not rows:
        return "(nothing)"
    shown = list(columns or rows[0])
    table: str = tabulate(
        [[_cell(r.get(c), truncate=True) for c in shown] for r in rows],
        headers=shown,
        disable_numparse=True,
    )
    return table


def format_record(record: dict[str, Any], fmt: str) -> str:
    """One record (``monitor show``): JSON, or ``key: value`` lines for people, lists of
    records as indented blocks."""
    if fmt == "json":
        return json.dumps(record, ensure_ascii=False, indent=2)
    width = max(len(k) for k in record)
    lines = []
    for key, value in record.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            lines.append(f"{key}:")
            for item in value:
                lines.extend(_item_lines(item))
        elif isinstance(value, list) and key == "why":
            lines.append(f"{key}:")
            lines.extend(f"  - {reason}" for reason in value)
        else:
            lines.append(f"{key + ':':<{width + 1}} {_cell(value, truncate=False)}")
    return "\n".join(lines)


def _item_lines(item: dict[str, Any]) -> list[str]:
    """One record of a list (an outlet's copy, a delivery) as an indented block of ``key:
    value`` lines, empty values left out: a row of a dozen unlabelled cells joined by bars
    could not be read."""
    shown = {k: _cell(v, truncate=False) for k, v in item.items()}
    shown = {k: v for k, v in shown.items() if v}
    width = max((len(k) for k in shown), default=0)
    return [
        f"  {'-' if i == 0 else ' '} {key + ':':<{width + 1}} {text}"
        for i, (key, text) in enumerate(shown.items())
    ]

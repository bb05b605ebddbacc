"""Tables for the terminal: columns line up whatever script the cells are written in."""

from __future__ import annotations

import re

from wcwidth import wcswidth

from monitor.output import format_record, format_rows


def test_columns_line_up_beside_double_width_text() -> None:
    rows = [
        {"id": 1, "name": "TechWire", "health": "ok"},
        {"id": 5, "name": "中国电子观察", "health": "failing"},
    ]
    lines = format_rows(rows, "table").splitlines()
    # Each line starts its last column at the same terminal column as the header's.
    starts = {wcswidth(line[: list(re.finditer(r"\s{2,}", line))[-1].end()]) for line in lines}
    assert len(starts) == 1, lines


def test_long_cells_are_cut_to_the_same_width_in_any_script() -> None:
    rows = [{"title": "立讯精密" * 30}, {"title": "Luxshare Precision " * 10}]
    cells = [line.rstrip() for line in format_rows(rows, "table").splitlines()[2:]]
    assert all(cell.endswith("…") for cell in cells), cells
    # A two-column character that would cross the limit is left out: 59 or 60 columns.
    assert all(59 <= wcswidth(cell) <= 60 for cell in cells), cells


def test_json_keeps_the_whole_text() -> None:
    assert "立讯精密" * 30 in format_rows([{"title": "立讯精密" * 30}], "json")


def test_a_record_lists_its_items_as_labelled_blocks() -> None:
    record = {
        "id": 1,
        "outlets": [
            {"feed": "TechWire", "url": "https://a.example/1", "revisions": 1, "error": None},
            {"feed": "中国电子观察", "url": "https://b.example/1", "revisions": 2, "error": None},
        ],
    }
    text = format_record(record, "text")
    assert "  - feed:      TechWire\n    url:       https://a.example/1\n" in text
    assert "  - feed:      中国电子观察\n" in text
    assert "error" not in text  # empty values are left out

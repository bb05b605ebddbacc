"""Inline SVG charts for the report page: no library, no script, no network to view them.

Each function takes plain data and returns one ``<svg>`` element as text, every label escaped.
Charts carry ``<title>`` elements, so hovering a point or bar names it, and a ``data-*``
attribute per mark, so tests (and curious readers of the source) can check what is drawn.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from html import escape

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d")
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _svg(chart_id: str, width: int, height: int, body: list[str], label: str) -> str:
    return (
        f'<svg id="{chart_id}" class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"
    )


def _nice_max(value: float) -> int:
    """A round axis maximum at or above ``value`` (1, 2, 5, 10, 20, 50...)."""
    if value <= 1:
        return 1
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return int(step * magnitude)
    return int(10 * magnitude)


def _axis_label(when: date, span: timedelta) -> str:
    """A time axis label: the day within a year or so, the month and year beyond, where
    "Dec 05" could be any of several Decembers."""
    return f"{when:%b %d}" if span <= timedelta(days=300) else f"{when:%b %Y}"


def line_chart(chart_id: str, days: Sequence[date], series: Mapping[str, Sequence[int]]) -> str:
    """One line per series over ``days`` (mentions per entity per day), with a legend."""
    width, height, left, right, top, bottom = 760, 260, 40, 150, 12, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((max(v, default=0) for v in series.values()), default=0))
    step = plot_w / max(len(days) - 1, 1)

    def x(i: int) -> float:
        return left + i * step

    def y(v: float) -> float:
        return top + plot_h - v / top_value * plot_h

    body = []
    for tick in range(5):
        value = top_value * tick / 4
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#e5e7eb"/><text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
            f'{_FONT} fill="#6b7280">{value:g}</text>'
        )
    every = max(1, math.ceil(len(days) / 8))
    for i, day in enumerate(days):
        if i % every == 0 or i == len(days) - 1:
            body.append(
                f'<text x="{x(i):.1f}" y="{height - 10}" text-anchor="middle" {_FONT} '
                f'fill="#6b7280">{_axis_label(day, days[-1] - days[0])}</text>'
            )
    for n, (name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        body.append(
            f'<polyline class="series" data-series="{escape(name)}" data-total="{sum(values)}" '
            f'points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
        for i, v in enumerate(values):
            if v:
                body.append(
                    f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}">'
                    f"<title>{escape(name)}: {v} on {days[i]:%Y-%m-%d}</title></circle>"
                )
        legend_y = top + 14 + n * 18
        body.append(
            f'<rect x="{width - right + 14}" y="{legend_y - 9}" width="10" height="10" '
            f'fill="{colour}"/><text x="{width - right + 30}" y="{legend_y}" {_FONT}>'
            f"{escape(name)} ({sum(values)})</text>"
        )
    return _svg(chart_id, width, height, body, "Mentions per watched entity per day")


def timeline(
    chart_id: str, start: datetime, end: datetime, events: Sequence[tuple[datetime, int, str]]
) -> str:
    """Events (when, outlet count, title) on a time axis; a circle's area grows with its
    outlets. Overlapping events are put on separate lanes."""
    width, left, right, lane_h = 760, 20, 20, 34
    span = max((end - start).total_seconds(), 1)
    plot_w = width - left - right

    def x(when: datetime) -> float:
        return left + min(max((when - start).total_seconds() / span, 0), 1) * plot_w

    lanes: list[float] = []  # the right edge of the last circle on each lane
    placed = []
    for when, outlets, title in sorted(events):
        radius = 5 + 3 * math.sqrt(outlets)
        cx = x(when)
        lane = next((i for i, edge in enumerate(lanes) if cx - radius > edge + 4), len(lanes))
        if lane == len(lanes):
            lanes.append(0)
        lanes[lane] = cx + radius
        placed.append((cx, lane, radius, when, outlets, title))
    height = 40 + lane_h * max(len(lanes), 1)
    axis_y = height - 22
    body = [
        f'<line x1="{left}" x2="{width - right}" y1="{axis_y}" y2="{axis_y}" stroke="#9ca3af"/>'
    ]
    ticks = 6
    for t in range(ticks + 1):
        when = start + (end - start) * t / ticks
        body.append(
            f'<text x="{x(when):.1f}" y="{height - 6}" text-anchor="middle" {_FONT} '
            f'fill="#6b7280">{_axis_label(when, end - start)}</text>'
        )
    for cx, lane, radius, when, outlets, title in placed:
        cy = axis_y - 20 - lane * lane_h
        body.append(
            f'<circle class="event" data-outlets="{outlets}" cx="{cx:.1f}" cy="{cy:.1f}" '
            f'r="{radius:.1f}" fill="#2563eb" fill-opacity="0.55" stroke="#1e40af">'
            f"<title>{escape(title)}: {outlets} outlet{'s' if outlets != 1 else ''}, "
            f"{when:%Y-%m-%d %H:%M} UTC</title></circle>"
            f'<text x="{cx:.1f}" y="{cy + 4:.1f}" text-anchor="middle" {_FONT} '
            f'fill="#111827">{outlets}</text>'
        )
    return _svg(chart_id, width, height, body, "Alerted stories over time, sized by outlets")


def bar_chart(chart_id: str, rows: Sequence[tuple[str, int, int]], first: str, second: str) -> str:
    """Horizontal bars per label: ``first`` (dark) drawn over ``second`` (light), e.g. stories
    an outlet broke first over stories it carried."""
    width, left, right, bar_h, gap = 760, 190, 60, 16, 8
    height = 30 + len(rows) * (bar_h + gap)
    top_value = _nice_max(max((max(a, b) for _, a, b in rows), default=0))
    scale = (width - left - right) / top_value
    body = [
        f'<rect x="{left}" y="4" width="10" height="10" fill="#1d4ed8"/>'
        f'<text x="{left + 14}" y="13" {_FONT}>{escape(first)}</text>'
        f'<rect x="{left + 180}" y="4" width="10" height="10" fill="#bfdbfe"/>'
        f'<text x="{left + 194}" y="13" {_FONT}>{escape(second)}</text>'
    ]
    for i, (label, dark, light) in enumerate(rows):
        y = 24 + i * (bar_h + gap)
        body.append(
            f'<text x="{left - 6}" y="{y + 12}" text-anchor="end" {_FONT}>{escape(label)}</text>'
            f'<rect x="{left}" y="{y}" width="{light * scale:.1f}" height="{bar_h}" '
            f'fill="#bfdbfe"><title>{escape(label)}: {second} {light}</title></rect>'
            f'<rect class="bar" data-label="{escape(label)}" data-value="{dark}" x="{left}" '
            f'y="{y}" width="{dark * scale:.1f}" height="{bar_h}" fill="#1d4ed8">'
            f"<title>{escape(label)}: {first} {dark}</title></rect>"
            f'<text x="{left + max(dark, light) * scale + 6:.1f}" y="{y + 12}" {_FONT}>'
            f"{dark} / {light}</text>"
        )
    return _svg(chart_id, width, height, body, f"{first} and {second}, per outlet")


def health_bar(chart_id: str, counts: Mapping[str, int]) -> str:
    """One stacked bar: how many feeds are ok, failing, disabled, not polled yet."""
    colours = {
        "ok": "#059669",
        "failing": "#dc2626",
        "disabled": "#6b7280",
        "not polled": "#d1d5db",
    }
    width, height, left = 760, 56, 10
    total = max(sum(counts.values()), 1)
    body, x = [], float(left)
    for state, colour in colours.items():
        n = counts.get(state, 0)
        if not n:
            continue
        w = n / total * (width - 2 * left)
        body.append(
            f'<rect class="state" data-state="{state}" data-count="{n}" x="{x:.1f}" y="6" '
            f'width="{w:.1f}" height="22" fill="{colour}"><title>{state}: {n}</title></rect>'
            f'<text x="{x + 4:.1f}" y="44" {_FONT}>{state} {n}</text>'
        )
        x += w
    return _svg(chart_id, width, height, body, "Feed health")

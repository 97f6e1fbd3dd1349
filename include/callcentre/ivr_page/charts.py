"""The IVR days page's SVG charts, pure functions: every text is escaped (labels may one day carry
data), and the ``viewBox`` scales them to the width given (a 400 px phone screen too)."""

from __future__ import annotations

from dataclasses import dataclass
from xml.sax.saxutils import escape as _escape

# Colours of the hour states, the same as the calendar's in page.css.
HOUR_COLOURS = {"success": "#2e7d32", "failed": "#c62828", "running": "#1565c0", "none": "#bdbdbd"}
BAR_COLOUR = "#ef6c00"
PER_ROW = 8  # hours per row of the strip
_FONT = "font-family='sans-serif'"


def escape(text: object) -> str:
    return _escape(str(text), {'"': "&quot;", "'": "&#39;"})


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' width='100%' "
        f"role='img' aria-label='{escape(title)}'><title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def rejects_chart(counts: dict[str, int], title: str, empty_text: str) -> str:
    """Horizontal bars, one per rule, longest first (ties by rule name), each with its count."""
    rows = sorted(((rule, n) for rule, n in counts.items() if n > 0), key=lambda r: (-r[1], r[0]))
    width, bar_h, gap, label_w = 400, 22, 6, 165
    if not rows:
        return _svg(width, 30, [f"<text x='0' y='20' {_FONT} font-size='14' fill='#444'>{escape(empty_text)}</text>"],
                    title)
    top = max(n for _, n in rows)
    body = []
    for i, (rule, n) in enumerate(rows):
        y = i * (bar_h + gap)
        length = max(1.0, (width - label_w - 60) * n / top)
        body.append(
            f"<g class='bar' data-rule='{escape(rule)}' data-count='{n}'>"
            f"<text x='0' y='{y + 16}' {_FONT} font-size='14' fill='#222'>{escape(rule)}</text>"
            f"<rect x='{label_w}' y='{y}' width='{length:.1f}' height='{bar_h}' fill='{BAR_COLOUR}'/>"
            f"<text x='{label_w + length + 4:.1f}' y='{y + 16}' {_FONT} font-size='14' fill='#222'>{n}</text></g>"
        )
    return _svg(width, len(rows) * (bar_h + gap), body, title)


@dataclass(frozen=True)
class HourCell:
    hour: int
    state: str          # success | failed | running | none (no attempt in the ledger)
    rows: int | None    # rows read by the latest attempt
    tries: int          # attempts in the ledger


def hours_strip(cells: list[HourCell], title: str) -> str:
    """The 24 hours as a strip of coloured cells, three rows of eight (night, day, evening) so the
    numbers stay readable on a phone; each cell shows its hour and the rows its latest attempt read."""
    by_hour = {c.hour: c for c in cells}
    cell_w, cell_h, gap = 48, 36, 3
    body = []
    for hour in range(24):
        cell = by_hour.get(hour, HourCell(hour, "none", None, 0))
        x, y = (hour % PER_ROW) * (cell_w + gap), (hour // PER_ROW) * (cell_h + gap)
        colour = HOUR_COLOURS.get(cell.state, HOUR_COLOURS["none"])
        rows = "" if cell.rows is None else _short(cell.rows)
        body.append(
            f"<g class='hour' data-hour='{hour}' data-state='{escape(cell.state)}' data-tries='{cell.tries}'>"
            f"<rect x='{x}' y='{y}' width='{cell_w}' height='{cell_h}' rx='3' fill='{colour}'/>"
            f"<text x='{x + cell_w / 2}' y='{y + 14}' {_FONT} font-size='12' fill='#fff' text-anchor='middle'>{hour:02d}</text>"
            f"<text x='{x + cell_w / 2}' y='{y + 30}' {_FONT} font-size='13' fill='#fff' text-anchor='middle'>{rows}</text></g>"
        )
    return _svg(PER_ROW * (cell_w + gap) - gap, 3 * cell_h + 2 * gap, body, title)


def _short(n: int) -> str:
    """A count in at most four characters: 950, 9.5k, 12k, 1.2M."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}M"

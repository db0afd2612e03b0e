"""Inline SVG charts for the quality report: no script, no external asset, prints on A4.

Two shapes: :func:`bar_chart` (horizontal bars with a labelled value axis, e.g. quarantined
rows by rule) and :func:`line_chart` (one line per series over ordered x values, labelled
axes and a legend, e.g. pass rate per stream across runs). Every mark carries a ``<title>``
so a browser shows the exact value on hover, and every chart has an ``aria-label``.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

#: colour-blind safe palette (Okabe–Ito), cycled per series
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")
_FONT = 'font-family="Noto Sans CJK SC, Microsoft YaHei, sans-serif"'


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at least ``top`` (1, 2 or 5 × a power of ten apart)."""
    if top <= 0:
        return [0.0, 1.0]
    step = _step(top, count)
    n = math.ceil(top / step)
    return [i * step for i in range(n + 1)]


def _step(span: float, count: int = 5) -> float:
    raw = span / count
    mag = 10 ** math.floor(math.log10(raw))
    return float(next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw))


def _range_ticks(lo: float, hi: float) -> list[float]:
    step = _step(hi - lo)
    n = round((hi - lo) / step)
    return [round(lo + i * step, 10) for i in range(n + 1)]


def _num(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, value_label: str,
              category_label: str, chart_id: str, width: int = 720) -> str:
    """Horizontal bars, one per ``(label, value)``, longest first as given."""
    if not items:
        return ""
    # room for the longest label: ~11 px per CJK character, ~6.5 px per other character
    longest = max(sum(11.0 if ord(c) > 0x2E80 else 6.5 for c in label) for label, _ in items)
    left, right, top, row = int(min(max(longest + 16, 80), width * 0.55)), 40, 34, 22
    bottom = 44
    height = top + row * len(items) + bottom
    ticks = nice_ticks(max(v for _, v in items))
    scale = (width - left - right) / ticks[-1]
    parts = [f'<svg id="{_e(chart_id)}" class="chart" role="img" aria-label="{_e(title)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" {_FONT} '
             'font-size="11">',
             f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13" '
             f'font-weight="600">{_e(title)}</text>',
             f'<text x="12" y="{top - 8}" font-size="11" fill="#444">{_e(category_label)}</text>']
    axis_y = top + row * len(items)
    for t in ticks:
        x = left + t * scale
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 14}" text-anchor="middle">'
                     f"{_num(t)}</text>")
    for i, (label, value) in enumerate(items):
        y = top + i * row
        w = max(value * scale, 0.5 if value else 0)
        parts.append(f'<text x="{left - 6}" y="{y + 15}" text-anchor="end">{_e(label)}</text>')
        parts.append(f'<rect class="bar" x="{left}" y="{y + 4}" width="{w:.1f}" '
                     f'height="{row - 8}" fill="{PALETTE[0]}"><title>{_e(label)}: '
                     f"{_num(value)}</title></rect>")
        parts.append(f'<text x="{left + w + 4:.1f}" y="{y + 15}">{_num(value)}</text>')
    parts.append(f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" '
                 'stroke="#333"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{axis_y}" stroke="#333"/>')
    parts.append(f'<text x="{left + (width - left - right) / 2:.0f}" y="{height - 8}" '
                 f'text-anchor="middle" fill="#444">{_e(value_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(x_labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
               *, title: str, x_label: str, y_label: str, chart_id: str,
               y_min: float | None = None, y_max: float | None = None,
               width: int = 720, height: int = 300) -> str:
    """One line per ``(name, values)`` over ``x_labels`` (``None``: no value that run)."""
    values = [v for _, vs in series for v in vs if v is not None]
    if not x_labels or not values:
        return ""
    left, right, top = 64, 20, 34
    legend_rows = math.ceil(len(series) / 3)
    bottom = 70 + 16 * legend_rows
    lo = min(values) if y_min is None else y_min
    hi = max(values) if y_max is None else y_max
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    # widen the range to round tick values (e.g. 65–100 rather than 69.2–100)
    step = _step(hi - lo)
    lo, hi = math.floor(lo / step) * step, math.ceil(hi / step) * step
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(x_labels) - 1, 1)

    def px(i: int) -> float:
        return left + (i * step if len(x_labels) > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top + plot_h - (v - lo) / (hi - lo) * plot_h

    parts = [f'<svg id="{_e(chart_id)}" class="chart" role="img" aria-label="{_e(title)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}" {_FONT} '
             'font-size="11">',
             f'<text x="{width / 2:.0f}" y="16" text-anchor="middle" font-size="13" '
             f'font-weight="600">{_e(title)}</text>']
    for v in _range_ticks(lo, hi):
        y = py(v)
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" '
                     'stroke="#ddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f"{_num(v)}</text>")
    every = max(1, math.ceil(len(x_labels) / 8))  # at most ~8 x labels stay readable
    last = len(x_labels) - 1
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == last:
            # the outermost labels align inwards so they are not cut at the edges
            anchor = ("start" if i == 0 and last else "end" if i == last and last
                      else "middle")
            parts.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 14}" '
                         f'text-anchor="{anchor}">{_e(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" '
                 f'y2="{top + plot_h}" stroke="#333"/>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" '
                 'stroke="#333"/>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h + 32}" '
                 f'text-anchor="middle" fill="#444">{_e(x_label)}</text>')
    parts.append(f'<text transform="translate(14 {top + plot_h / 2:.0f}) rotate(-90)" '
                 f'text-anchor="middle" fill="#444">{_e(y_label)}</text>')
    for n, (name, vs) in enumerate(series):
        colour = PALETTE[n % len(PALETTE)]
        points = [(px(i), py(v), v, x_labels[i]) for i, v in enumerate(vs) if v is not None]
        if len(points) > 1:
            line = " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
            parts.append(f'<polyline class="series" data-series="{_e(name)}" fill="none" '
                         f'stroke="{colour}" stroke-width="2" points="{line}"/>')
        for x, y, v, label in points:
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}">'
                         f"<title>{_e(name)} · {_e(label)}: {_num(round(v, 2))}</title>"
                         "</circle>")
        lx = left + (n % 3) * (plot_w / 3)
        ly = height - 16 * legend_rows + 16 * (n // 3) - 4
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 9}" width="12" height="4" '
                     f'fill="{colour}"/><text x="{lx + 16:.1f}" y="{ly - 4}">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)

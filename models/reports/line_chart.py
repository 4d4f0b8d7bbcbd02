"""A small line chart written as SVG text: one per account page, thousands per run, so no
plotting library (matplotlib takes about 50 ms a figure; this, well under one)."""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

#: Line colours, in the order the series come.
PALETTE = ("#2c7fb8", "#d95f0e", "#1a9850", "#756bb1", "#e7298a", "#66a61e", "#a6761d",
           "#666666")
WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 150, 24, 28


def line_chart(series: dict[str, pd.Series], *, title: str, y_max: float | None = None,
               percent: bool = False) -> str:
    """Inline SVG of each series (values indexed by day) against time, one colour each,
    named at the right; the y axis from 0 to ``y_max`` (default: the largest value),
    labelled as percentages when ``percent``. Days without a value leave a gap."""
    # plain arrays: thousands of charts a run, so no pandas per point
    present = {}
    for name, values in series.items():
        numbers = values.to_numpy(dtype=float)
        keep = ~np.isnan(numbers)
        if keep.any():
            days = values.index.to_numpy("datetime64[D]")[keep].astype(np.int64)
            present[name] = (days, numbers[keep])
    if not present:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} 40" '
                f'role="img"><title>{html.escape(title)}</title><text x="0" y="24">'
                f"{html.escape(title)}: no values</text></svg>")
    first = min(int(d.min()) for d, _ in present.values())
    last = max(int(d.max()) for d, _ in present.values())
    span = max(last - first, 1)
    top = y_max if y_max is not None else max(float(v.max()) for _, v in present.values())
    top = top if top > 0 else 1.0
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def xs(days: np.ndarray) -> np.ndarray:
        return LEFT + inner_w * (days - first) / span

    def ys(values: np.ndarray) -> np.ndarray:
        return TOP + inner_h * (1 - np.clip(values, 0.0, top) / top)

    def y(value: float) -> float:
        return float(ys(np.array([value]))[0])

    def label(value: float) -> str:
        return f"{value:.0%}" if percent else f"{value:,.0f}"

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'role="img" class="line-chart"><title>{html.escape(title)}</title>',
             f'<text x="{LEFT}" y="14" font-size="13" font-weight="600">'
             f"{html.escape(title)}</text>"]
    for value in (0.0, top / 2, top):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + inner_w}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}" stroke="#ddd"/><text x="{LEFT - 6}" '
                     f'y="{y(value) + 4:.1f}" font-size="11" text-anchor="end">'
                     f"{label(value)}</text>")
    for day, x, anchor in ((first, LEFT, "start"), (last, LEFT + inner_w, "end")):
        parts.append(f'<text x="{x}" y="{HEIGHT - 8}" font-size="11" '
                     f'text-anchor="{anchor}">{np.datetime64(day, "D")}</text>')
    for position, (name, (days, values)) in enumerate(present.items()):
        colour = PALETTE[position % len(PALETTE)]
        order = np.argsort(days, kind="stable")
        px, py = xs(days[order]), ys(values[order])
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px.tolist(), py.tolist(),
                                                              strict=True))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{points}" data-series="{html.escape(name, quote=True)}"/>')
        parts.append(f'<circle cx="{px[-1]:.1f}" cy="{py[-1]:.1f}" r="3" '
                     f'fill="{colour}"/><text x="{LEFT + inner_w + 8}" '
                     f'y="{TOP + 14 * position + 4}" font-size="11" fill="{colour}">'
                     f"{html.escape(name)} {label(float(values[order][-1]))}</text>")
    parts.append("</svg>")
    return "".join(parts)

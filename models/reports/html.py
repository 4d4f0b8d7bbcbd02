"""Pieces shared by the HTML report pages: one style sheet, tables and chart grids.

Every page is one self-contained file (inline CSS and SVG, nothing fetched)."""

from __future__ import annotations

import html

import pandas as pd

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { margin-bottom: 0; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .3rem; }
.cards { display: flex; flex-wrap: wrap; gap: .8rem; margin: 1rem 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }
.warning { background: #fdecea; border-left: 4px solid #c0392b; padding: .5rem 1rem; }
.value { font-size: 1.5rem; font-weight: 600; } .label { color: #666; font-size: .85rem; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
.charts svg { width: 100%; height: auto; }
figure.wide { margin: 1rem 0; max-width: 900px; } figure.wide svg { width: 100%; height: auto; }
table.data { border-collapse: collapse; font-size: .9rem; margin: .5rem 0 1rem; }
table.data th, table.data td { padding: .3rem .6rem; border-bottom: 1px solid #eee;
  text-align: left; }
"""


def table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, border=0, classes="data",
                         float_format=lambda v: f"{v:,.3f}", na_rep="–")


def charts(svgs: list[str]) -> str:
    return ('<div class="charts">' + "".join(f"<figure>{chart}</figure>" for chart in svgs)
            + "</div>")


def page(title: str, body: str) -> str:
    """A whole HTML document around ``body``."""
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style></head><body>\n"
            f"{body}\n</body></html>\n")

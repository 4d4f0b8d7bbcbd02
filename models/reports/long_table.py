"""Tables too long to lay out as HTML: a portfolio holds every account, a CSM's page every
alert. The rows travel as JSON inside the page and the browser shows a hundred at a time
(sorted by a click on a header, narrowed by the page's filters, "show more" for the next
hundred), so a page of 10^5 accounts opens at once and costs little to write.

The JSON is column-wise: ``shown`` (each column's text as people read it), ``keys``
(each column's raw numbers to sort by, ``null`` for a text column, which sorts by its
text) and ``links`` (each row's link of a linked column, ``null`` for the others);
``filters`` names, for each ``select[data-filter]`` of the table, the column it
matches (the ``renewal`` filter keeps rows whose number is at most the chosen one).
"""

from __future__ import annotations

import html
import json
import math

import numpy as np
import pandas as pd

#: Rows a long table shows at first, and adds with each "show more".
PAGE_ROWS = 100

SCRIPT = f"const PAGE_ROWS = {PAGE_ROWS};\n" + """
for (const table of document.querySelectorAll('table[data-long-table]')) {
  const data = JSON.parse(document.getElementById(table.id + '-data').textContent);
  const n = data.shown.length ? data.shown[0].length : 0;
  const more = document.querySelector('button[data-more="' + table.id + '"]');
  const count = document.querySelector('[data-count="' + table.id + '"]');
  const filters = Array.from(
    document.querySelectorAll('select[data-filter][data-table="' + table.id + '"]'));
  let order = Array.from({length: n}, (_, i) => i);
  let limit = PAGE_ROWS;
  const keep = i => filters.every(f => {
    if (!f.value) return true;
    const column = data.filters[f.dataset.filter];
    if (f.dataset.filter === 'renewal') {
      const days = data.keys[column][i];
      return days !== null && days <= parseFloat(f.value);
    }
    return data.shown[column][i] === f.value;
  });
  const render = () => {
    const rows = order.filter(keep);
    table.tBodies[0].replaceChildren(...rows.slice(0, limit).map(i => {
      const tr = document.createElement('tr');
      data.shown.forEach((column, c) => {
        const td = document.createElement('td');
        const href = data.links[c] && data.links[c][i];
        if (href) {
          const a = document.createElement('a');
          a.href = href;
          a.textContent = column[i];
          td.appendChild(a);
        } else {
          td.textContent = column[i];
        }
        tr.appendChild(td);
      });
      return tr;
    }));
    if (count) count.textContent = rows.length.toLocaleString('en-US');
    more.hidden = rows.length <= limit;
  };
  filters.forEach(f => f.addEventListener('change', () => { limit = PAGE_ROWS; render(); }));
  more.addEventListener('click', () => { limit += PAGE_ROWS; render(); });
  Array.from(table.tHead.rows[0].cells).forEach((cell, c) => {
    cell.addEventListener('click', () => {
      const descending = cell.dataset.order !== 'desc';
      cell.dataset.order = descending ? 'desc' : 'asc';
      const keys = data.keys[c], shown = data.shown[c];
      order.sort((a, b) => {
        const x = keys ? keys[a] : shown[a], y = keys ? keys[b] : shown[b];
        if (x === null || y === null) return (x === null) - (y === null);  // missing last
        const by = keys ? x - y : x.localeCompare(y);
        return descending ? -by : by;
      });
      limit = PAGE_ROWS;
      render();
    });
  });
  render();
}
"""


def shown_text(values: pd.Series) -> list[str]:
    """A text column as the table shows it (and as its filters match it)."""
    return ["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in values.astype(object).tolist()]


def _numbers(values: pd.Series) -> list[float | None]:
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return [None if math.isnan(v) else v for v in numbers.tolist()]


def _formatted(values: pd.Series, style: str) -> tuple[list[str], list[float | None] | None]:
    """(text shown, sort keys) of a column in ``style``: ``money`` ($1,234), ``percent``
    (12%), ``whole`` (1,234), ``number`` (1,234.568) or ``text``."""
    if style == "text":
        return shown_text(values), None
    keys = _numbers(values)
    pattern = {"money": "${:,.0f}", "percent": "{:.0%}", "whole": "{:,.0f}",
               "number": "{:,.3f}"}[style]
    return ["" if v is None else pattern.format(v) for v in keys], keys


def column_style(values: pd.Series) -> str:
    """``whole`` for an integer column, ``number`` for another numeric one (booleans
    aside), else ``text``."""
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return "text"
    return "whole" if pd.api.types.is_integer_dtype(values) else "number"


def long_table(frame: pd.DataFrame, headers: dict[str, str], *, element_id: str,
               styles: dict[str, str] | None = None,
               filters: dict[str, str] | None = None,
               links: dict[str, pd.Series] | None = None) -> str:
    """The table ``element_id`` of ``frame``'s columns named in ``headers`` (column -> header),
    each shown in its style (``styles``; by default ``column_style``), rows in ``frame``'s
    order. ``filters`` maps a filter name (``data-filter`` of a select whose ``data-table``
    is ``element_id``) to the column it matches; ``links`` a column to each row's link
    (aligned with ``frame``; None or empty: no link). Needs ``SCRIPT`` once on the page."""
    columns = [c for c in headers if c in frame.columns]
    styles = styles or {}
    shown, keys = zip(*(_formatted(frame[c], styles.get(c) or column_style(frame[c]))
                        for c in columns), strict=True) if columns else ((), ())
    hrefs = [shown_text(links[c].reindex(frame.index)) if links and c in links else None
             for c in columns]
    payload = json.dumps({"shown": list(shown), "keys": list(keys), "links": hrefs,
                          "filters": {name: columns.index(column)
                                      for name, column in (filters or {}).items()
                                      if column in columns}},
                         separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    head = "".join(f"<th>{html.escape(headers[c])}</th>" for c in columns)
    return (f'<table class="data" id="{element_id}" data-long-table><thead><tr>{head}'
            f'</tr></thead><tbody></tbody></table><p><button type="button" '
            f'data-more="{element_id}" hidden>show {PAGE_ROWS} more</button></p>'
            f'<script type="application/json" id="{element_id}-data">'
            f'{payload}</script>')

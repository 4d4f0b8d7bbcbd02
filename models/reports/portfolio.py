"""The portfolio pages of a day: every scored account, filterable and sortable in the
browser, and one page per CSM with their accounts, alerts and work queue.

Self-contained like every report page: inline CSS and a few lines of inline JavaScript, no
server and no network. ``portfolio.html`` holds the table of every account (filters by
band, segment, CSM, plan and renewal window; click a header to sort), the renewals of the
next 90 days with their health, the 20 largest accounts by ARR, and the average health with
its change since a week and a month before.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd

from models.reports import html as report_html

#: Columns of the account table, with their headers.
ACCOUNT_COLUMNS = {"account_id": "account", "band": "band", "health_score": "health",
                   "churn_probability": "risk", "arr": "ARR", "arr_at_risk": "ARR at risk",
                   "segment": "segment", "plan": "plan", "csm_owner": "CSM",
                   "days_to_renewal": "days to renewal", "recommended_action": "action"}
#: Renewal windows offered by the filter (days).
RENEWAL_WINDOWS = (30, 60, 90)
#: Score column -> (data attribute of a row, label of its filter).
FILTERS = {"band": ("band", "band"), "segment": ("segment", "segment"),
           "csm_owner": ("csm", "CSM"), "plan": ("plan", "plan")}

SCRIPT = """
const table = document.getElementById('accounts');
const rows = Array.from(table.tBodies[0].rows);
const filters = Array.from(document.querySelectorAll('select[data-filter]'));
function apply() {
  let shown = 0;
  for (const row of rows) {
    let keep = true;
    for (const f of filters) {
      if (!f.value) continue;
      if (f.dataset.filter === 'renewal') {
        const days = parseFloat(row.dataset.renewal);
        keep = keep && !isNaN(days) && days <= parseFloat(f.value);
      } else {
        keep = keep && row.dataset[f.dataset.filter] === f.value;
      }
    }
    row.hidden = !keep;
    if (keep) shown++;
  }
  document.getElementById('shown').textContent = shown;
}
filters.forEach(f => f.addEventListener('change', apply));
Array.from(table.tHead.rows[0].cells).forEach((cell, index) => {
  cell.addEventListener('click', () => {
    const descending = cell.dataset.order !== 'desc';
    cell.dataset.order = descending ? 'desc' : 'asc';
    const key = r => r.cells[index].dataset.sort ?? r.cells[index].textContent;
    rows.sort((a, b) => {
      const x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
      const order = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return descending ? -order : order;
    });
    rows.forEach(r => table.tBodies[0].appendChild(r));
  });
});
apply();
"""


def _text(value) -> str:
    return "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _cell(column: str, value) -> str:
    """A table cell showing ``value`` for people, sorting by its raw number."""
    if column in ("arr", "arr_at_risk"):
        shown = "" if pd.isna(value) else f"${value:,.0f}"
    elif column == "churn_probability":
        shown = "" if pd.isna(value) else f"{value:.0%}"
    elif column in ("health_score", "days_to_renewal"):
        shown = "" if pd.isna(value) else f"{value:.0f}"
    else:
        return f"<td>{html.escape(_text(value))}</td>"
    raw = "" if pd.isna(value) else repr(float(value))
    return f'<td data-sort="{raw}">{shown}</td>'


def account_table(scores: pd.DataFrame, *, element_id: str = "accounts") -> str:
    """Every account as a row carrying its filter values as ``data-`` attributes."""
    columns = [c for c in ACCOUNT_COLUMNS if c in scores.columns]
    head = "".join(f"<th>{html.escape(ACCOUNT_COLUMNS[c])}</th>" for c in columns)
    body = []
    for row in scores.to_dict("records"):
        data = " ".join(f'data-{attribute}="{html.escape(_text(row.get(name)), quote=True)}"'
                        for name, (attribute, _) in FILTERS.items())
        renewal = row.get("days_to_renewal")
        data += f' data-renewal="{"" if pd.isna(renewal) else renewal}"'
        body.append(f"<tr {data}>" + "".join(_cell(c, row.get(c)) for c in columns) + "</tr>")
    return (f'<table class="data" id="{element_id}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def _filter(name: str, label: str, values) -> str:
    options = "".join(f'<option value="{html.escape(v, quote=True)}">{html.escape(v)}</option>'
                      for v in values)
    return (f'<label>{html.escape(label)} <select data-filter="{name}">'
            f'<option value="">all</option>{options}</select></label>')


def owner_file(owner: str) -> str:
    """The file name of a CSM's page."""
    return "csm-" + (re.sub(r"[^A-Za-z0-9_.-]+", "-", owner).strip("-") or "unassigned") + ".html"


def health_change(scores: pd.DataFrame, earlier: pd.DataFrame | None) -> float | None:
    """Average health today minus the average an ``earlier`` day's scores had (all
    accounts scored on each day); None without that day."""
    if earlier is None or earlier.empty:
        return None
    return float(scores["health_score"].mean() - earlier["health_score"].mean())


def render_portfolio(day: str, scores: pd.DataFrame, *, week_before: pd.DataFrame | None,
                     month_before: pd.DataFrame | None, alerts: pd.DataFrame | None,
                     work_queue: pd.DataFrame | None, bands: list[str]) -> dict[str, str]:
    """``{file name: page}``: ``portfolio.html`` and one ``csm-<owner>.html`` per CSM."""
    owners = scores["csm_owner"].fillna("unassigned") if "csm_owner" in scores else pd.Series(
        "unassigned", index=scores.index)
    cards = {"average health": f"{scores['health_score'].mean():.1f}"}
    for label, earlier in (("since a week before", week_before),
                           ("since a month before", month_before)):
        change = health_change(scores, earlier)
        cards[label] = "no scores then" if change is None else f"{change:+.1f}"
    card_html = "".join(f'<div class="card"><div class="value">{html.escape(v)}</div>'
                        f'<div class="label">{html.escape(k)}</div></div>'
                        for k, v in cards.items())
    present = [b for b in bands if b in set(scores["band"])]
    filter_values = {"band": present, **{
        c: sorted({_text(v) for v in scores[c].dropna()}) for c in FILTERS if c != "band"
        and c in scores}}
    controls = "".join(_filter(*FILTERS[c], values) for c, values in filter_values.items())
    controls += ('<label>renewal within <select data-filter="renewal"><option value="">any'
                 "</option>" + "".join(f'<option value="{d}">{d} days</option>'
                                       for d in RENEWAL_WINDOWS) + "</select></label>")
    renewals = scores[scores["days_to_renewal"] <= max(RENEWAL_WINDOWS)].sort_values(
        ["days_to_renewal", "health_score"])
    largest = scores.nlargest(20, "arr")
    links = " · ".join(f'<a href="{owner_file(o)}">{html.escape(o)}</a>'
                       for o in sorted(set(owners)))
    ordered = scores.sort_values("risk_rank") if "risk_rank" in scores else scores
    pages = {"portfolio.html": report_html.page(f"account-health portfolio {day}", f"""
<h1>Portfolio</h1><p>Scores of {html.escape(day)}. CSM pages: {links}</p>
<div class="cards">{card_html}</div>
<h2>Every account</h2>
<p class="filters">{controls} — <span id="shown"></span> of {len(scores)} shown; click a
column header to sort.</p>
{account_table(ordered)}
<h2>Renewals in the next {max(RENEWAL_WINDOWS)} days</h2>
{account_table(renewals, element_id="renewals")}
<h2>The 20 largest accounts by ARR</h2>{account_table(largest, element_id="largest")}
<script>{SCRIPT}</script>""")}
    for owner in sorted(set(owners)):
        mine = ordered[(owners == owner).reindex(ordered.index).to_numpy()]
        ids = set(mine["account_id"])
        owner_alerts = (alerts[alerts["account_id"].isin(ids)] if alerts is not None
                        else pd.DataFrame())
        queue = (work_queue[work_queue["account_id"].isin(ids)] if work_queue is not None
                 else pd.DataFrame())
        alert_table = ("<p>No alerts today.</p>" if owner_alerts.empty else report_html.table(
            owner_alerts[[c for c in ("severity", "alert_type", "message", "escalation")
                          if c in owner_alerts]]))
        queue_table = ("<p>Nothing scheduled.</p>" if queue.empty else report_html.table(
            queue.drop(columns=[c for c in ("as_of", "csm_owner") if c in queue])))
        pages[owner_file(owner)] = report_html.page(f"account-health {owner} {day}", f"""
<h1>{html.escape(owner)}</h1><p>Portfolio of {html.escape(day)}:
{len(mine)} accounts, ${mine['arr'].sum():,.0f} ARR, ${mine['arr_at_risk'].sum():,.0f} at risk,
average health {mine['health_score'].mean():.1f}. <a href="portfolio.html">All accounts</a></p>
<h2>Alerts today</h2>{alert_table}
<h2>Work queue this week</h2>{queue_table}
<h2>Accounts</h2>{account_table(mine, element_id="accounts")}""")
    return pages

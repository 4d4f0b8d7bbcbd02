"""The portfolio pages of a day: every scored account, filterable and sortable in the
browser, and one page per CSM with their accounts, alerts and work queue.

Self-contained like every report page: inline CSS and a few lines of inline JavaScript, no
server and no network. ``portfolio.html`` holds the table of every account (filters by
band, segment, CSM, plan and renewal window; click a header to sort; a hundred rows at a
time, models.reports.long_table), the renewals of the
next 90 days with their health, the 20 largest accounts by ARR, and the average health with
its change since a week and a month before.
"""

from __future__ import annotations

import html
import re

import pandas as pd

from models.reports import html as report_html
from models.reports.long_table import SCRIPT, long_table, shown_text

#: Columns of the account table, with their headers.
ACCOUNT_COLUMNS = {"account_id": "account", "band": "band", "health_score": "health",
                   "churn_probability": "risk", "arr": "ARR", "arr_at_risk": "ARR at risk",
                   "segment": "segment", "plan": "plan", "csm_owner": "CSM",
                   "days_to_renewal": "days to renewal", "recommended_action": "action",
                   "work_item": "work item"}
#: Columns of a CSM's list of work items, with their headers.
WORK_ITEM_COLUMNS = {"rank": "#", "account_id": "account", "severity": "severity",
                     "reasons": "why", "arr_at_risk": "ARR at risk",
                     "health_score": "health", "recommended_action": "action",
                     "new_today": "new today", "opened_on": "open since"}
#: Columns of a CSM's alert table, with their headers.
ALERT_COLUMNS = {"severity": "severity", "alert_type": "alert", "message": "message",
                 "escalation": "escalated"}
#: Rows a table of the portfolio or a CSM page holds at most: the riskiest accounts (the
#: soonest to renew; the first alerts and backlog items). A page stops being one a person
#: opens, let alone forwards, somewhere past a few thousand rows (43 MB at 133k accounts);
#: the day's CSV exports hold them all.
MOST_ROWS = 2_000
#: Renewal windows offered by the filter (days).
RENEWAL_WINDOWS = (30, 60, 90)
#: Score column -> (data attribute of a row, label of its filter).
FILTERS = {"band": ("band", "band"), "segment": ("segment", "segment"),
           "csm_owner": ("csm", "CSM"), "plan": ("plan", "plan")}

#: How each account column is shown (the others as text).
STYLES = {"arr": "money", "arr_at_risk": "money", "churn_probability": "percent",
          "health_score": "whole", "days_to_renewal": "whole"}


def account_table(scores: pd.DataFrame, *, element_id: str = "accounts",
                  pages: dict[str, str] | None = None) -> str:
    """The accounts of ``scores`` in their order, browsable a page at a time; the filters
    of ``FILTERS`` (and the renewal window) narrow the table ``accounts``. ``pages``: each
    account's page, which its id links to."""
    filters = {attribute: column for column, (attribute, _) in FILTERS.items()}
    return long_table(scores, ACCOUNT_COLUMNS, element_id=element_id, styles=STYLES,
                      filters={**filters, "renewal": "days_to_renewal"},
                      links=_account_links(scores, pages))


def _listed(rows: pd.DataFrame, what: str, *, noun: str = "accounts",
            export: str = "scores") -> tuple[pd.DataFrame, str]:
    """The first ``MOST_ROWS`` of ``rows`` (already in their order), and the words saying
    which they are, and which of the day's CSV exports holds them all, when that is not
    all of them."""
    if len(rows) <= MOST_ROWS:
        return rows, ""
    return rows.head(MOST_ROWS), (
        f"<p>The {MOST_ROWS:,} {what} of {len(rows):,} {noun}; all of them are in the day's "
        f"CSV in <code>{export}/</code> in the output folder.</p>")


def _account_links(frame: pd.DataFrame, pages: dict[str, str] | None
                   ) -> dict[str, pd.Series] | None:
    return None if not pages else {"account_id": frame["account_id"].map(pages)}


def _filter(name: str, label: str, values) -> str:
    options = "".join(f'<option value="{html.escape(v, quote=True)}">{html.escape(v)}</option>'
                      for v in values)
    return (f'<label>{html.escape(label)} <select data-filter="{name}" data-table="accounts">'
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


def _with_work_items(scores: pd.DataFrame, items: pd.DataFrame | None) -> pd.DataFrame:
    """``scores`` with each account's work item: ``today (#rank)``, ``backlog``, ..."""
    if items is None or items.empty:
        return scores.assign(work_item="")
    label = items["status"].where(items["status"] != "today",
                                  "today (#" + items["rank"].astype(int).astype(str) + ")")
    return scores.assign(work_item=scores["account_id"].map(
        pd.Series(label.to_numpy(), index=items["account_id"])).fillna(""))


def work_list(items: pd.DataFrame, *, element_id: str,
              pages: dict[str, str] | None = None) -> str:
    """A CSM's work items, ranked; ``pages`` as for ``account_table``."""
    shown = items.sort_values(["rank", "priority"], ascending=[True, False]).assign(
        new_today=items["new"].map({True: "new", False: ""}),
        opened_on=pd.to_datetime(items["opened_on"]).dt.strftime("%Y-%m-%d"))
    return long_table(shown, WORK_ITEM_COLUMNS, element_id=element_id,
                      styles={"arr_at_risk": "money", "health_score": "whole"},
                      links=_account_links(shown, pages))


def render_portfolio(day: str, scores: pd.DataFrame, *, week_before: pd.DataFrame | None,
                     month_before: pd.DataFrame | None, alerts: pd.DataFrame | None,
                     work_queue: pd.DataFrame | None, bands: list[str],
                     work_items: pd.DataFrame | None = None,
                     pages: dict[str, str] | None = None) -> dict[str, str]:
    """``{file name: page}``: ``portfolio.html`` and one ``csm-<owner>.html`` per CSM; each
    account shows its work item of the day (``models.alerts.work_items``) and links to its
    page in ``pages`` (account id -> relative link)."""
    scores = _with_work_items(scores, work_items)
    items = work_items if work_items is not None else pd.DataFrame(
        columns=["account_id", "status", "new", "csm_owner", "rank", "priority"])
    owners = scores["csm_owner"].fillna("unassigned") if "csm_owner" in scores else pd.Series(
        "unassigned", index=scores.index)
    status = items["status"].value_counts()
    cards = {"average health": f"{scores['health_score'].mean():.1f}",
             "on the CSMs' lists today": f"{status.get('today', 0):,}",
             "new work items today": f"{int(items['new'].astype(bool).sum()):,}",
             "waiting in the backlog": f"{status.get('backlog', 0):,}"}
    for label, earlier in (("since a week before", week_before),
                           ("since a month before", month_before)):
        change = health_change(scores, earlier)
        cards[label] = "no scores then" if change is None else f"{change:+.1f}"
    card_html = "".join(f'<div class="card"><div class="value">{html.escape(v)}</div>'
                        f'<div class="label">{html.escape(k)}</div></div>'
                        for k, v in cards.items())
    present = [b for b in bands if b in set(scores["band"])]
    filter_values = {"band": present, **{
        c: sorted(set(shown_text(scores[c].dropna()))) for c in FILTERS if c != "band"
        and c in scores}}
    controls = "".join(_filter(*FILTERS[c], values) for c, values in filter_values.items())
    controls += ('<label>renewal within <select data-filter="renewal" data-table="accounts">'
                 '<option value="">any'
                 "</option>" + "".join(f'<option value="{d}">{d} days</option>'
                                       for d in RENEWAL_WINDOWS) + "</select></label>")
    renewals = scores[scores["days_to_renewal"] <= max(RENEWAL_WINDOWS)].sort_values(
        ["days_to_renewal", "health_score"])
    largest = scores.nlargest(20, "arr")
    links = " · ".join(f'<a href="{owner_file(o)}">{html.escape(o)}</a>'
                       for o in sorted(set(owners)))
    ordered = scores.sort_values("risk_rank") if "risk_rank" in scores else scores
    listed, listed_note = _listed(ordered, "riskiest")
    renewing, renewing_note = _listed(renewals, "soonest to renew")
    heading = "Every account" if not listed_note else "The riskiest accounts"
    pages = {"portfolio.html": report_html.page(f"account-health portfolio {day}", f"""
<h1>Portfolio</h1><p>Scores of {html.escape(day)}. CSM pages: {links}</p>
<div class="cards">{card_html}</div>
<h2>{heading}</h2>{listed_note}
<p class="filters">{controls} — <span data-count="accounts"></span> of {len(listed):,}
match; click a column header to sort.</p>
{account_table(listed, pages=pages)}
<h2>Renewals in the next {max(RENEWAL_WINDOWS)} days</h2>{renewing_note}
{account_table(renewing, element_id="renewals", pages=pages)}
<h2>The 20 largest accounts by ARR</h2>{account_table(largest, element_id="largest", pages=pages)}
<script>{SCRIPT}</script>""")}
    for owner in sorted(set(owners)):
        mine = ordered[(owners == owner).reindex(ordered.index).to_numpy()]
        ids = set(mine["account_id"])
        owner_alerts = (alerts[alerts["account_id"].isin(ids)] if alerts is not None
                        else pd.DataFrame())
        queue = (work_queue[work_queue["account_id"].isin(ids)] if work_queue is not None
                 else pd.DataFrame())
        alerts_listed, alerts_note = _listed(owner_alerts, "first", noun="alerts",
                                             export="alerts")
        alert_table = ("<p>No alerts today.</p>" if owner_alerts.empty else alerts_note
                       + long_table(alerts_listed.assign(
                           escalation=alerts_listed["escalation"].map(
                               {True: "yes", False: ""})), ALERT_COLUMNS, element_id="alerts"))
        mine_items = items[items["account_id"].isin(ids)]
        today = mine_items[mine_items["status"] == "today"]
        waiting = mine_items[mine_items["status"] == "backlog"]
        today_table = ("<p>Nothing on the list today.</p>" if today.empty
                       else work_list(today, element_id="today", pages=pages))
        waiting_listed, waiting_note = _listed(
            waiting.sort_values(["rank", "priority"], ascending=[True, False]), "first",
            noun="backlog items", export="work_items")
        backlog_table = ("<p>Nothing waiting.</p>" if waiting.empty else waiting_note
                         + work_list(waiting_listed, element_id="backlog", pages=pages))
        queue_table = ("<p>Nothing scheduled.</p>" if queue.empty else long_table(
            queue, {c: c.replace("_", " ") for c in queue.columns
                    if c not in ("as_of", "csm_owner")}, element_id="queue"))
        mine_listed, mine_note = _listed(mine, "riskiest")
        pages[owner_file(owner)] = report_html.page(f"account-health {owner} {day}", f"""
<h1>{html.escape(owner)}</h1><p>Portfolio of {html.escape(day)}:
{len(mine)} accounts, ${mine['arr'].sum():,.0f} ARR, ${mine['arr_at_risk'].sum():,.0f} at risk,
average health {mine['health_score'].mean():.1f}. <a href="portfolio.html">All accounts</a></p>
<h2>Today's list</h2>
<p>One item per account with open alerts, most ARR at risk (weighted by severity) first;
{len(today)} today, {len(waiting)} waiting in the backlog.</p>{today_table}
<h2>Alerts today</h2>{alert_table}
<h2>Backlog</h2>{backlog_table}
<h2>Work queue this week</h2>{queue_table}
<h2>Accounts</h2>{mine_note}{account_table(mine_listed, element_id="accounts", pages=pages)}
<script>{SCRIPT}</script>""")
    return pages

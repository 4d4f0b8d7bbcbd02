"""A page per account: what a CSM opens before calling it.

Health and risk over the scored days, the component scores, today's reasons and the
recommended action, its work item, usage per event name over time, its alerts and CS
activities, subscriptions and renewal date, invoices and support tickets where the export
has them. Self-contained like every report page.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd

from models.reports import html as report_html
from models.reports.line_chart import line_chart

#: Component health scores of ``account_scores``, with their labels.
COMPONENTS = {"health_product_usage": "product usage", "health_engagement": "engagement",
              "health_support": "support", "health_billing": "billing",
              "health_growth": "growth"}
#: Event-name usage lines drawn (the account's most used events).
USAGE_LINES = 6
#: Rows of each of the account's records shown (the latest first).
LATEST_ROWS = 12
#: Columns shown of each record table, where the export has them.
RECORD_COLUMNS = {
    "alerts": ["as_of", "severity", "alert_type", "message", "escalation"],
    "activities": ["performed_at", "action_type", "owner", "outcome"],
    "subscriptions": ["plan", "mrr", "seats", "billing_period", "start_date", "end_date",
                      "status", "cancel_reason"],
    "invoices": ["issued_at", "due_at", "paid_at", "amount", "status"],
    "tickets": ["opened_at", "closed_at", "priority", "csat"],
}
#: Column of each record table that orders it (latest first).
RECORD_TIME = {"alerts": "as_of", "activities": "performed_at", "subscriptions": "start_date",
               "invoices": "issued_at", "tickets": "opened_at"}
RECORD_TITLES = {"alerts": "Alerts", "activities": "CS activities",
                 "subscriptions": "Subscriptions", "invoices": "Invoices",
                 "tickets": "Support tickets"}
RECORD_HEADERS = {name: "".join(f"<th>{c.replace('_', ' ')}</th>" for c in columns)
                  for name, columns in RECORD_COLUMNS.items()}


@dataclass(frozen=True)
class AccountRecords:
    """Everything one account's page shows: its scores of the day (``today``), its score
    history (``history``: health, risk and components, one row per day, oldest first),
    events in the last 30 days per event name by day (``usage``,
    each name's series; the most used first), its work item of the day (None: nothing
    open), and its rows of each record table, as HTML table rows with the account's total
    (None where the export has no such table)."""

    today: dict
    history: pd.DataFrame
    usage: dict[str, pd.Series]
    item: dict | None
    records: dict[str, tuple[str, int] | None]


def page_file(account_id: str) -> str:
    """The file name of an account's page."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in str(account_id)) + ".html"


def render_account(account_id: str, records: AccountRecords, *, horizon_days: int = 90) -> str:
    """The account's page, as of the day of its scores; ``horizon_days`` the churn
    model's horizon (its probability is the risk shown)."""
    today = records.today
    day = pd.Timestamp(today["as_of"])
    days = pd.DatetimeIndex(pd.to_datetime(records.history["as_of"]))
    renewal = today.get("days_to_renewal")
    renewal_text = ("no renewal date" if pd.isna(renewal) else
                    f"renews {day + pd.Timedelta(days=float(renewal)):%Y-%m-%d} "
                    f"(in {renewal:.0f} days)")
    facts = " · ".join(html.escape(str(v)) for v in (
        today.get("segment"), today.get("plan"), f"CSM {today.get('csm_owner') or 'none'}",
        f"${today.get('arr', 0):,.0f} ARR", renewal_text) if v is not None and v == v)
    cards = {"health": f"{today['health_score']:.0f} ({today['band']})",
             f"churn risk ({horizon_days} days)": f"{today['churn_probability']:.0%}",
             "ARR at risk": f"${today['arr_at_risk']:,.0f}"}
    if pd.notna(today.get("median_days_to_churn")):
        cards["median days to churn"] = f"{today['median_days_to_churn']:,.0f}"
    card_html = "".join(f'<div class="card"><div class="value">{html.escape(v)}</div>'
                        f'<div class="label">{html.escape(k)}</div></div>'
                        for k, v in cards.items())
    reasons = "".join(f"<li>{html.escape(str(today[c]))}</li>"
                      for c in ("reason_1", "reason_2", "reason_3")
                      if pd.notna(today.get(c)) and str(today[c]))
    action = html.escape(str(today.get("recommended_action") or "none"))
    owner = today.get("action_owner")
    health_chart = line_chart({"health": pd.Series(records.history["health_score"].to_numpy(
        float), index=days)}, title="Health score", y_max=100)
    risk_chart = line_chart({"churn risk": pd.Series(
        records.history["churn_probability"].to_numpy(float), index=days)},
        title=f"Churn risk within {horizon_days} days", y_max=1, percent=True)
    usage_chart = line_chart(records.usage, title="Events in the last 30 days, by event name")
    body = f"""
<h1>{html.escape(str(account_id))}</h1><p>{facts}. Scores of {day:%Y-%m-%d}.</p>
<div class="cards">{card_html}</div>
<h2>What to do</h2>{_work_item(records.item)}
<p><b>Recommended action:</b> {action}{f" ({html.escape(str(owner))})" if owner else ""}</p>
<p><b>Why the model rates the risk so:</b></p>
<ul id="reasons">{reasons or "<li>no reasons</li>"}</ul>
<h2>Health and risk over time</h2>
<div class="charts"><figure id="health-history">{health_chart}</figure>
<figure>{risk_chart}</figure></div>
<h2>Component scores</h2>{_components(records.history)}
<h2>Usage</h2><figure class="wide" id="usage-history">{usage_chart}</figure>
{"".join(_record_section(name, rows) for name, rows in records.records.items())}"""
    return report_html.page(f"account-health {account_id} {day:%Y-%m-%d}", body)


def _work_item(item: dict | None) -> str:
    if item is None:
        return "<p>No open alerts: no work item today.</p>"
    status = {"today": f"on {html.escape(str(item['csm_owner']))}'s list today "
                       f"(#{int(item['rank'])})",
              "backlog": "waiting in the backlog", "answered": "being worked (a CS activity "
              "since it opened)", "holdout": "held out (control group: no outreach)"}
    return (f"<p><b>Work item</b>, {status.get(item['status'], html.escape(item['status']))}"
            f", open since {pd.Timestamp(item['opened_on']):%Y-%m-%d}:</p><ul>"
            + "".join(f"<li>{html.escape(reason)}</li>"
                      for reason in str(item["reasons"]).split("; ")) + "</ul>")


def _components(history: pd.DataFrame) -> str:
    """Each component's score on the last day and on the first day shown."""
    present = [c for c in COMPONENTS if c in history]
    first, last = history.iloc[0], history.iloc[-1]
    head = "".join(f"<th>{pd.Timestamp(row['as_of']):%Y-%m-%d}</th>" for row in (last, first))
    rows = "".join(f"<tr><td>{COMPONENTS[c]}</td><td>{last[c]:.0f}</td><td>{first[c]:.0f}</td>"
                   "</tr>" for c in present)
    return (f'<table class="data"><thead><tr><th>component</th>{head}</tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def _record_section(name: str, rows: tuple[str, int] | None) -> str:
    if rows is None:
        return ""
    html_rows, total = rows
    if not total:
        return f"<h2>{RECORD_TITLES[name]}</h2><p>None.</p>"
    more = f" (the latest {LATEST_ROWS} of {total})" if total > LATEST_ROWS else ""
    columns = RECORD_HEADERS[name]
    return (f"<h2>{RECORD_TITLES[name]}{more}</h2><table class=\"data\"><thead><tr>{columns}"
            f"</tr></thead><tbody>{html_rows}</tbody></table>")


def _table_rows(frame: pd.DataFrame, name: str) -> tuple[pd.Series, pd.Series]:
    """(each account's latest ``LATEST_ROWS`` rows of the table as HTML, each account's row
    count), built for every account at once."""
    columns = [c for c in RECORD_COLUMNS[name] if c in frame]
    ordered = frame.sort_values(["account_id", RECORD_TIME[name]], ascending=[True, False])
    counts = ordered.groupby("account_id", sort=False).size()
    latest = ordered[ordered.groupby("account_id", sort=False).cumcount() < LATEST_ROWS]
    row = pd.Series("<tr>", index=latest.index, dtype=object)
    for column in columns:
        row = row + "<td>" + _cell_text(latest[column]) + "</td>"
    html_rows = (row + "</tr>").groupby(latest["account_id"], sort=False).agg("".join)
    return html_rows, counts


def _cell_text(values: pd.Series) -> pd.Series:
    """A column as table cells show it: days as YYYY-MM-DD, numbers with separators,
    missing as a dash, text escaped."""
    if pd.api.types.is_datetime64_any_dtype(values):
        text = values.dt.strftime("%Y-%m-%d")
    elif pd.api.types.is_bool_dtype(values):
        text = values.map({True: "yes", False: "no"})
    elif pd.api.types.is_numeric_dtype(values):
        text = values.map("{:,.2f}".format).str.removesuffix(".00")
    else:
        text = values.astype(str).map(html.escape)
    return text.where(values.notna(), "–").astype(object)


def account_records(scores: pd.DataFrame, scores_history: pd.DataFrame, usage: pd.DataFrame,
                    items: pd.DataFrame | None, tables: dict[str, pd.DataFrame | None],
                    accounts: list[str]) -> Iterator[tuple[str, AccountRecords]]:
    """Each of ``accounts`` with its records, every input split by account once.
    ``scores``: the day's ``account_scores``; ``scores_history``: ``score_history`` rows of
    the days shown (the day included); ``usage``: ``account_id, as_of`` and a column per
    event name; ``tables``: the record tables by name."""
    wanted = set(accounts)

    def mine(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame["account_id"].isin(wanted)]

    today = mine(scores).set_index("account_id", drop=False).to_dict("index")
    history = dict(iter(mine(scores_history).sort_values(["account_id", "as_of"])
                        .groupby("account_id", sort=False)))
    usage_of = _usage_series(mine(usage))
    item_of = ({} if items is None or items.empty
               else mine(items).set_index("account_id").to_dict("index"))
    rows = {name: None if frame is None else _table_rows(mine(frame), name)
            for name, frame in tables.items()}
    for account in accounts:
        item = item_of.get(account)
        yield account, AccountRecords(
            today=today[account], history=history[account], usage=usage_of.get(account, {}),
            item=None if item is None else {"account_id": account, **item},
            records={name: None if parts is None else (
                parts[0].get(account, ""), int(parts[1].get(account, 0)))
                for name, parts in rows.items()})


def _usage_series(usage: pd.DataFrame) -> dict[str, dict[str, pd.Series]]:
    """Per account, its ``USAGE_LINES`` most used events' daily values (most used first)."""
    names = [c for c in usage.columns if c not in ("account_id", "as_of")]
    if not names or usage.empty:
        return {}
    long = usage.melt(id_vars=["account_id", "as_of"], value_vars=names, var_name="event",
                      value_name="events").dropna(subset=["events"])
    totals = long.groupby(["account_id", "event"], sort=False)["events"].sum()
    ranked = totals.groupby(level="account_id", sort=False).rank(method="first",
                                                                 ascending=False)
    top = ranked[ranked <= USAGE_LINES].reset_index().rename(columns={"events": "rank"})
    long = long.merge(top, on=["account_id", "event"]).sort_values(
        ["account_id", "rank", "as_of"])
    result: dict[str, dict[str, pd.Series]] = {}
    days = pd.DatetimeIndex(pd.to_datetime(long["as_of"]))
    for (account, event), positions in long.groupby(["account_id", "event"],
                                                    sort=False).indices.items():
        result.setdefault(account, {})[event] = pd.Series(
            long["events"].to_numpy(float)[positions], index=days[positions])
    return result

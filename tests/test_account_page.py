"""An account's page from small inputs: history drawn day by day, reasons and action, the
work item, usage per event name, and its records latest first."""

import re

import pandas as pd

from models.reports.account_page import (
    LATEST_ROWS,
    account_records,
    page_file,
    render_account,
)
from models.reports.line_chart import HEIGHT, TOP, line_chart
from models.reports.portfolio import account_table

DAYS = pd.date_range("2026-10-01", periods=5)


def history(account: str, health: list[float]) -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": account, "as_of": DAYS[:len(health)], "health_score": health,
        "churn_probability": [0.1 + i / 20 for i in range(len(health))], "band": "at-risk",
        "arr": 12000.0, "arr_at_risk": 2400.0, "segment": "smb", "plan": "pro",
        "csm_owner": "kim", "days_to_renewal": 40.0, "median_days_to_churn": 80.0,
        "health_product_usage": [60.0 - i for i in range(len(health))],
        "health_engagement": 50.0, "reason_1": "Renewal in 40 days",
        "reason_2": "Logins down 60%", "reason_3": None,
        "recommended_action": "Renewal rescue plan", "action_owner": "CSM"})


SCORES = pd.concat([history("a1", [80, 70, 60, 50, 40]), history("b/2", [90, 91])])
TODAY = SCORES.groupby("account_id").tail(1)
USAGE = pd.DataFrame({"account_id": "a1", "as_of": DAYS, "login": [5, 4, 3, 2, 1],
                      "reports": [1, 1, 1, 1, 1], "exports": [0, 0, 0, 0, 0]})
ITEMS = pd.DataFrame({"account_id": ["a1"], "csm_owner": ["kim"], "status": ["today"],
                      "rank": [1], "opened_on": ["2026-10-03"],
                      "reasons": ["renews in 40 days at health 40 (below 60); no login"]})
INVOICES = pd.DataFrame({
    "account_id": "a1", "issued_at": pd.date_range("2025-01-01", periods=14, freq="MS"),
    "amount": 1000.0, "status": ["paid"] * 13 + ["failed"]})


def pages() -> dict[str, str]:
    tables = {"alerts": None, "activities": INVOICES.iloc[:0].rename(
        columns={"issued_at": "performed_at"}), "invoices": INVOICES, "tickets": None}
    return {account: render_account(account, records, horizon_days=60)
            for account, records in account_records(TODAY, SCORES, USAGE, ITEMS, tables,
                                                    ["a1", "b/2"])}


def points(page: str, figure: str) -> list[tuple[float, float]]:
    chart = page[page.index(f'id="{figure}"'):]
    raw = re.search(r'points="([^"]+)"', chart).group(1)
    return [tuple(map(float, p.split(","))) for p in raw.split()]


def test_health_is_drawn_once_per_scored_day_lower_when_worse():
    page = pages()["a1"]
    drawn = points(page, "health-history")
    assert len(drawn) == 5
    heights = [y for _, y in drawn]
    assert heights == sorted(heights)  # SVG y grows downwards: health fell every day
    assert [x for x, _ in drawn] == sorted(x for x, _ in drawn)


def test_the_page_says_what_to_do_and_why():
    page = pages()["a1"]
    assert "on kim's list today (#1), open since 2026-10-03" in page
    assert "<li>renews in 40 days at health 40 (below 60)</li><li>no login</li>" in page
    assert '<ul id="reasons"><li>Renewal in 40 days</li><li>Logins down 60%</li></ul>' in page
    assert "Renewal rescue plan (CSM)" in page and "churn risk (60 days)" in page
    assert "renews 2026-11-14 (in 40 days)" in page
    assert "No open alerts: no work item today." in pages()["b/2"]


def test_usage_draws_the_most_used_events_and_the_records_show_the_latest_first():
    page = pages()["a1"]
    assert re.findall(r'data-series="([^"]+)"', page[page.index('id="usage-history"'):]) == [
        "login", "reports", "exports"]
    invoices = page[page.index("<h2>Invoices"):]
    assert invoices.startswith(f"<h2>Invoices (the latest {LATEST_ROWS} of 14)")
    assert invoices.count("<tr><td>") == LATEST_ROWS
    assert invoices.index("2026-02-01") < invoices.index("2026-01-01")
    assert "<td>failed</td>" in invoices
    # an absent table has no section; an empty one says so
    assert "Support tickets" not in page and "<h2>CS activities</h2><p>None.</p>" in page


def test_an_account_id_becomes_a_safe_file_name_and_the_portfolio_links_it():
    assert page_file("b/2") == "b-2.html"
    table = account_table(SCORES.drop_duplicates("account_id", keep="last"),
                          pages={"a1": "../../accounts/a1.html"})
    assert '"links":[["../../accounts/a1.html",""]' in table


def test_a_chart_spans_zero_to_its_top():
    chart = line_chart({"x": pd.Series([0.0, 50.0, 100.0], index=DAYS[:3])}, title="t",
                       y_max=100)
    ys = [float(p.split(",")[1]) for p in re.search(r'points="([^"]+)"', chart).group(1)
          .split()]
    assert ys[2] == TOP and ys[0] == HEIGHT - 28 and ys[0] > ys[1] > ys[2]
    assert "no values" in line_chart({"x": pd.Series([float("nan")], index=DAYS[:1])},
                                     title="t")

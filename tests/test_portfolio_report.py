"""The portfolio page filters and sorts every account in a browser, without a server."""

import json
import re

import numpy as np
import pandas as pd
import pytest

from models.reports.portfolio import owner_file, render_portfolio
from tests.conftest import chromium_page

BANDS = ["thriving", "healthy", "neutral", "at-risk", "critical"]


def scores(n: int = 60, seed: int = 4) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "account_id": [f"acc_{i:03d}" for i in range(n)],
        "risk_rank": np.arange(1, n + 1),
        "band": rng.choice(BANDS, n), "health_score": rng.uniform(0, 100, n).round(1),
        "churn_probability": rng.uniform(0, 1, n), "arr": rng.uniform(1e3, 1e5, n).round(0),
        "arr_at_risk": rng.uniform(0, 1e4, n), "segment": rng.choice(["SMB", "Enterprise"], n),
        "plan": rng.choice(["basic", "pro"], n),
        "csm_owner": rng.choice(["ana", "bo", None], n),
        "days_to_renewal": rng.integers(0, 400, n).astype(float),
        "recommended_action": "call"})


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    today = scores()
    earlier = today.assign(health_score=today["health_score"] - 2.5)
    alerts = pd.DataFrame({"account_id": [today.loc[today["csm_owner"] == "ana",
                                                    "account_id"].iloc[0]],
                           "severity": ["critical"], "alert_type": ["newly_critical"],
                           "message": ["acc is now critical"], "escalation": [False]})
    written = render_portfolio("2026-11-30", today, week_before=earlier, month_before=None,
                               alerts=alerts, work_queue=None, bands=BANDS)
    directory = tmp_path_factory.mktemp("portfolio")
    for name, page in written.items():
        (directory / name).write_text(page)
    return today, directory, written


def table_data(page: str, element_id: str) -> dict:
    found = re.search(f'<script type="application/json" id="{element_id}-data">(.*?)</script>',
                      page, re.S)
    return json.loads(found.group(1))


def test_a_page_per_csm_with_their_accounts_and_alerts(pages):
    today, _, written = pages
    assert set(written) == {"portfolio.html", owner_file("ana"), owner_file("bo"),
                            owner_file("unassigned")}
    ana = written[owner_file("ana")]
    assert sorted(table_data(ana, "accounts")["shown"][0]) == sorted(
        today.loc[today["csm_owner"] == "ana", "account_id"])
    assert "acc is now critical" in ana and "acc is now critical" not in written[
        owner_file("bo")]
    index = written["portfolio.html"]
    assert ">+2.5<" in index and "no scores then" in index  # health since a week, a month
    assert "http" not in index.replace('lang="en"', "")  # nothing fetched


@pytest.mark.browser
def test_filtering_by_csm_band_and_renewal_in_headless_chromium(pages):
    today, directory, _ = pages
    with chromium_page((directory / "portfolio.html").as_uri()) as (page, errors):
        rows = page.locator("#accounts tbody tr:visible")
        everyone = rows.count()
        page.select_option('select[data-filter="csm"]', "ana")
        page.select_option('select[data-filter="band"]', "critical")
        ana_critical = sorted(rows.locator("td:first-child").all_inner_texts())
        shown = page.locator('[data-count="accounts"]').inner_text()
        page.select_option('select[data-filter="renewal"]', "90")
        ana_critical_renewing = rows.count()
        page.select_option('select[data-filter="csm"]', "")
        page.select_option('select[data-filter="band"]', "")
        page.select_option('select[data-filter="renewal"]', "")
        page.locator("#accounts thead th", has_text="ARR at risk").click()  # largest first
        first = rows.first.locator("td").first.inner_text()
    assert errors == []
    assert everyone == len(today)
    expected = today[(today["csm_owner"] == "ana") & (today["band"] == "critical")]
    assert ana_critical == sorted(expected["account_id"]) and shown == str(len(expected))
    assert ana_critical_renewing == (expected["days_to_renewal"] <= 90).sum()
    assert first == today.loc[today["arr_at_risk"].idxmax(), "account_id"]


def test_a_long_table_keeps_any_text_inside_its_script():
    from models.reports.long_table import long_table

    frame = pd.DataFrame({"note": ["</script><b>x</b>", "plain"], "arr": [1234.4, np.nan],
                          "seats": [1200, 3], "share": [0.5, 1 / 3], "open": [True, False]})
    page = long_table(frame, {c: c for c in frame.columns}, element_id="t",
                      styles={"arr": "money"})
    assert page.count("</script>") == 1
    data = table_data(page, "t")
    assert data["shown"] == [["</script><b>x</b>", "plain"], ["$1,234", ""],
                             ["1,200", "3"], ["0.500", "0.333"], ["True", "False"]]
    assert data["keys"][:3] == [None, [1234.4, None], [1200, 3]] and data["keys"][4] is None


@pytest.mark.browser
def test_a_long_portfolio_shows_a_hundred_rows_at_a_time(tmp_path):
    from models.reports.long_table import PAGE_ROWS

    many = scores(n=2 * PAGE_ROWS + 30, seed=5)
    for name, page in render_portfolio("2026-11-30", many, week_before=None, month_before=None,
                                       alerts=None, work_queue=None, bands=BANDS).items():
        (tmp_path / name).write_text(page)
    with chromium_page((tmp_path / "portfolio.html").as_uri()) as (page, _):
        rows = page.locator("#accounts tbody tr")
        more = page.locator('button[data-more="accounts"]')
        counts = [rows.count()]
        for _ in range(2):
            more.click()
            counts.append(rows.count())
        hidden_at_end = more.is_hidden()
        first = rows.first.locator("td").first.inner_text()
    assert counts == [PAGE_ROWS, 2 * PAGE_ROWS, len(many)] and hidden_at_end
    assert first == many.sort_values("risk_rank")["account_id"].iloc[0]


def test_a_large_portfolio_lists_its_riskiest_accounts_and_points_to_the_csv(monkeypatch):
    from models.reports import portfolio

    monkeypatch.setattr(portfolio, "MOST_ROWS", 7)
    many = scores(n=40, seed=9)
    ana_ids = many.loc[many["csm_owner"] == "ana", "account_id"]
    alerts = pd.DataFrame({"account_id": ana_ids, "severity": "high",
                           "alert_type": "usage_down_25pct", "message": "usage fell",
                           "escalation": False})
    # every account of ana's in the backlog, ranked from the last to the first
    items = pd.DataFrame({"account_id": ana_ids, "status": "backlog", "new": False,
                          "csm_owner": "ana", "rank": np.arange(len(ana_ids), 0, -1),
                          "priority": 1.0, "opened_on": "2026-11-30"})
    written = render_portfolio("2026-11-30", many, week_before=None, month_before=None,
                               alerts=alerts, work_queue=None, bands=BANDS, work_items=items)
    page = written["portfolio.html"]
    riskiest = many.sort_values("risk_rank")["account_id"].head(7).tolist()
    assert table_data(page, "accounts")["shown"][0] == riskiest  # the account column
    assert "The 7 riskiest of 40 accounts" in page and "<code>scores/</code>" in page
    renewing = many[many["days_to_renewal"] <= 90]
    assert len(renewing) > 7
    assert len(table_data(page, "renewals")["shown"][0]) == 7
    assert f"The 7 soonest to renew of {len(renewing)} accounts" in page
    ana = written["csm-ana.html"]
    mine = many[many["csm_owner"] == "ana"].sort_values("risk_rank")["account_id"]
    assert table_data(ana, "accounts")["shown"][0] == mine.head(7).tolist()
    assert len(table_data(ana, "alerts")["shown"][0]) == 7
    assert f"The 7 first of {len(ana_ids)} alerts" in ana and "<code>alerts/</code>" in ana
    backlog = table_data(ana, "backlog")["shown"]
    assert backlog[0] == [str(rank) for rank in range(1, 8)]  # the first ranks, in order
    assert f"The 7 first of {len(ana_ids)} backlog items" in ana
    # a portfolio within the limit lists every account, without the note
    few = render_portfolio("2026-11-30", many.head(5), week_before=None, month_before=None,
                           alerts=None, work_queue=None, bands=BANDS)["portfolio.html"]
    assert "Every account" in few and "riskiest of" not in few

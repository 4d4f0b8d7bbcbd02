"""The daily report: self-contained HTML with the headline numbers, charts and tables."""

import re

import pandas as pd

from models.reports.daily import ReportInputs, render_report

BANDS = ["thriving", "healthy", "neutral", "at-risk", "critical"]


def scores() -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": ["acc_1", "acc_2", "acc_3"], "risk_rank": [1, 2, 3],
        "churn_probability": [0.6, 0.3, 0.05], "health_score": [20.0, 55.0, 95.0],
        "band": ["critical", "neutral", "thriving"], "color": ["red", "yellow", "green"],
        "arr": [12000.0, 6000.0, 2000.0], "arr_at_risk": [7200.0, 1800.0, 100.0],
        "reason_1": ["Usage <script>alert(1)</script> fell", "Renewal in 12 days", "-"],
        "recommended_action": ["Executive sponsor call", "Health check", "Keep cadence"],
        "action_owner": ["CSM lead", "CSM", "CSM"]})


def retention() -> pd.DataFrame:
    return pd.DataFrame({
        "month": pd.to_datetime(["2026-09-30", "2026-10-31"]),
        "starting_mrr": [1000.0, 1100.0], "new": [150.0, 50.0], "expansion": [20.0, 30.0],
        "reactivation": [0.0, 10.0], "contraction": [10.0, 40.0], "churned": [60.0, 100.0],
        "ending_mrr": [1100.0, 1050.0], "nrr": [0.95, 0.8727], "grr": [0.93, 0.8727],
        "logo_retention": [0.97, 0.9]})


def render(**overrides) -> str:
    inputs = {"day": "2026-11-25", "scores": scores(), "retention": retention(),
              "bands": BANDS, **overrides}
    return render_report(ReportInputs(**inputs))


def test_headline_numbers_are_on_the_executive_page():
    page = render()
    executive = page[page.index('id="executive"'):page.index('id="model-health"')]
    for text in ["$20,000", "$9,100", "NRR Oct 2026 (target 100%)", "87.3%",
                 "logo retention Oct 2026 (target 90%)",
                 "90.0%", ">3<", ">1<"]:
        assert text in executive, text


def sections(page: str) -> tuple[str, str]:
    split = page.index('id="model-health"')
    return page[:split], page[split:]


def test_four_charts_and_the_top_accounts_in_risk_order():
    page = render()
    assert sections(page)[0].count("<svg") == 4
    table = page[page.index("Top 10 accounts at risk"):]
    assert table.index("acc_1") < table.index("acc_2") < table.index("acc_3")


def test_the_page_is_self_contained_and_escapes_text():
    page = render()
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_without_retention_drift_or_outcomes_the_page_says_so():
    page = render(retention=retention().iloc[0:0])
    assert page.count("<svg") == 2
    assert "No drift measured" in page and "No scored day has a known outcome yet" in page
    assert "no saved walk-forward predictions" in page
    assert "No prediction drift measured" in page


def test_targets_and_drift_thresholds_come_from_the_inputs():
    from models.analysis.drift import DriftThresholds

    page = render(targets={"nrr": 1.05, "grr": 0.92},
                  drift=pd.DataFrame({"feature": ["seats"], "psi": [0.01], "ks_statistic": [0.0],
                                      "exempt": [False], "drifted": [False]}),
                  drift_thresholds=DriftThresholds(psi=0.3, ks=0.2))
    assert "NRR Oct 2026 (target 105%)" in page and "GRR Oct 2026 (target 92%)" in page
    assert "logo retention Oct 2026<" in page  # no target given, none shown
    assert "PSI &gt; 0.3 or KS &gt; 0.2" in page


def test_drift_and_outcome_tables_on_the_model_page():
    drift = pd.DataFrame({"feature": ["events_30d", "seats"], "psi": [0.4, 0.01],
                          "ks_statistic": [0.3, 0.02], "exempt": [False, False],
                          "drifted": [True, False]})
    outcomes = pd.DataFrame({"as_of": ["2026-08-01"], "roc_auc": [0.81], "ece": [0.02],
                             "lift_at_10pct": [3.1], "at_risk_false_positive_rate": [0.7],
                             "rows": [1200.0]})
    page = render(drift=drift, outcomes=outcomes)
    model = page[page.index('id="model-health"'):]
    assert "1 feature(s) drifted" in model and "events_30d" in model
    assert "0.810" in model and "2026-08-01" in model


def validation() -> pd.DataFrame:
    """Out-of-fold predictions of two folds: riskier rows churn sooner."""
    risk = [0.05, 0.1, 0.3, 0.6, 0.05, 0.2, 0.4, 0.7]
    return pd.DataFrame({
        "fold": [1, 1, 1, 1, 2, 2, 2, 2],
        "as_of_date": pd.to_datetime(["2026-06-30"] * 4 + ["2026-07-31"] * 4),
        "churned_within_horizon": [0, 0, 1, 1, 0, 0, 0, 1],
        "duration_days": [200, 150, 40, 10, 180, 120, 95, 20],
        "churn_observed": [0, 0, 1, 1, 0, 0, 1, 1],
        "segment": ["smb", "mid", "smb", "mid"] * 2,
        "p_xgboost": risk, "p_health_score": [0.2] * 8})


def pooled() -> pd.DataFrame:
    return pd.DataFrame({"model": ["xgboost", "health_score", "base_rate", "cox"],
                         "roc_auc": [0.9123, 0.7, 0.5, 0.85], "lift_at_10pct": [3.2, 2, 1, 2.5],
                         "ece": [0.02, 0.05, 0.01, 0.04]})


def test_the_model_page_shows_the_scoring_models_validation():
    page = render(scores=scores().assign(model_version="7"), validation=validation(),
                  validation_metrics=pooled(),
                  reference=pd.DataFrame({"churn_probability": [0.1, 0.2, 0.3]}),
                  prediction_drift={"psi": 0.31, "ks_statistic": 0.2, "mean_reference": 0.3,
                                    "mean_current": 0.45, "drifted": True,
                                    "flagged_share_reference": 0.25,
                                    "flagged_share_current": 0.4})
    executive, model = sections(page)
    assert executive.count("<svg") == 4
    # calibration, lift, KM by band, KM by segment; prediction histogram
    assert model.count("<svg") == 5
    assert "model version 7" in model and "2 folds" in model and "8 out-of-fold" in model
    assert "0.912" in model and "lift@10%" in model
    assert "have drifted" in model and "PSI 0.310" in model and "45.0% today" in model
    assert "flagged red 40.0% against 25.0%" in model
    for title in ["Calibration", "Lift by risk decile", "Kaplan-Meier by health band",
                  "Kaplan-Meier by segment"]:
        assert title in model, title


def test_links_to_the_days_other_pages_only_when_given():
    page = render(links={"interventions": "../../reports/interventions.html",
                         "a <b>": "x?a=1&b=2"})
    assert '<a href="../../reports/interventions.html">interventions</a>' in page
    assert '<a href="x?a=1&amp;b=2">a &lt;b&gt;</a>' in page
    assert "<nav>" not in render()


def test_scores_from_a_model_below_the_bar_say_so_at_the_top():
    assert "below the promotion bar" not in render()  # a champion's scores: no warning
    below = scores().assign(model_status="below the bar, no champion yet: roc_auc 0.6199 "
                                         "is below the floor 0.65")
    executive = sections(render(scores=below))[0]
    assert "below the promotion bar" in executive and "roc_auc 0.6199" in executive


def test_listed_accounts_show_their_components_and_the_model_page_the_weight_sensitivity():
    with_components = scores().assign(health_product_usage=[12.4, 60.0, float("nan")],
                                      health_engagement=[0.0, 50.0, 100.0])
    page = render(scores=with_components)
    executive, model = sections(page)
    top = executive[executive.index("Top 10 accounts at risk"):]
    assert "<th>product usage</th>" in top and "<th>engagement</th>" in top
    assert "<td>12</td>" in top  # acc_1's product usage, rounded for people
    sensitivity = model[model.index("Component weights: sensitivity"):]
    # two components, each weight moved down and up
    assert sensitivity.count("<td>product_usage</td>") == 2
    assert sensitivity.count("<td>engagement</td>") == 2
    assert "No component scores" in render()  # scores without components say so


def test_the_model_page_draws_the_candidate_the_scores_come_from():
    """With the logistic candidate chosen, its predictions are drawn, not xgboost's (which
    are made all-equal here, so its calibration curve would be a single point)."""
    chosen = pooled().assign(model=["logistic", "health_score", "base_rate", "cox"],
                             chosen=[True, False, False, False])
    frame = validation().assign(p_logistic=validation()["p_xgboost"], p_xgboost=0.5)
    model = sections(render(scores=scores().assign(model_version="8"), validation=frame,
                            validation_metrics=chosen))[1]
    assert "model version 8 (logistic)" in model
    # matplotlib writes each legend entry as an SVG comment
    legends = re.findall(r"<!-- ([a-z ]+) -->", model)
    assert legends.count("logistic") == 2 and "xgboost" not in model  # calibration, lift

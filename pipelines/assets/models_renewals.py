"""Models layer, renewal forecast: the ARR and logos expected to renew in the next two
quarters, and how the same forecast did on the past quarters. A planning figure: rebuilt
with the weekly retrain, not every morning."""

import pandas as pd
from dagster import AssetIn, AssetOut, MetadataValue, Output, multi_asset

from models.analysis.renewal_forecast import renewal_backtest, renewal_forecast
from pipelines.resources import AccountHealthSettings


@multi_asset(
    group_name="models",
    ins={"subscriptions": AssetIn(), "accounts": AssetIn()},
    outs={
        "renewal_forecast": AssetOut(description=(
            "Expected renewing ARR and logos, with 95 % intervals, for each of the next two "
            "quarters: the terms coming up for renewal at their segment's renewal rate of "
            "the year before")),
        "renewal_backtest": AssetOut(description=(
            "The same forecast made at the start of each past quarter, beside what renewed: "
            "errors and whether the interval held")),
    },
)
def renewal_forecasts(settings: AccountHealthSettings, subscriptions: pd.DataFrame,
                      accounts: pd.DataFrame | None):
    """Forecast from the last complete day; back-tested on every past quarter with a year
    of renewals before it (models.analysis.renewal_forecast)."""
    as_of = settings.data.last_complete_day()
    segments = (accounts.set_index("account_id")["segment"]
                if accounts is not None and "segment" in accounts else None)
    forecast = renewal_forecast(subscriptions, segments, as_of=as_of)
    backtest = renewal_backtest(subscriptions, segments, as_of=as_of)
    error = (float(backtest["arr_error"].abs().mean()) if len(backtest) else None)
    yield Output(forecast, "renewal_forecast", metadata={
        "as_of": f"{as_of:%Y-%m-%d}",
        "forecast": MetadataValue.md(forecast.to_markdown(index=False, floatfmt=",.0f"))})
    yield Output(backtest, "renewal_backtest", metadata={
        "quarters": len(backtest),
        "mean_absolute_arr_error": round(error, 4) if error is not None else "no quarters",
        "intervals_held": int(backtest["arr_within_interval"].sum()) if len(backtest) else 0})

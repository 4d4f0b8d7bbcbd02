"""Revenue and retention metrics by month: MRR movements, NRR, GRR, logo retention.

Conventions (docs/metrics.md): an account's MRR in a month is the sum of the ``mrr`` of its
subscriptions active at the end of the month's last day (``start_date <= day < end_date``);
``mrr`` is already monthly for annual contracts, so a contract mid-term moves nothing. A
month's starting MRR is the previous month's ending MRR. An account is a paying customer
while its MRR is above zero: a downgrade to zero counts as churned MRR and a lost logo, and a
later return counts as reactivation, not as new business.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.labels import expand_intervals

MOVEMENTS = ["new", "expansion", "contraction", "churned", "reactivation"]


def month_ends(first: pd.Timestamp, last: pd.Timestamp) -> pd.DatetimeIndex:
    """Last days of the months from ``first``'s month to ``last``'s month."""
    return pd.date_range(pd.Timestamp(first).normalize() + pd.offsets.MonthEnd(0),
                         pd.Timestamp(last).normalize() + pd.offsets.MonthEnd(0), freq="ME")


def mrr_movements(subscriptions: pd.DataFrame, last_day: pd.Timestamp) -> pd.DataFrame:
    """One row per account and month in which it had MRR at the start or the end.

    Columns: ``account_id, month`` (month-end date), ``plan`` (of its largest subscription
    at the start of the month, or at the end for new and returning accounts),
    ``starting_mrr, ending_mrr``, one column per movement in ``MOVEMENTS`` (amounts >= 0,
    at most one non-zero) and ``retained`` (paying at the start and the end), sorted by month
    and account; ``account_id`` and ``plan`` are categoricals. Months run from
    the first subscription's month to the last one complete by ``last_day`` (the data's last
    day): a month in progress would count subscriptions on a day not yet seen.
    """
    subs = subscriptions.reset_index(drop=True)
    months = month_ends(subs["start_date"].min(), last_day)
    months = months[months <= pd.Timestamp(last_day).normalize()]
    rows, on = expand_intervals(subs["start_date"], subs["end_date"], months)
    # integer account and month codes: a dense account x month matrix instead of grouping
    # string ids (the difference is seconds at 10^5 accounts, every morning)
    account_code, accounts = pd.factorize(subs["account_id"], sort=True)
    active_account = account_code[rows]
    active_month = months.searchsorted(on)
    cell = active_account * len(months) + active_month
    mrr = subs["mrr"].to_numpy(dtype=float)[rows]
    ending = np.bincount(cell, weights=mrr, minlength=len(accounts) * len(months)).reshape(
        len(accounts), len(months))
    starting = np.hstack([np.zeros((len(accounts), 1)), ending[:, :-1]])
    paid_before = np.hstack([np.zeros((len(accounts), 1), dtype=bool),
                             np.maximum.accumulate(ending > 0, axis=1)[:, :-1]])
    was, now = starting > 0, ending > 0
    movements = {
        "new": np.where(~was & now & ~paid_before, ending, 0.0),
        "reactivation": np.where(~was & now & paid_before, ending, 0.0),
        "expansion": np.where(was & (ending > starting), ending - starting, 0.0),
        "contraction": np.where(was & now & (ending < starting), starting - ending, 0.0),
        "churned": np.where(was & ~now, starting, 0.0),
    }
    # plan of the largest subscription at each month end (ties: the first plan by name, the
    # lowest code as codes are given in name order); the start of a month is the end of the
    # one before. -1: no plan. Two reductions by cell, not a sort of millions of rows.
    plan_code, plan_names = pd.factorize(subs["plan"], sort=True)
    largest = np.full(len(accounts) * len(months), -np.inf)
    np.maximum.at(largest, cell, mrr)
    tied = mrr == largest[cell]
    primary = np.full(len(accounts) * len(months), len(plan_names), dtype=np.int64)
    np.minimum.at(primary, cell[tied], plan_code[rows[tied]])
    primary[primary == len(plan_names)] = -1
    primary = primary.reshape(len(accounts), len(months))
    at_start = np.hstack([np.full((len(accounts), 1), -1), primary[:, :-1]])
    # month by month, then account by account: ids sort as their codes do, so this is the
    # order of (month, account_id) without sorting millions of strings
    month_index, account_index = np.nonzero((was | now).T)
    pick = account_index * len(months) + month_index

    def picked(matrix: np.ndarray) -> np.ndarray:
        return matrix.reshape(-1)[pick]

    return pd.DataFrame({
        # categoricals: no Python string per row, here or when the table is read back
        "account_id": pd.Categorical.from_codes(account_index, categories=accounts),
        "month": months.to_numpy()[month_index],
        "plan": pd.Categorical.from_codes(picked(np.where(starting > 0, at_start, primary)),
                                          categories=plan_names),
        "starting_mrr": picked(starting), "ending_mrr": picked(ending),
        **{name: picked(movements[name]) for name in MOVEMENTS},
        "retained": picked(was & now)})


def with_account_attributes(movements: pd.DataFrame, accounts: pd.DataFrame,
                            columns: list[str]) -> pd.DataFrame:
    """``movements`` with each account's ``columns`` of ``accounts`` (e.g. segment), as
    categoricals; missing for accounts not in ``accounts``.

    Read through the categorical ``account_id``'s codes rather than joined on the ids: a join
    on millions of string keys takes seconds.
    """
    ids = movements["account_id"].cat.categories
    codes = movements["account_id"].cat.codes.to_numpy()
    by_id = accounts.drop_duplicates("account_id").set_index("account_id")
    columns_of_accounts = {}
    for column in columns:
        value_code, values = pd.factorize(by_id[column].reindex(ids), sort=True)
        columns_of_accounts[column] = pd.Categorical.from_codes(value_code[codes], values)
    return movements.assign(**columns_of_accounts)


def retention_by_month(movements: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Monthly totals and rates, overall or per group (``by``: columns of ``movements``,
    e.g. ``plan``, or ``segment``/``csm_owner`` joined from accounts).

    Rates are over the month's starting MRR (or starting paying accounts for logos) and are
    missing when that is zero: NRR, GRR, logo retention and churn, revenue churn (gross),
    expansion rate. ``tailwind`` = expansion + reactivation, ``headwind`` = contraction +
    churned, both in MRR.
    """
    keys = ["month", *(by or [])]
    starting, ending = movements["starting_mrr"], movements["ending_mrr"]
    # only the columns summed: copying the whole table per grouping cost seconds at 10^6 rows
    frame = pd.DataFrame({**{key: movements[key] for key in keys}, "starting_mrr": starting,
                          **{m: movements[m] for m in MOVEMENTS}, "ending_mrr": ending,
                          "starting_accounts": starting > 0,
                          "retained_accounts": movements["retained"],
                          "ending_accounts": ending > 0})
    totals = frame.groupby(keys, dropna=False, observed=True).sum().reset_index()
    start = totals["starting_mrr"].where(totals["starting_mrr"] > 0)
    logos = totals["starting_accounts"].where(totals["starting_accounts"] > 0)
    lost = totals["contraction"] + totals["churned"]
    totals["nrr"] = (totals["starting_mrr"] + totals["expansion"] - lost) / start
    totals["grr"] = (totals["starting_mrr"] - lost) / start
    totals["logo_retention"] = totals["retained_accounts"] / logos
    totals["logo_churn"] = 1 - totals["logo_retention"]
    totals["revenue_churn"] = lost / start
    totals["expansion_rate"] = totals["expansion"] / start
    totals["tailwind"] = totals["expansion"] + totals["reactivation"]
    totals["headwind"] = lost
    return totals


def cohort_retention(movements: pd.DataFrame, by: list[str] | None = None, *,
                     last_month: pd.Timestamp | None = None) -> pd.DataFrame:
    """Retention curves by cohort: the month an account first paid (and ``by`` groups).

    One row per cohort (and group) and age in months since the cohort month, up to
    ``last_month`` (default: the last month in ``movements``): ``accounts`` and
    ``cohort_mrr`` (at age 0), ``paying_accounts`` and ``mrr`` (at that age),
    ``logo_retention`` = paying / accounts and ``revenue_retention`` = mrr / cohort_mrr (above
    1 when expansion outweighs losses). A customer who left and came back counts again from
    the month it pays again.
    """
    keys = by or []
    names = ["cohort", *keys, "age_months"]
    paying = movements.loc[movements["ending_mrr"].to_numpy() > 0,
                           ["account_id", "month", "ending_mrr", *keys]]
    account_code = pd.factorize(paying["account_id"])[0]
    paying = paying.assign(cohort=paying["month"].groupby(account_code).transform("min"))
    paying = paying.assign(age_months=_month_number(paying["month"])
                           - _month_number(paying["cohort"]))
    # an account has one row per month, so within a (cohort, group, age) cell rows = accounts
    cells = paying.groupby(names, dropna=False, observed=True).agg(
        paying_accounts=("ending_mrr", "size"), mrr=("ending_mrr", "sum")).reset_index()
    start = cells[cells["age_months"] == 0].drop(columns="age_months").rename(
        columns={"paying_accounts": "accounts", "mrr": "cohort_mrr"}).reset_index(drop=True)
    # every age up to the last month, so a cohort with nobody left shows 0, not a gap
    last = pd.Timestamp(last_month) if last_month is not None else movements["month"].max()
    ages = _month_number(last) - _month_number(start["cohort"]) + 1
    grid = start.loc[start.index.repeat(ages)]
    grid = grid.assign(age_months=grid.groupby(level=0).cumcount().to_numpy())
    table = grid.merge(cells, on=names, how="left").fillna({"paying_accounts": 0, "mrr": 0.0})
    table["logo_retention"] = table["paying_accounts"] / table["accounts"]
    table["revenue_retention"] = table["mrr"] / table["cohort_mrr"]
    return table[[*names, "accounts", "cohort_mrr", "paying_accounts", "mrr", "logo_retention",
                  "revenue_retention"]].reset_index(drop=True)


def _month_number(dates) -> np.ndarray:
    """Months since January 1970 of naive dates (a NumPy cast, not two ``.dt`` fields)."""
    return np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[M]").astype(np.int64)


def arr_by_band(scores: pd.DataFrame, bands: list[str]) -> pd.DataFrame:
    """Accounts, ARR and ARR at risk per health band of one day's scores, in ``bands`` order
    (every band listed, empty ones as zero), with each band's share of accounts and ARR."""
    table = scores.groupby("band").agg(accounts=("account_id", "size"), arr=("arr", "sum"),
                                       arr_at_risk=("arr_at_risk", "sum"))
    table = table.reindex(bands, fill_value=0).rename_axis("band").reset_index()
    table["share_of_accounts"] = table["accounts"] / max(table["accounts"].sum(), 1)
    table["share_of_arr"] = table["arr"] / table["arr"].sum() if table["arr"].sum() else 0.0
    return table


def health_distribution(scores: pd.DataFrame, width: int = 10) -> pd.DataFrame:
    """Accounts per health-score bin of ``width`` points: ``[0, 10)``, ..., ``[90, 100]``."""
    edges = np.arange(0, 100 + width, width)
    # 100 belongs to the top bin rather than a bin of its own
    scores_in_range = scores["health_score"].clip(0, np.nextafter(100, 0))
    counts = pd.cut(scores_in_range, edges, right=False).value_counts(sort=False)
    return pd.DataFrame({"from": edges[:-1], "to": edges[1:], "accounts": counts.to_numpy()})

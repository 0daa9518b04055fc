"""cx.retention.customer_periods: the customer-quarter risk set behind period churn rates.

Checked against (1) the simulator's own count of quarterly churn per region
(``truth["realised"]``, written by cxlab.simulate with separate code when the data were made;
rounded there to 6 decimals, hence the 1e-6 tolerance), (2) hand-worked boundary cases, and
(3) lifelines' counting-process Cox model on the same rows.
"""

import warnings

import pandas as pd
import pytest

import cxlab as cx
from cxlab.checks import CXDataError, CXWarning


@pytest.fixture(scope="module")
def company():
    return cx.datasets.load("kestrel")


@pytest.fixture(scope="module")
def panel(company):
    return cx.retention.customer_periods(company)


def test_quarterly_churn_matches_the_simulators_count(company, panel):
    realised = company.truth["realised"]["quarterly_churn_of_customers_at_quarter_start"]
    rates = panel.groupby(["region", "period"])["churned"].mean()
    for region, by_wave in realised.items():
        for wave, rate in by_wave.items():
            assert rates[(region, wave)] == pytest.approx(rate, abs=1e-6), (region, wave)


def test_each_customer_period_once_and_churn_at_most_once(panel, company):
    assert not panel.duplicated(["customer_id", "period"]).any()
    per_customer = panel.groupby("customer_id")["churned"].sum()
    assert per_customer.max() == 1
    churned_ids = set(per_customer[per_customer == 1].index)
    cu = company.customers
    # every churner who was a customer at some quarter start is counted exactly once
    at_some_start = cu["end_date"].notna() & cu["customer_id"].isin(panel["customer_id"])
    assert churned_ids == set(cu.loc[at_some_start, "customer_id"])
    assert (panel["exit"] > panel["entry"]).all()
    assert {"churned", "tenure_months"}.isdisjoint(set(panel.columns) - {"churned"})


def test_boundary_cases_by_hand():
    cu = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "region": ["X"] * 5,
        "start_date": pd.to_datetime(["2025-01-01", "2025-02-15", "2024-12-31", "2025-01-01",
                                      "2025-01-01"]),
        # a: leaves on the first day of Q2 (last day as a customer 31 March) -> churn in Q1
        # b: joins mid-Q1 -> first at risk in Q2; leaves 2025-05-10 -> churn in Q2
        # c: leaves 2025-01-01 (first day not a customer): not a customer at Q1's start
        # d: never leaves; e: leaves the day after observation ends (still an event in Q2)
        "end_date": pd.to_datetime(["2025-04-01", "2025-05-10", "2025-01-01", None,
                                    "2025-07-01"]),
    })
    out = cx.retention.customer_periods(cu, observation_end="2025-06-30")
    got = {(r.customer_id, r.period): r.churned for r in out.itertuples()}
    assert got == {("a", "2025Q1"): 1, ("d", "2025Q1"): 0, ("e", "2025Q1"): 0,
                   ("b", "2025Q2"): 1, ("d", "2025Q2"): 0, ("e", "2025Q2"): 1}
    a = out[out["customer_id"] == "a"].iloc[0]
    assert a["entry"] == 0 and a["exit"] == pytest.approx(90 / (365.25 / 12))
    b = out[out["customer_id"] == "b"].iloc[0]
    # Q2 starts 45 days after b joined; b leaves 84 days after joining
    assert b["entry"] == pytest.approx(45 / (365.25 / 12)) and b["exit"] == pytest.approx(
        84 / (365.25 / 12))


def test_partial_periods_are_left_out_and_reported():
    cu = pd.DataFrame({"customer_id": ["a"], "start_date": pd.to_datetime(["2025-01-01"]),
                       "end_date": pd.to_datetime([None])})
    with pytest.warns(CXWarning, match="2025Q2"):
        out = cx.retention.customer_periods(cu, observation_end="2025-05-15")
    assert list(out["period"]) == ["2025Q1"]
    months = cx.retention.customer_periods(cu, freq="M", observation_end="2025-03-31")
    assert list(months["period"]) == ["2025-01", "2025-02", "2025-03"]
    later = cx.retention.customer_periods(cu, freq="M", observation_end="2025-03-31",
                                          start="2025-02")
    assert list(later["period"]) == ["2025-02", "2025-03"]


def test_bad_input_names_the_problem():
    cu = pd.DataFrame({"customer_id": ["a", "b"],
                       "start_date": pd.to_datetime(["2025-01-01", "2025-03-01"]),
                       "end_date": pd.to_datetime([None, "2025-02-01"])})
    with pytest.raises(CXDataError, match="end_date before start_date"):
        cx.retention.customer_periods(cu, observation_end="2025-06-30")
    with pytest.raises(CXDataError, match="start_date"):
        cx.retention.customer_periods(cu.drop(columns="start_date"), observation_end="2025-06-30")
    with pytest.raises(CXDataError, match="freq"):
        cx.retention.customer_periods(cu.iloc[:1], freq="fortnight", observation_end="2025-06-30")
    with pytest.raises(CXDataError, match="after observation_end"):
        cx.retention.customer_periods(cu.iloc[:1].assign(end_date=pd.Timestamp("2025-09-01")),
                                      observation_end="2025-06-30")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(CXWarning, match="observation_end not given"):
            cx.retention.customer_periods(cu.iloc[:1])


def test_counting_process_cox_agrees_with_lifelines(panel):
    """South x after-2026Q2 hazard ratio from churn_cox (statsmodels PHReg, Efron ties, entry
    times) and from lifelines' CoxTimeVaryingFitter on the same rows: same partial likelihood,
    so the coefficients agree to optimiser precision (1e-4)."""
    from lifelines import CoxTimeVaryingFitter

    rows = panel[panel["period"] >= "2025Q4"].copy()
    rows["south"] = (rows["region"] == "South").astype(int)
    rows["after"] = (rows["period"] >= "2026Q2").astype(int)
    rows["south_after"] = rows["south"] * rows["after"]
    terms = ["south", "after", "south_after"]
    ours = cx.retention.churn_cox(rows, duration="exit", entry="entry", event="churned",
                                  predictors=terms).summary().set_index("term")
    # lifelines needs start < stop strictly per row (true here) and an id per subject
    ctv = CoxTimeVaryingFitter()
    ctv.fit(rows[["customer_id", "entry", "exit", "churned", *terms]], id_col="customer_id",
            event_col="churned", start_col="entry", stop_col="exit")
    for term in terms:
        assert ours.loc[term, "coef"] == pytest.approx(ctv.params_[term], abs=1e-4)
    assert ours.loc["south_after", "hazard_ratio"] > 1.15


def test_a_company_starts_where_its_churn_was_first_observed(company, panel):
    """The simulator records churn from truth["start"] (2024-01-01) on; earlier quarters would
    show a churn rate of exactly 0, so a company's panel starts there by default."""
    assert panel["period"].min() == "2024Q1" == str(pd.Period(company.truth["start"], freq="Q"))
    assert (panel.groupby("period")["churned"].mean() > 0).all()
    table_only = cx.retention.customer_periods(company.customers,
                                               observation_end=company.truth["observation_end"])
    assert table_only["period"].min() < "2024Q1"
    assert table_only.loc[table_only["period"] < "2024Q1", "churned"].sum() == 0

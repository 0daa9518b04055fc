"""cx.value.cohort_survivors and cx.value.contact_outcomes (added for course notebooks 05 and 06).

Checked against: Fader & Hardie's (2007) published cohorts (a customer table built from their
survivor counts must give back the counts, and then their α, β), a simulation with known sBG
parameters, hand-worked toy tables, and a brute-force loop over customers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxlab as cx
from cxlab.checks import CXDataError

REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173]


def _customers_from_counts(counts, start="2000-01-01", days_in_period=365.25):
    """One row per customer: all start on one day; those lost in period t leave mid-period t."""
    rows = []
    start = pd.Timestamp(start)
    lost = -np.diff(counts)
    i = 0
    for t, k in enumerate(lost, start=1):
        end = start + pd.Timedelta(days=int((t - 0.5) * days_in_period))
        rows += [{"customer_id": f"c{i + j}", "start_date": start, "end_date": end}
                 for j in range(k)]
        i += k
    rows += [{"customer_id": f"c{i + j}", "start_date": start, "end_date": pd.NaT}
             for j in range(counts[-1])]
    return pd.DataFrame(rows)


def test_cohort_survivors_gives_back_fader_hardie_counts_and_parameters():
    """Observed to the end of year 7 (0.5 days past, for rounding): 8 counts, years 0-7."""
    cust = _customers_from_counts(REGULAR[:8])
    obs_end = pd.Timestamp("2000-01-01") + pd.Timedelta(days=int(7 * 365.25) + 1)
    # the customers still active at year 7 stay active to obs_end; lost ones left earlier
    table = cx.value.cohort_survivors(cust, cohort="Y", observation_end=obs_end)
    # the cohort is the calendar year 2000, so its last day is 2000-12-31: 6 whole years fit
    assert list(table.loc["2000"].dropna()) == REGULAR[:7]
    # a cohort whose members all start on its last day shows all 8 counts
    cust_late = cust.assign(start_date=pd.Timestamp("2000-12-31"),
                            end_date=cust["end_date"] + pd.Timedelta(days=365))
    table = cx.value.cohort_survivors(cust_late, cohort="Y",
                                      observation_end=obs_end + pd.Timedelta(days=366))
    counts = list(table.loc["2000"].dropna())
    assert counts == REGULAR[:8]
    fit = cx.value.fit_sbg(counts)
    assert abs(fit.alpha - 0.704) < 5e-4 and abs(fit.beta - 1.182) < 5e-4   # published


def test_cohort_survivors_hand_worked_quarters_and_observability():
    cust = pd.DataFrame({
        "customer_id": list("abcdef"),
        "start_date": ["2024-01-10", "2024-02-01", "2024-03-31", "2024-04-05", "2023-12-01",
                       None],
        "end_date": ["2024-03-01", None, "2024-09-30", None, None, None]})
    t = cx.value.cohort_survivors(cust, since="2024-01-01", observation_end="2024-12-31")
    # 2024Q1: a leaves after 51 days (< 1 quarter = 91.31 days): out at period 1;
    # c leaves after 183 days: active at periods 1, 2 (182.6 days) and out at 3 (273.9 days);
    # b is still active. The cohort's last day 2024-03-31 + k·91.31 days <= 2025-01-01 (276
    # days later) for k <= 3.
    assert t.loc["2024Q1"].dropna().tolist() == [3, 2, 2, 1]
    # 2024Q2: last day 2024-06-30, 185 days to 2025-01-01: k <= 2
    assert t.loc["2024Q2"].dropna().tolist() == [1, 1, 1]
    assert t.attrs["excluded"] == {"missing start_date": 1, "start_date before 2024-01-01": 1}
    assert list(t.columns) == [0, 1, 2, 3]


def test_cohort_survivors_recovers_simulated_sbg_parameters():
    """Known truth: quarterly churn θ ~ Beta(0.8, 6), 20,000 customers with start dates spread
    over 2020Q1, observed for 12 quarters. Tolerance: 3 standard errors of the fit."""
    rng = np.random.default_rng(5)
    n, alpha, beta = 20_000, 0.8, 6.0
    theta = rng.beta(alpha, beta, n)
    life_q = np.minimum(rng.geometric(theta), 99)      # quarter of leaving (> 12: censored)
    start = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 91, n), unit="D")
    q_days = 365.25 / 4
    end = start + pd.to_timedelta(np.floor((life_q - 0.5) * q_days), unit="D")
    obs_end = pd.Timestamp("2020-03-31") + pd.Timedelta(days=int(12 * q_days) + 1)
    end = pd.Series(end).where(end <= obs_end)
    cust = pd.DataFrame({"start_date": start, "end_date": end})
    table = cx.value.cohort_survivors(cust, observation_end=obs_end)
    counts = table.loc["2020Q1"].dropna().astype(int).tolist()
    assert len(counts) == 13
    # brute force: active at period k <=> leaves in a quarter later than k
    assert counts == [int((life_q > k).sum()) for k in range(13)]
    fit = cx.value.fit_sbg(counts)
    assert abs(fit.alpha - alpha) < 3 * fit.se["alpha"]
    assert abs(fit.beta - beta) < 3 * fit.se["beta"]


def test_cohort_survivors_on_kestrel_matches_tenure_months():
    """Independent path: the simulator's own tenure_months column (rounded to 0.01)."""
    company = cx.datasets.load("kestrel")
    cust = company.customers
    table = cx.value.cohort_survivors(cust, since="2024-01-01")
    assert table.attrs["observation_end"] == "2026-09-30"
    q1 = cust[(cust["start_date"] >= "2024-01-01") & (cust["start_date"] <= "2024-03-31")]
    brute = [len(q1)] + [int(((q1["churned"] == 0) | (q1["tenure_months"] > 3 * k + 0.005)).sum())
                         for k in range(1, 11)]
    got = table.loc["2024Q1"].dropna().astype(int).tolist()
    assert len(got) == 11 and np.abs(np.subtract(got, brute)).max() <= 1   # rounding at the edge
    assert (table.diff(axis=1).fillna(0) <= 0).all().all()                  # never increases


def test_cohort_survivors_bad_input():
    cust = pd.DataFrame({"start_date": ["2024-01-01", "2024-02-01"],
                         "end_date": ["2023-12-01", None]})
    with pytest.raises(CXDataError, match="before"):
        cx.value.cohort_survivors(cust)
    with pytest.raises(CXDataError, match="cohort must be"):
        cx.value.cohort_survivors(cust.iloc[1:], cohort="W")
    with pytest.raises(CXDataError, match="not dates"):
        cx.value.cohort_survivors(cust.assign(start_date=["soon", "2024-02-01"]))
    with pytest.raises(CXDataError, match="start_date"):
        cx.value.cohort_survivors(cust.drop(columns="start_date"))


# ------------------------------------------------------------------------ contact_outcomes
CONTACTS = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "d", "e"],
                         "contact_date": ["2024-01-10", "2024-02-01", "2024-03-01",
                                          "2024-04-01", "2024-05-01", "2025-06-01"],
                         "fcr": [0, 1, 1, 1, 0, 1],
                         "problem_type": ["Billing", "Device", "Billing", "Network fault",
                                          "Billing", "Device"]})
CUSTOMERS = pd.DataFrame({"customer_id": list("abcdefgh"),
                          "start_date": ["2020-01-01"] * 7 + ["2025-03-01"],
                          "end_date": ["2024-06-01", None, "2024-12-01", "2026-01-01", None,
                                       None, "2025-09-01", None],
                          "plan": list("BSBSBSBS")})


def test_contact_outcomes_hand_worked():
    """Cut-off 2024-12-30 (365.25 days before 2025-12-31). First contacts: a (unresolved,
    leaves 2024-06-01 -> 1), b (resolved, stays -> 0), c (resolved 2024-04-01, leaves
    2024-12-01 -> 1), d (unresolved 2024-05-01, leaves 2026-01-01, after 12 months -> 0); e's
    first contact is after the cut-off: left out. Baseline: e, f (stay) and g (leaves 2025-09-01
    -> 1); h started after the cut-off: not at risk."""
    out = cx.value.contact_outcomes(CONTACTS, CUSTOMERS, observation_end="2025-12-31")
    got = out.set_index("customer_id")
    assert list(got.index) == ["a", "b", "c", "d", "e", "f", "g"]
    assert got["path"].tolist() == ["Unresolved", "Resolved", "Resolved", "Unresolved",
                                    "No contact", "No contact", "No contact"]
    assert got["churn_12m"].tolist() == [1, 0, 1, 0, 0, 0, 1]
    assert got.loc["a", "problem_type"] == "Billing"          # the FIRST contact's type
    assert pd.isna(got.loc["f", "problem_type"]) and got.loc["f", "plan"] == "S"
    assert got.loc["e", "origin"].date() == pd.Timestamp("2024-12-30").date()
    assert out.attrs["excluded"]["first contact after the cut-off"] == 1
    only = cx.value.contact_outcomes(CONTACTS, CUSTOMERS, observation_end="2025-12-31",
                                     no_contact=False)
    assert set(only["path"]) == {"Resolved", "Unresolved"}


def test_market_damage_inputs_leaves_out_customers_not_yet_started():
    """h starts after the cut-off: without the start date it would count as a stayer (3/4)."""
    params, n = cx.value.market_damage_inputs(CONTACTS, CUSTOMERS, observation_end="2025-12-31")
    assert n == 4 and params["repurchase_no_problem"][0] == pytest.approx(2 / 3)
    params, _ = cx.value.market_damage_inputs(CONTACTS, CUSTOMERS.drop(columns="start_date"),
                                              observation_end="2025-12-31")
    assert params["repurchase_no_problem"][0] == pytest.approx(3 / 4)


def test_contact_outcomes_on_kestrel_brute_force_and_agree_with_market_damage_inputs():
    company = cx.datasets.load("kestrel")
    ct, cu = company.contacts, company.customers
    out = cx.value.contact_outcomes(ct, cu)
    cutoff = pd.Timestamp(out.attrs["cutoff"])
    horizon = pd.Timedelta(days=365.25)
    ends = cu.set_index("customer_id")["end_date"]
    starts = cu.set_index("customer_id")["start_date"]
    firsts = ct.groupby("customer_id")["contact_date"].min()
    rng = np.random.default_rng(3)
    for cid in rng.choice(cu["customer_id"].to_numpy(), 300, replace=False):   # brute force
        end, first = ends[cid], firsts.get(cid, pd.NaT)
        row = out[out["customer_id"] == cid]
        if pd.notna(first) and first <= cutoff and (pd.isna(end) or end > first):
            assert row["path"].item() in ("Resolved", "Unresolved")
            assert row["churn_12m"].item() == int(pd.notna(end) and end <= first + horizon)
        elif (pd.isna(first) or first >= cutoff) and starts[cid] <= cutoff and (
                pd.isna(end) or end > cutoff):
            assert row["path"].item() == "No contact"
            assert row["churn_12m"].item() == int(pd.notna(end))
        else:
            assert row.empty
    params, n = cx.value.market_damage_inputs(ct, cu)
    paths = out.groupby("path")["churn_12m"].agg(["size", "mean"])
    assert n == paths.loc[["Resolved", "Unresolved"], "size"].sum()
    assert params["repurchase_resolved"][0] == pytest.approx(1 - paths.loc["Resolved", "mean"])
    assert params["repurchase_unresolved"][0] == pytest.approx(1 - paths.loc["Unresolved", "mean"])
    assert params["repurchase_no_problem"][0] == pytest.approx(1 - paths.loc["No contact", "mean"])


def test_contact_outcomes_bad_input():
    with pytest.raises(CXDataError, match="0/1"):
        cx.value.contact_outcomes(CONTACTS.assign(fcr=[0, 1, 2, 1, 0, 1]), CUSTOMERS)
    with pytest.raises(CXDataError, match="not in customers"):
        cx.value.contact_outcomes(CONTACTS, CUSTOMERS[CUSTOMERS["customer_id"] != "a"])
    with pytest.raises(CXDataError, match="duplicate"):
        cx.value.contact_outcomes(CONTACTS, pd.concat([CUSTOMERS, CUSTOMERS.iloc[:1]]))
    with pytest.raises(CXDataError, match="horizon"):
        cx.value.contact_outcomes(CONTACTS, CUSTOMERS, horizon_months=0)

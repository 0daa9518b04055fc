"""Money on every contact (cxlab.value): CLV by group, revenue at risk, market damage, and the
transaction-level route on Online Retail.

References: Newcombe (1998, Stat Med 17:873-890, Table II) for the MOVER/score interval of a
difference of proportions (56/70 vs 48/80: 0.0524 to 0.3339); normal-theory intervals (scipy)
and simulations with known truth for the bootstrap; hand arithmetic for the market-damage
identities; the Online Retail sample's documented row counts (SOURCE.md).
"""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cxlab as cx
from cxlab.checks import CXDataError, CXWarning


# ------------------------------------------------------------------------ CLV by group
def test_clv_by_group_value_mode_matches_t_intervals():
    """Percentile bootstrap of a mean ≈ t interval for n = 1500 (ends within 5 % of the width);
    the gap interval ≈ Welch's interval."""
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"g": np.repeat(["Detractor", "Promoter"], 1500),
                       "clv": np.r_[rng.gamma(2.0, 300.0, 1500), rng.gamma(2.0, 360.0, 1500)]})
    res = cx.value.clv_by_group(df, "g", "clv", bootstrap=2000, seed=1, progress=False)
    means = df.groupby("g")["clv"].mean()
    for _, row in res.table.iterrows():
        v = df.loc[df["g"] == row["group"], "clv"]
        lo, hi = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))
        assert row["clv"] == pytest.approx(means[row["group"]])
        assert abs(row["ci_low"] - lo) < 0.05 * (hi - lo)
        assert abs(row["ci_high"] - hi) < 0.05 * (hi - lo)
    a = df.loc[df["g"] == "Promoter", "clv"]
    b = df.loc[df["g"] == "Detractor", "clv"]
    w = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    gap = res.gaps.iloc[0]
    assert gap["group"] == "Promoter" and gap["reference"] == "Detractor"
    assert gap["gap"] == pytest.approx(a.mean() - b.mean())
    assert abs(gap["ci_low"] - w.low) < 0.05 * (w.high - w.low)
    assert abs(gap["ci_high"] - w.high) < 0.05 * (w.high - w.low)


def test_clv_by_group_churn_mode_recovers_simulated_truth():
    """Monthly churn with known hazards per group: the estimate uses sum(churned)/sum(tenure) and
    m·rev·r/(1+d−r); the 95 % interval covers the true CLV in most of 40 replications."""
    hazards = {"Detractor": 0.03, "Passive": 0.02, "Promoter": 0.012}
    margin, d, rev = 0.3, 0.008, 50.0
    truth = {g: margin * rev * (1 - h) / (1 + d - (1 - h)) for g, h in hazards.items()}
    covered = []
    for rep in range(40):
        rng = np.random.default_rng(100 + rep)
        frames = []
        for g, h in hazards.items():
            n = 800
            life = rng.geometric(h, n)              # months until churn (1, 2, ...)
            follow = rng.integers(1, 36, n)          # administrative censoring
            frames.append(pd.DataFrame({"g": g, "rev": rng.normal(rev, 10, n),
                                        "churned": (life <= follow).astype(int),
                                        "tenure": np.minimum(life, follow).astype(float)}))
        df = pd.concat(frames, ignore_index=True)
        res = cx.value.clv_by_group(df, "g", revenue="rev", churned="churned", tenure="tenure",
                                    margin=margin, discount=d, bootstrap=300, seed=rep,
                                    progress=False)
        t = res.table.set_index("group")
        if rep == 0:
            sub = df[df["g"] == "Passive"]
            rate = sub["churned"].sum() / sub["tenure"].sum()
            assert t.loc["Passive", "churn_rate"] == pytest.approx(rate)
            assert t.loc["Passive", "clv"] == pytest.approx(
                margin * sub["rev"].mean() * (1 - rate) / (1 + d - (1 - rate)))
        covered += [t.loc[g, "ci_low"] <= truth[g] <= t.loc[g, "ci_high"] for g in hazards]
    # 120 intervals at 95 %: expect ~114 covered; < 100 would be p < 1e-5 under correct coverage
    assert sum(covered) >= 100


def test_clv_by_group_on_kestrel_orders_nps_groups():
    """The bundled company: promoters churn less, so their CLV is highest (truth.json: each LTR
    point lowers the churn hazard, HR 0.82)."""
    company = cx.datasets.load("kestrel")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CXWarning)
        frame = cx.retention.analysis_frame(company)
    d = (1 + company.truth["value"]["annual_discount_rate"]) ** (1 / 12) - 1
    res = cx.value.clv_by_group(frame, "nps_group", revenue="monthly_revenue", churned="churned",
                                tenure="duration", margin=company.truth["value"]["gross_margin"],
                                discount=d, bootstrap=200, reference="Detractor", progress=False)
    t = res.table.set_index("group")
    assert t.loc["Promoter", "clv"] > t.loc["Passive", "clv"] > t.loc["Detractor", "clv"]
    assert (res.gaps["ci_low"] > 0).all()
    assert res.draws.shape == (200, 3)
    assert res.plot() is not None


def test_clv_by_group_bad_input():
    df = pd.DataFrame({"g": pd.Categorical(["a", "a", "b", "b"], categories=["a", "b", "c"]),
                       "v": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(CXDataError, match="no customers"):
        cx.value.clv_by_group(df, "g", "v", progress=False)
    one = pd.DataFrame({"g": ["a", "a", "b"], "v": [1.0, 2.0, 3.0]})
    with pytest.raises(CXDataError, match="at least 2"):
        cx.value.clv_by_group(one, "g", "v", progress=False)
    with pytest.warns(CXWarning, match="excluded 1 row"):
        cx.value.clv_by_group(pd.DataFrame({"g": ["a", "a", None, "b", "b"],
                                            "v": [1.0, 2, 3, 4, 5]}), "g", "v", min_base=1,
                              bootstrap=50, progress=False)
    with pytest.raises(CXDataError, match="either value"):
        cx.value.clv_by_group(one, "g", progress=False)
    with pytest.raises(CXDataError, match="reference"):
        cx.value.clv_by_group(pd.DataFrame({"g": ["a", "a", "b", "b"], "v": [1.0, 2, 3, 4]}),
                              "g", "v", reference="z", min_base=1, bootstrap=20, progress=False)


# ------------------------------------------------------------------------ revenue at risk
def test_revenue_at_risk_linked_churn_matches_newcombe_1998():
    table = pd.DataFrame({"g": ["A", "B"], "n": [70, 80], "churned": [56, 48]})
    res = cx.value.revenue_at_risk(table, "g", value=1.0, customers={"A": 1, "B": 1}, baseline="B")
    row = res.table.set_index("group").loc["A"]
    assert row["linked_churn"] == pytest.approx(0.2)
    assert row["linked_ci_low"] == pytest.approx(0.0524, abs=5e-5)
    assert row["linked_ci_high"] == pytest.approx(0.3339, abs=5e-5)


def test_revenue_at_risk_without_baseline_scales_the_table_interval():
    table = pd.DataFrame({"nps": ["Detractor", "Passive", "Promoter"], "n": [200, 300, 500],
                          "churn_rate": [0.30, 0.20, 0.10], "ci_low": [0.24, 0.16, 0.08],
                          "ci_high": [0.37, 0.25, 0.13]})
    res = cx.value.revenue_at_risk(table, "nps", value={"Detractor": 500, "Passive": 600,
                                                        "Promoter": 700})
    t = res.table.set_index("group")
    assert t.loc["Detractor", "revenue_at_risk"] == pytest.approx(200 * 0.30 * 500)
    assert t.loc["Detractor", "ci_low"] == pytest.approx(200 * 0.24 * 500)
    assert t.loc["Promoter", "ci_high"] == pytest.approx(500 * 0.13 * 700)
    total = 200 * .3 * 500 + 300 * .2 * 600 + 500 * .1 * 700
    assert res.total["revenue_at_risk"] == pytest.approx(total)
    # MOVER total of independent groups: sqrt of summed squared half-widths
    down = np.sqrt((200 * .06 * 500) ** 2 + (300 * .04 * 600) ** 2 + (500 * .02 * 700) ** 2)
    assert res.total["ci_low"] == pytest.approx(total - down)
    # a base of 10,000 customers is split in proportion to n
    big = cx.value.revenue_at_risk(table, "nps", value=100.0, customers=10_000)
    assert big.table["customers"].tolist() == pytest.approx([2000, 3000, 5000])
    assert len(res.summary()) == 4 and res.plot() is not None


def test_revenue_at_risk_takes_churn_by_group_result_in_percent():
    df = pd.DataFrame({"grp": np.repeat(["Detractor", "Passive", "Promoter"], [100, 200, 300]),
                       "churn": np.r_[np.r_[np.ones(30), np.zeros(70)],
                                      np.r_[np.ones(40), np.zeros(160)],
                                      np.r_[np.ones(30), np.zeros(270)]].astype(int)})
    cbg = cx.retention.churn_by_group(df, "grp", "churn")
    res = cx.value.revenue_at_risk(cbg, value=120.0, baseline="Promoter")
    t = res.table.set_index("group")
    assert t.loc["Detractor", "linked_churn"] == pytest.approx(0.3 - 0.1)
    assert t.loc["Detractor", "revenue_at_risk"] == pytest.approx(100 * 0.2 * 120)
    assert t.loc["Promoter", "revenue_at_risk"] == 0
    # total linked = sum_g c_g v (p_g - p_b); the interval contains it and is not degenerate
    assert res.total["revenue_at_risk"] == pytest.approx(100 * .2 * 120 + 200 * .1 * 120)
    assert res.total["ci_low"] < res.total["revenue_at_risk"] < res.total["ci_high"]


def test_revenue_at_risk_bad_input():
    table = pd.DataFrame({"g": ["A", "B"], "n": [0, 10], "churn_rate": [0.1, 0.2],
                          "ci_low": [0.0, 0.1], "ci_high": [0.3, 0.3]})
    with pytest.raises(CXDataError, match="no customers"):
        cx.value.revenue_at_risk(table, "g", value=1.0)
    pct = table.assign(n=[10, 10], churn_rate=[10.0, 20.0])
    with pytest.raises(CXDataError, match="scale='percent'"):
        cx.value.revenue_at_risk(pct, "g", value=1.0)
    with pytest.raises(CXDataError, match="baseline"):
        cx.value.revenue_at_risk(table.assign(n=[5, 5]), "g", value=1.0, baseline="Z")
    with pytest.raises(CXDataError, match="bracket"):
        cx.value.revenue_at_risk(table.assign(n=[5, 5], ci_low=[0.2, 0.1]), "g", value=1.0)


# ------------------------------------------------------------------------ market damage
def test_market_damage_arithmetic():
    res = cx.value.market_damage(1000, 200.0, share_complain=0.25, share_resolved=0.6,
                                 repurchase_no_complaint=0.5, repurchase_resolved=0.8,
                                 repurchase_unresolved=0.3, repurchase_no_problem=0.9,
                                 wom_told_no_complaint=4, wom_told_resolved=0,
                                 wom_told_unresolved=10, wom_conversion=0.01)
    t = res.table.set_index("path")
    # hand calculation: 750 silent × (0.9−0.5) = 300; 150 resolved × 0.1 = 15; 100 × 0.6 = 60
    assert t.loc["Did not complain", "customers_lost"] == pytest.approx(300)
    assert t.loc["Complained, resolved", "customers_lost"] == pytest.approx(15)
    assert t.loc["Complained, unresolved", "customers_lost"] == pytest.approx(60)
    assert t.loc["Word of mouth", "customers_lost"] == pytest.approx(750 * 4 * .01 + 100 * 10 * .01)
    assert res.total_value_lost == pytest.approx((300 + 15 + 60 + 40) * 200)
    assert (res.inputs["status"] == "given").all()
    assert res.plot() is not None


def test_market_damage_defaults_are_labelled_and_overridable():
    res = cx.value.market_damage(1000, 100.0)
    inputs = res.inputs
    assert inputs.loc["repurchase_resolved", "value"] == 0.54
    assert "TARP" in inputs.loc["repurchase_resolved", "source"]
    assert "illustrative" in inputs.loc["wom_conversion", "status"]
    res2 = cx.value.market_damage(1000, 100.0, share_resolved=0.9)
    assert res2.total_value_lost < res.total_value_lost      # better resolution, less damage
    with pytest.raises(CXDataError, match="Unknown"):
        cx.value.market_damage(1000, 100.0, share_complained=0.1)
    with pytest.raises(CXDataError, match="out of range"):
        cx.value.market_damage(1000, 100.0, share_complain=1.5)


def test_market_damage_inputs_from_data():
    """Hand-checked: first contact with a year of follow-up defines the path; churn within 12
    months after it is the loss; customers with no earlier contact form the baseline."""
    contacts = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "d", "e"],
                             "contact_date": ["2024-01-10", "2024-02-01", "2024-03-01",
                                              "2024-04-01", "2024-05-01", "2025-06-01"],
                             "fcr": [0, 1, 1, 1, 0, 1]})
    customers = pd.DataFrame({"customer_id": list("abcdefg"),
                              "end_date": ["2024-06-01", None, "2024-12-01", "2026-01-01", None,
                                           None, "2025-09-01"]})
    params, n = cx.value.market_damage_inputs(contacts, customers,
                                              observation_end="2025-12-31")
    # cut-off 2024-12-31: first contacts a (unresolved), b, c (resolved), d (unresolved); e later
    assert n == 4
    assert params["share_resolved"][0] == pytest.approx(2 / 4)
    assert params["repurchase_resolved"][0] == pytest.approx(1 - 1 / 2)   # b churned, c later
    assert params["repurchase_unresolved"][0] == pytest.approx(1 - 1 / 2)  # a churned, d not
    # baseline: active at the cut-off, no contact before it: e, f (stay), g (churns) -> 1/3
    assert params["repurchase_no_problem"][0] == pytest.approx(2 / 3)
    with pytest.warns(CXWarning, match="one scale"):
        res = cx.value.market_damage(n / 0.04, 100.0, **params)
    assert res.inputs.loc["share_resolved", "status"] == "given"
    with pytest.raises(CXDataError, match="not in customers"):
        cx.value.market_damage_inputs(contacts, customers[customers["customer_id"] != "a"])


def test_market_damage_on_kestrel_unresolved_contacts_cost_more():
    """truth.json: an unresolved contact in the last 3 months raises the churn hazard (HR 1.7)."""
    company = cx.datasets.load("kestrel")
    assert company.truth["churn_hazard_ratios"]["unresolved_contact_last_3_months"] > 1
    params, complainers = cx.value.market_damage_inputs(company.contacts, company.customers)
    assert params["repurchase_unresolved"][0] < params["repurchase_resolved"][0]
    res = cx.value.market_damage(complainers, 12 * company.customers["monthly_revenue"].mean(),
                                 share_complain=1.0,
                                 repurchase_no_complaint=params["repurchase_unresolved"], **params)
    t = res.table.set_index("path")
    assert t.loc["Did not complain", "customers"] == 0
    assert t.loc["Total", "value_lost"] > 0


# ------------------------------------------------------------------------ Online Retail
def test_online_retail_transaction_route_is_sane():
    """Cancellations reported (the sample has 784 cancellation lines, SOURCE.md), fits converge
    with plausible parameters, CLV finite and positive. Agreement with lifetimes is checked in
    benchmarks/bench_value.py (lifetimes cannot be installed beside pandas 3)."""
    data = cx.datasets.load("online_retail")
    tx, report = cx.value.invoice_transactions(data)
    rep = report.set_index("reason")
    assert rep.loc["cancellation", "lines"] == 784
    assert rep.loc["cancellation", "value"] < 0
    assert rep["lines"].sum() == len(data)
    s = cx.value.summarize_transactions(tx, "customer", "date", "amount",
                                        calibration_end="2011-12-09", unit="D")
    bg = cx.value.fit_bgnbd(s["frequency"], s["recency"], s["T"])
    gg = cx.value.fit_gamma_gamma(s["frequency"], s["monetary_value"])
    assert 0 < bg.r < 10 and 1 < bg.alpha < 1000 and 0 < bg.a < 5
    p_alive = bg.prob_alive()
    assert np.all((p_alive >= 0) & (p_alive <= 1))
    assert gg.q > 1 and 0 < gg.population_mean_spend < 5000
    clv = cx.value.customer_lifetime_value(bg, gg, monetary_value=s["monetary_value"], months=12,
                                           discount=0.01, units_per_month=365.25 / 12)
    assert np.all(np.isfinite(clv)) and np.all(clv > 0)


def test_revenue_at_risk_numeric_baseline_is_in_the_tables_unit():
    df = pd.DataFrame({"grp": np.repeat(["Detractor", "Promoter"], [100, 300]),
                       "churn": np.r_[np.ones(30), np.zeros(70), np.ones(30), np.zeros(270)]
                       .astype(int)})
    cbg = cx.retention.churn_by_group(df, "grp", "churn")          # rates in percent: 30, 10
    res = cx.value.revenue_at_risk(cbg, value=120.0, baseline=10)    # 10 % as in the table
    t = res.table.set_index("group")
    # by hand: linked churn 0.30 − 0.10 = 0.20; at risk 100 × 0.20 × 120 = 2,400
    assert t.loc["Detractor", "linked_churn"] == pytest.approx(0.2)
    assert t.loc["Detractor", "revenue_at_risk"] == pytest.approx(2400)
    with pytest.warns(CXWarning, match="If you meant 10%, pass baseline=10"):
        cx.value.revenue_at_risk(cbg, value=120.0, baseline=0.1)
    prop = pd.DataFrame({"g": ["A", "B"], "n": [10, 10], "churn_rate": [0.1, 0.2],
                         "ci_low": [0.0, 0.1], "ci_high": [0.3, 0.3]})
    assert cx.value.revenue_at_risk(prop, "g", value=1.0, baseline=0.05).table[
        "linked_churn"].tolist() == pytest.approx([0.05, 0.15])
    with pytest.raises(CXDataError, match="scale='percent'"):
        cx.value.revenue_at_risk(prop, "g", value=1.0, baseline=8)

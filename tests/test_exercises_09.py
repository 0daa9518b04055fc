"""Exercises of notebook 09 (capstone): each check accepts the right answer and rejects the typical
wrong ones with their message, and the answers agree with what the simulator really did.

Right answers come from outside the exercise module: the simulator's truth (the scripted event,
its own count of quarterly churn, the true drivers of leaving) and the package (customer_periods,
metrics.change, churn_cox, whatif.chain, revenue_at_risk), which the exercises' plain pandas,
lifelines and numpy arithmetic must match.
"""

from __future__ import annotations

import numpy as np
import pytest

import cxlab as cx
from cxlab.exercises import ex09
from cxlab.exercises.course03 import TOUCHPOINTS
from cxlab.exercises.course09 import AFTER, BEFORE, DIRECT

DRIVERS = ["network_reliability", "network_speed", "billing_clarity", "billing_accuracy",
           "price_value", "digital_selfservice"]


@pytest.fixture(scope="module")
def company():
    return cx.datasets.load("kestrel")


@pytest.fixture(scope="module")
def panel(company):
    p = cx.retention.customer_periods(company, start="2024Q4")
    p["phase"] = np.select([p["period"].isin(AFTER), p["period"].isin(BEFORE)],
                           ["after", "before"], None)
    return p


def _change(panel, by="region", **kw):
    return cx.metrics.change(panel, "churned", metric="top_box", scale=(0, 1), top=(1,),
                             by=by, **kw)


@pytest.mark.parametrize("key", [k for k, _ in ex09])
def test_blank_answers_say_not_answered_yet(key):
    assert getattr(ex09, key).evaluate(...).status == "unanswered"


def test_q1_matches_the_simulators_own_count(company):
    realised = company.truth["realised"]["quarterly_churn_of_customers_at_quarter_start"]
    truth = 100 * realised["South"]["2026Q2"]          # rounded to 6 decimals in truth.json
    assert ex09.q1.expected == pytest.approx(truth, abs=1e-4)
    assert ex09.q1.evaluate(truth).correct
    assert "2026Q3" in ex09.q1.evaluate(100 * realised["South"]["2026Q3"]).message
    assert "quarter before" in ex09.q1.evaluate(100 * realised["South"]["2026Q1"]).message
    assert "fraction" in ex09.q1.evaluate(truth / 100).message


def test_q2_the_other_significant_regions_are_false_alarms(company, panel):
    q1_q2 = _change(panel, period="period", previous="2026Q1", current="2026Q2")
    flagged = set(q1_q2.loc[q1_q2["significant"], "region"])
    assert {"South", "North"} <= flagged                  # the premise of the question
    pooled = _change(panel, period="phase", previous="before", current="after")
    assert set(pooled.loc[pooled["significant"], "region"]) == {company.truth["event"]["region"]}
    assert ex09.q2.evaluate("b").correct
    for wrong, fragment in {"a": "persists", "c": "chance", "d": "dilutes"}.items():
        out = ex09.q2.evaluate(wrong)
        assert out.status == "incorrect" and fragment in out.message


def test_q3_pooled_rise_matches_cx_metrics(panel):
    pooled = _change(panel, period="phase", previous="before", current="after")
    rise = pooled.loc[pooled["region"] == "South", "difference"].item()
    assert ex09.q3.expected == pytest.approx(rise, abs=1e-9)          # same pooled proportions
    assert ex09.q3.evaluate(rise).correct
    one = _change(panel, period="period", previous="2026Q1", current="2026Q2")
    assert "2026Q1 → 2026Q2 only" in ex09.q3.evaluate(
        one.loc[one["region"] == "South", "difference"].item()).message
    row = pooled[pooled["region"] == "South"].iloc[0]
    assert "relative" in ex09.q3.evaluate(100 * (row["current"] / row["previous"] - 1)).message


def test_q4_touchpoints_are_the_scripted_ones(company):
    event = company.truth["event"]
    scripted = {k.removesuffix("_shift") for k, v in event.items()      # rating shifts only
                if k.endswith("_shift") and k.removesuffix("_shift") in TOUCHPOINTS and v <= -0.5}
    assert ex09.q4.expected == scripted == {"network_reliability", "network_speed"}
    assert ex09.q4.evaluate(["network_speed", "network_reliability"]).correct
    assert "another touchpoint" in ex09.q4.evaluate(["network_reliability"]).message
    assert ex09.q4.evaluate(["price_value", "network_reliability"]).status == "incorrect"


def test_q5_south_after_hazard_ratio_is_as_stated_and_real(panel):
    recent = panel[panel["phase"].notna()].assign(
        south=lambda d: (d["region"] == "South").astype(int),
        after=lambda d: (d["phase"] == "after").astype(int))
    recent["south_after"] = recent["south"] * recent["after"]
    cox = cx.retention.churn_cox(recent, duration="exit", entry="entry", event="churned",
                                 predictors=["south", "after", "south_after"],
                                 controls=["plan", "segment"])
    hr = cox.hazard_ratio("south_after")
    # the numbers quoted in the prompt (rounded to 2 decimals)
    assert (round(hr["hazard_ratio"], 2), round(hr["ci_low"], 2), round(hr["ci_high"], 2)) == \
        (1.39, 1.17, 1.65)
    assert ex09.q5.evaluate("b").correct
    assert "difference in differences" in ex09.q5.evaluate("a").message
    assert "share of customers" in ex09.q5.evaluate("c").message


def test_q6_direct_paths_are_the_true_ones(company):
    hazards = company.truth["churn_hazard_ratios"]
    # the simulator's churn hazard has direct terms for price and billing accuracy, none for
    # the network: reliability reaches leaving only through ltr
    assert hazards["per_price_value_point"] < 1 and hazards["per_billing_accuracy_point"] < 1
    assert not any("reliab" in k or "network" in k for k in hazards)
    assert set(DIRECT) == {"price_value", "billing_accuracy"}
    assert ex09.q6.evaluate("a").correct
    assert ex09.q6.evaluate("c").status == "incorrect"


@pytest.mark.slow
def test_q7_links_match_the_whatif_chain_and_the_truth(company):
    episodes = cx.retention.analysis_frame(company, follow_up="quarter")
    episodes["churn_12m_south"] = episodes["churn_12m"].where(episodes["region"] == "South")
    chain = cx.whatif.chain(episodes, [cx.whatif.raise_driver("network_reliability", -3)],
                            drivers=DRIVERS, direct=list(DIRECT), churned="churn_12m_south",
                            customers=1000, bootstrap=0, progress=False)
    hr, slope = chain.links["estimate"].iloc[:2]
    predicted = hr ** (slope * -3)
    # lifelines + numpy (exercise) vs cxlab's own Cox and OLS: the same estimators, so they
    # agree to optimiser precision
    assert ex09.q7.expected == pytest.approx(predicted, abs=1e-4)
    # and close to the truth's 0.82 per ltr point and 0.30 ltr per reliability point (sampling
    # error: the chain's hazard-ratio interval is about ±0.07 wide)
    truth = company.truth
    true_hr = truth["churn_hazard_ratios"]["per_ltr_point"] ** (
        truth["ltr_drivers"]["weights"]["network_reliability"] * -3)
    assert predicted == pytest.approx(true_hr, abs=0.05)
    assert ex09.q7.evaluate(predicted).correct
    assert "score points" in ex09.q7.evaluate(hr ** -3).message
    assert "flipped" in ex09.q7.evaluate(1 / predicted).message
    assert "change in the score" in ex09.q7.evaluate(slope * -3).message


def test_q8_extra_leavers_match_revenue_at_risk(company, panel):
    south = panel[(panel["region"] == "South") & panel["phase"].notna()]
    groups = cx.retention.churn_by_group(south, "phase", order=["before", "after"])
    cu = company.customers
    n = int(((cu["region"] == "South") & cu["end_date"].isna()).sum())
    risk = cx.value.revenue_at_risk(groups, value=1.0, customers={"before": n, "after": n},
                                    baseline="before")
    after = risk.table[risk.table["group"] == "after"].iloc[0]
    extra = after["customers"] * after["linked_churn"]
    assert ex09.q8.expected == pytest.approx(extra, abs=1e-6)
    assert ex09.q8.evaluate(extra).correct
    assert ex09.q8.evaluate(round(extra)).correct                         # tolerance 1 customer
    assert "100 times" in ex09.q8.evaluate(100 * extra).message
    assert "customer-quarters" in ex09.q8.evaluate(
        groups.table.set_index("phase").loc["after", "n"] * after["linked_churn"]).message


@pytest.mark.parametrize("key", ["q9", "q10"])
def test_judgement_questions_show_a_model_answer(key):
    out = getattr(ex09, key).evaluate("my answer")
    assert out.status == "info" and "Good answers" in out.message

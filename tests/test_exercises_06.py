"""Exercises of notebook 06 (money on every contact): each check accepts the right answer and
rejects the typical wrong ones with their message.

Right answers are computed through the package (cx.retention, cx.value, cx.whatif), a path
independent of the plain-pandas arithmetic inside the exercise definitions; the market damage
is also worked by hand. The choice questions' premises are checked against the data, so that a
change in the bundled company cannot silently make a model answer wrong.
"""

from __future__ import annotations

import pytest

import cxlab as cx
from cxlab.exercises import ex06


@pytest.fixture(scope="module")
def company():
    return cx.datasets.load("kestrel")


@pytest.fixture(scope="module")
def nps_churn(company):
    frame = cx.retention.analysis_frame(company, responses="first").dropna(subset=["churn_12m"])
    churn = cx.retention.churn_by_group(frame, "nps_group", "churn_12m")
    annual = 12 * frame.groupby("nps_group", observed=True)["monthly_revenue"].mean()
    active = int((company.customers["churned"] == 0).sum())
    return churn, annual, active


def _detractor(result):
    return result.table.set_index("group").loc["Detractor", "revenue_at_risk"]


@pytest.mark.parametrize("key", [k for k, _ in ex06])
def test_blank_answers_say_not_answered_yet(key):
    assert getattr(ex06, key).evaluate(...).status == "unanswered"


def test_q1_revenue_at_risk_from_detractors(nps_churn):
    churn, annual, active = nps_churn
    right = cx.value.revenue_at_risk(churn, value=annual, customers=active, baseline="Promoter")
    assert ex06.q1.evaluate(_detractor(right)).correct
    assert ex06.q1.evaluate(round(_detractor(right), -2)).correct        # 0.2 % tolerance
    wrong = {
        "ALL the detractors' churn": cx.value.revenue_at_risk(churn, value=annual,
                                                              customers=active),
        "against the passives": cx.value.revenue_at_risk(churn, value=annual, customers=active,
                                                         baseline="Passive"),
        "one month's revenue": cx.value.revenue_at_risk(churn, value=annual / 12,
                                                        customers=active, baseline="Promoter"),
        "respondents only": cx.value.revenue_at_risk(churn, value=annual, baseline="Promoter"),
    }
    for fragment, result in wrong.items():
        out = ex06.q1.evaluate(_detractor(result))
        assert out.status == "incorrect" and fragment in out.message, (fragment, out.message)


def test_q2_root_cause_and_its_premise_in_the_data(company):
    outcomes = cx.value.contact_outcomes(company.contacts, company.customers)
    outcomes["problem"] = outcomes["problem_type"].fillna("No contact")
    churn = cx.retention.churn_by_group(outcomes, "problem", "churn_12m")
    value = 12 * outcomes.groupby("problem")["monthly_revenue"].mean()
    risk = cx.value.revenue_at_risk(churn, value=value, baseline="No contact").table
    risk = risk.set_index("group").drop("No contact")
    fcr = outcomes[outcomes["path"] != "No contact"].groupby("problem")["fcr"].mean()
    assert risk["revenue_at_risk"].idxmax() == "Network fault"   # option b's premise
    assert fcr.idxmin() == "Network fault"
    assert risk["churn_rate"].idxmax() == "Cancellation"         # option a's premise
    assert risk.loc["Technical support", "ci_low"] < 0           # option d's premise
    assert ex06.q2.evaluate("b").correct
    assert "END of the story" in ex06.q2.evaluate("a").message
    assert "symptom" in ex06.q2.evaluate("c").message
    assert "Volume is not value" in ex06.q2.evaluate("d").message


def test_q3_market_damage_by_the_package_and_by_hand():
    kw = {"share_complain": 0.5, "share_resolved": 0.6, "repurchase_no_problem": 0.95,
          "repurchase_no_complaint": 0.80, "repurchase_resolved": 0.90,
          "repurchase_unresolved": 0.70}
    right = cx.value.market_damage(1000, 500, wom_conversion=0, **kw)
    # by hand: 500 × 0.15 + 300 × 0.05 + 200 × 0.25 = 140 customers × €500
    assert right.total_value_lost == pytest.approx(70_000)
    assert ex06.q3.evaluate(right.total_value_lost).correct
    with_wom = cx.value.market_damage(1000, 500, **kw).total_value_lost
    assert "word of mouth" in ex06.q3.evaluate(with_wom).message
    no_baseline = cx.value.market_damage(1000, 500, wom_conversion=0,
                                         **{**kw, "repurchase_no_problem": 1.0})
    assert "would have left" in ex06.q3.evaluate(no_baseline.total_value_lost).message
    t = right.table.set_index("path")
    complainers = t.loc[["Complained, resolved", "Complained, unresolved"], "value_lost"].sum()
    assert "never complained" in ex06.q3.evaluate(complainers).message
    assert "number of customers" in ex06.q3.evaluate(t.loc["Total", "customers_lost"]).message


@pytest.mark.slow
def test_q4_ranking_agrees_with_the_what_if_chain(company):
    """The notebook's actions and costs, with another bootstrap seed (about 3 s)."""
    drivers = ["network_reliability", "network_speed", "billing_clarity", "billing_accuracy",
               "price_value", "digital_selfservice"]
    actions = [cx.whatif.raise_driver("network_reliability", 1, cost=150_000, name="network"),
               cx.whatif.raise_driver("price_value", 1, cost=350_000, name="price"),
               cx.whatif.raise_driver("billing_accuracy", 1, cost=80_000, name="billing"),
               cx.whatif.move_detractors(0.20, cost=100_000, name="call back")]
    res = cx.whatif.chain(company, actions, drivers=drivers, margin=0.30, discount=0.10,
                          years=3, bootstrap=200, seed=11, progress=False)
    t = res.summary().set_index("action")
    assert t["net_value"].idxmax() == "billing"                  # option b
    assert t["prob_positive"].idxmax() == "billing"
    assert t.loc["billing", "net_ci_low"] < 0 < t.loc["billing", "net_ci_high"]
    assert t["delta_value"].idxmax() == "price" and t.loc["price", "net_value"] < 0   # option a
    assert t.loc["call back", "net_ci_high"] < 0                                     # option c
    assert t["delta_score"].idxmax() == "network"                                    # option d
    assert ex06.q4.evaluate("b").correct
    for letter, fragment in (("a", "costs more than it gains"), ("c", "almost certainly a loss"),
                             ("d", "net value")):
        assert fragment in ex06.q4.evaluate(letter).message


def test_q5_judgement_shows_the_model_answer():
    out = ex06.q5.evaluate("Not significant is not the same as no effect.")
    assert out.status == "info" and "pilot" in out.message

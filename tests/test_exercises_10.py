"""Exercises of notebook 10 (voice of the customer): each check accepts the right answer and
rejects the typical wrong ones with their message.

Right answers are computed through the package (cx.text.theme_impact with statsmodels,
cx.text.theme_revenue_at_risk with cx.value), a path independent of the numpy / pandas
arithmetic inside the exercise definitions. The choice question's premise is checked against
the data.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cxlab as cx
from cxlab.exercises import ex10

THEMES = ["network_outage", "slow_speed", "billing_error", "price", "support_unresolved",
          "support_slow", "app_selfservice", "praise"]


@pytest.fixture(scope="module")
def coded():
    company = cx.datasets.load("kestrel")
    comments = cx.simulate.read_comments(cx.datasets.path("kestrel"))
    themes = cx.text.code(comments["comment"], "kestrel", language=comments["language"])
    s = company.survey.set_index("response_id").loc[comments["response_id"]]
    frame = themes.assign(response_id=comments["response_id"].to_numpy(),
                          written=(comments["comment"] != "").astype(int).to_numpy(),
                          region=s["region"].to_numpy(), wave=s["wave"].to_numpy(),
                          ltr=s["ltr"].to_numpy())
    return company, frame


@pytest.mark.parametrize("key", [k for k, _ in ex10])
def test_blank_answers_say_not_answered_yet(key):
    assert getattr(ex10, key).evaluate(...).status == "unanswered"


def test_q1_outage_share(coded):
    _, d = coded
    south = d.query("region == 'South' and wave == '2026Q3'")
    right = 100 * south.loc[south["written"] == 1, "network_outage"].mean()
    assert ex10.q1.evaluate(right).correct
    assert ex10.q1.evaluate(right / 100).status == "incorrect"
    out = ex10.q1.evaluate(100 * south["network_outage"].mean())
    assert "empty ones" in out.message
    out = ex10.q1.evaluate(100 * d.query("wave == '2026Q3' and written == 1")["network_outage"].mean())
    assert "all regions" in out.message


def test_q2_adjusted_effect(coded):
    _, d = coded
    w = d[d["written"] == 1]
    impact = cx.text.theme_impact(w, "ltr", THEMES)
    assert ex10.q2.evaluate(impact.loc["network_outage", "effect"]).correct
    nps = 100 * ((w["ltr"] >= 9).astype(float) - (w["ltr"] <= 6))
    plain = nps[w["network_outage"] == 1].mean() - nps[w["network_outage"] == 0].mean()
    assert "plain difference" in ex10.q2.evaluate(plain).message
    import statsmodels.api as sm
    ltr_fit = sm.OLS(w["ltr"].astype(float), sm.add_constant(w[THEMES].astype(float))).fit()
    assert "mean ltr" in ex10.q2.evaluate(ltr_fit.params["network_outage"]).message


def test_q3_markers_and_its_premise(coded):
    _, d = coded
    impact = cx.text.theme_impact(d[d["written"] == 1], "ltr", THEMES)
    assert impact["effect"].idxmax() == "praise" and impact.loc["praise", "effect"] > 50
    assert ex10.q3.evaluate("b").correct
    assert ex10.q3.evaluate("a").status == "incorrect"


def test_q4_revenue_at_risk(coded):
    company, d = coded
    frame = cx.retention.analysis_frame(company, responses="all", horizon=12)
    data = frame.merge(d[["response_id", "written", *THEMES]], on="response_id")
    data = data[data["written"] == 1].assign(annual=lambda x: 12 * x["monthly_revenue"])
    active = int((company.customers["churned"] == 0).sum())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        risk = cx.text.theme_revenue_at_risk(data, THEMES, "churn_12m", "annual", customers=active)
        raw = cx.text.theme_revenue_at_risk(data, THEMES, "churn_12m", "annual")
    right = risk.table.set_index("group").loc["network_outage", "revenue_at_risk"]
    assert ex10.q4.evaluate(right).correct
    assert "commenters only" in ex10.q4.evaluate(
        raw.table.set_index("group").loc["network_outage", "revenue_at_risk"]).message
    assert "month's revenue" in ex10.q4.evaluate(right / 12).message
    assert np.isfinite(right)


def test_q5_is_a_judgement():
    assert ex10.q5.evaluate("Themes and redacted quotes only, no ids").status == "info"

"""Exercises of notebook 05 (lifetime value): each check accepts the right answer and rejects the
typical wrong ones with their message.

Right answers come from outside the exercise module: the published Fader & Hardie numbers, and
the package (cx.value, cx.retention) for the data-driven ones, so the exercise's own plain
pandas / numpy arithmetic is cross-checked against an independent path.
"""

from __future__ import annotations

import numpy as np
import pytest

import cxlab as cx
from cxlab.exercises import ex05
from cxlab.exercises.course05 import FH_COHORTS, _first_answers

REGULAR_8 = FH_COHORTS["regular"][:8]


@pytest.fixture(scope="module")
def regular_fit():
    return cx.value.fit_sbg(REGULAR_8)


@pytest.fixture(scope="module")
def cdnow_fit():
    s = cx.datasets.load("cdnow_summary")
    return cx.value.fit_bgnbd(s["x"], s["t_x"], s["T"])


@pytest.mark.parametrize("key", [k for k, _ in ex05])
def test_blank_answers_say_not_answered_yet(key):
    assert getattr(ex05, key).evaluate(...).status == "unanswered"


def test_q1_simple_clv():
    m = 0.30 * 52 * 12
    assert ex05.q1.evaluate(cx.value.simple_clv(m, 0.85, 0.10)).correct
    assert ex05.q1.evaluate(636.5).correct                                   # tolerance €0.50
    wrong = {cx.value.simple_clv(m, 0.85, 0.10, include_initial=True): "include_initial",
             cx.value.simple_clv(52 * 12, 0.85, 0.10): "revenue",
             cx.value.simple_clv(0.30 * 52, 0.85, 0.10): "monthly margin",
             m * 0.85 / (1 - 0.85): "discount rate",
             m / (1 - 0.85): "undiscounted",
             cx.value.simple_clv(m, 0.15, 0.10): "churn rate"}
    for answer, fragment in wrong.items():
        out = ex05.q1.evaluate(answer)
        assert out.status == "incorrect" and fragment in out.message, (answer, out.message)


def test_q2_reproduces_the_published_sbg(regular_fit):
    assert ex05.q2.evaluate(regular_fit).correct
    assert ex05.q2.evaluate({"alpha": 0.704, "beta": 1.182}).correct        # published
    all_years = cx.value.fit_sbg(FH_COHORTS["regular"])
    assert "13 years" in ex05.q2.evaluate(all_years).message
    assert "high end" in ex05.q2.evaluate(cx.value.fit_sbg(FH_COHORTS["high end"][:8])).message
    assert "swapped" in ex05.q2.evaluate({"alpha": 1.182, "beta": 0.704}).message
    assert "both parameters" in ex05.q2.evaluate(0.704).message


def test_q3_sbg_retention_in_year_5(regular_fit):
    # the package's r(t) at the published parameters is within 0.05 points of the closed form
    assert ex05.q3.evaluate(100 * float(regular_fit.retention(5))).correct
    assert "fraction" in ex05.q3.evaluate(float(regular_fit.retention(5))).message
    assert "year 4" in ex05.q3.evaluate(100 * float(regular_fit.retention(4))).message
    assert "ORIGINAL" in ex05.q3.evaluate(100 * float(regular_fit.survival(5))).message
    assert "churn rate" in ex05.q3.evaluate(100 * (1 - float(regular_fit.retention(5)))).message


def test_q4_bgnbd_prediction_matches_hardie(cdnow_fit):
    assert ex05.q4.evaluate(cdnow_fit.conditional_expected_purchases(39, 2, 30.43, 38.86)).correct
    assert "NEW customer" in ex05.q4.evaluate(cdnow_fit.expected_purchases(39)).message
    assert "still active" in ex05.q4.evaluate(cdnow_fit.prob_alive(2, 30.43, 38.86)).message


def test_q5_value_gap_by_nps_group_in_the_east():
    """The package (analysis_frame + clv_by_group, its own bootstrap) agrees with the exercise's
    own numpy bootstrap on which gaps exclude zero."""
    frame = cx.retention.analysis_frame(cx.datasets.load("kestrel"), responses="first")
    east = cx.value.clv_by_group(frame[frame["region"] == "East"], "nps_group",
                                 revenue="monthly_revenue", churned="churned", tenure="duration",
                                 margin=0.30, discount=1.10 ** (1 / 12) - 1, reference="Passive",
                                 bootstrap=1000, seed=1, progress=False)
    g = east.gaps
    significant = list(g.loc[(g["ci_low"] > 0) | (g["ci_high"] < 0), "group"])
    assert significant == ["Detractor"]
    assert ex05.q5.evaluate(significant).correct
    assert "read the intervals" in ex05.q5.evaluate(["Detractor", "Promoter"]).message
    assert "entirely on one side" in ex05.q5.evaluate([]).message


def test_first_answer_recipe_matches_analysis_frame():
    company = cx.datasets.load("kestrel")
    ours = _first_answers(company).set_index("customer_id").sort_index()
    pkg = cx.retention.analysis_frame(company, responses="first").set_index("customer_id")
    pkg = pkg.sort_index()
    assert ours.index.equals(pkg.index)
    np.testing.assert_allclose(ours["months"], pkg["duration"], atol=1e-9)
    assert (ours["churned"] == pkg["churned"]).all()
    assert (ours["group"] == pkg["nps_group"].astype(str)).all()


def test_q6_judgement_shows_the_model_answer():
    out = ex05.q6.evaluate("It is a comparison, not an experiment.")
    assert out.status == "info" and "comparison, not an experiment" in out.message

"""Notebook 04 (CX and retention) exercises: the expected answers are right, the right answer is
accepted, typical wrong answers are rejected with their message.

References outside the exercise module's own arithmetic:
* lifelines 0.30 (KaplanMeierFitter, CoxPHFitter with Efron ties) for the retention curve and the
  hazard ratio;
* ``cx.retention`` (analysis_frame, churn_by_group, kaplan_meier, churn_cox: the path the notebook
  takes), itself tested against statsmodels/lifelines in tests/test_retention.py;
* hand-worked toy data for the product-limit estimator.
"""

import numpy as np
import pytest

import cxlab as cx
from cxlab.exercises import course04 as C
from cxlab.exercises import ex04


@pytest.fixture(scope="module")
def company():
    return cx.datasets.load("kestrel")


@pytest.fixture(scope="module")
def frame(company):
    return cx.retention.analysis_frame(company, responses="first")


# ------------------------------------------------------------------ the reference recipes


def test_product_limit_estimate_on_a_hand_worked_example():
    # times 1, 2+, 3, 3, 4+, 5: S(1) = 5/6; at 3, 4 at risk and 2 events: S(3) = 5/6 * 2/4
    t = [1, 2, 3, 3, 4, 5]
    e = [1, 0, 1, 1, 0, 1]
    assert C.kaplan_meier_at(t, e, 0.5) == 1.0
    assert C.kaplan_meier_at(t, e, 2.9) == pytest.approx(5 / 6)
    assert C.kaplan_meier_at(t, e, 4.5) == pytest.approx(5 / 6 * 2 / 4)
    assert C.kaplan_meier_at(t, e, 5) == 0.0


def test_survival_frame_matches_lifelines_and_the_package_frame(company, frame):
    lifelines = pytest.importorskip("lifelines")
    ours = C._survival_frame(company)
    det = ours[ours["group"] == "Detractor"]
    kmf = lifelines.KaplanMeierFitter().fit(det["duration"], det["event"])
    assert C._km12(company) == pytest.approx(100 * kmf.predict(12.0), abs=1e-9)
    # same customers, durations and events as cx.retention.analysis_frame(responses="first")
    mine = ours.set_index("customer_id").loc[frame["customer_id"]]
    np.testing.assert_allclose(mine["duration"], frame["duration"], atol=1e-12)
    assert (mine["event"].to_numpy() == frame["churned"].to_numpy()).all()


# ------------------------------------------------------------------ q1: churn gap


def test_q1_expected_is_the_package_gap(frame):
    year_old = frame[frame["survey_date"] <= "2025-09-30"]
    assert year_old["churn_12m"].notna().all()
    rates = cx.retention.churn_by_group(year_old, "nps_group", "churn_12m").table.set_index(
        "nps_group")["churn_rate"]
    gap = rates["Detractor"] - rates["Promoter"]
    assert ex04.q1.expected == pytest.approx(gap, abs=1e-9)
    assert ex04.q1.evaluate(gap).correct and ex04.q1.evaluate(round(gap, 1)).correct
    assert "flipped" in ex04.q1.evaluate(-gap).message
    assert "fraction" in ex04.q1.evaluate(gap / 100).message
    assert "ratio" in ex04.q1.evaluate(rates["Detractor"] / rates["Promoter"]).message


def test_q1_recognises_recent_answers_ever_churned_and_every_answer(company, frame):
    def gap(rows, flag):
        r = 100 * rows.groupby("nps_group", observed=True)[flag].mean()
        return r["Detractor"] - r["Promoter"]

    # the natural slip with a hand-made flag: count a recent answer's early leavers (churn
    # already seen) but not its stayers (not yet knowable)
    left_early = (frame["churned"] == 1) & (frame["duration"] <= 12)
    slip = frame.assign(flag=np.where(left_early, 1.0, frame["churn_12m"]))
    known = slip[slip["flag"].notna()]
    assert "last 12 months" in ex04.q1.evaluate(gap(known, "flag")).message
    year_old = frame[frame["survey_date"] <= "2025-09-30"]
    ever = year_old.assign(ever=year_old["customer_id"].map(
        company.customers.set_index("customer_id")["churned"]))
    assert "any time" in ex04.q1.evaluate(gap(ever, "ever")).message
    every = cx.retention.analysis_frame(company)
    every = every[every["survey_date"] <= "2025-09-30"]
    assert "every answer" in ex04.q1.evaluate(gap(every, "churn_12m")).message


# ------------------------------------------------------------------ q2: Kaplan–Meier


def test_q2_expected_is_the_package_curve(frame):
    km = cx.retention.kaplan_meier(frame, "duration", "churned", group="nps_group")
    at12 = km.at(12).set_index("group")["survival"]
    assert ex04.q2.expected == pytest.approx(100 * at12["Detractor"], abs=1e-9)
    assert ex04.q2.evaluate(100 * at12["Detractor"]).correct
    assert "LEFT" in ex04.q2.evaluate(100 * (1 - at12["Detractor"])).message
    assert "promoters" in ex04.q2.evaluate(100 * at12["Promoter"]).message
    assert "fraction" in ex04.q2.evaluate(at12["Detractor"]).message
    det = frame[frame["nps_group"] == "Detractor"]
    naive = 100 * (1 - ((det["churned"] == 1) & (det["duration"] <= 12)).mean())
    assert "Kaplan–Meier uses each customer" in ex04.q2.evaluate(naive).message


# ------------------------------------------------------------------ q3: Cox hazard ratio


def test_q3_expected_matches_lifelines_and_the_package(company, frame):
    lifelines = pytest.importorskip("lifelines")
    d = frame[["duration", "churned", "ltr"]].assign(
        lt12=(frame["tenure_band"] == "<12").astype(float),
        m12_24=(frame["tenure_band"] == "12-24").astype(float),
        basic=(frame["plan"] == "Basic").astype(float),
        premium=(frame["plan"] == "Premium").astype(float))
    cph = lifelines.CoxPHFitter().fit(d, "duration", "churned")   # Efron ties, as PHReg
    # two partial-likelihood optimisers on the same data: agreement to 1e-5
    assert ex04.q3.expected == pytest.approx(cph.hazard_ratios_["ltr"], abs=1e-5)
    cox = cx.retention.churn_cox(frame, "duration", "churned", "ltr",
                                 controls=["tenure_band", "plan"])
    hr = cox.hazard_ratio("ltr")["hazard_ratio"]
    assert ex04.q3.expected == pytest.approx(hr, abs=1e-6)
    assert ex04.q3.evaluate(hr).correct and ex04.q3.evaluate(round(hr, 2)).correct
    assert "LOG" in ex04.q3.evaluate(np.log(hr)).message
    assert "1 / HR" in ex04.q3.evaluate(1 / hr).message
    assert "reduction" in ex04.q3.evaluate(100 * (1 - hr)).message
    plain = cx.retention.churn_cox(frame, "duration", "churned", "ltr").hazard_ratio("ltr")
    assert "without tenure and plan" in ex04.q3.evaluate(plain["hazard_ratio"]).message


# ------------------------------------------------------------------ q4, q5 and blanks


def test_q4_accepts_b_and_explains_each_wrong_option():
    assert ex04.q4.evaluate("b").correct
    for wrong in "acd":
        out = ex04.q4.evaluate(wrong)
        assert out.status == "incorrect" and out.message == ex04.q4.feedback[wrong]


def test_q4_premise_holds_the_effect_fades_with_follow_up(company):
    """The question's premise, on the data: the quarter-long follow-up with the true model's
    terms contains the true ratio; the 12-month follow-up is closer to 1 and excludes it."""
    terms = ["tenure_band", "plan", "segment", "price_value", "billing_accuracy",
             "unresolved_3m"]
    true_hr = company.truth["churn_hazard_ratios"]["per_ltr_point"]
    hr = {}
    for follow_up in ("quarter", 12):
        f = cx.retention.analysis_frame(company, follow_up=follow_up).dropna(
            subset=["ltr", *terms])
        hr[follow_up] = cx.retention.churn_cox(f, "duration", "churned", "ltr",
                                               controls=terms).hazard_ratio("ltr")
    assert hr["quarter"]["ci_low"] <= true_hr <= hr["quarter"]["ci_high"]
    assert hr[12]["ci_low"] > true_hr and hr[12]["hazard_ratio"] > hr["quarter"]["hazard_ratio"]


def test_judgement_and_blanks():
    out = ex04.q5.evaluate("billing accuracy")
    assert out.status == "info" and "retention" in out.message
    for _, ex in ex04:
        assert ex.evaluate(...).status == "unanswered"

"""Notebook 03 (key driver analysis) exercises: the expected answers are right, the right answer is
accepted, typical wrong answers are rejected with their message, and the numbers quoted in the
questions are true of the bundled data.

References, all outside the exercise module's own arithmetic:
* R's relaimpo 2.2-7 (tests/data/relaimpo): the brute-force LMG and the relative weights used by
  the exercises reproduce ``lmg`` and ``genizi`` (= Johnson's relative weights) to 1e-9;
* statsmodels OLS (the path the notebook takes) for the region-quarter regressions;
* ``cx.drivers`` (itself checked against relaimpo in tests/test_drivers.py) for the shares and
  the quadrant.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

import cxlab as cx
from cxlab.exercises import course03 as C
from cxlab.exercises import ex03

REF = Path(__file__).parent / "data" / "relaimpo"


@pytest.fixture(scope="module")
def company():
    return cx.datasets.load("kestrel")


@pytest.fixture(scope="module")
def result(company):
    return cx.drivers.analyze(company.survey, "ltr", list(C.TOUCHPOINTS), missing="pairwise",
                              bootstrap=0, progress=False)


# ------------------------------------------------------------------ the reference recipes


def test_brute_force_lmg_and_relative_weights_match_relaimpo():
    data = pd.read_csv(REF / "data_synth_cx_n5000_p12.csv")
    ref = pd.read_csv(REF / "synth_cx_relimp_rela_false.csv").set_index("driver")
    C_ = data[[*ref.index, "ltr"]].corr().to_numpy()
    # relaimpo writes 17 significant digits; both are exact formulas: agreement to 1e-9
    np.testing.assert_allclose(C.lmg_brute_force(C_), ref["lmg"], atol=1e-9)
    genizi = ref["genizi"] / ref["genizi"].sum()
    np.testing.assert_allclose(C.relative_weights_share(C_), genizi, atol=1e-9)


def test_ols_by_cell_matches_statsmodels(company):
    ours = C._ols_by_cell(company.survey)
    formula = "ltr ~ " + " + ".join(C.WIDELY_RATED)
    for key in [("North", "2024Q4"), ("South", "2026Q3")]:
        cell = company.survey[(company.survey["region"] == key[0])
                              & (company.survey["wave"] == key[1])]
        ref = smf.ols(formula, data=cell).fit().params[list(C.WIDELY_RATED)]
        np.testing.assert_allclose(ours.loc[key].to_numpy(), ref.to_numpy(), atol=1e-10)
    assert len(ours) == 40


# ------------------------------------------------------------------ q1 and q5: choices


def test_q1_claims_in_the_prompt_hold(company):
    corr = company.survey[["network_speed", "price_value", "network_reliability", "ltr"]].corr()
    assert round(corr.loc["network_speed", "ltr"], 2) == 0.42
    assert round(corr.loc["price_value", "ltr"], 2) == 0.41
    assert round(corr.loc["network_speed", "network_reliability"], 2) == 0.58
    w = company.truth["ltr_drivers"]["weights"]
    assert (w["network_speed"], w["price_value"]) == (0.10, 0.16)


@pytest.mark.parametrize("ex", [ex03.q1, ex03.q5])
def test_choices_accept_b_and_explain_each_wrong_option(ex):
    assert ex.evaluate("b").correct and ex.evaluate(" B) ").correct
    for wrong in "acd":
        out = ex.evaluate(wrong)
        assert out.status == "incorrect" and out.message == ex.feedback[wrong]


def test_q5_claims_in_the_prompt_hold(company, result):
    assert company.truth["ltr_drivers"]["weights"]["shop_experience"] == 0
    share = result.importance.loc["shop_experience", "share"]
    assert 0.02 < share < 0.04                      # "about 3 %"
    assert company.truth["ltr_drivers"]["population_lmg_ltr"]["shop_experience"] > 0


# ------------------------------------------------------------------ q2: negative coefficients


def test_q2_expected_is_the_statsmodels_count(company):
    formula = "ltr ~ " + " + ".join(C.WIDELY_RATED)
    coefs = (company.survey.groupby(["region", "wave"])
             .apply(lambda g: smf.ols(formula, data=g).fit().params[list(C.WIDELY_RATED)],
                    include_groups=False))
    n = int((coefs["billing_clarity"] < 0).sum())
    assert ex03.q2.expected == n
    assert ex03.q2.evaluate(n).correct and ex03.q2.evaluate(np.int64(n)).correct
    assert not ex03.q2.evaluate(n + 1).correct            # a count: no tolerance
    assert "POSITIVE" in ex03.q2.evaluate(40 - n).message
    assert "share" in ex03.q2.evaluate(n / 40).message
    every = int((coefs < 0).to_numpy().sum())
    assert "ALL six" in ex03.q2.evaluate(every).message


# ------------------------------------------------------------------ q3: top share


def test_q3_expected_is_the_package_share(result):
    share = 100 * result.importance["share"].max()
    assert ex03.q3.expected == pytest.approx(share, abs=1e-9)
    assert ex03.q3.evaluate(share).correct
    assert ex03.q3.evaluate(round(share)).correct            # 24 read off the 0.24 display
    assert "fraction" in ex03.q3.evaluate(share / 100).message


def test_q3_rejects_raw_importance_squared_correlation_and_relative_weights(company, result):
    raw = 100 * result.importance["importance"].max()
    assert "EXPLAINED" in ex03.q3.evaluate(raw).message
    r2 = 100 * company.survey[["network_reliability", "ltr"]].corr().iloc[0, 1] ** 2
    assert "squared correlation" in ex03.q3.evaluate(r2).message
    rw = cx.drivers.relative_importance(company.survey, "ltr", list(C.TOUCHPOINTS),
                                        method="relative_weights", missing="pairwise")
    assert "relative-weights" in ex03.q3.evaluate(100 * rw["share"].max()).message


# ------------------------------------------------------------------ q4: Fix quadrant


def test_q4_expected_is_the_package_quadrant(result):
    quad = result.quadrant()
    fix = list(quad.index[quad["quadrant"] == "Fix"])
    assert ex03.q4.expected == set(fix)
    assert ex03.q4.evaluate(fix).correct
    assert ex03.q4.evaluate([f.upper() for f in reversed(fix)]).correct
    maintain = list(quad.index[quad["quadrant"] == "Maintain"])
    assert "Maintain" in ex03.q4.evaluate(maintain).message
    top3 = list(result.importance["share"].nlargest(3).index)
    assert top3 != fix and "most important" in ex03.q4.evaluate(top3).message
    low3 = list(result.performance.nsmallest(3).index)
    assert "lowest-rated" in ex03.q4.evaluate(low3).message


# ------------------------------------------------------------------ q6 and blanks


def test_judgement_shows_the_model_answer_and_blanks_are_not_answered():
    out = ex03.q6.evaluate("Fix support resolution.")
    assert out.status == "info" and "Support resolution" in out.message
    for ex in (ex03.q1, ex03.q2, ex03.q3, ex03.q4, ex03.q5, ex03.q6):
        assert ex.evaluate(...).status == "unanswered"

"""Exercises of notebook 07 (cascading goals): each check accepts the right answer and rejects the
typical wrong ones with their message.

Right answers come from outside the exercise module: cxlab.frontline (cascade, driver targets,
scorecard validity, engagement link; statsmodels inside), which the exercises' plain pandas /
numpy / brute-force arithmetic must match; plus truth.json for the scorecard items.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import cxlab as cx
from cxlab import frontline as fl
from cxlab.checks import CXWarning
from cxlab.exercises import ex07
from cxlab.exercises.course03 import WIDELY_RATED
from cxlab.exercises.course07 import CSAT_TARGET, DRIVER_WAVES, LTR_CHANGE


@pytest.fixture(scope="module")
def company():
    return cx.datasets.load("kestrel")


@pytest.mark.parametrize("key", [k for k, _ in ex07])
def test_blank_answers_say_not_answered_yet(key):
    assert getattr(ex07, key).evaluate(...).status == "unanswered"


def test_q1_team_target_matches_frontline(company):
    cascade = fl.cascade_targets(fl.team_csat(company.contacts, "2026Q3"), CSAT_TARGET)
    t = cascade.summary().set_index("team")
    answer = t.loc["Email Tech", "target"]
    assert ex07.q1.evaluate(answer).correct
    assert "weight by answers" in ex07.q1.evaluate(
        t.loc["Email Tech", "value"] + CSAT_TARGET - t["value"].mean()).message
    assert "company's target" in ex07.q1.evaluate(CSAT_TARGET).message
    assert "plus the uplift" in ex07.q1.evaluate(t.loc["Email Tech", "uplift"]).message


def test_q2_driver_change_matches_frontline(company):
    s = company.survey
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CXWarning)
        targets = fl.driver_targets(s[s["wave"].isin(DRIVER_WAVES)], "ltr", list(WIDELY_RATED),
                                    change=LTR_CHANGE)
    t = targets.summary()
    assert ex07.q2.evaluate(t.loc["network_reliability", "change"]).correct
    assert "whole change alone" in ex07.q2.evaluate(
        LTR_CHANGE / t.loc["network_reliability", "slope"]).message
    assert "Divide by its slope" in ex07.q2.evaluate(
        LTR_CHANGE * t.loc["network_reliability", "share"]).message


def test_q3_items_match_frontline_and_truth(company):
    validity = fl.scorecard_validity(company.contacts, bootstrap=0)
    answer = validity.scored_not_driving
    assert set(answer) == set(company.truth["contact_csat"]["not_valued_by_customers"])
    assert ex07.q3.evaluate(answer).correct
    lowest = list(company.contacts[list(fl.QA_ITEMS)].mean().sort_values().index[:3])
    assert "LOWEST" in ex07.q3.evaluate(lowest).message
    assert not ex07.q3.evaluate(["qa_greeting"]).correct


def test_q4_r_interval_matches_frontline(company):
    link = fl.engagement_link(company.pulse, company.contacts)
    assert ex07.q4.evaluate(link.summary().loc[0, "r_ci_low"]).correct
    assert "r itself" in ex07.q4.evaluate(link.r).message
    tw = fl.engagement_link(company.pulse, company.contacts, unit="team_wave")
    assert "team-quarter" in ex07.q4.evaluate(tw.r_ci[0]).message
    wrong = np.tanh(np.arctanh(link.r) - 1.959964 / np.sqrt(12))
    assert "1/√(n − 3)" in ex07.q4.evaluate(wrong).message


def test_q5_is_a_judgement_question():
    out = ex07.q5.evaluate("Pay on what drives CSAT; a 3-point miss on 30 answers is noise.")
    assert out.status == "info" and "compliance" in out.message

"""Exercises of notebook 11 (who answered): each check accepts the right answer and rejects the
typical wrong ones with their message.

Right answers come from outside the exercise module: cx.weighting.response_rates (Wilson table)
and the bundled invitations_truth.json written by the simulator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import cxlab as cx
from cxlab.exercises import ex11

TRUTH = Path(__file__).resolve().parent.parent / "datasets" / "kestrel" / "invitations_truth.json"


@pytest.fixture(scope="module")
def company():
    return cx.datasets.load("kestrel")


@pytest.mark.parametrize("key", [k for k, _ in ex11])
def test_blank_answers_say_not_answered_yet(key):
    assert getattr(ex11, key).evaluate(...).status == "unanswered"


def test_q1_response_rate_matches_cx_weighting(company):
    frame = cx.weighting.invited_frame(company, "2026Q3")
    rate = cx.weighting.response_rates(frame, []).iloc[0]["response_rate"]
    assert rate == pytest.approx(100 * 1530 / 7071)
    assert ex11.q1.evaluate(rate).correct
    assert ex11.q1.evaluate(rate / 100).status == "incorrect"            # a fraction
    everyone = 100 * company.invitations["responded"].mean()
    assert "all eight waves" in ex11.q1.evaluate(everyone).message
    assert "every active customer" in ex11.q1.evaluate(10.8158).message


def test_q2_bias_matches_the_simulators_truth():
    truth = json.loads(TRUTH.read_text())["waves"]["2026Q3"]
    bias = truth["respondents_nps"] - truth["true_nps"]
    assert bias == pytest.approx(truth["nonresponse_bias_nps"], abs=1e-5)
    assert ex11.q2.evaluate(bias).correct
    assert ex11.q2.evaluate(-bias).status == "incorrect"
    assert "non-respondents" in ex11.q2.evaluate(15.3692).message


def test_q3_statements():
    assert ex11.q3.evaluate("acf").correct
    assert ex11.q3.evaluate(["f", "c", "a"]).correct
    assert "composition" in ex11.q3.evaluate("abcf").message
    assert "systematic" in ex11.q3.evaluate("acdf").message
    assert ex11.q3.evaluate("ac").status == "incorrect"

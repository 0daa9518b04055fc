"""Exercises of notebook 08 (democratising data): each check accepts the right answer and rejects
the typical wrong ones with their message.

Right answers come from outside the exercise module: cx.metrics (suppression flags, NPS),
cx.drivers (LMG shares), which the exercises' plain pandas / brute-force arithmetic must match,
and hand-written arithmetic for the differencing attack.
"""

from __future__ import annotations

import pytest

import cxlab as cx
from cxlab.exercises import ex08
from cxlab.exercises.course03 import TOUCHPOINTS, WIDELY_RATED
from cxlab.exercises.course08 import DRIVER_WAVES, OWNERS


@pytest.fixture(scope="module")
def company():
    return cx.datasets.load("kestrel")


@pytest.fixture(scope="module")
def latest(company):
    return company.survey[company.survey["wave"] == "2026Q3"]


@pytest.mark.parametrize("key", [k for k, _ in ex08])
def test_blank_answers_say_not_answered_yet(key):
    assert getattr(ex08, key).evaluate(...).status == "unanswered"


def test_q1_suppressed_cells_match_cx_metrics(latest):
    cells = cx.metrics.table(latest, "ltr", metric="nps", by=["region", "segment"], min_base=30)
    answer = list(cells.loc[cells["suppressed"] & (cells["segment"] == "Small business"), "region"])
    assert sorted(answer) == ["Central", "South", "West"]
    assert ex08.q1.evaluate(answer).correct
    assert ex08.q1.evaluate(["west", "CENTRAL", "south"]).correct          # case-insensitive
    assert "CAN be published" in ex08.q1.evaluate(["East", "North"]).message
    assert "base of 50" in ex08.q1.evaluate(["Central", "East", "North", "South",
                                             "West"]).message
    assert "Consumer" in ex08.q1.evaluate([]).message
    assert ex08.q1.evaluate(["Central", "South"]).status == "incorrect"


def test_q2_the_differencing_attack_recovers_the_hidden_cell(latest):
    west = latest[latest["region"] == "West"]
    total = cx.metrics.nps(west["ltr"])
    consumer = cx.metrics.nps(west.loc[west["segment"] == "Consumer", "ltr"])
    hidden = cx.metrics.nps(west.loc[west["segment"] == "Small business", "ltr"], min_base=1)
    assert (total.n, consumer.n, hidden.n) == (301, 279, 22)                # as the prompt says
    recovered = (total.value * total.n - consumer.value * consumer.n) / (total.n - consumer.n)
    assert recovered == pytest.approx(hidden.value, abs=1e-9)               # exact arithmetic
    assert ex08.q2.evaluate(recovered).correct
    assert "weight each by its base" in ex08.q2.evaluate(total.value - consumer.value).message
    assert "West's total" in ex08.q2.evaluate(total.value).message
    assert ex08.q2.evaluate(-recovered).status == "incorrect"


def test_q3_only_own_slice_and_benchmark():
    assert ex08.q3.evaluate("ab").correct
    assert ex08.q3.evaluate(["b", "a"]).correct
    assert "closed-loop" in ex08.q3.evaluate("abc").message
    assert "minimum base" in ex08.q3.evaluate("abd").message
    assert "other segments" in ex08.q3.evaluate("abe").message
    assert "verbatims" in ex08.q3.evaluate("abf").message
    assert "more than 1" in ex08.q3.evaluate("a").message


def test_q4_minimum_base_is_a_floor():
    assert ex08.q4.evaluate("b").correct
    for wrong, fragment in {"a": "silences", "c": "dilutes", "d": "recognisable"}.items():
        out = ex08.q4.evaluate(wrong)
        assert out.status == "incorrect" and fragment in out.message


def test_q4_the_strict_base_really_suppresses_the_south(latest):
    """The premise of Q4: the South has fewer than 250 answers in 2026Q3 (batch base count)."""
    spec = cx.report.template_spec("quarterly")
    assert cx.report.base_count(latest, spec, "2026Q3", "region", "South") == 247


def test_q5_owner_share_matches_cx_drivers(company):
    s = company.survey
    complete = s[s["wave"].isin(DRIVER_WAVES)].dropna(subset=["ltr", *WIDELY_RATED])
    lmg = cx.drivers.relative_importance(complete, "ltr", list(WIDELY_RATED), method="lmg")
    share = lmg["importance"] / lmg["importance"].sum()
    network = 100 * (share["network_reliability"] + share["network_speed"])
    # brute force (exercise) vs cx.drivers' LMG engine: the same quantity, to rounding
    assert ex08.q5.expected == pytest.approx(network, abs=1e-6)
    assert ex08.q5.evaluate(network).correct
    assert ex08.q5.evaluate(network + 0.4).correct                         # tolerance 0.5 points
    assert "network speed too" in ex08.q5.evaluate(100 * share["network_reliability"]).message
    assert "everybody else" in ex08.q5.evaluate(100 - network).message
    assert "fraction" in ex08.q5.evaluate(network / 100).message


def test_owner_table_gives_every_touchpoint_one_owner():
    assert set(OWNERS) == set(TOUCHPOINTS)


def test_q6_is_a_judgement_with_a_model_answer():
    out = ex08.q6.evaluate("No: consent.")
    assert out.status == "info" and "closed-loop" in out.message
    assert ex08.q6.evaluate(42).status == "incorrect"

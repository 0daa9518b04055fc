"""Exercises for notebook 09, the capstone: why did retention fall in the South?

Expected answers are computed here independently of the package: quarterly churn from the
customer table by plain pandas (who was a customer on the first day of the quarter, who left
during it), rating shifts by ``groupby``, the hazard ratio per ltr point by statsmodels' Cox
model (``PHReg``, a runtime dependency) and the ltr slope per reliability point by ``numpy.linalg.lstsq``. The tests compare them
with cxlab (``customer_periods``, ``metrics``, ``whatif``) and with the simulator's truth.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from .core import *
from .course03 import TOUCHPOINTS, WIDELY_RATED
from .recipes import *

# ============================================================ 09 capstone
EVENT_REGION, EVENT_FROM = "South", "2026Q2"
#: Quarters compared: the four before the outage and the two after it.
BEFORE = ("2025Q2", "2025Q3", "2025Q4", "2026Q1")
AFTER = ("2026Q2", "2026Q3")
DROP = -3.0                                   # the rating fall the what-if prices
DIRECT = ("price_value", "billing_accuracy")  # drivers with a direct path to leaving (notebook 06)


def _quarter_churn(c) -> pd.DataFrame:
    """Customers at the start of each quarter and how many left during it, by region (a
    customer is at risk when start_date <= quarter start < end_date; leaves when end_date <=
    next quarter's start)."""
    cu = c.customers
    rows = []
    for wave in c.survey["wave"].drop_duplicates().sort_values():
        q = pd.Period(wave, freq="Q")
        s, e = q.start_time, (q + 1).start_time
        at = (cu["start_date"] <= s) & (cu["end_date"].isna() | (cu["end_date"] > s))
        left = at & (cu["end_date"] <= e)
        for region, n in at.groupby(cu["region"]).sum().items():
            rows.append({"region": region, "wave": wave, "n": int(n),
                         "left": int(left[cu["region"] == region].sum())})
    return pd.DataFrame(rows).set_index(["region", "wave"])


def _rate(c, region: str = EVENT_REGION, waves=(EVENT_FROM,)) -> float:
    t = _quarter_churn(c).loc[region].loc[list(waves)]
    return float(t["left"].sum() / t["n"].sum())


def _rest_rate(c, waves=(EVENT_FROM,)) -> float:
    t = _quarter_churn(c)
    t = t[t.index.get_level_values("region") != EVENT_REGION]
    t = t[t.index.get_level_values("wave").isin(waves)]
    return float(t["left"].sum() / t["n"].sum())


def _pooled_rise(c) -> float:
    return 100 * (_rate(c, waves=AFTER) - _rate(c, waves=BEFORE))


def _rating_shifts(c) -> pd.Series:
    """Difference in differences of each touchpoint's mean rating: South (after − before)
    minus the rest of the company (after − before)."""
    s = c.survey
    area = np.where(s["region"] == EVENT_REGION, "South", "Rest")
    phase = np.select([s["wave"].isin(AFTER), s["wave"].isin(BEFORE)], ["after", "before"], "")
    m = s[list(TOUCHPOINTS)].groupby([area, phase]).mean()
    return ((m.loc[("South", "after")] - m.loc[("South", "before")])
            - (m.loc[("Rest", "after")] - m.loc[("Rest", "before")]))


def _fallen(c, threshold: float = -0.5) -> list[str]:
    shifts = _rating_shifts(c)
    return list(shifts.index[shifts <= threshold])


@functools.lru_cache(maxsize=1)
def _links() -> tuple[float, float]:
    """(hazard ratio per ltr point, ltr points per network_reliability point): the what-if
    chain's first two links, fitted with statsmodels (Cox ``PHReg``, Efron ties) and numpy (OLS)
    on the answers followed to the end of their quarter. statsmodels is a runtime dependency,
    so the check works on the learners' install (lifelines is only a test reference)."""
    from statsmodels.duration.hazard_regression import PHReg

    from ..retention import analysis_frame

    frame = analysis_frame(_company(), follow_up="quarter")
    controls = ["plan", "tenure_band", "segment"]
    h = frame.dropna(subset=["ltr", *DIRECT, *controls, "duration", "churned"])
    dummies = pd.get_dummies(h[controls].astype(str), drop_first=True, dtype=float)
    X = pd.concat([h[["ltr", *DIRECT]].astype(float), dummies], axis=1)
    cox = PHReg(h["duration"].to_numpy(float), X.to_numpy(), status=h["churned"].to_numpy(float),
                ties="efron").fit()
    hr = math.exp(cox.params[0])
    o = frame.dropna(subset=["ltr", *WIDELY_RATED])
    X = np.column_stack([np.ones(len(o)), o[list(WIDELY_RATED)].to_numpy(float)])
    beta = np.linalg.lstsq(X, o["ltr"].to_numpy(float), rcond=None)[0]
    return hr, float(beta[1 + list(WIDELY_RATED).index("network_reliability")])


def _predicted_hr(_=None) -> float:
    hr, slope = _links()
    return hr ** (slope * DROP)


def _active(c, region: str = EVENT_REGION) -> int:
    cu = c.customers
    return int(((cu["region"] == region) & cu["end_date"].isna()).sum())


def _extra_leavers(c) -> float:
    return _active(c) * (_rate(c, waves=AFTER) - _rate(c, waves=BEFORE))


_ex09_q1 = NumericExercise(
    lambda c: 100 * _rate(c), abs_tol=0.005, fmt="{:.2f} %", percent=True,
    what=f"the South's churn in {EVENT_FROM}",
    mistakes=[
        Mistake("2026Q3", lambda c: 100 * _rate(c, waves=("2026Q3",)),
                "That is 2026Q3. The question asks for 2026Q2, the first quarter of the drop."),
        Mistake("2026Q1", lambda c: 100 * _rate(c, waves=("2026Q1",)),
                "That is 2026Q1, the quarter before."),
        Mistake("rest", lambda c: 100 * _rest_rate(c),
                "That is the rest of the company. Take the South's row."),
    ],
    prompt=f"What share (%) of the South's customers at the start of {EVENT_FROM} left during "
           "that quarter?",
    hints=["rates has one row per area and period; 'value' is the churn rate in %.",
           (f"rates.loc[(rates['area'] == 'South') & (rates['period'] == '{EVENT_FROM}'), "
           "'value'].item()")],
    solution=f"south_q2 = rates.loc[(rates['area'] == 'South') & (rates['period'] == "
             f"'{EVENT_FROM}'), 'value'].item()   # 5.20 %",
    explain="Up from about 3.4 % the quarter before: one South customer in 19 left in a "
            "quarter.")

_ex09_q2 = ChoiceExercise(
    {"a": "North has a retention problem too: add it to the board paper.",
     "b": "Five regions are tested every quarter, so some false alarms are expected. North's "
          "rise did not last into 2026Q3, and over the whole period only the South's churn is "
          "up beyond the noise.",
     "c": "The test is broken: with so many customers every change is significant.",
     "d": "Combine North and South: together the rise is even clearer."},
    "b",
    feedback={"a": "One significant quarter out of many tests is weak evidence. Check whether "
                   "it persists (2026Q3) and whether the pooled comparison confirms it.",
              "c": "Most region-quarter changes are NOT significant, and West's 'significant' "
                   "change goes the other way: that is what chance looks like.",
              "d": "Pooling a real problem with noise dilutes the real problem."},
    prompt="From 2026Q1 to 2026Q2, churn rose significantly in the North too (and fell in the "
           "West). What do you tell the board?",
    hints=["Notebook 02: test 20 numbers a quarter and about one will 'move' by chance.",
           "Look at the North in 2026Q3 and in the before/after table."],
    solution="b) Persistence and the pooled before/after comparison separate a real change "
             "from a false alarm.",
    explain="A real change persists and usually has a cause; a false alarm reverts.")

_ex09_q3 = NumericExercise(
    _pooled_rise, abs_tol=0.01, fmt="{:+.2f} points", percent=True,
    what="the rise in the South's quarterly churn",
    mistakes=[
        Mistake("one quarter", lambda c: 100 * (_rate(c) - _rate(c, waves=("2026Q1",))),
                "That is 2026Q1 → 2026Q2 only. Compare the four quarters before (2025Q2–2026Q1) "
                "with the two after (2026Q2–2026Q3)."),
        Mistake("relative", lambda c: 100 * (_rate(c, waves=AFTER) / _rate(c, waves=BEFORE) - 1),
                "That is the relative rise (%). The question asks for percentage points: after "
                "minus before."),
    ],
    prompt="By how many percentage points is the South's quarterly churn higher in the two "
           "quarters after the drop (2026Q2–Q3) than in the four before (2025Q2–2026Q1)?",
    hints=[("The before/after table has one row per region; 'difference' is after − before in "
           "percentage points."),
           "pooled.loc[pooled['region'] == 'South', 'difference'].item()"],
    solution="south_rise = pooled.loc[pooled['region'] == 'South', 'difference'].item()   # +1.34",
    explain="About a third more leavers than before, and the only region whose interval "
            "excludes zero.")

_ex09_q4 = SetExercise(
    _fallen, what="touchpoints",
    mistakes=[
        Mistake("reliability only", lambda c: ["network_reliability"],
                "Right about reliability, but another touchpoint fell by about a point too."),
        Mistake("every negative", lambda c: [k for k, v in _rating_shifts(c).items() if v < 0],
                "You listed every touchpoint with a negative shift. Most of those are a tenth "
                "of a point: noise. Keep the ones that fell by more than half a point."),
    ],
    prompt="Which touchpoints fell in the South from 2026Q2 by more than half a point beyond "
           "the rest of the company (difference in differences ≤ −0.5)?",
    hints=["did holds one difference in differences per touchpoint.",
           "list(did.index[did <= -0.5])"],
    solution="fallen = list(did.index[did <= -0.5])   # network_reliability, network_speed",
    explain="The network: reliability by almost three points, speed by nearly one. Everything "
            "else moved within the noise.")

_ex09_q5 = ChoiceExercise(
    {"a": "South customers are 39 % more likely to leave than other customers.",
     "b": "Since 2026Q2 the South's monthly churn hazard is about 39 % higher than its own past "
          "and the other regions' trend would predict, for the same plan and segment mix.",
     "c": "39 % of the South's customers left after 2026Q2.",
     "d": "The South's churn rate rose by 39 percentage points."},
    "b",
    feedback={"a": "That is what the 'south' term alone would say (and it is close to 1). The "
                   "interaction term is the change since 2026Q2 beyond the other regions' "
                   "change: a difference in differences.",
              "c": "A hazard ratio compares rates; it is not a share of customers.",
              "d": "A ratio of 1.39 is 39 % higher, relative: 3.9 % → 5.2 % a quarter."},
    prompt="The Cox model's South × after term has a hazard ratio of about 1.39 (95 % CI "
           "1.17 to 1.65). What does it say?",
    hints=[("'south' compares regions, 'after' compares periods; their product is what is "
           "special about the South after 2026Q2.")],
    solution="b) The interaction is a difference in differences on the hazard scale, adjusted "
             "for plan and segment.",
    explain="A difference in differences: the rest of the company is the South's control "
            "group, so a company-wide trend cannot explain it.")

_ex09_q6 = ChoiceExercise(
    {"a": "Price and billing accuracy also make customers leave beyond what they do to the "
          "score; reliability acts on leaving only through the score.",
     "b": "The churn analysis is wrong: a driver must rank the same for the score and for "
          "churn.",
     "c": "Network reliability does not matter for churn.",
     "d": "More customers rate price and billing than the network."},
    "a",
    feedback={"b": "Score and churn are different outcomes; a driver can matter more for one.",
              "c": "It is at or near the top of both lists; it just has no path to leaving "
                   "that bypasses the score.",
              "d": "All six touchpoints are rated by the same answers here (complete rows)."},
    prompt="Network reliability moves the score twice as much as price or billing accuracy, "
           "yet the three share the top of the churn list. Why?",
    hints=["Notebook 06: which drivers had a hazard ratio beyond the score (a 'direct' path)?"],
    solution="a) A direct path: billing errors and poor value make people leave even when they "
             "would still recommend; reliability works through the score.",
    explain="That is why the what-if below enters price and billing accuracy as direct drivers "
            "and lets reliability act through the score.")

_ex09_q7 = NumericExercise(
    _predicted_hr, data=lambda: None, abs_tol=0.005, fmt="{:.3f}",
    what="the hazard ratio of a three-point fall through the score",
    mistakes=[
        Mistake("no slope", lambda _: _links()[0] ** DROP,
                "You raised the hazard ratio to −3, as if reliability points were score points. "
                "First turn the rating fall into score points (× the ltr points per reliability "
                "point)."),
        Mistake("sign", lambda _: 1 / _predicted_hr(),
                "The direction is flipped: a FALL in reliability lowers the score, and a lower "
                "score RAISES the hazard (ratio above 1)."),
        Mistake("score change", lambda _: _links()[1] * DROP,
                "That is the change in the score (ltr points). Now turn it into a hazard ratio: "
                "hazard ratio per point ** score change."),
    ],
    prompt="Through the score alone, what hazard ratio does a fall of three points in network "
           "reliability imply? Combine the chain's first two links.",
    hints=[("The score falls by 3 × (ltr points per reliability point); each score point "
           "multiplies the hazard by the hazard ratio per ltr point."),
           "hr_per_point ** (slope * -3)"],
    solution="predicted_hr = hr_per_point ** (slope * -3)   # about 1.21",
    explain="Compare with the 1.39 the Cox model measured: the score path accounts for a good "
            "part of the rise, not all of it.")

_ex09_q8 = NumericExercise(
    _extra_leavers, abs_tol=1.0, fmt="{:.0f}", what="the extra South customers leaving a quarter",
    mistakes=[
        Mistake("percent", lambda c: 100 * _extra_leavers(c),
                "That is 100 times too many: the rates in the table are in %. Use the linked "
                "churn as a fraction (0.0134), or divide by 100."),
        Mistake("customer-quarters", lambda c: sum(_quarter_churn(c).loc[EVENT_REGION].loc[
            list(AFTER), "n"]) * (_rate(c, waves=AFTER) - _rate(c, waves=BEFORE)),
                "You multiplied by the customer-quarters of the two quarters after the drop. Per "
                "quarter, apply the rise to today's South customers."),
    ],
    prompt="Each quarter the outage lasts, how many more of today's South customers leave than "
           "before it?",
    hints=["revenue_at_risk's 'after' row has the customers and the linked churn (a fraction).",
           ("risk.table.loc[risk.table['group'] == 'after', ['customers', 'linked_churn']]"
           ".prod(axis=1).item()")],
    solution="extra_per_quarter = (risk.table['customers'] * risk.table['linked_churn'])"
             ".loc[risk.table['group'] == 'after'].item()   # about 36",
    explain="About 36 customers a quarter, some 140 a year if nothing changes.")

_ex09_q9 = JudgementExercise(
    "'The chain counts one path only: reliability → score → churn. The outage did more: "
    "network faults multiplied and two in three were not resolved at the first contact, and an "
    "unresolved contact makes customers leave beyond what it does to the score (notebook 04). "
    "So the chain's figure is a floor: the rise we observe is about twice as large. That "
    "strengthens the case for restoring the network and adds a second, quicker action: "
    "resolve faults at the first contact. In the board paper I would show both numbers and "
    "say which is which.'\n"
    "Good answers: name the missing path (unresolved fault contacts), call the chain a lower "
    "bound, keep the observed rise as the upper reference, and turn the gap into an action.",
    prompt="The what-if chain predicts less extra churn than the South actually shows. What "
           "does that mean for the business case?",
    hints=[("Which of the South's changes does the chain not see? Look at the fault contacts "
           "and their first-contact resolution.")])

_ex09_q10 = JudgementExercise(
    "'Retention in the South fell because the network failed there. Since April (2026Q2) the "
    "South's quarterly churn is 5.2 % against 3.9 % before, about 36 more customers a quarter "
    "(95 % CI roughly 18 to 55); no other region changed beyond the noise, and the Cox model "
    "puts the South's excess hazard at 1.39 (1.17–1.65) after allowing for plan and segment. "
    "The cause is in the journey, not in sales or price: South customers rate network "
    "reliability almost 3 points lower and speed 1 point lower than before, every other "
    "touchpoint is unchanged, network-fault contacts rose eightfold and only one in three is "
    "resolved at first contact. Reliability is our strongest driver of the score, and the score "
    "drives leaving; unresolved faults add to it. Money: about €24k of annual revenue walks "
    "out each quarter; through the score alone the chain puts the lifetime margin at stake "
    "at about €48k (€26k–69k), a floor, since unresolved faults are not in the chain. "
    "Recommendation: (1) Network operations to finish the outage programme in the South, with "
    "a date; (2) Customer care to call back South customers with an open fault and fix first "
    "contact resolution on faults; (3) track South churn, reliability ratings and fault FCR "
    "monthly, and call it fixed when reliability is back within a point of the rest and churn "
    "back within the noise of 3.9 %.'\n"
    "Good answers: lead with the answer; show it is real (interval, persistence, only the "
    "South); locate it (reliability and speed, faults and FCR); show the link to leaving; put "
    "money on it with its uncertainty and say what is not counted; name owners, actions, dates "
    "and how success will be measured; one page.",
    prompt="Write the one-page answer to the board: why did retention fall in the South, what is "
           "it costing, and what should we do?",
    hints=[("Structure: answer first; evidence (real? where? does it drive leaving?); money; "
           "actions with owners; how we will know it worked.")])

ex09 = ExerciseSet("09_capstone", q1=_ex09_q1, q2=_ex09_q2, q3=_ex09_q3, q4=_ex09_q4,
                   q5=_ex09_q5, q6=_ex09_q6, q7=_ex09_q7, q8=_ex09_q8, q9=_ex09_q9,
                   q10=_ex09_q10)

"""Exercises for notebook 05 customer lifetime value.

Expected answers come from the outside world or from plain pandas / numpy written here,
independently of :mod:`cxlab.value`: the simple CLV formula by hand, the sBG parameters and the
BG/NBD prediction as published by Fader & Hardie, the sBG retention from its closed form, and the
value gaps between NPS groups from a bootstrap of our own.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .core import *
from .core import _Reject
from .recipes import *

# ============================================================ published reference numbers
#: Fader & Hardie (2007), "How to Project Customer Retention", J. Interactive Marketing 21(1),
#: Table 1: customers still active at the start of years 0-12 of two cohorts of 1,000.
FH_COHORTS = {
    "regular": [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173],
    "high end": [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394],
}
#: Their sBG estimates from years 0-7 (the calibration span of the paper).
FH_PARAMS = {"regular": (0.704, 1.182), "high end": (0.668, 3.806)}
#: Fader, Hardie & Lee (2005) / Hardie's BG/NBD note: CDNOW customer with x = 2, t_x = 30.43,
#: T = 38.86 weeks is expected to make 1.226 purchases in the next 39 weeks.
CDNOW_E_Y39 = 1.226

# The Q1 customer: a Standard plan at €52 a month, 30 % gross margin (truth.json "value").
Q1_MONTHLY, Q1_MARGIN, Q1_RETENTION, Q1_DISCOUNT = 52.0, 0.30, 0.85, 0.10


# ============================================================ Q1 simple CLV
def _q1_margin() -> float:
    return Q1_MARGIN * Q1_MONTHLY * 12


def _simple(m: float, r: float, d: float) -> float:
    """m·r/(1+d−r): margin at the end of each year survived, the first year not counted."""
    return m * r / (1 + d - r)


_ex05_q1 = NumericExercise(
    lambda _: _simple(_q1_margin(), Q1_RETENTION, Q1_DISCOUNT), data=lambda: None,
    abs_tol=0.5, fmt="€{:,.2f}", what="the lifetime value",
    prompt="A Standard customer pays €52 a month; the gross margin is 30 %, Kestrel keeps 85 % "
           "of its customers a year and discounts at 10 % a year. What is the customer's CLV "
           "with the formula m·r/(1 + d − r)?",
    mistakes=[
        Mistake("include initial", lambda _: _q1_margin() + _simple(_q1_margin(), 0.85, 0.10),
                "You added this year's margin on top (the 'include_initial' convention). The "
                "formula m·r/(1+d−r) counts only the years after the first: say which "
                "convention you use whenever you quote a CLV."),
        Mistake("revenue", lambda _: _simple(Q1_MONTHLY * 12, 0.85, 0.10),
                "You used revenue. CLV is built on margin: multiply the annual revenue by the "
                "30 % gross margin first."),
        Mistake("monthly", lambda _: _simple(Q1_MARGIN * Q1_MONTHLY, 0.85, 0.10),
                "You used the monthly margin with annual retention and discount. Put everything "
                "on the same period: the annual margin is 0.30 × 52 × 12."),
        Mistake("no discount", lambda _: _simple(_q1_margin(), 0.85, 0.0),
                "You left out the discount rate: a euro in five years is worth less than one "
                "today. Use d = 0.10."),
        Mistake("1/(1-r)", lambda _: _q1_margin() / (1 - 0.85),
                "m/(1 − r) is the undiscounted margin over the expected lifetime, counting the "
                "first year. The formula asked for is m·r/(1 + d − r)."),
        Mistake("no r on top", lambda _: _q1_margin() / (1 + 0.10 - 0.85),
                "Close: the numerator is m·r, not m (the first margin arrives only if the "
                "customer stays)."),
        Mistake("churn for retention", lambda _: _simple(_q1_margin(), 0.15, 0.10),
                "You used the churn rate (15 %) where the retention rate (85 %) goes."),
    ],
    hints=["The annual margin is m = 0.30 × 52 × 12 = €187.20.",
           "cx.value.simple_clv(margin, retention, discount) computes m·r/(1 + d − r)."],
    solution="clv = cx.value.simple_clv(0.30 * 52 * 12, 0.85, 0.10)   # = 187.2 × 0.85 / 0.25",
    explain="€187.20 a year for an expected 0.85/0.25 = 3.4 discounted years after the first.")


# ============================================================ Q2, Q3 sBG
class _ParamsExercise(NumericExercise):
    """Accepts a fitted model (anything with .alpha and .beta) as well as a dict / Series."""

    def _grade(self, answer):
        if hasattr(answer, "alpha") and hasattr(answer, "beta") and not isinstance(
                answer, (dict, pd.Series)):
            answer = {"alpha": float(answer.alpha), "beta": float(answer.beta)}
        elif isinstance(answer, (int, float, np.floating)):
            raise _Reject("give both parameters: the fitted model itself, or a dict "
                          "{'alpha': ..., 'beta': ...}.")
        return super()._grade(answer)


def _params(alpha: float, beta: float) -> pd.Series:
    return pd.Series({"alpha": alpha, "beta": beta})


def _fit_all_years(_) -> pd.Series:
    from ..value import fit_sbg  # a wrong turn to recognise, not the expected answer

    fit = fit_sbg(FH_COHORTS["regular"])
    return _params(fit.alpha, fit.beta)


_ex05_q2 = _ParamsExercise(
    lambda _: _params(*FH_PARAMS["regular"]), data=lambda: None, abs_tol=0.001, fmt="{:.3f}",
    what="α and β",
    prompt="Fit the sBG model to the 'regular' cohort over years 0–7, as Fader & Hardie did. "
           "Do you get their α = 0.704 and β = 1.182?",
    mistakes=[
        Mistake("all years", _fit_all_years,
                "You used all 13 years. The paper calibrates on years 0–7 (the first 8 counts) "
                "and keeps years 8–12 to test the projection: FH_COHORTS['regular'][:8]."),
        Mistake("high end", lambda _: _params(*FH_PARAMS["high end"]),
                "Those are the 'high end' cohort's parameters. Fit the 'regular' one."),
        Mistake("swapped", lambda _: _params(*FH_PARAMS["regular"][::-1]),
                "α and β are swapped."),
    ],
    hints=["cx.value.fit_sbg(survivors) takes the counts of one cohort, starting cohort first.",
           "regular_fit = cx.value.fit_sbg(FH_COHORTS['regular'][:8])"],
    solution="regular_fit = cx.value.fit_sbg(FH_COHORTS['regular'][:8])   # α 0.704, β 1.182",
    answer_name="the fitted model (or a dict {'alpha': ..., 'beta': ...})",
    explain="You have reproduced a published model. Mean churn probability α/(α+β) = 37 %, "
            "but very unequal across customers (α < 1: many stay, many leave fast).")


def _sbg_retention(t: int, alpha: float, beta: float) -> float:
    return (beta + t - 1) / (alpha + beta + t - 1)


_ex05_q3 = NumericExercise(
    lambda _: 100 * _sbg_retention(5, *FH_PARAMS["regular"]), data=lambda: None, abs_tol=0.05,
    fmt="{:.2f} %", percent=True, what="the retention rate in year 5",
    prompt="With the regular cohort's α = 0.704 and β = 1.182, what share (%) of the customers "
           "active at the end of year 4 renew in year 5?",
    mistakes=[
        Mistake("year 4", lambda _: 100 * _sbg_retention(4, *FH_PARAMS["regular"]),
                "That is the retention rate of year 4. r(t) = (β + t − 1)/(α + β + t − 1) with "
                "t = 5."),
        Mistake("year 6", lambda _: 100 * _sbg_retention(6, *FH_PARAMS["regular"]),
                "One year too far: that is year 6. Use t = 5 in (β + t − 1)/(α + β + t − 1)."),
        Mistake("churn", lambda _: 100 * (1 - _sbg_retention(5, *FH_PARAMS["regular"])),
                "That is the churn rate (1 − retention). The question asks who renews."),
        Mistake("survival", lambda _: 100 * float(np.prod([_sbg_retention(t, *FH_PARAMS["regular"])
                                                           for t in range(1, 6)])),
                "That is the share of the ORIGINAL cohort still active after 5 years (the "
                "survival S(5)). Retention in year 5 is the share of year-4 survivors who renew."),
        Mistake("mean", lambda _: 100 * FH_PARAMS["regular"][1] / sum(FH_PARAMS["regular"]),
                "That is the retention of year 1, β/(α + β): the sBG's retention rises year by "
                "year as the customers most likely to leave drop out."),
    ],
    hints=["r(t) = (β + t − 1)/(α + β + t − 1): the sBG retention rate in period t.",
           "100 * (1.182 + 4) / (0.704 + 1.182 + 4), or 100 * regular_fit.retention(5)."],
    solution="retention_year5 = 100 * (1.182 + 4) / (0.704 + 1.182 + 4)   # 88.0 %",
    explain="The actual year-5 retention of the cohort was 289/326 = 88.7 %. Year 1 was only "
            "63 %: retention rises as the cohort sorts itself into stayers.")


# ============================================================ Q4 BG/NBD on CDNOW
_ex05_q4 = NumericExercise(
    lambda _: CDNOW_E_Y39, data=lambda: None, abs_tol=0.001, fmt="{:.3f}",
    what="the expected purchases in the next 39 weeks",
    prompt="With the BG/NBD fitted on CDNOW, how many purchases do you expect in the next 39 "
           "weeks from customer 1 (x = 2 repeat purchases, last at t_x = 30.43 weeks, observed "
           "for T = 38.86 weeks)?",
    mistakes=[
        Mistake("unconditional", lambda _: 1.195,
                "That is E[X(39)], the expectation for a NEW customer. Use the customer's own "
                "history: conditional_expected_purchases(39, frequency, recency, T)."),
        Mistake("prob alive", lambda _: 0.727,
                "That is the probability that the customer is still active. Multiply it by "
                "the purchases expected if active: conditional_expected_purchases does both."),
    ],
    hints=[("The fitted model has a method for one customer's future: "
           "cdnow_fit.conditional_expected_purchases(t, frequency, recency, T)."),
           "cdnow_fit.conditional_expected_purchases(39, 2, 30.43, 38.86)"],
    solution="expected_39 = cdnow_fit.conditional_expected_purchases(39, 2, 30.43, 38.86)   # 1.226",
    explain="Fader & Hardie's worked example gives 1.226: same data, same model, same number.")


# ============================================================ Q5 value gap by NPS group
MONTHLY_DISCOUNT = 1.10 ** (1 / 12) - 1   # 10 % a year, per month
_DAYS_PER_MONTH = 365.25 / 12


def _first_answers(c) -> pd.DataFrame:
    """Each customer's first survey answer followed to churn or the end of observation
    (plain pandas; the same design as cx.retention.analysis_frame(responses='first'))."""
    obs = pd.Timestamp(c.truth["observation_end"])
    cu = c.customers.set_index("customer_id")
    sv = c.survey[["customer_id", "survey_date", "region", "ltr"]]
    start = cu["start_date"].reindex(sv["customer_id"]).to_numpy()
    end = cu["end_date"].reindex(sv["customer_id"]).to_numpy()
    date = sv["survey_date"].to_numpy()
    valid = (date >= start) & (pd.isna(end) | (date < end)) & (date <= obs)
    sv = sv[valid].sort_values(["customer_id", "survey_date"]).drop_duplicates("customer_id")
    end = cu["end_date"].reindex(sv["customer_id"])
    censor = obs + pd.Timedelta(days=1)
    churned = end.notna() & (end <= censor)
    stop = end.where(churned, censor)
    days = (stop.to_numpy() - sv["survey_date"].to_numpy()) / pd.Timedelta(days=1)  # whole days
    observed = (censor - sv["survey_date"]).dt.days.to_numpy()
    out = pd.DataFrame({
        "customer_id": sv["customer_id"].to_numpy(), "region": sv["region"].to_numpy(),
        "ltr": sv["ltr"].to_numpy(), "months": days / _DAYS_PER_MONTH,
        "churned": churned.to_numpy().astype(int),
        # churn within 12 months (365.25 days) of the answer; missing unless the whole year is
        # observed (else recent answers would count their leavers but not their stayers)
        "churn_12m": np.where(observed >= 365.25,
                              (churned.to_numpy() & (days <= 365.25)).astype(float), np.nan),
        "revenue": cu["monthly_revenue"].reindex(sv["customer_id"]).to_numpy()})
    out["group"] = np.select([out["ltr"] <= 6, out["ltr"] <= 8], ["Detractor", "Passive"],
                             "Promoter")
    return out


def _group_clv(rev, churned, months):
    """0.30 · mean revenue · r/(1+d−r) with monthly r = 1 − Σchurned/Σmonths (numpy, by row)."""
    r = 1 - churned / months
    return 0.30 * rev * r / (1 + MONTHLY_DISCOUNT - r)


@functools.lru_cache(maxsize=8)
def _gap_intervals(region: str, reference: str = "Passive", draws: int = 2000, seed: int = 11):
    """Percentile-bootstrap 95 % intervals of each NPS group's CLV minus the reference's."""
    c = _company()
    d = _first_answers(c)
    d = d[d["region"] == region]
    rng = np.random.default_rng(seed)
    boot = {}
    for g, sub in d.groupby("group"):
        arr = sub[["revenue", "churned", "months"]].to_numpy(float)
        idx = rng.integers(0, len(arr), size=(draws, len(arr)))
        means = arr[idx].mean(axis=1)
        boot[g] = _group_clv(means[:, 0], means[:, 1], means[:, 2])
    return {g: tuple(np.quantile(draws_g - boot[reference], [0.025, 0.975]))
            for g, draws_g in boot.items() if g != reference}


def _significant_gaps(c, region: str = "East") -> list[str]:
    return [g for g, (lo, hi) in _gap_intervals(region).items() if lo > 0 or hi < 0]


_ex05_q5 = SetExercise(
    _significant_gaps, what="groups",
    mistakes=[Mistake("both", lambda c: ["Detractor", "Promoter"],
                      "Both gaps look large, but read the intervals: in the East one of them "
                      "runs from below zero to above it, so the data cannot tell that group's "
                      "value from the passives'."),
              Mistake("none", lambda c: [],
                      "One of the two intervals lies entirely on one side of zero: that gap is "
                      "significant.")],
    prompt="In the East region, whose lifetime value differs significantly from the passives': "
           "the detractors', the promoters', both or neither?",
    hints=["A gap is significant when its 95 % interval (ci_low to ci_high) excludes zero.",
           ("list(east_value.gaps.loc[(east_value.gaps['ci_low'] > 0) | "
           "(east_value.gaps['ci_high'] < 0), 'group'])")],
    solution="gaps = east_value.gaps\nsignificant = list(gaps.loc[(gaps['ci_low'] > 0) | "
             "(gaps['ci_high'] < 0), 'group'])   # ['Detractor']",
    explain="With a few hundred customers per group, the East's promoter premium is within the "
            "noise; the detractor discount is not. Company-wide, both gaps are clear.")


# ============================================================ Q6 judgement
_ex05_q6 = JudgementExercise(
    "'The €400 gap is real, but it is a comparison, not an experiment: detractors differ from "
    "promoters in more than their answer (more of them are on Basic, and they rate price and "
    "the network lower, which raises churn beyond the score). Turning a detractor into a promoter by itself will not give them a "
    "promoter's loyalty, and the programme costs money. Let's fix what makes them detractors "
    "(the drivers), and size it with the what-if chain in notebook 06, with its interval.'\n"
    "Good answers: association is not cause (confounding by plan, price and network experience); the "
    "gap is a ceiling, not a forecast; act on drivers, not on the score; cost and uncertainty; "
    "state the CLV convention (margin, discount, horizon).",
    prompt="Marketing reads the table: 'a promoter is worth €400 more than a detractor, so "
           "converting 1,000 detractors into promoters is worth €400,000.' What do you reply?",
    hints=[("Is the gap caused by the answer, or do promoters and detractors differ in other "
           "ways too?")])

ex05 = ExerciseSet("05_lifetime_value", q1=_ex05_q1, q2=_ex05_q2, q3=_ex05_q3, q4=_ex05_q4,
                   q5=_ex05_q5, q6=_ex05_q6)

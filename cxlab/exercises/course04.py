"""Exercises for notebook 04 CX and retention.

Expected answers are computed here from the raw customers and survey tables with plain pandas,
a hand-written Kaplan–Meier product-limit estimate and statsmodels' ``PHReg`` on a design built
here — independently of :func:`cxlab.retention.analysis_frame` and the rest of
:mod:`cxlab.retention`, so the exercises double as a cross-check of the package.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from .core import *
from .recipes import *

# ============================================================ 04 CX and retention
DAYS_PER_MONTH = 365.25 / 12
HORIZON_DAYS = 12 * DAYS_PER_MONTH          # "within 12 months" of the survey answer


def _observation_end(c) -> pd.Timestamp:
    return pd.Timestamp(c.truth["observation_end"])


def _answers(c, first: bool = True) -> pd.DataFrame:
    """Survey answers (each customer's first, or all) joined to the customer record, with the
    days from the answer to churn (NaN if still active) and to the end of observation."""
    s = c.survey.sort_values(["customer_id", "survey_date", "response_id"], kind="stable")
    if first:
        s = s.groupby("customer_id", sort=False).head(1)
    cust = c.customers.set_index("customer_id")
    out = s[["customer_id", "survey_date", "ltr"]].copy()
    out["end_date"] = cust["end_date"].reindex(out["customer_id"]).to_numpy()
    out["start_date"] = cust["start_date"].reindex(out["customer_id"]).to_numpy()
    out["plan"] = s["plan"].to_numpy()
    out["ever_churned"] = cust["churned"].reindex(out["customer_id"]).to_numpy()
    out["group"] = np.select([out["ltr"] >= 9, out["ltr"] >= 7], ["Promoter", "Passive"],
                             "Detractor")
    censor = _observation_end(c) + pd.Timedelta(days=1)   # active customers: end of the last day
    out["days_to_churn"] = (out["end_date"] - out["survey_date"]).dt.days
    out["days_observed"] = (censor - out["survey_date"]).dt.days
    return out


def _year_old(c, first: bool = True) -> pd.DataFrame:
    """Answers given at least 12 months before the end of observation: the 12-month outcome is
    known for every one of them."""
    a = _answers(c, first)
    a = a[a["days_observed"] >= HORIZON_DAYS].copy()
    a["churn_12m"] = (a["days_to_churn"] <= HORIZON_DAYS).astype(float)
    return a


def _rates(a: pd.DataFrame, flag: str = "churn_12m") -> pd.Series:
    return 100 * a.groupby("group")[flag].mean()


def _gap(c, first: bool = True, flag: str = "churn_12m") -> float:
    r = _rates(_year_old(c, first), flag)
    return float(r["Detractor"] - r["Promoter"])


def _ratio(c) -> float:
    r = _rates(_year_old(c))
    return float(r["Detractor"] / r["Promoter"])


def _gap_recent_kept(c) -> float:
    """The biased version: every first answer whose 12-month outcome is 'decided' — recent
    answers count only when the customer already left."""
    a = _answers(c)
    left = a["days_to_churn"] <= HORIZON_DAYS
    a = a[left | (a["days_observed"] >= HORIZON_DAYS)].assign(churn_12m=left.astype(float))
    r = _rates(a)
    return float(r["Detractor"] - r["Promoter"])


def kaplan_meier_at(durations, events, t: float) -> float:
    """Product-limit estimate S(t) = Π_{t_i ≤ t} (1 − d_i / n_i) (Kaplan & Meier 1958)."""
    d = np.asarray(durations, float)
    e = np.asarray(events, int)
    s = 1.0
    for ti in np.unique(d[(e == 1) & (d <= t)]):
        at_risk = (d >= ti).sum()
        deaths = ((d == ti) & (e == 1)).sum()
        s *= 1 - deaths / at_risk
    return s


def _survival_frame(c) -> pd.DataFrame:
    a = _answers(c)
    event = a["end_date"].notna()
    days = np.where(event, a["days_to_churn"], a["days_observed"])
    return a.assign(duration=days / DAYS_PER_MONTH, event=event.astype(int))


def _km12(c, group: str = "Detractor") -> float:
    f = _survival_frame(c)
    f = f[f["group"] == group]
    return 100 * kaplan_meier_at(f["duration"], f["event"], 12.0)


def _km12_naive(c, group: str = "Detractor") -> float:
    """Wrong: customers not yet followed for a year counted as stayers."""
    f = _survival_frame(c)
    f = f[f["group"] == group]
    return 100 * (1 - ((f["event"] == 1) & (f["duration"] <= 12)).mean())


_COX_CACHE: dict = {}


def _cox_ltr(c, controls: bool = True) -> tuple[float, float]:
    """Cox model (Efron ties) of time from the first answer to churn on ltr, with tenure-band
    and plan dummies (references ">=24" months and "Standard"): (coefficient, hazard ratio).
    Cached per data object (the mistakes of q3 all need it)."""
    key = (id(c), controls)
    hit = _COX_CACHE.get(key)
    if hit is not None and hit[0] is c:
        return hit[1]
    result = _fit_cox_ltr(c, controls)
    _COX_CACHE[key] = (c, result)
    return result


def _fit_cox_ltr(c, controls: bool) -> tuple[float, float]:
    from statsmodels.duration.hazard_regression import PHReg

    f = _survival_frame(c)
    X = f[["ltr"]].astype(float)
    if controls:
        tenure = (f["survey_date"] - f["start_date"]).dt.days / DAYS_PER_MONTH
        X = X.assign(tenure_lt12=(tenure < 12).astype(float),
                     tenure_12_24=((tenure >= 12) & (tenure < 24)).astype(float),
                     basic=(f["plan"] == "Basic").astype(float),
                     premium=(f["plan"] == "Premium").astype(float))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = PHReg(f["duration"].to_numpy(), X.to_numpy(), status=f["event"].to_numpy(),
                    ties="efron").fit()
    b = float(np.asarray(fit.params)[0])
    return b, float(np.exp(b))


_ex04_q1 = NumericExercise(
    _gap, abs_tol=0.05, fmt="{:.1f} points", percent=True,
    what="the gap in 12-month churn between detractors and promoters",
    prompt="How many percentage points more detractors than promoters leave within 12 months "
           "of their answer?",
    mistakes=[
        Mistake("ratio", _ratio,
                "That is the ratio of the two churn rates ('detractors leave 1.9 times as "
                "often'), a useful number too. The question asks for the difference in "
                "percentage points."),
        Mistake("recent answers kept", _gap_recent_kept,
                "It looks like you kept the answers of the last 12 months. For those we know "
                "only the customers who already left, not yet those who will stay a full "
                "year, so their churn looks far too high. Use `year_old`."),
        Mistake("ever churned", lambda c: _gap(c, flag="ever_churned"),
                "That is churn at any time up to the end of observation: an answer from 2024 "
                "had two years to 'churn', one from 2025 one year. Use the 12-month flag "
                "churn_12m."),
        Mistake("every answer", lambda c: _gap(c, first=False),
                "That uses every answer, so customers who answered several times count several "
                "times. Use one answer per customer: the frame `year_old`."),
    ],
    hints=["`rates` holds each NPS group's 12-month churn rate in %, labelled by group.",
           "rates['Detractor'] - rates['Promoter']"],
    solution="rates = by_group.table.set_index('nps_group')['churn_rate']\n"
             "gap = rates['Detractor'] - rates['Promoter']",
    explain="Detractors leave about twice as often as promoters. The link claimed in notebook "
            "01 holds, and its interval (by_group.pairwise) is far from zero.")

_ex04_q2 = NumericExercise(
    _km12, abs_tol=0.05, fmt="{:.1f} %", percent=True,
    what="the share of detractors still customers 12 months after their answer",
    prompt="From the Kaplan–Meier curves: what share of detractors is still a customer 12 "
           "months after answering, in %?",
    mistakes=[
        Mistake("churn", lambda c: 100 - _km12(c),
                "That is the share who LEFT within 12 months. The curve shows who stays: "
                "survival."),
        Mistake("promoters", lambda c: _km12(c, "Promoter"),
                "That is the promoters' curve. Pick the row of the detractors."),
        Mistake("passives", lambda c: _km12(c, "Passive"),
                "That is the passives' curve. Pick the row of the detractors."),
        Mistake("naive", _km12_naive,
                "That counts every detractor not seen leaving within 12 months as a stayer, "
                "including those followed for only a few months. Kaplan–Meier uses each "
                "customer only for as long as we could follow them: read it off km.at(12)."),
    ],
    hints=["km.at(12) gives the survival of each group at 12 months, as a share (0–1).",
           "s = km.at(12).set_index('group')['survival']; 100 * s['Detractor']"],
    solution="retained_12m = 100 * km.at(12).set_index('group').loc['Detractor', 'survival']",
    explain="About one detractor in five is gone within a year; the curves separate from the "
            "first months on.")

_ex04_q3 = NumericExercise(
    lambda c: _cox_ltr(c)[1], abs_tol=0.002, fmt="{:.3f}",
    what="the hazard ratio per ltr point",
    prompt="In the Cox model with tenure and plan, what is the hazard ratio of churn per "
           "point of ltr?",
    mistakes=[
        Mistake("coefficient", lambda c: _cox_ltr(c)[0],
                "That is the coefficient: the LOG of the hazard ratio. Exponentiate it "
                "(np.exp), or read the hazard_ratio column."),
        Mistake("inverse", lambda c: 1 / _cox_ltr(c)[1],
                "That is the hazard ratio per point LOWER (1 / HR). Per point higher, the risk "
                "falls: the ratio is below 1."),
        Mistake("reduction", lambda c: 100 * (1 - _cox_ltr(c)[1]),
                "That is the reduction in % (1 − HR): a fine way to say it. The question asks "
                "for the ratio itself."),
        Mistake("no controls", lambda c: _cox_ltr(c, controls=False)[1],
                "That is the model without tenure and plan. Use `cox`, the model with both."),
    ],
    hints=["cox.hazard_ratio('ltr') gives the ratio with its interval.",
           "hr = cox.hazard_ratio('ltr')['hazard_ratio']"],
    solution="hr = cox.hazard_ratio('ltr')['hazard_ratio']",
    explain="Each extra point of ltr lowers the monthly risk of leaving by about 15 %, at the "
            "same tenure and plan.")

_ex04_q4 = ChoiceExercise(
    {"a": "Longer follow-up adds churners, and more churners always weaken an effect",
     "b": "An answer describes the customer's experience in the quarter it was given; months "
          "later that experience (and the score they would give) has moved, so the old "
          "answer predicts less",
     "c": "The Cox model is not valid beyond three months",
     "d": "Customers who leave late did not answer the survey"},
    "b",
    prompt="Why does the hazard ratio per ltr point move towards 1 (no effect) the longer "
           "each answer is followed?",
    feedback={"a": "More churners make the estimate more precise (narrower interval), not "
                   "weaker. The estimate moves for another reason.",
              "c": "The model is the same at every follow-up; what changes is how up to date "
                   "the score is by the time the customer leaves.",
              "d": "Every row here is a survey answer; what matters is how old the answer is "
                   "when the customer leaves."},
    hints=[("In the truth, churn depends on the customer's ltr in the CURRENT quarter. How "
            "current is an answer given 11 months ago?")],
    solution="b) Customers' experience changes from quarter to quarter (a network fault, a "
             "billing error, a good support call). An old answer is an out-of-date measurement "
             "of today's experience, so its link with leaving is diluted: 'regression "
             "dilution'. Follow answers over the period they describe, or update them (use "
             "each customer's latest answer).",
    explain="an answer ages. Followed over the quarter it describes, the score recovers the "
            "true effect; followed for a year, the effect per point looks about a third "
            "smaller.")

_ex04_q5 = JudgementExercise(
    "'The score and leaving agree on the network: reliability drives both, so keep it strong "
    "(and fix the South). But price/value and billing accuracy rank higher for leaving than "
    "for the score: customers who would still recommend us leave over a wrong bill or a "
    "better offer. Our business goal is retention, so the next euro goes to billing accuracy "
    "first (wrong bills are errors we can fix without cutting prices), and we test a "
    "price/value offer for at-risk customers. Network speed matters for the score but hardly "
    "for leaving: not a retention investment.'\n"
    "Good answers start from the business goal (retention, value), not the score; use both "
    "lists; note that the churn shares are uncertain (few departures in a quarter: on real data, "
    "pool more quarters or run a test before betting the budget); and weigh the cost of moving "
    "each driver.",
    prompt="The score says network reliability and speed matter most; leaving says price/value "
           "and billing accuracy. You have one budget. Where do you invest, and why?",
    hints=[("Which goal pays the bills: the score, or the customers who stay? Then look at "
            "which drivers matter for that goal, and what each costs to move.")])

ex04 = ExerciseSet("04_cx_and_retention", q1=_ex04_q1, q2=_ex04_q2, q3=_ex04_q3, q4=_ex04_q4,
                   q5=_ex04_q5)

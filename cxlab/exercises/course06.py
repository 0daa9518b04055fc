"""Exercises for notebook 06 money on every contact.

Expected answers are computed here with plain pandas and arithmetic, independently of
:mod:`cxlab.value` and :mod:`cxlab.whatif`: revenue at risk from each customer's first survey
answer and their churn in the following year, and the Goodman / TARP market damage by hand.
"""

from __future__ import annotations

from .core import *
from .course05 import _first_answers
from .recipes import *

# ============================================================ Q1 revenue at risk from detractors


def _risk_parts(c):
    """Per NPS group: 12-month churn rate, answers, annual revenue; and the active base."""
    d = _first_answers(c).dropna(subset=["churn_12m"])
    by = d.groupby("group")
    rate, n = by["churn_12m"].mean(), by.size()
    annual = 12 * by["revenue"].mean()
    base = int((c.customers["churned"] == 0).sum())
    return rate, n, annual, base


def _detractor_risk(c, baseline: str | None = "Promoter", months: int = 12,
                    respondents: bool = False) -> float:
    rate, n, annual, base = _risk_parts(c)
    customers = n["Detractor"] if respondents else base * n["Detractor"] / n.sum()
    linked = rate["Detractor"] - (rate[baseline] if baseline else 0.0)
    return float(customers * linked * annual["Detractor"] * months / 12)


_ex06_q1 = NumericExercise(
    _detractor_risk, rel_tol=0.002, fmt="€{:,.0f}", what="the detractors' revenue at risk",
    prompt="How much revenue a year is at risk from Kestrel's detractors, counting only the churn "
           "linked to the experience (above the promoters' churn)?",
    mistakes=[
        Mistake("all churn", lambda c: _detractor_risk(c, baseline=None),
                "That counts ALL the detractors' churn. Some customers leave whatever we do "
                "(they move house, a competitor undercuts us): only the churn above the "
                "promoters' rate is linked to the experience. Use baseline='Promoter'."),
        Mistake("passive baseline", lambda c: _detractor_risk(c, baseline="Passive"),
                "You measured against the passives. The question uses the promoters' churn as "
                "the baseline."),
        Mistake("monthly", lambda c: _detractor_risk(c, months=1),
                "That is one month's revenue. The churn rate is over 12 months, so the value "
                "must be a year's revenue: 12 × monthly revenue."),
        Mistake("respondents", lambda c: _detractor_risk(c, respondents=True),
                "That applies the rates to the survey respondents only. Revenue at risk is about "
                "the whole active base (customers=len(active)), split in the survey's shares."),
    ],
    hints=[("The table of cx.value.revenue_at_risk has one row per group and a column "
           "'revenue_at_risk'."),
           "risk_nps.table.set_index('group').loc['Detractor', 'revenue_at_risk']"],
    solution="detractor_risk = risk_nps.table.set_index('group').loc['Detractor', "
             "'revenue_at_risk']",
    explain="A year's revenue that walks out because of the experience, with an interval of "
            "roughly ± a quarter. Passives carry risk too: the total is higher.")


# ============================================================ Q2 root cause, not symptom
_ex06_q2 = ChoiceExercise(
    {"a": "Cancellation: its customers churn most, so train the Retention Desk to save more "
          "of the customers who call to cancel",
     "b": "Network fault: the most revenue at risk and the lowest first-contact resolution, so "
          "fix the faults (network reliability) and resolve fault contacts first time",
     "c": "Detractors: call every detractor back to lift their score",
     "d": "Technical support: answer faster, because it has many contacts"},
    "b",
    prompt="Which action goes after a root cause rather than a symptom?",
    feedback={"a": "A cancellation call is the END of the story: the decision to leave was made "
                   "earlier, by a fault or a bill. Saving callers treats the symptom.",
              "c": "A call-back changes the answer, not the reason for it: the score is the "
                   "symptom. The what-if chain below shows how little moving the score alone buys.",
              "d": "Volume is not value: its revenue at risk is small and its interval includes "
                   "zero."},
    hints=[("Look at the revenue at risk by problem type together with first-contact resolution "
           "(fcr) by problem type."),
           "A root cause is something that happens BEFORE the customer decides to leave."],
    solution="b) Network faults carry the most revenue at risk, and they are the contacts least "
             "often resolved first time (unresolved contacts raise churn: HR 1.7 in the "
             "simulation's truth). Fixing reliability removes contacts; resolving them first "
             "time stops the damage.",
    explain="Faults come first; unresolved contacts, detractors and cancellation calls follow. "
            "Fix the cause and the symptoms shrink with it.")


# ============================================================ Q3 market damage by hand
Q3_INPUTS = {"customers_with_problem": 1000, "customer_value": 500.0, "share_complain": 0.5,
             "share_resolved": 0.6, "repurchase_no_problem": 0.95,
             "repurchase_no_complaint": 0.80, "repurchase_resolved": 0.90,
             "repurchase_unresolved": 0.70}


def _damage(loss=None, wom: float = 0.0, paths=("no complaint", "resolved", "unresolved"),
            value: bool = True) -> float:
    """Goodman's paths by hand: customers in each path × (L0 − repurchase) (+ word of mouth)."""
    q = Q3_INPUTS
    n, c, s, l0 = q["customers_with_problem"], q["share_complain"], q["share_resolved"], \
        q["repurchase_no_problem"]
    loss = loss or (lambda rep: l0 - rep)
    sizes = {"no complaint": n * (1 - c), "resolved": n * c * s, "unresolved": n * c * (1 - s)}
    reps = {"no complaint": q["repurchase_no_complaint"], "resolved": q["repurchase_resolved"],
            "unresolved": q["repurchase_unresolved"]}
    told = {"no complaint": 9.0, "resolved": 0.0, "unresolved": 9.0}   # TARP defaults
    lost = sum(sizes[p] * loss(reps[p]) for p in paths)
    lost += sum(sizes[p] * told[p] * wom for p in paths)
    return lost * (q["customer_value"] if value else 1.0)


_ex06_q3 = NumericExercise(
    lambda _: _damage(), data=lambda: None, abs_tol=1.0, fmt="€{:,.0f}",
    what="the value lost",
    prompt="1,000 customers had a problem; half complained and 60 % of complaints were resolved. "
           "A year later 95 % of customers without a problem were still with us, against 80 % "
           "of those who did not complain, 90 % of the resolved and 70 % of the unresolved. "
           "Leave out word of mouth. With €500 a customer, what is the value lost?",
    mistakes=[
        Mistake("with word of mouth", lambda _: _damage(wom=0.02),
                "That includes the default word of mouth (9 people told, 2 % of them lost). The "
                "question leaves it out: pass wom_conversion=0."),
        Mistake("1 - repurchase", lambda _: _damage(loss=lambda rep: 1 - rep),
                "You counted every customer who left as lost to the problem. Some would have left "
                "anyway: the loss is 95 % − repurchase (the no-problem baseline, "
                "repurchase_no_problem=0.95)."),
        Mistake("complainers only", lambda _: _damage(paths=("resolved", "unresolved")),
                "You left out the half who never complained. They are the largest group, and "
                "invisible in the contact data: Goodman's point."),
        Mistake("customers", lambda _: _damage(value=False),
                "That is the number of customers lost. Multiply by the €500 each is worth."),
    ],
    hints=[("cx.value.market_damage(customers_with_problem, customer_value, share_complain=..., "
           "share_resolved=..., repurchase_no_problem=..., repurchase_no_complaint=..., "
           "repurchase_resolved=..., repurchase_unresolved=..., wom_conversion=0)"),
           "Then take .total_value_lost of the result."],
    solution="damage = cx.value.market_damage(\n    1000, 500, share_complain=0.5, "
             "share_resolved=0.6, repurchase_no_problem=0.95,\n    repurchase_no_complaint=0.80, "
             "repurchase_resolved=0.90, repurchase_unresolved=0.70,\n    wom_conversion=0)"
             ".total_value_lost   # 140 customers × €500 = €70,000",
    explain="75 silent sufferers + 15 resolved + 50 unresolved = 140 customers lost. More than "
            "half of the damage comes from customers who never told us.")


# ============================================================ Q4 ranking actions
_ex06_q4 = ChoiceExercise(
    {"a": "Price: it keeps the most customers and gains the most value",
     "b": "Billing: the highest expected net value and the best chance of paying back, though "
          "its interval still includes a loss",
     "c": "Call back detractors: its interval is the narrowest, so it is the safest bet",
     "d": "Network: it moves the likelihood to recommend the most"},
    "b",
    prompt="Rank the four actions by value against cost. Which would you fund first?",
    feedback={"a": "It gains the most, but it costs more than it gains: its net value is "
                   "negative in almost every bootstrap draw.",
              "c": "Narrow, and narrowly below zero: it is almost certainly a loss. Moving the "
                   "score without fixing the cause buys little.",
              "d": "The biggest move in the score, but what you fund is net value: look at "
                   "net_value and prob_positive."},
    hints=[("Sort by net_value (value gained minus cost); then read prob_positive, the share of "
           "bootstrap draws in which the action pays back.")],
    solution="b) Billing accuracy: the highest expected net value and the highest probability of "
             "paying back; network reliability is a close second. Price gains most but costs "
             "more; the call-back treats the symptom.",
    explain="Value against cost, with its uncertainty: billing first, network second. Neither "
            "is certain: see the next question.")


# ============================================================ Q5 judgement
_ex06_q5 = JudgementExercise(
    "'The interval crossing zero means we cannot rule out a loss, not that there is no gain. "
    "Our best estimate is a gain, about three draws in four pay back, and the cost is small and "
    "staged. I would fund it as a pilot in two regions, measure billing-accuracy ratings and "
    "churn against the other regions, and scale up or stop after two quarters. The interval is "
    "wide because only ~140 customers left in the quarters we can follow: waiting a year "
    "narrows it less than a pilot would.'\n"
    "Good answers: not significant ≠ no effect; decide on expected value, downside and "
    "reversibility, not on a 5 % test; stage the spend and build in measurement; say where the "
    "uncertainty comes from (few churn events).",
    prompt="The CFO: 'The billing project's interval runs from a loss to a gain. It is not "
           "significant, so we should not fund it.' What do you reply?",
    hints=[("Is 'not significant' the same as 'no effect'? What does prob_positive say, and what "
           "would you lose by trying it small?")])

ex06 = ExerciseSet("06_money_on_every_contact", q1=_ex06_q1, q2=_ex06_q2, q3=_ex06_q3,
                   q4=_ex06_q4, q5=_ex06_q5)

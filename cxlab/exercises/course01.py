"""Exercises for notebook 01 goals and metrics."""

from __future__ import annotations

import numpy as np

from .core import *  # noqa: F403
from .recipes import *  # noqa: F403

# ============================================================ 01 goals and metrics
_ex01_q1 = ChoiceExercise(
    {"a": "Keep 90 % of customers for at least another year (12-month retention)",
     "b": "NPS of +25 by the end of next year",
     "c": "Monthly recurring revenue of €1.0 m",
     "d": "80 % of customers satisfied after a support contact (CSAT)",
     "e": "Average customer lifetime value of €2,000"},
    {"a", "c", "e"},
    prompt="Which of these are BUSINESS goals (rather than CX goals)? Choose all that apply.",
    feedback={"b": "NPS is measured from the customer's side: a CX goal. It earns its place by "
                   "predicting retention and referrals, a business goal.",
              "d": "CSAT after a contact is a CX goal: the customer's verdict on one "
                   "interaction."},
    hints=["Business goals are counted in customers and money; CX goals are answers customers "
           "give."],
    solution="a, c and e: retention, revenue and lifetime value are business goals; NPS (b) and "
             "CSAT (d) are CX goals that should be linked to them.",
    explain="retention, revenue and lifetime value. NPS and CSAT are CX goals: worth having "
            "only if linked to these.")

def _mrr(c) -> float:
    cu = c.customers
    return float(cu.loc[cu["churned"] == 0, "monthly_revenue"].sum())


_ex01_q2 = NumericExercise(
    _mrr, abs_tol=0.5, fmt="€{:,.0f}", what="monthly recurring revenue",
    prompt="What is Kestrel's monthly recurring revenue (MRR): the monthly revenue of all "
           "customers still active?",
    mistakes=[
        Mistake("everyone", lambda c: float(c.customers["monthly_revenue"].sum()),
                "That includes the customers who have left (churned = 1): they no longer pay. "
                "Keep the active customers only."),
        Mistake("ARPU", lambda c: float(c.customers.loc[c.customers["churned"] == 0,
                                                        "monthly_revenue"].mean()),
                "That is the AVERAGE revenue per active customer (ARPU). MRR is the total: "
                ".sum() instead of .mean()."),
        Mistake("annual", lambda c: 12 * _mrr(c),
                "That is a year's revenue. The question asks for one month."),
    ],
    hints=["`active` already holds the customers still with Kestrel.",
           "active['monthly_revenue'].sum()"],
    solution="mrr = active['monthly_revenue'].sum()",
    explain="The revenue that retention protects: every point of churn is a slice of it.")

_ex01_q3 = FunctionExercise(
    [(([10, 9, 8, 7, 6, 0],), 0.0),
     (([10, 10, 10, 8],), 75.0),
     (([0, 1, 2, 3],), -100.0),
     (([10, 9, 9, 10, 8, 7, 7, 6, 3, 10],), 30.0),
     (([9, 10, np.nan, 6, 5, 8],), 100 * (2 / 5 - 2 / 5)),
     (([10, 9, 7, np.nan, 6, 8, 9],), 100 * (3 / 6 - 1 / 6))],
    mistakes=_NPS_FUNCTION_MISTAKES, abs_tol=1e-6,
    prompt="Write a function my_nps(scores) that returns the NPS (−100..+100) of 0–10 answers, "
           "leaving out missing answers.",
    hints=["Promoters answer 9–10, detractors 0–6; passives (7–8) count in the base only.",
           "With s = pd.Series(scores).dropna(): (s >= 9).mean() is the share of promoters.",
           "return 100 * ((s >= 9).mean() - (s <= 6).mean())"],
    solution="def my_nps(scores):\n"
             "    s = pd.Series(scores, dtype=float).dropna()   # leave out missing answers\n"
             "    return 100 * ((s >= 9).mean() - (s <= 6).mean())",
    explain="Same recipe as cx.metrics.nps, which adds the confidence interval.")

_ex01_q4 = NumericExercise(
    lambda c: _nps(_ltr(c)), abs_tol=0.05, fmt="{:+.1f}", percent=True,
    what=f"NPS in {LATEST}", mistakes=_nps_mistakes(_ltr),
    prompt=f"What is Kestrel's NPS in the latest wave ({LATEST})?",
    hints=[f"latest = survey[survey['wave'] == '{LATEST}'] keeps the latest wave; NPS uses its "
           "'ltr' column.", "my_nps(latest['ltr']) if your function passed, or "
           "cx.metrics.nps(latest['ltr']).value"],
    solution=f"latest = survey[survey['wave'] == '{LATEST}']\n"
             "nps_latest = my_nps(latest['ltr'])   # or cx.metrics.nps(latest['ltr']).value",
    explain="A single number, though: how sure are we of it? cx.metrics.nps tells us.")

_ex01_q5 = NumericExercise(
    lambda c: _csat(_wave(c.survey)["osat"]), abs_tol=0.05, fmt="{:.1f} %", percent=True,
    what=f"CSAT in {LATEST}", mistakes=_csat_mistakes(lambda c: _wave(c.survey)["osat"]),
    prompt=f"What is the relationship CSAT in {LATEST}: the % of respondents answering 4 or 5 "
           "to overall satisfaction (osat, 1–5)?",
    hints=["(latest['osat'] >= 4) is True for a satisfied answer; its mean is the share."],
    solution="csat_latest = 100 * (latest['osat'] >= 4).mean()   "
             "# or cx.metrics.csat(latest['osat']).value",
    explain="The 'top-2 box'. A mean of 1–5 answers would hide how many are unhappy.")

_ex01_q6 = NumericExercise(
    lambda c: _nps(_wave(c.pulse)["enps"]), abs_tol=0.05, fmt="{:+.1f}", percent=True,
    what=f"employee NPS in {LATEST}", mistakes=_nps_mistakes(lambda c: _wave(c.pulse)["enps"]),
    prompt=f"What is the employee NPS (eNPS) of the pulse survey in {LATEST}?",
    hints=["Same recipe as NPS, on the pulse table's 'enps' column, latest wave only."],
    solution=f"pulse_latest = company.pulse[company.pulse['wave'] == '{LATEST}']\n"
             "enps_latest = my_nps(pulse_latest['enps'])",
    explain="Staff who would not recommend Kestrel as an employer rarely deliver an experience "
            "customers recommend: notebook 07 links the two.")

_ex01_q7 = PlotExercise(
    prompt=f"Draw NPS by region for {LATEST} as a bar chart, with a title and axis labels.",
    hints=["by_region already holds one row per region with the NPS in 'value'.",
           "ax = sns.barplot(data=by_region, x='region', y='value'), then ax.set(title=..., "
           "xlabel=..., ylabel=...)"],
    solution="ax = sns.barplot(data=by_region, x='region', y='value', color='tab:blue')\n"
             f"ax.set(title='NPS by region, {LATEST}', xlabel='Region', ylabel='NPS')",
    explain="Next notebook: add the uncertainty, so nobody ranks regions on noise.")

_ex01_q8 = JudgementExercise(
    "Vision: 'Connections people can count on.'\n"
    "• Business goals: 12-month retention 88 % → 90 %; lifetime value per customer +5 %.\n"
    "• CX goal 1: relationship NPS +15 → +25, because NPS predicts who stays (notebook 04 "
    "measures the link).\n"
    "• CX goal 2: post-contact CSAT 80 % with first-contact resolution, because unresolved "
    "contacts drive churn.\n"
    "• Enabler: team engagement from the pulse, because engaged teams deliver better contacts.\n"
    "Twelve KPIs on one page means no priority; three goals with a stated link to money can be "
    "owned, funded and checked.",
    prompt="The board asks for a CX dashboard with twelve KPIs. Propose at most three CX goals "
           "instead, and link each to a business goal.",
    hints=["For each CX goal, finish the sentence 'this matters because it moves ... (a "
           "business goal)'."])

ex01 = ExerciseSet("01_goals_and_metrics", q1=_ex01_q1, q2=_ex01_q2, q3=_ex01_q3, q4=_ex01_q4,
                   q5=_ex01_q5, q6=_ex01_q6, q7=_ex01_q7, q8=_ex01_q8)



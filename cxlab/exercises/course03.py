"""Exercises for notebook 03 key driver analysis.

Expected answers are computed here with plain numpy/pandas, independently of
:mod:`cxlab.drivers`: ordinary least squares by ``numpy.linalg.lstsq``, and the LMG (Shapley)
decomposition by brute force over all 2^p driver subsets of pandas' pairwise-complete
correlation matrix (Lindeman, Merenda & Gold 1980; Grömping 2006).
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd

from ..contract import TOUCHPOINTS
from .core import *
from .recipes import *

# ============================================================ 03 key driver analysis
#: Touchpoints nearly every respondent rates (< 20 % missing): the regression demo uses them.
WIDELY_RATED = ("network_reliability", "network_speed", "billing_clarity", "billing_accuracy",
                "price_value", "digital_selfservice")


def _ols_by_cell(survey: pd.DataFrame, by=("region", "wave"), outcome: str = "ltr",
                 drivers=WIDELY_RATED) -> pd.DataFrame:
    """OLS slopes of ``outcome`` on ``drivers`` (with intercept, complete rows) in every cell."""
    rows = {}
    for key, cell in survey.groupby(list(by)):
        d = cell[[*drivers, outcome]].dropna()
        X = np.column_stack([np.ones(len(d)), d[list(drivers)].to_numpy(float)])
        beta, *_ = np.linalg.lstsq(X, d[outcome].to_numpy(float), rcond=None)
        rows[key] = beta[1:]
    out = pd.DataFrame.from_dict(rows, orient="index", columns=list(drivers))
    out.index = pd.MultiIndex.from_tuples(out.index, names=list(by))
    return out


def _negative_count(c, driver: str = "billing_clarity") -> float:
    return float((_ols_by_cell(c.survey)[driver] < 0).sum())


def _subset_r2(C: np.ndarray) -> np.ndarray:
    """R² of the last variable on every subset of the others (index = bit mask of the subset)."""
    p = len(C) - 1
    R, r = C[:p, :p], C[:p, p]
    out = np.zeros(1 << p)
    for mask in range(1, 1 << p):
        idx = [j for j in range(p) if mask >> j & 1]
        out[mask] = r[idx] @ np.linalg.solve(R[np.ix_(idx, idx)], r[idx])
    return out


def lmg_brute_force(C: np.ndarray) -> np.ndarray:
    """Shapley value of R² for each driver: Σ_S |S|!(p−|S|−1)!/p! · [R²(S∪{j}) − R²(S)]."""
    p = len(C) - 1
    v = _subset_r2(C)
    out = np.zeros(p)
    for j in range(p):
        others = [k for k in range(p) if k != j]
        for size in range(p):
            weight = math.factorial(size) * math.factorial(p - size - 1) / math.factorial(p)
            for S in combinations(others, size):
                mask = sum(1 << k for k in S)
                out[j] += weight * (v[mask | 1 << j] - v[mask])
    return out


def _lmg_table(c) -> pd.DataFrame:
    """LMG of ltr on the ten touchpoints from pairwise-complete correlations; performance = mean."""
    C = _corr(c)                                    # pandas: pairwise-complete observations
    imp = lmg_brute_force(C)
    first = C[:-1, -1] ** 2
    return pd.DataFrame({"importance": imp, "share": imp / imp.sum(), "first": first,
                         "performance": c.survey[list(TOUCHPOINTS)].mean().to_numpy()},
                        index=list(TOUCHPOINTS))


def relative_weights_share(C: np.ndarray) -> np.ndarray:
    """Johnson's (2000) relative weights as shares: R = VΛV', Λ½ = VΛ^½V', β* = Λ½⁻¹r,
    ε_j = Σ_k (Λ½)_jk² β*_k², divided by their sum (= R²)."""
    R, r = C[:-1, :-1], C[:-1, -1]
    vals, vecs = np.linalg.eigh(R)
    half = vecs @ np.diag(np.sqrt(vals)) @ vecs.T
    eps = (half ** 2) @ np.linalg.solve(half, r) ** 2
    return eps / eps.sum()


def _corr(c) -> np.ndarray:
    return c.survey[[*TOUCHPOINTS, "ltr"]].corr().to_numpy()


def _top_share(c) -> float:
    return 100 * float(_lmg_table(c)["share"].max())


def _quadrant_set(c, which: str = "Fix") -> list[str]:
    t = _lmg_table(c)
    high_i = t["share"] >= t["share"].mean()
    high_p = t["performance"] >= t["performance"].mean()
    masks = {"Fix": high_i & ~high_p, "Maintain": high_i & high_p,
             "Monitor": ~high_i & ~high_p, "Don't over-invest": ~high_i & high_p}
    return list(t.index[masks[which]])


_ex03_q1 = ChoiceExercise(
    {"a": "Network speed is what customers care about most",
     "b": "Speed travels with network reliability (r = 0.58): its correlation borrows much of "
          "reliability's effect",
     "c": "Sampling noise: with 12,000 answers a correlation of 0.42 could really be 0",
     "d": "Customers who recommend Kestrel are asked about speed more often"},
    "b",
    prompt="network_speed correlates 0.42 with ltr, more than price_value (0.41), although its "
           "true weight is smaller (0.10 vs 0.16 ltr points per rating point). Why does the "
           "correlation flatter speed?",
    feedback={"a": "The truth says otherwise: speed's weight is a third of reliability's. A "
                   "correlation cannot tell a driver from its travelling companions.",
              "c": "With 12,000 answers a correlation has a margin of about ±0.02: 0.42 is "
                   "certainly not 0. The problem is what the correlation measures, not noise.",
              "d": "Every respondent is asked about speed; about 3 % skip it."},
    hints=[("Look at the row of network_speed in the heat map: which other rating is it most "
            "correlated with?")],
    solution="b) A correlation gives a driver credit for everything it moves with. Customers "
             "with good reliability also report good speed, so speed 'borrows' reliability's "
             "effect. Regression and relative-importance methods hold the other drivers fixed.",
    explain="a correlation credits a driver with everything it moves with. Speed and "
            "reliability go together, so speed looks more important than it is.")

_ex03_q2 = NumericExercise(
    _negative_count, abs_tol=0, fmt="{:.0f}",
    what="the number of region-quarters where billing_clarity gets a negative coefficient",
    prompt="In how many of the 40 region-quarter regressions is billing_clarity's coefficient "
           "negative?",
    mistakes=[
        Mistake("positive", lambda c: float((_ols_by_cell(c.survey)["billing_clarity"] >= 0).sum()),
                "That is the number of POSITIVE coefficients. Count the ones below zero."),
        Mistake("share", lambda c: _negative_count(c) / 40,
                "That is the share of the 40 regressions (0–1). The question asks how many."),
        Mistake("all drivers", lambda c: float((_ols_by_cell(c.survey) < 0).to_numpy().sum()),
                "That counts the negative coefficients of ALL six drivers. Count billing_clarity "
                "only: coefs['billing_clarity']."),
    ],
    hints=["`coefs` has one row per region-quarter and one column per driver.",
           "(coefs['billing_clarity'] < 0).sum()"],
    solution="n_negative = (coefs['billing_clarity'] < 0).sum()",
    explain="A quarter of the regional reports would say 'clearer bills lower recommendation'. "
            "The true effect is small but positive: the sign flips are noise from correlated "
            "drivers and small samples.")

_ex03_q3 = NumericExercise(
    _top_share, abs_tol=0.1, fmt="{:.1f} %", percent=True,
    what="the top driver's share of the explained variance",
    prompt="What share of the explained variance (R²) does the most important touchpoint "
           "carry, in %?",
    mistakes=[
        Mistake("raw importance", lambda c: 100 * float(_lmg_table(c)["importance"].max()),
                "That is the top driver's importance in R² units: its part of ALL the variance "
                "in ltr. The question asks for its share of the EXPLAINED part: the 'share' "
                "column (importance / R²)."),
        Mistake("squared correlation", lambda c: 100 * float(_lmg_table(c)["first"].max()),
                "That is the top driver's squared correlation with ltr (its R² on its own). "
                "Correlations overlap: LMG shares out the R² of all drivers together. Use "
                "res.importance['share']."),
        Mistake("relative weights", lambda c: 100 * float(relative_weights_share(_corr(c)).max()),
                "That is the relative-weights share: close to LMG, but the question asks for "
                "the LMG result `res` (the default method of cx.drivers.analyze)."),
        Mistake("squared correlation share",
                lambda c: 100 * float((_lmg_table(c)["first"] / _lmg_table(c)["first"].sum()).max()),
                "That is the share of the squared correlations ('first'). Use the LMG shares "
                "of res.importance."),
    ],
    hints=["res.importance has a column 'share' (0–1); the top driver has rank 1.",
           "100 * res.importance['share'].max()"],
    solution="top_share = 100 * res.importance['share'].max()",
    explain="Network reliability carries about a quarter of what the touchpoints explain, "
            "clearly more than any other (see the interval).")

_ex03_q4 = SetExercise(
    _quadrant_set, what="touchpoints",
    mistakes=[
        Mistake("maintain", lambda c: _quadrant_set(c, "Maintain"),
                "Those are important AND performing well: 'Maintain'. Fix = important but "
                "performing below average."),
        Mistake("top three", lambda c: list(_lmg_table(c)["share"].nlargest(3).index),
                "Those are the three most important touchpoints. The quadrant also asks how "
                "well each performs: one of them is already rated above average."),
        Mistake("lowest rated", lambda c: list(_lmg_table(c)["performance"].nsmallest(3).index),
                "Those are the three lowest-rated touchpoints. Fix also needs above-average "
                "importance: a weak touchpoint that barely moves the score is 'Monitor'."),
    ],
    prompt="Which touchpoints land in the 'Fix' quadrant (important, but performing below "
           "average)?",
    hints=["The table `quad` has a column 'quadrant'.",
           "list(quad.index[quad['quadrant'] == 'Fix'])"],
    solution="fix = list(quad.index[quad['quadrant'] == 'Fix'])",
    explain="These carry an above-average share of the score and are rated below average: "
            "where improvement pays most.")

_ex03_q5 = ChoiceExercise(
    {"a": "The LMG method has a bug",
     "b": "Customers who rate the shop well also rate digital self-service and onboarding "
          "well (and like Kestrel overall): LMG shares out variance a rating co-explains, "
          "whether or not it causes anything",
     "c": "The truth file is wrong: the shop must matter",
     "d": "Too few customers visit a shop"},
    "b",
    prompt="In the truth, shop_experience has a weight of 0: it does not move ltr at all. Yet "
           "it receives about 3 % of the explained variance. Why?",
    feedback={"a": "The package's LMG matches R's relaimpo to 1e-9, and the population LMG in "
                   "the truth file gives the shop a share too. The method does what it says.",
              "c": "The truth is what the simulation used: shop_experience had no effect.",
              "d": "Few customers rate the shop (about a third), which widens its interval, "
                   "but a small sample cannot create importance on average."},
    hints=["Look at shop_experience's row in the heat map: what does it correlate with?"],
    solution="b) Relative importance splits the variance the model explains; a rating that "
             "moves with real drivers (and with the overall halo) gets part of their credit. "
             "Importance describes association, not cause: a small share for a touchpoint is "
             "not proof that it matters.",
    explain="importance shares out what the ratings explain together. It is not a causal "
            "effect: a small share can belong to a touchpoint that does nothing.")

_ex03_q6 = JudgementExercise(
    "'Support resolution. It is the second most important touchpoint (about 17 % of what the "
    "touchpoints explain, interval well above average) and it is rated below average: it sits "
    "firmly in Fix, and resolving problems is within our own control. Price/value is also in "
    "Fix, but moving it means cutting prices or adding value, which costs margin; network speed "
    "only just clears the importance cut. Network reliability matters most but already "
    "performs well: maintain it (and watch the South, where it fell in 2026Q2).'\n"
    "Good answers use both axes (importance with its interval, and performance), check that "
    "the driver is confidently in its quadrant, and weigh the cost and feasibility of moving a "
    "rating by one point — importance says where the score is sensitive, not what a fix costs.",
    prompt="The board gives you one budget for one improvement programme next year. Which "
           "touchpoint do you fix first, and why? Two or three sentences.",
    hints=[("Use both the importance (with its interval) and the performance axis, then think "
            "about what it costs to move each rating.")])

ex03 = ExerciseSet("03_key_driver_analysis", q1=_ex03_q1, q2=_ex03_q2, q3=_ex03_q3,
                   q4=_ex03_q4, q5=_ex03_q5, q6=_ex03_q6)

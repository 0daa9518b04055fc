"""Exercises for notebook 07 cascading goals.

Expected answers are computed here with plain pandas / numpy, independently of
:mod:`cxlab.frontline`: team CSAT by ``groupby``, the equal-uplift rule by hand, driver targets
from ``numpy.linalg.lstsq`` slopes and brute-force LMG shares (:func:`.course03.lmg_brute_force`),
the scorecard items' OLS slopes with a hand-written HC3 sandwich, and the Fisher-z interval of r.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .core import *
from .course03 import WIDELY_RATED, lmg_brute_force
from .recipes import *

# ============================================================ 07 cascading goals
#: The company's post-contact CSAT target (% answers 4–5) in the notebook.
CSAT_TARGET = 80.0
#: The required rise in mean likelihood to recommend (0–10) in the driver-target question.
LTR_CHANGE = 0.3
#: The waves pooled for the driver model (the last four).
DRIVER_WAVES = ("2025Q4", "2026Q1", "2026Q2", LATEST)
QA = ("qa_greeting", "qa_verification", "qa_empathy", "qa_ownership", "qa_explanation",
      "qa_compliance", "qa_next_steps")


def _team_csat(c, wave: str = LATEST) -> pd.DataFrame:
    """Per team: CSAT answers (n) and % of answers 4–5 (value) in ``wave``."""
    d = _wave(c.contacts, wave).dropna(subset=["csat"])
    g = (d["csat"] >= 4).groupby(d["team"])
    return pd.DataFrame({"n": g.size(), "value": 100 * g.mean()})


def _team_target(c, team: str = "Email Tech", weighted: bool = True,
                 target: float = CSAT_TARGET) -> float:
    t = _team_csat(c)
    now = np.average(t["value"], weights=t["n"]) if weighted else t["value"].mean()
    return float(t.loc[team, "value"] + target - now)


def _driver_change(c, driver: str = "network_reliability", split: str = "lmg") -> float:
    """Rating points ``driver`` must rise for mean ltr + LTR_CHANGE: the change split by LMG
    share, divided by the OLS slope."""
    s = c.survey
    d = s[s["wave"].isin(DRIVER_WAVES)][[*WIDELY_RATED, "ltr"]].dropna()
    X = np.column_stack([np.ones(len(d)), d[list(WIDELY_RATED)].to_numpy(float)])
    beta = pd.Series(np.linalg.lstsq(X, d["ltr"].to_numpy(float), rcond=None)[0][1:],
                     index=list(WIDELY_RATED))
    if split == "all":          # the whole change from this one driver
        return LTR_CHANGE / beta[driver]
    lmg = pd.Series(lmg_brute_force(np.corrcoef(d.to_numpy(float), rowvar=False)),
                    index=list(WIDELY_RATED))
    share = lmg / lmg.sum()
    if split == "share only":   # forgot to divide by the slope
        return LTR_CHANGE * share[driver]
    return LTR_CHANGE * share[driver] / beta[driver]


def _item_slopes(c) -> pd.DataFrame:
    """OLS of csat on the seven items (contacts with all of them), HC3 intervals by hand."""
    d = c.contacts[["csat", *QA]].dropna()
    X = np.column_stack([np.ones(len(d)), d[list(QA)].to_numpy(float)])
    y = d["csat"].to_numpy(float)
    XtX_inv = np.linalg.inv(X.T @ X)
    b = XtX_inv @ X.T @ y
    e = y - X @ b
    h = np.einsum("ij,jk,ik->i", X, XtX_inv, X)
    meat = X.T @ (X * (e / (1 - h))[:, None] ** 2)
    se = np.sqrt(np.diag(XtX_inv @ meat @ XtX_inv))
    return pd.DataFrame({"slope": b[1:], "low": b[1:] - _Z95 * se[1:],
                         "high": b[1:] + _Z95 * se[1:]}, index=list(QA))


def _not_driving(c) -> list[str]:
    t = _item_slopes(c)
    return list(t.index[t["low"] <= 0])


def _lowest_scored(c) -> list[str]:
    means = c.contacts[list(QA)].mean().sort_values()
    return list(means.index[:3])


def _engagement_points(c) -> pd.DataFrame:
    eng = c.pulse.groupby("team")["engagement"].mean()
    d = c.contacts.dropna(subset=["csat"])
    top = 100 * (d["csat"] >= 4).groupby(d["team"]).mean()
    return pd.DataFrame({"engagement": eng, "csat": top}).dropna()


def _r_low(c, n_minus: int = 3, level: str = "team") -> float:
    if level == "team":
        p = _engagement_points(c)
    else:
        eng = c.pulse.groupby(["team", "wave"])["engagement"].agg(["mean", "size"])
        d = c.contacts.dropna(subset=["csat"])
        top = (d["csat"] >= 4).groupby([d["team"], d["wave"]]).agg(["mean", "size"])
        p = eng.add_suffix("_e").join(top.add_suffix("_c"), how="inner")
        p = p[(p["size_e"] >= 3) & (p["size_c"] >= 10)].rename(
            columns={"mean_e": "engagement", "mean_c": "csat"})
    r = np.corrcoef(p["engagement"], p["csat"])[0, 1]
    return float(np.tanh(np.arctanh(r) - _Z95 / np.sqrt(len(p) - n_minus)))


def _r(c) -> float:
    p = _engagement_points(c)
    return float(np.corrcoef(p["engagement"], p["csat"])[0, 1])


_ex07_q1 = NumericExercise(
    _team_target, abs_tol=0.05, fmt="{:.1f} %", percent=True, what="Email Tech's CSAT target",
    mistakes=[
        Mistake("unweighted", lambda c: _team_target(c, weighted=False),
                "You took the company's CSAT as the simple average of the 12 team values. A team "
                "with 30 answers would count as much as one with 300: weight by answers (n), "
                "which is what the company's own CSAT does."),
        Mistake("company target", lambda c: CSAT_TARGET,
                "That is the company's target. Under equal uplift each team's target is its own "
                "value now plus the uplift the company needs."),
        Mistake("uplift only", lambda c: _team_target(c) - _team_csat(c).loc["Email Tech", "value"],
                "That is the uplift. The target is Email Tech's value now plus the uplift."),
    ],
    prompt=f"The company's CSAT target is {CSAT_TARGET:.0f} %. With the equal-uplift rule, what is "
           f"Email Tech's CSAT target (%)?",
    hints=["cascade.summary() has one row per team with its 'target'.",
           "cascade.summary().set_index('team').loc['Email Tech', 'target']"],
    solution="email_tech_target = cascade.summary().set_index('team').loc['Email Tech', 'target']",
    explain="Every team is asked for the same number of points, and because the company's CSAT "
            "is the answer-weighted mean of the teams', the targets add up to the company's.")

_ex07_q2 = NumericExercise(
    _driver_change, abs_tol=0.01, fmt="{:.2f} points", what="network reliability's required rise",
    mistakes=[
        Mistake("one driver", lambda c: _driver_change(c, split="all"),
                "That asks network reliability to deliver the whole change alone. The driver "
                "targets split the change by importance share."),
        Mistake("share only", lambda c: _driver_change(c, split="share only"),
                "That is network reliability's share of the change in likelihood-to-recommend "
                "points. Divide by its slope to turn it into rating points."),
    ],
    prompt=f"To raise mean likelihood to recommend by {LTR_CHANGE} points, by how many rating "
           "points must network reliability rise (driver targets, last four waves)?",
    hints=["targets.summary() has a 'change' column per driver (rating points).",
           "targets.summary().loc['network_reliability', 'change']"],
    solution="reliability_rise = targets.summary().loc['network_reliability', 'change']",
    explain="Important and with a steep slope, reliability carries the largest part of the "
            "change at a modest rise; a driver with a small slope would need a large one.")

_ex07_q3 = SetExercise(
    _not_driving, what="scorecard items",
    mistakes=[
        Mistake("lowest scored", _lowest_scored,
                "Those are the items agents score LOWEST on: that is performance, not whether "
                "the item drives satisfaction. Look at the effect (slope) intervals."),
    ],
    prompt="Which call-quality scorecard items are scored but not shown to drive post-contact "
           "CSAT? Give the column names, e.g. ['qa_greeting', ...].",
    hints=["validity.scored_not_driving lists them.",
           "not_driving = validity.scored_not_driving"],
    solution="not_driving = validity.scored_not_driving",
    explain="Greeting, verification and compliance: agents score high on them and customers do "
            "not reward them. Kestrel's truth agrees: their effect is exactly zero. Keep them "
            "for compliance, but coach for CSAT on empathy, ownership, explanation and next "
            "steps.")

_ex07_q4 = NumericExercise(
    _r_low, abs_tol=0.005, fmt="{:.2f}", what="the lower end of r's 95 % interval",
    mistakes=[
        Mistake("r", _r, "That is r itself. The question asks for the lower end of its "
                         "interval."),
        Mistake("n", lambda c: _r_low(c, n_minus=0),
                "The Fisher-z standard error is 1/√(n − 3), not 1/√n."),
        Mistake("team-quarters", lambda c: _r_low(c, level="team_wave"),
                "That is the team-quarter interval, which treats 96 points as independent. The "
                "question asks for the 12 teams."),
    ],
    prompt="Across the 12 teams, what is the lower end of the 95 % interval of the correlation "
           "between team engagement and team CSAT?",
    hints=["link.summary() has columns r, r_ci_low, r_ci_high.",
           "link.summary().loc[0, 'r_ci_low']"],
    solution="r_low = link.summary().loc[0, 'r_ci_low']",
    explain="With 12 teams the interval runs from almost nothing to very strong: the data are "
            "consistent with engagement mattering a lot and with it barely mattering.")

_ex07_q5 = JudgementExercise(
    "'I would not pay on the scorecard total as it stands: three of its seven items (greeting, "
    "verification, compliance) do not move customer satisfaction, and agents already score high "
    "on them, so a bonus on the total rewards the wrong behaviour. Keep them as a pass/fail "
    "compliance gate, and weight the coaching and any bonus on empathy, ownership, explanation "
    "and next steps. For the team that missed its CSAT target by 3 points on 30 answers: the "
    "interval of its CSAT is about ±15 points, so the miss is within the noise; I would look at "
    "the trend over several quarters and at its first-contact resolution before calling it a "
    "failure, and never rank teams on one quarter.'\n"
    "Good answers: drop or separate the non-driving items; reward what customers value; judge a "
    "team's miss against its interval; pool quarters for small teams; engagement is a plausible "
    "lever but 12 teams cannot pin its size down.",
    prompt="The head of the contact centre proposes a bonus on each team's scorecard total (all "
           "seven items, equal weight) and on meeting its CSAT target every quarter. What would "
           "you advise, and what would you tell the leader of Retention Desk (30 answers), which "
           "missed its target by 3 points?",
    hints=[("What do the three flagged items do for customers? How wide is a CSAT interval on "
            "30 answers?")])

ex07 = ExerciseSet("07_cascading_goals", q1=_ex07_q1, q2=_ex07_q2, q3=_ex07_q3, q4=_ex07_q4,
                   q5=_ex07_q5)

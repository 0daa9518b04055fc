"""Exercises for notebook 10 voice of the customer.

The comments are coded with :func:`cxlab.text.code` (the input of every question); the answers
are then computed here with plain pandas and numpy least squares, independently of
:func:`cxlab.text.theme_impact` and :func:`cxlab.text.theme_revenue_at_risk`.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from .core import *
from .recipes import *

THEMES = ("network_outage", "slow_speed", "billing_error", "price", "support_unresolved",
          "support_slow", "app_selfservice", "praise")


@functools.lru_cache(maxsize=1)
def _coded() -> pd.DataFrame:
    """One row per survey response: region, wave, ltr, written (0/1) and the coded themes."""
    import cxlab as cx
    c = _company()
    comments = cx.simulate.read_comments(cx.datasets.path("kestrel"))
    themes = cx.text.code(comments["comment"], "kestrel", language=comments["language"])
    s = c.survey.set_index("response_id").loc[comments["response_id"]]
    return themes.assign(response_id=comments["response_id"].to_numpy(),
                         written=(comments["comment"] != "").astype(int).to_numpy(),
                         region=s["region"].to_numpy(), wave=s["wave"].to_numpy(),
                         ltr=s["ltr"].to_numpy())


# ============================================================ Q1 the outage in the comments
def _outage_share(_c, region="South", wave="2026Q3", written_only=True) -> float:
    d = _coded()
    sel = (d["wave"] == wave) & ((d["region"] == region) if region else True)
    if written_only:
        sel &= d["written"] == 1
    return float(100 * d.loc[sel, "network_outage"].mean())


_ex10_q1 = NumericExercise(
    _outage_share, abs_tol=0.05, fmt="{:.1f} %", percent=True,
    what="the share of the South's 2026Q3 comments coded network_outage",
    prompt="What percentage of the South's comments in 2026Q3 (answers with a comment) are coded "
           "network_outage?",
    mistakes=[
        Mistake("all answers", lambda c: _outage_share(c, written_only=False),
                "That divides by every answer, including the empty ones. Most respondents "
                "write nothing: the share of comments is over the answers with a comment "
                "(written == 1)."),
        Mistake("all regions", lambda c: _outage_share(c, region=None),
                "That is all regions together. Filter region == 'South' as well."),
        Mistake("before", lambda c: _outage_share(c, wave="2026Q1"),
                "That is 2026Q1, before the outage programme. The question asks for 2026Q3."),
    ],
    hints=["Filter the coded frame to region == 'South', wave == '2026Q3' and written == 1.",
           "Then 100 * frame['network_outage'].mean()."],
    solution="south = coded.query(\"region == 'South' and wave == '2026Q3' and written == 1\")\n"
             "outage_share = 100 * south['network_outage'].mean()",
    explain="In 2026Q1, before the outage programme, it was about one comment in ten: the "
            "comments tell the story of the South in the customers' own words.")


# ============================================================ Q2 adjusted effect on NPS
def _effect(_c, theme="network_outage", adjusted=True, nps=True) -> float:
    d = _coded()
    d = d[d["written"] == 1]
    y = d["ltr"].to_numpy(dtype=float)
    if nps:
        y = 100 * ((y >= 9).astype(float) - (y <= 6))
    if not adjusted:
        x = d[theme] == 1
        return float(y[x].mean() - y[~x].mean())
    X = np.column_stack([np.ones(len(d)), d[list(THEMES)].to_numpy(dtype=float)])
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    return float(beta[1 + THEMES.index(theme)])


_ex10_q2 = NumericExercise(
    _effect, abs_tol=0.05, fmt="{:+.1f} NPS points", what="the adjusted effect of network_outage",
    prompt="By how many NPS points does a comment about a network outage go with a lower NPS, "
           "adjusted for the other themes (theme_impact's effect)?",
    mistakes=[
        Mistake("unadjusted", lambda c: _effect(c, adjusted=False),
                "That is the plain difference between comments with and without the theme. "
                "Outage comments rarely praise, so the plain difference also carries the missing "
                "praise: theme_impact adjusts for the other themes."),
        Mistake("ltr points", lambda c: _effect(c, nps=False),
                "That is the effect on the mean ltr (0-10 points). The question asks for NPS "
                "points, the effect on 100 × (promoter − detractor)."),
    ],
    hints=["impact = cx.text.theme_impact(data, 'ltr', themes); the row network_outage.",
           "impact.loc['network_outage', 'effect']"],
    solution="outage_effect = impact.loc['network_outage', 'effect']",
    explain="The interval beside it is what to quote, and the truth file shows the population "
            "value lies inside it.")


# ============================================================ Q3 markers, not levers
_ex10_q3 = ChoiceExercise(
    {"a": "Yes: praise has the largest effect, so prompting customers to praise us in the "
          "survey would raise NPS",
     "b": "No: a theme marks the experience behind it. Praise comes from a good experience; "
          "to move NPS, fix the causes the problem themes point to (the network first)",
     "c": "Yes, but only in the South",
     "d": "No: the effect of praise is not significant"},
    "b",
    prompt="Praise has by far the largest effect (about +60 NPS points). Should Kestrel ask "
           "customers to write something nice in the survey to raise NPS?",
    feedback={"a": "Writing praise does not make the experience better. The theme is a marker "
                   "of a good experience, not a lever: in the simulation, comments are even "
                   "written after the ratings.",
              "c": "The South has the outage; prompting praise there changes the text, not the "
                   "network.",
              "d": "It is very significant. Significance is not the question: causation is."},
    hints=["Did the comment cause the score, or did the experience cause both?"],
    solution="b) Themes are markers of the experience (adjusted associations, not effects of "
             "writing). Act on the causes they point to: network outages, then price, speed "
             "and support.",
    explain="Read theme effects like driver importances: where the pain is, not a button to "
            "press.")


# ============================================================ Q4 revenue at risk of a theme
def _outage_risk(_c, baseline=True, months=12, scaled=True) -> float:
    import cxlab as cx
    d = _coded()
    frame = cx.retention.analysis_frame(_company(), responses="all", horizon=12)
    m = frame.merge(d[["response_id", "written", *THEMES]], on="response_id")
    m = m[(m["written"] == 1) & m["churn_12m"].notna()]
    base = m.loc[m[list(THEMES)].sum(axis=1) == 0, "churn_12m"].mean() if baseline else 0.0
    sub = m[m["network_outage"] == 1]
    active = int((_company().customers["churned"] == 0).sum())
    n = active * len(sub) / len(m) if scaled else len(sub)
    return float(n * (sub["churn_12m"].mean() - base) * months * sub["monthly_revenue"].mean())


_ex10_q4 = NumericExercise(
    _outage_risk, rel_tol=0.002, fmt="€{:,.0f}", what="the revenue at risk of outage comments",
    prompt="Scaled to Kestrel's active customers, how much annual revenue is at risk among "
           "customers whose comment is about a network outage, counting only the churn above "
           "commenters with no theme?",
    mistakes=[
        Mistake("all churn", lambda c: _outage_risk(c, baseline=False),
                "That counts all their churn. Commenters with no theme leave too: only the churn "
                "above theirs is linked to the theme (baseline='no theme', the default)."),
        Mistake("monthly", lambda c: _outage_risk(c, months=1),
                "That is a month's revenue. The churn is over 12 months: value customers at "
                "12 × monthly_revenue."),
        Mistake("respondents", lambda c: _outage_risk(c, scaled=False),
                "That counts the commenters only. Scale to the active base: "
                "customers=len(active)."),
    ],
    hints=["risk = cx.text.theme_revenue_at_risk(data, themes, 'churn_12m', 'annual', "
           "customers=len(active))",
           "risk.table.set_index('group').loc['network_outage', 'revenue_at_risk']"],
    solution="outage_risk = risk.table.set_index('group').loc['network_outage', 'revenue_at_risk']",
    explain="Its interval runs from a loss to a gain: a few hundred commenters followed for a "
            "year carry little churn. Never add the themes up: one customer can have several.")


# ============================================================ Q5 judgement
_ex10_q5 = JudgementExercise(
    "'I can give you the themes and a few quotes for your region, with names, numbers and "
    "e-mail addresses removed, for every theme with at least 30 comments. I cannot give you "
    "comments with customer ids: respondents were promised that their answers are reported "
    "without their identity, and a comment is often identifiable on its own. If you want to "
    "call customers back, we run a separate, opt-in call-back question (\"may we contact "
    "you?\") and route those cases through the complaints process.'\n"
    "Good answers: keep the survey's promise of confidentiality; aggregate themes and redacted "
    "quotes only from cells at or above the minimum base; call-backs only with consent, through "
    "a separate process; small cells stay suppressed even for senior readers.",
    prompt="The South's regional manager asks for every comment from her region with the "
           "customer id, so her team can call the unhappy customers back. What do you reply?",
    hints=["What were respondents promised, and which process exists for customers who "
           "want to be contacted?"])

ex10 = ExerciseSet("10_voice_of_the_customer", q1=_ex10_q1, q2=_ex10_q2, q3=_ex10_q3,
                   q4=_ex10_q4, q5=_ex10_q5)

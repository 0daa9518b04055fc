"""Exercises for notebook 08 democratising data.

Expected answers are computed here with plain pandas / numpy, independently of
:mod:`cxlab.metrics`, :mod:`cxlab.drivers` and :mod:`cxlab.report`: cell bases by ``groupby``,
NPS by the recipe in :mod:`.recipes`, and the LMG shares by brute force over all driver subsets
(:func:`.course03.lmg_brute_force`) of the correlation matrix of the complete answers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..contract import MIN_BASE  # the package-wide minimum base (30)
from .core import *
from .course03 import WIDELY_RATED, lmg_brute_force
from .recipes import *

# ============================================================ 08 democratising data
#: The waves pooled for the accountability map's driver model (the last four).
DRIVER_WAVES = ("2025Q4", "2026Q1", "2026Q2", LATEST)
#: Who is accountable for each touchpoint at Kestrel (the notebook's owner table).
OWNERS = {
    "network_reliability": "Network operations", "network_speed": "Network operations",
    "billing_clarity": "Billing", "billing_accuracy": "Billing",
    "price_value": "Pricing", "digital_selfservice": "Digital",
    "support_resolution": "Customer care", "support_speed": "Customer care",
    "onboarding": "Sales", "shop_experience": "Retail",
}


def _cell_bases(c, wave: str = LATEST) -> pd.Series:
    """Answered ltr per (region, segment) in ``wave``."""
    return _wave(c.survey, wave).groupby(["region", "segment"])["ltr"].count()


def _suppressed_regions(c, segment: str = "Small business", min_base: int = MIN_BASE):
    bases = _cell_bases(c).xs(segment, level="segment")
    return list(bases.index[bases < min_base])


def _small_business_nps(c, region: str = "West") -> float:
    s = _wave(c.survey)
    cell = s[(s["region"] == region) & (s["segment"] == "Small business")]
    return _nps(cell["ltr"])


def _west(c, segment: str | None = None) -> pd.Series:
    s = _wave(c.survey)
    s = s[s["region"] == "West"]
    return s["ltr"] if segment is None else s.loc[s["segment"] == segment, "ltr"]


def _driver_shares(c) -> pd.Series:
    """LMG share of R² of ltr on the six widely rated touchpoints, complete answers of the last
    four waves, by brute force (all 2^6 subsets)."""
    s = c.survey
    d = s[s["wave"].isin(DRIVER_WAVES)][[*WIDELY_RATED, "ltr"]].dropna()
    imp = lmg_brute_force(np.corrcoef(d.to_numpy(float), rowvar=False))
    return pd.Series(imp / imp.sum(), index=list(WIDELY_RATED))


def _owner_share(c, owner: str = "Network operations") -> float:
    shares = _driver_shares(c)
    return 100 * float(sum(v for k, v in shares.items() if OWNERS[k] == owner))


_ex08_q1 = SetExercise(
    _suppressed_regions, what="regions",
    mistakes=[
        Mistake("published", lambda c: [r for r in _cell_bases(c).xs("Small business", level=1).index
                                        if r not in _suppressed_regions(c)],
                "Those are the regions whose Small-business NPS CAN be published (30 answers or "
                "more). The question asks for the suppressed ones."),
        Mistake("base 50", lambda c: _suppressed_regions(c, min_base=50),
                "That would be a minimum base of 50. Kestrel's rule is 30 answers."),
        Mistake("consumer", lambda c: _suppressed_regions(c, segment="Consumer"),
                "Every Consumer cell has hundreds of answers. Look at the Small-business rows."),
    ],
    prompt=f"At a minimum base of {MIN_BASE}, which regions' Small-business NPS must be suppressed "
           f"in {LATEST}?",
    hints=[("The table has one row per region and customer segment, with its base n and a "
           "True/False column 'suppressed'."),
           ("list(cells.loc[cells['suppressed'] & (cells['segment'] == 'Small business'), "
           "'region'])")],
    solution="suppressed = list(cells.loc[cells['suppressed'] & (cells['segment'] == 'Small "
             "business'), 'region'])   # ['Central', 'South', 'West']",
    explain="Fewer than 30 answers each: show 'base too small', never the number.")

_ex08_q2 = NumericExercise(
    _small_business_nps, abs_tol=0.05, fmt="{:+.1f}", percent=True,
    what="the suppressed Small-business NPS of the West",
    mistakes=[
        Mistake("difference of scores", lambda c: _nps(_west(c)) - _nps(_west(c, "Consumer")),
                "You subtracted the two NPS values. NPS is an average over answers, so weight "
                "each by its base: (NPS_total × n_total − NPS_consumer × n_consumer) / "
                "(n_total − n_consumer)."),
        Mistake("total", lambda c: _nps(_west(c)),
                "That is the West's total, which is published. Remove the consumers' part of it."),
    ],
    prompt="The West's total NPS (301 answers) and its Consumer NPS (279) are both published. "
           "Work out the Small-business NPS (22 answers) that the minimum base was meant to hide.",
    hints=[("NPS is the average of +100 / 0 / −100 per answer, so NPS × n is a sum you can "
           "subtract."),
           "(total.value * total.n - consumer.value * consumer.n) / (total.n - consumer.n)"],
    solution="recovered = (total.value * total.n - consumer.value * consumer.n) / "
             "(total.n - consumer.n)",
    explain="Exactly the hidden number: suppression must survive subtraction. Suppress a second "
            "cell too (complementary suppression), or publish the total only.")

_ex08_q3 = ChoiceExercise(
    {"a": "the South's NPS, with its 95 % interval and base",
     "b": "the company's NPS, as the benchmark",
     "c": "the South's detractors with their customer ids, so that the manager can call them",
     "d": "the South's Small-business NPS (21 answers this quarter)",
     "e": "every other region's NPS, ranked, with the South at the bottom",
     "f": "customers' comments word for word, including those that name an agent"},
    {"a", "b"},
    feedback={"c": "(c) is respondent-level data: it goes nowhere near a report. Call-backs run "
                   "through the closed-loop process, only for customers who agreed to be "
                   "contacted.",
              "d": "(d) is below the minimum base of 30: suppressed.",
              "e": "(e) is other segments' data: the board's company report compares the "
                   "regions; a regional report benchmarks against the company.",
              "f": "(f) verbatims identify customers and staff: screen and anonymise them, "
                   "and never put a named agent in a report."},
    prompt="Which of these may go into the South's regional report? (several letters)",
    hints=[("Three rules: no small bases, no respondent-level data or verbatims, no other "
           "segments' data."), "Two options pass all three rules."],
    solution="'ab': the South's own figures with their uncertainty, and the company benchmark.",
    explain="Its own slice, with intervals, against the company: everything a regional manager "
            "needs to act, nothing that identifies a customer, an agent or another region.")

_ex08_q4 = ChoiceExercise(
    {"a": "Agree: a bigger minimum base always gives better numbers.",
     "b": "Disagree: 250 would suppress the South, whose NPS fell far beyond the noise. Keep 30 "
          "for publishing; the intervals already say how precise each number is.",
     "c": "Agree, and merge the South with Central so that it reaches 250 answers.",
     "d": "Drop the minimum base altogether: the intervals are enough."},
    "b",
    feedback={"a": "A higher base suppresses more groups; it does not make any published number "
                   "more accurate. Here it silences the one region in trouble.",
              "c": "Merging the South into a larger group dilutes exactly the problem the "
                   "report should show.",
              "d": "Below a minimum base the intervals are too wide to act on, and with a "
                   "handful of answers individual customers become recognisable."},
    prompt="The finance director proposes raising the minimum base from 30 to 250 'to be "
           "safe'. What do you reply?",
    hints=[("Look at the status of the South's report in the strict batch, and recall its NPS "
           "change in 2026Q2 (notebook 02).")],
    solution="b) The minimum base protects against publishing noise and identifying customers; "
             "above that, the interval carries the uncertainty.",
    explain="A minimum base is a floor against noise and re-identification, not a quality dial: "
            "set it once (30 here), then let the intervals speak.")

_ex08_q5 = NumericExercise(
    _owner_share, abs_tol=0.5, fmt="{:.1f} %", percent=True,
    what="Network operations' share of the explained variation",
    mistakes=[
        Mistake("reliability only", lambda c: 100 * float(_driver_shares(c)["network_reliability"]),
                "That is network reliability alone. Network operations owns network speed too: "
                "add both shares."),
        Mistake("largest owner excluded", lambda c: 100 - _owner_share(c),
                "That is everybody else's share. Take Network operations' own."),
    ],
    prompt="What share (%) of the explained variation in likelihood to recommend do the drivers "
           "owned by Network operations account for?",
    hints=["by_owner holds each owner's summed share (0–1).",
           "100 * by_owner['Network operations']"],
    solution="network_share = 100 * by_owner['Network operations']",
    explain="Half of what moves the score sits with one director, and it is where the South is "
            "furthest behind: the map says who must act.")

_ex08_q6 = JudgementExercise(
    "'I understand: you want to put things right with the unhappy customers. The survey promised "
    "respondents that their answers are reported in aggregate, so the analytics team cannot "
    "hand out the answer file. What we can do today: the closed-loop team calls back every "
    "detractor who ticked \"you may contact me\" (that list goes to them through the CRM, not "
    "by e-mail), and your report already shows what the South's detractors have in common — "
    "network reliability. Fixing that reaches every unhappy customer, not only the ones who "
    "answered.'\n"
    "Good answers: say no to the raw file and why (consent and data protection, trust in the "
    "survey, answers naming staff); offer the consented closed-loop route; redirect to the "
    "drivers; never by e-mail or spreadsheet; involve the data-protection officer if in doubt.",
    prompt="The South's manager e-mails: 'Send me the file of every South respondent, with "
           "names and scores, so my team can call the detractors.' What do you reply?",
    hints=["What did respondents agree to when they answered? Who may contact them, and how?"])

ex08 = ExerciseSet("08_democratising_data", q1=_ex08_q1, q2=_ex08_q2, q3=_ex08_q3,
                   q4=_ex08_q4, q5=_ex08_q5, q6=_ex08_q6)

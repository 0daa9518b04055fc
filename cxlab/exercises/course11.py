"""Exercises for notebook 11 who answered (non-response).

Expected answers are computed here with plain pandas from the invitations table (who was invited
each wave, who answered, and the simulator's true ltr of everyone invited), independently of
:mod:`cxlab.weighting` and :mod:`cxlab.metrics`.
"""

from __future__ import annotations

import pandas as pd

from .core import *
from .recipes import *


# ============================================================ 11 who answered
def _invited(c, wave: str = LATEST) -> pd.DataFrame:
    return c.invitations[c.invitations["wave"] == wave]


def _response_rate(c, wave: str = LATEST) -> float:
    inv = _invited(c, wave)
    return 100 * float(inv["responded"].sum()) / len(inv)


def _active_rate(c, wave: str = LATEST) -> float:
    """The wrong denominator: answers over every customer active at the start of the quarter."""
    start = pd.Period(wave, freq="Q").start_time
    cu = c.customers
    active = (cu["start_date"] <= start) & (cu["end_date"].isna() | (cu["end_date"] > start))
    return 100 * float((c.survey["wave"] == wave).sum()) / float(active.sum())


def _bias(c, wave: str = LATEST) -> float:
    inv = _invited(c, wave)
    return _nps(inv.loc[inv["responded"] == 1, "true_ltr"]) - _nps(inv["true_ltr"])


def _bias_vs_nonrespondents(c, wave: str = LATEST) -> float:
    inv = _invited(c, wave)
    return (_nps(inv.loc[inv["responded"] == 1, "true_ltr"])
            - _nps(inv.loc[inv["responded"] == 0, "true_ltr"]))


_ex11_q1 = NumericExercise(
    _response_rate, abs_tol=0.05, fmt="{:.1f} %", percent=True,
    what=f"the response rate of {LATEST}",
    mistakes=[
        Mistake("all waves", lambda c: 100 * float(c.invitations["responded"].mean()),
                "That is the response rate over all eight waves. Keep the rows of the latest wave."),
        Mistake("active customers", _active_rate,
                "You divided by every active customer. Only about half of them were invited; the "
                "response rate is answers over invitations."),
    ],
    prompt=f"What share of the customers invited in {LATEST} answered (in %)?",
    hints=["`invited` has one row per invited customer, with responded = 1 for those who answered.",
           "100 * invited['responded'].mean()"],
    solution="response_rate = 100 * invited['responded'].mean()   # 21.6",
    explain="About one invited customer in five answers: the score describes that fifth.")

_ex11_q2 = NumericExercise(
    _bias, abs_tol=0.05, fmt="{:+.1f}", what=f"the non-response bias of the {LATEST} NPS (points)",
    mistakes=[
        Mistake("versus non-respondents", _bias_vs_nonrespondents,
                "You compared respondents with non-respondents. The bias is the respondents' NPS "
                "minus the NPS of everyone invited (respondents and non-respondents together)."),
    ],
    prompt=f"By how many points does the respondents' NPS of {LATEST} overstate the true NPS of "
           "everyone invited? (respondents' NPS − true NPS of the invited)",
    hints=["The true NPS uses `true_ltr` of every invited row; the respondents' NPS only the rows "
           "with responded == 1.",
           "cx.metrics.nps(answered['true_ltr']).value - cx.metrics.nps(invited['true_ltr']).value"],
    solution="bias = cx.metrics.nps(answered['true_ltr']).value - "
             "cx.metrics.nps(invited['true_ltr']).value   # +12.0",
    explain="Twelve points, in a quarter where the interval is ±4: the bias is three times the "
            "noise, and no interval shows it.")

_ex11_q3 = ChoiceExercise(
    {"a": "Weighting to the customer file removes the part of the bias that region, plan, "
          "segment, tenure and contacts explain.",
     "b": "Weighting removes any bias, provided the weights match the population exactly.",
     "c": "When customers answer less because they are unhappy, weights on file attributes can "
          "only remove what those attributes predict of their score.",
     "d": "Weights widen the interval; the wider interval already accounts for the bias.",
     "e": "A higher response rate always means a smaller bias.",
     "f": "Comparing the response rates of customers who later left with those who stayed is "
          "one way the customer file can hint at the bias without any true score."},
    {"a", "c", "f"},
    feedback={"b": "(b): matching margins fixes the composition, not who answers within a group. "
                   "Kestrel's weights match every margin exactly and the bias stays at 8-14 points.",
              "d": "(d): the interval is about noise (who happened to be drawn); bias is "
                   "systematic and does not shrink as the base grows.",
              "e": "(e): bias depends on how different respondents are from non-respondents, not "
                   "on the rate alone (Groves 2006); a higher rate bought from the already happy "
                   "can even make it worse."},
    prompt="Which statements are true? (give all the letters, e.g. 'ab')",
    hints=["Weights can only act on what they see: the variables in the margins.",
           "Three statements are true."],
    solution="answer = 'acf'",
    explain="Weighting corrects what it can see; the rest of the bias needs a better design "
            "(more reminders to the unhappy, other channels, follow-up of a sample of "
            "non-respondents) or a model of the response itself.")

ex11 = ExerciseSet("11_who_answered", q1=_ex11_q1, q2=_ex11_q2, q3=_ex11_q3)

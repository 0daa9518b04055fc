"""Exercises for notebook 02 measuring with confidence."""

from __future__ import annotations

import math

from ..contract import MIN_BASE
from .core import *  # noqa: F403
from .recipes import *  # noqa: F403


# ============================================================ 02 measuring with confidence
def _nps_parts(scores) -> tuple[float, float, int]:
    s = _clean(scores)
    return _share(s >= 9), _share(s <= 6), len(s)


def _nps_sd(p: float, d: float) -> float:
    """Per-respondent SD of the promoter(+1)/passive(0)/detractor(−1) score, on −100..100."""
    return 100 * math.sqrt(p + d - (p - d) ** 2)


def _margin(c) -> float:
    p, d, n = _nps_parts(_ltr(c))
    return _Z95 * _nps_sd(p, d) / math.sqrt(n)


def _n_for_margin(c, margin: float = 3.0) -> float:
    p, d, _ = _nps_parts(_ltr(c))
    return math.ceil((_Z95 * _nps_sd(p, d) / margin) ** 2)


def _margin_mistakes() -> list[Mistake]:
    def parts(c):
        return _nps_parts(_ltr(c))

    def se(c):
        p, d, n = parts(c)
        return _nps_sd(p, d) / math.sqrt(n)

    def no_sqrt(c):
        p, d, n = parts(c)
        return _Z95 * 100 * (p + d - (p - d) ** 2) / n

    def promoters_only(c):
        p, _, n = parts(c)
        return _Z95 * 100 * math.sqrt(p * (1 - p) / n)

    return [Mistake("standard error", se, "That is the standard error. The 95 % margin of error "
                    "is 1.96 standard errors: multiply by 1.96."),
            Mistake("no square root", no_sqrt, "You forgot the square root: SE = 100 × √((p + d − "
                    "(p − d)²) / n)."),
            Mistake("promoters only", promoters_only, "That is the margin of the share of "
                    "promoters alone. NPS moves with two shares at once: use p + d − (p − d)².")]


def _sig_regions(c, previous: str = "2026Q1", current: str = PREVIOUS) -> list[str]:
    """Regions whose NPS changed significantly: two-sample Wald z-test, plain pandas."""
    out = []
    for region, grp in c.survey.groupby("region"):
        stats = []
        for wave in (previous, current):
            p, d, n = _nps_parts(grp.loc[grp["wave"] == wave, "ltr"])
            stats.append((100 * (p - d), _nps_sd(p, d) ** 2 / n))
        (a, va), (b, vb) = stats
        if abs(b - a) / math.sqrt(va + vb) > _Z95:
            out.append(region)
    return out


def _big_moves(c, previous: str = "2026Q1", current: str = PREVIOUS, points: float = 5.0):
    s = c.survey
    by = {w: s[s["wave"] == w].groupby("region")["ltr"].apply(_nps) for w in (previous, current)}
    diff = by[current] - by[previous]
    return list(diff.index[diff.abs() >= points])


def _agents_suppressed(c, min_base: int = MIN_BASE) -> int:
    answers = _wave(c.contacts).groupby("agent_id")["csat"].count()
    return int((answers < min_base).sum())


_ex02_q1 = NumericExercise(
    _margin, abs_tol=0.01, fmt="±{:.2f} points", percent=True,
    what=f"the 95 % margin of error of the {LATEST} NPS",
    mistakes=_margin_mistakes(),
    prompt=f"Compute the 95 % margin of error of the {LATEST} NPS with the formula "
           "1.96 × 100 × √((p + d − (p − d)²) / n).",
    hints=["p and d are the shares (0–1) of promoters and detractors, n the number of answers; "
           "they are computed in the cell.", "margin = 1.96 * 100 * np.sqrt((p + d - (p - d)**2) "
           "/ n)"],
    solution="margin = 1.96 * 100 * np.sqrt((p + d - (p - d) ** 2) / n)",
    explain="So NPS is 'x ± that'. cx.metrics.nps gives almost the same interval (a slightly "
            "better 'score' interval).")

_ex02_q2 = NumericExercise(
    _n_for_margin, abs_tol=1, rel_tol=0.01, fmt="{:,.0f}", what="the number of answers needed",
    prompt="How many responses would a ±3-point margin of error need, with the same shares?",
    mistakes=[Mistake("not squared", lambda c: _Z95 * _nps_sd(*_nps_parts(_ltr(c))[:2]) / 3,
                      "You forgot to square: n = (1.96 × SD / margin)²."),
              Mistake("margin as fraction",
                      lambda c: (_Z95 * _nps_sd(*_nps_parts(_ltr(c))[:2]) / 0.03) ** 2,
                      "You mixed scales: the SD is in NPS points (×100), so the margin must be 3, "
                      "not 0.03.")],
    hints=["Turn the margin formula around: margin = 1.96 × SD / √n  ⇒  n = (1.96 × SD / "
           "margin)².", "SD = 100 × √(p + d − (p − d)²) is already computed above as `sd`."],
    solution="n_needed = (1.96 * sd / 3) ** 2   # round up: np.ceil(...)",
    explain="Halving the margin takes four times the responses: precision is expensive.")

_ex02_q3 = NumericExercise(
    _agents_suppressed, abs_tol=0, fmt="{:,.0f}",
    what=f"the number of agents whose {LATEST} CSAT must be suppressed",
    prompt=f"How many of the agents who handled contacts in {LATEST} have fewer than 30 "
           "post-contact CSAT answers, so that their personal CSAT must not be published?",
    mistakes=[Mistake("contacts", lambda c: int((_wave(c.contacts).groupby("agent_id").size()
                                                 < MIN_BASE).sum()),
                      "You counted contacts. Only contacts whose customer answered the survey "
                      "(csat not missing) count towards the base."),
              Mistake("published", lambda c: int((_wave(c.contacts).groupby("agent_id")["csat"]
                                                  .count() >= MIN_BASE).sum()),
                      "That is the number of agents who CAN be published (30 answers or more)."),
              ],
    hints=["agent_csat has one row per agent and a True/False column 'suppressed'.",
           "agent_csat['suppressed'].sum() counts the True values."],
    solution="n_suppressed = agent_csat['suppressed'].sum()",
    explain="Most of them: an agent league table on one quarter's CSAT would rank noise. Report "
            "teams, pool quarters, or coach on the scorecard instead.")

_ex02_q4 = SetExercise(
    _sig_regions, what="regions",
    mistakes=[Mistake("big moves", _big_moves,
                      "You picked the regions whose NPS moved by 5 points or more. With ~300 "
                      "answers per region a 5-point move is well within the noise: use the "
                      "'significant' column (the CI of the change excludes 0).")],
    prompt=f"Which regions' NPS changed significantly from 2026Q1 to {PREVIOUS}?",
    hints=["`by_region` has a True/False column 'significant'.",
           "list(by_region.loc[by_region['significant'], 'region'])"],
    solution="significant = list(by_region.loc[by_region['significant'], 'region'])",
    explain="The other moves are noise until proven otherwise.")

_ex02_q5 = ChoiceExercise(
    {"a": "None: nothing changed", "b": "About 2", "c": "About 10", "d": "About 38"}, "b",
    prompt="Nothing changes at Kestrel for 40 quarters, and every quarter we test the change "
           "at 95 % confidence. How many quarters would we expect to show a 'significant' "
           "change anyway?",
    feedback={"a": "Even when nothing changes, a 95 % test cries wolf 5 % of the time.",
              "c": "That would be 25 %: a 95 % test is wrong 5 % of the time when nothing changed.",
              "d": "That is the number of quarters the test correctly stays quiet."},
    hints=["A 95 % interval misses the truth 5 % of the time."],
    solution="b) 5 % of 40 = 2 false alarms. With 5 regions × 4 metrics every quarter, expect "
             "one 'significant' change a quarter by chance alone: look for changes that repeat "
             "or that have a cause.",
    explain="5 % of 40 = 2 false alarms. Test 20 numbers a quarter and one will 'move' by "
            "chance: look for changes that persist and have a cause.")

_ex02_q6 = JudgementExercise(
    "'Thanks — good to see East moving the right way. With about 300 answers a quarter, East's "
    "NPS is uncertain by roughly ±10 points, and the change since last quarter is not "
    "statistically significant (its 95 % interval includes zero). Let's not pay or celebrate "
    "on it yet: if the rise holds next quarter, or we can point to what caused it, it is real.'\n"
    "Good replies: acknowledge the effort, give the margin in plain words, suggest what would "
    "make it convincing (persistence, a cause, pooling two quarters).",
    prompt="The East director emails: 'NPS up 4 points this quarter, bonus time!' Write a "
           "two-sentence reply.",
    hints=["Look at East's row in the change table: the interval of the difference."])

ex02 = ExerciseSet("02_measuring_with_confidence", q1=_ex02_q1, q2=_ex02_q2, q3=_ex02_q3,
                   q4=_ex02_q4, q5=_ex02_q5, q6=_ex02_q6)

"""Shared course data access and reference recipes (plain pandas, independent of cx.metrics)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from .core import *  # noqa: F403
from .core import Mistake, _company

__all__ = ['LATEST', 'PREVIOUS', '_NPS_FUNCTION_MISTAKES', '_NPS_WRONG', '_Z95', '_clean', '_company', '_csat', '_csat_mistakes', '_ltr', '_nps', '_nps_mistakes', '_share', '_wave']

# --------------------------------------------------------------------------- data access



# =========================================================================== course content
# Waves named in the notebooks (datasets/README.md: quarterly waves 2024Q4 ... 2026Q3).
LATEST, PREVIOUS = "2026Q3", "2026Q2"
_Z95 = 1.959963984540054  # standard normal 97.5 % quantile


def _clean(scores) -> pd.Series:
    return pd.Series(np.asarray(scores, dtype=float)).dropna()


def _share(mask: pd.Series) -> float:
    return float(mask.mean())


# ---- NPS: the right recipe and the typical wrong ones (plain pandas, independent of cx.metrics)
def _nps(scores) -> float:
    s = _clean(scores)
    return 100 * (_share(s >= 9) - _share(s <= 6))


_NPS_WRONG = [
    ("counts", lambda s: float((s >= 9).sum() - (s <= 6).sum()),
     "You subtracted the NUMBER of detractors from the NUMBER of promoters. NPS uses shares: "
     "divide each count by the number of respondents (passives included), subtract, × 100."),
    ("fraction", lambda s: _share(s >= 9) - _share(s <= 6),
     "That is NPS on a −1..+1 scale (shares as fractions). NPS is reported from −100 to +100: "
     "multiply by 100."),
    ("passives as detractors", lambda s: 100 * (_share(s >= 9) - _share(s <= 8)),
     "It looks like passives (7–8) were counted as detractors. Detractors answer 0–6 only; "
     "passives stay in the base (the denominator) but are neither added nor subtracted."),
    ("passives out of the base",
     lambda s: 100 * ((s >= 9).sum() - (s <= 6).sum()) / ((s >= 9) | (s <= 6)).sum(),
     "It looks like passives were left out of the base. Divide by ALL respondents, passives "
     "included."),
    ("6 as passive", lambda s: 100 * (_share(s >= 9) - _share(s <= 5)),
     "Close, but 6 is a detractor too: detractors answer 0–6."),
    ("8 as promoter", lambda s: 100 * (_share(s >= 8) - _share(s <= 6)),
     "Close, but 8 is a passive: promoters answer 9 or 10 only."),
    ("promoters only", lambda s: 100 * _share(s >= 9),
     "That is the share of promoters. Now subtract the share of detractors (0–6)."),
    ("mean", lambda s: float(s.mean()),
     "That is the mean likelihood-to-recommend (0–10), not NPS. NPS = % promoters (9–10) − "
     "% detractors (0–6)."),
]


def _nps_mistakes(get_scores: Callable) -> list[Mistake]:
    """NPS mistakes for a NumericExercise: each wrong recipe applied to ``get_scores(data)``."""
    return [Mistake(name, (lambda d, f=f: f(_clean(get_scores(d)))), msg)
            for name, f, msg in _NPS_WRONG]


_NPS_FUNCTION_MISTAKES = [Mistake(name, (lambda scores, f=f: f(_clean(scores))), msg)
                          for name, f, msg in _NPS_WRONG]


# ---- CSAT (top-2 box of 1–5)
def _csat(scores) -> float:
    return 100 * _share(_clean(scores) >= 4)


def _csat_mistakes(get_scores: Callable) -> list[Mistake]:
    wrong = [
        ("mean", lambda s: float(s.mean()),
         "That is the mean satisfaction on the 1–5 scale. CSAT is the SHARE answering 4 or 5 "
         "(the top-2 box), in %."),
        ("top box only", lambda s: 100 * _share(s == 5),
         "You counted only the 5s. CSAT's top-2 box counts 4 (satisfied) and 5 (very satisfied)."),
        ("top-3", lambda s: 100 * _share(s >= 3),
         "You counted 3s as satisfied. 3 is the neutral middle: CSAT counts 4 and 5 only."),
        ("count", lambda s: float((s >= 4).sum()),
         "That is the NUMBER of satisfied answers. Divide by the number of answers and × 100."),
    ]
    return [Mistake(n, (lambda d, f=f: f(_clean(get_scores(d)))), m) for n, f, m in wrong]


def _wave(frame: pd.DataFrame, wave: str = LATEST) -> pd.DataFrame:
    return frame[frame["wave"] == wave]


def _ltr(c, wave: str = LATEST):
    return _wave(c.survey, wave)["ltr"]



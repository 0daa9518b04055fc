"""Exercises for the course notebooks, with instant feedback (in the style of Kaggle's learntools).

Each course notebook has one exercise set, ``exNN``; each question in it is an exercise with
three methods::

    from cxlab.exercises import ex01
    ex01.q2.check(my_nps)   # ✓ / ✗ with a friendly explanation; never raises for a wrong answer
    ex01.q2.hint()          # a nudge (``hint(2)`` for the next one)
    ex01.q2.solution()      # the worked answer

Layout: ``core`` holds the framework (exercise types, :class:`Mistake`, :class:`ExerciseSet`);
``recipes`` the shared data access and plain-pandas reference recipes (NPS, CSAT and their
typical wrong turns), written independently of :mod:`cxlab.metrics` so the exercises double as a
cross-check of the package; ``courseNN`` the questions of notebook NN. Expected answers are
computed lazily from the bundled company. Judgement questions are not graded:
:meth:`JudgementExercise.check` shows a model answer.

Adding a notebook: write ``courseNN.py`` ending in ``exNN = ExerciseSet(...)`` and import it below.
"""

from .core import *  # noqa: F403
from .core import NOT_GIVEN  # noqa: F401
from .core import __all__ as _core_all
from .course00 import ex00
from .course01 import ex01
from .course02 import ex02
from .course03 import ex03
from .course04 import ex04
from .course05 import ex05
from .course06 import ex06
from .course07 import ex07
from .course08 import ex08
from .course09 import ex09
from .course10 import ex10
from .course11 import ex11

__all__ = [*_core_all, "NOT_GIVEN", "ex00", "ex01", "ex02", "ex03", "ex04", "ex05", "ex06", "ex07", "ex08", "ex09", "ex10", "ex11"]

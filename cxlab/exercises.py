"""Exercises for the course notebooks, with instant feedback (in the style of Kaggle's learntools).

Each course notebook has one exercise set, ``exNN``; each question in it is an exercise with
three methods::

    from cxlab.exercises import ex01
    ex01.q2.check(my_nps)   # ✓ / ✗ with a friendly explanation; never raises for a wrong answer
    ex01.q2.hint()          # a nudge (``hint(2)`` for the next one)
    ex01.q2.solution()      # the worked answer

Expected answers are computed lazily from the bundled company (``cx.datasets.load("kestrel")``)
with plain pandas arithmetic written here, independently of :mod:`cxlab.metrics`, so the
exercises double as a cross-check of the package. Known wrong turns (NPS from counts, on a
0–1 scale, passives counted as detractors, CSAT as a mean, ...) are recognised and explained.
Judgement questions are not graded: :meth:`JudgementExercise.check` shows a model answer.

Adding a notebook: define its questions at the bottom of this module and collect them in an
:class:`ExerciseSet` named ``exNN``.
"""

from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["Outcome", "Exercise", "NumericExercise", "ChoiceExercise", "SetExercise",
           "FunctionExercise", "PlotExercise", "JudgementExercise", "ExerciseSet", "Mistake",
           "is_unanswered", "ex00", "ex01", "ex02"]

CORRECT, INCORRECT, UNANSWERED, INFO = "correct", "incorrect", "unanswered", "info"
_SYMBOL = {CORRECT: "✓", INCORRECT: "✗", UNANSWERED: "…", INFO: "ℹ"}


class _NotGiven:
    """Marks ``check()`` called without an answer."""

    def __repr__(self) -> str:  # pragma: no cover - cosmetic
        return "<no answer>"


NOT_GIVEN = _NotGiven()


def _say(text: str) -> None:
    """Print in one write, so a notebook stores one output per message."""
    sys.stdout.write(text + "\n")


def is_unanswered(answer) -> bool:
    """True for the blanks a learner copy starts with: ``...``, ``None``, empty text, no argument."""
    if answer is NOT_GIVEN or answer is None or answer is Ellipsis:
        return True
    if isinstance(answer, str) and answer.strip() in {"", "...", "____"}:
        return True
    return False


@dataclass(frozen=True)
class Outcome:
    """Result of checking one answer: ``status`` is correct / incorrect / unanswered / info."""

    status: str
    message: str
    label: str = ""

    @property
    def correct(self) -> bool:
        return self.status == CORRECT

    def __str__(self) -> str:
        head = {CORRECT: "Correct", INCORRECT: "Not quite", UNANSWERED: "Not answered yet",
                INFO: "Model answer"}[self.status]
        label = f"{self.label} " if self.label else ""
        return f"{_SYMBOL[self.status]} {label}{head}: {self.message}"


# --------------------------------------------------------------------------- base class


class Exercise:
    """One question: ``check(answer)``, ``hint(n)``, ``solution()``.

    Subclasses implement :meth:`_grade` (answer already known to be given) and return an
    :class:`Outcome`. :meth:`evaluate` is the pure version of :meth:`check` used by tests.
    """

    answer_name = "your answer"

    def __init__(self, prompt: str = "", hints: Sequence[str] = (), solution: str = "",
                 label: str = "", answer_name: str | None = None):
        self.prompt = prompt
        if answer_name:
            self.answer_name = answer_name
        self.hints = tuple(hints)
        self.solution_text = solution
        self.label = label

    # -- public ------------------------------------------------------------------------
    def evaluate(self, answer=NOT_GIVEN) -> Outcome:
        """Grade ``answer`` and return the :class:`Outcome` (no printing)."""
        if is_unanswered(answer):
            return self._outcome(UNANSWERED, self._unanswered_message())
        try:
            return self._grade(answer)
        except _Reject as rejection:
            return self._outcome(INCORRECT, str(rejection))

    def check(self, answer=NOT_GIVEN) -> None:
        """Print ✓ / ✗ and an explanation. A wrong answer never raises."""
        _say(str(self.evaluate(answer)))

    def hint(self, n: int = 1) -> None:
        """Print hint ``n`` (1-based)."""
        _say(self.hint_text(n))

    def hint_text(self, n: int = 1) -> str:
        if not self.hints:
            return f"{self._prefix('💡')}No hint for this one: re-read the cell above it."
        total = len(self.hints)
        n = min(max(int(n), 1), total)
        head = f"Hint {n} of {total}" if total > 1 else "Hint"
        name = getattr(self, "_qualname", "")
        more = f"\n   (another hint: {name}.hint({n + 1}))" if n < total else ""
        return f"{self._prefix('💡')}{head}: {self.hints[n - 1]}{more}"

    def solution(self) -> None:
        """Print the worked solution."""
        _say(f"{self._prefix('💬')}Solution:\n{self.solution_text}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.label}: {self.prompt}>"

    # -- helpers for subclasses ----------------------------------------------------------
    def _prefix(self, symbol: str) -> str:
        return f"{symbol} {self.label} " if self.label else f"{symbol} "

    def _outcome(self, status: str, message: str) -> Outcome:
        return Outcome(status, message, self.label)

    def _unanswered_message(self) -> str:
        return (f"replace the `...` with {self.answer_name} and run the cell again. "
                f"Stuck? Try {self._call('hint')}.")

    def _call(self, method: str) -> str:
        return f"{self._qualname}.{method}()" if getattr(self, "_qualname", "") else f".{method}()"

    def _grade(self, answer) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError


class _Reject(Exception):
    """Raised inside _grade to turn a malformed answer into a friendly ✗ message."""


# --------------------------------------------------------------------------- numbers


@dataclass(frozen=True)
class Mistake:
    """A typical wrong turn: ``value(data)`` is what that mistake produces, ``message`` explains it.

    For a :class:`NumericExercise` ``value`` receives the exercise's data (see ``data``); for a
    :class:`FunctionExercise` it is a wrong implementation applied to each test case.
    """

    name: str
    value: Callable
    message: str


def _to_number(answer, what: str) -> float:
    """Turn a learner's scalar answer into a float or raise _Reject with the reason."""
    if hasattr(answer, "value") and not isinstance(answer, (pd.Series, pd.DataFrame, np.ndarray)):
        answer = answer.value  # a MetricResult: take its value
    if isinstance(answer, pd.DataFrame):
        raise _Reject(f"you gave a table (DataFrame); {what} is a single number. "
                      "Pick the cell you need, e.g. with .loc[row, column].")
    if isinstance(answer, (pd.Series, np.ndarray, list, tuple)):
        flat = np.asarray(answer, dtype=object).ravel()
        if len(flat) != 1:
            raise _Reject(f"you gave {len(flat)} numbers; {what} is a single number.")
        answer = flat[0]
    if isinstance(answer, (bool, np.bool_)):
        raise _Reject(f"you gave {answer!r}; {what} is a number.")
    if isinstance(answer, str):
        raise _Reject(f"you gave the text {answer!r}; give {what} as a number, without quotes "
                      "(e.g. 23.4, not '23.4').")
    try:
        number = float(answer)
    except (TypeError, ValueError):
        raise _Reject(f"you gave a {type(answer).__name__}; {what} is a single number.") from None
    if math.isnan(number):
        raise _Reject("your answer is NaN (not a number): did a filter leave no rows, or did a "
                      "division by zero slip in?")
    return number


def _given(value: float) -> str:
    """The learner's number as typed-ish: up to 6 significant digits, thousands separated."""
    return f"{value:,.6g}"


class NumericExercise(Exercise):
    """A number (or a labelled set of numbers, e.g. one per region) within a tolerance.

    ``expected`` is a callable receiving ``data()`` (default: the bundled company) and returning a
    float or a pandas Series; it is computed once, on first use. An answer is correct when
    ``|answer − expected| ≤ max(abs_tol, rel_tol·|expected|)`` (for every label of a Series).
    ``mistakes`` recognise typical wrong answers; generic checks recognise a fraction given for a
    percentage (and vice versa) and a flipped sign.
    """

    answer_name = "your number"

    def __init__(self, expected: Callable, *, abs_tol: float = 0.0, rel_tol: float = 1e-6,
                 mistakes: Sequence[Mistake] = (), fmt: str = "{:,.2f}", percent: bool = False,
                 what: str = "the answer", explain: str = "", data: Callable | None = None,
                 **kw):
        super().__init__(**kw)
        self._expected_fn = expected
        self.abs_tol, self.rel_tol = abs_tol, rel_tol
        self.mistakes = tuple(mistakes)
        self.fmt, self.percent, self.what, self.explain = fmt, percent, what, explain
        self._data_fn = data or _company

    @functools.cached_property
    def expected(self):
        return self._expected_fn(self._data_fn())

    def _mistake_values(self):
        data = self._data_fn()
        return [(m, m.value(data)) for m in self.mistakes]

    def _close(self, a: float, b: float) -> bool:
        return bool(abs(a - b) <= max(self.abs_tol, self.rel_tol * abs(b)))

    def _fmt(self, x: float) -> str:
        return self.fmt.format(x)

    def _grade(self, answer) -> Outcome:
        if isinstance(self.expected, pd.Series):
            return self._grade_series(answer)
        value = _to_number(answer, self.what)
        expected = float(self.expected)
        if self._close(value, expected):
            text = f"{self.what} is {self._fmt(expected)}."
            return self._outcome(CORRECT, f"{text} {self.explain}".strip())
        for mistake, wrong in self._mistake_values():
            if not isinstance(wrong, pd.Series) and self._close(value, float(wrong)):
                return self._outcome(INCORRECT, f"you gave {_given(value)}. {mistake.message}")
        return self._outcome(INCORRECT, self._generic(value, expected))

    def _generic(self, value: float, expected: float) -> str:
        given = f"you gave {_given(value)}."
        if self.percent and expected != 0 and self._close(value * 100, expected):
            return (f"{given} That looks like a fraction (0–1). Report it as a percentage or on "
                    "the −100..+100 scale: multiply by 100.")
        if self.percent and expected != 0 and self._close(value / 100, expected):
            return f"{given} That is 100 times too large: did you multiply by 100 twice?"
        if expected != 0 and self._close(-value, expected):
            return f"{given} The size is right but the sign is flipped: check the order of the subtraction."
        return f"{given} That is not what we get. Re-read the question; {self._call('hint')} may help."

    def _grade_series(self, answer) -> Outcome:
        expected: pd.Series = self.expected
        if isinstance(answer, pd.DataFrame):
            if answer.shape[1] == 1:
                answer = answer.iloc[:, 0]
            else:
                raise _Reject(f"you gave a table with columns {list(answer.columns)}; give one "
                              "column (a Series), e.g. table['value'], or a dict {label: number}.")
        if isinstance(answer, Mapping):
            answer = pd.Series(dict(answer))
        if not isinstance(answer, pd.Series):
            raise _Reject(f"give a pandas Series (or a dict) with one number per "
                          f"{expected.index.name or 'label'}, e.g. {list(expected.index[:2])} ...; "
                          f"you gave a {type(answer).__name__}.")
        got_labels = {str(k) for k in answer.index}
        want_labels = {str(k) for k in expected.index}
        if got_labels != want_labels:
            missing, extra = sorted(want_labels - got_labels), sorted(got_labels - want_labels)
            parts = [f"missing {missing}" if missing else "", f"unexpected {extra}" if extra else ""]
            raise _Reject(f"the labels do not match: {'; '.join(p for p in parts if p)}. "
                          f"Expected one number for each of {sorted(want_labels)}.")
        answer = answer.copy()
        answer.index = answer.index.map(str)
        exp = expected.copy()
        exp.index = exp.index.map(str)
        try:
            got = pd.to_numeric(answer, errors="raise").astype(float).reindex(exp.index)
        except (TypeError, ValueError):
            raise _Reject("some of your values are not numbers.") from None
        if got.isna().any():
            raise _Reject(f"your answer has missing values for {list(got.index[got.isna()])}.")

        def all_close(target: pd.Series) -> bool:
            return all(self._close(g, t) for g, t in zip(got, target.reindex(exp.index)))

        if all_close(exp):
            return self._outcome(CORRECT, f"all {len(exp)} values match. {self.explain}".strip())
        for mistake, wrong in self._mistake_values():
            if isinstance(wrong, pd.Series):
                wrong = wrong.copy()
                wrong.index = wrong.index.map(str)
                if all_close(wrong.astype(float)):
                    return self._outcome(INCORRECT, mistake.message)
        if self.percent and all_close(exp / 100):
            return self._outcome(INCORRECT, "these look like fractions (0–1): multiply by 100.")
        wrong_labels = [k for k in exp.index if not self._close(got[k], exp[k])]
        return self._outcome(INCORRECT, f"{len(wrong_labels)} of {len(exp)} values differ "
                             f"(e.g. {wrong_labels[0]}: you gave {_given(got[wrong_labels[0]])}).")


# --------------------------------------------------------------------------- choices


def _normalise_choice(answer) -> set[str]:
    if isinstance(answer, str):
        parts = answer.replace(";", ",").replace(" and ", ",").split(",")
        if len(parts) == 1 and " " in answer.strip():
            parts = answer.split()
    elif isinstance(answer, Iterable):
        parts = list(answer)
    else:
        raise _Reject(f"give the letter of your choice as text, e.g. 'b'; you gave {answer!r}.")
    out = set()
    for p in parts:
        if not isinstance(p, str):
            raise _Reject(f"give the letters as text, e.g. 'b'; you gave {p!r}.")
        p = p.strip().strip("()[].").lower()
        if p:
            out.add(p)
    return out


class ChoiceExercise(Exercise):
    """Multiple choice: ``options`` maps letters to text; ``correct`` is one letter or a set.

    ``feedback`` maps a wrong letter to the reason it is wrong.
    """

    answer_name = "the letter of your choice, e.g. 'b'"

    def __init__(self, options: Mapping[str, str], correct: str | Iterable[str], *,
                 feedback: Mapping[str, str] | None = None, explain: str = "", **kw):
        super().__init__(**kw)
        self.options = dict(options)
        self.correct = {correct} if isinstance(correct, str) else set(correct)
        self.feedback = dict(feedback or {})
        self.explain = explain
        unknown = self.correct - set(self.options)
        if unknown:
            raise ValueError(f"correct option(s) {unknown} not among {list(self.options)}")

    def options_text(self) -> str:
        return "\n".join(f"  {k}) {v}" for k, v in self.options.items())

    def _grade(self, answer) -> Outcome:
        chosen = _normalise_choice(answer)
        if len(chosen) == 1 and (word := next(iter(chosen))) not in self.options \
                and set(word) <= set(self.options):
            chosen = set(word)  # "ace" for a, c and e
        unknown = chosen - set(self.options)
        if unknown:
            raise _Reject(f"{sorted(unknown)} is not one of the options {sorted(self.options)}.")
        if chosen == self.correct:
            return self._outcome(CORRECT, self.explain or "well done.")
        wrong = sorted(chosen - self.correct)
        reasons = [self.feedback[w] for w in wrong if w in self.feedback]
        if reasons:
            return self._outcome(INCORRECT, " ".join(reasons))
        if len(self.correct) > 1 and chosen < self.correct:
            return self._outcome(INCORRECT, f"right so far, but more than {len(chosen)} option(s) "
                                 "apply.")
        return self._outcome(INCORRECT, f"think again. {self._call('hint')} may help.")


class SetExercise(Exercise):
    """A set of labels (e.g. the regions whose change is significant); order does not matter.

    ``expected(data)`` returns an iterable of labels. Labels compare case-insensitively. An empty
    set is a valid expected answer (learners give ``[]``).
    """

    answer_name = "a list of names, e.g. ['North', 'East'] (or [] for none)"

    def __init__(self, expected: Callable, *, mistakes: Sequence[Mistake] = (), explain: str = "",
                 what: str = "labels", data: Callable | None = None, **kw):
        super().__init__(**kw)
        self._expected_fn = expected
        self.mistakes = tuple(mistakes)
        self.explain, self.what = explain, what
        self._data_fn = data or _company

    @functools.cached_property
    def expected(self) -> set[str]:
        return {str(x) for x in self._expected_fn(self._data_fn())}

    @staticmethod
    def _norm(values) -> dict[str, str]:
        if isinstance(values, str):
            values = [values]
        if isinstance(values, (pd.Series, pd.Index, np.ndarray)):
            values = list(values)
        if not isinstance(values, Iterable):
            raise _Reject(f"give a list of names, e.g. ['North', 'East']; you gave {values!r}.")
        return {str(v).strip().casefold(): str(v) for v in values}

    def _grade(self, answer) -> Outcome:
        got = self._norm(answer)
        want = self._norm(self.expected)
        if set(got) == set(want):
            names = ", ".join(sorted(want.values())) or "none"
            return self._outcome(CORRECT, f"{names}. {self.explain}".strip())
        data = self._data_fn()
        for mistake in self.mistakes:
            if set(got) == set(self._norm(mistake.value(data))):
                return self._outcome(INCORRECT, mistake.message)
        missing = len(set(want) - set(got))
        extra = sorted(got[k] for k in set(got) - set(want))
        parts = []
        if extra:
            parts.append(f"{', '.join(extra)} should not be in the list")
        if missing:
            parts.append(f"{missing} {self.what} missing")
        return self._outcome(INCORRECT, "; ".join(parts) + ".")


# --------------------------------------------------------------------------- functions, plots


class FunctionExercise(Exercise):
    """The learner writes a function; it is run on ``cases`` = [(args tuple, expected), ...].

    ``mistakes`` hold wrong implementations: if the learner's function agrees with one on every
    case, that mistake's message is shown.
    """

    answer_name = "your function (its name, without brackets)"

    def __init__(self, cases: Sequence[tuple[tuple, float]], *, mistakes: Sequence[Mistake] = (),
                 abs_tol: float = 1e-6, explain: str = "", **kw):
        super().__init__(**kw)
        self.cases = list(cases)
        self.mistakes = tuple(mistakes)
        self.abs_tol = abs_tol
        self.explain = explain

    @staticmethod
    def _call_case(fn, args):
        try:
            return fn(*args)
        except Exception as err:  # the learner's code may fail in any way
            shown = ", ".join(_short(a) for a in args)
            raise _Reject(f"your function raised {type(err).__name__}: {err} when called "
                          f"with {shown}.") from None

    def _results(self, fn) -> list[float]:
        return [_to_number(self._call_case(fn, args), "the function's result")
                for args, _ in self.cases]

    def _grade(self, answer) -> Outcome:
        if not callable(answer):
            raise _Reject(f"give the function itself (e.g. check(my_nps)), not its result; you "
                          f"gave a {type(answer).__name__}.")
        first = self._call_case(answer, self.cases[0][0])
        if first is Ellipsis:
            return self._outcome(UNANSWERED, "your function still returns `...`: write its body, "
                                 f"run the cell again. Stuck? Try {self._call('hint')}.")
        if first is None:
            raise _Reject("your function returns None: did you forget the `return` line?")
        got = self._results(answer)
        want = [float(e) for _, e in self.cases]
        if all(abs(g - w) <= self.abs_tol for g, w in zip(got, want)):
            return self._outcome(CORRECT, f"your function passes all {len(want)} test cases. "
                                 f"{self.explain}".strip())
        for mistake in self.mistakes:
            wrong = [float(mistake.value(*args)) for args, _ in self.cases]
            if all(abs(g - w) <= self.abs_tol for g, w in zip(got, wrong)):
                return self._outcome(INCORRECT, mistake.message)
        for (args, w), g in zip(self.cases, got):
            if abs(g - w) > self.abs_tol:
                return self._outcome(INCORRECT, f"for {', '.join(_short(a) for a in args)} your "
                                     f"function returns {g:g}, but the answer is {float(w):g}.")
        raise AssertionError("unreachable")  # pragma: no cover


def _short(value, limit: int = 60) -> str:
    if isinstance(value, pd.Series):
        value = value.tolist()
    text = repr(list(value)) if isinstance(value, np.ndarray) else repr(value)
    return text if len(text) <= limit else text[: limit - 4] + " ...]"


class PlotExercise(Exercise):
    """A chart (matplotlib Axes) that must have a title, labelled axes and something drawn."""

    answer_name = "the Axes your plotting call returned (e.g. ax = sns.barplot(...))"

    def __init__(self, explain: str = "", **kw):
        super().__init__(**kw)
        self.explain = explain

    def _grade(self, answer) -> Outcome:
        from matplotlib.axes import Axes

        if hasattr(answer, "ax") and isinstance(answer.ax, Axes):  # seaborn FacetGrid
            answer = answer.ax
        if not isinstance(answer, Axes):
            raise _Reject(f"give the Axes of your chart (seaborn functions return it: "
                          f"ax = sns.barplot(...)); you gave a {type(answer).__name__}.")
        drawn = answer.patches or answer.lines or answer.collections or answer.images
        missing = [name for name, ok in [("a title (ax.set_title)", answer.get_title()),
                                         ("an x-axis label", answer.get_xlabel()),
                                         ("a y-axis label", answer.get_ylabel()),
                                         ("any data drawn", drawn)] if not ok]
        if missing:
            return self._outcome(INCORRECT, "the chart is missing " + ", ".join(missing) + ". "
                                 "A chart on a projector needs to stand on its own.")
        return self._outcome(CORRECT, f"titled, labelled and drawn. {self.explain}".strip())


class JudgementExercise(Exercise):
    """An open question: not graded; ``check`` shows a model answer to compare with yours."""

    answer_name = "your answer as text, e.g. my_answer = \"...\""

    def __init__(self, model_answer: str, **kw):
        kw.setdefault("solution", model_answer)
        super().__init__(**kw)
        self.model_answer = model_answer

    def _unanswered_message(self) -> str:
        return ("write your answer in the string (e.g. my_answer = \"I would ...\") and run the "
                "cell: you will then see a model answer to compare with yours. Not graded.")

    def _grade(self, answer) -> Outcome:
        if not isinstance(answer, str):
            raise _Reject(f"write your answer as text in quotes; you gave a {type(answer).__name__}.")
        return self._outcome(INFO, "thanks — there is no single right answer. Compare yours "
                             f"with this one:\n{self.model_answer}")


# --------------------------------------------------------------------------- sets of exercises


class ExerciseSet:
    """The exercises of one notebook: ``ex01.q1``, ``ex01.q2``, ...; ``print(ex01)`` lists them."""

    def __init__(self, notebook: str, **exercises: Exercise):
        self.notebook = notebook
        self._exercises = dict(exercises)
        prefix = f"ex{notebook[:2]}"
        for key, ex in self._exercises.items():
            ex.label = ex.label or key.upper()
            ex._qualname = f"{prefix}.{key}"
            setattr(self, key, ex)

    def __iter__(self):
        return iter(self._exercises.items())

    def __len__(self) -> int:
        return len(self._exercises)

    def __repr__(self) -> str:
        lines = [f"Exercises for {self.notebook}:"]
        lines += [f"  {k}: {ex.prompt}" for k, ex in self._exercises.items()]
        return "\n".join(lines)


# --------------------------------------------------------------------------- data access


@functools.lru_cache(maxsize=1)
def _company():
    from . import datasets

    return datasets.load("kestrel")


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


# ============================================================ 00 start here
_ex00_q0 = NumericExercise(
    lambda c: 4, abs_tol=0, fmt="{:,.0f}", what="the number of tables",
    prompt="Practice: how many tables of data does Kestrel Connect have?",
    mistakes=[Mistake("truth", lambda c: 5, "`truth` is not a table of data: it is the answer "
                      "key of the simulation (a dict). Count the DataFrames.")],
    hints=["They are listed in the output of the cell that loaded `company`."],
    solution="4: customers, survey, contacts and pulse (truth is the simulation's answer key).\n"
             "answer = 4",
    explain="customers, survey, contacts and pulse.")

_ex00_q1 = NumericExercise(
    lambda c: len(c.customers), abs_tol=0, fmt="{:,.0f}", what="the number of customers",
    prompt="How many customers are in the customers table?",
    mistakes=[
        Mistake("survey rows", lambda c: len(c.survey),
                "That is the number of survey RESPONSES. The customers table has one row per "
                "customer."),
        Mistake("respondents", lambda c: c.survey["customer_id"].nunique(),
                "That is the number of customers who answered the survey at least once. Count "
                "the rows of company.customers."),
        Mistake("active only", lambda c: int((c.customers["churned"] == 0).sum()),
                "That counts only the active customers; the table also holds those who left "
                "(churned = 1)."),
    ],
    hints=["One row per customer: len(company.customers) counts the rows."],
    solution="n_customers = len(company.customers)   # or company.customers.shape[0]",
    explain="Active and former customers together: one row each.")

_ex00_q2 = NumericExercise(
    lambda c: 100 * c.customers["churned"].mean(), abs_tol=0.05, fmt="{:.1f} %", percent=True,
    what="the share of customers who have left",
    prompt="What percentage of the customers in the table have left Kestrel (churned)?",
    mistakes=[
        Mistake("count", lambda c: float(c.customers["churned"].sum()),
                "That is the NUMBER of customers who left. Divide by the number of customers, "
                "× 100."),
        Mistake("active share", lambda c: 100 * (1 - c.customers["churned"].mean()),
                "That is the share still active. The question asks for the share who left."),
    ],
    hints=["churned is 1 for a customer who left and 0 otherwise, so its mean is the share who "
           "left.", "100 * company.customers['churned'].mean()"],
    solution="churned_pct = 100 * company.customers['churned'].mean()",
    explain="Careful: this mixes customers who joined in 2014 with last month's; notebook 01 "
            "turns it into a proper 12-month retention rate.")

_ex00_q3 = NumericExercise(
    lambda c: len(_wave(c.survey)), abs_tol=0, fmt="{:,.0f}",
    what=f"the number of survey responses in {LATEST}",
    prompt=f"How many relationship-survey responses did the latest wave ({LATEST}) collect?",
    mistakes=[Mistake("all waves", lambda c: len(c.survey),
                      f"That counts all waves. Keep only the rows where wave == '{LATEST}' first."),
              Mistake("contacts", lambda c: len(_wave(c.contacts)),
                      "That counts contacts (the post-contact survey). Use company.survey.")],
    hints=[f"Filter first: survey[survey['wave'] == '{LATEST}'], then count the rows with len()."],
    solution=f"latest = survey[survey['wave'] == '{LATEST}']\nn_latest = len(latest)",
    explain="About 1,500 answers a quarter: enough for the company, thin for a region "
            "(notebook 02).")

_ex00_q4 = SetExercise(
    lambda c: [c.customers["region"].value_counts().idxmax()], what="region",
    answer_name="a region name in quotes, e.g. 'East'",
    prompt="Which region has the most customers?",
    hints=["company.customers['region'].value_counts() counts the customers of each region, "
           "largest first."],
    solution="company.customers['region'].value_counts()   # the first row is the largest\n"
             "top_region = company.customers['region'].value_counts().idxmax()")

_ex00_q5 = ChoiceExercise(
    {"a": "customers", "b": "survey", "c": "contacts", "d": "pulse"}, "c",
    prompt="A customer phones about a wrong bill and afterwards rates the call. Which table "
           "holds that rating?",
    feedback={
        "a": "customers holds who the customer is (plan, region, revenue, churn), not ratings.",
        "b": "survey is the quarterly RELATIONSHIP survey (overall view of Kestrel), not the "
             "rating of one call.",
        "d": "pulse is the EMPLOYEE survey: it is how staff feel, not customers.",
    },
    hints=["Look for the table with one row per contact, with channel, team and a csat column."],
    solution="c) contacts: one row per contact, with its post-contact csat and ces.",
    explain="contacts: one row per contact, with the post-contact csat (1–5) and ces (1–7).")

_ex00_q6 = PlotExercise(
    prompt="Draw a bar chart of the number of customers per region, with a title and axis labels.",
    hints=["ax = sns.countplot(data=company.customers, x='region') draws the bars and returns "
           "the Axes.", "Then ax.set(title='...', xlabel='...', ylabel='...')."],
    solution="ax = sns.countplot(data=company.customers, x='region',\n"
             "                   order=company.customers['region'].value_counts().index)\n"
             "ax.set(title='Customers per region', xlabel='Region', ylabel='Customers')",
    explain="Ordering the bars by size (order=...) makes the largest jump out.")

_ex00_q7 = JudgementExercise(
    "• 'Which touchpoints drive whether customers recommend us, and which of them are we bad "
    "at?' (notebook 03)\n"
    "• 'How much revenue do we lose each year through customers who had a bad support "
    "experience?' (notebooks 04–06)\n"
    "• 'Why did retention fall in the South?' (the capstone, notebook 09)\n"
    "A good question names a decision it would change.",
    prompt="Write one question about Kestrel's customers that you would like this data to answer "
           "by the end of the course.",
    hints=["Think of a decision you will have to make next quarter."])

ex00 = ExerciseSet("00_start_here", q0=_ex00_q0, q1=_ex00_q1, q2=_ex00_q2, q3=_ex00_q3,
                   q4=_ex00_q4, q5=_ex00_q5, q6=_ex00_q6, q7=_ex00_q7)


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


def _agents_suppressed(c, min_base: int = 30) -> int:
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
                                                 < 30).sum()),
                      "You counted contacts. Only contacts whose customer answered the survey "
                      "(csat not missing) count towards the base."),
              Mistake("published", lambda c: int((_wave(c.contacts).groupby("agent_id")["csat"]
                                                  .count() >= 30).sum()),
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

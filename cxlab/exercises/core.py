"""The exercise framework: checks, hints and solutions, with instant feedback (in the style of Kaggle's learntools).

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
           "is_unanswered"]

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
    from .. import datasets

    return datasets.load("kestrel")



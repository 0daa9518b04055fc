"""Exercise checks: each accepts the right answer, rejects typical wrong ones with the right message,
and never raises for a wrong or missing answer.

Framework tests use a tiny hand-made data set whose answers are worked out by hand in the
comments; the course tests (further down) compute the right answer through the package
(cx.metrics) — a path independent of the plain-pandas arithmetic inside the exercise definitions —
and the typical wrong answers by the mistaken recipe itself.
"""


import numpy as np
import pandas as pd
import pytest

from cxlab import exercises as X
from cxlab.exercises import Mistake

# 10 answers: promoters 10,9,9,10,10 (5), passives 8,7,7 (3), detractors 6,3 (2): NPS = 30
LTR = pd.Series([10, 9, 9, 10, 8, 7, 7, 6, 3, 10])  # P=5, passives=3, D=2 -> NPS = 30
TOY = {"ltr": LTR}


def toy():
    return TOY


def nps_exercise():
    return X.NumericExercise(
        lambda d: 30.0, data=toy, abs_tol=0.05, percent=True, what="NPS", fmt="{:+.1f}",
        mistakes=[Mistake("counts", lambda d: 5 - 2, "You subtracted counts."),
                  Mistake("passives", lambda d: 100 * (5 - 5) / 10, "Passives are not detractors.")],
        hints=["first hint", "second hint"], solution="100 * (P - D)", label="Q1")


@pytest.mark.parametrize("blank", [..., None, "", "  ", "____", X.NOT_GIVEN])
def test_blank_answers_say_not_answered_yet(blank, capsys):
    ex = nps_exercise()
    out = ex.evaluate(blank)
    assert out.status == "unanswered" and not out.correct
    if blank is X.NOT_GIVEN:
        ex.check()
    else:
        ex.check(blank)
    printed = capsys.readouterr().out
    assert printed.startswith("… Q1 Not answered yet") and "hint()" in printed


@pytest.mark.parametrize("answer", [30, 30.0, 30.04, np.float64(29.96), pd.Series([30.0]),
                                    np.array([30.0])])
def test_numeric_accepts_right_answer_within_tolerance(answer, capsys):
    ex = nps_exercise()
    assert ex.evaluate(answer).correct
    ex.check(answer)
    assert capsys.readouterr().out.startswith("✓ Q1 Correct: NPS is +30.0.")


def test_numeric_accepts_a_result_object_with_value():
    class Result:
        value = 30.01
    assert nps_exercise().evaluate(Result()).correct


@pytest.mark.parametrize("answer, fragment", [
    (3, "You subtracted counts."),
    (0, "Passives are not detractors."),
    (0.30, "fraction"),              # -1..1 scale
    (3000, "100 times too large"),
    (-30, "sign is flipped"),
    (30.2, "not what we get"),       # outside the 0.05 tolerance
    ("30", "without quotes"),
    (True, "is a number"),
    (float("nan"), "NaN"),
    ([30, 31], "2 numbers"),
    (pd.DataFrame({"a": [30]}), "table"),
])
def test_numeric_rejects_typical_mistakes_with_a_message(answer, fragment, capsys):
    ex = nps_exercise()
    out = ex.evaluate(answer)
    assert out.status == "incorrect" and fragment in out.message, out.message
    ex.check(answer)  # prints, never raises
    assert capsys.readouterr().out.startswith("✗ Q1 Not quite:")


def test_hints_and_solution(capsys):
    ex = nps_exercise()
    ex.hint()
    ex.hint(2)
    ex.hint(9)  # beyond the last: shows the last
    ex.solution()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "💡 Q1 Hint 1 of 2: first hint" and ".hint(2)" in lines[1]
    assert lines[2] == lines[3] == "💡 Q1 Hint 2 of 2: second hint"
    assert "100 * (P - D)" in "\n".join(lines[4:])


def test_series_answers_by_label():
    expected = pd.Series({"North": 10.0, "South": -5.0}, name="nps")
    ex = X.NumericExercise(lambda d: expected, data=toy, abs_tol=0.05, percent=True,
                           mistakes=[Mistake("counts", lambda d: pd.Series({"North": 4, "South": -2}),
                                             "Counts again.")])
    assert ex.evaluate({"South": -5.01, "North": 10}).correct
    assert ex.evaluate(expected.to_frame()).correct
    assert "Counts again." in ex.evaluate({"North": 4, "South": -2}).message
    assert "fractions" in ex.evaluate(expected / 100).message
    assert "missing ['South']" in ex.evaluate({"North": 10}).message
    assert "1 of 2 values differ" in ex.evaluate({"North": 10, "South": 5}).message
    assert "Series" in ex.evaluate(3.0).message


def test_choice_single_and_multiple():
    single = X.ChoiceExercise({"a": "x", "b": "y", "c": "z"}, "b", feedback={"a": "a is wrong because"})
    assert single.evaluate("b").correct and single.evaluate(" B) ").correct
    assert single.evaluate("a").message == "a is wrong because"
    assert "think again" in single.evaluate("c").message
    assert "not one of the options" in single.evaluate("e").message
    multi = X.ChoiceExercise({"a": "x", "b": "y", "c": "z"}, {"a", "c"})
    assert multi.evaluate("a, c").correct and multi.evaluate(["c", "a"]).correct
    assert multi.evaluate("c a").correct and multi.evaluate("AC").correct
    assert "more than 1" in multi.evaluate("a").message
    with pytest.raises(ValueError):
        X.ChoiceExercise({"a": "x"}, "b")


def test_set_exercise_ignores_order_and_case_and_names_the_extras():
    ex = X.SetExercise(lambda d: ["South", "East"], data=toy, what="regions",
                       mistakes=[Mistake("naive", lambda d: ["South", "East", "West"],
                                         "West moved, but within the noise.")])
    assert ex.evaluate(["east", "South"]).correct
    assert ex.evaluate(pd.Series(["East", "South"])).correct
    assert ex.evaluate(["South", "East", "West"]).message == "West moved, but within the noise."
    assert "North should not be" in ex.evaluate(["South", "East", "North"]).message
    assert "1 regions missing" in ex.evaluate(["South"]).message
    none = X.SetExercise(lambda d: [], data=toy)
    assert none.evaluate([]).correct
    single = X.SetExercise(lambda d: ["Central"], data=toy)
    assert single.evaluate("central").correct


def right_nps(scores):
    s = pd.Series(scores, dtype=float).dropna()
    return 100 * ((s >= 9).mean() - (s <= 6).mean())


def test_function_exercise_runs_the_learners_function():
    cases = [(([10, 9, 8, 7, 6, 0],), 0.0), (([10, 10, 10, 8],), 75.0), (([0, 1, 2],), -100.0)]
    ex = X.FunctionExercise(cases, mistakes=[
        Mistake("fraction", lambda s: right_nps(s) / 100, "Multiply by 100.")])
    assert ex.evaluate(right_nps).correct
    assert ex.evaluate(lambda s: right_nps(s) / 100).message == "Multiply by 100."
    out = ex.evaluate(lambda s: 1 / 0)
    assert out.status == "incorrect" and "ZeroDivisionError" in out.message
    assert "returns 0, but the answer is 75" in ex.evaluate(lambda s: 0.0).message
    assert "not its result" in ex.evaluate(12.5).message
    assert ex.evaluate(lambda s: ...).status == "unanswered"  # the learner copy's stub
    assert "forget the `return`" in ex.evaluate(lambda s: None).message


def test_plot_exercise_wants_title_labels_and_data():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ex = X.PlotExercise()
    fig, ax = plt.subplots()
    assert "any data drawn" in ex.evaluate(ax).message
    ax.bar(["a", "b"], [1, 2])
    msg = ex.evaluate(ax).message
    assert "a title" in msg and "x-axis label" in msg
    ax.set(title="NPS by region", xlabel="Region", ylabel="NPS")
    assert ex.evaluate(ax).correct
    assert "Axes" in ex.evaluate(fig).message
    plt.close(fig)


def test_judgement_shows_a_model_answer_and_is_not_graded(capsys):
    ex = X.JudgementExercise("Three goals, linked to retention.", label="Q9")
    assert ex.evaluate(...).status == "unanswered"
    out = ex.evaluate("I would pick NPS")
    assert out.status == "info" and "Three goals" in out.message
    assert ex.evaluate(42).status == "incorrect"
    ex.solution()
    assert "Three goals" in capsys.readouterr().out


def test_exercise_set_names_its_questions():
    s = X.ExerciseSet("07_demo", q1=nps_exercise(), q2=X.JudgementExercise("m"))
    assert s.q1.label == "Q1" and s.q2.label == "Q2" and len(s) == 2
    assert "ex07.q1.hint()" in s.q1.evaluate(...).message
    assert "07_demo" in repr(s)


# =========================================================================== the course's exercises
# Right answers come from cx.metrics (score/Wilson/t machinery, counts inside the package), the
# exercise's expected values from plain pandas inside cxlab.exercises: agreement checks both.
# Wrong answers are produced here by the mistaken recipe itself.

import cxlab as cx  # noqa: E402
from cxlab.exercises import ex00, ex01, ex02  # noqa: E402

ALL = [(f"{s.notebook[:2]}.{k}", q) for s in (ex00, ex01, ex02) for k, q in s]


@pytest.fixture(scope="module")
def company():
    return cx.datasets.load("kestrel")


def _accepts(ex, answer):
    out = ex.evaluate(answer)
    assert out.correct, f"{ex.label} rejected the right answer {answer!r}: {out.message}"


def _rejects(ex, answer, fragment):
    out = ex.evaluate(answer)
    assert out.status == "incorrect", f"{ex.label} accepted the wrong answer {answer!r}"
    assert fragment in out.message, f"{ex.label}: expected {fragment!r} in {out.message!r}"


@pytest.mark.parametrize("name, ex", ALL, ids=[n for n, _ in ALL])
def test_every_exercise_handles_a_blank_and_has_help(name, ex, capsys):
    assert ex.evaluate(...).status == "unanswered"
    ex.check(...)  # what a fresh learner copy runs: prints, never raises
    assert "Not answered yet" in capsys.readouterr().out
    assert ex.prompt and ex.hints and ex.solution_text, f"{name} lacks prompt, hints or solution"


@pytest.mark.parametrize("name, ex", [(n, q) for n, q in ALL if isinstance(q, X.NumericExercise)],
                         ids=[n for n, q in ALL if isinstance(q, X.NumericExercise)])
def test_every_numeric_mistake_is_distinguishable_on_the_bundled_data(name, ex):
    """Each typical mistake gives a value outside the tolerance of the right one (and of the other
    mistakes), so its specific message is reachable."""
    expected = float(ex.expected)
    pairs = [(m, float(v)) for m, v in ex._mistake_values()]
    for i, (mistake, value) in enumerate(pairs):
        assert not ex._close(value, expected), f"{name}: mistake {mistake.name!r} equals the answer"
        if any(ex._close(value, earlier) for _, earlier in pairs[:i]):
            continue  # an earlier mistake gives the same number; its message is shown
        message = ex.evaluate(value).message
        assert message.endswith(mistake.message), f"{name}: {mistake.name!r} -> {message!r}"


def test_ex00_counts_and_shares(company):
    cu, survey = company.customers, company.survey
    _accepts(ex00.q1, cu["customer_id"].nunique())
    _rejects(ex00.q1, len(survey), "RESPONSES")
    _rejects(ex00.q1, int((cu["churned"] == 0).sum()), "only the active")
    churn = cx.metrics.top_box(cu["churned"], top=(1,), scale=(0, 1))
    _accepts(ex00.q2, churn.value)
    _rejects(ex00.q2, churn.value / 100, "fraction")
    _rejects(ex00.q2, 100 - churn.value, "still active")
    by_wave = cx.metrics.table(survey, "ltr", by="wave").set_index("wave")
    _accepts(ex00.q3, by_wave.loc["2026Q3", "n"])
    _rejects(ex00.q3, len(survey), "all waves")
    largest = cu.groupby("region").size().sort_values().index[-1]
    _accepts(ex00.q4, largest)
    _accepts(ex00.q4, largest.upper())
    _rejects(ex00.q4, cu.groupby("region").size().sort_values().index[0], "should not be")
    _accepts(ex00.q5, "c")
    _rejects(ex00.q5, "b", "RELATIONSHIP")


def test_ex01_business_goals(company):
    cu = company.customers
    _accepts(ex01.q1, "a, c, e")
    _rejects(ex01.q1, "a, b, c, e", "CX goal")
    mrr = cu.groupby("churned")["monthly_revenue"].sum().loc[0]
    _accepts(ex01.q2, mrr)
    _rejects(ex01.q2, cu["monthly_revenue"].sum(), "churned = 1")
    _rejects(ex01.q2, 12 * mrr, "a year")


# Wrong NPS recipes, written independently of the exercise module.
def nps_counts(s):
    s = pd.Series(s, dtype=float).dropna()
    return float((s >= 9).sum() - (s <= 6).sum())


def nps_fraction(s):
    return cx.metrics.nps(pd.Series(s, dtype=float), min_base=0).value / 100


def nps_passives_as_detractors(s):
    s = pd.Series(s, dtype=float).dropna()
    return 100 * ((s >= 9).mean() - (s < 9).mean())


def test_ex01_nps_function(company):
    def via_package(scores):
        return cx.metrics.nps(pd.Series(scores, dtype=float), min_base=0).value

    # the test cases' expected values agree with cx.metrics (an independent implementation)
    for args, expected in ex01.q3.cases:
        assert via_package(*args) == pytest.approx(expected, abs=1e-9)
    _accepts(ex01.q3, via_package)
    _accepts(ex01.q3, right_nps)
    _rejects(ex01.q3, nps_counts, "NUMBER of detractors")
    _rejects(ex01.q3, nps_fraction, "−1..+1")
    _rejects(ex01.q3, nps_passives_as_detractors, "passives (7–8) were counted as detractors")
    _rejects(ex01.q3, lambda s: pd.Series(s).mean(), "mean likelihood")


def test_ex01_nps_csat_enps_of_the_latest_wave(company):
    latest = company.survey[company.survey["wave"] == "2026Q3"]
    result = cx.metrics.nps(latest["ltr"])
    _accepts(ex01.q4, result.value)
    _accepts(ex01.q4, result)               # the MetricResult itself
    _accepts(ex01.q4, round(result.value, 1))
    _rejects(ex01.q4, nps_counts(latest["ltr"]), "NUMBER of detractors")
    _rejects(ex01.q4, nps_fraction(latest["ltr"]), "−1..+1")
    _rejects(ex01.q4, nps_passives_as_detractors(latest["ltr"]), "passives (7–8)")
    csat = cx.metrics.csat(latest["osat"])
    _accepts(ex01.q5, csat.value)
    _rejects(ex01.q5, latest["osat"].mean(), "mean satisfaction")
    _rejects(ex01.q5, csat.value / 100, "fraction")
    _rejects(ex01.q5, cx.metrics.top_box(latest["osat"], top=(5,), scale=(1, 5)).value, "only the 5s")
    pulse = company.pulse[company.pulse["wave"] == "2026Q3"]
    _accepts(ex01.q6, cx.metrics.nps(pulse["enps"]).value)
    _rejects(ex01.q6, nps_counts(pulse["enps"]), "NUMBER of detractors")


def test_ex02_margin_and_sample_size(company):
    latest = company.survey[company.survey["wave"] == "2026Q3"]
    wald = cx.metrics.nps(latest["ltr"], method="wald")
    half_width = (wald.ci_high - wald.ci_low) / 2
    _accepts(ex02.q1, half_width)
    _rejects(ex02.q1, half_width / 1.959964, "standard error")
    _rejects(ex02.q1, half_width / 100, "fraction")
    # brute force: the smallest base whose Wald margin at the same shares is <= 3 points
    p, d = (latest["ltr"] >= 9).mean(), (latest["ltr"] <= 6).mean()
    bases = np.arange(100, 20_000)
    lo, hi = cx.metrics.nps_ci(p * bases, d * bases, bases, method="wald")
    needed = bases[np.argmax((hi - lo) / 2 <= 3)]
    _accepts(ex02.q2, needed)
    _rejects(ex02.q2, np.sqrt(needed), "forgot to square")


def test_ex02_suppression_and_significance(company):
    contacts = company.contacts[company.contacts["wave"] == "2026Q3"]
    agents = cx.metrics.table(contacts, "csat", metric="csat", by="agent_id")
    _accepts(ex02.q3, agents["suppressed"].sum())
    _rejects(ex02.q3, (~agents["suppressed"]).sum(), "CAN be published")
    change = cx.metrics.change(company.survey, "ltr", previous="2026Q1", current="2026Q2",
                               by="region")
    significant = list(change.loc[change["significant"], "region"])
    assert significant, "the course expects the South's drop in 2026Q2 to be significant"
    _accepts(ex02.q4, significant)
    naive = list(change.loc[change["difference"].abs() >= 5, "region"])
    assert set(naive) != set(significant), "the teaching point (noise ≥ 5 points) is gone"
    _rejects(ex02.q4, naive, "within the noise")
    _accepts(ex02.q5, "b")
    _rejects(ex02.q5, "a", "cries wolf")


def test_practice_plot_and_judgement_questions(company):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns

    _accepts(ex00.q0, 4)
    _rejects(ex00.q0, 5, "answer key")
    for plot_question in (ex00.q6, ex01.q7):
        fig, ax = plt.subplots()
        sns.countplot(data=company.customers, x="region", ax=ax)
        _rejects(plot_question, ax, "a title")   # seaborn labels the axes, not the title
        ax.set(title="Customers per region", xlabel="Region", ylabel="Customers")
        _accepts(plot_question, ax)
        plt.close(fig)
    for judgement in (ex00.q7, ex01.q8, ex02.q6):
        out = judgement.evaluate("my own answer")
        assert out.status == "info" and judgement.model_answer in out.message


def test_solution_text_is_printed_verbatim(capsys):
    code = "ax = sns.countplot(data=d,\n                   x='region')"
    X.NumericExercise(lambda d: 1.0, data=toy, solution=code, label="Q3").solution()
    assert capsys.readouterr().out == f"💬 Q3 Solution:\n{code}\n"
    X.NumericExercise(lambda d: 1.0, data=toy, hints=["h"]).hint()
    assert capsys.readouterr().out == "💡 Hint: h\n"

"""Learner copies are generated from the solution notebooks and must stay in step with them.

If a test here fails with "out of date", run:  python scripts/make_learner_copies.py
"""

import importlib.util
import json
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("make_learner_copies",
                                              ROOT / "scripts" / "make_learner_copies.py")
mlc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mlc)

SOLUTIONS = mlc.solution_notebooks()


def _nb(*cells) -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = list(cells)
    return nb


# --------------------------------------------------------------------------- the transformation


def test_line_marker_blanks_the_right_hand_side_only():
    src = ("q3 = survey[survey.wave == '2026Q3']\n"
           "nps_q3 = 100 * ((q3.ltr >= 9).mean() - (q3.ltr <= 6).mean())  # SOLUTION\n"
           "ex01.q2.check(nps_q3)")
    out = mlc.blank_code(src).splitlines()
    assert out == ["q3 = survey[survey.wave == '2026Q3']",
                   "nps_q3 = ...  # your answer here",
                   "ex01.q2.check(nps_q3)"]


def test_line_marker_keeps_indentation_tuple_targets_and_annotations():
    src = "if True:\n    a, b = 1, 2  # SOLUTION\n    c: float = 3.0  # SOLUTION\n    print(a)  # SOLUTION"
    assert mlc.blank_code(src).splitlines() == [
        "if True:", "    a, b = ...  # your answer here",
        "    c: float = ...  # your answer here", "    # your code here"]


def test_block_marker_with_stubs_and_inside_a_function():
    src = ("def my_nps(scores):\n"
           "    # BEGIN SOLUTION: return ...\n"
           "    s = pd.Series(scores)\n"
           "    return 100 * ((s >= 9).mean() - (s <= 6).mean())\n"
           "    # END SOLUTION\n"
           "# BEGIN SOLUTION: promoters = ...; detractors = ...\n"
           "promoters = 1\n"
           "detractors = 2\n"
           "# END SOLUTION\n"
           "ex.check(my_nps)")
    assert mlc.blank_code(src).splitlines() == [
        "def my_nps(scores):", "    # your code here", "    return ...",
        "# your code here", "promoters = ...", "detractors = ...", "ex.check(my_nps)"]


@pytest.mark.parametrize("src, message", [
    ("x = (1 +  # SOLUTION\n 2)", "not a complete statement"),
    ("# BEGIN SOLUTION\nx = 1", "never closed"),
    ("x = 1\n# END SOLUTION", "without a '# BEGIN"),
    ("# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION", "inside another"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION", "not valid Python"),
])
def test_malformed_markers_fail_loudly(src, message):
    with pytest.raises(mlc.MarkerError, match=message):
        mlc.blank_code(src, "nb, cell 3")


def test_markdown_answers_are_blanked():
    src = "**Your answer:**\n<!-- BEGIN SOLUTION -->\nThree goals, not twelve.\n<!-- END SOLUTION -->\nNext."
    assert mlc.blank_markdown(src) == "**Your answer:**\n*Your answer here.*\nNext."


def test_learner_copy_clears_outputs_tags_cells_and_drops_solution_only_cells():
    code = nbformat.v4.new_code_cell("x = 41 + 1  # SOLUTION\nprint(x)", execution_count=3,
                                     outputs=[nbformat.v4.new_output("stream", text="42\n")])
    code.metadata["execution"] = {"iopub.status.busy": "2026-01-01"}
    secret = nbformat.v4.new_code_cell("print('instructor only')")
    secret.metadata["tags"] = ["solution-only"]
    solution = _nb(nbformat.v4.new_markdown_cell("# Title"), code, secret)
    before = json.dumps(solution, sort_keys=True)
    learner = mlc.make_learner_copy(solution, "99_demo.ipynb")
    assert json.dumps(solution, sort_keys=True) == before, "the solution must not be modified"
    assert [c.cell_type for c in learner.cells] == ["markdown", "code"]
    cell = learner.cells[1]
    assert cell.source == "x = ...  # your answer here\nprint(x)"
    assert cell.outputs == [] and cell.execution_count is None
    assert cell.metadata["tags"] == ["nbval-ignore-output"]
    assert "execution" not in cell.metadata
    assert learner.metadata["cxlab"]["learner_copy_of"] == "solutions/99_demo.ipynb"
    nbformat.validate(learner)


# --------------------------------------------------------------------------- the course's files


def test_there_are_solution_notebooks():
    names = [p.name for p in SOLUTIONS]
    assert names[:3] == ["00_start_here.ipynb", "01_goals_and_metrics.ipynb",
                         "02_measuring_with_confidence.ipynb"], names


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_learner_copy_is_up_to_date(solution):
    target = mlc.learner_path(solution)
    assert target.exists(), f"{target.name} missing: run python scripts/make_learner_copies.py"
    fresh = nbformat.reads(mlc.learner_text(solution), as_version=4)
    stored = nbformat.read(target, as_version=4)
    assert stored == fresh, (f"{target.name} is out of date with solutions/{solution.name}: "
                             "run python scripts/make_learner_copies.py")


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.stem for p in SOLUTIONS])
def test_learner_copy_holds_no_answers(solution):
    """No marker and no marked solution line survives into the learner copy."""
    learner = nbformat.read(mlc.learner_path(solution), as_version=4)
    text = "\n".join(c.source for c in learner.cells)
    assert "SOLUTION" not in text
    marked = [line.split("#")[0].strip() for c in nbformat.read(solution, as_version=4).cells
              if c.cell_type == "code" for line in c.source.splitlines()
              if mlc._LINE_MARK.search(line)]
    assert marked, "a course notebook without a single exercise answer?"
    for line in marked:
        assert line not in text, f"solution line leaked into the learner copy: {line}"
    for cell in learner.cells:
        if cell.cell_type == "code":
            assert "nbval-ignore-output" in cell.metadata.get("tags", [])
            assert cell.outputs == [] and cell.execution_count is None


def test_every_learner_copy_has_a_solution():
    solutions = {p.name for p in SOLUTIONS}
    learner = {p.name for p in (ROOT / "notebooks" / "course").glob("[0-9][0-9]_*.ipynb")}
    assert learner == solutions, f"learner copies without a solution: {learner - solutions}"

"""The course's solution notebooks follow the course conventions and store clean, complete outputs.

nbval (run on notebooks/course by the default pytest configuration) re-executes every notebook and
compares outputs; these tests check what nbval cannot: structure, that every exercise is asked and
answered correctly in its solution notebook, and that stored outputs hold nothing machine-specific.
After changing a notebook or the package it calls: python scripts/refresh_notebooks.py
"""

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

from cxlab import exercises

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "notebooks" / "course"


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


mlc = _load_script("make_learner_copies")
SOLUTIONS = mlc.solution_notebooks()
IDS = [p.stem for p in SOLUTIONS]


def _outputs_text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.extend(v for k, v in out.get("data", {}).items() if k == "text/plain")
    return "\n".join(parts)


@pytest.fixture(params=SOLUTIONS, ids=IDS)
def notebook(request):
    return request.param, nbformat.read(request.param, as_version=4)


def test_kernel_and_opening_and_closing_sections(notebook):
    path, nb = notebook
    spec = nb.metadata["kernelspec"]
    assert (spec["name"], spec["display_name"]) == ("python3", "Python 3 (ipykernel)")
    first = nb.cells[0]
    assert first.cell_type == "markdown" and first.source.startswith(f"# {path.name[:2]} · ")
    assert "By the end of this notebook you will be able to" in first.source
    minutes = re.search(r"\*About (\d+) minutes\.\*", first.source)
    longest = 60 if path.name.startswith("09") else 40  # the capstone may take longer
    assert minutes and 20 <= int(minutes.group(1)) <= longest, "a notebook is 20–40 minutes"
    closing = "\n".join(c.source for c in nb.cells[-2:] if c.cell_type == "markdown")
    assert "## Recap" in closing and "## What to do on Monday" in closing


def test_outputs_are_complete_and_clean(notebook):
    path, nb = notebook
    refresh = _load_script("refresh_notebooks")
    assert refresh.output_problems(nb) == []
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name} was not executed top to bottom in one go: run scripts/refresh_notebooks.py")


def test_outputs_were_stored_from_the_current_data(notebook):
    path, nb = notebook
    stored = nb.metadata.get("cxlab", {}).get("kestrel_sha256")
    current = _load_script("refresh_notebooks").data_fingerprint()
    assert stored == current, (f"datasets/kestrel changed since {path.name} was executed: run "
                               "python scripts/refresh_notebooks.py")


def test_every_exercise_is_asked_and_answered_right(notebook):
    """Each question of the notebook's exercise set is checked in it, and the solution passes."""
    path, nb = notebook
    prefix = f"ex{path.name[:2]}"
    exercise_set = getattr(exercises, prefix)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for key, _ in exercise_set:
        assert f"{prefix}.{key}.check(" in code, f"{path.name} never checks {prefix}.{key}"
    for cell in nb.cells:
        if cell.cell_type == "code" and "SOLUTION" in cell.source:
            text = _outputs_text(cell)
            assert re.search(r"^[✓ℹ] Q\d+ ", text, re.M), (
                f"{path.name}: the solution cell does not pass its check:\n{cell.source}\n{text}")


def test_randomness_is_seeded(notebook):
    _, nb = notebook
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "np.random.seed" not in code and "random_state=None" not in code
    if re.search(r"\brng\b|\.sample\(|random", code):
        assert re.search(r"default_rng\(\d+\)", code), "use numpy.random.default_rng(<seed>)"


def test_syllabus_lists_every_notebook():
    syllabus = (COURSE / "README.md").read_text(encoding="utf-8")
    for path in SOLUTIONS:
        assert path.stem in syllabus, f"notebooks/course/README.md does not list {path.stem}"
    assert "python3 bootstrap.py lab" in syllabus

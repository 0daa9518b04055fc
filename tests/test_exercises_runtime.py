"""The learners' route: every exercise check works with the package's runtime dependencies only.

Learners install cxlab without the test extra (``python3 bootstrap.py lab``), so an exercise that
imports a test-only package (lifelines, hypothesis, pytest, ...) crashes for them but not in the
suite. This test runs every exercise of every course notebook in a subprocess whose importable
third-party modules are exactly those of cxlab's runtime dependency closure: the closure is read
from the installed metadata (``Requires-Dist`` of cxlab without extras, followed recursively,
environment markers evaluated with no extra), and every other installed top-level module is
blocked by a ``sys.meta_path`` finder that raises ``ModuleNotFoundError``, as if it were not
installed. A negative control checks that lifelines (a test-only reference) is blocked.

In the child, for every exercise: the unanswered message, every hint and the solution print;
numeric and set exercises compute their expected answer and every typical mistake's value, and
accept the expected answer; choice exercises accept their correct letter; function exercises
reject each wrong implementation without raising.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(root: str = "cxlab") -> set[str]:
    """Normalised names of the distributions a plain ``pip install cxlab`` pulls in."""
    env = {**default_environment(), "extra": ""}
    seen, todo = set(), [root]
    while todo:
        name = _norm(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.distribution(name).requires or []
        except metadata.PackageNotFoundError:
            continue
        for spec in requires:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return seen


def blocked_modules() -> list[str]:
    """Installed top-level modules that belong to no runtime distribution (nor the stdlib)."""
    allowed = runtime_closure()
    blocked = []
    for module, dists in metadata.packages_distributions().items():
        if module in sys.stdlib_module_names or module.startswith("_") or module == "cxlab":
            continue
        if not any(_norm(d) in allowed for d in dists):
            blocked.append(module)
    return sorted(blocked)


CHILD = r"""
import importlib.abc, json, os, sys
BLOCKED = set(json.loads(os.environ["CXLAB_BLOCKED_MODULES"]))

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked: not a runtime "
                                      "dependency of cxlab)", name=name)
        return None

sys.meta_path.insert(0, Blocker())
import matplotlib
matplotlib.use("Agg")
try:
    import lifelines  # noqa: F401
except ModuleNotFoundError:
    pass
else:
    raise SystemExit("negative control failed: lifelines is importable")

from cxlab import exercises as X
from cxlab.exercises import core

done = []
for set_name in [n for n in X.__all__ if n.startswith("ex")]:
    for key, ex in getattr(X, set_name):
        where = f"{set_name}.{key}"
        assert ex.evaluate(X.NOT_GIVEN).status == "unanswered", where
        for n in range(1, len(ex.hints) + 1):
            ex.hint_text(n)
        ex.solution()
        if isinstance(ex, (core.NumericExercise, core.SetExercise)):
            expected = ex.expected
            assert ex.evaluate(expected).correct, where
            for mistake in ex.mistakes:
                ex.evaluate(mistake.value(ex._data_fn()))
        elif isinstance(ex, core.ChoiceExercise):
            assert ex.evaluate(sorted(ex.correct)).correct, where
        elif isinstance(ex, core.FunctionExercise):
            for mistake in ex.mistakes:
                assert not ex.evaluate(mistake.value).correct, where
        else:
            ex.evaluate("an answer")
        done.append(where)
print(json.dumps(done))
"""


@pytest.fixture(scope="module")
def runtime_run():
    blocked = blocked_modules()
    env = {**os.environ, "CXLAB_BLOCKED_MODULES": json.dumps(blocked), "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                          env=env, timeout=600)
    return blocked, proc


def test_the_blocker_covers_the_test_only_packages():
    blocked = blocked_modules()
    for module in ("lifelines", "hypothesis", "pytest", "nbval"):
        assert module in blocked
    for module in ("numpy", "pandas", "scipy", "statsmodels", "matplotlib"):
        assert module not in blocked


def test_every_exercise_check_runs_with_runtime_dependencies_only(runtime_run):
    blocked, proc = runtime_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    done = json.loads(proc.stdout.strip().splitlines()[-1])
    from cxlab import exercises as X
    expected = [f"{s}.{k}" for s in X.__all__ if s.startswith("ex") for k, _ in getattr(X, s)]
    assert done == expected
    assert [d for d in done if d.startswith("ex09.")] == [f"ex09.{k}" for k, _ in X.ex09]
    assert "ex09.q7" in done                       # the capstone question that needed lifelines

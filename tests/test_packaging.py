"""The two install routes (pip: pyproject.toml, conda: environment.yml) and the README stay in step."""

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


#: pip name -> conda-forge name, where they differ (the lean conda-forge packages).
CONDA_NAMES = {"matplotlib": "matplotlib-base", "nbconvert": "nbconvert-core",
               "duckdb": "python-duckdb", "build": "python-build"}
#: The parts of pyproject.toml that environment.yml mirrors (the course machine: run, lab, test).
CONDA_EXTRAS = ("lab", "test")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _pip_requirements() -> dict[str, str]:
    project = _project()
    reqs = list(project["dependencies"])
    for extra in CONDA_EXTRAS:
        reqs += project["optional-dependencies"][extra]
    out: dict[str, str] = {}
    for r in map(Requirement, reqs):
        name = CONDA_NAMES.get(r.name.lower(), r.name.lower())
        assert out.get(name, str(r.specifier)) == str(r.specifier), f"{name} bounds differ"
        out[name] = str(r.specifier)
    return out


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if not isinstance(dep, str) or dep in {"pip"}:
            continue
        # conda's "a>=1,<2" and "a==1" read as pip requirements
        req = Requirement(dep.replace(" ", ""))
        if req.name == "python":
            continue
        out[req.name.lower()] = str(req.specifier)
    return out


def test_environment_yml_matches_pyproject():
    pip, conda = _pip_requirements(), _conda_requirements()
    assert sorted(pip) == sorted(conda), (
        f"only in pyproject: {sorted(set(pip) - set(conda))}; "
        f"only in environment.yml: {sorted(set(conda) - set(pip))}")
    differing = {name: (pip[name], conda[name]) for name in pip if pip[name] != conda[name]}
    assert not differing, f"version bounds differ (pyproject, environment.yml): {differing}"


def test_environment_installs_the_package_and_python_bound_agrees():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section
    python = next(d for d in env["dependencies"]
                  if isinstance(d, str) and Requirement(d).name == "python")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert python.removeprefix("python") == project["requires-python"]


def test_readme_quick_start_has_two_commands_and_ci_runs_the_second():
    text = (ROOT / "README.md").read_text()
    start = re.search(r"^#+\s*quick\s*start.*$", text, re.IGNORECASE | re.MULTILINE)
    assert start, "README.md needs a 'Quick start' section"
    block = re.search(r"```[^\n]*\n(.*?)```", text[start.end():], re.DOTALL).group(1)
    commands = [line.strip() for line in block.splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert len(commands) == 2, commands
    assert commands[1] in (ROOT / ".ci" / "run").read_text()


def test_jupyterlab_is_an_extra_that_bootstrap_lab_installs():
    project = _project()
    runtime = {Requirement(r).name.lower() for r in project["dependencies"]}
    assert "jupyterlab" not in runtime and "notebook" not in runtime
    assert any(Requirement(r).name == "jupyterlab" for r in project["optional-dependencies"]["lab"])
    bootstrap = (ROOT / "bootstrap.py").read_text()
    assert re.search(r'job == "lab":\s*\n\s*setup\("[^"]*\blab\b', bootstrap), \
        "bootstrap.py lab must install the lab extra"


def test_bootstrap_test_installs_every_extra_the_tests_import():
    match = re.search(r'job == "test":\s*\n\s*setup\("([^"]*)"\)', (ROOT / "bootstrap.py").read_text())
    assert match, "bootstrap.py test must call setup with the extras the tests need"
    extras = set(match.group(1).split(","))
    assert {"test", "spark"} <= extras, extras
    assert set(extras) <= set(_project()["optional-dependencies"])


def test_licence_version_and_changelog_follow_the_conventions():
    project = _project()
    assert project["license"] == "MIT"                     # SPDX expression, not {text = ...}
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "version" not in project and "version" in project["dynamic"]
    init = (ROOT / "cxlab" / "__init__.py").read_text()
    assert len(re.findall(r"^__version__ = ", init, re.MULTILINE)) == 1
    import cxlab
    assert f"## {cxlab.__version__}" in (ROOT / "CHANGELOG.md").read_text()


def test_ruff_is_clean():
    """``ruff check cxlab tests`` with the pinned ruff and the rules set in pyproject.toml."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (it comes with the test extra)")
    done = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise",
                           "cxlab", "tests"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]

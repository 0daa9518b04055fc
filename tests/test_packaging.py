"""The two install routes (pip: pyproject.toml, conda: environment.yml) and the README stay in step."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _pip_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"]) + list(project["optional-dependencies"]["test"])
    return {Requirement(r).name.lower(): str(Requirement(r).specifier) for r in reqs}


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    out = {}
    for dep in env["dependencies"]:
        if not isinstance(dep, str) or dep in {"pip"} or dep.startswith("python"):
            continue
        # conda's "a>=1,<2" and "a==1" read as pip requirements
        req = Requirement(dep.replace(" ", ""))
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
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert python.removeprefix("python") == project["requires-python"]


def test_readme_quick_start_has_two_commands_and_ci_runs_the_second():
    text = (ROOT / "README.md").read_text()
    start = re.search(r"^#+\s*quick\s*start.*$", text, re.I | re.M)
    assert start, "README.md needs a 'Quick start' section"
    block = re.search(r"```[^\n]*\n(.*?)```", text[start.end():], re.S).group(1)
    commands = [line.strip() for line in block.splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert len(commands) == 2, commands
    assert commands[1] in (ROOT / ".ci" / "run").read_text()

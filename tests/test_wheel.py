"""The wheel as a new user gets it: built from the checkout, installed into a fresh virtual
environment outside the repository, and used there -- bundled data, a report, a study.

An editable install finds the data and templates in the checkout, so only this test can see a
file that the wheel forgot. It needs the package registry (or the installer's cache) for the
build backend and the dependencies, as ``pip install`` does. The wheel is built by pip; it is
installed with uv when uv is there (the test extra has it: the same wheel and metadata, installed
in seconds instead of minutes from a warm cache), else with pip.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _run(cmd, cwd, timeout=600, **kw):
    env = {k: v for k, v in os.environ.items()
           if k not in {"PYTHONPATH", "VIRTUAL_ENV", "CXLAB_DATASETS", "PYTHONHOME"}}
    env["MPLBACKEND"] = "Agg"
    done = subprocess.run([str(c) for c in cmd], check=False, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, **kw)
    assert done.returncode == 0, (
        f"{' '.join(map(str, cmd))} exited {done.returncode}\n--- stdout\n{done.stdout[-4000:]}"
        f"\n--- stderr\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
          "--disable-pip-version-check", "-w", out, ROOT], cwd=out)
    (found,) = out.glob("cxlab-*.whl")
    return found


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    """(python, cxlab script, working folder) of a fresh venv holding only the wheel and its deps."""
    home = tmp_path_factory.mktemp("user")          # outside the checkout
    assert ROOT not in home.parents
    env_dir = home / "venv"
    venv.create(env_dir, with_pip=True)
    bin_dir = env_dir / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    start = time.perf_counter()
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if uv:
        _run([uv, "pip", "install", "--quiet", "--python", python, wheel], cwd=home)
    else:
        _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel],
             cwd=home)
    print(f"{'uv pip' if uv else 'pip'} install {wheel.name}: {time.perf_counter() - start:.1f} s")
    return python, bin_dir / "cxlab", home


def test_wheel_carries_data_templates_licences_and_package_data(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    bundled = "cxlab/_bundled/"
    for folder in sorted(p for p in (ROOT / "datasets").iterdir() if p.is_dir()):
        expected = {f"{bundled}datasets/{folder.name}/{f.name}" for f in folder.iterdir()
                    if f.is_file()}
        assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
        assert f"{bundled}datasets/{folder.name}/SOURCE.md" in names
    for template in (ROOT / "notebooks" / "templates").glob("*.ipynb"):
        assert f"{bundled}templates/{template.name}" in names
    assert "cxlab/py.typed" in names
    package_data = {str(p.relative_to(ROOT)).replace(os.sep, "/")
                    for p in (ROOT / "cxlab").rglob("*") if p.suffix in {".yaml", ".yml",
                                                                        ".css", ".tpl", ".j2"}}
    assert package_data <= names, f"package data missing: {sorted(package_data - names)}"
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    metadata = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: MIT" in metadata
    import cxlab
    assert f"Version: {cxlab.__version__}" in metadata
    assert not any(n.startswith(("tests/", "notebooks/", "benchmarks/")) for n in names)


def test_installed_package_loads_every_bundled_dataset(installed):
    python, _, home = installed
    code = ("import cxlab as cx, json, sys\n"
            "company = cx.datasets.load('kestrel')\n"
            "loaded = {n: type(cx.datasets.load(n)).__name__ for n in cx.datasets.names()}\n"
            "print(json.dumps({'file': cx.__file__, 'data': str(cx.resources.datasets_root()),\n"
            "                  'templates': str(cx.resources.templates_root()),\n"
            "                  'survey_rows': len(company.survey), 'loaded': loaded}))\n")
    info = json.loads(_run([python, "-c", code], cwd=home).stdout.strip().splitlines()[-1])
    site = Path(info["file"]).parent
    assert ROOT not in site.parents, info["file"]
    assert Path(info["data"]) == site / "_bundled" / "datasets"
    assert Path(info["templates"]) == site / "_bundled" / "templates"
    assert info["survey_rows"] > 10_000
    assert "kestrel" in info["loaded"] and len(info["loaded"]) >= 5


def test_installed_cli_writes_the_company_quarterly_report(installed):
    _, cxlab, home = installed
    out = home / "reports"
    _run([cxlab, "report", "quarterly", "--by", "none", "--param", "bootstrap=50", "--quiet",
          "--out", out], cwd=home)
    html = [p for p in out.glob("*/*.html") if p.name != "index.html"]   # reports (not alerts/)
    assert len(html) == 1, sorted(p.name for p in out.rglob("*"))
    assert any(p.name == "index.html" for p in out.rglob("*.html"))
    page = html[0].read_text(encoding="utf-8")
    assert "NPS" in page and "data:image/png" in page       # the headline and its figures
    manifest = next(out.rglob("manifest.json")).read_text(encoding="utf-8")
    analyst = next(out.glob("*.analyst.json")).read_text(encoding="utf-8")   # beside, not in
    assert "_bundled" in analyst and '"ok"' in manifest      # the installed template, published
    assert str(home) not in manifest                         # no machine paths published


def test_installed_cli_runs_a_study_from_a_bundled_example(installed):
    _, cxlab, home = installed
    # examples/ is not part of the wheel: copy the configuration as a user would. It reads
    # the bundled company by name, so no data file travels with it.
    config = home / "study_kestrel.yaml"
    shutil.copy(ROOT / "examples" / "study_kestrel.yaml", config)
    out = home / "study"
    _run([cxlab, "study", "--config", config, "--out", out, "--bootstrap", "50"], cwd=home)
    assert any(out.rglob("*.html")), sorted(p.name for p in out.rglob("*"))

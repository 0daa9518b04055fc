"""The API reference builds from the docstrings (Sphinx + numpydoc), and its examples run.

The build fails on anything that stops a module from being documented (an import error) and on
any warning in the documentation's own sources or in the modules whose docstrings are already
numpydoc-clean (``STRICT_MODULES``). Markup warnings elsewhere are listed in the test output;
``CXLAB_DOCS_STRICT=1`` turns them into failures too (the goal once every module is converted).
"""

from __future__ import annotations

import doctest
import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
pytest.importorskip("sphinx", reason="Sphinx comes with the test extra")
pytest.importorskip("numpydoc", reason="numpydoc comes with the test extra")
pytestmark = pytest.mark.slow

#: Modules whose docstrings follow numpydoc and must build without a warning.
STRICT_MODULES = ("cxlab/datasets.py", "cxlab/resources.py", "cxlab/checks.py",
                  "cxlab/__init__.py")
_IMPORT_FAILURE = re.compile(r"failed to import|No module named|autodoc: failed|"
                             r"autosummary: failed", re.I)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    out = tmp_path_factory.mktemp("docs")
    done = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", "--keep-going",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        env={**os.environ, "MPLBACKEND": "Agg"})
    warnings = [line for line in done.stderr.splitlines() if re.search(r"WARNING|ERROR", line)]
    return done, warnings, out / "html"


def test_docs_build_and_document_every_public_module(build):
    done, warnings, html = build
    assert done.returncode == 0, done.stderr[-4000:]
    failed_imports = [w for w in warnings if _IMPORT_FAILURE.search(w)]
    assert not failed_imports, "\n".join(failed_imports)
    sys.path.insert(0, str(DOCS))
    try:
        conf = importlib.import_module("conf")
        modules = conf.public_modules()
    finally:
        sys.path.remove(str(DOCS))
    assert {"cxlab.metrics", "cxlab.drivers", "cxlab.datasets", "cxlab.value"} <= set(modules)
    missing = [m for m in modules if not (html / "generated" / f"{m}.html").exists()]
    assert not missing, f"no API page for {missing}"
    page = (html / "generated" / "cxlab.datasets.html").read_text(encoding="utf-8")
    assert "Parameters" in page and "Examples" in page and "load_kestrel" in page


def test_docs_sources_and_numpydoc_modules_build_without_warnings(build):
    _, warnings, _ = build
    generated = str(DOCS / "generated")       # stub pages quoting other modules' summaries
    own = [w for w in warnings
           if (str(DOCS) in w and generated not in w)
           or any(str(ROOT / m) in w for m in STRICT_MODULES)]
    assert not own, "\n".join(own)
    others = [w for w in warnings if w not in own]
    if others:
        print(f"{len(others)} docstring markup warning(s) in other modules:\n" + "\n".join(others))
    if os.environ.get("CXLAB_DOCS_STRICT") == "1":
        assert not others, "\n".join(others)


@pytest.mark.parametrize("module", ["cxlab.datasets", "cxlab.resources", "cxlab.checks"])
def test_docstring_examples_run(module):
    """The Examples sections print what the code returns (doctest)."""
    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0

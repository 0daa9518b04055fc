"""Sphinx configuration: the API reference is built from the docstrings (numpydoc style).

    python -m sphinx -W -b html docs docs/_build/html      # tests/test_docs.py does this
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))        # the checkout's cxlab, installed or not

import cxlab  # noqa: E402

# ----------------------------------------------------------------------------- the API page
# api.rst is written here from the package itself, so a new module is documented without
# anyone remembering to list it. Sections follow the layers (bottom first).
SECTIONS = {
    "Input checks and resources (bottom layer)": ["checks", "config", "resources", "contract",
                                                   "intervals", "notes", "display"],
    "Data in": ["io", "datasets", "simulate", "company", "engine"],
    "Statistics": ["metrics", "drivers", "retention", "value", "whatif", "frontline", "alerts",
                   "text", "weighting"],
    "Studies, reports and figures": ["study", "report", "plots"],
    "Command line and course": ["cli", "exercises"],
}
#: Course exercise modules are documented through cxlab.exercises (check/hint/solution).
SKIP_PREFIXES = ("cxlab.exercises.course", "cxlab.exercises.recipes")


def public_modules() -> list[str]:
    """Every importable public module of cxlab (no leading underscore), sorted."""
    import pkgutil
    found = []
    for info in pkgutil.walk_packages(cxlab.__path__, "cxlab."):
        parts = info.name.split(".")
        if any(p.startswith("_") for p in parts) or info.name.startswith(SKIP_PREFIXES):
            continue
        found.append(info.name)
    return sorted(found)


def write_api_page(path: Path) -> None:
    modules = public_modules()
    top = {m.split(".")[1]: m for m in modules if m.count(".") == 1}
    lines = ["API reference", "=============", "",
             "Every public module of the package, one concept each, generated from the",
             "docstrings. Layers import only downward: input checks and resources at the bottom,",
             "then data in, the statistics, studies and reports, and the command line on top.", ""]
    sections = dict(SECTIONS)
    sections["More modules"] = sorted(set(top) - {n for v in SECTIONS.values() for n in v})
    for title, names in sections.items():
        entries = [m for n in names for m in modules if m == f"cxlab.{n}"
                   or m.startswith(f"cxlab.{n}.")]
        if not entries:
            continue
        lines += [title, "-" * len(title), "", ".. autosummary::", "   :toctree: generated", ""]
        lines += [f"   {m}" for m in entries] + [""]
    text = "\n".join(lines)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


write_api_page(Path(__file__).with_name("api.rst"))

project = "cxlab"
author = "cxlab developers"
copyright = "2026, cxlab developers"
release = cxlab.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
]
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_typehints = "none"            # signatures carry them; numpydoc renders the sections
autodoc_mock_imports = ["pyspark"]    # optional extra: documented even where it is absent
numpydoc_show_class_members = False   # members are listed by autodoc (no duplicate stubs)
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

templates_path: list[str] = []
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path: list[str] = []
html_title = f"cxlab {release}"
nitpicky = False

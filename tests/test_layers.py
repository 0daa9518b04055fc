"""The layer rule of the package: imports only go downward.

Read the table from the top: a module may import modules of its own layer or of the layers
below it, never above. Every import counts, also the ones inside functions (they are how the
package stays quick to import, not a way round the rule); ``if TYPE_CHECKING:`` blocks and
``from cxlab import __version__`` do not.

    layer            modules                                      what they do
    0 bottom         checks, config, resources, contract,         input checks, safe YAML, bundled
                     intervals, display, notes, plots             files, the data contract, intervals,
                                                                  what a reader sees (tables,
                                                                  figures, recorded warnings)
    1 data in        io, datasets, simulate, engine, company      read exports, bundled data, the
                                                                  simulated company, aggregates
                                                                  where the data live (DuckDB,
                                                                  Spark)
    2 statistics     metrics, drivers, _logit_subsets, retention, the analyses
                     value, whatif, frontline, text, weighting
    3 applications   study/, report/, exercises/                  driver studies, reports, course
    4 command line   cli                                          the ``cxlab`` command

``plots`` sits at the bottom: it draws the tables and result objects handed to it and imports
no other cxlab module, so every layer may use it.

Inside layer 3 two more rules hold. ``study`` and ``report`` do not import each other's
insides: the study uses only the public surface of the report package (``cxlab.report``,
whose names load lazily), and the report never imports the study. Inside ``report`` the
content (context, common, quarterly, team_scorecard: what template cells call) and the
runner (papermill batch) never import each other; both may use parameters, data, record and
html.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cxlab"

LAYERS = {
    "bottom": {"checks", "config", "resources", "contract", "intervals", "display", "notes",
               "plots"},
    "data in": {"io", "datasets", "simulate", "engine", "company"},
    "statistics": {"metrics", "alerts", "drivers", "_logit_subsets", "retention", "value", "whatif",
                   "frontline", "text", "weighting"},
    "applications": {"study", "report", "exercises"},
    "command line": {"cli"},
}
RANK = {top: i for i, members in enumerate(LAYERS.values()) for top in members}
REPORT_CONTENT = {"context", "common", "quarterly", "team_scorecard"}
REPORT_RUNNER = {"runner"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, absolute module) for every cxlab import in the file, functions included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and _is_type_checking(node)
            for n in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "cxlab"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "cxlab":
                continue
            if node.module is None or target == "cxlab":   # from . import a, b
                found += [(node.lineno, f"{target}.{a.name}") for a in node.names
                          if a.name != "__version__"]
            else:
                found.append((node.lineno, target))
    return found


def _files():
    return sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def _top(module: str) -> str:
    return module.split(".")[1]


def test_every_module_has_a_layer():
    """A new module must be placed in the table above (and so in the layer rule)."""
    missing = sorted({_top(_module_name(p)) for p in _files()} - set(RANK))
    assert not missing, f"add {missing} to LAYERS in tests/test_layers.py"


@pytest.mark.parametrize("path", _files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_only_go_downward(path):
    me = _module_name(path)
    if _top(me) not in RANK:
        pytest.skip("not in the layer table (see test_every_module_has_a_layer)")
    upward = [f"line {line}: {target} ({_layer(target)}) from {_layer(me)}"
              for line, target in _imports(path)
              if target != "cxlab" and RANK.get(_top(target), 99) > RANK[_top(me)]]
    assert not upward, f"{me} imports upward:\n" + "\n".join(upward)


def _layer(module: str) -> str:
    rank = RANK.get(_top(module))
    return "unknown layer" if rank is None else list(LAYERS)[rank]


def test_study_uses_only_the_public_surface_of_report():
    offending = [f"{_module_name(p)} line {line}: {target}"
                 for p in (PACKAGE / "study").rglob("*.py") for line, target in _imports(p)
                 if target.startswith("cxlab.report.")]
    assert not offending, "the study imports the report's insides:\n" + "\n".join(offending)


def test_report_never_imports_the_study():
    offending = [f"{_module_name(p)} line {line}: {target}"
                 for p in (PACKAGE / "report").rglob("*.py") for line, target in _imports(p)
                 if target == "cxlab.study" or target.startswith("cxlab.study.")]
    assert not offending, "\n".join(offending)


def test_report_content_and_runner_never_import_each_other():
    pairs = [(REPORT_CONTENT, REPORT_RUNNER), (REPORT_RUNNER, REPORT_CONTENT)]
    offending = []
    for importers, forbidden in pairs:
        for name in importers:
            path = PACKAGE / "report" / f"{name}.py"
            offending += [f"report.{name} line {line}: {target}" for line, target in _imports(path)
                          if target.startswith("cxlab.report.")
                          and target.split(".")[2] in forbidden]
    assert not offending, "\n".join(offending)


def test_the_rule_catches_an_upward_import(tmp_path, monkeypatch):
    """The checker itself: a metrics module importing the report is flagged."""
    fake = PACKAGE / "metrics.py"
    source = "from .report import runner\n\ndef f():\n    from . import cli\n"
    monkeypatch.setattr(Path, "read_text", lambda self, encoding=None: source)
    found = [t for _, t in _imports(fake)]
    assert found == ["cxlab.report", "cxlab.cli"]
    assert all(RANK[_top(t)] > RANK["metrics"] for t in found)

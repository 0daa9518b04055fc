"""Generate the learner copies of the course notebooks from their solution notebooks.

    python scripts/make_learner_copies.py          # (re)write every learner copy
    python scripts/make_learner_copies.py --check  # exit 1 if any learner copy is out of date

Solution notebooks live in ``notebooks/course/solutions/NN_name.ipynb`` and are the only ones
edited by hand. Each one becomes ``notebooks/course/NN_name.ipynb``, the copy learners open:

* a code line ending in ``# SOLUTION`` is blanked: ``x = <expr>  # SOLUTION`` becomes
  ``x = ...  # your answer here``; any other marked statement becomes ``# your code here``;
* lines between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` are replaced by ``# your code here``
  followed by the stubs written after a colon, split on ``;`` —
  ``# BEGIN SOLUTION: promoters = ...; nps = ...`` leaves two lines ``promoters = ...`` and
  ``nps = ...`` (inside a function: ``# BEGIN SOLUTION: return ...``);
* in Markdown cells, text between ``<!-- BEGIN SOLUTION -->`` and ``<!-- END SOLUTION -->``
  becomes ``*Your answer here.*``;
* cells tagged ``solution-only`` are dropped;
* outputs and execution counts are cleared, and every code cell is tagged ``nbval-ignore-output``
  so nbval runs the learner copy top to bottom (a blank answer must print "not answered yet",
  never raise) without comparing outputs.

The generated cell must still be valid Python; otherwise this script stops and names the cell.
"""

from __future__ import annotations

import argparse
import ast
import copy
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
COURSE = ROOT / "notebooks" / "course"
SOLUTIONS = COURSE / "solutions"

IGNORE_OUTPUT_TAG = "nbval-ignore-output"
SOLUTION_ONLY_TAG = "solution-only"
ANSWER_STUB = "...  # your answer here"
CODE_STUB = "# your code here"
MARKDOWN_STUB = "*Your answer here.*"

_LINE_MARK = re.compile(r"\s*#\s*SOLUTION\s*$")
_BEGIN = re.compile(r"^(?P<indent>\s*)#\s*BEGIN SOLUTION\s*(?::(?P<stubs>.*))?$")
_END = re.compile(r"^\s*#\s*END SOLUTION\s*$")
_MD_BEGIN = re.compile(r"^\s*<!--\s*BEGIN SOLUTION\s*-->\s*$")
_MD_END = re.compile(r"^\s*<!--\s*END SOLUTION\s*-->\s*$")
_DROP_CELL_METADATA = ("execution", "papermill", "ExecuteTime", "collapsed", "scrolled")


class MarkerError(ValueError):
    """A solution marker is malformed; the message names the notebook and cell."""


def learner_path(solution: Path) -> Path:
    """``notebooks/course/solutions/NN.ipynb`` -> ``notebooks/course/NN.ipynb``."""
    return solution.parent.parent / solution.name


def solution_notebooks() -> list[Path]:
    return sorted(SOLUTIONS.glob("[0-9][0-9]_*.ipynb"))


def _blank_line(line: str, where: str) -> str:
    """Blank one line marked ``# SOLUTION``."""
    code = _LINE_MARK.sub("", line)
    indent = code[: len(code) - len(code.lstrip())]
    try:
        tree = ast.parse(code.strip())
    except SyntaxError:
        raise MarkerError(f"{where}: the line marked '# SOLUTION' is not a complete statement: "
                          f"{line.strip()!r}. Use '# BEGIN SOLUTION' / '# END SOLUTION' for "
                          "multi-line answers.") from None
    stmt = tree.body[0] if len(tree.body) == 1 else None
    if isinstance(stmt, ast.Assign):
        targets = " = ".join(ast.get_source_segment(code.strip(), t) for t in stmt.targets)
        return f"{indent}{targets} = {ANSWER_STUB}"
    if isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
        target = ast.get_source_segment(code.strip(), stmt.target)
        annotation = ast.get_source_segment(code.strip(), stmt.annotation)
        return f"{indent}{target}: {annotation} = {ANSWER_STUB}"
    return f"{indent}{CODE_STUB}"


def blank_code(source: str, where: str = "cell") -> str:
    """Return ``source`` with every solution marker replaced by its learner stub."""
    out: list[str] = []
    block_indent: str | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        here = f"{where}, line {number}"
        begin, end = _BEGIN.match(line), _END.match(line)
        if block_indent is not None:
            if begin:
                raise MarkerError(f"{here}: '# BEGIN SOLUTION' inside another solution block.")
            if end:
                block_indent = None
            continue
        if end:
            raise MarkerError(f"{here}: '# END SOLUTION' without a '# BEGIN SOLUTION' before it.")
        if begin:
            block_indent = begin["indent"]
            out.append(f"{block_indent}{CODE_STUB}")
            stubs = [s.strip() for s in (begin["stubs"] or "").split(";") if s.strip()]
            out.extend(f"{block_indent}{s}" for s in stubs)
        elif _LINE_MARK.search(line):
            out.append(_blank_line(line, here))
        else:
            out.append(line)
    if block_indent is not None:
        raise MarkerError(f"{where}: '# BEGIN SOLUTION' is never closed by '# END SOLUTION'.")
    result = "\n".join(out)
    _require_valid_python(result, where)
    return result


def _require_valid_python(source: str, where: str) -> None:
    plain = "\n".join("" if line.lstrip().startswith(("%", "!")) else line
                      for line in source.splitlines())
    try:
        ast.parse(plain)
    except SyntaxError as err:
        raise MarkerError(f"{where}: the learner version is not valid Python ({err.msg}, line "
                          f"{err.lineno}). Add a stub after the marker, e.g. "
                          "'# BEGIN SOLUTION: return ...'.") from None


def blank_markdown(source: str, where: str = "cell") -> str:
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        if _MD_BEGIN.match(line):
            if inside:
                raise MarkerError(f"{where}: nested '<!-- BEGIN SOLUTION -->'.")
            inside = True
            out.append(MARKDOWN_STUB)
        elif _MD_END.match(line):
            if not inside:
                raise MarkerError(f"{where}: '<!-- END SOLUTION -->' without a BEGIN.")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: '<!-- BEGIN SOLUTION -->' is never closed.")
    return "\n".join(out)


def make_learner_copy(solution_nb: nbformat.NotebookNode, name: str = "notebook"
                      ) -> nbformat.NotebookNode:
    """Return the learner version of a solution notebook (the input is not modified)."""
    nb = copy.deepcopy(solution_nb)
    cells = []
    for index, cell in enumerate(nb.cells):
        tags = list(cell.metadata.get("tags", []))
        if SOLUTION_ONLY_TAG in tags:
            continue
        where = f"{name}, cell {index} (id {cell.get('id', '?')})"
        for key in _DROP_CELL_METADATA:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.source = blank_code(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
            if IGNORE_OUTPUT_TAG not in tags:
                tags.append(IGNORE_OUTPUT_TAG)
            cell.metadata["tags"] = tags
        elif cell.cell_type == "markdown":
            cell.source = blank_markdown(cell.source, where)
        cells.append(cell)
    nb.cells = cells
    for key in ("papermill", "widgets"):
        nb.metadata.pop(key, None)
    nb.metadata["cxlab"] = {
        "learner_copy_of": f"solutions/{name}",
        "generated_by": "scripts/make_learner_copies.py (do not edit: edit the solution notebook)",
    }
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """The file text written for a notebook (nbformat's canonical JSON plus a newline)."""
    return nbformat.writes(nb, version=4) + "\n"


def learner_text(solution: Path) -> str:
    nb = nbformat.read(solution, as_version=4)
    return render(make_learner_copy(nb, solution.name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="solution notebooks (default: all in notebooks/course/solutions)")
    parser.add_argument("--check", action="store_true",
                        help="only report learner copies that are out of date (exit 1 if any)")
    args = parser.parse_args(argv)
    stale = []
    for solution in args.notebooks or solution_notebooks():
        target = learner_path(solution.resolve())
        text = learner_text(solution)
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(target)
        if not args.check:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT)}")
    if args.check and stale:
        print("Out of date (run python scripts/make_learner_copies.py): "
              + ", ".join(str(p.relative_to(ROOT)) for p in stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

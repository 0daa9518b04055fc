"""Re-execute the course's solution notebooks, store their outputs, regenerate the learner copies.

    .venv/bin/python scripts/refresh_notebooks.py            # all solution notebooks
    .venv/bin/python scripts/refresh_notebooks.py 01 02      # only those whose name starts so

Run it after any change to cxlab that a notebook calls (a new number format, a new column),
then `python -m pytest notebooks/course -q` to confirm nbval passes. Each notebook runs in its
own folder with the ``python3`` kernel of the current environment. Stored outputs must be
exactly what a fresh run prints, so the script refuses to store a notebook whose outputs hold
an error, a warning (stderr), a memory address or an absolute path of this machine.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_learner_copies as mlc  # noqa: E402

ROOT = mlc.ROOT
TIMEOUT = 300  # seconds per cell; a notebook should take < 60 s in all


def output_problems(nb: nbformat.NotebookNode) -> list[str]:
    """Outputs that would make nbval flaky or confuse a learner (empty list: all good)."""
    problems = []
    home = str(Path.home())
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            kind = out.get("output_type")
            if kind == "error":
                problems.append(f"cell {index}: error {out.get('ename')}: {out.get('evalue')}")
            elif kind == "stream" and out.get("name") == "stderr":
                problems.append(f"cell {index}: stderr output {out.get('text', '')[:200]!r}")
            texts = [out.get("text", "")] + [v for k, v in out.get("data", {}).items()
                                              if k.startswith("text/") and isinstance(v, str)]
            for text in texts:
                if re.search(r"\b0x[0-9a-fA-F]{6,}", text):
                    problems.append(f"cell {index}: memory address in output")
                if str(ROOT) in text or (home != "/" and home in text):
                    problems.append(f"cell {index}: absolute path of this machine in output")
    return problems


def data_fingerprint() -> str:
    """SHA-256 over the bundled company's files: stored in each executed notebook so that a test
    can say "the data changed since the outputs were stored" instead of a cryptic nbval diff."""
    import hashlib

    from cxlab import datasets
    from cxlab.contract import TABLES

    digest = hashlib.sha256()
    # the contract's four tables (optional ones, e.g. invitations.csv, are left out)
    for file in sorted(datasets.path("kestrel") / f"{t}.csv" for t in TABLES):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def coalesce_streams(nb: nbformat.NotebookNode) -> None:
    """Merge consecutive stdout (stderr) outputs of a cell, as nbval does before comparing:
    how the kernel happened to flush them must not show up in the stored notebook."""
    for cell in nb.cells:
        merged = []
        for out in cell.get("outputs", []):
            if (out.get("output_type") == "stream" and merged
                    and merged[-1].get("output_type") == "stream"
                    and merged[-1].get("name") == out.get("name")):
                merged[-1]["text"] += out["text"]
            else:
                merged.append(out)
        if "outputs" in cell:
            cell.outputs = merged


def execute(path: Path) -> float:
    """Execute one notebook in place; return the seconds it took."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=TIMEOUT, record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    for cell in nb.cells:
        for key in mlc._DROP_CELL_METADATA:
            cell.metadata.pop(key, None)
    coalesce_streams(nb)
    problems = output_problems(nb)
    if problems:
        raise SystemExit(f"{path.name}: not stored, fix first:\n  " + "\n  ".join(problems))
    nb.metadata["cxlab"] = {"kestrel_sha256": data_fingerprint()}
    path.write_text(mlc.render(nb), encoding="utf-8")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("only", nargs="*", help="name prefixes, e.g. 01 02 (default: all)")
    args = parser.parse_args(argv)
    notebooks = [p for p in mlc.solution_notebooks()
                 if not args.only or any(p.name.startswith(o) for o in args.only)]
    if not notebooks:
        print("No solution notebook matches.")
        return 1
    for path in notebooks:
        print(f"executing {path.relative_to(ROOT)} ...", flush=True)
        print(f"  done in {execute(path):.1f} s", flush=True)
    return mlc.main([str(p) for p in notebooks])


if __name__ == "__main__":
    sys.exit(main())

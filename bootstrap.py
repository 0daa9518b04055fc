"""Set up cxlab from nothing and run its main jobs.

    python3 bootstrap.py report   # quarterly report for the bundled company -> reports/
    python3 bootstrap.py test     # the full test suite: unit tests and every notebook
    python3 bootstrap.py lab      # open the course in JupyterLab (installs the `lab` extra)
    python3 bootstrap.py setup    # the development tools too (`dev` extra: mypy, build, ...)

Each call creates a virtual environment in ``.venv`` (if there is none), installs the
package into it in editable mode (with the extras the job needs), registers the Jupyter kernel ``cxlab`` inside that
environment and then runs the job. Only Python 3.11+ and pip are needed; no environment
has to be activated. Extra arguments after the job name go to the job, e.g.
``python3 bootstrap.py report --by region`` or ``python3 bootstrap.py test -k metrics``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")


def run(*cmd: str | os.PathLike) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def setup(extras: str = "") -> None:
    """Create .venv, install cxlab (editable) and its kernel."""
    if sys.version_info < (3, 11):
        sys.exit(f"cxlab needs Python 3.11 or newer; this is {sys.version.split()[0]}.")
    if not PY.exists():
        print(f"Creating the virtual environment {VENV} ...", flush=True)
        venv.create(VENV, with_pip=True)
    spec = f".[{extras}]" if extras else "."
    run(PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", spec)
    run(PY, "-m", "ipykernel", "install", "--sys-prefix", "--name", "cxlab",
        "--display-name", "Python (cxlab)")


def main(argv: list[str]) -> None:
    if not argv or argv[0] in {"-h", "--help"}:
        print(__doc__)
        return
    job, rest = argv[0], argv[1:]
    if job == "report":
        setup()
        run(BIN / "cxlab", "report", "quarterly", *rest)
    elif job == "test":
        setup("test,spark")          # everything the suite imports (Spark runs in local mode)
        run(PY, "-m", "pytest", *rest)
    elif job == "lab":
        setup("lab")
        run(BIN / "jupyter", "lab", "notebooks/course", *rest)
    elif job == "setup":
        setup("dev")
    else:
        sys.exit(f"Unknown job {job!r}. Choose one of: report, test, lab, setup.")


if __name__ == "__main__":
    try:
        main(sys.argv[1:])
    except subprocess.CalledProcessError as err:
        sys.exit(err.returncode)

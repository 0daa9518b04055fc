#!/usr/bin/env bash
# Do the declared lower bounds hold? Installs cxlab with the LOWEST version of every direct
# dependency that pyproject.toml allows (uv --resolution lowest-direct; dependencies of
# dependencies resolve as usual) into a scratch venv and runs the quick part of the suite
# there (unit and reference tests; no notebooks, nothing marked slow, browser or realdata).
#
#   scripts/check_lower_bounds.sh                 # Python 3.11 (the oldest supported)
#   PYTHON=python3.12 scripts/check_lower_bounds.sh -k metrics
#
# Extra arguments go to pytest. Needs the package registry (or uv's cache). The scratch venv
# lives in ${LOWEST_VENV:-${TMPDIR:-/tmp}/cxlab-lowest} and is rebuilt on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

find_python() {
    for cand in "${PYTHON:-}" "$HOME/.pyenv/versions/3.11"*/bin/python3.11 python3.11 python3; do
        [[ -n "$cand" ]] && command -v "$cand" >/dev/null 2>&1 && { command -v "$cand"; return; }
    done
    echo "no Python 3.11 found; set PYTHON=..." >&2; exit 2
}
PY=$(find_python)
VENV=${LOWEST_VENV:-${TMPDIR:-/tmp}/cxlab-lowest}
echo "== Python: $PY ($("$PY" --version)); scratch venv: $VENV"

rm -rf "$VENV"
"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv
"$VENV/bin/python" -m uv pip install --python "$VENV/bin/python" --quiet \
    --resolution lowest-direct -e "$ROOT[test,spark]"

echo "== direct dependencies as installed (lowest allowed):"
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md, re, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extras = project["optional-dependencies"]
for req in project["dependencies"] + extras["test"] + extras["spark"]:
    name = re.split(r"[<>=!~\[ ;]", req, maxsplit=1)[0]
    print(f"  {req:28s} -> {md.version(name)}")
PY

# The quick part: no nbval (its options are dropped with addopts), no slow/browser/realdata
# tests, and not the tests that build the wheel, the docs or lint the code.
cd "$ROOT"
exec "$VENV/bin/python" -m pytest tests -o addopts="-p no:cacheprovider" -p no:nbval -q \
    -m "not slow and not browser and not realdata" \
    --ignore tests/test_wheel.py --ignore tests/test_docs.py \
    --deselect tests/test_packaging.py::test_ruff_is_clean "$@"

#!/usr/bin/env bash
# The quick part of the suite on every supported Python (3.11, 3.12, 3.13).
# For each version found (pyenv's ~/.pyenv/versions/3.X*, else python3.X on PATH) it makes a
# scratch venv, installs cxlab editable with the test and spark extras (uv, for speed; newest
# versions, as a user's fresh install gets) and runs the unit and reference tests: no
# notebooks, nothing marked slow, browser or realdata.
#
#   scripts/check_pythons.sh                 # 3.11 3.12 3.13
#   VERSIONS="3.13" scripts/check_pythons.sh -k metrics
#
# Extra arguments go to pytest. Venvs live in ${TMPDIR:-/tmp}/cxlab-py3.X (rebuilt each run).
# Exit status: the number of versions that failed (0 = all passed).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VERSIONS=${VERSIONS:-"3.11 3.12 3.13"}

find_python() {
    local v=$1 cand
    for cand in "$HOME/.pyenv/versions/$v"*/bin/python"$v" "python$v"; do
        command -v "$cand" >/dev/null 2>&1 && { command -v "$cand"; return 0; }
    done
    return 1
}

failed=0
summary=()
for v in $VERSIONS; do
    if ! PY=$(find_python "$v"); then
        summary+=("$v: not found (skipped)"); failed=$((failed + 1)); continue
    fi
    VENV=${TMPDIR:-/tmp}/cxlab-py$v
    echo "== Python $v: $PY -> $VENV"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV" &&
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv &&
    "$VENV/bin/python" -m uv pip install --python "$VENV/bin/python" --quiet \
        -e "$ROOT[test,spark]" || { summary+=("$v: install failed"); failed=$((failed + 1)); continue; }
    start=$(date +%s)
    if "$VENV/bin/python" -m pytest tests -o addopts="-p no:cacheprovider" -p no:nbval -q \
            -m "not slow and not browser and not realdata" \
            --ignore tests/test_wheel.py --ignore tests/test_docs.py "$@"; then
        summary+=("$v: passed ($(( $(date +%s) - start )) s, $("$VENV/bin/python" --version))")
    else
        summary+=("$v: FAILED ($("$VENV/bin/python" --version))"); failed=$((failed + 1))
    fi
done
echo "== summary"
printf '  %s\n' "${summary[@]}"
exit "$failed"

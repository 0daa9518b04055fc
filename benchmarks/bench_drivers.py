"""Speed and accuracy of cxlab's key driver analysis, side by side with Python peers.

    .venv/bin/python benchmarks/bench_drivers.py            # full run (~10-20 min, peers bounded)
    .venv/bin/python benchmarks/bench_drivers.py --quick    # cxlab only, small grid (~1 min)

Data: one synthetic survey (10,000 rows, 30 integer 1-10 ratings with a common factor, ltr 0-10)
and, for the binary outcome, one of 25,000 rows (14 such ratings, ``churned`` 0/1 from a logistic
model), written to ``benchmarks/.venvs/data/`` (gitignored); every tool reads the same CSV and only
the call itself is timed (best of ``--repeat`` runs for fast calls).

Tasks: exact LMG (linear, p = 8..24; sampled at p = 30), bootstrap (B = 200, 1000 at p = 10 and
B = 1000 at p = 20), and exact logistic dominance (general dominance of McFadden's pseudo-R²,
``family="logistic"``) at p = 10 and 14 on 25,000 rows, against ``dominance-analysis`` in its
logistic mode (``objective=0, pseudo_r2="mcfadden"``) and against one statsmodels ``Logit`` fit
per subset (p = 10; the brute force the tests use).

Peers, each in its own virtual environment created here on first use (``benchmarks/.venvs/``,
gitignored), because their pins conflict with cxlab's (numpy 2, pandas 3):

* ``dominance-analysis`` 1.1.9 (needs numpy<2, ipython<8, plotly<6): ``Dominance(...,
  objective=1).incremental_rsquare()`` + ``dominance_stats()`` "Total Dominance" (= LMG); only
  p = 8, 10, 12 with a timeout (178 s at p = 14 reported in the issue). Logistic: the same with
  ``objective=0, pseudo_r2="mcfadden"`` at p = 10 and 14 (timeout).
* ``pingouin``: ``linear_regression(X, y, relimp=True)`` column ``relimp`` (= LMG).

R's relaimpo is not installed here; its timings quoted in the results are those measured by the
project on the same kind of machine (issue 3) and are marked as quoted.

Writes ``benchmarks/results/drivers.csv`` (one row per tool x task) and
``benchmarks/results/drivers.md`` (the table shown in benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENVS = HERE / ".venvs"
DATA = VENVS / "data" / "drivers_n10000_p30.csv"
LOGIT_DATA = VENVS / "data" / "drivers_logit_n25000_p14.csv"
LOGIT_ROWS = 25_000
LOGIT_P = 14
RESULTS = HERE / "results"
LOAD_AT_START = "n/a"
N_ROWS = 10_000
P_MAX = 30

PEERS = {
    "dominance-analysis": {"venv": "dominance", "module": "dominance_analysis",
                           "pip": ["dominance-analysis==1.1.9", "numpy<2", "ipython<8", "plotly<6"],
                           "ps": [8, 10, 12], "logit_ps": [10, 14]},
    "pingouin": {"venv": "pingouin", "module": "pingouin", "pip": ["pingouin"], "ps": [8, 10, 12, 14, 16]},
}
# R relaimpo 2.2-7 timings quoted in issue 3 (same 2-core machine, 10,000 rows).
RELAIMPO_QUOTED = {("lmg", 12): 0.37, ("lmg", 16): 4.3, ("lmg", 20): 85.0, ("boot200", 10): 13.0}
# cxlab before issue 12 (same machine; issue 12): (wall, CPU) seconds.
PREVIOUS_QUOTED = {("logistic lmg", 10): (None, 11.7), ("logistic lmg", 14): (None, 129.0),
                   ("boot1000", 20): (81.0, 113.0)}


# ---------------------------------------------------------------------------- worker (peer venvs)

def worker(tool: str, data: str, p: int, repeat: int, logistic: bool = False) -> None:
    """Runs inside a peer's venv: time one LMG computation, print JSON with values."""
    import pandas as pd
    df = pd.read_csv(data)
    cols = [f"x{j:02d}" for j in range(p)]
    target = "churned" if logistic else "ltr"
    sub = df[cols + [target]]
    if tool == "dominance-analysis":                  # imports are not timed
        import contextlib
        import io

        from dominance_analysis import Dominance
    elif tool == "pingouin":
        import pingouin as pg
    else:
        raise SystemExit(f"unknown tool {tool}")
    times = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        if tool == "dominance-analysis":
            with contextlib.redirect_stdout(io.StringIO()):
                dom = (Dominance(data=sub, target=target, objective=0, pseudo_r2="mcfadden",
                                 top_k=p) if logistic else
                       Dominance(data=sub, target=target, objective=1, top_k=p))
                dom.incremental_rsquare()
                stats = dom.dominance_stats()
            values = {c: float(stats.loc[c, "Total Dominance"]) for c in cols}
        else:
            out = pg.linear_regression(sub[cols], sub["ltr"], relimp=True).set_index("names")
            values = {c: float(out.loc[c, "relimp"]) for c in cols}
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(times)
    print(json.dumps({"seconds": wall, "cpu_seconds": cpu, "values": values}))


# ---------------------------------------------------------------------------- main process

def _ratings(seed: int, n: int, p: int):
    """Integer 1-10 ratings with a common factor, the generator and sparse true weights."""
    import numpy as np
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    X = np.clip(np.round(6.5 + 1.8 * (0.6 * f + 0.8 * rng.normal(size=(n, p)))), 1, 10)
    beta = rng.uniform(0, 0.4, p) * (rng.random(p) < 0.8)
    return rng, X, beta


def _write(path: Path, X, outcome: str, y) -> None:
    import pandas as pd
    path.parent.mkdir(parents=True, exist_ok=True)
    df = pd.DataFrame(X.astype(int), columns=[f"x{j:02d}" for j in range(X.shape[1])])
    df[outcome] = y.astype(int)
    df.to_csv(path, index=False)


def make_data(path: Path) -> None:
    """10,000 rows, 30 ratings, ltr 0-10 from a linear model."""
    import numpy as np
    if not path.exists():
        rng, X, beta = _ratings(20261122, N_ROWS, P_MAX)
        noise = rng.normal(scale=1.6, size=N_ROWS)
        _write(path, X, "ltr", np.clip(np.round(7 + (X - 6.5) @ beta / 2 + noise), 0, 10))


def make_logit_data(path: Path) -> None:
    """25,000 rows, 14 ratings, churned 0/1 from a logistic model."""
    import numpy as np
    if not path.exists():
        rng, X, beta = _ratings(20261207, LOGIT_ROWS, LOGIT_P)
        eta = -0.5 + (X - 6.5) @ beta / 2
        _write(path, X, "churned", rng.random(LOGIT_ROWS) < 1 / (1 + np.exp(-eta)))


def ensure_venv(name: str, packages: list[str], module: str) -> Path:
    """Create benchmarks/.venvs/<name> with ``packages`` (PyPI) unless ``module`` imports there."""
    py = VENVS / name / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", f"import {module}"],
                                      check=False, capture_output=True).returncode == 0:
        return py
    print(f"  creating {VENVS / name} with {' '.join(packages)} ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENVS / name)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    *packages], check=True)
    return py


def run_peer(py: Path, tool: str, p: int, timeout: float, repeat: int,
             logistic: bool = False) -> dict:
    cmd = [str(py), str(Path(__file__).resolve()), "--worker", tool, "--data",
           str(LOGIT_DATA if logistic else DATA), "--p", str(p), "--repeat", str(repeat)]
    cmd += ["--logistic"] if logistic else []
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"status": f"timeout > {timeout:.0f} s"}
    if out.returncode != 0:
        return {"status": "error: " + out.stderr.strip().splitlines()[-1][:120]}
    return {"status": "ok", **json.loads(out.stdout.strip().splitlines()[-1])}


def peer_version(py: Path, dist: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({dist!r}))"
    out = subprocess.run([str(py), "-c", code], check=False, capture_output=True, text=True)
    return out.stdout.strip() or "?"


def timed(fn, repeat: int) -> tuple[tuple[float, float], object]:
    """Best (wall, cpu) seconds of ``repeat`` calls; cpu = process time incl. BLAS threads."""
    best, value = (float("inf"), float("inf")), None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best, value


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="cxlab only, small grid")
    ap.add_argument("--skip-peers", action="store_true")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per peer run")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--worker")
    ap.add_argument("--data")
    ap.add_argument("--p", type=int)
    ap.add_argument("--logistic", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--logit-timeout", type=float, default=1200,
                    help="seconds per peer run of logistic dominance")
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.data, args.p, args.repeat, args.logistic)
        return

    import warnings

    import numpy as np
    import pandas as pd

    import cxlab as cx
    from cxlab.checks import CXWarning
    warnings.simplefilter("ignore", CXWarning)

    global LOAD_AT_START
    if hasattr(os, "getloadavg"):
        LOAD_AT_START = f"{os.getloadavg()[0]:.1f}"
    make_data(DATA)
    df = pd.read_csv(DATA)
    cols = [f"x{j:02d}" for j in range(P_MAX)]
    rows = []
    lmg = {}
    ps = [8, 10, 12] if args.quick else [8, 10, 12, 14, 16, 20, 22, 24]
    print("cxlab exact LMG (relative_importance, method='lmg'):", flush=True)
    for p in ps:
        rep = args.repeat if p <= 20 else 3
        (sec, cpu), out = timed(lambda p=p: cx.drivers.relative_importance(df, "ltr", cols[:p]), rep)
        lmg[p] = out["importance"]
        rows.append({"tool": "cxlab", "task": "lmg", "p": p, "seconds": sec, "cpu_seconds": cpu,
                     "status": "ok"})
        print(f"  p={p:2d}  {sec:8.3f} s  (cpu {cpu:.3f} s)", flush=True)
    if not args.quick:
        p = 30
        (sec, cpu), out = timed(
            lambda: cx.drivers.relative_importance(df, "ltr", cols[:p], tol=1e-3), 1)
        rows.append({"tool": "cxlab", "task": "lmg (sampled, 95% bound 1e-3)", "p": p,
                     "seconds": sec, "cpu_seconds": cpu, "status": f"ok, {out.attrs['permutations']} orders, bound "
                                               f"{out.attrs['error_bound']:.1e}"})
        print(f"  p=30 sampled {sec:8.3f} s  bound {out.attrs['error_bound']:.1e}", flush=True)
    for B in ([200] if args.quick else [200, 1000]):
        (sec, cpu), _ = timed(lambda B=B: cx.drivers.analyze(df, "ltr", cols[:10], bootstrap=B,
                                                            seed=0, progress=False), 3)
        rows.append({"tool": "cxlab", "task": f"boot{B}", "p": 10, "seconds": sec,
                     "cpu_seconds": cpu, "status": "ok"})
        print(f"  bootstrap B={B} p=10  {sec:8.3f} s", flush=True)
    if not args.quick:
        (sec, cpu), _ = timed(lambda: cx.drivers.analyze(df, "ltr", cols[:20], bootstrap=1000,
                                                         seed=0, progress=False), 1)
        rows.append({"tool": "cxlab", "task": "boot1000", "p": 20, "seconds": sec,
                     "cpu_seconds": cpu, "status": "ok"})
        print(f"  bootstrap B=1000 p=20  {sec:8.3f} s (cpu {cpu:.3f} s)", flush=True)

    make_logit_data(LOGIT_DATA)
    ldf = pd.read_csv(LOGIT_DATA)
    lcols = [f"x{j:02d}" for j in range(LOGIT_P)]
    logit = {}
    print("cxlab exact logistic dominance (McFadden), 25,000 rows:", flush=True)
    for p in ([10] if args.quick else [10, 14]):
        (sec, cpu), out = timed(lambda p=p: cx.drivers.relative_importance(
            ldf, "churned", lcols[:p], family="logistic"), 3 if p <= 10 else 1)
        logit[p] = out["importance"]
        rows.append({"tool": "cxlab", "task": "logistic lmg", "p": p, "seconds": sec,
                     "cpu_seconds": cpu, "status": "ok"})
        print(f"  p={p:2d}  {sec:8.3f} s  (cpu {cpu:.3f} s)", flush=True)
    if not args.quick:
        import statsmodels.api as sm
        p = 10

        def brute():                        # one statsmodels Logit per subset, then Shapley
            X, y = ldf[lcols[:p]].to_numpy(float), ldf["churned"].to_numpy(float)
            ll = np.empty(1 << p)
            for m in range(1 << p):
                Xs = np.column_stack([np.ones(len(y))] + [X[:, j] for j in range(p) if m >> j & 1])
                ll[m] = sm.Logit(y, Xs).fit(disp=0, tol=1e-10, method="newton").llf
            return cx.drivers._shapley_from_values(1 - ll / ll[0], p)
        (sec, cpu), phi = timed(brute, 1)
        rows.append({"tool": "statsmodels (Logit per subset)", "task": "logistic lmg", "p": p,
                     "seconds": sec, "cpu_seconds": cpu, "status": "ok",
                     "max_abs_diff_vs_cxlab": float(np.abs(phi - logit[p].to_numpy()).max())})
        print(f"  statsmodels brute force p=10 {sec:8.3f} s  diff {rows[-1]['max_abs_diff_vs_cxlab']:.1e}",
              flush=True)

    versions = {"cxlab": cx.__version__, "numpy": np.__version__, "pandas": pd.__version__}
    if not (args.quick or args.skip_peers):
        for tool, spec in PEERS.items():
            print(f"{tool}:", flush=True)
            try:
                py = ensure_venv(spec["venv"], spec["pip"], spec["module"])
            except subprocess.CalledProcessError as err:
                rows.append({"tool": tool, "task": "lmg", "p": None, "seconds": None,
                             "status": f"install failed ({err})"})
                continue
            versions[tool] = peer_version(py, tool)
            for p in spec["ps"]:
                res = run_peer(py, tool, p, args.timeout, repeat=1)
                row = {"tool": tool, "task": "lmg", "p": p, "seconds": res.get("seconds"),
                       "cpu_seconds": res.get("cpu_seconds"), "status": res["status"]}
                if res["status"] == "ok":
                    theirs = pd.Series(res["values"])[cols[:p]]
                    row["max_abs_diff_vs_cxlab"] = float((theirs - lmg[p]).abs().max()) \
                        if p in lmg else None
                rows.append(row)
                print(f"  p={p:2d}  {row['seconds'] if row['seconds'] else float('nan'):8.3f} s "
                      f" {res['status']}  diff {row.get('max_abs_diff_vs_cxlab')}", flush=True)
                if res["status"].startswith("timeout"):
                    break
            for p in spec.get("logit_ps", []):
                res = run_peer(py, tool, p, args.logit_timeout, repeat=1, logistic=True)
                row = {"tool": tool, "task": "logistic lmg", "p": p, "seconds": res.get("seconds"),
                       "cpu_seconds": res.get("cpu_seconds"), "status": res["status"]}
                if res["status"] == "ok" and p in logit:
                    theirs = pd.Series(res["values"])[lcols[:p]]
                    row["max_abs_diff_vs_cxlab"] = float((theirs - logit[p]).abs().max())
                rows.append(row)
                print(f"  logistic p={p:2d}  {row['seconds'] or float('nan'):8.3f} s "
                      f" {res['status']}  diff {row.get('max_abs_diff_vs_cxlab')}", flush=True)
                if res["status"].startswith("timeout"):
                    break
        for (task, p), sec in RELAIMPO_QUOTED.items():
            rows.append({"tool": "R relaimpo 2.2-7 (quoted)", "task": task, "p": p, "seconds": sec,
                         "status": "quoted from issue 3, not run here"})
        for (task, p), (sec, cpu) in PREVIOUS_QUOTED.items():
            rows.append({"tool": "cxlab before issue 12 (quoted)", "task": task, "p": p,
                         "seconds": sec, "cpu_seconds": cpu,
                         "status": "quoted from issue 12, not run here"})

    res = pd.DataFrame(rows)
    base = res[res.tool == "cxlab"].set_index(["task", "p"])["seconds"]
    res["cxlab_seconds"] = [base.get((t, p), np.nan) for t, p in zip(res.task, res.p)]
    res["ratio_vs_cxlab"] = res["seconds"] / res["cxlab_seconds"]
    cbase = res[res.tool == "cxlab"].set_index(["task", "p"])["cpu_seconds"]
    res["cpu_ratio_vs_cxlab"] = res["cpu_seconds"] / np.array(
        [cbase.get((t, p), np.nan) for t, p in zip(res.task, res.p)], dtype=float)
    RESULTS.mkdir(exist_ok=True)
    stem = "drivers_quick" if args.quick else "drivers"
    res.to_csv(RESULTS / f"{stem}.csv", index=False)
    (RESULTS / f"{stem}.md").write_text(markdown(res, versions))
    print(f"wrote {RESULTS / (stem + '.csv')} and {stem}.md")


def _ratio(x: float) -> str:
    return f"{x:,.0f}×" if x >= 10 else f"{x:.1f}×"


def markdown(res, versions) -> str:
    import numpy as np
    lines = [
        (f"Key driver analysis, {N_ROWS:,} rows, same data file for every tool "
         f"({time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
         f"Python {platform.python_version()}; load average at start {LOAD_AT_START}).") ,
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + ".",
        "",
        ("| tool | task | p | seconds (wall) | × cxlab | CPU seconds | × cxlab (CPU) "
         "| max abs diff vs cxlab | note |"),
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in res.itertuples():
        sec = "—" if r.seconds is None or not np.isfinite(r.seconds) else f"{r.seconds:.3f}"
        ratio = "" if not np.isfinite(r.ratio_vs_cxlab) or r.tool == "cxlab" else \
            _ratio(r.ratio_vs_cxlab)
        cpu = getattr(r, "cpu_seconds", np.nan)
        cpu = "" if cpu is None or not np.isfinite(cpu) else f"{cpu:.3f}"
        cratio = getattr(r, "cpu_ratio_vs_cxlab", np.nan)
        cratio = "" if r.tool == "cxlab" or cratio is None or not np.isfinite(cratio) else \
            _ratio(cratio)
        diff = getattr(r, "max_abs_diff_vs_cxlab", np.nan)
        diff = "" if diff is None or not np.isfinite(diff) else f"{diff:.1e}"
        p = "" if r.p is None or not np.isfinite(r.p) else int(r.p)
        note = "" if r.status == "ok" else r.status
        lines.append(f"| {r.tool} | {r.task} | {p} | {sec} | {ratio} | {cpu} | {cratio} | {diff} "
                     f"| {note} |")
    lines += ["", ("Tasks: `lmg` = exact LMG/Shapley decomposition of R² (dominance-analysis: "
                   "general dominance; pingouin: `relimp`); `bootB` = B bootstrap resamples with "
                   "percentile intervals (cxlab `analyze`, relaimpo `boot.relimp` + "
                   "`booteval.relimp`); `logistic lmg` = exact general dominance of McFadden's "
                   "pseudo-R² over all 2^p logistic sub-models, 25,000 rows (dominance-analysis: "
                   "`objective=0`; statsmodels: one `Logit` fit per subset). Rows marked quoted "
                   "are earlier measurements on the same kind of machine. Times are the best of `--repeat` (5) runs for cxlab at p <= 20, "
                   "else of 3 (cxlab) or 1 (peers). CPU seconds = process time of the call, all "
                   "threads; less sensitive than wall time to other jobs on the machine.")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

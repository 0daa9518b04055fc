"""Benchmark the report batch: what an extra segment costs, warm kernels vs a kernel per report.

    .venv/bin/python benchmarks/bench_reports.py             # writes benchmarks/results/reports.{md,json}
    .venv/bin/python benchmarks/bench_reports.py --cold-max 150 --peer-max 5  # cold at every size

Data: the bundled company with every region split into 10 (50 regions, ~30 answers each in
the latest quarter) and every contact team split into 13 by contact (150 of the 156 teams
used), so one data set serves every size; ``min_base`` 10 so that no segment of interest is
suppressed (the suppressed ones are not run and are counted apart). Each batch runs as its own
process (``cx.report.run`` with 2 workers): wall seconds from start to exit, and CPU seconds of
that process and every descendant (``resource.getrusage(RUSAGE_CHILDREN)`` — workers reap
their kernels, so kernel CPU is included). The machine is shared by other engineers: wall time
measures the neighbours too; CPU time is the cost of the code.

Sizes: the company alone, company + 5, 20 and 50 regions (quarterly), company + 150 teams
(team scorecard). Marginal cost of a segment = (batch(N) - company alone) / N.
Approaches: ``warm`` (cx.report.run default: one long-lived kernel per worker, imports and data
kept, a fresh namespace per report), ``cold`` (``warm=False``: a kernel per report, the
previous runner), and the peer ``papermill`` (its CLI once per report, serial, then
``jupyter nbconvert --to html --no-input``), run only up to ``--peer-max`` segments because it
is the slowest.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import pandas as pd

import cxlab
from cxlab.report import TEMPLATES

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
BIN = Path(sys.executable).parent
KESTREL = ROOT.parent / "datasets" / "kestrel"
MIN_BASE = 10
WORKERS = 2


def _bucket(ids: pd.Series, k: int) -> pd.Series:
    return ids.astype(str).map(lambda s: zlib.crc32(s.encode()) % k + 1)


def make_company(folder: Path) -> tuple[list[str], list[str]]:
    """Kestrel with 50 regions (region × 10 by customer) and 156 teams (team × 13 by contact);
    returns the region and team values in a fixed order (round robin over the original regions)."""
    shutil.copytree(KESTREL, folder)
    values: set[str] = set()
    for name in ("customers", "survey", "contacts"):
        frame = pd.read_csv(folder / f"{name}.csv", dtype=str, keep_default_na=False)
        frame["region"] = frame["region"] + " " + _bucket(frame["customer_id"], 10).astype(str)
        values |= set(frame["region"])
        if name == "contacts":
            frame["team"] = frame["team"] + " " + _bucket(frame["contact_id"], 13).astype(str)
            teams = sorted(frame["team"].unique())
        frame.to_csv(folder / f"{name}.csv", index=False)
    pulse = pd.read_csv(folder / "pulse.csv", dtype=str, keep_default_na=False)
    pulse["team"] = pulse["team"] + " " + (pd.RangeIndex(len(pulse)) % 13 + 1).astype(str)
    pulse.to_csv(folder / "pulse.csv", index=False)
    groups: dict[str, list[str]] = {}
    for value in sorted(values, key=lambda v: (v.rsplit(" ", 1)[0], int(v.rsplit(" ", 1)[1]))):
        groups.setdefault(value.rsplit(" ", 1)[0], []).append(value)
    ordered = [r for group in zip(*groups.values()) for r in group]   # round robin
    return ordered, teams


def _measure(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{argv[:3]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def cxlab_batch(data: Path, out: Path, template: str, by: str, segments: list[str],
                warm: bool) -> dict:
    code = ("import json, sys; import cxlab.report as rp; a = json.loads(sys.argv[1]); "
            "b = rp.run(a['template'], by=a['by'], data=a['data'], out=a['out'], "
            "segments=a['segments'], workers=a['workers'], min_base=a['min_base'], "
            "progress=False, warm=a['warm']); "
            "print(json.dumps({'ok': b.ok, 'seconds': b.manifest['seconds'], "
            "'reports': [(r['name'], r['status'], r.get('seconds')) for r in b.reports]}))")
    args = {"template": template, "by": by, "data": str(data), "out": str(out),
            "segments": segments, "workers": WORKERS, "min_base": MIN_BASE, "warm": warm}
    wall, cpu = _measure([sys.executable, "-c", code, json.dumps(args)])
    period = next(p for p in out.iterdir() if p.is_dir())
    manifest = json.loads((period / "manifest.json").read_text())["batches"][0]
    statuses = pd.Series([r["status"] for r in manifest["reports"]]).value_counts().to_dict()
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "statuses": statuses,
            "report_s": [r.get("seconds") for r in manifest["reports"]]}


def papermill_serial(data: Path, out: Path, template: str, by: str, segments: list[str]) -> dict:
    """The peer: papermill's CLI per report, then nbconvert --no-input, one after the other."""
    path = TEMPLATES[template].path
    out.mkdir(parents=True)
    jobs = [{"by": by, "segment": None}] + [{"by": by, "segment": s} for s in segments]
    script = out / "run.sh"
    lines = ["set -e"]
    for i, job in enumerate(jobs):
        nb = out / f"r{i}.ipynb"
        params = {"data": str(data), "min_base": MIN_BASE, **job}
        cmd = [str(BIN / "papermill"), str(path), str(nb), "-k", "python3", "--no-progress-bar",
               "--log-level", "ERROR", "--cwd", str(out)]
        for key, value in params.items():
            cmd += ["-y", f"{key}: null"] if value is None else ["-p", key, str(value)]
        lines.append(" ".join(_q(c) for c in cmd))
        lines.append(" ".join(_q(c) for c in [str(BIN / "jupyter"), "nbconvert", "--to", "html",
                                              "--no-input", "--log-level", "ERROR", str(nb)]))
    script.write_text("\n".join(lines) + "\n")
    wall, cpu = _measure(["bash", str(script)])
    return {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1), "statuses": {"ok": len(jobs)}}


def _q(text: str) -> str:
    import shlex
    return shlex.quote(text)


def _marginal(rows: dict, approach: str, template: str, n: int, m: int = 0) -> dict | None:
    """(batch(n) - batch(m)) / (n - m): m = 0 includes the second worker's kernel start and
    imports (the company-alone batch needs one worker); m = the next smaller size does not."""
    base, big = rows.get((approach, template, m)), rows.get((approach, template, n))
    if not base or not big or n <= m:
        return None
    return {k: round((big[k] - base[k]) / (n - m), 2) for k in ("wall_s", "cpu_s")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="*", default=[5, 20, 50])
    parser.add_argument("--teams", type=int, default=150)
    parser.add_argument("--cold-max", type=int, default=20,
                        help="largest size also run cold (a kernel per report)")
    parser.add_argument("--peer-max", type=int, default=5, help="largest size run with papermill")
    parser.add_argument("--approaches", nargs="*", default=["warm", "cold", "papermill"])
    parser.add_argument("--merge", action="store_true",
                        help="add to the runs in results/reports.json instead of replacing them")
    parser.add_argument("--render", action="store_true",
                        help="only rewrite reports.md from results/reports.json")
    a = parser.parse_args()
    saved = json.loads((RESULTS / "reports.json").read_text()) if (a.render or a.merge) \
        else {"runs": []}
    old = {(r["approach"], r["template"], r["segments"]):
           {k: v for k, v in r.items() if k not in {"approach", "template", "segments"}}
           for r in saved["runs"]}
    if a.render:
        _write(old, a, saved["load_average_before"], saved["command"])
        return
    load = os.getloadavg()
    plan = [("warm", "quarterly", "region", n) for n in [0, *a.sizes]]
    plan += [("warm", "team_scorecard", "team", n) for n in (0, a.teams) if a.teams]
    plan += [("cold", "quarterly", "region", n) for n in [0, *a.sizes] if n <= a.cold_max]
    plan += [("cold", "team_scorecard", "team", n) for n in (0, a.teams)
             if a.teams and n <= a.cold_max]
    plan += [("papermill", "quarterly", "region", n) for n in [0, *a.sizes] if n <= a.peer_max]
    plan = [p for p in plan if p[0] in a.approaches]
    rows: dict = dict(old)
    command = ((saved["command"] + "; then ") if a.merge else "") + \
        "python benchmarks/bench_reports.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="cxlab-bench-") as tmp:
        data = Path(tmp) / "kestrel50"
        regions, teams = make_company(data)
        for i, (approach, template, by, n) in enumerate(plan):
            segments = (regions if by == "region" else teams)[:n]
            out = Path(tmp) / f"run{i}"
            if approach == "papermill":
                got = papermill_serial(data, out, template, by, segments)
            else:
                got = cxlab_batch(data, out, template, by, segments, warm=approach == "warm")
            got["load_average"] = round(os.getloadavg()[0], 1)
            rows[(approach, template, n)] = got
            print(approach, template, n, got, flush=True)
            _write(rows, a, saved.get("load_average_before", load) if a.merge else load,
                   command)
            shutil.rmtree(out, ignore_errors=True)


def _write(rows: dict, a, load, command: str | None = None) -> None:
    result = {"cxlab_version": cxlab.__version__, "python": platform.python_version(),
              "cores": len(os.sched_getaffinity(0)), "workers": WORKERS, "min_base": MIN_BASE,
              "load_average_before": [round(x, 2) for x in load],
              "command": command or ("python benchmarks/bench_reports.py "
                                     + " ".join(sys.argv[1:])),
              "runs": [{"approach": k[0], "template": k[1], "segments": k[2], **v}
                       for k, v in rows.items()]}
    lines = ["# Report batch: what an extra segment costs", "",
             f"cxlab {result['cxlab_version']}, Python {result['python']}, {result['cores']} "
             f"cores, {WORKERS} workers, min_base {MIN_BASE}; load average before the run "
             f"{', '.join(map(str, result['load_average_before']))} (the machine is shared by "
             "other engineers: **read CPU seconds**, wall time includes the neighbours). "
             f"Produced by `{result['command'].strip()}` (see the script's docstring for the "
             "data and the approaches).", "",
             "| approach | template | segments | wall s | CPU s | load | statuses |",
             "|---|---|---|---|---|---|---|"]
    for (approach, template, n), v in rows.items():
        lines.append(f"| {approach} | {template} | {n} | {v['wall_s']} | {v['cpu_s']} | "
                     f"{v['load_average']} | {v['statuses']} |")
    lines += ["", "Marginal cost of one segment: (batch(N) − batch(M)) / (N − M), M = 0 (company "
              "alone; includes the second worker's start) or the next smaller size:", "",
              "| template | N | M | warm wall s | warm CPU s | cold wall s | cold CPU s | "
              "papermill wall s | papermill CPU s | cold/warm CPU | papermill/warm CPU |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for template, sizes in (("quarterly", a.sizes), ("team_scorecard", [a.teams])):
        pairs = [(n, 0) for n in sizes] + list(zip(sizes[1:], sizes[:-1]))
        for n, m0 in pairs:
            m = {ap: _marginal(rows, ap, template, n, m0) for ap in ("warm", "cold", "papermill")}
            if not m["warm"]:
                continue
            cells = []
            for ap in ("warm", "cold", "papermill"):
                cells += [str(m[ap]["wall_s"]), str(m[ap]["cpu_s"])] if m[ap] else ["–", "–"]
            ratios = [f"{m[ap]['cpu_s'] / m['warm']['cpu_s']:.1f}×"
                      if m[ap] and m["warm"]["cpu_s"] > 0 else "–" for ap in ("cold", "papermill")]
            lines.append(f"| {template} | {n} | {m0} | " + " | ".join(cells + ratios) + " |")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "reports.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""Driver analysis at scale: in-memory pandas vs DuckDB vs Spark local, time and peak memory.

    .venv/bin/python benchmarks/bench_scale.py write --rows 1e7      # simulated survey -> Parquet
    .venv/bin/python benchmarks/bench_scale.py run --rows 1e7        # all engines, p = 20
    .venv/bin/python benchmarks/bench_scale.py run --rows 1e6 --engines pandas --p 12 20
    .venv/bin/python benchmarks/bench_scale.py run --rows 1e8 --engines duckdb

``write`` generates the survey with numpy in chunks of 10^6 rows and appends them to one Parquet
file with pyarrow (20 integer 1–10 ratings from a common factor, ltr 0–10 from known weights;
int8 columns, zstd; about 78 MB per 10^7 rows), under ``benchmarks/.venvs/data/`` (gitignored),
so memory stays at one chunk whatever the size.

``run`` times, each job in its own process: ``cx.drivers.relative_importance(method="lmg")``
and ``cx.drivers.analyze(bootstrap=B)`` (B = 1000; bucket bootstrap beyond 50,000 rows) with
the data

* ``pandas``: read into a pandas DataFrame of float64 first (read time reported apart),
* ``duckdb``: the Parquet path itself (cxlab.engine: aggregates in DuckDB, nothing collected),
* ``spark``: ``spark.read.parquet(path)`` in a local[2] session (start-up reported apart).

Reported per job: wall and CPU seconds of the call alone, the process's RSS before the call, and
the peak RSS of the whole process tree during the job (sampled every 50 ms from /proc, so the
Spark JVM counts). Results accumulate in ``benchmarks/results/scale.json`` (one record per job,
the newest per configuration wins) and ``benchmarks/results/scale.md``.
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
DATA = HERE / ".venvs" / "data"
RESULTS = HERE / "results"
P_MAX = 20


def data_path(rows: int) -> Path:
    return DATA / f"scale_n{rows}_p{P_MAX}.parquet"


# ---------------------------------------------------------------------------- data

def write(rows: int, chunk: int = 1_000_000, seed: int = 0) -> Path:
    """Simulated survey to Parquet in chunks (bounded memory)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq
    DATA.mkdir(parents=True, exist_ok=True)
    path = data_path(rows)
    rng = np.random.default_rng(seed)
    beta = np.linspace(0.5, 0.02, P_MAX).astype(np.float32)
    cols = [f"x{j:02d}" for j in range(P_MAX)] + ["ltr"]
    schema = pa.schema([(c, pa.int8()) for c in cols])
    tmp = path.with_suffix(".tmp")
    t0 = time.time()
    with pq.ParquetWriter(tmp, schema, compression="zstd") as w:
        done = 0
        while done < rows:
            m = min(chunk, rows - done)
            f = rng.standard_normal((m, 1), dtype=np.float32)
            lat = 0.6 * f + 0.8 * rng.standard_normal((m, P_MAX), dtype=np.float32)
            X = np.clip(np.rint(6 + 1.8 * lat), 1, 10).astype(np.int8)
            eta = (X - 6) @ beta + 1.5 * rng.standard_normal(m, dtype=np.float32)
            y = np.clip(np.rint(7 + eta), 0, 10).astype(np.int8)
            arrays = [pa.array(X[:, j]) for j in range(P_MAX)] + [pa.array(y)]
            w.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=m)
            done += m
    os.replace(tmp, path)
    print(f"wrote {rows:,} rows to {path} ({path.stat().st_size / 1e6:.0f} MB) in "
          f"{time.time() - t0:.0f} s")
    return path


# ---------------------------------------------------------------------------- one job

def _cpu() -> float:
    import resource
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def job(engine: str, task: str, path: str, p: int, B: int) -> None:
    """Runs in a child process; prints one JSON line."""
    import warnings

    import duckdb  # noqa: F401  (imports are not timed: cxlab loads its modules on first use)
    import narwhals  # noqa: F401

    import cxlab as cx
    import cxlab.drivers
    import cxlab.engine  # noqa: F401
    warnings.simplefilter("ignore")
    cols = [f"x{j:02d}" for j in range(p)]
    out = {"engine": engine, "task": task, "p": p, "B": B if task == "boot" else 0}
    t0 = time.time()
    if engine == "pandas":
        import pandas as pd
        data = pd.read_parquet(path, columns=cols + ["ltr"]).astype("float64")
        out["load_s"] = time.time() - t0
    elif engine == "duckdb":
        data = path
    else:
        from pyspark.sql import SparkSession
        spark = (SparkSession.builder.master("local[2]").appName("bench")
                 .config("spark.ui.enabled", "false").config("spark.driver.memory", "2g")
                 .config("spark.sql.shuffle.partitions", "4").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        out["startup_s"] = time.time() - t0
        data = spark.read.parquet(path)
    out["rss_before_call"] = _rss()
    c0, t0 = _cpu(), time.time()
    if task == "lmg":
        res = cx.drivers.relative_importance(data, "ltr", cols, method="lmg")
        imp, r2 = res["importance"], res.attrs["r2"]
        out["n"] = res.attrs["n"]
    else:
        res = cx.drivers.analyze(data, "ltr", cols, bootstrap=B, seed=0, progress=False)
        imp, r2 = res.importance["importance"], res.r2
        out["n"] = res.n
        out["ci_width_x00"] = float(res.importance["ci_high"].iloc[0]
                                    - res.importance["ci_low"].iloc[0])
        out["resample"] = res._design.resample
    out["call_s"] = time.time() - t0
    out["call_cpu_s"] = _cpu() - c0
    out["r2"] = float(r2)
    out["importance_x00"] = float(imp.iloc[0])
    print("RESULT " + json.dumps(out), flush=True)


def _tree_rss(pid: int) -> int:
    pids, total, i = [pid], 0, 0
    while i < len(pids):
        q = pids[i]
        i += 1
        try:
            for t in os.listdir(f"/proc/{q}/task"):
                with open(f"/proc/{q}/task/{t}/children") as f:
                    pids += [int(x) for x in f.read().split()]
            with open(f"/proc/{q}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return total


def run_job(engine, task, path, p, B, timeout=1800) -> dict:
    cmd = [sys.executable, __file__, "job", engine, task, str(path), str(p), str(B)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak, t0 = 0, time.time()
    while proc.poll() is None:
        peak = max(peak, _tree_rss(proc.pid))
        time.sleep(0.05)
        if time.time() - t0 > timeout:
            proc.kill()
            return {"engine": engine, "task": task, "p": p, "error": f"timeout {timeout} s"}
    stdout, stderr = proc.communicate()
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    if not lines:
        return {"engine": engine, "task": task, "p": p, "error": stderr.strip()[-400:]}
    rec = json.loads(lines[-1][7:])
    rec["peak_tree_rss"] = peak
    rec["job_wall_s"] = time.time() - t0
    return rec


# ---------------------------------------------------------------------------- report

def _load1() -> str:
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "n/a"


def report(records: list[dict]) -> str:
    rows = ["| rows | engine | task | p | call s (wall) | call s (CPU, Python) | start-up / read s "
            "| RSS before call MB | peak RSS of job MB | R² | load at start |",
            "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    key = lambda r: (r["rows"], ["pandas", "duckdb", "spark"].index(r["engine"]),  # noqa: E731
                     r["task"], r["p"])
    for r in sorted(records, key=key):
        if "error" in r:
            msg = " ".join(str(r["error"]).split())[-120:].replace("|", "/")
            rows.append(f"| {r['rows']:,} | {r['engine']} | {r['task']} | {r['p']} | not "
                        f"measured: {msg} | | | | | | |")
            continue
        task = "LMG" if r["task"] == "lmg" else f"LMG + {r['B']:,} bootstrap ({r['resample']})"
        pre = r.get("load_s", r.get("startup_s"))
        rows.append(
            f"| {r['rows']:,} | {r['engine']} | {task} | {r['p']} | {r['call_s']:.2f} | "
            f"{r['call_cpu_s']:.2f} | {'' if pre is None else f'{pre:.1f}'} | "
            f"{r['rss_before_call'] / 2**20:,.0f} | {r['peak_tree_rss'] / 2**20:,.0f} | "
            f"{r['r2']:.6f} | {r.get('load', 'n/a')} |")
    return "\n".join(rows)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("--rows", type=float, default=1e7)
    r = sub.add_parser("run")
    r.add_argument("--rows", type=float, default=1e7)
    r.add_argument("--engines", default="pandas,duckdb,spark")
    r.add_argument("--tasks", default="lmg,boot")
    r.add_argument("--p", type=int, nargs="+", default=[P_MAX])
    r.add_argument("--bootstrap", type=int, default=1000)
    j = sub.add_parser("job")
    j.add_argument("engine")
    j.add_argument("task")
    j.add_argument("path")
    j.add_argument("p", type=int)
    j.add_argument("B", type=int)
    a = ap.parse_args(argv)
    if a.cmd == "write":
        write(int(a.rows))
        return
    if a.cmd == "job":
        job(a.engine, a.task, a.path, a.p, a.B)
        return
    rows = int(a.rows)
    path = data_path(rows)
    if not path.exists():
        write(rows)
    RESULTS.mkdir(exist_ok=True)
    store = RESULTS / "scale.json"
    records = json.loads(store.read_text())["records"] if store.exists() else []
    for engine in a.engines.split(","):
        for p in a.p:
            for task in a.tasks.split(","):
                load = _load1()
                rec = run_job(engine, task, path, p, a.bootstrap)
                rec.update(rows=rows, load=load, date=time.strftime("%Y-%m-%d %H:%M"))
                print(json.dumps(rec), flush=True)
                records = [x for x in records if (x["rows"], x["engine"], x["task"], x["p"]) !=
                           (rows, engine, task, p)] + [rec]
                store.write_text(json.dumps({"machine": f"{platform.machine()}, "
                                             f"{os.cpu_count()} cores", "records": records},
                                            indent=1))
    md = RESULTS / "scale.md"
    md.write_text("# Driver analysis at scale (benchmarks/bench_scale.py)\n\n"
                  f"Machine: {platform.machine()}, {os.cpu_count()} cores, shared with other jobs "
                  "(load average at the start of each job in the last column).\n\n"
                  + report(records) + "\n")
    print(report(records))


if __name__ == "__main__":
    main()

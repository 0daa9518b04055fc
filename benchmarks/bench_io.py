"""Large survey exports: does a 2-million-row file read and validate in bounded memory?

    .venv/bin/python benchmarks/bench_io.py                 # 2,000,000 rows (~2-4 min)
    .venv/bin/python benchmarks/bench_io.py --rows 200000   # quick

Writes a synthetic survey-platform export once to ``benchmarks/.venvs/data/`` (git-ignored):
';'-delimited, decimal-comma weights, the platform's two extra header rows, 99 = not applicable
codes and typed-in "Don't know" answers, 10 ratings 1–5, a 0–10 outcome, segments, ids. Then,
each in its own Python process so that the peak resident set size (``ru_maxrss``) is that job's:

1. baseline: ``import cxlab`` only;
2. ``cx.study.validate_file(schema, path, chunksize)`` on the whole file (chunked, bounded memory);
3. the same on the first quarter of the file (bounded memory means about the same peak);
4. ``cx.study.load_data`` (what ``cxlab study`` does: the study's columns read and cleaned in
   chunks, then stacked) + ``cx.study.validate`` — memory grows with the rows kept, no more;
5. the same on the quarter file;
6. ``cx.io.read_survey(path, usecols=study columns)`` in one go + ``cx.study.validate``;
7. the peer: ``pandas.read_csv`` of the whole file in one go (what one writes by hand).

Reported: wall seconds and peak RSS (MB) per job, the validation findings of the chunked run
(which must equal the in-memory run's). Results: ``results/io.md`` and ``results/io.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
DATA = ROOT / ".venvs" / "data"
DRIVERS = [f"q{i}" for i in range(1, 11)]
SCHEMA = {"outcome": {"column": "ltr", "scale": [0, 10]},
          "drivers": {"scale": [1, 5], "columns": DRIVERS}, "id": "response_id",
          "segments": ["region", "plan"], "weight": "weight", "missing_codes": [99],
          "analysis": {"bootstrap": 0}}


def write_export(path: Path, rows: int, chunk: int = 250_000, seed: int = 0) -> None:
    """Write the synthetic export in chunks (the writer's memory stays bounded too)."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    cols = ["response_id", "customer_id", "ltr", *DRIVERS, "region", "plan", "weight"]
    with open(tmp, "w", encoding="utf-8", newline="") as fh:
        fh.write(";".join(cols) + "\n")
        fh.write(";".join(f'"Question text for {c}"' for c in cols) + "\n")
        fh.write(";".join(f'"{{""ImportId"":""QID_{c}""}}"' for c in cols) + "\n")
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            halo = rng.normal(size=n)
            X = np.clip(np.round(3 + 0.6 * halo[:, None] + rng.normal(size=(n, 10))), 1, 5)
            y = np.clip(np.round(X @ np.linspace(0.4, 0.05, 10) - 1 + rng.normal(0, 1.2, n)), 0, 10)
            frame = pd.DataFrame(X.astype(int), columns=DRIVERS).astype(object)
            frame.insert(0, "ltr", y.astype(int))
            frame.insert(0, "customer_id", [f"C{i:08d}" for i in range(start, start + n)])
            frame.insert(0, "response_id", [f"R{i:08d}" for i in range(start, start + n)])
            na = rng.random((n, 10)) < 0.02
            frame[DRIVERS] = frame[DRIVERS].mask(na, 99)
            dk = rng.random((n, 10)) < 0.003
            frame[DRIVERS] = frame[DRIVERS].mask(dk, "Don't know")
            frame["region"] = rng.choice(["North", "South", "East", "West", "Central"], n)
            frame["plan"] = rng.choice(["Basic", "Standard", "Premium"], n)
            frame["weight"] = np.round(rng.uniform(0.5, 2.0, n), 3)
            frame.to_csv(fh, sep=";", decimal=",", header=False, index=False)
    os.replace(tmp, path)


JOB = textwrap.dedent("""
    import json, resource, sys, time
    t0 = time.perf_counter()
    import cxlab as cx
    from cxlab import study as st
    kind, path, chunksize, schema = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
    sch = st.load_schema(schema)
    out = {}
    t1 = time.perf_counter()
    if kind == "baseline":
        pass
    elif kind == "chunked":
        rep = st.validate_file(sch, path, chunksize=chunksize)
        out = {"rows": rep.n_rows, "usable": rep.usable_rows,
               "findings": rep.summary()[["severity", "check", "column", "n"]].values.tolist()}
    elif kind == "in_memory":
        df = cx.io.read_survey(path, usecols=sch.columns_needed())
        rep = st.validate(sch, df)
        out = {"rows": rep.n_rows, "usable": rep.usable_rows,
               "findings": rep.summary()[["severity", "check", "column", "n"]].values.tolist()}
    elif kind == "study_load":
        sch = st.load_schema({**schema, "data": path})
        df, _ = st.load_data(sch)
        rep = st.validate(sch, df)
        out = {"rows": rep.n_rows, "usable": rep.usable_rows,
               "findings": rep.summary()[["severity", "check", "column", "n"]].values.tolist()}
    elif kind == "pandas":
        import pandas as pd
        df = pd.read_csv(path, sep=";", decimal=",", skiprows=[1, 2], low_memory=False)
        out = {"rows": len(df)}
    out.update(kind=kind, seconds=time.perf_counter() - t1, total_seconds=time.perf_counter() - t0,
               peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out))
""")


def run_job(kind: str, path: Path, chunksize: int) -> dict:
    done = subprocess.run([sys.executable, "-c", JOB, kind, str(path), str(chunksize),
                           json.dumps(SCHEMA)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--chunksize", type=int, default=200_000)
    args = ap.parse_args(argv)
    path = DATA / f"bench_io_{args.rows}.csv"
    quarter = DATA / f"bench_io_{args.rows // 4}.csv"
    for p, n in ((path, args.rows), (quarter, args.rows // 4)):
        if not p.exists():
            print(f"writing {p} ({n:,} rows) ...", flush=True)
            write_export(p, n)
    jobs = [("baseline", path), ("chunked", path), ("chunked", quarter), ("study_load", path),
            ("study_load", quarter), ("in_memory", path), ("pandas", path)]
    results = []
    for kind, p in jobs:
        r = run_job(kind, p, args.chunksize)
        r.update(file=p.name, file_mb=p.stat().st_size / 2**20)
        results.append(r)
        print(f"{kind:<10} {p.name:<26} {r['seconds']:7.1f} s   peak RSS {r['peak_rss_mb']:7.0f} MB",
              flush=True)
    chunked = results[1]
    for other in (results[3], results[5]):
        assert chunked["findings"] == other["findings"], "chunked and in-memory findings differ"
    meta = {"date": time.strftime("%Y-%m-%d %H:%M"), "python": platform.python_version(),
            "pandas": pd.__version__, "rows": args.rows, "chunksize": args.chunksize,
            "cpus": os.cpu_count(), "load_average": os.getloadavg()}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "io.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2,
                                                default=str) + "\n")
    lines = ["# Large exports: read and validate in bounded memory", "",
             (f"{meta['date']}, Python {meta['python']}, pandas {meta['pandas']}, "
              f"{meta['cpus']} CPUs, load average {meta['load_average'][0]:.1f} at start. "
              f"Chunk size {args.chunksize:,} rows."), "",
             "| job | file | file MB | rows | seconds | peak RSS MB |", "|---|---|---:|---:|---:|---:|"]
    labels = {"baseline": "import cxlab only", "chunked": "cx.study.validate_file (chunked)",
              "study_load": "cx.study.load_data (chunked read, study columns) + validate",
              "in_memory": "cx.io.read_survey whole file at once + cx.study.validate",
              "pandas": "peer: pandas.read_csv whole file"}
    for r in results:
        rows = f"{r['rows']:,}" if "rows" in r else "–"
        lines.append(f"| {labels[r['kind']]} | {r['file']} | {r['file_mb']:.0f} | {rows} | "
                     f"{r['seconds']:.1f} | {r['peak_rss_mb']:.0f} |")
    lines += ["", "Findings of the chunked validation (identical to the in-memory run):", ""]
    lines += [f"- {sev} [{check}] {col}: {n:,}" for sev, check, col, n in chunked["findings"]]
    (RESULTS / "io.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'io.md'}")


if __name__ == "__main__":
    main()

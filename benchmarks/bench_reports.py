"""Benchmark the quarterly report batch: `cxlab report quarterly` against a plain serial loop.

    .venv/bin/python benchmarks/bench_reports.py        # writes benchmarks/results/reports.{md,json}

Measures, on this machine (target: 2 cores):

1. ``cxlab report quarterly`` exactly as the README runs it (company + every region of the
   bundled company, default parameters, workers = cores), as a subprocess: wall time from
   command start to exit, and the per-report times from its manifest.
2. The peer: what one would write by hand with the same tools — the papermill CLI run once per
   report, one after the other, then ``jupyter nbconvert --to html --no-input`` per notebook.
   Same template, same parameters, same kernel.

Reported: wall times, their ratio (peer / cxlab), per-report seconds, load average before the
run (other work on the machine slows both sides).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cxlab
import cxlab.reports as rp

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
BIN = Path(sys.executable).parent
BUDGET_S = 90.0


def _cxlab_batch(out: Path) -> tuple[float, dict]:
    t0 = time.perf_counter()
    done = subprocess.run([str(BIN / "cxlab"), "report", "quarterly", "--out", str(out), "--quiet"],
                          capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"cxlab report failed ({done.returncode}):\n{done.stderr[-2000:]}")
    period = next(p for p in out.iterdir() if p.is_dir())
    return wall, rp.read_manifest(period)["batches"][0]


def _serial_papermill(out: Path, manifest: dict) -> float:
    template = rp.TEMPLATES["quarterly"].path
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for report in manifest["reports"]:
        nb = out / f"{report['name']}.ipynb"
        cmd = [str(BIN / "papermill"), str(template), str(nb), "-k", "cxlab" if _has_kernel("cxlab")
               else "python3", "--no-progress-bar", "--log-level", "ERROR"]
        for key, value in report["parameters"].items():
            cmd += ["-p", key, "None" if value is None else str(value)]
        subprocess.run(cmd, check=True, capture_output=True)
        subprocess.run([str(BIN / "jupyter"), "nbconvert", "--to", "html", "--no-input",
                        "--log-level", "ERROR", str(nb)], check=True, capture_output=True)
    return time.perf_counter() - t0


def _has_kernel(name: str) -> bool:
    from jupyter_client.kernelspec import KernelSpecManager
    return name in KernelSpecManager().find_kernel_specs()


def main() -> None:
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="cxlab-bench-") as tmp:
        wall, manifest = _cxlab_batch(Path(tmp) / "cxlab")
        peer = _serial_papermill(Path(tmp) / "peer", manifest)
    per_report = {r["name"]: r["seconds"] for r in manifest["reports"]}
    result = {
        "cxlab_version": cxlab.__version__, "python": platform.python_version(),
        "machine": platform.machine(), "cores": len(os.sched_getaffinity(0)),
        "load_average_before": [round(x, 2) for x in load],
        "command": "cxlab report quarterly", "reports": len(per_report),
        "workers": manifest["workers"], "cxlab_wall_s": round(wall, 1),
        "cxlab_batch_s": manifest["seconds"], "per_report_s": per_report,
        "peer": "papermill CLI + jupyter nbconvert --no-input, serial", "peer_wall_s": round(peer, 1),
        "ratio_peer_over_cxlab": round(peer / wall, 2), "budget_s": BUDGET_S,
        "within_budget": wall <= BUDGET_S,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "reports.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {name} | {sec:.1f} |" for name, sec in per_report.items())
    (RESULTS / "reports.md").write_text(
        "# Quarterly report batch\n\n"
        f"cxlab {result['cxlab_version']}, Python {result['python']} on {result['machine']}, "
        f"{result['cores']} cores (load average before the run: "
        f"{', '.join(map(str, result['load_average_before']))}). Produced by "
        "`python benchmarks/bench_reports.py`.\n\n"
        "| run | reports | wall s |\n|---|---|---|\n"
        f"| `cxlab report quarterly` ({result['workers']} workers, parallel) | "
        f"{result['reports']} | {result['cxlab_wall_s']} |\n"
        f"| peer: papermill CLI + nbconvert, serial | {result['reports']} | "
        f"{result['peer_wall_s']} |\n\n"
        f"Peer / cxlab: **{result['ratio_peer_over_cxlab']}×**. Budget for the full batch: "
        f"{BUDGET_S:.0f} s on 2 cores — {'met' if result['within_budget'] else 'NOT met'}.\n\n"
        "Per report (from the manifest; each includes kernel start):\n\n"
        "| report | s |\n|---|---|\n" + rows + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

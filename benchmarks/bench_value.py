"""Benchmark cxlab.value against ``lifetimes`` (0.11.3, archived) on CDNOW and Online Retail.

    python benchmarks/bench_value.py            # writes benchmarks/results/value.{md,json}

``lifetimes`` cannot live beside pandas 3, so this script creates its own virtual environment in
``benchmarks/.venvs/lifetimes`` (pinned numpy/pandas/scipy that lifetimes still runs on), runs
the lifetimes fits there in a subprocess, runs cxlab here, and compares in one run: fit times
(best of ``REPEATS``), ratios, parameters, log-likelihoods and 12-month CLV per customer.
Both sides get identical inputs: the summaries made by ``cx.value.summarize_transactions``.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

import numpy as np
import pandas as pd

import cxlab as cx

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venvs" / "lifetimes"
PY = VENV / "bin" / "python"
PINS = ["lifetimes==0.11.3", "numpy<2", "pandas<2.2", "scipy<1.12", "autograd<1.7", "dill"]
REPEATS = 5
WEEKS_PER_MONTH_LIFETIMES = 4.345   # the factor lifetimes uses for freq="W"

WORKER = r'''
import json, sys, time, warnings
import numpy as np, pandas as pd
warnings.simplefilter("ignore")
from lifetimes import BetaGeoFitter, GammaGammaFitter
import lifetimes
out = {"version": lifetimes.__version__}
for name, path, freq in json.loads(sys.argv[1]):
    d = pd.read_csv(path, index_col=0)
    times = []
    for _ in range(REPEATS):
        t = time.perf_counter(); bg = BetaGeoFitter(); bg.fit(d.frequency, d.recency, d["T"])
        times.append(time.perf_counter() - t)
    rep = d[d.frequency > 0]
    gtimes = []
    for _ in range(REPEATS):
        t = time.perf_counter(); gg = GammaGammaFitter(); gg.fit(rep.frequency, rep.monetary_value)
        gtimes.append(time.perf_counter() - t)
    clv = gg.customer_lifetime_value(bg, d.frequency, d.recency, d["T"], d.monetary_value,
                                     time=12, discount_rate=0.01, freq=freq)
    out[name] = {"bgnbd_time": min(times), "gg_time": min(gtimes),
                 "bgnbd": {k: float(v) for k, v in bg.params_.items()},
                 "gg": {k: float(v) for k, v in gg.params_.items()},
                 "prob_alive": bg.conditional_probability_alive(d.frequency, d.recency, d["T"]).tolist(),
                 "clv": np.asarray(clv).tolist()}
print(json.dumps(out))
'''.replace("REPEATS", str(REPEATS))


def ensure_venv() -> None:
    if not PY.exists():
        print(f"Creating {VENV} for lifetimes ...", flush=True)
        venv.create(VENV, with_pip=True)
    check = subprocess.run([str(PY), "-c", "import lifetimes"], capture_output=True, check=False)
    if check.returncode != 0:
        subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        *PINS], check=True)


def summaries() -> dict[str, tuple[pd.DataFrame, str, float]]:
    cd = cx.datasets.load("cdnow")
    cdnow = cx.value.summarize_transactions(cd, "customer_id", "date", "dollars",
                                            calibration_end="1997-09-30", unit="W")
    tx, _ = cx.value.invoice_transactions(cx.datasets.load("online_retail"))
    retail = cx.value.summarize_transactions(tx, "customer", "date", "amount",
                                             calibration_end="2011-12-09", unit="D")
    # (summary, lifetimes freq code, time units per month as lifetimes counts them)
    return {"cdnow": (cdnow, "W", WEEKS_PER_MONTH_LIFETIMES), "online_retail": (retail, "D", 30.0)}


def ll_at(params: dict, s: pd.DataFrame) -> float:
    """BG/NBD log-likelihood (cxlab's formula) at lifetimes' estimates: lifetimes rescales time
    internally and reports a per-customer value, so its own number is not comparable."""
    from cxlab.value import _bgnbd_nll_grad
    theta = np.array([params[k] for k in ("r", "alpha", "a", "b")])
    return float(-_bgnbd_nll_grad(theta, s["frequency"].to_numpy(), s["recency"].to_numpy(),
                                  s["T"].to_numpy())[0])


def best_time(fn, repeats=REPEATS):
    times, res = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        res = fn()
        times.append(time.perf_counter() - t)
    return min(times), res


def main() -> None:
    ensure_venv()
    data = summaries()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for name, (s, freq, _) in data.items():
            path = Path(tmp) / f"{name}.csv"
            s.to_csv(path)
            jobs.append([name, str(path), freq])
        proc = subprocess.run([str(PY), "-c", WORKER, json.dumps(jobs)], capture_output=True,
                              text=True, check=True)
    ref = json.loads(proc.stdout)
    results = {"lifetimes_version": ref["version"], "cxlab_version": cx.__version__,
               "python": platform.python_version(), "machine": platform.machine(),
               "repeats": REPEATS, "datasets": {}}
    for name, (s, _, upm) in data.items():
        lt = ref[name]
        t_bg, bg = best_time(lambda s=s: cx.value.fit_bgnbd(s["frequency"], s["recency"], s["T"]))
        t_gg, gg = best_time(lambda s=s: cx.value.fit_gamma_gamma(s["frequency"],
                                                                       s["monetary_value"]))
        clv = cx.value.customer_lifetime_value(bg, gg, monetary_value=s["monetary_value"],
                                               months=12, discount=0.01, units_per_month=upm)
        ours = {"r": bg.r, "alpha": bg.alpha, "a": bg.a, "b": bg.b}
        ours_gg = {"p": gg.p, "q": gg.q, "v": gg.gamma}
        clv_lt = np.asarray(lt["clv"])
        results["datasets"][name] = {
            "customers": len(s), "repeat_buyers": int((s["frequency"] > 0).sum()),
            "bgnbd": {"cxlab_s": t_bg, "lifetimes_s": lt["bgnbd_time"],
                      "speedup": lt["bgnbd_time"] / t_bg,
                      "params_cxlab": ours, "params_lifetimes": lt["bgnbd"],
                      "max_rel_param_diff": max(abs(ours[k] / lt["bgnbd"][k] - 1) for k in ours),
                      "ll_cxlab": bg.loglik, "ll_at_lifetimes_params": ll_at(lt["bgnbd"], s),
                      "max_abs_prob_alive_diff": float(np.max(np.abs(
                          bg.prob_alive() - np.asarray(lt["prob_alive"]))))},
            "gamma_gamma": {"cxlab_s": t_gg, "lifetimes_s": lt["gg_time"],
                            "speedup": lt["gg_time"] / t_gg,
                            "params_cxlab": ours_gg, "params_lifetimes": lt["gg"],
                            "max_rel_param_diff": max(abs(ours_gg[k] / lt["gg"][k] - 1)
                                                      for k in ours_gg),
                            "ll_cxlab": gg.loglik},
            "clv_12m": {"mean_cxlab": float(np.mean(clv)), "mean_lifetimes": float(clv_lt.mean()),
                        "max_rel_diff": float(np.max(np.abs(np.asarray(clv) / clv_lt - 1)))},
        }
    out = ROOT / "results"
    out.mkdir(exist_ok=True)
    (out / "value.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "value.md").write_text(render(results))
    print(render(results))


def render(res: dict) -> str:
    lines = ["# cxlab.value vs lifetimes", "",
             f"cxlab {res['cxlab_version']} vs lifetimes {res['lifetimes_version']} (own venv), "
             f"Python {res['python']} on {res['machine']}; times are the best of "
             f"{res['repeats']} fits. Produced by `python benchmarks/bench_value.py`.", "",
             "| data | model | cxlab s | lifetimes s | lifetimes/cxlab | max rel. param diff | "
             "LL cxlab | LL at lifetimes' estimates |", "|---|---|---|---|---|---|---|---|"]
    for name, d in res["datasets"].items():
        b, g = d["bgnbd"], d["gamma_gamma"]
        lines.append(f"| {name} ({d['customers']} cust.) | BG/NBD | {b['cxlab_s']:.3f} | "
                     f"{b['lifetimes_s']:.3f} | {b['speedup']:.1f}× | {b['max_rel_param_diff']:.1e} | "
                     f"{b['ll_cxlab']:.3f} | {b['ll_at_lifetimes_params']:.3f} |")
        lines.append(f"| {name} ({d['repeat_buyers']} repeat) | Gamma-Gamma | {g['cxlab_s']:.3f} | "
                     f"{g['lifetimes_s']:.3f} | {g['speedup']:.1f}× | {g['max_rel_param_diff']:.1e} | "
                     f"{g['ll_cxlab']:.2f} | – |")
    lines += ["", "| data | parameters cxlab | parameters lifetimes | max abs. P(alive) diff | "
              "mean 12-month CLV cxlab / lifetimes | max rel. CLV diff |", "|---|---|---|---|---|---|"]
    for name, d in res["datasets"].items():
        fmt = lambda p: ", ".join(f"{k} {v:.4g}" for k, v in p.items())
        lines.append(f"| {name} | {fmt(d['bgnbd']['params_cxlab'])}; {fmt(d['gamma_gamma']['params_cxlab'])} "
                     f"| {fmt(d['bgnbd']['params_lifetimes'])}; {fmt(d['gamma_gamma']['params_lifetimes'])} "
                     f"| {d['bgnbd']['max_abs_prob_alive_diff']:.1e} "
                     f"| {d['clv_12m']['mean_cxlab']:.2f} / {d['clv_12m']['mean_lifetimes']:.2f} "
                     f"| {d['clv_12m']['max_rel_diff']:.1e} |")
    lines += ["", "CLV: 12 months, 1 % monthly discount, margin 1, spend from Gamma-Gamma; cxlab is "
              "called with lifetimes' month length (4.345 weeks / 30 days) so both compute the "
              "same quantity. Gamma-Gamma γ is called `v` in lifetimes.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

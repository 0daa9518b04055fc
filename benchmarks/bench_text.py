"""Coding and discovering 1,000,000 survey comments: under a minute on 2 cores?

    .venv/bin/python benchmarks/bench_text.py                  # 1,000,000 comments (~3-5 min)
    .venv/bin/python benchmarks/bench_text.py --n 100000       # quick

The corpus is written once to ``benchmarks/.venvs/data/`` (git-ignored) with the simulator's own
phrasing (``cx.simulate.comment_text``: 1-3 themes per comment drawn with the bundled company's
theme shares, 30 % Polish, typos, 4 % with personal data), so the true theme of every comment is
known and the benchmark also reports precision and recall. Timed, in one process, one after the
other:

1. ``cx.text.code(texts, "kestrel", language=langs)`` (negation, stems, two languages);
   and the same with ``n_jobs=2`` (two worker processes; must give the same frame);
2. ``cx.text.discover(texts, 8, language=langs)`` (TF-IDF + NMF fitted on at most 50,000
   distinct texts, applied to all);
3. peer for coding: what one writes by hand in pandas, ``Series.str.contains`` of each theme's
   regular expression on lower-cased text (no negation, no accent folding, no de-duplication);
4. peer for discovery: scikit-learn's ``TfidfVectorizer`` + ``NMF`` fitted on all texts.

Results: ``results/text.md`` and ``results/text.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"
DATA = ROOT / ".venvs" / "data"
SHARES = {"network_outage": 0.09, "slow_speed": 0.09, "billing_error": 0.06, "price": 0.24,
          "support_unresolved": 0.06, "support_slow": 0.08, "app_selfservice": 0.08,
          "praise": 0.26}


def corpus(n: int, seed: int = 0) -> pd.DataFrame:
    path = DATA / f"comments_{n}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    import cxlab.simulate as sim
    rng = np.random.default_rng(seed)
    themes = list(SHARES)
    p = np.array(list(SHARES.values()))
    has = rng.random((n, len(themes))) < p / p.sum() * 1.3
    has &= np.cumsum(has, axis=1) <= 3                  # at most three themes
    lang = np.where(rng.random(n) < 0.3, "pl", "en")
    pii = rng.random(n) < 0.04
    texts = []
    for i in range(n):
        picked = [t for t, h in zip(themes, has[i]) if h]
        texts.append(sim.comment_text(rng, picked, lang[i], pii=bool(pii[i]))[0])
    frame = pd.DataFrame({"comment": texts, "language": lang})
    for k, t in enumerate(themes):
        frame[t] = has[:, k].astype(np.int8)
    DATA.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path)
    return frame


def _cpu() -> float:
    """CPU seconds of this process and of its finished worker processes."""
    import resource
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def timed(fn):
    """Wall seconds and CPU seconds (the machine may be shared: CPU seconds do not grow with
    other people's jobs, wall seconds do)."""
    start, cpu = time.perf_counter(), _cpu()
    out = fn()
    return out, (time.perf_counter() - start, _cpu() - cpu)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args(argv)
    import cxlab.text as cxt
    load = os.getloadavg()[0]
    frame, (gen_s, _) = timed(lambda: corpus(args.n))
    texts, langs = frame["comment"], frame["language"]
    themes = list(SHARES)
    rows = []
    coded, s = timed(lambda: cxt.code(texts, "kestrel", language=langs))
    rows.append(("cx.text.code (kestrel codeframe, en + pl)", s))
    coded2, s = timed(lambda: cxt.code(texts, "kestrel", language=langs, n_jobs=2))
    assert coded2.equals(coded)
    rows.append(("cx.text.code, n_jobs=2", s))
    disc, s = timed(lambda: cxt.discover(texts, 8, seed=0, language=langs))
    rows.append(("cx.text.discover (TF-IDF + NMF, 8 themes)", s))
    acc = {}
    for t in themes:
        tp = int(((coded[t] == 1) & (frame[t] == 1)).sum())
        acc[t] = {"precision": tp / max(int(coded[t].sum()), 1),
                  "recall": tp / max(int(frame[t].sum()), 1)}
    if not args.no_peers:
        cf = cxt.load_codeframe("kestrel")
        low = texts.str.lower()

        def peer_code():
            out = {}
            for t in themes:
                pats = [cxt._pattern_regex(p, "en") for p in cf.themes[t]["en"]]
                pats += [cxt._pattern_regex(p, "pl") for p in cf.themes[t]["pl"]]
                out[t] = low.str.contains("|".join(pats), regex=True)
            return pd.DataFrame(out)
        _, s = timed(peer_code)
        rows.append(("peer: pandas str.contains per theme (no negation, no folding)", s))

        def peer_discover():
            from sklearn.decomposition import NMF
            from sklearn.feature_extraction.text import TfidfVectorizer
            X = TfidfVectorizer(ngram_range=(1, 2), min_df=3, max_df=0.5,
                                sublinear_tf=True).fit_transform(low)
            return NMF(8, init="nndsvda", random_state=0, max_iter=400).fit_transform(X)
        _, s = timed(peer_discover)
        rows.append(("peer: scikit-learn TfidfVectorizer + NMF on all texts", s))
    n_unique = int(pd.MultiIndex.from_arrays([texts, langs]).nunique())
    meta = {"when": time.strftime("%Y-%m-%d %H:%M"), "python": platform.python_version(),
            "pandas": pd.__version__, "sklearn": __import__("sklearn").__version__,
            "cpus": len(os.sched_getaffinity(0)), "load_at_start": round(load, 1),
            "n": args.n, "distinct_texts": n_unique, "corpus_seconds": round(gen_s, 1)}
    result = {"meta": meta, "timings": [{"job": j, "seconds": round(s[0], 2),
                                         "cpu_seconds": round(s[1], 2)} for j, s in rows],
              "accuracy": acc}
    total = rows[0][1][0] + rows[2][1][0]
    total_cpu = rows[0][1][1] + rows[2][1][1]
    lines = ["# Coding and discovering survey comments", "",
             f"{meta['when']}, Python {meta['python']}, pandas {meta['pandas']}, scikit-learn "
             f"{meta['sklearn']}, {meta['cpus']} CPUs, load average {meta['load_at_start']} at start. "
             f"{args.n:,} comments ({n_unique:,} distinct), 30 % Polish.", "",
             "Command: `.venv/bin/python benchmarks/bench_text.py" +
             (f" --n {args.n}" if args.n != 1_000_000 else "") + "`", "",
             "| job | wall seconds | CPU seconds | CPU × cx.text |", "|---|---:|---:|---:|"]
    for j, s in rows:
        ref = rows[0][1] if "code" in j or "str.contains" in j else rows[2][1]
        lines.append(f"| {j} | {s[0]:.1f} | {s[1]:.1f} | {s[1] / ref[1]:.1f} |")
    lines += ["", f"Coding (one process) + discovery together: **{total:.1f} s** wall, "
              f"{total_cpu:.1f} s CPU (target: under 60 s on 2 cores). CPU seconds (process and "
              "workers) do not grow when other jobs share the machine; wall seconds do.", "",
              "Precision / recall of `code` against the generator's themes on this corpus:", "",
              "| theme | precision | recall |", "|---|---:|---:|"]
    lines += [f"| {t} | {v['precision']:.3f} | {v['recall']:.3f} |" for t, v in acc.items()]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "text.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (RESULTS / "text.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

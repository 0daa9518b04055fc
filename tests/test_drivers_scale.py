"""Driver analysis at any scale (issue 11 items 3, 4, 7; issue 12 item 5).

* R's relaimpo 2.2-7 reference values (tests/data/relaimpo) reached through every engine: 1e-9.
* Engine paths (DuckDB relation, Parquet file, Spark local mode) equal the in-memory path on the
  same data to 1e-9 relative: importances, R², counts, bootstrap replicates and intervals.
* The bucket (Poisson) bootstrap: its intervals cover the known population LMG at the nominal
  rate in simulation, and its spread matches the row bootstrap's on the same data.
* Bad input found in the engine: missing column with its closest match, text in a rating column
  with examples, an all-missing driver named.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from cxlab import drivers as D
from cxlab import engine as E
from cxlab.checks import CXDataError, CXWarning
from test_drivers import known_population

REF = Path(__file__).parent / "data" / "relaimpo"
REF_DRIVERS = ["support_speed", "support_quality", "support_channels", "product_reliability",
               "product_features", "product_ease", "billing_clarity", "billing_accuracy",
               "value_for_money", "onboarding", "communication", "website_app"]
RTOL = 1e-9


def read_ref(name):
    return pd.read_csv(REF / name, dtype=str).set_index("driver").astype(float)


def survey(n=4000, p=5, seed=1, missing=True):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    X = np.clip(np.round(6 + 1.8 * (0.6 * f + 0.8 * rng.normal(size=(n, p)))), 1, 10)
    beta = np.linspace(0.6, 0.1, p)
    df = pd.DataFrame(X, columns=[f"d{j}" for j in range(p)])
    df["ltr"] = np.clip(np.round(7 + (X - 6) @ beta + rng.normal(scale=1.5, size=n)), 0, 10)
    df["w"] = rng.uniform(0.5, 2.0, n)
    df["region"] = rng.choice(["North", "South"], n)
    df["top"] = (df["ltr"] >= 9).astype(int)
    if missing:
        df.loc[rng.choice(n, n // 20, replace=False), "d1"] = np.nan
        df.loc[rng.choice(n, n // 50, replace=False), "ltr"] = np.nan
    return df


DRV = [f"d{j}" for j in range(5)]


def as_source(kind, df, tmp_path, request):
    if kind == "pandas":
        return df
    if kind == "duckdb":
        con = duckdb.connect()
        con.register("frame", df)
        return con.sql("SELECT * FROM frame")
    if kind == "parquet":
        path = tmp_path / "survey.parquet"
        df.to_parquet(path, index=False)
        return str(path)
    return request.getfixturevalue("spark").createDataFrame(df)


ENGINES = ["duckdb", "parquet", "spark"]


@pytest.mark.parametrize("kind", ENGINES)
def test_relaimpo_reference_values_through_every_engine(kind, tmp_path, request):
    syn = pd.read_csv(REF / "data_synth_cx_n5000_p12.csv")
    src = as_source(kind, syn, tmp_path, request)
    ref = read_ref("synth_cx_relimp_rela_false.csv")
    # every method works from the same correlation matrix; Spark (slow jobs) checks two
    methods = [("lmg", "lmg"), ("genizi", "relative_weights"), ("last", "last")]
    for col, method in methods[:2] if kind == "spark" else methods:
        out = D.relative_importance(src, "ltr", REF_DRIVERS, method=method)
        np.testing.assert_allclose(out["importance"], ref.loc[REF_DRIVERS, col], rtol=0, atol=1e-9)
    assert out.attrs["r2"] == pytest.approx(0.72961875543155807, abs=1e-9)
    refw = read_ref("synth_cx_weighted_relimp_rela_false.csv")
    out = D.relative_importance(src, "ltr", REF_DRIVERS, weights="weight")
    np.testing.assert_allclose(out["importance"], refw.loc[REF_DRIVERS, "lmg"], rtol=0, atol=1e-9)


@pytest.mark.parametrize("kind", ENGINES)
def test_engine_equals_in_memory_for_every_method(kind, tmp_path, request):
    df = survey()
    src = as_source(kind, df, tmp_path, request)
    for method in D.METHODS[:2] if kind == "spark" else D.METHODS:
        with pytest.warns(CXWarning, match="Listwise deletion"):
            mem = D.relative_importance(df, "ltr", DRV, method=method, weights="w")
        with pytest.warns(CXWarning, match="Listwise deletion"):
            eng = D.relative_importance(src, "ltr", DRV, method=method, weights="w")
        np.testing.assert_allclose(eng["importance"], mem["importance"], rtol=RTOL)
        assert eng.attrs["r2"] == pytest.approx(mem.attrs["r2"], rel=RTOL)
        for k in ("n", "n_total", "n_dropped", "dropped"):
            assert eng.attrs[k] == mem.attrs[k], k
    grouped = {"first_two": ["d0", "d1"]}
    with pytest.warns(CXWarning):
        a = D.relative_importance(df, "ltr", DRV, groups=grouped)
        b = D.relative_importance(src, "ltr", DRV, groups=grouped)
    np.testing.assert_allclose(b["importance"], a["importance"], rtol=RTOL)


def test_in_memory_moments_path_equals_the_row_formula_and_keeps_no_copy():
    # the one-pass chunked moments equal the textbook weighted correlation of the complete rows
    df = survey(n=300_000, p=6, missing=True)
    cols = [f"d{j}" for j in range(6)]
    with pytest.warns(CXWarning):
        d = D._prepare(df, "ltr", cols, weights="w")
    assert d._Z is None and d.moments is not None          # no n x p copy of the rows was made
    ok = df[cols + ["ltr"]].notna().all(axis=1)
    Z = df.loc[ok, cols + ["ltr"]].to_numpy()
    cov = np.cov(Z.T, aweights=df.loc[ok, "w"], bias=True)
    sd = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(d.C, cov / np.outer(sd, sd), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kind", ENGINES)
def test_bucket_bootstrap_is_identical_in_memory_and_in_the_engine(kind, tmp_path, request):
    df = survey(n=6000)
    src = as_source(kind, df, tmp_path, request)
    kw = dict(bootstrap=200, seed=4, progress=False, resample="buckets", weights="w")
    with pytest.warns(CXWarning):
        mem = D.analyze(df, "ltr", DRV, **kw)
        eng = D.analyze(src, "ltr", DRV, **kw)
    assert mem.boot.shape == (200, 5)
    np.testing.assert_allclose(eng.boot, mem.boot, rtol=RTOL)
    cols = ["importance", "ci_low", "ci_high", "share_ci_low", "share_ci_high"]
    np.testing.assert_allclose(eng.importance[cols], mem.importance[cols], rtol=RTOL)
    assert any("Poisson replicates of" in n and "hashed row buckets" in n for n in eng.notes)
    # BCa from delete-a-group jackknife over bucket groups: same in both
    with pytest.warns(CXWarning):
        mb = D.analyze(df, "ltr", DRV, ci="bca", **kw)
        eb = D.analyze(src, "ltr", DRV, ci="bca", **kw)
    np.testing.assert_allclose(eb.importance["ci_low"], mb.importance["ci_low"], rtol=RTOL)


def test_small_engine_source_uses_the_row_bootstrap_like_memory(tmp_path):
    # resample="auto": at most ROW_BOOTSTRAP_MAX_N rows -> rows collected and resampled, so the
    # replicates equal the in-memory ones (same seed, same row order)
    df = survey(n=1500, missing=False)
    path = tmp_path / "s.parquet"
    df.to_parquet(path, index=False)
    mem = D.analyze(df, "ltr", DRV, bootstrap=100, seed=2, progress=False)
    eng = D.analyze(str(path), "ltr", DRV, bootstrap=100, seed=2, progress=False)
    np.testing.assert_allclose(eng.boot, mem.boot, rtol=RTOL)
    assert mem._design.resample == "rows" == eng._design.resample


def test_bucket_and_row_bootstrap_agree_on_the_spread():
    # the same data, both methods: bootstrap standard errors agree within Monte-Carlo error
    # (B = 500: SE of an SE estimate ~ 3%; bucket method adds sqrt(2/1024) ~ 4%; accept ±20%)
    df = survey(n=60_000, missing=False)
    rows = D.analyze(df, "ltr", DRV, bootstrap=500, seed=1, progress=False, resample="rows")
    auto = D.analyze(df, "ltr", DRV, bootstrap=500, seed=1, progress=False)
    assert auto._design.resample == "buckets"              # n > ROW_BOOTSTRAP_MAX_N
    ratio = auto.boot.std(axis=0) / rows.boot.std(axis=0)
    assert np.all((ratio > 0.8) & (ratio < 1.2)), ratio
    np.testing.assert_allclose(auto.importance["importance"], rows.importance["importance"],
                               rtol=1e-12)


@pytest.mark.slow
def test_bucket_bootstrap_percentile_coverage_of_population_lmg():
    # known population covariance; n = 20,000 rows (about 20 per bucket), 100 samples
    rng = np.random.default_rng(77)
    p, n, reps, B = 4, 20_000, 100, 200
    beta, L, truth = known_population(rng, p)
    hits = np.zeros(p)
    for r in range(reps):
        X = rng.normal(size=(n, p)) @ L.T
        df = pd.DataFrame(X, columns=list("abcd"))
        df["y"] = X @ beta + rng.normal(size=n)
        res = D.analyze(df, "y", list("abcd"), bootstrap=B, seed=r, progress=False,
                        resample="buckets")
        hits += ((res.importance["ci_low"] <= truth) & (truth <= res.importance["ci_high"])
                 ).to_numpy()
    coverage = hits.sum() / (reps * p)
    # nominal 0.95; 400 correlated interval checks: accept 0.89–0.99 (≈ ±5 binomial SE)
    assert 0.89 <= coverage <= 0.99, (coverage, hits / reps)


@pytest.mark.parametrize("kind", ["pandas", "parquet"])
def test_all_missing_driver_is_named(kind, tmp_path, request):
    df = survey(n=500, missing=False)
    df["d3"] = np.nan
    src = as_source(kind, df, tmp_path, request)
    with pytest.raises(CXDataError, match="driver 'd3' has no answers; it emptied the sample"):
        D.relative_importance(src, "ltr", DRV)
    with pytest.raises(CXDataError, match="driver 'd3' has no answers"):
        D.analyze(src, "ltr", DRV, bootstrap=10, progress=False)


def test_bad_input_found_in_the_engine(tmp_path, spark):
    df = survey(n=800, missing=False)
    with pytest.raises(CXDataError, match=r"'d11' \(closest match: 'd1'\)"):
        D.relative_importance(df, "ltr", ["d0", "d11"])
    text = df.astype({"d2": object})
    text.loc[[5, 50, 60], "d2"] = ["Don't know", "Don't know", "refused"]
    text["d2"] = text["d2"].astype(str)
    path = tmp_path / "text.csv"
    text.to_csv(path, index=False)
    for src in (str(path), spark.createDataFrame(text)):
        with pytest.raises(CXDataError, match=r"'d2' holds .Don't know., 'refused' \(3 rows\)"):
            D.relative_importance(src, "ltr", DRV)
        with pytest.raises(CXDataError, match=r"'d11' \(closest match: 'd1'\)"):
            D.relative_importance(src, "ltr", ["d0", "d11"])


def test_segments_and_top_box_in_the_engine_equal_memory(tmp_path):
    df = survey(n=5000)
    path = tmp_path / "s.parquet"
    df.to_parquet(path, index=False)
    with pytest.warns(CXWarning):
        mem = D.analyze(df, "ltr", DRV, bootstrap=0, by="region", progress=False)
        eng = D.analyze(str(path), "ltr", DRV, bootstrap=0, by="region", progress=False)
    np.testing.assert_allclose(eng.importance["importance"], mem.importance["importance"],
                               rtol=RTOL)
    with pytest.warns(CXWarning):
        m1 = D.analyze(df, "ltr", DRV, bootstrap=0, progress=False)
        e1 = D.analyze(str(path), "ltr", DRV, bootstrap=0, progress=False)
    np.testing.assert_allclose(e1.performance, m1.performance, rtol=RTOL)
    qm = m1.quadrant(performance="top_box", top_box=8)
    qe = e1.quadrant(performance="top_box", top_box=8)
    np.testing.assert_allclose(qe["performance"], qm.loc[qe.index, "performance"], rtol=RTOL)


def test_binary_outcome_from_an_engine_is_fitted_on_collected_rows(tmp_path):
    df = survey(n=1200, missing=False).drop(columns="ltr")
    path = tmp_path / "b.parquet"
    df.to_parquet(path, index=False)
    mem = D.relative_importance(df, "top", DRV[:3])
    eng = D.relative_importance(str(path), "top", DRV[:3])
    assert "logistic" in eng.attrs["model"]
    np.testing.assert_allclose(eng["importance"], mem["importance"], rtol=1e-9)


def test_engine_moments_are_the_ones_drivers_use():
    df = survey(n=2000, missing=False)
    d = D._prepare(df, "ltr", DRV)
    m = E.moments(df, DRV + ["ltr"]).total()
    np.testing.assert_allclose(d.C, m.corr()[0], rtol=1e-12)


def test_a_driver_whose_variance_overflows_is_named():
    """Values near 1e180 square to infinity: a named error, not a LinAlgError or a zero share."""
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.normal(size=50), "a": rng.normal(size=50),
                       "b": rng.normal(size=50) * 1e180})
    with np.errstate(all="ignore"), pytest.raises(CXDataError, match="'b'.*rescale"):
        D.relative_importance(df, "y", ["a", "b"])

"""cxlab.engine: every aggregate equals the in-memory (pandas/numpy) computation on the same data,
in every engine — pandas, a DuckDB relation, a Parquet file, a Parquet glob, a CSV file and Spark
local mode (one session for the suite, tests/conftest.py) — and the fits made from the aggregates
equal independent implementations on the rows (numpy's weighted covariance, lifelines'
Kaplan–Meier, statsmodels' logistic GLM, cx.value.summarize_transactions).

Tolerances: 1e-9 relative for sums (engines add in a different order; integer ratings make the
shifted sums exact, weights do not), exact for counts.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxlab import engine as E
from cxlab.checks import CXDataError

RTOL = 1e-9
RATINGS = ["q1", "q2", "q3", "ltr"]


def make_survey(n=3000, seed=5):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    X = np.clip(np.round(6 + 1.5 * (0.6 * f + 0.8 * rng.normal(size=(n, 3)))), 1, 10)
    y = np.clip(np.round(5 + X @ [0.4, 0.3, 0.1] - 4 + rng.normal(size=n)), 0, 10)
    df = pd.DataFrame(X, columns=["q1", "q2", "q3"])
    df["ltr"] = y
    df.loc[rng.choice(n, 60, replace=False), "q2"] = np.nan
    df.loc[rng.choice(n, 25, replace=False), "ltr"] = np.nan
    df["w"] = rng.uniform(0.3, 3.0, n)
    df["region"] = rng.choice(["North", "South", "Київ"], n)
    df["rid"] = rng.permutation(n).astype(np.int64) + 10_000
    df["time"] = rng.integers(1, 30, n).astype(float)
    df["churned"] = (rng.random(n) < 0.3).astype(np.int64)
    return df


@pytest.fixture(scope="module")
def survey():
    return make_survey()


@pytest.fixture(scope="module")
def files(survey, tmp_path_factory):
    d = tmp_path_factory.mktemp("engine")
    survey.to_parquet(d / "survey.parquet", index=False)
    half = len(survey) // 2
    survey.iloc[:half].to_parquet(d / "part-0.parquet", index=False)
    survey.iloc[half:].to_parquet(d / "part-1.parquet", index=False)
    survey.to_csv(d / "survey.csv", index=False)
    return d


ENGINES = ["pandas", "duckdb", "parquet", "parquet_glob", "csv", "spark"]


@pytest.fixture(params=ENGINES)
def src(request, survey, files):
    kind = request.param
    if kind == "pandas":
        return survey
    if kind == "duckdb":
        con = duckdb.connect()
        con.register("survey_df", survey)
        return con.sql("SELECT * FROM survey_df")
    if kind == "parquet":
        return str(files / "survey.parquet")
    if kind == "parquet_glob":
        return str(files / "part-*.parquet")
    if kind == "csv":
        return str(files / "survey.csv")
    spark = request.getfixturevalue("spark")
    return spark.createDataFrame(survey)


def reference_moments(df, cols, w=None, groups=None):
    """Independent reference: pandas dropna + numpy weighted sums of the raw values."""
    ok = df[cols].notna().all(axis=1)
    sub = df.loc[ok]
    ww = np.ones(len(sub)) if w is None else sub[w].to_numpy()
    Z = sub[cols].to_numpy()
    g = np.zeros(len(sub), int) if groups is None else groups[ok.to_numpy()]
    out = {}
    for k in np.unique(g):
        m = g == k
        out[k] = (m.sum(), ww[m].sum(), (ww[m][:, None] * Z[m]).sum(0),
                  (Z[m] * ww[m][:, None]).T @ Z[m])
    return out


def raw(m: E.Moments, i: int):
    """Raw (unshifted) sums of group i from shifted moments."""
    c = m.shift
    s1 = m.s1[i] + m.s0[i] * c
    s2 = m.s2[i] + np.outer(m.s1[i], c) + np.outer(c, m.s1[i]) + m.s0[i] * np.outer(c, c)
    return m.n[i], m.s0[i], s1, s2


def test_moments_equal_numpy_in_every_engine(src, survey):
    ref = reference_moments(survey, RATINGS, "w")[0]
    m = E.moments(src, RATINGS, weights="w")
    assert len(m.n) == 1
    got = raw(m, 0)
    assert got[0] == ref[0]
    for a, b in zip(got[1:], ref[1:]):
        np.testing.assert_allclose(a, b, rtol=RTOL)
    # the covariance matches numpy's weighted covariance (ML divisor, as R's cov.wt(method="ML"))
    ok = survey[RATINGS].notna().all(axis=1)
    cov = np.cov(survey.loc[ok, RATINGS].to_numpy().T, aweights=survey.loc[ok, "w"], bias=True)
    np.testing.assert_allclose(m.cov()[0], cov, rtol=RTOL)


def test_bucket_moments_equal_pandas_groupby_in_every_engine(src, survey, request):
    # buckets of the row position (or of an id column) with the same hash in every engine
    pos = np.arange(len(survey))
    ref = reference_moments(survey, RATINGS, "w", E.bucket_ids(pos, 64))
    m = E.moments(src, RATINGS, weights="w", buckets=64)
    assert list(m.keys["bucket"]) == sorted(ref)
    for i, b in enumerate(m.keys["bucket"]):
        got = raw(m, i)
        assert got[0] == ref[b][0]
        for a, r in zip(got[1:], ref[b][1:]):
            np.testing.assert_allclose(a, r, rtol=RTOL, atol=1e-9)
    # by an id column instead of the position, and by segment
    ref_id = reference_moments(survey, RATINGS, None, E.bucket_ids(survey["rid"], 16))
    m_id = E.moments(src, RATINGS, buckets=16, row_id="rid")
    for i, b in enumerate(m_id.keys["bucket"]):
        np.testing.assert_allclose(raw(m_id, i)[3], ref_id[b][3], rtol=RTOL)
    codes = survey["region"].map({"North": 0, "South": 1, "Київ": 2}).to_numpy()
    ref_g = reference_moments(survey, RATINGS, "w", codes)
    m_g = E.moments(src, RATINGS, weights="w", by="region")
    label = {"North": 0, "South": 1, "Київ": 2}
    assert sorted(m_g.keys["region"]) == sorted(label)
    for i, r in enumerate(m_g.keys["region"]):
        np.testing.assert_allclose(raw(m_g, i)[3], ref_g[label[r]][3], rtol=RTOL)


def test_bucket_hash_is_uniform_and_unrelated_to_order():
    b = E.bucket_ids(np.arange(1_000_000), 1024)
    counts = np.bincount(b, minlength=1024)
    # chi-square with 1023 df: mean 1023, sd 45; accept within 5 sd
    chi2 = ((counts - counts.mean()) ** 2 / counts.mean()).sum()
    assert abs(chi2 - 1023) < 5 * 45, chi2
    # consecutive rows are not systematically in the same or neighbouring buckets
    assert np.mean(b[1:] == b[:-1]) < 3 / 1024
    assert abs(np.corrcoef(b[1:], b[:-1])[0, 1]) < 0.01
    assert (E.bucket_ids([-5, 2**40], 1024) >= 0).all()


def test_profile_counts_bad_input_in_every_engine(src, survey):
    prof = E.profile(src, RATINGS, weights="w", scale=(1, 9))
    assert prof.attrs["rows"] == len(survey)
    for c in RATINGS:
        assert prof.loc[c, "missing"] == survey[c].isna().sum()
        assert prof.loc[c, "out_of_range"] == ((survey[c] < 1) | (survey[c] > 9)).sum()
        assert prof.loc[c, "min"] == survey[c].min() and prof.loc[c, "max"] == survey[c].max()
        assert prof.loc[c, "mean"] == pytest.approx(survey[c].mean(), rel=RTOL)
    assert prof.attrs["complete"] == survey[RATINGS].notna().all(axis=1).sum()
    assert prof.attrs["weights"]["negative"] == 0


def test_profile_finds_text_in_a_rating_column(survey, spark, tmp_path):
    df = survey[RATINGS].astype(object).copy()
    df.loc[[4, 9, 11], "q1"] = ["Don't know", "n/a", "Don't know"]
    df = df.astype({"q1": str, "q2": float, "q3": float, "ltr": float})
    df.loc[df["q1"] == "nan", "q1"] = None
    df.to_csv(tmp_path / "t.csv", index=False)
    for s in [df, str(tmp_path / "t.csv"), spark.createDataFrame(df)]:
        prof = E.profile(s, RATINGS)
        assert prof.loc["q1", "text"] == 3
        assert sorted(prof.attrs["text_examples"]["q1"]) == ["Don't know", "n/a"]
        assert prof.loc["q2", "missing"] == survey["q2"].isna().sum()


def test_missing_column_named_with_closest_match(survey, files):
    for s in [survey, str(files / "survey.parquet")]:
        with pytest.raises(CXDataError, match=r"'q11' \(closest match: 'q1'\)"):
            E.moments(s, ["q11", "q2"])
        with pytest.raises(CXDataError, match=r"'LTR' \(closest match: 'ltr'\)"):
            E.profile(s, ["LTR"])


def test_category_counts_equal_pandas(src, survey):
    out = E.category_counts(src, "ltr", by="region", weights="w")
    df = survey.assign(ltr=survey["ltr"].fillna(-1), w2=survey["w"] ** 2)
    ref = df.groupby(["region", "ltr"]).agg(n=("w", "size"), weight=("w", "sum"),
                                            weight2=("w2", "sum"))
    got = out.assign(ltr=out["ltr"].fillna(-1)).set_index(["region", "ltr"]).loc[ref.index]
    assert len(out) == len(ref)
    np.testing.assert_array_equal(got["n"].to_numpy(), ref["n"].to_numpy())
    np.testing.assert_allclose(got[["weight", "weight2"]], ref[["weight", "weight2"]], rtol=RTOL)
    assert out["n"].sum() == len(survey)                 # missing ltr kept as its own row


def test_event_table_gives_lifelines_kaplan_meier(src, survey):
    lifelines = pytest.importorskip("lifelines")
    tab = E.event_table(src, "time", "churned")
    assert tab.attrs["excluded"]["missing time or event"] == 0
    surv = np.cumprod(1 - tab["events"] / tab["at_risk"])
    km = lifelines.KaplanMeierFitter().fit(survey["time"], survey["churned"])
    ref = km.survival_function_.loc[tab["time"], "KM_estimate"].to_numpy()
    np.testing.assert_allclose(surv, ref, rtol=RTOL)
    by = E.event_table(src, "time", "churned", by="region")
    for r, part in survey.groupby("region"):
        t = by.loc[by["region"] == r]
        s = np.cumprod(1 - t["events"] / t["at_risk"]).to_numpy()
        ref = lifelines.KaplanMeierFitter().fit(part["time"], part["churned"])
        np.testing.assert_allclose(s, ref.survival_function_.loc[t["time"], "KM_estimate"],
                                   rtol=RTOL)


def test_pattern_counts_reproduce_the_logistic_fit_on_rows(src, survey):
    sub = survey.dropna(subset=["q1"])
    pats = E.pattern_counts(src, ["region", "q3"], outcome="churned")
    assert pats["n"].sum() == len(survey)
    X = pd.get_dummies(pats[["region"]], drop_first=True, dtype=float).assign(q3=pats["q3"])
    fit_p = sm.GLM(np.column_stack([pats["events"], pats["weight"] - pats["events"]]),
                   sm.add_constant(X), family=sm.families.Binomial()).fit()
    Xr = pd.get_dummies(survey[["region"]], drop_first=True, dtype=float).assign(q3=survey["q3"])
    fit_r = sm.GLM(survey["churned"], sm.add_constant(Xr), family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(fit_p.params.to_numpy(), fit_r.params.to_numpy(), rtol=1e-7)
    assert len(sub) > 0


@pytest.fixture(scope="module")
def transactions():
    import cxlab as cx
    tx = cx.datasets.load("cdnow")
    tx = tx.assign(date=pd.to_datetime(tx["date"]))
    return tx


@pytest.mark.parametrize("kind", ["pandas", "duckdb", "parquet", "spark"])
def test_customer_summary_equals_summarize_transactions(kind, transactions, tmp_path, request):
    import cxlab as cx
    end = "1997-09-30"
    ref = cx.value.summarize_transactions(transactions, "customer_id", "date", "dollars",
                                          calibration_end=end)
    if kind == "pandas":
        s = transactions
    elif kind == "duckdb":
        s = duckdb.sql("SELECT * FROM transactions")
    elif kind == "parquet":
        transactions.to_parquet(tmp_path / "tx.parquet")
        s = str(tmp_path / "tx.parquet")
    else:
        s = request.getfixturevalue("spark").createDataFrame(transactions)
    got = E.customer_summary(s, "customer_id", "date", "dollars", calibration_end=end)
    assert list(got.index) == list(ref.index)
    for c in ["frequency", "recency", "T", "monetary_value"]:
        np.testing.assert_allclose(got[c].to_numpy(), ref[c].to_numpy(), rtol=RTOL, atol=1e-12)
    ex = ref.attrs["excluded"]
    assert got.attrs["excluded"]["transactions after calibration_end"] == \
        ex["transactions after calibration_end"]
    assert got.attrs["excluded"]["customers whose first purchase is after calibration_end"] == \
        ex["customers whose first purchase is after calibration_end"]


def test_collect_keeps_source_order(files, survey, spark):
    for s in [str(files / "part-*.parquet"), spark.createDataFrame(survey)]:
        rows = E.collect(s, ["rid", "q1"])
        np.testing.assert_array_equal(rows["rid"].to_numpy(), survey["rid"].to_numpy())
    with pytest.raises(CXDataError, match="limit"):
        E.collect(str(files / "survey.parquet"), ["q1"], limit=10)

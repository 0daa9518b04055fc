"""Key driver analysis (cxlab.drivers) checked against the outside world.

* R's relaimpo 2.2-7 reference values (tests/data/relaimpo, see its README): 1e-9.
* Brute force: every subset refitted with statsmodels OLS/WLS/Logit on the raw rows, Shapley
  values averaged over all p! orders: 1e-10 (linear, both are exact linear algebra) and 1e-6
  (logistic, both are iterative ML fits with ~1e-8 convergence).
* Closed forms (orthogonal drivers: LMG = r²), pandas pairwise correlations, invariances.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import cxlab as cx
from cxlab import drivers as D
from cxlab.checks import CXDataError, CXWarning

REF = Path(__file__).parent / "data" / "relaimpo"
REF_DRIVERS = ["support_speed", "support_quality", "support_channels", "product_reliability",
               "product_features", "product_ease", "billing_clarity", "billing_accuracy",
               "value_for_money", "onboarding", "communication", "website_app"]
REF_METHOD = {"lmg": "lmg", "first": "first", "last": "last", "betasq": "betasq",
              "pratt": "pratt", "genizi": "relative_weights", "car": "car"}


def survey(n=600, p=5, rho=0.4, seed=1, binary=False):
    """Integer 1-10 ratings with common-factor correlation; ltr 0-10 (or 0/1) from known weights."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    latent = np.sqrt(rho) * f + np.sqrt(1 - rho) * rng.normal(size=(n, p))
    X = np.clip(np.round(6 + 1.8 * latent), 1, 10)
    beta = np.linspace(0.6, 0.1, p)
    eta = (X - 6) @ beta + rng.normal(scale=1.5, size=n)
    df = pd.DataFrame(X, columns=[f"d{j}" for j in range(p)])
    if binary:
        df["retained"] = (rng.random(n) < 1 / (1 + np.exp(-0.6 * eta))).astype(int)
    df["ltr"] = np.clip(np.round(7 + eta), 0, 10)
    df["w"] = rng.uniform(0.5, 2.0, n)
    return df


def shapley_brute(value, players):
    """Average marginal contribution over all orders (the definition), value(frozenset)."""
    cache = {}

    def v(s):
        if s not in cache:
            cache[s] = value(s)
        return cache[s]
    phi = dict.fromkeys(players, 0.0)
    orders = list(itertools.permutations(players))
    for order in orders:
        seen = frozenset()
        for j in order:
            phi[j] += v(seen | {j}) - v(seen)
            seen = seen | {j}
    return pd.Series({j: phi[j] / len(orders) for j in players})


def ols_r2(df, y, cols, w=None):
    if not cols:
        return 0.0
    X = sm.add_constant(df[list(cols)])
    fit = sm.WLS(df[y], X, weights=w).fit() if w is not None else sm.OLS(df[y], X).fit()
    return fit.rsquared


# ------------------------------------------------------------------ relaimpo reference values

@pytest.fixture(scope="module")
def syn():
    return pd.read_csv(REF / "data_synth_cx_n5000_p12.csv")


def read_ref(name):
    return pd.read_csv(REF / name, dtype=str).set_index("driver").astype(float)


@pytest.mark.parametrize("col", list(REF_METHOD))
def test_matches_relaimpo_unweighted(syn, col):
    ref = read_ref("synth_cx_relimp_rela_false.csv")
    out = D.relative_importance(syn, "ltr", REF_DRIVERS, method=REF_METHOD[col])
    assert list(out.index) == REF_DRIVERS
    np.testing.assert_allclose(out["importance"], ref.loc[REF_DRIVERS, col], rtol=0, atol=1e-9)
    assert out.attrs["r2"] == pytest.approx(0.72961875543155807, abs=1e-9)


@pytest.mark.parametrize("col", ["lmg", "first", "last", "genizi"])
def test_matches_relaimpo_weighted(syn, col):
    ref = read_ref("synth_cx_weighted_relimp_rela_false.csv")
    out = D.relative_importance(syn, "ltr", REF_DRIVERS, method=REF_METHOD[col], weights="weight")
    np.testing.assert_allclose(out["importance"], ref.loc[REF_DRIVERS, col], rtol=0, atol=1e-9)
    assert out.attrs["r2"] == pytest.approx(0.73009587532322751, abs=1e-9)


def test_share_and_rank_follow_relaimpo_rela_true(syn):
    # relaimpo's rela=TRUE normalises to sum 1; rank 1 = largest
    ref = read_ref("synth_cx_relimp_rela_false.csv")["lmg"]
    out = D.relative_importance(syn, "ltr", REF_DRIVERS)
    np.testing.assert_allclose(out["share"], ref / ref.sum(), atol=1e-9)
    assert out["rank"].idxmin() == ref.idxmax()
    assert sorted(out["rank"]) == list(range(1, 13))


# ------------------------------------------------------------------ brute force on raw rows

@pytest.mark.parametrize("weighted", [False, True])
def test_lmg_equals_brute_force_ols_over_all_orders(weighted):
    df = survey(n=400, p=5, seed=3)
    cols = [f"d{j}" for j in range(5)]
    w = df["w"] if weighted else None
    brute = shapley_brute(lambda s: ols_r2(df, "ltr", sorted(s), w), cols)
    out = D.relative_importance(df, "ltr", cols, weights="w" if weighted else None)
    np.testing.assert_allclose(out["importance"], brute[cols], atol=1e-10)
    assert out["importance"].sum() == pytest.approx(ols_r2(df, "ltr", cols, w), abs=1e-12)


def test_first_last_betasq_pratt_against_statsmodels():
    df = survey(n=300, p=4, seed=4)
    cols = [f"d{j}" for j in range(4)]
    full = ols_r2(df, "ltr", cols)
    z = (df[cols + ["ltr"]] - df[cols + ["ltr"]].mean()) / df[cols + ["ltr"]].std()
    beta = sm.OLS(z["ltr"], z[cols]).fit().params
    r = z[cols].corrwith(z["ltr"])
    expect = {
        "first": pd.Series({c: ols_r2(df, "ltr", [c]) for c in cols}),
        "last": pd.Series({c: full - ols_r2(df, "ltr", [k for k in cols if k != c]) for c in cols}),
        "betasq": beta ** 2,
        "pratt": beta * r,
    }
    for method, ref in expect.items():
        out = D.relative_importance(df, "ltr", cols, method=method)
        np.testing.assert_allclose(out["importance"], ref[cols], atol=1e-10, err_msg=method)


def test_relative_weights_against_johnson_svd_procedure():
    # Johnson (2000) as published: Z = P Q' from the SVD X = P Δ Q' of standardised X;
    # weights = Σ_k Λ_jk² β_k² with Λ = Q Δ Q'/√(n−1) and β from regressing y on Z.
    df = survey(n=500, p=6, seed=5)
    cols = [f"d{j}" for j in range(6)]
    X = df[cols].to_numpy()
    X = (X - X.mean(0)) / X.std(0, ddof=1)
    y = (df["ltr"] - df["ltr"].mean()) / df["ltr"].std()
    P, delta, Qt = np.linalg.svd(X, full_matrices=False)
    Z = P @ Qt * np.sqrt(len(X) - 1)
    lam = Qt.T @ np.diag(delta) @ Qt / np.sqrt(len(X) - 1)
    b = np.linalg.lstsq(Z, y, rcond=None)[0]
    eps = (lam ** 2) @ (b ** 2)
    out = D.relative_importance(df, "ltr", cols, method="relative_weights")
    np.testing.assert_allclose(out["importance"], eps, atol=1e-10)


def test_groups_equal_brute_force_over_group_subsets():
    df = survey(n=400, p=6, seed=6)
    groups = {"support": ["d0", "d2"], "billing": ["d3", "d4", "d5"]}
    players = {"support": ["d0", "d2"], "d1": ["d1"], "billing": ["d3", "d4", "d5"]}
    brute = shapley_brute(lambda s: ols_r2(df, "ltr", [c for g in sorted(s) for c in players[g]]),
                          list(players))
    out = D.relative_importance(df, "ltr", [f"d{j}" for j in range(6)], groups=groups)
    assert list(out.index) == ["support", "d1", "billing"]
    np.testing.assert_allclose(out["importance"], brute[list(out.index)], atol=1e-10)
    first = D.relative_importance(df, "ltr", [f"d{j}" for j in range(6)], "first", groups=groups)
    assert first.loc["billing", "importance"] == pytest.approx(
        ols_r2(df, "ltr", ["d3", "d4", "d5"]), abs=1e-10)


@pytest.mark.parametrize("kind", ["mcfadden", "estrella", "nagelkerke"])
def test_logistic_dominance_equals_brute_force_statsmodels_logit(kind):
    df = survey(n=800, p=4, seed=7, binary=True)
    cols = [f"d{j}" for j in range(4)]
    n = len(df)
    wn = df["w"] * n / df["w"].sum()

    def pseudo(s):
        if not s:
            return 0.0
        fit = sm.GLM(df["retained"], sm.add_constant(df[sorted(s)]), family=sm.families.Binomial(),
                     freq_weights=wn).fit(tol=1e-12)
        ll, ll0 = fit.llf, fit.llnull
        if kind == "mcfadden":
            return 1 - ll / ll0
        if kind == "estrella":
            return 1 - (ll / ll0) ** (-2 * ll0 / n)
        return (1 - np.exp(2 * (ll0 - ll) / n)) / (1 - np.exp(2 * ll0 / n))
    brute = shapley_brute(pseudo, cols)
    out = D.relative_importance(df, "retained", cols, weights="w", pseudo_r2=kind)
    assert out.attrs["model"].startswith("logistic")
    np.testing.assert_allclose(out["importance"], brute[cols], atol=1e-6)
    assert out["importance"].sum() == pytest.approx(pseudo(frozenset(cols)), abs=1e-6)


def test_logistic_mcfadden_matches_statsmodels_prsquared_unweighted():
    df = survey(n=600, p=3, seed=8, binary=True)
    cols = ["d0", "d1", "d2"]
    fit = sm.Logit(df["retained"], sm.add_constant(df[cols])).fit(disp=0, tol=1e-12)
    last = D.relative_importance(df, "retained", cols, method="last")
    assert last.attrs["r2"] == pytest.approx(fit.prsquared, abs=1e-7)


def test_logistic_bootstrap_and_sampling():
    df = survey(n=500, p=4, seed=21, binary=True)
    cols = ["d0", "d1", "d2", "d3"]
    res = D.analyze(df, "retained", cols, bootstrap=30, seed=1, progress=False)
    assert "McFadden" in res.model and res.boot.shape == (30, 4)
    assert (res.importance["ci_low"] <= res.importance["ci_high"]).all()
    exact = D.relative_importance(df, "retained", cols)
    approx = D.relative_importance(df, "retained", cols, exact=False, tol=2e-3)
    assert approx.attrs["error_bound"] <= 2e-3
    assert ((approx["importance"] - exact["importance"]).abs() <= 1.5 * 1.96 * approx["mc_se"]
            + 1e-12).all()
    linear = D.relative_importance(df, "retained", cols, family="linear")
    assert linear.attrs["model"].startswith("linear")


# ------------------------------------------------------------------ closed forms, invariances

def test_orthogonal_drivers_at_p24_lmg_equals_squared_correlation():
    # With exactly uncorrelated drivers every marginal contribution of j is r_jy², so the exact
    # 2^24-subset LMG must equal 'first' — a closed form at the exact limit.
    rng = np.random.default_rng(0)
    n, p = 2000, D.EXACT_MAX_DRIVERS
    Q, _ = np.linalg.qr(rng.normal(size=(n, p)) - rng.normal(size=(n, p)).mean(0))
    X = Q - Q.mean(0)
    X, _ = np.linalg.qr(X)     # orthonormal and (numerically) centred columns
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    df["y"] = X @ rng.uniform(0, 1, p) + rng.normal(scale=0.05, size=n)
    cols = list(df.columns[:p])
    lmg = D.relative_importance(df, "y", cols)
    first = df[cols].corrwith(df["y"]) ** 2
    assert lmg.attrs["exact"] is True
    np.testing.assert_allclose(lmg["importance"], first, atol=1e-8)
    assert lmg["importance"].sum() == pytest.approx(lmg.attrs["r2"], abs=1e-10)


def test_invariant_to_driver_order_and_affine_rescaling():
    df = survey(n=500, p=6, seed=9)
    cols = [f"d{j}" for j in range(6)]
    base = D.relative_importance(df, "ltr", cols)
    shuffled = D.relative_importance(df, "ltr", cols[::-1])
    pd.testing.assert_series_equal(base["importance"], shuffled["importance"].loc[cols],
                                   atol=1e-12, rtol=0)
    other = df.copy()
    other["d0"] = 11 - other["d0"]                  # reversed scale
    other["d3"] = 10 * other["d3"] + 100            # 0-100 points
    other["ltr"] = 3 * other["ltr"] - 5
    for method in D.METHODS:
        a = D.relative_importance(df, "ltr", cols, method=method)["importance"]
        b = D.relative_importance(other, "ltr", cols, method=method)["importance"]
        np.testing.assert_allclose(a, b, atol=1e-10, err_msg=method)


@pytest.mark.parametrize("method", ["lmg", "relative_weights", "pratt", "car"])
def test_decompositions_sum_to_r2(method):
    df = survey(n=300, p=7, seed=10)
    out = D.relative_importance(df, "ltr", [f"d{j}" for j in range(7)], method=method)
    assert out["importance"].sum() == pytest.approx(out.attrs["r2"], abs=1e-12)
    assert out["share"].sum() == pytest.approx(1.0, abs=1e-12)


def test_sampling_approximation_within_its_stated_bound(syn):
    exact = D.relative_importance(syn, "ltr", REF_DRIVERS)
    approx = D.relative_importance(syn, "ltr", REF_DRIVERS, exact=False, tol=1e-3, seed=1)
    bound = approx.attrs["error_bound"]            # max over drivers of 1.96·SE
    assert bound <= 1e-3
    # each driver's error within 1.5x its 95% half-width (≈ 2.9 SE: all 12 pass with prob ~0.96)
    err = (approx["importance"] - exact["importance"]).abs()
    assert (err <= 1.5 * 1.96 * approx["mc_se"]).all(), err
    assert approx["importance"].sum() == pytest.approx(exact.attrs["r2"], abs=1e-10)


def test_beyond_exact_limit_uses_documented_sampling():
    rng = np.random.default_rng(2)
    p = D.EXACT_MAX_DRIVERS + 2
    X = rng.normal(size=(3000, p))
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    df["y"] = X[:, :3].sum(1) + rng.normal(size=3000)
    out = D.relative_importance(df, "y", list(df.columns[:p]), tol=2e-3)
    assert out.attrs["exact"] is False and "mc_se" in out
    assert out.attrs["error_bound"] <= 2e-3
    assert set(out.sort_values("rank").index[:3]) == {"x0", "x1", "x2"}
    with pytest.raises(CXDataError, match="Exact LMG is limited"):
        D.relative_importance(df, "y", list(df.columns[:p]), exact=True)


# ------------------------------------------------------------------ missing data and weights

def test_listwise_reports_what_was_dropped():
    df = survey(n=300, p=4, seed=11)
    df.loc[:19, "d1"] = np.nan
    df.loc[10:29, "ltr"] = np.nan
    with pytest.warns(CXWarning, match=r"30 of 300 rows.*d1 20.*ltr 20"):
        out = D.relative_importance(df, "ltr", ["d0", "d1", "d2", "d3"])
    assert out.attrs["n"] == 270 and out.attrs["n_dropped"] == 30
    assert out.attrs["dropped"] == {"d1": 20, "ltr": 20}
    complete = D.relative_importance(df.dropna(), "ltr", ["d0", "d1", "d2", "d3"])
    np.testing.assert_allclose(out["importance"], complete["importance"], atol=1e-14)


def test_pairwise_uses_pandas_pairwise_correlations():
    df = survey(n=400, p=4, seed=12)
    rng = np.random.default_rng(0)
    for c in ["d0", "d2", "ltr"]:
        df.loc[rng.random(len(df)) < 0.15, c] = np.nan
    cols = ["d0", "d1", "d2", "d3"]
    out = D.relative_importance(df, "ltr", cols, method="first", missing="pairwise")
    r = df[cols + ["ltr"]].corr()["ltr"]            # pandas: pairwise complete observations
    np.testing.assert_allclose(out["importance"], r[cols] ** 2, atol=1e-12)
    assert any("Pairwise" in note for note in out.attrs["notes"])


# ------------------------------------------------------------------ bootstrap and result

def test_percentile_interval_uses_boot_ci_order_statistics():
    # boot.ci(type = "perc"): R = 999, α = 0.025 → (R+1)α = 25 is whole → the 25th order statistic
    # (numpy.percentile would interpolate to 25.95); upper: 975th.
    t = np.random.default_rng(0).permutation(np.arange(1.0, 1000.0))
    assert D.percentile_interval(t, 0.95) == (25.0, 975.0)
    # R = 1000: (R+1)α = 25.025 → between the 25th and 26th on the normal-quantile scale
    lo, hi = D.percentile_interval(np.arange(1.0, 1001.0), 0.95)
    assert 25 < lo < 26 and 975 < hi < 976
    assert lo != pytest.approx(np.percentile(np.arange(1.0, 1001.0), 2.5), abs=1e-3)


def test_analyze_bootstrap_reproducible_and_sensible(syn):
    a = D.analyze(syn, "ltr", REF_DRIVERS[:6], bootstrap=200, seed=3, progress=False)
    b = D.analyze(syn, "ltr", REF_DRIVERS[:6], bootstrap=200, seed=3, progress=False)
    pd.testing.assert_frame_equal(a.importance, b.importance)
    imp = a.importance
    assert (imp["ci_low"] <= imp["importance"]).all() and (imp["importance"] <= imp["ci_high"]).all()
    assert a.r2_ci[0] < a.r2 < a.r2_ci[1]
    assert a.boot.shape == (200, 6)
    # bootstrap SE of a driver with 5000 rows is small (well below 0.02)
    assert (a.boot.std(0) < 0.02).all()
    summ = a.summary()
    assert {"importance", "ci_low", "ci_high", "share", "rank", "performance", "quadrant"} <= set(summ)
    diffs = a.differences()
    assert len(diffs) == 15 and (diffs["difference"] >= 0).all()
    ba = D.analyze(syn, "ltr", REF_DRIVERS[:6], bootstrap=200, seed=3, ci="bca", progress=False)
    assert (ba.importance["ci_low"] < ba.importance["ci_high"]).all()


def test_bootstrap_replicates_equal_refits_on_resampled_rows():
    # The count-weighted covariance must equal the analysis of the physically resampled rows
    # (the same row indices, drawn as analyze() draws them).
    df = survey(n=200, p=4, seed=13)
    cols = ["d0", "d1", "d2", "d3"]
    res = D.analyze(df, "ltr", cols, bootstrap=5, seed=11, progress=False, weights="w")
    idx = np.random.default_rng(11).integers(0, len(df), size=(5, len(df)))
    for b in range(5):
        ref = D.relative_importance(df.iloc[idx[b]], "ltr", cols, weights="w")["importance"]
        np.testing.assert_allclose(res.boot[b], ref, atol=1e-12)


def test_degenerate_resamples_are_dropped_one_by_one():
    # a rare 0/1 driver is constant in ~(1 - 2/30)^30 ≈ 13% of resamples: only those are lost
    df = survey(n=30, p=2, seed=22)
    df["rare"] = 0.0
    df.loc[[3, 17], "rare"] = 1.0
    with pytest.warns(CXWarning, match="bootstrap resamples could not be computed"):
        res = D.analyze(df, "ltr", ["d0", "d1", "rare"], bootstrap=200, seed=0, progress=False)
    assert 120 <= res.bootstrap < 200
    assert np.isfinite(res.boot).all()


def test_quadrant_labels_and_top_box():
    df = survey(n=1000, p=4, seed=14)
    df["d0"] = np.clip(df["d0"] - 2, 1, 10)          # important (largest weight) and low rated
    res = D.analyze(df, "ltr", ["d0", "d1", "d2", "d3"], bootstrap=0)
    q = res.quadrant()
    assert q.loc["d0", "quadrant"] == "Fix"
    assert set(q["quadrant"]) <= set(D.QUADRANTS)
    imp_cut, perf_cut = q.attrs["importance_cut"], q.attrs["performance_cut"]
    for drv, row in q.iterrows():
        hi_i, hi_p = row["importance"] >= imp_cut, row["performance"] >= perf_cut
        assert row["quadrant"] == {(True, False): "Fix", (True, True): "Maintain",
                                   (False, False): "Monitor",
                                   (False, True): "Don't over-invest"}[(hi_i, hi_p)]
    tb = res.quadrant(performance="top_box", top_box=9)
    np.testing.assert_allclose(tb["performance"], (df[tb.index] >= 9).mean(), atol=1e-12)
    np.testing.assert_allclose(q["performance"], df[q.index].mean(), atol=1e-12)
    with pytest.raises(CXDataError, match="top_box=9"):
        res.quadrant(performance="top_box")


def test_by_segment_runs_each_and_records_failures():
    df = pd.concat([survey(n=400, p=3, seed=15).assign(region="North"),
                    survey(n=400, p=3, seed=16).assign(region="South"),
                    survey(n=3, p=3, seed=17).assign(region="Tiny")], ignore_index=True)
    with pytest.warns(CXWarning, match="Tiny"):
        res = D.analyze(df, "ltr", ["d0", "d1", "d2"], bootstrap=100, by="region", progress=False)
    assert set(res.results) == {"North", "South"} and "Tiny" in res.failed
    north = D.analyze(df[df.region == "North"], "ltr", ["d0", "d1", "d2"], bootstrap=0)
    np.testing.assert_allclose(res.results["North"].importance["importance"],
                               north.importance["importance"], atol=1e-14)
    comp = res.compare()
    assert len(comp) == 3 and {"difference", "ci_low", "ci_high", "significant"} <= set(comp)
    assert res.summary().shape == (3, 2)


def test_plots_return_axes():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    df = survey(n=300, p=4, seed=18)
    res = D.analyze(df, "ltr", ["d0", "d1", "d2", "d3"], bootstrap=50, progress=False)
    for ax in (res.plot(), res.plot_quadrant(), cx.plots.quadrant(res.quadrant()),
               cx.plots.driver_importance(res.importance, value="importance")):
        assert isinstance(ax, matplotlib.axes.Axes)
    plt.close("all")


def test_plot_quadrant_draws_the_cuts_it_was_given():
    """The cuts reach plots.quadrant as arguments: the dashed lines sit at the given split."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    df = survey(n=300, p=4, seed=18)
    res = D.analyze(df, "ltr", ["d0", "d1", "d2", "d3"], bootstrap=0, progress=False)
    ax = res.plot_quadrant(cut=(0.3, 2.5))
    ys = {float(y) for line in ax.get_lines() for y in line.get_ydata()}
    xs = {float(x) for line in ax.get_lines() for x in line.get_xdata()}
    assert 0.3 in ys and 2.5 in xs
    plt.close("all")


# ------------------------------------------------------------------ bad input

@pytest.fixture
def small():
    return survey(n=200, p=4, seed=19)


def test_constant_driver_named(small):
    small["d2"] = 5.0
    with pytest.raises(CXDataError, match="'d2'.*do not vary"):
        D.relative_importance(small, "ltr", ["d0", "d1", "d2"])


def test_perfectly_collinear_drivers_named(small):
    small["total"] = small["d0"] + small["d1"]
    with pytest.raises(CXDataError, match="perfectly collinear") as err:
        D.relative_importance(small, "ltr", ["d0", "d1", "d2", "total"])
    assert all(c in str(err.value) for c in ["'d0'", "'d1'", "'total'"])
    assert "'d2'" not in str(err.value)


def test_more_drivers_than_rows():
    df = survey(n=5, p=6, seed=20)
    with pytest.raises(CXDataError, match="6 driver columns but only 5 usable rows"):
        D.relative_importance(df, "ltr", [f"d{j}" for j in range(6)])


def test_non_numeric_columns_named(small):
    small["segment"] = "SMB"
    small["d1"] = small["d1"].astype(object)
    small.loc[3, "d1"] = "Don't know"
    with pytest.raises(CXDataError, match=r"2 column\(s\).*'d1'.*Don't know.*'segment'"):
        D.relative_importance(small, "ltr", ["d0", "d1", "segment"])


def test_driver_equal_to_outcome(small):
    with pytest.raises(CXDataError, match="'ltr' is the outcome itself"):
        D.relative_importance(small, "ltr", ["d0", "ltr"])
    small["ltr_copy"] = small["ltr"] * 10
    with pytest.raises(CXDataError, match="'ltr_copy'.*perfectly correlated with the outcome"):
        D.relative_importance(small, "ltr", ["d0", "ltr_copy"])


def test_near_collinearity_warns_with_condition_number(small):
    rng = np.random.default_rng(0)
    small["d0_again"] = small["d0"] + rng.normal(scale=0.01, size=len(small))
    with pytest.warns(CXWarning, match=r"condition number of their correlation matrix is [\d,]+.*"
                                       r"'d0'.*'d0_again'"):
        D.relative_importance(small, "ltr", ["d0", "d1", "d0_again"])


def test_other_input_errors(small):
    with pytest.raises(CXDataError, match="Unknown method"):
        D.relative_importance(small, "ltr", ["d0"], method="magic")
    with pytest.raises(CXDataError, match="listed more than once"):
        D.relative_importance(small, "ltr", ["d0", "d0"])
    with pytest.raises(CXDataError, match="not defined for groups"):
        D.relative_importance(small, "ltr", ["d0", "d1", "d2"], "pratt", groups={"g": ["d0", "d1"]})
    with pytest.raises(CXDataError, match="in two groups"):
        D.relative_importance(small, "ltr", ["d0", "d1"], groups={"a": ["d0"], "b": ["d0", "d1"]})
    with pytest.raises(CXDataError, match="coded 0/1"):
        D.relative_importance(small, "ltr", ["d0"], family="logistic")
    with pytest.raises(CXDataError, match="no column 'nope'"):
        D.relative_importance(small, "ltr", ["nope"])


# ------------------------------------------------------------------ recovery of known truth

def brute_population_lmg(cov):
    """Population LMG from a covariance (drivers first, outcome last), by the definition."""
    p = len(cov) - 1

    def r2(s):
        s = sorted(s)
        if not s:
            return 0.0
        c = cov[np.ix_(s, [p])][:, 0]
        return c @ np.linalg.solve(cov[np.ix_(s, s)], c) / cov[p, p]
    return shapley_brute(r2, list(range(p))).to_numpy()


def known_population(rng, p=4):
    """A population with known LMG: drivers ~ N(0, Sxx), y = X beta + N(0, 1); returns
    (beta, Cholesky factor of Sxx, population LMG by brute force, checked against the package)."""
    A = rng.normal(size=(p, p))
    Sxx = A @ A.T / p + np.eye(p)
    beta = np.array([0.5, 0.3, 0.2, 0.05])[:p]
    cov = np.zeros((p + 1, p + 1))
    cov[:p, :p] = Sxx
    cov[:p, p] = cov[p, :p] = Sxx @ beta
    cov[p, p] = beta @ Sxx @ beta + 1.0
    truth = brute_population_lmg(cov)
    np.testing.assert_allclose(D.population_importance(cov), truth, atol=1e-12)
    return beta, np.linalg.cholesky(Sxx), truth


@pytest.mark.slow
def test_bootstrap_percentile_coverage_of_population_lmg():
    rng = np.random.default_rng(2024)
    p, n, reps, B = 4, 400, 100, 200
    beta, L, truth = known_population(rng, p)
    hits = np.zeros(p)
    for r in range(reps):
        X = rng.normal(size=(n, p)) @ L.T
        df = pd.DataFrame(X, columns=list("abcd"))
        df["y"] = X @ beta + rng.normal(size=n)
        res = D.analyze(df, "y", list("abcd"), bootstrap=B, seed=r, progress=False)
        hits += ((res.importance["ci_low"] <= truth) & (truth <= res.importance["ci_high"])).to_numpy()
    coverage = hits.sum() / (reps * p)
    # nominal 0.95; 400 correlated interval checks: accept 0.89–0.99 (≈ ±5 binomial SE)
    assert 0.89 <= coverage <= 0.99, (coverage, hits / reps)


def test_recovers_simulated_true_drivers():
    # known population: sample LMG at n = 10,000 ranks drivers like the population LMG
    rng = np.random.default_rng(5)
    p = 8
    A = rng.normal(size=(p, p)) * 0.5
    Sxx = A @ A.T + np.eye(p)
    beta = np.array([0.8, 0.6, 0.45, 0.3, 0.2, 0.12, 0.05, 0.0])
    X = rng.multivariate_normal(np.zeros(p), Sxx, size=10_000)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    df["y"] = X @ beta + rng.normal(scale=1.5, size=len(X))
    cov = np.block([[Sxx, (Sxx @ beta)[:, None]], [(Sxx @ beta)[None, :], beta @ Sxx @ beta + 2.25]])
    pop = D.population_importance(cov)
    est = D.relative_importance(df, "y", list(df.columns[:p]))["importance"].to_numpy()
    from scipy.stats import spearmanr
    assert spearmanr(est, pop).statistic >= 0.9
    assert np.abs(est - pop).max() < 0.03


def test_recovers_kestrel_true_ltr_drivers():
    company = cx.datasets.load("kestrel")
    truth = company.truth["ltr_drivers"]
    pop = pd.Series(truth["population_lmg_ltr"])
    drivers = list(truth["weights"])
    # Touchpoint items are asked only where applicable (onboarding ~86% missing), so listwise
    # deletion would leave ~1% of the rows; pairwise deletion uses every answer.
    est = D.relative_importance(company.survey, "ltr", drivers, missing="pairwise")
    from scipy.stats import kendalltau, spearmanr
    assert spearmanr(est["importance"], pop[est.index]).statistic >= 0.9
    assert kendalltau(est["importance"], pop[est.index]).statistic >= 0.7
    assert est.sort_values("rank").index[0] == truth["ranking"][0]
    # population values are rounded to 1e-6 and the survey is one sample: abs error < 0.01
    assert (est["importance"] - pop[est.index]).abs().max() < 0.01
    assert est.attrs["r2"] == pytest.approx(truth["population_r2_ltr"], abs=0.02)


# ------------------------------------------------------------------ pairwise deletion guards

def _contradictory_pairs(n=120, seed=4):
    """Three drivers observed two at a time on three disjoint groups of respondents:
    corr(a, b) ≈ corr(b, c) ≈ +0.9 but corr(a, c) ≈ −0.9 — no single sample can have that."""
    rng = np.random.default_rng(seed)
    blocks = []
    for (u, v), sign in ((("a", "b"), 1), (("b", "c"), 1), (("a", "c"), -1)):
        f = rng.normal(size=n)
        x1 = f + 0.3 * rng.normal(size=n)
        x2 = sign * f + 0.3 * rng.normal(size=n)
        blocks.append(pd.DataFrame({u: x1, v: x2, "ltr": x1 + x2 + rng.normal(size=n)}))
    return pd.concat(blocks, ignore_index=True)[["a", "b", "c", "ltr"]]


def test_pairwise_non_positive_definite_matrix_is_refused_with_the_pairs():
    df = _contradictory_pairs()
    # outside check: pandas' pairwise correlations have a negative eigenvalue
    assert np.linalg.eigvalsh(df.corr().to_numpy()).min() < -0.1
    with pytest.raises(CXDataError, match=r"not positive definite.*least overlap: .*\(n=120\)"):
        D.analyze(df, "ltr", ["a", "b", "c"], missing="pairwise", bootstrap=0, progress=False)
    # listwise deletion has no complete row: a clear error, not a number
    with pytest.raises(CXDataError), pytest.warns(CXWarning, match="360 of 360 rows"):
        D.analyze(df, "ltr", ["a", "b", "c"], bootstrap=0, progress=False)


def test_pairwise_minimum_overlap_names_the_pair():
    df = survey(n=400, p=3)
    df.loc[20:, "d2"] = np.nan                       # d2 answered by 20 rows only
    with pytest.raises(CXDataError, match=r"at least 30 rows.*d0 & d2 \(n=20\)"):
        D.relative_importance(df, "ltr", ["d0", "d1", "d2"], missing="pairwise")
    out = D.relative_importance(df, "ltr", ["d0", "d1", "d2"], method="first",
                                missing="pairwise", min_pairwise_n=15)
    # first = squared pairwise correlation with the outcome (pandas, pairwise complete): 1e-10
    r = df.corr()["ltr"]
    np.testing.assert_allclose(out["importance"], r[["d0", "d1", "d2"]] ** 2, atol=1e-10)


def test_pairwise_bootstrap_on_a_sparse_regional_subset_stays_in_range():
    """South region, last four waves, ten touchpoints (onboarding ~85% missing): the unguarded
    bootstrap gave R² from −2.2 to 1.27. Resamples whose pairwise matrix is not positive
    definite are now left out, counted and warned about; nothing leaves [0, 1]."""
    from cxlab.simulate import TOUCHPOINTS
    sv = cx.datasets.load("kestrel").survey
    waves = sorted(sv["wave"].astype(str).unique())[-4:]
    south = sv.loc[(sv["region"] == "South") & sv["wave"].astype(str).isin(waves)]
    with pytest.warns(CXWarning, match="not positive definite"):
        res = D.analyze(south, "ltr", list(TOUCHPOINTS), missing="pairwise", bootstrap=200,
                        seed=0, progress=False)
    assert 0 < res.bootstrap < 200
    assert ((res.boot_r2 >= 0) & (res.boot_r2 <= 1)).all()
    assert ((res.boot >= 0) & (res.boot <= 1)).all()
    assert 0 <= res.r2_ci[0] <= res.r2 <= res.r2_ci[1] <= 1
    assert any("left out" in n for n in res.notes)

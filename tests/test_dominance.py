"""Logistic dominance analysis and the fast exact LMG paths, checked against independent fits.

* Every subset's logistic fit (cxlab._logit_subsets, batched Newton with warm starts and a pattern
  table) against statsmodels refitted on the raw rows, one model per subset: 1e-8 in pseudo-R²
  (statsmodels converges to 1e-12; ours stops at a Newton decrement of 1e-9·|ℓ0| and adds the
  quadratic model's remaining gain, leaving ~1e-10).
* Shapley values of all four pseudo-R² against the definition (all p! orders) on those fits: 1e-8.
* Permutation sampling beyond the exact limit: within its stated 95% bound of the exact value.
* Bootstrap: the batched, threaded exact LMG gives the same replicates as one resample at a time
  (1e-9; both are the same exact linear algebra), and a logistic replicate equals statsmodels fits
  with the resampling counts as frequency weights.

R's dominanceanalysis is not installed on this machine, so no R reference numbers are stored here;
statsmodels is the independent implementation.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxlab import drivers as D
from cxlab._logit_subsets import LogitSubsets
from cxlab.checks import CXWarning
from test_drivers import shapley_brute

KINDS = ("mcfadden", "estrella", "cox_snell", "nagelkerke")


def binary_survey(n=1500, p=6, seed=3, levels=10):
    """Correlated integer ratings 1..levels and a 0/1 outcome from a known logistic model."""
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    latent = 0.6 * f + 0.8 * rng.normal(size=(n, p))
    mid = (levels + 1) / 2
    X = np.clip(np.round(mid + latent * levels / 5.5), 1, levels)
    eta = -0.4 + (X - mid) @ np.linspace(0.5, 0.05, p) * 5.5 / levels
    df = pd.DataFrame(X, columns=[f"d{j}" for j in range(p)])
    df["churned"] = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    df["w"] = rng.uniform(0.3, 3.0, n)
    return df


def sm_loglik(df, cols, y="churned", w=None):
    """(ℓ, ℓ0) of the logistic model on ``cols`` refitted by statsmodels on the raw rows."""
    X = sm.add_constant(df[list(cols)].to_numpy(float), has_constant="add") if cols else \
        np.ones((len(df), 1))
    fit = sm.GLM(df[y].to_numpy(float), X, family=sm.families.Binomial(),
                 freq_weights=w).fit(tol=1e-13, maxiter=200)
    return fit.llf, fit.llnull


def pseudo(ll, ll0, n, kind):
    if kind == "mcfadden":
        return 1 - ll / ll0
    if kind == "estrella":
        return 1 - (ll / ll0) ** (-2 * ll0 / n)
    cs = 1 - np.exp(2 * (ll0 - ll) / n)
    return cs if kind == "cox_snell" else cs / (1 - np.exp(2 * ll0 / n))


def subset_cols(mask, cols):
    return [c for j, c in enumerate(cols) if (mask >> j) & 1]


# ------------------------------------------------------------------ every subset vs statsmodels

@pytest.mark.parametrize("levels,weighted", [(10, False), (10, True), (3, True)])
def test_every_subset_loglik_equals_statsmodels(levels, weighted):
    # levels=3: 729 possible rating patterns for 1,500 rows, so the pattern table is used.
    p = 6
    df = binary_survey(n=1500, p=p, seed=10 + levels, levels=levels)
    cols = [f"d{j}" for j in range(p)]
    n = len(df)
    w = df["w"].to_numpy() * n / df["w"].sum() if weighted else np.ones(n)
    eng = LogitSubsets(df[cols].to_numpy(float), df["churned"].to_numpy(float), w, [1] * p)
    if levels == 3:
        assert eng.K < n                                   # rows were merged into patterns
    ll = eng.all_subsets()
    ll0_sm = sm_loglik(df, [], w=w)[0]
    assert eng.ll0 == pytest.approx(ll0_sm, rel=1e-12)
    for mask in range(1 << p):
        ref, _ = sm_loglik(df, subset_cols(mask, cols), w=w)
        assert abs(ll[mask] - ref) / abs(ll0_sm) < 1e-8, mask


def test_values_for_given_masks_equal_all_subsets():
    p = 5
    df = binary_survey(n=900, p=p, seed=4)
    cols = [f"d{j}" for j in range(p)]
    eng = LogitSubsets(df[cols].to_numpy(float), df["churned"].to_numpy(float), np.ones(900),
                       [1] * p)
    allv = eng.all_subsets()
    masks = np.array([0, 1, 6, 19, 31])
    for m, v in zip(masks, eng.values(masks)):
        ref, ll0 = sm_loglik(df, subset_cols(int(m), cols))
        assert abs(v - ref) / abs(ll0) < 1e-8
        assert abs(v - allv[m]) / abs(ll0) < 1e-8


# ------------------------------------------------------------------ Shapley values, all pseudo-R²

@pytest.mark.parametrize("kind", KINDS)
def test_weighted_logistic_dominance_equals_brute_force(kind):
    p = 5
    df = binary_survey(n=1200, p=p, seed=5)
    cols = [f"d{j}" for j in range(p)]
    n = len(df)
    wn = df["w"].to_numpy() * n / df["w"].sum()
    ll0 = sm_loglik(df, [], w=wn)[0]
    brute = shapley_brute(lambda s: pseudo(sm_loglik(df, sorted(s), w=wn)[0], ll0, n, kind)
                          if s else 0.0, cols)
    out = D.relative_importance(df, "churned", cols, weights="w", pseudo_r2=kind)
    np.testing.assert_allclose(out["importance"], brute[cols], atol=1e-8, rtol=0)
    full = pseudo(sm_loglik(df, cols, w=wn)[0], ll0, n, kind)
    assert out.attrs["r2"] == pytest.approx(full, abs=1e-8)
    assert out["importance"].sum() == pytest.approx(full, abs=1e-8)


def test_grouped_logistic_dominance_equals_brute_force():
    df = binary_survey(n=1000, p=5, seed=6)
    cols = [f"d{j}" for j in range(5)]
    groups = {"support": ["d0", "d3"], "billing": ["d1", "d4"]}
    players = {"support": ["d0", "d3"], "billing": ["d1", "d4"], "d2": ["d2"]}
    ll0 = sm_loglik(df, [])[0]
    brute = shapley_brute(lambda s: 1 - sm_loglik(df, [c for g in sorted(s) for c in players[g]]
                                                  )[0] / ll0 if s else 0.0, list(players))
    out = D.relative_importance(df, "churned", cols, groups=groups)
    np.testing.assert_allclose(out["importance"], brute[list(out.index)], atol=1e-8, rtol=0)


def test_first_and_last_match_statsmodels():
    df = binary_survey(n=800, p=4, seed=7)
    cols = [f"d{j}" for j in range(4)]
    ll0 = sm_loglik(df, [])[0]
    full = 1 - sm_loglik(df, cols)[0] / ll0
    first = D.relative_importance(df, "churned", cols, method="first")
    last = D.relative_importance(df, "churned", cols, method="last")
    for c in cols:
        assert first.loc[c, "importance"] == pytest.approx(1 - sm_loglik(df, [c])[0] / ll0,
                                                           abs=1e-8)
        rest = [k for k in cols if k != c]
        assert last.loc[c, "importance"] == pytest.approx(full - (1 - sm_loglik(df, rest)[0] / ll0),
                                                          abs=1e-8)


def test_logistic_sampling_within_stated_bound():
    df = binary_survey(n=1000, p=6, seed=8)
    cols = [f"d{j}" for j in range(6)]
    exact = D.relative_importance(df, "churned", cols)
    approx = D.relative_importance(df, "churned", cols, exact=False, tol=1e-3, seed=2)
    assert approx.attrs["exact"] is False and approx.attrs["error_bound"] <= 1e-3
    # each estimate within its own 95% bound (x1.5 slack: 6 players tested at once)
    assert ((approx["importance"] - exact["importance"]).abs()
            <= 1.5 * 1.96 * approx["mc_se"] + 1e-12).all()
    assert approx["importance"].sum() == pytest.approx(exact.attrs["r2"], abs=1e-8)


def test_separation_is_warned():
    rng = np.random.default_rng(9)
    n = 400
    df = pd.DataFrame({"a": rng.integers(1, 11, n).astype(float),
                       "b": rng.integers(1, 11, n).astype(float)})
    df["churned"] = (df["a"] >= 6).astype(int)          # a separates the outcome perfectly
    with pytest.warns(CXWarning, match="separation"):
        out = D.relative_importance(df, "churned", ["a", "b"])
    assert out.loc["a", "importance"] > 0.9 * out.attrs["r2"]


# ------------------------------------------------------------------ bootstrap

def linear_survey(n=3000, p=13, seed=11):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 1))
    X = np.clip(np.round(6 + 1.8 * (0.6 * f + 0.8 * rng.normal(size=(n, p)))), 1, 10)
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    df["ltr"] = np.clip(np.round(7 + (X - 6) @ np.linspace(0.4, 0.02, p)
                                 + rng.normal(scale=1.5, size=n)), 0, 10)
    df["w"] = rng.uniform(0.5, 2, n)
    return df


def test_bootstrap_replicates_equal_one_resample_at_a_time():
    # p = 13 takes the threaded, piecewise exact-LMG path for a stack of resamples
    df = linear_survey()
    cols = [f"x{j}" for j in range(13)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CXWarning)
        res = D.analyze(df, "ltr", cols, bootstrap=40, seed=3, progress=False, weights="w")
        d = D._prepare(df, "ltr", cols, weights="w")
    rng = np.random.default_rng(3)
    W = D._resample_counts(rng, len(d.Z), 40) * d.w[None, :]
    one = np.array([D._importance_for_weights(d, W[i:i + 1], "lmg", "mcfadden", True, rng, 5e-4,
                                              None)[0][0] for i in range(40)])
    np.testing.assert_allclose(res.boot, one, atol=1e-9, rtol=0)
    lo, hi = D.percentile_interval(one[:, 0], 0.95)
    assert res.importance["ci_low"].iloc[0] == pytest.approx(lo, abs=1e-9)
    assert res.importance["ci_high"].iloc[0] == pytest.approx(hi, abs=1e-9)


def test_logistic_bootstrap_replicate_equals_statsmodels_on_counts():
    df = binary_survey(n=600, p=3, seed=12)
    cols = ["d0", "d1", "d2"]
    res = D.analyze(df, "churned", cols, bootstrap=3, seed=4, progress=False)
    counts = D._resample_counts(np.random.default_rng(4), len(df), 1)[0]
    ll0 = sm_loglik(df, [], w=counts)[0]
    brute = shapley_brute(lambda s: 1 - sm_loglik(df, sorted(s), w=counts)[0] / ll0 if s else 0.0,
                          cols)
    np.testing.assert_allclose(res.boot[0], brute[cols], atol=1e-8, rtol=0)

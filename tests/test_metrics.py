"""cxlab.metrics against hand computations and independent implementations.

References: statsmodels (Wilson / Agresti–Coull intervals, Newcombe difference), scipy (Welch
t-test, t intervals), a brute-force score interval (constrained MLE by numerical optimisation,
not the closed form used by the code), and textbook formulas computed by hand in the test.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, stats
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

import cxlab as cx
from cxlab import metrics
from cxlab.checks import CXDataError, CXWarning

Z = stats.norm.ppf(0.975)


def ltr(promoters, passives, detractors, missing=0):
    """0–10 answers: promoters 9/10, passives 7/8, detractors spread over 0–6, then NaNs."""
    return pd.Series(np.r_[np.resize([9, 10], promoters), np.resize([7, 8], passives),
                           np.resize(np.arange(7), detractors), np.full(missing, np.nan)],
                     name="ltr")


# ---------------------------------------------------------------------- NPS point and intervals

def test_nps_known_distribution():
    # 50 % promoters, 20 % detractors -> NPS = 50 − 20 = +30 (the textbook example)
    r = cx.metrics.nps(ltr(100, 60, 40))
    assert r.value == pytest.approx(30.0)
    assert (r.n, r.n_missing, r.n_eff) == (200, 0, 200)
    assert r.shares == pytest.approx({"promoters": 50.0, "passives": 30.0, "detractors": 20.0})
    # NPS = mean of the recode promoter +100 / passive 0 / detractor −100
    s = ltr(100, 60, 40)
    recode = np.select([s >= 9, s <= 6], [100, -100], 0)
    assert r.value == pytest.approx(recode.mean())
    assert r.ci_low < 30 < r.ci_high


def test_nps_extremes_and_missing_counted():
    r = cx.metrics.nps(ltr(0, 0, 40, missing=7))
    assert r.value == -100 and r.n == 40 and r.n_missing == 7
    assert r.ci_low == -100 and r.ci_high < -80
    assert cx.metrics.nps(ltr(40, 0, 0)).ci_high == pytest.approx(100)


def test_nps_wald_and_adjusted_wald_by_hand():
    s = ltr(50, 30, 20)                         # p_P = .5, p_D = .2, n = 100
    w = cx.metrics.nps(s, method="wald")
    se = np.sqrt((0.5 + 0.2 - 0.3 ** 2) / 100)  # Var(p̂P − p̂D) = (pP + pD − (pP − pD)²)/n
    assert (w.ci_low, w.ci_high) == pytest.approx((100 * (0.3 - Z * se), 100 * (0.3 + Z * se)))
    assert w.se == pytest.approx(100 * se)
    # Rocks (2016) / Lewis & Sauro adjusted Wald: +3/4 promoters and detractors, +3 to n
    a = cx.metrics.nps(s, method="adjusted-wald")
    pp, pd_ = 50.75 / 103, 20.75 / 103
    se_a = np.sqrt((pp + pd_ - (pp - pd_) ** 2) / 103)
    assert (a.ci_low, a.ci_high) == pytest.approx((100 * (pp - pd_ - Z * se_a),
                                                   100 * (pp - pd_ + Z * se_a)))
    assert a.value == pytest.approx(30.0)       # the point estimate is not adjusted


def _score_interval_brute_force(xp, xd, n, z=Z):
    """Score interval for pP − pD with the constrained MLE found numerically (no closed form)."""
    xo = n - xp - xd

    def constrained(delta):
        lo, hi = max(0.0, -delta), (1 - delta) / 2
        nll = lambda q: -(xp * np.log(max(q + delta, 1e-300)) + xd * np.log(max(q, 1e-300))
                          + xo * np.log(max(1 - 2 * q - delta, 1e-300)))
        q = optimize.minimize_scalar(nll, bounds=(lo, hi), method="bounded",
                                     options={"xatol": 1e-13}).x
        return q + delta, q

    def zstat(delta):
        pp, pd_ = constrained(delta)
        return ((xp - xd) / n - delta) / np.sqrt((pp + pd_ - delta ** 2) / n)

    d = (xp - xd) / n
    lo = optimize.brentq(lambda t: zstat(t) - z, -1 + 1e-9, d)
    hi = optimize.brentq(lambda t: zstat(t) + z, d, 1 - 1e-9)
    return 100 * lo, 100 * hi


@pytest.mark.parametrize("counts", [(50, 20, 100), (12, 9, 30), (34, 2, 50), (5, 30, 60),
                                    (410, 130, 800), (0, 0, 7), (0, 0, 40), (1, 0, 2)])
def test_nps_score_interval_matches_brute_force(counts):
    xp, xd, n = counts
    lo, hi = metrics.nps_ci(xp, xd, n)
    blo, bhi = _score_interval_brute_force(xp, xd, n)
    # tolerance 1e-3 NPS points: the numerical optimiser's accuracy, not the method's
    assert lo == pytest.approx(blo, abs=1e-3) and hi == pytest.approx(bhi, abs=1e-3)


def test_nps_score_interval_all_promoters():
    # x_P = n: the constrained MLE is p̃_D = (1 − δ)/2, p̃_P = (1 + δ)/2, so Z² = n(1 − δ)/(1 + δ)
    # and the lower bound solves Z = z: δ = (n − z²)/(n + z²) (by hand)
    for n in (1, 5, 40):
        lo, hi = metrics.nps_ci(n, 0, n)
        assert hi == pytest.approx(100)
        assert lo == pytest.approx(100 * (n - Z ** 2) / (n + Z ** 2), abs=1e-9)
        lo2, hi2 = metrics.nps_ci(0, n, n)                 # mirror image
        assert (lo2, hi2) == pytest.approx((-hi, -lo), abs=1e-9)


def test_nps_score_interval_close_to_wald_at_large_n():
    # asymptotically equivalent: n = 20,000 -> endpoints within 0.05 points
    lo, hi = metrics.nps_ci(9000, 3000, 20000)
    w = cx.metrics.nps(ltr(9000, 8000, 3000), method="wald")
    assert lo == pytest.approx(w.ci_low, abs=0.05) and hi == pytest.approx(w.ci_high, abs=0.05)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 60), st.integers(0, 60), st.integers(0, 60))
def test_nps_interval_properties(p, o, d):
    n = p + o + d
    if n == 0:
        return
    lo, hi = metrics.nps_ci(p, d, n)
    est = 100 * (p - d) / n
    assert -100 - 1e-9 <= lo <= est + 1e-9 <= hi + 2e-9 <= 100 + 3e-9
    assert hi - lo > 1.0                      # never a degenerate interval, even at 0 or ±100
    lo90, hi90 = metrics.nps_ci(p, d, n, confidence=0.90)
    assert lo90 >= lo - 1e-9 and hi90 <= hi + 1e-9        # nested in the confidence level


# ---------------------------------------------------------------------- shares and means

@pytest.mark.parametrize("x,n", [(0, 40), (3, 40), (17, 40), (40, 40), (412, 1000)])
def test_wilson_and_agresti_coull_match_statsmodels(x, n):
    for ours, theirs in (("wilson", "wilson"), ("agresti-coull", "agresti_coull"),
                         ("wald", "normal")):
        lo, hi = metrics.proportion_ci(x, n, method=ours)
        slo, shi = proportion_confint(x, n, alpha=0.05, method=theirs)
        assert (lo, hi) == pytest.approx((100 * slo, 100 * shi), abs=1e-9)


def test_csat_top_box_bottom_box_definitions():
    osat = pd.Series([5, 5, 4, 4, 4, 3, 2, 1, 5, 4] * 5, name="osat")   # 4–5: 7 of 10
    c = cx.metrics.csat(osat)
    assert c.metric == "CSAT" and c.value == pytest.approx(70.0) and c.n == 50
    slo, shi = proportion_confint(35, 50, method="wilson")
    assert (c.ci_low, c.ci_high) == pytest.approx((100 * slo, 100 * shi))
    assert cx.metrics.csat(osat, top=1).value == pytest.approx(30.0)
    assert cx.metrics.top_box(osat, scale=(1, 5)).value == pytest.approx(70.0)
    assert cx.metrics.top_box(osat, top=4, scale=(1, 5)).value == pytest.approx(70.0)
    assert cx.metrics.top_box(osat, top=(5,), scale=(1, 5)).value == pytest.approx(30.0)
    assert cx.metrics.bottom_box(osat, scale=(1, 5)).value == pytest.approx(20.0)
    assert cx.metrics.bottom_box(osat, bottom=3, scale=(1, 5)).value == pytest.approx(30.0)
    s = ltr(50, 30, 20)
    assert cx.metrics.top_box(s).value == pytest.approx(50.0)            # 9–10 by default
    assert cx.metrics.bottom_box(s, bottom=6).value == pytest.approx(20.0)


def test_ces_and_mean_t_interval_match_scipy():
    rng = np.random.default_rng(3)
    effort = pd.Series(rng.integers(1, 8, 73).astype(float), name="effort")
    r = cx.metrics.ces(effort)
    lo, hi = stats.t.interval(0.95, 72, loc=effort.mean(), scale=stats.sem(effort))
    assert r.metric == "CES" and r.value == pytest.approx(effort.mean())
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi))
    assert r.se == pytest.approx(stats.sem(effort))
    share = cx.metrics.ces(effort, top=(5, 6, 7))
    assert share.value == pytest.approx(100 * (effort >= 5).mean())
    m = cx.metrics.mean(effort * 12.5 + 1000)                            # no scale needed
    assert m.value == pytest.approx(effort.mean() * 12.5 + 1000)


# ------------------------------------------------- weights (linearised variance, issue 12 item 3)

def _sandwich_var(e, w, kind="HC0"):
    """Independent reference: the robust (sandwich) variance of a WLS intercept — HC0 is
    Σw²(e − ē_w)²/(Σw)², HC1 adds n/(n − 1): R's survey::svymean variance for ids = ~1."""
    import statsmodels.api as sm
    fit = sm.WLS(np.asarray(e, float), np.ones((len(e), 1)), weights=w).fit(cov_type=kind)
    return float(fit.params[0]), float(fit.bse[0] ** 2)


def test_weights_linearised_effective_base_and_weighted_shares():
    s = pd.Series([10, 10, 3, 8] * 10, name="ltr")
    w = np.array([1.0, 1.0, 2.0, 2.0] * 10)
    r = cx.metrics.nps(s, weights=w)
    e = (s >= 9).astype(float) - (s <= 6).astype(float)
    est, v = _sandwich_var(e, w)
    s2 = np.average((e - est) ** 2, weights=w)
    assert r.n_eff == pytest.approx(s2 / v)                      # n/deff = 40 (Kish says 36)
    assert r.n_eff == pytest.approx(40.0)
    assert r.value == pytest.approx(100 * est)                   # weighted P 20/60, D 20/60
    assert r.se == pytest.approx(100 * np.sqrt(v))
    assert r.weighted and "n_eff = 40.0" in str(r)
    # the interval is the unweighted formula at n_eff with the weighted shares
    lo, hi = metrics.nps_ci(40 * 20 / 60, 40 * 20 / 60, 40)
    assert (r.ci_low, r.ci_high) == pytest.approx((lo, hi))
    # weighted top-box = Wilson at (p_w · n_eff, n_eff), n_eff from the share's own variance
    t = cx.metrics.top_box(s, weights=w)
    x = (s >= 9).astype(float)
    est, v = _sandwich_var(x, w)
    ne = min(np.average((x - est) ** 2, weights=w) / v, len(s))   # truncated at n (K&G 1998)
    slo, shi = proportion_confint(est * ne, ne, method="wilson")
    assert t.value == pytest.approx(100 * 20 / 60)
    assert (t.ci_low, t.ci_high) == pytest.approx((100 * slo, 100 * shi))


def test_weights_equal_or_rescaled_change_nothing():
    s = ltr(44, 31, 25)
    base = cx.metrics.nps(s)
    for w in (np.ones(100), np.full(100, 3.7)):
        r = cx.metrics.nps(s, weights=w)
        assert (r.value, r.ci_low, r.ci_high, r.n_eff) == pytest.approx(
            (base.value, base.ci_low, base.ci_high, base.n))
    rng = np.random.default_rng(0)
    w = rng.uniform(0.5, 2, 100)
    assert cx.metrics.mean(s, weights=w).ci_low == pytest.approx(
        cx.metrics.mean(s, weights=10 * w).ci_low)


def test_weighted_mean_formula():
    rng = np.random.default_rng(8)
    y = rng.integers(1, 6, 80).astype(float)
    w = rng.uniform(0.3, 3, 80)
    r = cx.metrics.mean(y, weights=w)
    m, v = _sandwich_var(y, w, "HC1")            # = survey::svymean's variance
    n_eff = w.sum() * np.sum(w * (y - m) ** 2) / np.sum(w * w * (y - m) ** 2)
    half = stats.t.ppf(0.975, n_eff - 1) * np.sqrt(v)
    assert (r.value, r.ci_low, r.ci_high) == pytest.approx((m, m - half, m + half))
    assert r.se == pytest.approx(np.sqrt(v))


def test_small_effective_base_warns():
    s = ltr(20, 10, 10)
    w = np.r_[np.full(5, 50.0), np.ones(35)]
    with pytest.warns(CXWarning, match="effective base"):
        r = cx.metrics.nps(s, weights=w)
    # the 5 heavy rows are all promoters, so the linearised n/deff is large (capped at n = 40);
    # Kish's base (Σw)²/Σw² = 6.5 shows that five rows carry the estimate -> the warning
    assert not r.suppressed and r.n_eff <= r.n and w.sum() ** 2 / (w * w).sum() < 30


# ---------------------------------------------------------------------- suppression

def test_suppression_below_min_base():
    r = cx.metrics.nps(ltr(15, 8, 6))                  # n = 29
    assert r.suppressed and r.n == 29
    assert np.isnan([r.value, r.ci_low, r.ci_high, r.se]).all()
    assert np.isnan(r.shares["promoters"])
    assert str(r) == "NPS suppressed (n = 29 < 30)"
    assert not cx.metrics.nps(ltr(15, 9, 6)).suppressed  # n = 30
    assert not cx.metrics.nps(ltr(15, 8, 6), min_base=10).suppressed
    assert cx.metrics.csat([5, 4, 1] * 10, min_base=50).suppressed
    # missing answers do not count towards the base
    assert cx.metrics.nps(ltr(15, 9, 5, missing=20)).suppressed


def test_str_format():
    assert str(cx.metrics.nps(ltr(50, 30, 20))) == "NPS +30.0 (95% CI +14.0 to +44.3; n = 100)"
    assert str(cx.metrics.csat([5, 4, 1, 2] * 25)).startswith("CSAT 50.0% (95% CI ")
    assert str(cx.metrics.nps(ltr(50, 30, 20, missing=4))).endswith("n = 100; 4 missing excluded)")


# ---------------------------------------------------------------------- compare / change

def test_compare_proportions_matches_statsmodels_newcombe():
    a = pd.Series([5] * 30 + [4] * 25 + [2] * 45, name="osat")        # CSAT 55 %, n = 100
    b = pd.Series([5] * 50 + [4] * 30 + [2] * 40, name="osat")        # CSAT 66.7 %, n = 120
    r = cx.metrics.compare(a, b, metric="csat")
    lo, hi = confint_proportions_2indep(80, 120, 55, 100, method="newcomb", compare="diff")
    assert r.difference == pytest.approx(100 * (80 / 120 - 0.55))
    assert (r.ci_low, r.ci_high) == pytest.approx((100 * lo, 100 * hi), abs=1e-9)
    assert r.method.startswith("Newcombe")


def test_compare_means_matches_scipy_welch():
    rng = np.random.default_rng(4)
    a = rng.integers(1, 8, 60).astype(float)
    b = np.clip(rng.integers(1, 8, 90) + 1, 1, 7).astype(float)
    r = cx.metrics.compare(a, b, metric="ces")
    t = stats.ttest_ind(b, a, equal_var=False)
    ci = t.confidence_interval(0.95)
    assert r.difference == pytest.approx(b.mean() - a.mean())
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high))
    assert r.p_value == pytest.approx(t.pvalue)
    assert r.significant == (t.pvalue < 0.05)


def test_compare_nps_mover_by_hand_and_p_value_consistent():
    a, b = ltr(50, 30, 20), ltr(72, 30, 18)                          # +30 (n=100) vs +45 (n=120)
    r = cx.metrics.compare(a, b)
    la, ua = metrics.nps_ci(50, 20, 100)
    lb, ub = metrics.nps_ci(72, 18, 120)
    d = 45 - 30
    # MOVER (Zou & Donner 2008): L = d − √((b − l_b)² + (u_a − a)²), U = d + √((u_b − b)² + (a − l_a)²)
    assert r.difference == pytest.approx(d)
    assert r.ci_low == pytest.approx(d - np.hypot(45 - lb, ua - 30))
    assert r.ci_high == pytest.approx(d + np.hypot(ub - 45, 30 - la))
    # p-value = the level at which the interval touches 0
    edge = cx.metrics.compare(a, b, confidence=1 - r.p_value)
    assert min(abs(edge.ci_low), abs(edge.ci_high)) < 1e-6
    assert r.significant == (r.p_value < 0.05) == (r.ci_low > 0 or r.ci_high < 0)


def test_compare_nps_close_to_wald_difference_at_large_n():
    a, b = ltr(4000, 3500, 2500), ltr(4300, 3400, 2300)
    r = cx.metrics.compare(a, b)
    va = (0.4 + 0.25 - 0.15 ** 2) / 10000
    vb = (0.43 + 0.23 - 0.2 ** 2) / 10000
    se = 100 * np.sqrt(va + vb)
    assert r.ci_low == pytest.approx(5 - Z * se, abs=0.05)
    assert r.ci_high == pytest.approx(5 + Z * se, abs=0.05)
    z = 5 / se
    assert r.p_value == pytest.approx(2 * stats.norm.sf(z), rel=0.05)


def test_compare_suppressed_side():
    r = cx.metrics.compare(ltr(50, 30, 20), ltr(10, 5, 5))
    assert r.suppressed and not r.significant and not r.a.suppressed and r.b.suppressed
    assert np.isnan([r.difference, r.ci_low, r.ci_high, r.p_value]).all()
    assert "suppressed" in str(r)


def _waves():
    rng = np.random.default_rng(1)
    n = 3000
    df = pd.DataFrame({"wave": rng.choice(["2025Q3", "2025Q4", "2026Q1"], n),
                       "region": rng.choice(["North", "South", "East"], n),
                       "ltr": rng.integers(0, 11, n).astype(float),
                       "w": rng.uniform(0.5, 2.0, n)})
    df.loc[(df.region == "East") & (df.wave == "2026Q1"), "ltr"] += 0   # keep types simple
    return df


def test_change_defaults_and_agreement_with_compare():
    df = _waves()
    ch = cx.metrics.change(df, "ltr", by="region")
    assert list(ch.columns[:10]) == ["region", "metric", "previous", "current", "difference",
                                     "ci_low", "ci_high", "p_value", "significant", "suppressed"]
    assert (ch.previous_period == "2025Q4").all() and (ch.current_period == "2026Q1").all()
    for _, row in ch.iterrows():
        sel = df[df.region == row.region]
        r = cx.metrics.compare(sel.loc[sel.wave == "2025Q4", "ltr"],
                               sel.loc[sel.wave == "2026Q1", "ltr"])
        assert (row.difference, row.ci_low, row.ci_high, row.p_value) == pytest.approx(
            (r.difference, r.ci_low, r.ci_high, r.p_value))
    wt = cx.metrics.change(df, "ltr", metric="mean", previous="2025Q3", weight="w")
    sel = df[df.wave.isin(["2025Q3", "2026Q1"])]
    r = cx.metrics.compare(sel.ltr[sel.wave == "2025Q3"], sel.ltr[sel.wave == "2026Q1"],
                           metric="mean", weights_a=sel.w[sel.wave == "2025Q3"],
                           weights_b=sel.w[sel.wave == "2026Q1"])
    assert wt.difference[0] == pytest.approx(r.difference)
    assert wt.ci_low[0] == pytest.approx(r.ci_low)


def test_change_group_missing_in_a_period_is_suppressed():
    df = _waves()
    extra = pd.DataFrame({"wave": ["2026Q1"] * 40, "region": ["West"] * 40,
                          "ltr": [9.0] * 40, "w": [1.0] * 40})
    ch = cx.metrics.change(pd.concat([df, extra], ignore_index=True), "ltr", by="region")
    west = ch[ch.region == "West"].iloc[0]
    assert west.suppressed and not west.significant and west.n_previous == 0
    assert np.isnan(west.difference) and west.current == pytest.approx(100.0)


# ---------------------------------------------------------------------- tables

def test_table_by_group_matches_single_calls_and_marks_suppression():
    df = _waves()
    df = pd.concat([df, pd.DataFrame({"wave": ["2026Q1"] * 12, "region": ["Tiny"] * 12,
                                      "ltr": [10.0] * 12, "w": [1.0] * 12})],
                   ignore_index=True)
    tab = cx.metrics.table(df, "ltr", by=["region", "wave"])
    assert list(tab.columns[:8]) == ["region", "wave", "metric", "n", "value", "ci_low",
                                     "ci_high", "suppressed"]
    tiny = tab[tab.region == "Tiny"].iloc[0]
    assert tiny.suppressed and tiny.n == 12 and np.isnan(tiny.value)
    row = tab[(tab.region == "North") & (tab.wave == "2025Q4")].iloc[0]
    r = cx.metrics.nps(df.ltr[(df.region == "North") & (df.wave == "2025Q4")])
    assert (row.value, row.ci_low, row.ci_high, row.n) == pytest.approx(
        (r.value, r.ci_low, r.ci_high, r.n))
    assert row.promoters - row.detractors == pytest.approx(row.value)


def test_table_all_missing_group_and_missing_labels():
    df = pd.DataFrame({"team": ["A"] * 40 + ["B"] * 5 + [None] * 35,
                       "csat": [5.0] * 40 + [np.nan] * 5 + [4.0] * 35})
    tab = cx.metrics.table(df, "csat", metric="csat")
    assert tab.n[0] == 75 and tab.n_missing[0] == 5
    tab = cx.metrics.table(df, "csat", metric="csat", by="team")
    b = tab[tab.team == "B"].iloc[0]
    assert b.n == 0 and b.n_missing == 5 and b.suppressed
    assert tab.team.isna().sum() == 1 and tab[tab.team.isna()].n.iloc[0] == 35


def test_table_100_groups_is_fast():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"team": rng.integers(0, 100, 50_000),
                       "ltr": rng.integers(0, 11, 50_000), "w": rng.uniform(0.5, 2, 50_000)})
    cx.metrics.table(df, "ltr", by="team")                 # warm-up
    t0 = time.perf_counter()
    tab = cx.metrics.table(df, "ltr", by="team", weight="w")
    elapsed = time.perf_counter() - t0
    assert len(tab) == 100 and elapsed < 0.5, elapsed       # measured ~0.01 s


# ---------------------------------------------------------------------- validation

@pytest.mark.parametrize("values,match", [
    ([9, 10, 11, 12], r"'ltr'.*0–10 scale.*11"),
    ([9, 10, "n/a", 8], r"'ltr'.*text.*'n/a'"),
    ([9, 7.5, 8], r"'ltr'.*whole-number.*7.5"),
    ([np.nan, np.nan], r"'ltr'.*no non-missing"),
    ([], r"'ltr' is empty"),
])
def test_nps_validation_errors(values, match):
    with pytest.raises(CXDataError, match=match):
        cx.metrics.nps(pd.Series(values, name="ltr", dtype=object))


def test_other_validation_errors():
    s = ltr(20, 10, 10)
    with pytest.raises(CXDataError, match="weights.*39"):
        cx.metrics.nps(s, weights=np.ones(39))
    with pytest.raises(CXDataError, match="negative"):
        cx.metrics.nps(s, weights=np.r_[-1.0, np.ones(39)])
    with pytest.raises(CXDataError, match="outside the scale"):
        cx.metrics.top_box([1, 2, 3], top=(6, 7), scale=(1, 5))
    with pytest.raises(CXDataError, match="Unknown metric"):
        cx.metrics.table(pd.DataFrame({"x": [1]}), "x", metric="nsp")
    with pytest.raises(CXDataError, match="confidence"):
        cx.metrics.nps(s, confidence=95)
    with pytest.raises(CXDataError, match="min_base"):
        cx.metrics.nps(s, min_base=-1)
    with pytest.raises(CXDataError, match="no column 'ltrr'"):
        cx.metrics.table(pd.DataFrame({"ltr": s}), "ltrr")
    with pytest.raises(CXDataError, match="1 distinct period"):
        cx.metrics.change(pd.DataFrame({"ltr": s, "wave": "2025Q1"}), "ltr")
    with pytest.raises(CXDataError, match="not a value of 'wave'"):
        cx.metrics.change(_waves(), "ltr", current="2030Q1")
    with pytest.raises(CXDataError, match="'osat'.*1–5 scale"):
        cx.metrics.csat(pd.Series([5, 4, 0], name="osat"))


def test_no_warnings_on_clean_input():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cx.metrics.table(_waves(), "ltr", by="region", weight="w")


# ---------------------------------------------------------------------- plots

def test_metric_plots_show_suppressed_cells_as_missing():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    df = pd.DataFrame({"wave": ["Q1"] * 40 + ["Q2"] * 10 + ["Q3"] * 40,
                       "team": "A", "ltr": [10, 9, 8, 3] * 10 + [9] * 10 + [10, 7, 2, 2] * 10})
    tab = cx.metrics.table(df, "ltr", by=["team", "wave"])
    ax = cx.plots.metric_trend(tab, x="wave", hue="team")
    line = ax.lines[0]
    assert np.isnan(line.get_ydata()[1])                      # Q2 (n = 10) is a gap
    np.testing.assert_allclose(np.asarray(line.get_ydata())[[0, 2]], tab.value[[0, 2]])
    assert any(len(l.get_xdata()) == 1 and l.get_marker() == "x" for l in ax.lines)
    assert "suppressed, n < 30" in ax.get_title()
    by_wave = cx.metrics.table(df, "ltr", by="wave")
    ax = cx.plots.nps_stack(by_wave)
    texts = [t.get_text() for t in ax.texts]
    q1 = by_wave.iloc[0]                                      # 50 % promoters, 25 % det.: +25
    assert q1.value == pytest.approx(25.0)
    assert "suppressed (n = 10)" in texts
    assert f"NPS +25 ({q1.ci_low:+.0f} to {q1.ci_high:+.0f})" in texts
    widths = sorted(round(p.get_width(), 6) for p in ax.patches if p.get_width() > 0)
    assert 50.0 in widths and 25.0 in widths                  # promoter / detractor bars of Q1
    plt.close("all")

"""Lifetime-value models in cxlab.value, checked against published results and brute force.

References
- sBG: Fader & Hardie (2007), "How to Project Customer Retention", J. Interactive Marketing
  21(1):76-90. Survivors of the "high end" and "regular" cohorts, years 0-7 (the paper's
  calibration span: it fits the first 7 renewal years and projects years 8-12).
  Published: high end alpha = 0.668, beta = 3.806; regular alpha = 0.704, beta = 1.182.
- BG/NBD: Fader, Hardie & Lee (2005), Marketing Science 24(2): CDNOW 1/10 sample, 39-week
  calibration: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
  E[X(t)] and E[Y(39) | x=2, t_x=30.43, T=38.86] = 1.226 from Hardie's BG/NBD Excel note.
- Gamma-Gamma: Fader, Hardie & Lee (2005), JMR 42(4): 946 repeat buyers, p = 6.25, q = 3.74,
  gamma = 15.44.
- The CDNOW calibration summary (x, t_x, T, zbar) shipped with the paper's data.
Tolerances: half a unit in the last published digit, unless stated.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special, stats

import cxlab as cx
from cxlab.checks import CXDataError
from cxlab.value import ConvergenceError

HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


@pytest.fixture(scope="module")
def cdnow_summary():
    return cx.datasets.load("cdnow_summary").set_index("ID")


@pytest.fixture(scope="module")
def cdnow_own_summary():
    tx = cx.datasets.load("cdnow")
    return cx.value.summarize_transactions(tx, "customer_id", "date", "dollars",
                                           calibration_end="1997-09-30", unit="W")


@pytest.fixture(scope="module")
def bgnbd(cdnow_summary):
    d = cdnow_summary
    return cx.value.fit_bgnbd(d["x"], d["t_x"], d["T"])


# ------------------------------------------------------------------------------------ sBG
@pytest.mark.parametrize("survivors, alpha, beta", [(HIGH_END, 0.668, 3.806),
                                                    (REGULAR, 0.704, 1.182)])
def test_sbg_reproduces_fader_hardie_2007(survivors, alpha, beta):
    fit = cx.value.fit_sbg(survivors)
    assert abs(fit.alpha - alpha) < 5e-4
    assert abs(fit.beta - beta) < 5e-4


def test_sbg_standard_errors_match_independent_numerical_hessian():
    """SEs from the observed information, checked against statsmodels' numdiff Hessian of the
    log-likelihood written out independently here (relative tolerance 1e-3)."""
    from statsmodels.tools.numdiff import approx_hess3
    s = np.array(HIGH_END, float)
    lost, n = s[:-1] - s[1:], len(s) - 1

    def ll(theta):
        a, b = theta
        t = np.arange(1, n + 1)
        p = special.beta(a + 1, b + t - 1) / special.beta(a, b)
        surv = special.beta(a, b + n) / special.beta(a, b)
        return np.sum(lost * np.log(p)) + s[-1] * np.log(surv)

    fit = cx.value.fit_sbg(HIGH_END)
    cov = np.linalg.inv(-approx_hess3(np.array([fit.alpha, fit.beta]), ll))
    np.testing.assert_allclose(fit.se.to_numpy(), np.sqrt(np.diag(cov)), rtol=1e-3)
    assert abs(fit.loglik - ll([fit.alpha, fit.beta])) < 1e-6


def test_sbg_survival_and_retention_follow_the_model():
    fit = cx.value.fit_sbg(REGULAR)
    a, b = fit.alpha, fit.beta
    # closed forms of Fader & Hardie (2007): S(t) = prod r(i), r(t) = (b+t-1)/(a+b+t-1)
    t = np.arange(1, 13)
    r = (b + t - 1) / (a + b + t - 1)
    np.testing.assert_allclose(fit.retention(t), r, rtol=1e-12)
    np.testing.assert_allclose(fit.survival(t), np.cumprod(r), rtol=1e-10)
    assert fit.survival(0) == pytest.approx(1.0)
    table = fit.fitted()
    assert list(table["actual"]) == REGULAR
    # the projection to year 12 lands near the published holdout (17.3 % survive, F&H 2007 fig.)
    assert fit.survival(12) == pytest.approx(0.173, abs=0.02)


def test_sbg_derl_equals_brute_force_sum():
    """DERL = sum_{t>=n} S(t)/S(n-1) / (1+d)^(t-n) (Fader & Hardie 2010, eq. 6), summed directly."""
    a, b, d = 0.668, 3.806, 0.10
    t = np.arange(0, 3000)
    S = np.exp(special.betaln(a, b + t) - special.betaln(a, b))
    for renewals in (0, 1, 4):
        n = renewals + 1
        brute = np.sum(S[n:] / S[n - 1] / (1 + d) ** (t[n:] - n))
        assert cx.value.sbg_derl(a, b, d, renewals) == pytest.approx(brute, rel=1e-8)
    del_brute = np.sum(S / (1 + d) ** t)
    assert cx.value.sbg_del(a, b, d) == pytest.approx(del_brute, rel=1e-8)
    fit = cx.value.fit_sbg(HIGH_END)
    assert fit.clv(50.0, d) == pytest.approx(50 * fit.del_(d))


def test_sbg_derl_is_vectorised_over_bootstrap_draws():
    alphas = np.array([0.5, 0.668, 1.0])
    betas = np.array([3.0, 3.806, 5.0])
    out = cx.value.sbg_derl(alphas, betas, 0.1, renewals=2)
    assert out.shape == (3,)
    for i in range(3):
        assert out[i] == pytest.approx(cx.value.sbg_derl(alphas[i], betas[i], 0.1, 2))


def test_sbg_homogeneous_limit_matches_constant_retention_formula():
    """With no heterogeneity (alpha, beta -> inf at fixed mean) DERL for retention r is
    r(1+d)/(1+d-r): the simple formula m r/(1+d-r) with the next payment one period later."""
    r, d = 0.8, 0.12
    k = 1e7
    derl = cx.value.sbg_derl(k * (1 - r), k * r, d, renewals=3)
    assert derl / (1 + d) == pytest.approx(cx.value.simple_clv(1.0, r, d), rel=1e-5)


def test_sbg_bad_input():
    with pytest.raises(CXDataError, match="never increase"):
        cx.value.fit_sbg([1000, 800, 850, 700])
    with pytest.raises(CXDataError, match="at least 3"):
        cx.value.fit_sbg([1000, 800])
    with pytest.raises(CXDataError, match="missing"):
        cx.value.fit_sbg([1000, np.nan, 700])
    with pytest.raises(CXDataError, match="whole numbers"):
        cx.value.fit_sbg([1000, 800.5, 700])
    with pytest.raises(ConvergenceError):
        cx.value.fit_sbg([1000, 1000, 1000, 1000])


# ------------------------------------------------------------------------ simple formula
def test_simple_clv_gupta_lehmann_margin_multiple():
    """Gupta & Lehmann (2003): margin multiple r/(1+i-r) = 2.5 for r = 80 %, i = 12 %."""
    assert cx.value.simple_clv(100.0, 0.8, 0.12) == pytest.approx(250.0)
    assert cx.value.simple_clv(100.0, 0.8, 0.12, include_initial=True) == pytest.approx(350.0)


def test_clv_from_retention_finite_horizon_and_vectorised_draws():
    m, r, d, H = 40.0, 0.9, 0.01, 24
    brute = sum(m * r ** t / (1 + d) ** t for t in range(1, H + 1))
    assert cx.value.clv_from_retention(m, r, d, H) == pytest.approx(brute, rel=1e-12)
    draws = np.random.default_rng(1).uniform(0.8, 0.95, size=500)
    out = cx.value.clv_from_retention(m, draws, d)
    np.testing.assert_allclose(out, m * draws / (1 + d - draws))
    with pytest.raises(CXDataError, match="probability"):
        cx.value.clv_from_retention(m, 1.2, d)
    with pytest.raises(CXDataError, match="infinite"):
        cx.value.clv_from_retention(m, 1.0, 0.0)


# ------------------------------------------------------------------------ summariser
def test_summariser_reproduces_cdnow_calibration_summary(cdnow_own_summary, cdnow_summary):
    """Same-day purchases merged, repeat purchases only, calibration end 1997-09-30, weeks.
    The published file is rounded to 2 decimals, so |difference| <= 0.005 (+ float slack)."""
    ours = cdnow_own_summary.reindex(cdnow_summary.index)
    assert len(cdnow_own_summary) == 2357
    assert (ours["frequency"] == cdnow_summary["x"]).all()
    for col, ref in (("recency", "t_x"), ("T", "T"), ("monetary_value", "zbar")):
        assert (ours[col] - cdnow_summary[ref]).abs().max() <= 0.005 + 1e-9, col
    assert cdnow_own_summary.attrs["excluded"]["transactions after calibration_end"] > 0


def test_summariser_merges_same_day_and_reports_missing():
    tx = pd.DataFrame({"c": ["a", "a", "a", "b", "b", None],
                       "d": ["2020-01-01", "2020-01-01 15:00", "2020-01-08", "2020-01-02",
                             "2020-01-04", "2020-01-05"],
                       "v": [10.0, 5.0, 20.0, 7.0, 9.0, 1.0]})
    with pytest.warns(cx.checks.CXWarning, match="missing"):
        s = cx.value.summarize_transactions(tx, "c", "d", "v", calibration_end="2020-01-15",
                                            unit="D")
    assert s.loc["a"].tolist() == [1.0, 7.0, 14.0, 20.0]
    assert s.loc["b"].tolist() == [1.0, 2.0, 13.0, 9.0]
    with pytest.raises(CXDataError, match="not dates"):
        cx.value.summarize_transactions(tx.assign(d="soon"), "c", "d", "v")


# ------------------------------------------------------------------------ BG/NBD
def test_bgnbd_reproduces_fader_hardie_lee_2005(bgnbd):
    assert abs(bgnbd.r - 0.243) < 5e-4
    assert abs(bgnbd.alpha - 4.414) < 5e-4
    assert abs(bgnbd.a - 0.793) < 5e-4
    assert abs(bgnbd.b - 2.426) < 5e-4
    assert abs(bgnbd.loglik - (-9582.4)) < 0.05
    se = bgnbd.summary()["se"]
    assert (se > 0).all() and bgnbd.T.size == 2357


def test_bgnbd_on_own_summary_matches_published(cdnow_own_summary):
    s = cdnow_own_summary
    fit = cx.value.fit_bgnbd(s["frequency"], s["recency"], s["T"])
    np.testing.assert_allclose([fit.r, fit.alpha, fit.a, fit.b], [0.243, 4.414, 0.793, 2.426],
                               atol=5e-4)


def test_bgnbd_expectations_match_hardie_excel_sheet(bgnbd):
    t = np.array([0.1429, 1.0, 3.00, 31.8571, 32.00])
    np.testing.assert_allclose(bgnbd.expected_purchases(t),
                               [0.0078, 0.0532, 0.1506, 1.0405, 1.0437], atol=5e-5)
    # t = 78: the sheet's 1.8576 comes from a truncated 2F1 series; agree to 3 decimals and
    # check the exact value by brute-force integration below
    assert abs(bgnbd.expected_purchases(78.0) - 1.8576) < 5e-4
    assert bgnbd.conditional_expected_purchases(39, [2], [30.43], [38.86])[0] == \
        pytest.approx(1.226, abs=5e-4)


def _brute_unconditional(r, alpha, a, b, t):
    """E[X(t)] = E_p[(1/p)(1 - (alpha/(alpha+p t))^r)], p ~ Beta(a, b) (one-dim. quadrature)."""
    f = lambda p: (1 - (alpha / (alpha + p * t)) ** r) / p * stats.beta.pdf(p, a, b)
    return integrate.quad(f, 0, 1, limit=400, epsabs=1e-13)[0]


def _brute_conditional(r, alpha, a, b, x, tx, T, t):
    """P(alive) and E[Y(t) | x, t_x, T] by integrating lambda analytically and p numerically.

    Given (lambda, p) a customer alive at T has likelihood (1-p)^x lambda^x e^{-lambda T}, one
    who dropped out after the last purchase p (1-p)^{x-1} lambda^x e^{-lambda t_x}; common
    factors cancel. Works in log space so x = 500 does not overflow.
    """
    k = r + x
    lo_T, lo_tx = np.log(alpha + T), np.log(alpha + tx)
    logb = special.betaln(a, b)

    def logf(p):
        return (a - 1) * np.log(p) + (b - 1) * np.log1p(-p) - logb

    alive = lambda p: np.exp(logf(p) + x * np.log1p(-p))
    dead = lambda p: (np.exp(logf(p) + np.log(p) + (x - 1) * np.log1p(-p) + k * (lo_T - lo_tx))
                      if x > 0 else 0.0)
    gain = lambda p: alive(p) / p * (1 - np.exp(-k * np.log1p(p * t / (alpha + T))))
    pts = [1e-6, 1e-4, 1e-3, 1e-2, 0.1]
    A = integrate.quad(alive, 0, 1, points=pts, limit=500, epsabs=0, epsrel=1e-11)[0]
    D = integrate.quad(dead, 0, 1, points=pts, limit=500, epsabs=0, epsrel=1e-11)[0]
    G = integrate.quad(gain, 0, 1, points=pts, limit=500, epsabs=0, epsrel=1e-11)[0]
    return A / (A + D), G / (A + D)


def test_bgnbd_unconditional_expectation_equals_integral(bgnbd):
    for t in (1.0, 39.0, 78.0, 520.0):
        assert bgnbd.expected_purchases(t) == pytest.approx(
            _brute_unconditional(*bgnbd.params, t), rel=1e-7)


@pytest.mark.parametrize("x, tx, T, t", [(0, 0.0, 38.86, 39), (2, 30.43, 38.86, 39),
                                         (5, 10.0, 38.0, 52), (26, 30.86, 31.0, 39),
                                         (500, 30.0, 38.86, 39), (500, 38.5, 38.86, 52),
                                         (60, 5.0, 38.0, 100)])
def test_bgnbd_conditional_quantities_equal_integrals(bgnbd, x, tx, T, t):
    """Including frequent buyers (x = 500) where the textbook 2F1 form overflows."""
    p_alive, e_y = _brute_conditional(*bgnbd.params, x, tx, T, t)
    got_alive = bgnbd.prob_alive([x], [tx], [T])[0]
    got_ey = bgnbd.conditional_expected_purchases(t, [x], [tx], [T])[0]
    assert np.isfinite(got_alive) and np.isfinite(got_ey)
    assert got_alive == pytest.approx(p_alive, rel=1e-6, abs=1e-12)
    assert got_ey == pytest.approx(e_y, rel=1e-6, abs=1e-12)


def test_bgnbd_loglik_is_finite_for_extreme_buyers_and_matches_naive_form(bgnbd):
    """The log-space likelihood equals the naive product A1*A2*(A3+A4) where that is
    representable, and stays finite (and a proper optimum) with x = 500 buyers."""
    from cxlab.value import _bgnbd_nll_grad
    r, alpha, a, b = bgnbd.params
    x, tx, T = np.array([0.0, 3.0, 20.0]), np.array([0.0, 20.0, 35.0]), np.array([38.0, 38.0, 38.0])
    A1 = special.gamma(r + x) * alpha ** r / special.gamma(r)
    A2 = special.gamma(a + b) * special.gamma(b + x) / (special.gamma(b) * special.gamma(a + b + x))
    A3 = (1 / (alpha + T)) ** (r + x)
    A4 = np.where(x > 0, a / (b + x - 1) * (1 / (alpha + tx)) ** (r + x), 0.0)
    naive = np.sum(np.log(A1 * A2 * (A3 + A4)))
    assert -_bgnbd_nll_grad(np.array(bgnbd.params), x, tx, T)[0] == pytest.approx(naive, rel=1e-10)
    rng = np.random.default_rng(3)
    n = 300
    xs = rng.poisson(1.0, n).astype(float)
    xs[:5] = 500
    T_ = np.full(n, 52.0)
    tx_ = np.where(xs > 0, rng.uniform(0, 52, n), 0.0)
    assert np.isfinite(_bgnbd_nll_grad(np.array(bgnbd.params), xs, tx_, T_)[0])
    fit = cx.value.fit_bgnbd(xs, tx_, T_)
    assert np.isfinite(fit.loglik) and np.all(np.isfinite(fit.prob_alive()))


def test_bgnbd_frequency_distribution_sums_to_customers(bgnbd):
    tab = bgnbd.frequency_distribution(max_x=7)
    assert tab["actual"].sum() == 2357
    assert tab["expected"].sum() == pytest.approx(2357, rel=1e-9)
    # FHL (2005, fig. 2): the model tracks the histogram closely; zero-repeat class within 1 %
    assert tab.loc[0, "expected"] == pytest.approx(tab.loc[0, "actual"], rel=0.01)


def test_bgnbd_recovers_simulated_truth():
    """Simulate BG/NBD customers with known parameters; estimates land within 3 SEs."""
    rng = np.random.default_rng(11)
    r, alpha, a, b, n, T = 0.5, 5.0, 0.8, 3.0, 3000, 52.0
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    x = np.zeros(n)
    tx = np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T:
                break
            x[i] += 1
            tx[i] = t
            if rng.random() < p[i]:
                break
    fit = cx.value.fit_bgnbd(x, tx, np.full(n, T))
    est = np.array(fit.params)
    assert np.all(np.abs(est - [r, alpha, a, b]) < 3 * fit.se.to_numpy())


def test_bgnbd_bad_input():
    with pytest.raises(CXDataError, match="frequency must be >= 0"):
        cx.value.fit_bgnbd([-1, 2], [0, 3], [10, 10])
    with pytest.raises(CXDataError, match="exceeds T"):
        cx.value.fit_bgnbd([1, 2], [12, 3], [10, 10])
    with pytest.raises(CXDataError, match="Recency must be 0"):
        cx.value.fit_bgnbd([0, 2], [1, 3], [10, 10])
    with pytest.raises(CXDataError, match="missing"):
        cx.value.fit_bgnbd([np.nan, 2], [0, 3], [10, 10])
    with pytest.raises(ConvergenceError):
        cx.value.fit_bgnbd([0, 0, 0, 1], [0, 0, 0, 1], [10, 10, 10, 10])


# ------------------------------------------------------------------------ Gamma-Gamma
def test_gamma_gamma_reproduces_fader_hardie_lee_2005(cdnow_own_summary):
    """Fitted on the 946 repeat buyers with their exact mean spend (our summariser). The
    published summary file rounds zbar to cents, which moves gamma by ~0.004 (to 15.448)."""
    s = cdnow_own_summary
    fit = cx.value.fit_gamma_gamma(s["frequency"], s["monetary_value"])
    assert fit.n == 946 and fit.n_excluded == 2357 - 946
    assert abs(fit.p - 6.25) < 5e-3
    assert abs(fit.q - 3.74) < 5e-3
    assert abs(fit.gamma - 15.44) < 5e-3


def test_gamma_gamma_conditional_spend_equals_posterior_integral():
    """E(Z | x, m) = E[p/nu], nu | data ~ Gamma(px+q, rate gamma + x m), by quadrature."""
    from cxlab.value import GammaGammaResult
    p, q, g = 6.25, 3.74, 15.44
    res = GammaGammaResult(p=p, q=q, gamma=g, se=None, loglik=0, n=0, n_excluded=0,
                           corr_frequency_spend=0, params_table=None)
    for x, m in ((1, 10.0), (4, 55.0), (200, 30.0)):
        post = stats.gamma(p * x + q, scale=1 / (g + x * m))
        brute = integrate.quad(lambda nu, post=post: p / nu * post.pdf(nu), 0, np.inf, limit=400)[0]
        assert res.conditional_expected_spend([x], [m])[0] == pytest.approx(brute, rel=1e-7)
    assert res.conditional_expected_spend([0], [0.0])[0] == pytest.approx(p * g / (q - 1))


def test_gamma_gamma_bad_input():
    with pytest.raises(CXDataError, match="<= 0"):
        cx.value.fit_gamma_gamma([1] * 12, [5.0] * 11 + [-2.0])
    with pytest.raises(CXDataError, match="at least 10"):
        cx.value.fit_gamma_gamma([1, 2, 0], [3.0, 4.0, 0.0])


# ------------------------------------------------------------------------ CLV
def test_clv_without_discount_is_spend_times_expected_purchases(bgnbd, cdnow_own_summary):
    s = cdnow_own_summary.loc[bgnbd.index]
    gg = cx.value.fit_gamma_gamma(s["frequency"], s["monetary_value"])
    clv0 = cx.value.customer_lifetime_value(bgnbd, gg, monetary_value=s["monetary_value"],
                                            months=12, discount=0.0)
    u = 365.25 / 12 / 7
    expected = (gg.conditional_expected_spend(bgnbd.frequency, s["monetary_value"])
                * bgnbd.conditional_expected_purchases(12 * u))
    np.testing.assert_allclose(clv0.to_numpy(), expected, rtol=1e-10)
    clv = cx.value.customer_lifetime_value(bgnbd, gg, monetary_value=s["monetary_value"],
                                           months=12, discount=0.01)
    assert (clv < clv0 + 1e-12).all() and (clv > clv0 / 1.01 ** 12 - 1e-12).all()


def test_fits_are_fast(cdnow_summary):
    """Each fit on its reference data well under a second (measured; generous for CI)."""
    d = cdnow_summary
    for fn, args in ((cx.value.fit_sbg, (HIGH_END,)),
                     (cx.value.fit_bgnbd, (d["x"], d["t_x"], d["T"])),
                     (cx.value.fit_gamma_gamma, (d["x"], d["zbar"]))):
        start = time.perf_counter()
        fn(*args)
        assert time.perf_counter() - start < 1.0, fn.__name__

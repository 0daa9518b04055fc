"""cx.intervals against published tables and independent implementations.

References and tolerances:

* Wilson: Newcombe (1998a, Stat Med 17:857) Table I, method 3, published to 4 decimals
  (tolerance 5e-5, the rounding); statsmodels ``proportion_confint(method="wilson")`` to 1e-12.
* Agresti–Coull and Wald: statsmodels ``proportion_confint`` (``agresti_coull``, ``normal``), 1e-12.
* Newcombe difference (method 10): Newcombe (1998b, Stat Med 17:873) Table II (5e-5), and
  statsmodels ``confint_proportions_2indep(method="newcomb")`` (1e-12).
* MOVER: with Wilson inputs it is Newcombe's interval (statsmodels, 1e-12); with symmetric Wald
  inputs it is the Wald interval of the weighted sum, √Σ w²se² (by algebra, 1e-12).
* Tango: no implementation of Tango's score interval for p_P − p_D is installed (R's PropCIs /
  ratesci are not available offline); it is checked against an independent numerical
  inversion (the constrained MLE found by scipy's bounded scalar optimiser, the bound by
  ``brentq``; 1e-6, the optimiser's accuracy) and against its closed form when every answer is
  a promoter (δ = (n − z²)/(n + z²), 1e-12).
* t and Welch: scipy ``stats.t.interval`` and ``ttest_ind(equal_var=False)``, statsmodels
  ``CompareMeans.tconfint_diff(usevar="unequal")`` (1e-10).
* Holm: statsmodels ``multipletests(method="holm")`` and a worked example by hand.
"""

import numpy as np
import pytest
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from cxlab import intervals as iv
from cxlab.checks import CXDataError

Z = stats.norm.ppf(0.975)

# Newcombe (1998a) Table I, method 3 (Wilson score), 95 %; published to 4 decimals.
WILSON = [((81, 263), (0.2553, 0.3662)), ((15, 148), (0.0624, 0.1605)),
          ((0, 20), (0.0, 0.1611)), ((1, 29), (0.0061, 0.1718))]
# Newcombe (1998b) Table II, method 10 (hybrid score), 95 %.
NEWCOMBE = [((56, 70, 48, 80), (0.0524, 0.3339)), ((9, 10, 3, 10), (0.1705, 0.8090)),
            ((5, 56, 0, 29), (-0.0381, 0.1926)), ((0, 10, 0, 20), (-0.1611, 0.2775)),
            ((0, 10, 0, 10), (-0.2775, 0.2775)), ((10, 10, 0, 20), (0.6791, 1.0)),
            ((10, 10, 0, 10), (0.6075, 1.0))]


@pytest.mark.parametrize("counts, expected", WILSON)
def test_wilson_matches_newcombe_table(counts, expected):
    lo, hi = iv.wilson(*counts)
    assert lo == pytest.approx(expected[0], abs=5e-5)   # published rounding
    assert hi == pytest.approx(expected[1], abs=5e-5)


@pytest.mark.parametrize("counts, expected", NEWCOMBE)
def test_newcombe_difference_matches_published_table(counts, expected):
    lo, hi = iv.newcombe(*counts)
    assert float(lo) == pytest.approx(expected[0], abs=5e-5)
    assert float(hi) == pytest.approx(expected[1], abs=5e-5)


@pytest.mark.parametrize("confidence", [0.8, 0.9, 0.95, 0.99])
def test_one_share_matches_statsmodels_on_a_grid(confidence):
    x = np.array([0, 1, 3, 17, 40, 412, 999, 5])
    n = np.array([40, 7, 40, 40, 40, 1000, 1000, 5])
    for ours, theirs in (("wilson", "wilson"), ("agresti-coull", "agresti_coull"),
                         ("wald", "normal")):
        lo, hi = iv.proportion(x, n, confidence, method=ours)
        slo, shi = proportion_confint(x, n, alpha=1 - confidence, method=theirs)
        np.testing.assert_allclose(lo, np.clip(slo, 0, 1), atol=1e-12)
        np.testing.assert_allclose(hi, np.clip(shi, 0, 1), atol=1e-12)


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_newcombe_matches_statsmodels_on_a_grid(confidence):
    rng = np.random.default_rng(1)
    for _ in range(40):
        n1, n2 = rng.integers(5, 400, 2)
        x1, x2 = rng.integers(0, n1 + 1), rng.integers(0, n2 + 1)
        lo, hi = iv.newcombe(x1, n1, x2, n2, confidence)
        slo, shi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff",
                                              alpha=1 - confidence)
        assert (float(lo), float(hi)) == pytest.approx((slo, shi), abs=1e-12)


def test_mover_with_wilson_inputs_is_newcombe_and_with_wald_inputs_is_wald():
    x1, n1, x2, n2 = 56, 70, 48, 80
    l1, u1 = iv.wilson(x1, n1)
    l2, u2 = iv.wilson(x2, n2)
    d, lo, hi = iv.mover([1, -1], [x1 / n1, x2 / n2], [l1, l2], [u1, u2])
    slo, shi = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    assert (float(d), float(lo), float(hi)) == pytest.approx((x1 / n1 - x2 / n2, slo, shi),
                                                             abs=1e-12)
    d2, lo2, hi2 = iv.mover_difference(x2 / n2, l2, u2, x1 / n1, l1, u1)
    assert (float(d2), float(lo2), float(hi2)) == pytest.approx((float(d), slo, shi), abs=1e-12)
    # symmetric inputs: MOVER = Wald interval of Σ wθ with variance Σ w²se²
    est, se, w = np.array([3.0, -1.0, 7.5]), np.array([0.4, 1.1, 0.2]), np.array([2.0, -1.0, 0.5])
    tot, lo, hi = iv.mover(w, est, est - Z * se, est + Z * se)
    half = Z * np.sqrt(np.sum(w ** 2 * se ** 2))
    assert (tot, lo, hi) == pytest.approx((w @ est, w @ est - half, w @ est + half), abs=1e-12)
    # cells along a second axis are independent
    tot, lo, hi = iv.mover([1, 1], [[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [2.0, 3.0]],
                           [[2.0, 3.0], [4.0, 5.0]])
    np.testing.assert_allclose(tot, [4.0, 6.0])
    np.testing.assert_allclose(hi - tot, [np.sqrt(2)] * 2)


def _tango_numerical(xp, xd, n, confidence=0.95):
    """Score interval by brute force: constrained MLE by scipy's optimiser, bounds by brentq."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    xo = n - xp - xd
    d = (xp - xd) / n

    def score(delta):
        # maximise the trinomial log-likelihood over q = p_D with p_P = q + delta
        lo_q, hi_q = max(0.0, -delta) + 1e-15, (1 - delta) / 2 - 1e-15

        def negll(q):
            pp, pd_ = q + delta, q
            po = 1 - pp - pd_
            return -sum(k * np.log(max(p, 1e-300)) for k, p in ((xp, pp), (xd, pd_), (xo, po)) if k)
        q = optimize.minimize_scalar(negll, bounds=(lo_q, hi_q), method="bounded",
                                     options={"xatol": 1e-13}).x
        var = max((2 * q + delta) - delta ** 2, 1e-300) / n
        return (d - delta) / np.sqrt(var)

    lo = optimize.brentq(lambda t: score(t) - z, -1 + 1e-9, d) if d > -1 else -1.0
    hi = optimize.brentq(lambda t: score(t) + z, d, 1 - 1e-9) if d < 1 else 1.0
    return lo, hi


@pytest.mark.parametrize("counts", [(50, 20, 100), (12, 9, 30), (34, 2, 50), (5, 30, 60),
                                    (410, 130, 800), (1, 7, 21)])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_tango_matches_numerical_score_inversion(counts, confidence):
    lo, hi = iv.tango(*counts, confidence=confidence)
    blo, bhi = _tango_numerical(*counts, confidence=confidence)
    assert (float(lo), float(hi)) == pytest.approx((blo, bhi), abs=1e-6)


def test_tango_all_promoters_closed_form():
    for n in (1, 5, 40):
        lo, hi = iv.tango(n, 0, n)
        assert hi == pytest.approx(1.0) and lo == pytest.approx((n - Z ** 2) / (n + Z ** 2),
                                                                 abs=1e-12)
        assert iv.nps(n, 0, n, method="score")[0] == pytest.approx(lo, abs=1e-15)


def test_nps_wald_and_adjusted_wald_by_formula():
    xp, xd, n = 50, 20, 100
    pp, pd_ = xp / n, xd / n
    half = Z * np.sqrt((pp + pd_ - (pp - pd_) ** 2) / n)
    assert iv.nps(xp, xd, n, method="wald") == pytest.approx((0.3 - half, 0.3 + half))
    pp, pd_ = (xp + 0.75) / (n + 3), (xd + 0.75) / (n + 3)
    half = Z * np.sqrt((pp + pd_ - (pp - pd_) ** 2) / (n + 3))
    assert iv.nps(xp, xd, n, method="adjusted-wald") == pytest.approx(
        (pp - pd_ - half, pp - pd_ + half))
    with pytest.raises(CXDataError, match="Unknown NPS interval method"):
        iv.nps(xp, xd, n, method="exact")


@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_t_and_welch_match_scipy_and_statsmodels(confidence):
    rng = np.random.default_rng(7)
    a, b = rng.normal(5, 2, 23), rng.normal(6, 4, 41)
    lo, hi = iv.t_mean(a.mean(), a.std(ddof=1), a.size, confidence)
    slo, shi = stats.t.interval(confidence, a.size - 1, loc=a.mean(), scale=stats.sem(a))
    assert (float(lo), float(hi)) == pytest.approx((slo, shi), abs=1e-10)
    d, lo, hi, p = iv.welch(a.mean(), a.std(ddof=1), a.size, b.mean(), b.std(ddof=1), b.size,
                            confidence)
    assert float(d) == pytest.approx(b.mean() - a.mean(), abs=1e-12)
    cm = CompareMeans(DescrStatsW(b), DescrStatsW(a))
    slo, shi = cm.tconfint_diff(alpha=1 - confidence, usevar="unequal")
    assert (float(lo), float(hi)) == pytest.approx((slo, shi), abs=1e-10)
    assert float(p) == pytest.approx(stats.ttest_ind(b, a, equal_var=False).pvalue, abs=1e-10)


def test_holm_matches_statsmodels_and_a_worked_example():
    # by hand: sorted 0.005·4 = 0.02, 0.01·3 = 0.03, 0.03·2 = 0.06, max(0.04·1, 0.06) = 0.06
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(iv.holm(p), [0.03, 0.06, 0.06, 0.02], atol=1e-15)
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.2, 25)
    np.testing.assert_allclose(iv.holm(p), multipletests(p, method="holm")[1], rtol=1e-15)
    assert iv.holm([]).size == 0


def test_inversion_p_value_is_where_the_interval_touches_zero():
    x1, n1, x2, n2 = 56, 70, 48, 80
    p = float(iv.inversion_p_value(
        lambda z: (x1 / n1 - x2 / n2, *iv.newcombe(x1, n1, x2, n2, z=z)), x1 / n1 - x2 / n2))
    lo, _ = iv.newcombe(x1, n1, x2, n2, confidence=1 - p)
    assert float(lo) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("bad", [0, 1, 95, -0.5, "0.95", True])
def test_confidence_is_checked(bad):
    with pytest.raises(CXDataError, match="confidence must be a number between 0 and 1"):
        iv.wilson(3, 10, bad)

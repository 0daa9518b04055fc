"""Interval formulas, once: every confidence interval of the package is computed here.

Array in, array out (numpy broadcasting); no pandas, no suppression, no percent. The rule for
units: **this module works on proportions (0–1)**; the statistical modules (metrics, retention,
value, ...) multiply by 100 and show percent / percentage points at their public surface.

=====================  ================================================================
``z_value``            normal quantile for a two-sided ``confidence`` (checked)
``proportion``         one share: Wilson (1927) score, Agresti–Coull or Wald
``wilson``             the Wilson score interval
``newcombe``           difference of two independent shares p1 − p2: Newcombe (1998)
                       hybrid score, method 10 (= MOVER with Wilson intervals)
``mover``              Σ wᵢθᵢ of independent estimates from their own intervals
                       (Zou & Donner 2008; "method of variance estimates recovery")
``mover_difference``   b − a with MOVER
``nps``                p_P − p_D of one multinomial: Tango (1998) score interval,
                       Rocks (2016) adjusted Wald, or Wald
``t_mean``             Student t interval of a mean
``welch``              Welch t interval and p-value of mean_b − mean_a
``holm``               Holm (1979) step-down adjusted p-values (statsmodels)
``inversion_p_value``  two-sided p-value by inverting a family of intervals
=====================  ================================================================

Written by hand where no maintained library is vectorised over many cells (statsmodels'
``proportion_confint`` and ``confint_proportions_2indep`` are the reference implementations in
``tests/test_intervals.py``; no library offers Tango's interval for p_P − p_D of one multinomial).

References
----------
Wilson EB (1927) JASA 22:209–212. Newcombe RG (1998) Statistics in Medicine 17:857–872 (one
share) and 17:873–890 (difference). Tango T (1998) Statistics in Medicine 17:891–908.
Zou GY, Donner A (2008) Statistics in Medicine 27:1693–1702. Rocks B (2016) The American
Statistician 70:365–372. Holm S (1979) Scandinavian Journal of Statistics 6:65–70.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from .checks import CXDataError

__all__ = ["NPS_METHODS", "PROPORTION_METHODS", "decreasing_root", "holm", "inversion_p_value",
           "mover", "mover_difference", "newcombe", "nps", "proportion", "t_mean", "tango",
           "welch", "wilson", "z_value"]

NPS_METHODS = ("score", "adjusted-wald", "wald")
PROPORTION_METHODS = ("wilson", "agresti-coull", "wald")


def z_value(confidence: float) -> float:
    """z_{1−α/2} for a two-sided ``confidence`` in (0, 1); a clear error otherwise."""
    if isinstance(confidence, bool) or not (isinstance(confidence, (int, float, np.floating))
                                            and 0 < confidence < 1):
        raise CXDataError(f"confidence must be a number between 0 and 1 (e.g. 0.95), "
                          f"got {confidence!r}.")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _arr(*xs):
    return [np.asarray(x, dtype=float) for x in np.broadcast_arrays(*xs)]


# ------------------------------------------------------------------------------ one share
def proportion(x, n, confidence: float = 0.95, method: str = "wilson", *, z=None):
    """Interval for the share ``x / n`` (0–1; counts may be fractional, e.g. weighted).

    ``"wilson"``: (p̂ + z²/2n ± z√(p̂q̂/n + z²/4n²)) / (1 + z²/n). ``"agresti-coull"``: Wald on
    ñ = n + z², p̃ = (x + z²/2)/ñ. ``"wald"``: p̂ ± z√(p̂q̂/n). Clipped to [0, 1].
    Returns ``(low, high)``.

    Examples
    --------
    >>> lo, hi = proportion(81, 263)          # Newcombe (1998) Table I: 0.2553 to 0.3662
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.2553, 0.3662)
    """
    x, n = _arr(x, n)
    z = z_value(confidence) if z is None else np.asarray(z, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        if method == "wilson":
            centre = (p + z * z / (2 * n)) / (1 + z * z / n)
            half = z / (1 + z * z / n) * np.sqrt(np.maximum(p * (1 - p) / n
                                                            + z * z / (4 * n * n), 0))
            return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
        if method == "agresti-coull":
            nt = n + z * z
            pt = (x + z * z / 2) / nt
            half = z * np.sqrt(pt * (1 - pt) / nt)
            return np.clip(pt - half, 0, 1), np.clip(pt + half, 0, 1)
        if method == "wald":
            half = z * np.sqrt(np.maximum(p * (1 - p), 0) / n)
            return np.clip(p - half, 0, 1), np.clip(p + half, 0, 1)
    raise CXDataError(f"Unknown proportion interval method {method!r}; "
                      f"choose one of {PROPORTION_METHODS}.")


def wilson(x, n, confidence: float = 0.95, *, z=None):
    """Wilson (1927) score interval for ``x / n`` (0–1). Returns ``(low, high)``."""
    return proportion(x, n, confidence, "wilson", z=z)


# ------------------------------------------------------------------------ combining intervals
def mover(weights, estimates, lows, highs):
    """MOVER interval for Σ wᵢ θᵢ of independent estimates θᵢ with intervals (lᵢ, uᵢ).

    L = Σwθ − √Σ(wᵢθᵢ − min(wᵢlᵢ, wᵢuᵢ))², U = Σwθ + √Σ(max(wᵢlᵢ, wᵢuᵢ) − wᵢθᵢ)²
    (Zou & Donner 2008). The first axis of ``estimates`` / ``lows`` / ``highs`` indexes the
    terms (one weight each); further axes are independent cells. Returns ``(total, low, high)``.
    """
    e, lo, hi = (np.asarray(v, dtype=float) for v in (estimates, lows, highs))
    w = np.asarray(weights, dtype=float).reshape((-1,) + (1,) * (e.ndim - 1))
    total = np.sum(w * e, axis=0)
    wl, wh = w * lo, w * hi
    down, up = np.minimum(wl, wh), np.maximum(wl, wh)
    return (total, total - np.sqrt(np.sum((w * e - down) ** 2, axis=0)),
            total + np.sqrt(np.sum((up - w * e) ** 2, axis=0)))


def mover_difference(a, low_a, high_a, b, low_b, high_b):
    """MOVER interval for ``b − a``: d − √((b − l_b)² + (u_a − a)²), d + √((u_b − b)² + (a − l_a)²).

    Returns ``(difference, low, high)``.
    """
    a, la, ua, b, lb, ub = _arr(a, low_a, high_a, b, low_b, high_b)
    d = b - a
    return d, d - np.sqrt((b - lb) ** 2 + (ua - a) ** 2), d + np.sqrt((ub - b) ** 2 + (a - la) ** 2)


def newcombe(x1, n1, x2, n2, confidence: float = 0.95, *, z=None):
    """Newcombe (1998) hybrid score interval (method 10) for ``x1/n1 − x2/n2`` (0–1).

    MOVER with the two Wilson intervals; as statsmodels'
    ``confint_proportions_2indep(x1, n1, x2, n2, method="newcomb")``. ``z`` overrides
    ``confidence``. Returns ``(low, high)``.

    Examples
    --------
    >>> lo, hi = newcombe(56, 70, 48, 80)     # Newcombe (1998) Table II (a): 0.0524 to 0.3339
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.0524, 0.3339)
    """
    x1, n1, x2, n2 = _arr(x1, n1, x2, n2)
    l1, u1 = wilson(x1, n1, confidence, z=z)
    l2, u2 = wilson(x2, n2, confidence, z=z)
    with np.errstate(invalid="ignore", divide="ignore"):
        _, lo, hi = mover_difference(x2 / n2, l2, u2, x1 / n1, l1, u1)
    return lo, hi


# ---------------------------------------------------------------------------- NPS (trinomial)
def _tango_constrained(xp, xd, n, delta):
    """Constrained MLE (p_P, p_D) of a trinomial given p_P − p_D = delta (Tango 1998).

    Solves 2n q² − [x_P(1−δ) + x_D(1−3δ) − 2x_0 δ] q − x_D δ(1−δ) = 0 for q = p_D
    (the score equation of the log-likelihood under the constraint), positive root.
    """
    xo = n - xp - xd
    b = xp * (1 - delta) + xd * (1 - 3 * delta) - 2 * xo * delta
    q = (b + np.sqrt(np.maximum(b * b + 8 * n * xd * delta * (1 - delta), 0.0))) / (4 * n)
    q = np.clip(q, np.maximum(0.0, -delta), (1 - delta) / 2)
    return q + delta, q


def decreasing_root(f, a, b, tol=1e-13, maxiter=200, fa=None, fb=None):
    """Vectorised bracketed root of f with f(a) >= 0 >= f(b): Illinois (modified regula falsi).

    Keeps the bracket (like bisection) but converges superlinearly; stops when every bracket is
    narrower than ``tol`` or hits an exact zero. ``fa``/``fb`` may pass precomputed end values.
    (scipy's ``brentq`` is scalar; this solves thousands of cells at once.)
    """
    a, b = np.array(a, dtype=float), np.array(b, dtype=float)
    fa = f(a) if fa is None else fa
    fb = f(b) if fb is None else fb
    side = np.zeros(a.shape)
    done = (fa <= 0) | (fb >= 0) | (b - a <= tol)
    root = np.where(fa <= 0, a, b)       # degenerate brackets: the end that is (or beats) a root
    for _ in range(maxiter):
        if done.all():
            break
        denom = fa - fb
        c = np.where(denom > 0, (a * -fb + b * fa) / np.where(denom > 0, denom, 1), 0.5 * (a + b))
        c = np.where((c <= a) | (c >= b), 0.5 * (a + b), c)   # no progress: bisect instead
        fc = f(c)
        right = fc < 0                   # root is left of c: c becomes the new b
        left = fc > 0
        a, fa_new = np.where(left, c, a), np.where(left, fc, fa)
        b, fb_new = np.where(right, c, b), np.where(right, fc, fb)
        # Illinois: halve the function value at the end that stayed twice in a row
        fa = np.where(right & (side == -1), 0.5 * fa_new, fa_new)
        fb = np.where(left & (side == 1), 0.5 * fb_new, fb_new)
        side = np.where(right, -1, np.where(left, 1, side))
        exact = fc == 0
        a, b = np.where(exact, c, a), np.where(exact, c, b)
        newly = ~done & ((b - a <= tol) | exact)
        root = np.where(newly, 0.5 * (a + b), root)
        done |= newly
    return np.where(done, root, 0.5 * (a + b))


def _tango_z(xp, xd, n, z):
    """Tango score bounds for a given z (array); the work of :func:`tango`."""
    xp, xd, n, z = _arr(xp, xd, n, z)
    d = (xp - xd) / n
    sgn = np.r_[-np.ones_like(d), np.ones_like(d)]          # lower, then upper bound
    XP, XD, N, Z, D = (np.r_[v, v] for v in (xp, xd, n, z, d))

    def f(delta):
        pp, pd_ = _tango_constrained(XP, XD, N, delta)
        return (D - delta) * np.sqrt(N) + sgn * Z * np.sqrt(np.maximum(pp + pd_ - delta ** 2, 0))

    a, b = np.where(sgn < 0, -1.0, D), np.where(sgn < 0, D, 1.0)
    # the estimate d̂ is always inside the interval (Z(d̂) = 0): give its end the "inside" sign
    # even where f(d̂) = 0 because the variance vanishes there (e.g. all passives)
    fa, fb = f(a), f(b)
    fa = np.where(sgn > 0, np.maximum(fa, 1e-300), fa)
    fb = np.where(sgn < 0, np.minimum(fb, -1e-300), fb)
    r = decreasing_root(f, a, b, fa=fa, fb=fb)
    k = d.size
    return r[:k].reshape(d.shape), r[k:].reshape(d.shape)


def tango(promoters, detractors, n, confidence: float = 0.95):
    """Tango (1998) score interval for p_P − p_D of one trinomial (NPS / 100).

    {δ : |Z(δ)| ≤ z} with Z(δ) = (d̂ − δ)/√((p̃_P + p̃_D − δ²)/n), p̃ the MLE under p_P − p_D = δ;
    each bound is the root of (d̂ − δ)√n ∓ z√(p̃_P + p̃_D − δ²) on [−1, d̂] resp. [d̂, 1].
    Returns ``(low, high)`` on the −1..1 scale.
    """
    return _tango_z(promoters, detractors, n, z_value(confidence))


def _wald_nps(xp, xd, n, z, add=0.0, add_n=0.0):
    pp, pd_ = (xp + add) / (n + add_n), (xd + add) / (n + add_n)
    d = pp - pd_
    half = z * np.sqrt(np.maximum(pp + pd_ - d * d, 0.0) / (n + add_n))
    return np.clip(d - half, -1, 1), np.clip(d + half, -1, 1)


def nps(promoters, detractors, n, confidence: float = 0.95, method: str = "score", *, z=None):
    """Interval for p_P − p_D (−1..1) from counts (arrays broadcast; counts may be fractional).

    ``"score"``: :func:`tango`. ``"adjusted-wald"`` (Rocks 2016): p̃ = (x + 3/4)/(n + 3) for
    promoters and detractors, d̃ ± z √((p̃_P + p̃_D − d̃²)/(n + 3)). ``"wald"``: without
    pseudo-counts. ``z`` overrides ``confidence`` (for :func:`inversion_p_value`).
    """
    xp, xd, n = _arr(promoters, detractors, n)
    z = z_value(confidence) if z is None else z
    if method == "score":
        return _tango_z(xp, xd, n, z)
    if method == "adjusted-wald":
        return _wald_nps(xp, xd, n, z, 0.75, 3.0)
    if method == "wald":
        return _wald_nps(xp, xd, n, z)
    raise CXDataError(f"Unknown NPS interval method {method!r}; choose one of {NPS_METHODS}.")


# ------------------------------------------------------------------------------------ means
def t_mean(mean, sd, n, confidence: float = 0.95):
    """Student t interval: mean ± t_{n−1, 1−α/2} · sd / √n (n may be an effective base)."""
    z_value(confidence)
    m, s, n = _arr(mean, sd, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stats.t.ppf(0.5 + confidence / 2, n - 1)
        half = t * s / np.sqrt(n)
    return m - half, m + half


def welch(mean_a, sd_a, n_a, mean_b, sd_b, n_b, confidence: float = 0.95):
    """Welch interval and test for mean_b − mean_a: se = √(s_a²/n_a + s_b²/n_b), df by
    Welch–Satterthwaite. Returns ``(difference, low, high, p_value)``."""
    z_value(confidence)
    ma, sa, na, mb, sb, nb = _arr(mean_a, sd_a, n_a, mean_b, sd_b, n_b)
    with np.errstate(invalid="ignore", divide="ignore"):
        va, vb = sa * sa / na, sb * sb / nb
        se = np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va * va / (na - 1) + vb * vb / (nb - 1))
        d = mb - ma
        half = stats.t.ppf(0.5 + confidence / 2, df) * se
        p = 2 * stats.t.sf(np.abs(d / se), df)
    return d, d - half, d + half, p


# ------------------------------------------------------------------------------- p-values
def holm(p_values) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values (``statsmodels`` ``multipletests(method="holm")``)."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return p.copy()
    from statsmodels.stats.multitest import multipletests
    return multipletests(p, method="holm")[1]


def inversion_p_value(interval_at, estimate):
    """Two-sided p-value by inverting a family of intervals: p = 2(1 − Φ(z*)), z* the z at which
    the bound nearest 0 touches 0. ``interval_at(z)`` returns ``(estimate, low, high)`` for an
    array of z; then ``p < 1 − confidence`` exactly when the interval excludes 0."""
    d = np.asarray(estimate, dtype=float)
    sign = np.where(d > 0, 1.0, -1.0)

    def f(z):                              # distance of the bound nearest 0 from 0, decreasing
        _, lo, hi = interval_at(z)
        return np.where(sign > 0, lo, -hi)

    zmax = np.full_like(d, 40.0)
    zstar = decreasing_root(f, np.zeros_like(d), zmax, tol=1e-10)
    p = 2 * stats.norm.sf(zstar)
    return np.where(d == 0, 1.0, np.where(np.isnan(d), np.nan, p))

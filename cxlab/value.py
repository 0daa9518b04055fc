"""Lifetime value and money on every contact.

Contractual (subscription) setting
    :func:`fit_sbg` — shifted-beta-geometric model of contract duration (Fader & Hardie 2007,
    "How to Project Customer Retention", J. Interactive Marketing 21(1):76-90), with discounted
    expected (residual) lifetime (Fader & Hardie 2010, "Customer-Base Valuation in a Contractual
    Setting: The Perils of Ignoring Heterogeneity", Marketing Science 29(1):85-93).
    :func:`simple_clv` / :func:`clv_from_retention` — the constant-retention formula m·r/(1+d−r),
    vectorised over arrays (bootstrap draws) so a what-if chain can call it.

Non-contractual setting
    :func:`summarize_transactions` — transaction log → frequency / recency / T / monetary value.
    :func:`fit_bgnbd` — BG/NBD (Fader, Hardie & Lee 2005, Marketing Science 24(2):275-284).
    :func:`fit_gamma_gamma` — spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV:
    Using Iso-Value Curves for Customer Base Analysis", J. Marketing Research 42(4):415-430).
    :func:`customer_lifetime_value` — discounted CLV from both.

Money on every contact
    :func:`clv_by_group` — mean CLV per group (e.g. NPS group) with bootstrap intervals and gaps.
    :func:`revenue_at_risk` — customers × linked churn × annual value, with intervals.
    :func:`market_damage` — Goodman / TARP market-damage model (problems × share who complain ×
    repurchase loss × customer value, plus word of mouth).

All likelihoods are evaluated in log space (gammaln / betaln / logaddexp); every fit checks
convergence and raises :class:`ConvergenceError` (a :class:`~cxlab.checks.CXDataError`) instead of
returning NaN or boundary estimates.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special

from . import intervals
from .checks import CXDataError, CXWarning, _preview, progress_bar, require_columns, require_frame
from .contract import CONFIDENCE, MIN_BASE
from .display import result_html

__all__ = [
    "TARP_DEFAULTS",
    "BGNBDResult",
    "ClvByGroupResult",
    "ConvergenceError",
    "GammaGammaResult",
    "MarketDamageResult",
    "RevenueAtRiskResult",
    "SBGResult",
    "clv_by_group",
    "clv_from_retention",
    "cohort_survivors",
    "contact_outcomes",
    "customer_lifetime_value",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_sbg",
    "invoice_transactions",
    "market_damage",
    "market_damage_inputs",
    "revenue_at_risk",
    "sbg_del",
    "sbg_derl",
    "sbg_retention",
    "sbg_survival",
    "simple_clv",
    "summarize_transactions",
]


class ConvergenceError(CXDataError):
    """A model fit did not converge to a proper maximum; the message says why and what to try."""


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------

def _array(values, name: str, *, min_value: float | None = None, strict: bool = False,
           integer: bool = False) -> np.ndarray:
    """1-D float array with no missing / infinite values; optional lower bound and integrality."""
    if isinstance(values, pd.DataFrame):
        raise CXDataError(f"{name} must be one column, not a DataFrame. Pass e.g. data[{name!r}].")
    index = values.index if isinstance(values, pd.Series) else None
    try:
        arr = np.asarray(pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="raise"),
                         dtype=float)
    except (ValueError, TypeError) as err:
        raise CXDataError(f"{name} must be numeric ({err}).") from None
    if arr.size == 0:
        raise CXDataError(f"{name} is empty. Pass at least one customer.")
    labels = np.asarray(index) if index is not None else np.arange(arr.size)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise CXDataError(f"{name} has {bad.sum()} missing or infinite value(s) at rows "
                          f"{_preview(labels[bad])}. Fill or drop these customers first.")
    if min_value is not None:
        low = arr <= min_value if strict else arr < min_value
        if low.any():
            op = ">" if strict else ">="
            raise CXDataError(f"{name} must be {op} {min_value:g} but has {low.sum()} value(s) "
                              f"{_preview(np.unique(arr[low]))} at rows {_preview(labels[low])}.")
    if integer:
        frac = arr != np.round(arr)
        if frac.any():
            raise CXDataError(f"{name} must hold whole numbers (counts) but has "
                              f"{_preview(np.unique(arr[frac]))} at rows {_preview(labels[frac])}.")
    return arr


def _hessian(grad, x: np.ndarray, rel_step: float = 1e-5) -> np.ndarray:
    """Observed information: central differences of an analytic gradient, symmetrised."""
    k = x.size
    h = rel_step * np.maximum(np.abs(x), 1.0)
    hess = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = h[j]
        hess[:, j] = (grad(x + e) - grad(x - e)) / (2 * h[j])
    return (hess + hess.T) / 2


@dataclass
class _Fit:
    params: np.ndarray          # natural scale
    se: np.ndarray              # natural scale, from the observed information
    cov_log: np.ndarray         # covariance of log-parameters
    loglik: float
    n_iter: int


def _fit_log_params(nll_grad, starts, names, what: str, gtol: float = 1e-7) -> _Fit:
    """Maximise a log-likelihood over log-parameters with BFGS from several starts.

    ``nll_grad(theta)`` returns (negative log-likelihood, gradient) in *natural* parameters;
    this wrapper optimises log θ. Raises :class:`ConvergenceError` if no start reaches a point
    with a small gradient and a positive-definite information matrix.
    """
    def fun(u):
        theta = np.exp(u)
        val, g = nll_grad(theta)
        if not np.isfinite(val):
            return np.inf, np.zeros_like(u)
        return val, g * theta

    best = None
    with np.errstate(all="ignore"):
        for x0 in starts:
            try:
                res = optimize.minimize(fun, np.log(np.asarray(x0, float)), jac=True,
                                        method="BFGS", options={"gtol": gtol, "maxiter": 2000})
            except (FloatingPointError, ValueError):
                continue
            if np.isfinite(res.fun) and (best is None or res.fun < best.fun - 1e-9):
                best = res
    if best is None:
        raise ConvergenceError(f"{what}: the likelihood could not be evaluated from any starting "
                               "point. Check the inputs for extreme or inconsistent values.")
    u = best.x
    g_norm = np.max(np.abs(fun(u)[1]))
    scale = max(1.0, abs(best.fun))
    if np.any(np.abs(u) > 18) or g_norm > 1e-3 * scale ** 0.5:
        raise ConvergenceError(
            f"{what} did not converge (parameters {dict(zip(names, np.round(np.exp(u), 6)))}, "
            f"largest gradient {g_norm:.2g}). A parameter running to 0 or infinity usually means "
            "the data cannot identify the model: too few customers or periods, no variation "
            "(e.g. no repeat buyers), or a simpler model fits. Check the data or use more of it.")
    with np.errstate(all="ignore"):
        hess = _hessian(lambda v: fun(v)[1], u)
    try:
        cov_log = np.linalg.inv(hess)
        ok = np.all(np.isfinite(cov_log)) and np.all(np.linalg.eigvalsh(hess) > 0)
    except np.linalg.LinAlgError:
        ok = False
    if not ok:
        raise ConvergenceError(
            f"{what}: the information matrix at the optimum is not positive definite, so the "
            "parameters are not identified by these data and standard errors do not exist. "
            "Use more data or a simpler model.")
    theta = np.exp(u)
    se = theta * np.sqrt(np.diag(cov_log))   # delta method: gradient is ~0 at the optimum
    return _Fit(theta, se, cov_log, -float(best.fun), int(best.nit))


def _param_table(names, fit: _Fit, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Estimates with SEs (observed information) and Wald intervals on the log scale."""
    z = intervals.z_value(confidence)
    se_log = np.sqrt(np.diag(fit.cov_log))
    return pd.DataFrame({"estimate": fit.params, "se": fit.se,
                         "ci_low": fit.params * np.exp(-z * se_log),
                         "ci_high": fit.params * np.exp(z * se_log)},
                        index=pd.Index(names, name="parameter"))


def _check_discount(discount) -> np.ndarray:
    d = np.asarray(discount, dtype=float)
    if not np.all(np.isfinite(d)) or np.any(d < 0):
        raise CXDataError(f"discount must be a rate >= 0 per period (e.g. 0.10 for 10%), "
                          f"got {discount!r}.")
    return d


# --------------------------------------------------------------------------------------------
# contractual: constant retention and the shifted-beta-geometric model
# --------------------------------------------------------------------------------------------

def clv_from_retention(margin, retention, discount, horizon=None, *, include_initial=False):
    """Expected discounted value of a customer with constant per-period retention ``r``.

    Convention (Gupta & Lehmann 2003): the customer has just been acquired at time 0; a margin
    ``m`` is received at the **end** of each period t = 1, 2, … in which the customer is still
    there (probability r^t), discounted by (1+d)^t. The first (acquisition) period's margin is
    **not** counted unless ``include_initial=True`` (then m is added, received at time 0).

        CLV = Σ_{t=1..H} m r^t/(1+d)^t = m q (1 − q^H)/(1 − q),  q = r/(1+d)
        H = ∞ (``horizon=None``):  CLV = m r/(1 + d − r)

    All arguments broadcast, so arrays of bootstrap draws of margin, retention or discount give
    an array of CLVs (the what-if chain relies on this).
    """
    m = np.asarray(margin, dtype=float)
    r = np.asarray(retention, dtype=float)
    d = _check_discount(discount)
    if np.any(~np.isfinite(r)) or np.any((r < 0) | (r > 1)):
        raise CXDataError(f"retention must be a probability in [0, 1] per period, got "
                          f"{_preview(np.unique(r[(r < 0) | (r > 1) | ~np.isfinite(r)]))}.")
    if np.any(~np.isfinite(m)):
        raise CXDataError("margin has missing or infinite values.")
    q = r / (1 + d)
    if horizon is None:
        if np.any((r >= 1) & (d == 0)):
            raise CXDataError("With retention 1 and no discounting the lifetime value is "
                              "infinite. Give a discount rate > 0 or a finite horizon.")
        with np.errstate(divide="ignore", invalid="ignore"):
            value = m * r / (1 + d - r)
    else:
        h = np.asarray(horizon, dtype=float)
        if np.any(h < 0) or np.any(h != np.round(h)):
            raise CXDataError(f"horizon must be a whole number of periods >= 0, got {horizon!r}.")
        with np.errstate(divide="ignore", invalid="ignore"):
            geo = np.where(np.isclose(q, 1.0), h, q * (1 - q ** h) / (1 - q))
        value = m * geo
    if include_initial:
        value = value + m
    return value if np.ndim(value) else float(value)


def simple_clv(margin, retention, discount, horizon=None, *, include_initial=False):
    """The textbook CLV formula m·r/(1+d−r); see :func:`clv_from_retention` for the convention."""
    return clv_from_retention(margin, retention, discount, horizon, include_initial=include_initial)


def sbg_survival(t, alpha, beta):
    """sBG survivor function S(t) = B(α, β+t)/B(α, β): share still active after t renewals."""
    t = np.asarray(t, dtype=float)
    return np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta))


def sbg_retention(t, alpha, beta):
    """sBG retention rate in period t ≥ 1: r(t) = S(t)/S(t−1) = (β+t−1)/(α+β+t−1)."""
    t = np.asarray(t, dtype=float)
    return (beta + t - 1) / (alpha + beta + t - 1)


def sbg_del(alpha, beta, discount):
    """Discounted expected lifetime of a just-acquired customer (Fader & Hardie 2010, eq. 4).

    DEL = Σ_{t=0..∞} S(t)/(1+d)^t = ₂F₁(1, β; α+β; 1/(1+d)): one payment at the start of
    every period the customer is active, the first (at acquisition) undiscounted.
    Vectorised over α, β, d.
    """
    d = _check_discount(discount)
    if np.any(d <= 0):
        raise CXDataError("discount must be > 0 for the sBG expected lifetime (with d = 0 it is "
                          "infinite whenever α ≤ 1).")
    return special.hyp2f1(1.0, beta, np.add(alpha, beta), 1.0 / (1.0 + d))


def sbg_derl(alpha, beta, discount, renewals=0):
    """Discounted expected residual lifetime (Fader & Hardie 2010, eqs. 6-7).

    For a customer who has made n−1 = ``renewals`` renewals and is about to make the n-th
    renewal decision: DERL = Σ_{t=n..∞} [S(t)/S(n−1)]/(1+d)^(t−n)
    = (β+n−1)/(α+β+n−1) · ₂F₁(1, β+n; α+β+n; 1/(1+d)). The payment made at that renewal is
    counted undiscounted (valuation just before the renewal). Vectorised over all arguments.
    """
    d = _check_discount(discount)
    if np.any(d <= 0):
        raise CXDataError("discount must be > 0 for the sBG residual lifetime.")
    n = np.asarray(renewals, dtype=float) + 1
    if np.any(n < 1) or np.any(n != np.round(n)):
        raise CXDataError(f"renewals must be a whole number >= 0, got {renewals!r}.")
    ab = np.add(alpha, beta)
    return ((beta + n - 1) / (ab + n - 1)
            * special.hyp2f1(1.0, beta + n, ab + n, 1.0 / (1.0 + d)))


@dataclass
class SBGResult:
    """Fitted shifted-beta-geometric model (Fader & Hardie 2007)."""

    alpha: float
    beta: float
    se: pd.Series
    loglik: float
    survivors: np.ndarray
    params_table: pd.DataFrame = field(repr=False)

    def survival(self, t):
        """Share of the starting cohort still active after ``t`` periods (S(0) = 1)."""
        return sbg_survival(t, self.alpha, self.beta)

    def retention(self, t):
        """Period-t retention rate r(t) = (β+t−1)/(α+β+t−1), t = 1, 2, …"""
        return sbg_retention(t, self.alpha, self.beta)

    def expected_survivors(self, t):
        return self.survivors[0] * self.survival(t)

    def del_(self, discount):
        """Discounted expected lifetime (periods) of a new customer; see :func:`sbg_del`."""
        return sbg_del(self.alpha, self.beta, discount)

    def derl(self, discount, renewals=0):
        """Discounted expected residual lifetime; see :func:`sbg_derl`."""
        return sbg_derl(self.alpha, self.beta, discount, renewals)

    def clv(self, margin, discount, renewals=None):
        """Margin × DEL for a new customer (``renewals=None``), or margin × DERL for a customer
        who has made ``renewals`` renewals (residual value of an existing customer)."""
        life = self.del_(discount) if renewals is None else self.derl(discount, renewals)
        return np.asarray(margin, dtype=float) * life

    def fitted(self) -> pd.DataFrame:
        """Actual vs fitted survivors and retention per period of the calibration data."""
        t = np.arange(self.survivors.size)
        actual = self.survivors
        ret = np.r_[np.nan, actual[1:] / actual[:-1]]
        return pd.DataFrame({"period": t, "actual": actual, "fitted": self.expected_survivors(t),
                             "actual_retention": ret,
                             "fitted_retention": np.r_[np.nan, self.retention(t[1:])]})

    def summary(self) -> pd.DataFrame:
        """Parameters with SEs and intervals (log-likelihood: ``.loglik``)."""
        return self.params_table.copy()

    def plot(self, horizon: int | None = None, *, ax=None):
        """Actual vs fitted survival (and the projection to ``horizon`` periods)."""
        from .plots import sbg_plot
        return sbg_plot(self, horizon=horizon, ax=ax)


def _sbg_nll_grad(theta, lost, last_t, n_alive):
    a, b = theta
    t = np.arange(1, lost.size + 1, dtype=float)
    base = special.betaln(a, b)
    lp = special.betaln(a + 1, b + t - 1) - base          # P(T = t)
    ls = special.betaln(a, b + last_t) - base             # S(last period)
    ll = np.sum(lost * lp) + n_alive * ls
    dab = special.digamma(a + b)
    # d/da betaln(a+1, b+t-1) = ψ(a+1) − ψ(a+b+t); d/da betaln(a,b) = ψ(a) − ψ(a+b)
    d_base_a, d_base_b = special.digamma(a) - dab, special.digamma(b) - dab
    dlp_a = special.digamma(a + 1) - special.digamma(a + b + t) - d_base_a
    dlp_b = special.digamma(b + t - 1) - special.digamma(a + b + t) - d_base_b
    dls_a = special.digamma(a) - special.digamma(a + b + last_t) - d_base_a
    dls_b = special.digamma(b + last_t) - special.digamma(a + b + last_t) - d_base_b
    ga = np.sum(lost * dlp_a) + n_alive * dls_a
    gb = np.sum(lost * dlp_b) + n_alive * dls_b
    return -ll, -np.array([ga, gb])


def fit_sbg(survivors) -> SBGResult:
    """Fit the shifted-beta-geometric model to one cohort's survivor counts.

    ``survivors`` are the numbers still active at the start of periods 0, 1, …, n (the starting
    cohort first), e.g. ``[1000, 869, 743, 653, 593, 551, 517, 491]``. Each customer has a
    constant churn probability θ per period, θ ~ Beta(α, β) across customers. Likelihood:
    Σ_t (S(t−1)−S(t) lost)·log P(T=t) + (still active)·log S(n) (Fader & Hardie 2007, eq. 8).
    """
    s = _array(survivors, "survivors", min_value=0, integer=True)
    if s.size < 3:
        raise CXDataError("fit_sbg needs survivor counts for at least 3 periods (the starting "
                          "cohort and two renewals) to identify α and β.")
    if s[0] <= 0:
        raise CXDataError("The starting cohort (first survivor count) must be > 0.")
    up = np.flatnonzero(np.diff(s) > 0)
    if up.size:
        raise CXDataError(f"survivors must never increase (a cohort can only shrink), but period "
                          f"{up[0] + 1} has {s[up[0] + 1]:g} > {s[up[0]]:g}. Pass one cohort's "
                          "counts, not active customers across cohorts.")
    lost = -np.diff(s)
    if lost.sum() == 0:
        raise ConvergenceError("No customer churned in the data, so churn heterogeneity cannot "
                               "be estimated (α/(α+β) → 0). Use a longer observation window.")
    if s[1] == 0:
        raise ConvergenceError("Every customer churned at the first renewal, so churn "
                               "heterogeneity cannot be estimated (α/(α+β) → 1: a degenerate "
                               "fit at the boundary). Check that the counts are survivors of one "
                               "cohort, or use a cohort observed past its first renewal.")
    fit = _fit_log_params(lambda th: _sbg_nll_grad(th, lost, s.size - 1, s[-1]),
                          [(1.0, 1.0), (0.5, 3.0), (2.0, 10.0)], ["alpha", "beta"], "sBG fit")
    edge = [f"{k} = {v:.3g}" for k, v in zip(("α", "β"), fit.params) if not 1e-4 < v < 1e5]
    if edge:
        warnings.warn(f"sBG fit is degenerate ({', '.join(edge)}: at the boundary of the "
                      "parameter space); the data barely identify churn heterogeneity, so "
                      "projections beyond the observed periods are unreliable.", CXWarning,
                      stacklevel=2)
    table = _param_table(["alpha", "beta"], fit)
    return SBGResult(alpha=float(fit.params[0]), beta=float(fit.params[1]),
                     se=table["se"], loglik=fit.loglik, survivors=s, params_table=table)


_PERIOD_MONTHS = {"M": 1, "Q": 3, "Y": 12}


def cohort_survivors(customers: pd.DataFrame, *, cohort: str = "Q", start: str = "start_date",
                     end: str = "end_date", since=None, observation_end=None) -> pd.DataFrame:
    """Survivor counts of acquisition cohorts, the input of :func:`fit_sbg`.

    Customers are grouped by the calendar ``cohort`` ("M", "Q" or "Y") of their ``start`` date;
    period k of a customer is k contract periods of the same length (1, 3 or 12 months of
    365.25/12 days) after their own start. A customer is active at period k ≥ 1 if ``end`` is
    empty or more than k periods after ``start``. Period k of a cohort is shown only when every
    member can have been observed that long (the cohort's last day + k periods is on or before
    ``observation_end``, default the latest date in ``start``/``end``); later cells are <NA>.

    Returns one row per cohort (index: cohort label, e.g. ``2024Q1``), one column per period
    0, 1, …; each row is non-increasing, so ``fit_sbg(table.loc["2024Q1"].dropna())`` works.

    ``since``: first start date to use. A customer list that holds only the customers active at
    some date (and those acquired later) lacks the early leavers of older cohorts: their counts
    would be survivors only. Pass that date as ``since``. Customers starting before it, or
    with a missing start date, are excluded and counted in ``table.attrs["excluded"]``.
    """
    require_frame(customers, "customers")
    require_columns(customers, [start, end], "customers")
    if cohort not in _PERIOD_MONTHS:
        raise CXDataError(f"cohort must be one of {sorted(_PERIOD_MONTHS)} (month, quarter, "
                          f"year), got {cohort!r}.")
    starts, ends = _to_dates(customers[start]), _to_dates(customers[end])
    for name, raw, parsed in ((start, customers[start], starts), (end, customers[end], ends)):
        bad = parsed.isna() & raw.notna()
        if bad.any():
            raise CXDataError(f"Column {name!r} has {bad.sum()} value(s) that are not dates, e.g. "
                              f"{_preview(raw[bad].astype(str).unique())} at rows "
                              f"{_preview(customers.index[bad])}.")
    backwards = ends.notna() & starts.notna() & (ends < starts)
    if backwards.any():
        raise CXDataError(f"{backwards.sum()} customer(s) have {end!r} before {start!r}, at rows "
                          f"{_preview(customers.index[backwards])}. Fix the dates first.")
    obs_end = (pd.concat([starts, ends]).max() if observation_end is None
               else pd.Timestamp(observation_end))
    if ends.notna().any() and ends.max() > obs_end:
        raise CXDataError(f"Some {end!r} dates are after observation_end {obs_end.date()}.")
    keep = starts.notna()
    excluded = {}
    if (~keep).any():
        excluded[f"missing {start}"] = int((~keep).sum())
    if since is not None:
        early = keep & (starts < pd.Timestamp(since))
        if early.any():
            excluded[f"{start} before {pd.Timestamp(since).date()}"] = int(early.sum())
        keep &= ~early
    keep &= starts <= obs_end
    if not keep.any():
        raise CXDataError("No customer is left to form cohorts: check since= and the dates.")
    period_days = _PERIOD_MONTHS[cohort] * 365.25 / 12
    s, e = starts[keep], ends[keep]
    labels = s.dt.to_period(cohort)
    # days each customer was active (to the end of observation if still active)
    life = ((e.fillna(obs_end + pd.Timedelta(days=1)) - s).dt.days).to_numpy(float)
    rows = {}
    for label in sorted(labels.unique()):
        member = (labels == label).to_numpy()
        last_day = label.end_time.normalize()
        observable = int(((obs_end + pd.Timedelta(days=1) - last_day).days) // period_days)
        counts = [int(member.sum())] + [int((life[member] > k * period_days).sum())
                                        for k in range(1, max(observable, 0) + 1)]
        rows[str(label)] = counts
    width = max(len(v) for v in rows.values())
    table = pd.DataFrame({k: v + [pd.NA] * (width - len(v)) for k, v in rows.items()}).T
    table = table.astype("Int64")
    table.index.name, table.columns.name = "cohort", "period"
    table.attrs.update(period_months=_PERIOD_MONTHS[cohort], observation_end=str(obs_end.date()),
                       excluded=excluded)
    return table


# --------------------------------------------------------------------------------------------
# non-contractual: transaction summaries
# --------------------------------------------------------------------------------------------

_UNIT_DAYS = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}


def _to_dates(col: pd.Series) -> pd.Series:
    """Parse dates; if one format does not fit every row, parse each row on its own."""
    if pd.api.types.is_datetime64_any_dtype(col):
        return col
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Could not infer format", UserWarning)
        out = pd.to_datetime(col, errors="coerce")
        if (out.isna() & col.notna()).any():
            out = pd.to_datetime(col, errors="coerce", format="mixed")
    return out


def summarize_transactions(data: pd.DataFrame, customer: str, date: str, amount: str | None = None,
                           *, calibration_end=None, unit: str = "W") -> pd.DataFrame:
    """Frequency / recency / T / monetary value per customer, "the standard way".

    As in Fader, Hardie & Lee (2005) and the ``lifetimes``/BTYD packages:

    - dates are truncated to the day and all transactions of a customer on the same day are
      merged into one (amounts summed);
    - only transactions up to ``calibration_end`` (inclusive; default: the last date) count;
      customers whose first purchase is after it are excluded;
    - ``frequency`` = number of *repeat* purchase days (the first purchase is not counted);
    - ``recency`` = time from first to last purchase, ``T`` = time from first purchase to
      ``calibration_end``, both in ``unit`` ("D" days, "W" weeks, "M" months of 365.25/12 days);
    - ``monetary_value`` = mean amount of the repeat purchase days (0 with no repeat purchase).

    What was left out is counted in ``result.attrs["excluded"]``: rows with missing values (also
    warned about with a :class:`~cxlab.checks.CXWarning`), transactions after
    ``calibration_end`` and customers whose first purchase is after it (by design, no warning).
    """
    require_frame(data, "transactions")
    cols = [customer, date] + ([amount] if amount else [])
    require_columns(data, cols, "transactions")
    if unit not in _UNIT_DAYS:
        raise CXDataError(f"unit must be one of {sorted(_UNIT_DAYS)}, got {unit!r}.")
    df = pd.DataFrame({"customer": data[customer], "date": _to_dates(data[date])})
    bad_date = df["date"].isna() & data[date].notna()
    if bad_date.any():
        raise CXDataError(f"Column {date!r} has {bad_date.sum()} value(s) that are not dates, e.g. "
                          f"{_preview(data.loc[bad_date, date].astype(str).unique())} at rows "
                          f"{_preview(data.index[bad_date])}. Fix the format or pass a date type.")
    if amount:
        df["amount"] = pd.to_numeric(data[amount], errors="coerce")
        text = df["amount"].isna() & data[amount].notna()
        if text.any():
            raise CXDataError(f"Column {amount!r} holds text at rows "
                              f"{_preview(data.index[text])}. It must be numeric.")
    excluded = {}
    missing = df[["customer", "date"] + (["amount"] if amount else [])].isna().any(axis=1)
    if missing.any():
        excluded["missing customer, date or amount"] = int(missing.sum())
        df = df.loc[~missing]
    if len(df) == 0:
        raise CXDataError("No usable transactions remain after removing rows with missing values.")
    df["date"] = df["date"].dt.normalize()
    end = df["date"].max() if calibration_end is None else pd.Timestamp(calibration_end).normalize()
    late = df["date"] > end
    n_customers = df["customer"].nunique()
    df = df.loc[~late]
    calibration = {"transactions after calibration_end": int(late.sum()),
                   "customers whose first purchase is after calibration_end":
                       int(n_customers - df["customer"].nunique())}
    if len(df) == 0:
        raise CXDataError(f"No transactions on or before calibration_end {end.date()}.")
    daily = df.groupby(["customer", "date"], sort=True)
    daily = daily["amount"].sum().reset_index() if amount else daily.size().reset_index()
    first = daily.groupby("customer")["date"].transform("min")
    is_repeat = daily["date"] > first
    g = daily.assign(repeat=is_repeat).groupby("customer")
    days = _UNIT_DAYS[unit]
    out = pd.DataFrame({
        "frequency": g["repeat"].sum().astype(float),
        "recency": (g["date"].max() - g["date"].min()).dt.days / days,
        "T": (end - g["date"].min()).dt.days / days,
    })
    if amount:
        rep = daily.loc[is_repeat].groupby("customer")["amount"].mean()
        out["monetary_value"] = rep.reindex(out.index).fillna(0.0)
    out.index.name = customer
    if excluded:
        parts = "; ".join(f"{k}: {v} row(s)" for k, v in excluded.items())
        warnings.warn(f"summarize_transactions excluded {parts}.", CXWarning, stacklevel=2)
    out.attrs["excluded"] = {**excluded, **calibration}
    out.attrs["calibration_end"] = str(end.date())
    out.attrs["unit"] = unit
    return out


def invoice_transactions(data: pd.DataFrame, *, customer: str = "CustomerID",
                         date: str = "InvoiceDate", invoice: str = "InvoiceNo",
                         quantity: str = "Quantity", price: str = "UnitPrice",
                         cancellation_prefix: str = "C"):
    """Invoice lines (e.g. UCI Online Retail) → one transaction per invoice, with a report.

    Lines are valued quantity × price and summed per invoice. Excluded, and counted in the
    report: lines without a customer id; cancellation invoices (number starting with
    ``cancellation_prefix``, negative quantities) — their value is reported so the analyst can see
    how much was returned; other non-positive lines (stock adjustments, zero prices).
    Returns ``(transactions, report)``: transactions with columns customer, date, amount;
    report with one row per reason (lines, invoices, value).
    """
    require_frame(data, "invoice lines")
    require_columns(data, [customer, date, invoice, quantity, price], "invoice lines")
    q = pd.to_numeric(data[quantity], errors="coerce")
    p = pd.to_numeric(data[price], errors="coerce")
    value = q * p
    inv = data[invoice].astype(str)
    reasons = pd.Series("kept", index=data.index, dtype=object)
    reasons[value.isna()] = "quantity or price missing"
    reasons[(reasons == "kept") & data[customer].isna()] = "no customer id"
    reasons[(reasons == "kept") & inv.str.startswith(cancellation_prefix)] = "cancellation"
    reasons[(reasons == "kept") & (value <= 0)] = "non-positive line (adjustment, free item)"
    report = (pd.DataFrame({"reason": reasons, "invoice": inv, "value": value})
              .groupby("reason", sort=False)
              .agg(lines=("invoice", "size"), invoices=("invoice", "nunique"),
                   value=("value", "sum")).reset_index())
    keep = reasons == "kept"
    lines = pd.DataFrame({"customer": data.loc[keep, customer], "invoice": inv[keep],
                          "date": pd.to_datetime(data.loc[keep, date]), "amount": value[keep]})
    tx = (lines.groupby(["customer", "invoice"], sort=True)
          .agg(date=("date", "min"), amount=("amount", "sum")).reset_index()
          .drop(columns="invoice"))
    return tx, report


# --------------------------------------------------------------------------------------------
# BG/NBD
# --------------------------------------------------------------------------------------------

def _check_rft(frequency, recency, T):
    x = _array(frequency, "frequency", min_value=0, integer=True)
    tx = _array(recency, "recency", min_value=0)
    T_ = _array(T, "T", min_value=0, strict=True)
    if not (x.size == tx.size == T_.size):
        raise CXDataError(f"frequency, recency and T must have the same length, got "
                          f"{x.size}, {tx.size}, {T_.size}.")
    labels = frequency.index if isinstance(frequency, pd.Series) else np.arange(x.size)
    over = tx > T_ * (1 + 1e-9)
    if over.any():
        raise CXDataError(f"recency (time of the last purchase) exceeds T (time observed) for "
                          f"{over.sum()} customer(s) at rows {_preview(np.asarray(labels)[over])}. "
                          "Both must be measured from the first purchase in the same unit.")
    odd = (x == 0) & (tx > 0)
    if odd.any():
        raise CXDataError(f"{odd.sum()} customer(s) have no repeat purchase but recency > 0 at rows "
                          f"{_preview(np.asarray(labels)[odd])}. Recency must be 0 when frequency "
                          "is 0 (it is measured from the first to the last purchase).")
    return x, tx, T_


def _bgnbd_terms(theta, x, tx, T):
    r, alpha, a, b = theta
    l1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    l2 = special.betaln(a, b + x) - special.betaln(a, b)
    l3 = -(r + x) * np.log(alpha + T)
    rep = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        l4 = np.where(rep, np.log(a) - np.log(np.where(rep, b + x - 1, 1.0))
                      - (r + x) * np.log(alpha + tx), -np.inf)
    return l1, l2, l3, l4, rep


def _bgnbd_nll_grad(theta, x, tx, T):
    r, alpha, a, b = theta
    l1, l2, l3, l4, rep = _bgnbd_terms(theta, x, tx, T)
    lse = np.logaddexp(l3, l4)
    ll = np.sum(l1 + l2 + lse)
    w4 = np.exp(l4 - lse)
    w3 = 1 - w4
    dr = np.sum(special.digamma(r + x) - special.digamma(r) + np.log(alpha)
                - w3 * np.log(alpha + T) - w4 * np.log(alpha + tx))
    dalpha = np.sum(r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + tx))
    psi_abx = special.digamma(a + b + x)
    psi_ab = special.digamma(a + b)
    da = np.sum(-psi_abx + psi_ab + w4 / a)
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_b = np.where(rep, 1.0 / np.where(rep, b + x - 1, 1.0), 0.0)
    db = np.sum(special.digamma(b + x) - psi_abx - special.digamma(b) + psi_ab - w4 * inv_b)
    return -ll, -np.array([dr, dalpha, da, db])


def _euler_tail(r, alpha, a, b, x, T, t):
    """(1−z)^{a−1} ₂F₁(a+b−1−r, a−1; a+b+x−1; z), z = t/(α+T+t).

    Euler's transformation of (1−z)^{r+x} ₂F₁(r+x, b+x; a+b+x−1; z) in the BG/NBD expectations:
    the original series has parameters that grow with x and overflows for frequent buyers; this
    form has a bounded numerator and converges fast.
    """
    z = t / (alpha + T + t)
    return (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)


def _bgnbd_expected(theta, x, T, t):
    """(a+b+x−1)/(a−1) · [1 − (1−z)^{a−1} ₂F₁(...)]; the a → 1 limit is taken numerically."""
    r, alpha, a, b = theta
    if abs(a - 1) < 1e-6:   # removable singularity: average the two sides
        lo = _bgnbd_expected((r, alpha, 1 - 1e-5, b), x, T, t)
        hi = _bgnbd_expected((r, alpha, 1 + 1e-5, b), x, T, t)
        return (lo + hi) / 2
    return (a + b + x - 1) / (a - 1) * (1 - _euler_tail(r, alpha, a, b, x, T, t))


@dataclass
class BGNBDResult:
    """Fitted BG/NBD model (Fader, Hardie & Lee 2005). Time is in the unit of the inputs."""

    r: float
    alpha: float
    a: float
    b: float
    se: pd.Series
    loglik: float
    frequency: np.ndarray = field(repr=False)
    recency: np.ndarray = field(repr=False)
    T: np.ndarray = field(repr=False)
    index: pd.Index = field(repr=False)
    params_table: pd.DataFrame = field(repr=False)

    @property
    def params(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)

    def _data(self, frequency, recency, T):
        if frequency is None and recency is None and T is None:
            return self.frequency, self.recency, self.T
        return _check_rft(frequency, recency, T)

    def expected_purchases(self, t):
        """E[X(t)]: expected purchases in (0, t] of a customer just acquired at time 0 (eq. 9).

        E[X(t)] = (a+b−1)/(a−1) · [1 − (α/(α+t))^r ₂F₁(r, b; a+b−1; t/(α+t))]
        """
        t = np.asarray(t, dtype=float)
        return _bgnbd_expected(self.params, 0.0, 0.0, t)

    def prob_alive(self, frequency=None, recency=None, T=None):
        """P(alive | x, t_x, T) = 1 / [1 + δ_{x>0} a/(b+x−1) ((α+T)/(α+t_x))^{r+x}], in log space."""
        x, tx, T_ = self._data(frequency, recency, T)
        r, alpha, a, b = self.params
        with np.errstate(divide="ignore"):
            log_odds_dead = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                                     + (r + x) * (np.log(alpha + T_) - np.log(alpha + tx)), -np.inf)
        return special.expit(-log_odds_dead)

    def conditional_expected_purchases(self, t, frequency=None, recency=None, T=None):
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` periods (FHL 2005, eq. 10).

        Defaults to the customers the model was fitted on. ``t`` may be a scalar or broadcast
        against the customers.
        """
        x, tx, T_ = self._data(frequency, recency, T)
        t = np.asarray(t, dtype=float)
        if np.any(t < 0):
            raise CXDataError("t must be >= 0.")
        return _bgnbd_expected(self.params, x, T_, t) * self.prob_alive(x, tx, T_)

    def frequency_distribution(self, max_x: int = 7) -> pd.DataFrame:
        """Actual vs expected number of customers with 0, 1, …, ≥max_x repeat purchases in the
        calibration period (P(X(T)=x), FHL 2005 eq. 8, summed over each customer's own T)."""
        r, alpha, a, b = self.params
        xs = np.arange(max_x)[:, None]
        T_ = self.T[None, :]
        lbase = special.betaln(a, b) 
        lpois = (special.gammaln(r + xs) - special.gammaln(r) - special.gammaln(xs + 1)
                 + r * np.log(alpha / (alpha + T_)) + xs * np.log(T_ / (alpha + T_)))
        term1 = np.exp(special.betaln(a, b + xs) - lbase + lpois)
        cum = np.cumsum(np.exp(lpois), axis=0) - np.exp(lpois)          # Σ_{j<x}
        with np.errstate(invalid="ignore"):
            term2 = np.where(xs > 0, np.exp(special.betaln(a + 1, b + xs - 1) - lbase)
                             * (1 - cum), 0.0)
        probs = (term1 + term2).sum(axis=1)
        expected = np.r_[probs, self.T.size - probs.sum()]
        counts = np.bincount(np.minimum(self.frequency.astype(int), max_x), minlength=max_x + 1)
        labels = [str(i) for i in range(max_x)] + [f"{max_x}+"]
        return pd.DataFrame({"repeat_purchases": labels, "actual": counts, "expected": expected})

    def customers(self, t: float) -> pd.DataFrame:
        """Per-customer frequency, recency, T, P(alive) and expected purchases in the next t."""
        return pd.DataFrame({"frequency": self.frequency, "recency": self.recency, "T": self.T,
                             "prob_alive": self.prob_alive(),
                             "expected_purchases": self.conditional_expected_purchases(t)},
                            index=self.index)

    def summary(self) -> pd.DataFrame:
        """Parameters with SEs and intervals (log-likelihood ``.loglik``, customers ``.T.size``)."""
        return self.params_table.copy()

    def plot(self, max_x: int = 7, *, ax=None):
        """Actual vs expected repeat-purchase frequency in the calibration period."""
        from .plots import bgnbd_frequency_plot
        return bgnbd_frequency_plot(self, max_x=max_x, ax=ax)


def fit_bgnbd(frequency, recency, T) -> BGNBDResult:
    """Fit the BG/NBD model by maximum likelihood (Fader, Hardie & Lee 2005, eq. 6).

    ``frequency`` = repeat purchases x, ``recency`` = time of the last repeat purchase t_x and
    ``T`` = time observed, both measured from the customer's first purchase (see
    :func:`summarize_transactions`). Per customer,
    L = A1·A2·(A3 + δ_{x>0}·A4), evaluated as log A1 + log A2 + logaddexp(log A3, log A4).
    """
    x, tx, T_ = _check_rft(frequency, recency, T)
    if np.sum(x > 0) < 2:
        raise ConvergenceError("BG/NBD needs customers with repeat purchases to estimate the "
                               f"dropout process; only {int(np.sum(x > 0))} have any.")
    scale = 10.0 / np.max(T_)          # start values in the data's time unit
    starts = [(1.0, 1.0 / scale, 1.0, 1.0), (0.5, 0.1 / scale, 0.5, 3.0), (2.0, 3.0 / scale, 2.0, 2.0)]
    fit = _fit_log_params(lambda th: _bgnbd_nll_grad(th, x, tx, T_), starts,
                          ["r", "alpha", "a", "b"], "BG/NBD fit")
    table = _param_table(["r", "alpha", "a", "b"], fit)
    index = frequency.index if isinstance(frequency, pd.Series) else pd.RangeIndex(x.size)
    r, alpha, a, b = (float(v) for v in fit.params)
    return BGNBDResult(r=r, alpha=alpha, a=a, b=b, se=table["se"], loglik=fit.loglik,
                       frequency=x, recency=tx, T=T_, index=index, params_table=table)


# --------------------------------------------------------------------------------------------
# Gamma-Gamma spend model
# --------------------------------------------------------------------------------------------

def _gg_nll_grad(theta, x, m):
    p, q, g = theta
    px = p * x
    lg = np.log(g + x * m)
    ll = np.sum(special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q)
                + q * np.log(g) + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * lg)
    psi = special.digamma(px + q)
    dp = np.sum(x * (psi - special.digamma(px) + np.log(m) + np.log(x) - lg))
    dq = np.sum(psi - special.digamma(q) + np.log(g) - lg)
    dg = np.sum(q / g - (px + q) / (g + x * m))
    return -ll, -np.array([dp, dq, dg])


@dataclass
class GammaGammaResult:
    """Fitted Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, JMR)."""

    p: float
    q: float
    gamma: float
    se: pd.Series
    loglik: float
    n: int
    n_excluded: int
    corr_frequency_spend: float
    params_table: pd.DataFrame = field(repr=False)

    @property
    def population_mean_spend(self) -> float:
        """E(Z) = pγ/(q−1): mean spend per transaction across customers (needs q > 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else float("inf")

    def conditional_expected_spend(self, frequency, monetary_value):
        """E(Z | x, m̄_x) = p(γ + x m̄_x)/(px + q − 1): a weighted average of the population mean
        and the customer's own mean. Customers with x = 0 get the population mean."""
        x = _array(frequency, "frequency", min_value=0, integer=True)
        m = _array(monetary_value, "monetary_value", min_value=0)
        if x.size != m.size:
            raise CXDataError("frequency and monetary_value must have the same length.")
        if self.q <= 1:
            raise CXDataError(f"q = {self.q:.3g} <= 1: the mean spend is not finite under this "
                              "fit, so expected spend cannot be computed.")
        return self.p * (self.gamma + x * m) / (self.p * x + self.q - 1)

    def summary(self) -> pd.DataFrame:
        """Parameters with SEs and intervals (``.loglik``, ``.n``, ``.n_excluded`` and
        ``.corr_frequency_spend`` are attributes of the fit)."""
        return self.params_table.copy()


def fit_gamma_gamma(frequency, monetary_value) -> GammaGammaResult:
    """Fit the Gamma-Gamma spend model to repeat buyers.

    Each transaction value z ~ Gamma(p, ν), ν ~ Gamma(q, γ) across customers; the likelihood of
    a customer's mean spend m̄_x over x transactions is
    Γ(px+q)/(Γ(px)Γ(q)) · γ^q m̄_x^{px−1} x^{px} / (γ + x m̄_x)^{px+q}.
    Customers with ``frequency == 0`` have no repeat spend and are excluded (counted in
    ``n_excluded``). The model assumes spend is independent of frequency: the Pearson
    correlation between the two is reported as ``corr_frequency_spend``.
    """
    x = _array(frequency, "frequency", min_value=0, integer=True)
    m = _array(monetary_value, "monetary_value")
    if x.size != m.size:
        raise CXDataError("frequency and monetary_value must have the same length.")
    rep = x > 0
    labels = frequency.index if isinstance(frequency, pd.Series) else np.arange(x.size)
    bad = rep & (m <= 0)
    if bad.any():
        raise CXDataError(f"{bad.sum()} repeat buyer(s) have monetary_value <= 0 at rows "
                          f"{_preview(np.asarray(labels)[bad])}. Spend must be positive; remove "
                          "returns/credits before summarising.")
    x, m = x[rep], m[rep]
    if x.size < 10:
        raise CXDataError(f"fit_gamma_gamma needs at least 10 repeat buyers, got {x.size}.")
    mbar = m.mean()
    starts = [(1.0, 1.0, mbar), (5.0, 3.0, mbar), (2.0, 5.0, 4 * mbar)]
    fit = _fit_log_params(lambda th: _gg_nll_grad(th, x, m), starts, ["p", "q", "gamma"],
                          "Gamma-Gamma fit", gtol=1e-8)
    table = _param_table(["p", "q", "gamma"], fit)
    corr = float(np.corrcoef(x, m)[0, 1]) if np.std(x) > 0 and np.std(m) > 0 else float("nan")
    p, q, g = (float(v) for v in fit.params)
    return GammaGammaResult(p=p, q=q, gamma=g, se=table["se"], loglik=fit.loglik, n=int(x.size),
                            n_excluded=int((~rep).sum()), corr_frequency_spend=corr,
                            params_table=table)


def customer_lifetime_value(transactions: BGNBDResult, spend: GammaGammaResult, frequency=None,
                            recency=None, T=None, monetary_value=None, *, months: int = 12,
                            discount: float = 0.01, margin: float = 1.0,
                            units_per_month: float = 365.25 / 12 / 7):
    """Discounted CLV over ``months`` from a BG/NBD and a Gamma-Gamma fit (the standard approach).

    CLV_i = margin · E(Z_i) · Σ_{m=1..M} (E[Y_i(m·u)] − E[Y_i((m−1)·u)]) / (1+d)^m

    with u = ``units_per_month`` (time units of the BG/NBD per month: 4.348 for weeks, 30.44
    for days), d = monthly ``discount``: purchases expected in month m are valued at the end of
    that month. Frequency/recency/T default to the customers the BG/NBD was fitted on;
    ``monetary_value`` is required (mean repeat spend, 0 for no repeat purchase).
    """
    if monetary_value is None:
        raise CXDataError("monetary_value is required (mean repeat spend per customer).")
    x, tx, T_ = transactions._data(frequency, recency, T)
    months = int(months)
    if months < 1:
        raise CXDataError("months must be >= 1.")
    d = _check_discount(discount)
    spend_i = spend.conditional_expected_spend(x, monetary_value)
    steps = np.arange(0, months + 1, dtype=float)[:, None] * units_per_month
    cum = transactions.conditional_expected_purchases(steps, x, tx, T_)        # (M+1, n)
    per_month = np.diff(cum, axis=0)
    disc = (1 + d) ** -np.arange(1, months + 1, dtype=float)
    value = margin * spend_i * (disc[:, None] * per_month).sum(axis=0)
    if isinstance(monetary_value, pd.Series):
        return pd.Series(value, index=monetary_value.index, name="clv")
    return value


# --------------------------------------------------------------------------------------------
# CLV by group
# --------------------------------------------------------------------------------------------

def _group_labels(data: pd.DataFrame, group: str):
    require_columns(data, [group])
    col = data[group]
    missing = col.isna()
    if isinstance(col.dtype, pd.CategoricalDtype):
        levels = list(col.cat.categories)
        counts = col.value_counts()
        empty = [lv for lv in levels if counts.get(lv, 0) == 0]
        if empty:
            raise CXDataError(f"Group column {group!r} has categories with no customers: "
                              f"{_preview(empty)}. Remove unused categories "
                              "(.cat.remove_unused_categories()) or check the filter.")
    else:
        levels = sorted(col.dropna().unique(), key=str)
    return levels, missing


def _bootstrap_sums(columns: np.ndarray, B: int, rng, chunk_cells: int = 1_000_000):
    """Column sums of B bootstrap resamples of the rows of ``columns`` (n × k), chunked so memory
    stays bounded (at most ``chunk_cells`` resampled rows at a time)."""
    n, k = columns.shape
    out = np.empty((B, k))
    step = max(1, chunk_cells // max(n, 1))
    for start in range(0, B, step):
        stop = min(B, start + step)
        idx = rng.integers(0, n, size=(stop - start, n))
        for j in range(k):
            out[start:stop, j] = columns[:, j][idx].sum(axis=1)
    return out


@dataclass(repr=False)
class ClvByGroupResult:
    """Mean CLV per group with bootstrap intervals, and gaps to a reference group."""

    table: pd.DataFrame
    gaps: pd.DataFrame
    draws: pd.DataFrame = field(repr=False)   # bootstrap draws, one column per group
    method: str = ""
    confidence: float = CONFIDENCE
    bootstrap: int = 0

    def __repr__(self) -> str:
        return (f"ClvByGroupResult({len(self.table)} groups, {self.method}, "
                f"{100 * self.confidence:g}% bootstrap intervals from {self.bootstrap} draws)")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        return self.table

    def plot(self, *, ax=None):
        from .plots import clv_by_group_plot
        return clv_by_group_plot(self, ax=ax)


def clv_by_group(data: pd.DataFrame, group: str, value: str | None = None, *,
                 revenue: str | None = None, churned: str | None = None,
                 tenure: str | None = None, margin: float = 1.0, discount: float = 0.01,
                 horizon: int | None = None, reference=None, bootstrap: int = 1000,
                 confidence: float = CONFIDENCE, seed: int = 0, min_base: int = MIN_BASE,
                 progress: bool = True) -> ClvByGroupResult:
    """Mean customer lifetime value per group (e.g. NPS promoters / passives / detractors).

    Two ways to give value:

    - ``value``: a column of per-customer CLV (e.g. from :func:`customer_lifetime_value` or a
      churn model); the group CLV is its mean.
    - ``revenue`` + ``churned`` + ``tenure``: per-customer revenue per period, churn flag (0/1) and
      exposure in periods (e.g. monthly_revenue, churned, tenure_months). Per group the churn rate
      per period is λ = Σchurned/Σtenure (constant-hazard MLE), retention r = 1 − λ, and
      CLV = margin · mean(revenue) · r/(1+d−r) (:func:`clv_from_retention`, same convention).

    Intervals are percentile bootstrap intervals, resampling customers within each group
    (``bootstrap`` draws, fixed ``seed``). ``gaps`` gives each group minus ``reference`` (default:
    the first group) with intervals from the same draws. Groups with fewer than ``min_base``
    customers are flagged ``small_base`` (and warned about); groups with < 2 customers raise.
    Rows with a missing group are excluded and reported.
    """
    require_frame(data)
    if (value is None) == (revenue is None):
        raise CXDataError("Give either value= (per-customer CLV column) or revenue= with "
                          "churned= and tenure= (to compute CLV from churn per group).")
    if revenue is not None and (churned is None or tenure is None):
        raise CXDataError("revenue= needs churned= (0/1) and tenure= (periods observed) too.")
    levels, missing = _group_labels(data, group)
    cols = [value] if value else [revenue, churned, tenure]
    require_columns(data, cols)
    df = data.loc[~missing, [group] + cols]
    num = {c: pd.to_numeric(df[c], errors="coerce") for c in cols}
    bad = pd.concat([num[c].isna() for c in cols], axis=1).any(axis=1)
    if missing.any() or bad.any():
        warnings.warn(f"clv_by_group excluded {int(missing.sum())} row(s) with no {group!r} and "
                      f"{int(bad.sum())} row(s) with missing/non-numeric {', '.join(cols)}.",
                      CXWarning, stacklevel=2)
    df = df.loc[~bad]
    if churned is not None:
        ch = num[churned][~bad]
        if not ch.isin([0, 1]).all():
            raise CXDataError(f"Column {churned!r} must be 0/1 (1 = churned).")
        if (num[tenure][~bad] < 0).any():
            raise CXDataError(f"Column {tenure!r} has negative exposure.")
    if not 0 < confidence < 1:
        raise CXDataError("confidence must be between 0 and 1, e.g. 0.95.")
    rng = np.random.default_rng(seed)
    tqdm = progress_bar()
    rows, draws = [], {}
    for lv in tqdm(levels, desc="bootstrap by group", disable=not progress):
        sub = df.loc[df[group] == lv]
        n = len(sub)
        if n < 2:
            raise CXDataError(f"Group {lv!r} in {group!r} has {n} usable customer(s); at least 2 "
                              "are needed for an interval. Merge small groups or drop them.")
        if value is not None:
            v = num[value][sub.index].to_numpy()
            est = v.mean()
            boot = _bootstrap_sums(v[:, None], bootstrap, rng)[:, 0] / n
            rows.append({"group": lv, "n": n, "clv": est})
        else:
            rev = num[revenue][sub.index].to_numpy()
            chv = num[churned][sub.index].to_numpy()
            ten = num[tenure][sub.index].to_numpy()
            if ten.sum() <= 0:
                raise CXDataError(f"Group {lv!r} has zero total {tenure!r}; no churn rate.")
            sums = _bootstrap_sums(np.column_stack([rev, chv, ten]), bootstrap, rng)
            rate_b = np.clip(sums[:, 1] / np.maximum(sums[:, 2], 1e-12), 0, 1)
            boot = clv_from_retention(margin * sums[:, 0] / n, 1 - rate_b, discount, horizon)
            rate = chv.sum() / ten.sum()
            if rate > 1:
                raise CXDataError(f"Group {lv!r}: more churners than periods of exposure; check "
                                  f"that {tenure!r} is in the same period as the revenue.")
            est = clv_from_retention(margin * rev.mean(), 1 - rate, discount, horizon)
            rows.append({"group": lv, "n": n, "mean_revenue": rev.mean(), "churn_rate": rate,
                         "retention": 1 - rate, "clv": est})
        draws[lv] = np.asarray(boot, dtype=float)
    alpha = (1 - confidence) / 2
    table = pd.DataFrame(rows)
    table["ci_low"] = [np.quantile(draws[g], alpha) for g in table["group"]]
    table["ci_high"] = [np.quantile(draws[g], 1 - alpha) for g in table["group"]]
    table["small_base"] = table["n"] < min_base
    if table["small_base"].any():
        warnings.warn(f"Groups with fewer than {min_base} customers: "
                      f"{_preview(table.loc[table['small_base'], 'group'].tolist())}; "
                      "their CLV is too uncertain to publish.", CXWarning, stacklevel=2)
    ref = levels[0] if reference is None else reference
    if ref not in draws:
        raise CXDataError(f"reference {ref!r} is not a group of {group!r}: {_preview(levels)}.")
    gap_rows = []
    for lv in levels:
        if lv == ref:
            continue
        diff = draws[lv] - draws[ref]
        est = float(table.loc[table["group"] == lv, "clv"].iloc[0]
                    - table.loc[table["group"] == ref, "clv"].iloc[0])
        gap_rows.append({"group": lv, "reference": ref, "gap": est,
                         "ci_low": np.quantile(diff, alpha), "ci_high": np.quantile(diff, 1 - alpha)})
    gaps = pd.DataFrame(gap_rows, columns=["group", "reference", "gap", "ci_low", "ci_high"])
    method = "mean of value" if value else "margin·revenue·r/(1+d−r) from churn per period"
    return ClvByGroupResult(table=table, gaps=gaps, draws=pd.DataFrame(draws), method=method,
                            confidence=confidence, bootstrap=bootstrap)


# --------------------------------------------------------------------------------------------
# revenue at risk
# --------------------------------------------------------------------------------------------

@dataclass(repr=False)
class RevenueAtRiskResult:
    """Revenue at risk per group and in total, with intervals."""

    table: pd.DataFrame
    total: pd.Series
    baseline: object = None          # the baseline group label or rate (None: all churn)
    interval: str = ""               # how the intervals were made
    confidence: float = CONFIDENCE

    def __repr__(self) -> str:
        return (f"RevenueAtRiskResult({len(self.table)} groups, total "
                f"{self.total['revenue_at_risk']:,.0f} ({self.total['ci_low']:,.0f} to "
                f"{self.total['ci_high']:,.0f}))")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        total = self.total.to_frame().T.assign(group="Total")
        return pd.concat([self.table, total], ignore_index=True)

    def plot(self, *, ax=None):
        from .plots import revenue_at_risk_plot
        return revenue_at_risk_plot(self, ax=ax)


def _per_group(spec, table, group, what):
    """A scalar, a column of ``table``, or a mapping group → number, as an aligned array."""
    if isinstance(spec, str):
        require_columns(table, [spec], "churn table")
        vals = pd.to_numeric(table[spec], errors="coerce")
    elif isinstance(spec, (Mapping, pd.Series)):
        mp = dict(spec)
        absent = [g for g in table[group] if g not in mp]
        if absent:
            raise CXDataError(f"{what} has no value for group(s) {_preview(absent)}.")
        vals = table[group].map(mp).astype(float)
    else:
        vals = pd.Series(float(spec), index=table.index)
    if vals.isna().any() or (vals < 0).any():
        raise CXDataError(f"{what} must be numbers >= 0 for every group.")
    return vals.to_numpy(dtype=float)


def revenue_at_risk(churn, group: str | None = None, *, value, customers=None, baseline=None,
                    rate: str = "churn_rate", n: str = "n", churned: str = "churned",
                    ci: tuple[str, str] = ("ci_low", "ci_high"), scale: str = "proportion",
                    confidence: float = CONFIDENCE) -> RevenueAtRiskResult:
    """Revenue at risk = customers × (linked) churn rate × annual value, per group and in total.

    ``churn`` is a tidy table with one row per group (NPS group, problem type, …): the group
    label, the customer count ``n``, and the measured churn rate with its interval (``rate``,
    ``ci``), or ``churned`` counts from which the rate and a Wilson interval are computed.
    Rates are proportions (``scale="proportion"``) or percentages (``scale="percent"``).
    The result of :func:`cxlab.retention.churn_by_group` can be passed as it is (its rates are in
    percent; ``group`` is then taken from it). The churn rate must cover the same period as
    ``value`` (e.g. 12-month churn and annual revenue).

    - ``value``: value per customer and period (number, column name, or mapping group → value).
    - ``customers``: customers to apply it to (default: ``n``; a number = total base size split in
      proportion to ``n``; or a column / mapping per group).
    - ``baseline``: None → all churn is at risk; a group label (e.g. "Promoter") or a rate →
      only the churn *linked* to the experience, rate − baseline rate, is at risk. A numeric
      baseline is in the table's unit: percent for ``scale="percent"`` and for a
      ``churn_by_group`` result (``baseline=8`` = 8 %), else a proportion (0.08); a percent
      baseline below 1 is warned about, a proportion above 1 is an error.

    Intervals: the table's own interval per rate; differences and the total are combined with
    the MOVER method (Newcombe 1998 for a difference of two proportions; Zou & Donner 2008),
    treating group rates as independent and customers/value as fixed.
    """
    if not isinstance(churn, pd.DataFrame) and hasattr(churn, "table") and hasattr(churn, "group"):
        group = churn.group if group is None else group
        churn, scale = churn.table, "percent"     # cxlab.retention.ChurnByGroup
    require_frame(churn, "churn table")
    if group is None:
        raise CXDataError("Name the group column: revenue_at_risk(table, group='nps_group', ...).")
    if scale not in ("proportion", "percent"):
        raise CXDataError(f"scale must be 'proportion' or 'percent', got {scale!r}.")
    factor = 100.0 if scale == "percent" else 1.0
    require_columns(churn, [group, n], "churn table")
    tab = churn.reset_index(drop=True).copy()
    if tab[group].duplicated().any():
        raise CXDataError(f"churn table has duplicate groups in {group!r}: "
                          f"{_preview(tab.loc[tab[group].duplicated(), group].tolist())}.")
    nn = pd.to_numeric(tab[n], errors="coerce").to_numpy(dtype=float)
    if np.any(~np.isfinite(nn)) or np.any(nn <= 0):
        empty = tab.loc[~(nn > 0), group].tolist()
        raise CXDataError(f"Groups with no customers (n <= 0 or missing): {_preview(empty)}. "
                          "Drop them: a churn rate needs customers.")
    if rate in tab.columns:
        p = pd.to_numeric(tab[rate], errors="coerce").to_numpy(dtype=float) / factor
    elif churned in tab.columns:
        p = pd.to_numeric(tab[churned], errors="coerce").to_numpy(dtype=float) / nn
    else:
        raise CXDataError(f"churn table needs a {rate!r} column or {churned!r} counts.")
    if np.any(~np.isfinite(p)) or np.any((p < 0) | (p > 1)):
        hint = " They look like percentages: pass scale='percent'." if np.nanmax(p) > 1 else ""
        raise CXDataError(f"churn rates must be proportions in [0, 1]; got {_preview(p)}.{hint}")
    if all(c in tab.columns for c in ci):
        lo = pd.to_numeric(tab[ci[0]], errors="coerce").to_numpy(dtype=float) / factor
        hi = pd.to_numeric(tab[ci[1]], errors="coerce").to_numpy(dtype=float) / factor
        if np.any(~np.isfinite(lo) | ~np.isfinite(hi)) or np.any((lo > p + 1e-12) | (hi < p - 1e-12)):
            raise CXDataError(f"Columns {ci} must bracket the churn rate in every row.")
        ci_source = "table"
    elif churned in tab.columns:
        lo, hi = intervals.wilson(pd.to_numeric(tab[churned]).to_numpy(dtype=float), nn, confidence)
        ci_source = "Wilson"
    else:
        raise CXDataError(f"churn table needs interval columns {ci} or {churned!r} counts.")
    val = _per_group(value, tab, group, "value")
    if customers is None:
        cust = nn
    elif np.isscalar(customers) and not isinstance(customers, str):
        cust = float(customers) * nn / nn.sum()
    else:
        cust = _per_group(customers, tab, group, "customers")
    labels = tab[group].tolist()
    if baseline is None:
        b_p = b_lo = b_hi = 0.0
        b_idx = None
    elif isinstance(baseline, (int, float, np.floating)) and not isinstance(baseline, bool) \
            and baseline not in labels:
        b_p = b_lo = b_hi = float(baseline) / factor
        b_idx = None
        if not 0 <= b_p <= 1:
            unit = "percent (0-100)" if factor == 100 else "a proportion (0-1)"
            hint = (" It looks like a percentage: pass scale='percent' (or baseline/100)."
                    if factor == 1 and baseline <= 100 else "")
            raise CXDataError(f"baseline {baseline!r} is a churn rate in the table's unit, "
                              f"{unit}; it is out of range.{hint}")
        if factor == 100 and 0 < baseline < 1:
            warnings.warn(f"baseline {baseline!r} is read in the table's unit, percent: "
                          f"{baseline:g} % = {b_p:.4f}. If you meant {baseline:.0%}, pass "
                          f"baseline={100 * baseline:g}.", CXWarning, stacklevel=2)
    else:
        if baseline not in labels:
            raise CXDataError(f"baseline {baseline!r} is not a group in {group!r}: "
                              f"{_preview(labels)}.")
        b_idx = labels.index(baseline)
        b_p, b_lo, b_hi = p[b_idx], lo[b_idx], hi[b_idx]
    w = cust * val
    rows = []
    for i, g in enumerate(labels):
        if b_idx is not None and i == b_idx:
            est_, low_, high_ = 0.0, 0.0, 0.0
            link = (0.0, 0.0, 0.0)
        else:
            link = intervals.mover([1, -1], [p[i], b_p], [lo[i], b_lo], [hi[i], b_hi])
            est_, low_, high_ = (w[i] * v for v in link)
        rows.append({"group": g, "customers": cust[i], "churn_rate": p[i], "churn_ci_low": lo[i],
                     "churn_ci_high": hi[i], "linked_churn": link[0], "linked_ci_low": link[1],
                     "linked_ci_high": link[2], "value": val[i], "revenue_at_risk": est_,
                     "ci_low": low_, "ci_high": high_})
    table = pd.DataFrame(rows)
    others = [i for i in range(len(labels)) if i != b_idx]
    weights = [w[i] for i in others]
    ests, lows, highs = [p[i] for i in others], [lo[i] for i in others], [hi[i] for i in others]
    if b_idx is not None or baseline is not None:
        weights.append(-sum(w[i] for i in others))
        ests.append(b_p)
        lows.append(b_lo)
        highs.append(b_hi)
    tot = intervals.mover(weights, ests, lows, highs)
    total = pd.Series({"customers": cust.sum(), "revenue_at_risk": tot[0], "ci_low": tot[1],
                       "ci_high": tot[2]})
    return RevenueAtRiskResult(table=table, total=total, baseline=baseline,
                               interval=f"{ci_source} per rate; MOVER for differences and totals",
                               confidence=confidence)


# --------------------------------------------------------------------------------------------
# Goodman / TARP market damage
# --------------------------------------------------------------------------------------------

_TARP = "TARP (1986), Consumer Complaint Handling in America: An Update Study, as quoted by Goodman"
TARP_DEFAULTS = pd.DataFrame([
    # parameter, value, source, status
    ("share_complain", 0.04,
     "TARP: 'for every customer who complains, 26 others do not' (~1 in 27 ≈ 4%), as quoted by "
     "Goodman", "classic figure; industry-specific, replace with your own"),
    ("repurchase_no_complaint", 0.09, _TARP + "; problems costing > $100",
     "classic figure (large-loss problems)"),
    ("repurchase_unresolved", 0.19, _TARP + "; problems costing > $100",
     "classic figure (large-loss problems)"),
    ("repurchase_resolved", 0.54, _TARP + "; problems costing > $100",
     "classic figure (large-loss problems); 82% if resolved quickly"),
    ("repurchase_no_problem", 1.00, "convention: loss measured against full repurchase",
     "illustrative; set to the loyalty of customers without a problem"),
    ("share_resolved", 0.50, "none — placeholder", "illustrative; measure it (e.g. FCR)"),
    ("wom_told_unresolved", 9.0, "TARP/White House Office of Consumer Affairs: a dissatisfied "
     "customer tells 9–10 others", "widely quoted, uncertain; illustrative"),
    ("wom_told_no_complaint", 9.0, "as above", "illustrative"),
    ("wom_told_resolved", 0.0, "assumption: a resolved complainant spreads no net damage",
     "illustrative"),
    ("wom_conversion", 0.02, "assumption: 1 in 50 who hear negative word of mouth is lost "
     "(or not won)", "illustrative; no published consensus value"),
], columns=["parameter", "value", "source", "status"]).set_index("parameter")


@dataclass(repr=False)
class MarketDamageResult:
    """Goodman / TARP market damage: customers and value lost by complaint path."""

    table: pd.DataFrame
    inputs: pd.DataFrame

    @property
    def total_value_lost(self) -> float:
        return float(self.table.loc[self.table["path"] == "Total", "value_lost"].iloc[0])

    def __repr__(self) -> str:
        return (f"MarketDamageResult({len(self.table)} rows, {len(self.inputs)} inputs)")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        return self.table

    def plot(self, *, ax=None):
        from .plots import market_damage_plot
        return market_damage_plot(self, ax=ax)


def market_damage(customers_with_problem: float, customer_value: float, **params) -> MarketDamageResult:
    """Goodman / TARP market-damage model (Goodman 2009, *Strategic Customer Service*, AMACOM).

    Customers with a problem split into did-not-complain (1 − c), complained-and-resolved (c·s)
    and complained-unresolved (c·(1 − s)). Each path loses (L0 − L_path) of its customers, where
    L_path is the share who repurchase / stay and L0 that of customers without a problem.
    Word of mouth adds (people told per customer in the path) × conversion × customers in the
    path. Value lost = customers lost × ``customer_value`` (e.g. annual value or CLV).

    Parameters (keyword, any subset; the rest come from :data:`TARP_DEFAULTS`, whose ``source``
    and ``status`` columns say which are classic published figures and which are illustrative):
    share_complain (c), share_resolved (s), repurchase_no_complaint, repurchase_resolved,
    repurchase_unresolved, repurchase_no_problem (L0), wom_told_no_complaint,
    wom_told_resolved, wom_told_unresolved, wom_conversion. Use :func:`market_damage_inputs`
    to measure the ones your data has (contact resolution, churn by path).
    """
    unknown = set(params) - set(TARP_DEFAULTS.index)
    if unknown:
        raise CXDataError(f"Unknown market-damage parameter(s) {_preview(sorted(unknown))}; "
                          f"choose from {_preview(list(TARP_DEFAULTS.index), 12)}.")
    for name, v in (("customers_with_problem", customers_with_problem),
                    ("customer_value", customer_value)):
        if not np.isfinite(v) or v < 0:
            raise CXDataError(f"{name} must be a number >= 0, got {v!r}.")
    inputs = TARP_DEFAULTS.copy()
    for k, v in params.items():
        src = "user input"
        if isinstance(v, tuple):      # (value, source) from market_damage_inputs
            v, src = v
        inputs.loc[k, ["value", "source", "status"]] = [float(v), src, "given"]
    rates = [k for k in TARP_DEFAULTS.index if k.startswith("repurchase_")]
    given = [k for k in rates if k in params]
    if given and len(given) < len(rates):
        default = [k for k in rates if k not in params]
        warnings.warn(f"market_damage: {_preview(given)} given but {_preview(default)} left at the "
                      "TARP defaults. The defaults are repurchase intentions after large-loss "
                      "problems, not measured retention: mixing the two scales distorts the "
                      "damage. Give every repurchase rate on one scale (e.g. set "
                      "repurchase_no_complaint to repurchase_unresolved as an assumption).",
                      CXWarning, stacklevel=2)
    val = inputs["value"].astype(float)
    shares = ["share_complain", "share_resolved", "repurchase_no_complaint", "repurchase_resolved",
              "repurchase_unresolved", "repurchase_no_problem", "wom_conversion"]
    bad = [k for k in shares if not 0 <= val[k] <= 1]
    bad += [k for k in val.index if k.startswith("wom_told") and val[k] < 0]
    if bad:
        raise CXDataError(f"Parameter(s) {_preview(bad)} out of range: shares must be in [0, 1], "
                          "people told >= 0.")
    N, c, s, L0 = customers_with_problem, val["share_complain"], val["share_resolved"], \
        val["repurchase_no_problem"]
    paths = [("Did not complain", N * (1 - c), val["repurchase_no_complaint"],
              val["wom_told_no_complaint"]),
             ("Complained, resolved", N * c * s, val["repurchase_resolved"],
              val["wom_told_resolved"]),
             ("Complained, unresolved", N * c * (1 - s), val["repurchase_unresolved"],
              val["wom_told_unresolved"])]
    rows = []
    for name, n_path, rep, told in paths:
        loss = max(L0 - rep, 0.0)
        rows.append({"path": name, "customers": n_path, "repurchase": rep, "loss_rate": loss,
                     "customers_lost": n_path * loss})
    wom_lost = sum(n_path * told * val["wom_conversion"] for _, n_path, _, told in paths)
    rows.append({"path": "Word of mouth", "customers": np.nan, "repurchase": np.nan,
                 "loss_rate": np.nan, "customers_lost": wom_lost})
    table = pd.DataFrame(rows)
    table["value_lost"] = table["customers_lost"] * customer_value
    total = {"path": "Total", "customers": N, "repurchase": np.nan, "loss_rate": np.nan,
             "customers_lost": table["customers_lost"].sum(),
             "value_lost": table["value_lost"].sum()}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    table.attrs["customer_value"] = customer_value
    return MarketDamageResult(table=table, inputs=inputs)


def _contact_followup(contacts, customers, customer, resolved, contact_date, end_date,
                      horizon_months, observation_end):
    """Checked inputs shared by the contact-path analyses: the 0/1 resolution flag, contact dates,
    each customer's end date (indexed by id), the observation end, the horizon and the cut-off
    (observation end − horizon: the last origin with a full follow-up)."""
    require_frame(contacts, "contacts")
    require_frame(customers, "customers")
    require_columns(contacts, [customer, resolved, contact_date], "contacts")
    require_columns(customers, [customer, end_date], "customers")
    res = pd.to_numeric(contacts[resolved], errors="coerce")
    bad = res.isna() | ~res.isin([0, 1])
    if bad.any():
        raise CXDataError(f"contacts[{resolved!r}] must be 0/1 with no missing values; rows "
                          f"{_preview(contacts.index[bad])} are not.")
    cdate = _to_dates(contacts[contact_date])
    if cdate.isna().any():
        raise CXDataError(f"contacts[{contact_date!r}] has missing or unreadable dates at rows "
                          f"{_preview(contacts.index[cdate.isna()])}.")
    dup = customers[customer].duplicated()
    if dup.any():
        raise CXDataError(f"customers[{customer!r}] has duplicate ids, e.g. "
                          f"{_preview(customers.loc[dup, customer].tolist())}.")
    if not horizon_months > 0:
        raise CXDataError(f"horizon_months must be > 0, got {horizon_months!r}.")
    ends = _to_dates(customers[end_date])
    ends.index = pd.Index(customers[customer].to_numpy(), name=customer)
    unknown = pd.Index(contacts[customer].unique()).difference(ends.index)
    if len(unknown):
        raise CXDataError(f"{len(unknown)} contacting customer(s) are not in customers, e.g. "
                          f"{_preview(unknown.tolist())}.")
    obs_end = (max(cdate.max(), ends.max()) if observation_end is None
               else pd.Timestamp(observation_end))
    horizon = pd.Timedelta(days=365.25 / 12 * horizon_months)
    return res, cdate, ends, obs_end, horizon, obs_end - horizon


def market_damage_inputs(contacts: pd.DataFrame, customers: pd.DataFrame, *,
                         customer: str = "customer_id", resolved: str = "fcr",
                         contact_date: str = "contact_date", end_date: str = "end_date",
                         horizon_months: float = 12.0, observation_end=None,
                         start_date: str = "start_date") -> tuple[dict, int]:
    """Measure market-damage parameters from contact and customer data.

    Design (avoids the survivorship bias of "ever had an unresolved contact"): each customer's
    **first** contact that leaves ``horizon_months`` of follow-up before ``observation_end``
    (default: the latest date in the data) defines the path — resolved if ``resolved`` = 1 —
    and the outcome is churn (``end_date``) within ``horizon_months`` after it. The no-problem
    baseline is customers active at the cut-off A = observation_end − horizon with no contact
    logged before A, and their churn in (A, observation_end] (customers who had not started by A,
    per ``start_date`` when that column is present, are not at risk and left out).

    Returns ``(params, complainers)``: keyword arguments for :func:`market_damage` —
    ``share_resolved``, ``repurchase_resolved``, ``repurchase_unresolved`` and
    ``repurchase_no_problem`` (1 − churn within the horizon), each as (value, source) — and the
    number of customers in the contact paths. Customers with a problem who never contacted are
    invisible in such data: ``share_complain`` and ``repurchase_no_complaint`` stay inputs.
    """
    res, cdate, ends, obs_end, horizon, cutoff = _contact_followup(
        contacts, customers, customer, resolved, contact_date, end_date, horizon_months,
        observation_end)
    c = pd.DataFrame({"customer": contacts[customer].to_numpy(), "date": cdate.to_numpy(),
                      "resolved": res.to_numpy()}).sort_values(["customer", "date"])
    first = c.drop_duplicates("customer", keep="first")
    first = first[first["date"] <= cutoff]
    end_first = ends.reindex(first["customer"]).to_numpy()
    active = pd.isna(end_first) | (end_first > first["date"].to_numpy())
    first = first[active]
    end_first = end_first[active]
    churn_after = ~pd.isna(end_first) & (end_first <= (first["date"] + horizon).to_numpy())
    with_contact_before = set(c.loc[c["date"] < cutoff, "customer"])
    active = ends.isna() | (ends > cutoff)
    if start_date in customers.columns:       # not yet a customer at the cut-off: not at risk
        active &= _to_dates(customers[start_date]).to_numpy() <= cutoff
    base = ends[active & ~ends.index.isin(list(with_contact_before))]
    base_churn = (base.notna() & (base <= obs_end)).to_numpy()
    paths = {"resolved": churn_after[first["resolved"].to_numpy() == 1],
             "unresolved": churn_after[first["resolved"].to_numpy() == 0],
             "no problem": base_churn}
    for name, arr in paths.items():
        if arr.size == 0:
            raise CXDataError(f"No customers in the {name!r} path with {horizon_months:g} months "
                              "of follow-up; shorten horizon_months or use more data.")
    src = f"measured: churn within {horizon_months:g} months"
    params = {
        "share_resolved": (float(first["resolved"].mean()),
                           f"measured: first contacts resolved, n={len(first)}"),
        "repurchase_resolved": (1 - paths["resolved"].mean(),
                                f"{src} of a resolved first contact, n={paths['resolved'].size}"),
        "repurchase_unresolved": (1 - paths["unresolved"].mean(), f"{src} of an unresolved "
                                  f"first contact, n={paths['unresolved'].size}"),
        "repurchase_no_problem": (1 - paths["no problem"].mean(), f"{src} for customers with no "
                                  f"contact before {cutoff.date()}, n={paths['no problem'].size}"),
    }
    return params, len(first)


def contact_outcomes(contacts: pd.DataFrame, customers: pd.DataFrame, *,
                     customer: str = "customer_id", resolved: str = "fcr",
                     contact_date: str = "contact_date", start_date: str = "start_date",
                     end_date: str = "end_date", horizon_months: float = 12.0,
                     observation_end=None, no_contact: bool = True) -> pd.DataFrame:
    """One row per customer: the first logged contact and whether the customer left after it.

    The design of :func:`market_damage_inputs`. With A = ``observation_end`` − ``horizon_months``:

    - a customer whose **first** logged contact is on or before A, and who was still active on
      that day, gets one row: the columns of that contact, ``path`` "Resolved" / "Unresolved"
      (``resolved`` = 1 / 0) and ``origin`` = the contact date;
    - with ``no_contact=True``, every customer active at A (started on or before A, when
      ``start_date`` is given) with no contact logged before A gets a row with ``path``
      "No contact", ``origin`` = A and the contact columns missing: the baseline;
    - ``churn_<h>m`` = 1 if ``end_date`` falls within ``horizon_months`` after ``origin``.

    Columns of ``customers`` that ``contacts`` lacks (e.g. plan, monthly_revenue) are added to
    every row. Group the result with :func:`cxlab.retention.churn_by_group` (by ``path``,
    ``problem_type``, …) and pass that to :func:`revenue_at_risk`. ``result.attrs`` records the
    cut-off and how many customers were left out, and why.
    """
    res, cdate, ends, obs_end, horizon, cutoff = _contact_followup(
        contacts, customers, customer, resolved, contact_date, end_date, horizon_months,
        observation_end)
    cust = customers.set_index(customer)
    flag = f"churn_{horizon_months:g}m"

    ct = contacts.assign(**{contact_date: cdate, resolved: res.astype(int)})
    first = ct.sort_values([customer, contact_date], kind="stable").drop_duplicates(customer)
    late = first[contact_date] > cutoff
    first = first.loc[~late]
    end_first = ends.reindex(first[customer]).to_numpy()
    inactive = ~(pd.isna(end_first) | (end_first > first[contact_date].to_numpy()))
    first, end_first = first.loc[~inactive], end_first[~inactive]
    out = first.assign(path=np.where(first[resolved] == 1, "Resolved", "Unresolved"),
                       origin=first[contact_date])
    out[flag] = (~pd.isna(end_first) & (end_first <= (first[contact_date] + horizon).to_numpy())
                 ).astype(int)
    excluded = {"first contact after the cut-off": int(late.sum()),
                "left on or before the first contact": int(inactive.sum())}
    if no_contact:
        contacted_before = pd.Index(ct.loc[ct[contact_date] < cutoff, customer].unique())
        active = ends.isna() | (ends > cutoff)
        if start_date in cust.columns:
            active &= _to_dates(cust[start_date]) <= cutoff
        base_ids = cust.index[active.to_numpy() & ~cust.index.isin(contacted_before)]
        base_end = ends.reindex(base_ids)
        base = pd.DataFrame({customer: base_ids, "path": "No contact", "origin": cutoff,
                             flag: (base_end.notna() & (base_end <= obs_end)).astype(int)
                             .to_numpy()})
        out = pd.concat([out, base], ignore_index=True)
    else:
        out = out.reset_index(drop=True)
    extra = [c for c in cust.columns if c not in out.columns]
    info = cust[extra].reindex(out[customer])
    for col in extra:
        out[col] = info[col].to_numpy()
    front = [customer, "path", "origin", flag]
    out = out[front + [c for c in out.columns if c not in front]]
    out.attrs.update(cutoff=str(cutoff.date()), observation_end=str(obs_end.date()),
                     horizon_months=horizon_months, excluded=excluded)
    return out

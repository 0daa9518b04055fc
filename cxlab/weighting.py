"""Who answered, who did not, and weights that make the respondents stand for the customer base.

A survey score is the score of those who answered. This module measures non-response against the
customer file and corrects for what the file can see:

* **Response analysis**: :func:`response_rates` (rates with Wilson intervals by customer attribute)
  and :func:`r_indicator` (the R-indicator of Schouten, Cobben & Bethlehem 2009,
  ``R = 1 − 2·S(ρ̂)``, with a bootstrap interval).
* **Weights**: :func:`rake` (iterative proportional fitting to population margins, Deming &
  Stephan 1940; optional capping and trimming), :func:`poststratify` (cells) and
  :func:`propensity_weights` (inverse logistic response propensity, optionally in classes).
  Every weight Series carries, in ``.attrs["weighting"]``, how it was made, whether it converged
  and Kish's design effect of unequal weighting ``deff = n·Σw²/(Σw)²`` (:func:`weight_summary`).
* **Variance that accounts for the weights**: :func:`linearized_variance` — the Taylor
  linearisation (ratio-estimator) variance of a weighted mean, share or NPS, as R's
  ``survey::svymean`` computes it for ``svydesign(ids = ~1, weights = ~w)``. ``cx.metrics`` uses it
  for every weighted result (see there); :func:`weighting_effect` tests weighted against
  unweighted on the same respondents (the rule for showing both headlines).
* **The bundled company**: :func:`invited_frame` joins each wave's invitations to customer
  attributes (region, plan, segment, channel, tenure band, value band, contacts that quarter);
  :func:`survey_weights` rakes each wave's respondents to its invited population;
  :func:`nonresponse_bias` puts the respondents' NPS, the weighted NPS and (simulated data only)
  the true NPS of everyone invited side by side.

Weighting corrects the part of non-response that the weighting variables explain (missing at
random given them). When the chance of answering depends on the experience itself — as in the
bundled company, where it rises 0.12 on the logit per ltr point — weights reduce the bias only as
far as the variables predict the score; they cannot see the rest.

References
----------
Deming, W. E. & Stephan, F. F. (1940). On a least squares adjustment of a sampled frequency table
when the expected marginal totals are known. Annals of Mathematical Statistics 11, 427–444.
Deville, J.-C. & Särndal, C.-E. (1992). Calibration estimators in survey sampling. JASA 87, 376–382.
Kish, L. (1965). Survey Sampling. Wiley (design effect of unequal weights, §11.7).
Korn, E. L. & Graubard, B. I. (1998). Confidence intervals for proportions with small expected
numbers of positive counts estimated from survey data. Survey Methodology 24, 193–201.
Little, R. J. A. (1986). Survey nonresponse adjustments for estimates of means. International
Statistical Review 54, 139–157.
Lumley, T. (2010). Complex Surveys: A Guide to Analysis Using R. Wiley (``survey`` package).
Schouten, B., Cobben, F. & Bethlehem, J. (2009). Indicators for the representativeness of survey
response. Survey Methodology 35, 101–113.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .checks import CXDataError

__all__ = [
    "RIndicator",
    "invited_frame",
    "linearized_variance",
    "nonresponse_bias",
    "poststratify",
    "propensity_weights",
    "r_indicator",
    "rake",
    "response_rates",
    "survey_weights",
    "weight_summary",
    "weighting_effect",
]

#: Customer attributes :func:`invited_frame` adds and :func:`response_rates` reports by default.
ATTRIBUTES = ("region", "plan", "segment", "channel", "tenure_band", "value_band",
              "contacts_in_quarter")
#: Default weighting variables for the bundled company (all known for every invited customer).
WEIGHTING_VARIABLES = ("region", "plan", "segment", "tenure_band", "contacts_in_quarter")


# --------------------------------------------------------------------------------- summaries
def weight_summary(weights) -> dict:
    """Kish's design effect of unequal weighting and the spread of the weights.

    ``deff_kish = n·Σw²/(Σw)² = 1 + cv²`` and ``n_eff_kish = (Σw)²/Σw²`` (Kish 1965). This is the
    variance inflation for a score *unrelated* to the weights; use :func:`linearized_variance`
    (what ``cx.metrics`` does) for the variance of an actual estimate.

    Examples
    --------
    >>> weight_summary([1, 1, 2, 2])["deff_kish"]
    1.1111111111111112
    """
    w = np.asarray(weights, dtype=float)
    sw, sw2 = w.sum(), (w * w).sum()
    return {"n": int(w.size), "sum": float(sw), "n_eff_kish": float(sw * sw / sw2),
            "deff_kish": float(w.size * sw2 / (sw * sw)), "min": float(w.min()),
            "max": float(w.max()), "max_to_mean": float(w.max() / w.mean())}


def _as_weights(values: np.ndarray, index, info: dict) -> pd.Series:
    out = pd.Series(values, index=index, name="weight")
    info.update({k: v for k, v in weight_summary(values).items() if k != "n"})
    out.attrs["weighting"] = info
    return out


# ------------------------------------------------------------------------ linearised variance
def linearized_variance(values, weights=None, groups=None, ngroups: int | None = None):
    """Weighted mean (share, NPS) per group with its Taylor-linearisation variance.

    For ``ȳ_w = Σwy/Σw`` the linearised (ratio-estimator, with-replacement) variance is
    ``v = n/(n−1)·Σ w²(y − ȳ_w)² / (Σw)²`` — ``survey::svymean`` for
    ``svydesign(ids = ~1, weights = ~w)`` (Lumley 2010, §2.2; Woodruff 1971). A share is the mean
    of a 0/1 indicator; NPS the mean of promoter − detractor (+1/0/−1). Also returned:
    ``n_eff = Σw·Σw(y − ȳ_w)² / Σw²(y − ȳ_w)²``, the base of a simple random sample with the same
    variance ("effective n by design effect", ``n/deff`` with ``deff = v / v_srs`` and
    ``v_srs = s²_w/(n − 1)``); Kish's ``(Σw)²/Σw²`` when ``y`` has no spread. ``n_eff`` equals ``n``
    for equal weights; it is smaller than Kish's when the heavily weighted rows also spread more.

    Parameters
    ----------
    values : array-like of float (no missing values)
    weights : array-like of float >= 0, optional (equal weights when omitted)
    groups : array-like of int codes 0..ngroups−1, optional (one group when omitted)
    ngroups : int, optional

    Returns
    -------
    (estimate, variance, n_eff) : three arrays of length ``ngroups`` (NaN for empty groups)

    Examples
    --------
    >>> est, var, n_eff = linearized_variance([1, 0, 0, 1], [1, 1, 2, 2])
    >>> float(est[0]), round(float(var[0]), 4), float(n_eff[0])
    (0.5, 0.0926, 3.6)
    """
    y = np.asarray(values, dtype=float)
    w = np.ones(y.size) if weights is None else np.asarray(weights, dtype=float)
    c = np.zeros(y.size, dtype=np.intp) if groups is None else np.asarray(groups, dtype=np.intp)
    k = int(ngroups if ngroups is not None else (c.max() + 1 if c.size else 1))
    n = np.bincount(c, minlength=k).astype(float)
    sw = np.bincount(c, w, minlength=k)
    sw2 = np.bincount(c, w * w, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.bincount(c, w * y, minlength=k) / sw
        r = y - est[c]
        swr2 = np.bincount(c, w * r * r, minlength=k)
        sw2r2 = np.bincount(c, w * w * r * r, minlength=k)
        var = np.where(n > 1, n / (n - 1) * sw2r2 / (sw * sw), np.nan)
        n_eff = np.where(sw2r2 > 0, sw * swr2 / sw2r2, sw * sw / sw2)
    return est, var, n_eff


def weighting_effect(scores, weights, metric: str = "nps", confidence: float = 0.95) -> dict:
    """Weighted minus unweighted estimate on the *same* respondents, with its interval.

    ``d = ȳ_w − ȳ`` is linearised jointly: ``z_i = w_i(y_i − ȳ_w)/Σw − (y_i − ȳ)/n`` and
    ``var(d) = n/(n−1)·Σz_i²`` (the two estimates share their respondents, so their variances
    must not be added). ``y`` is 100·(promoter − detractor) for ``metric="nps"``, the score itself
    for ``"mean"``. ``significant``: the weighted and unweighted headline differ beyond the noise
    (the interval excludes 0) — the rule for showing both side by side.

    Returns
    -------
    dict: unweighted, weighted, difference, difference_ci_low, difference_ci_high, significant, n
    """
    from scipy import stats
    y = np.asarray(scores, dtype=float)
    w = np.asarray(weights, dtype=float)
    if y.shape != w.shape:
        raise CXDataError(f"scores ({y.size}) and weights ({w.size}) must have the same length.")
    ok = ~np.isnan(y)
    y, w = y[ok], w[ok]
    if metric == "nps":
        y = 100 * ((y >= 9).astype(float) - (y <= 6).astype(float))
    elif metric != "mean":
        raise CXDataError(f"metric must be 'nps' or 'mean'; got {metric!r}.")
    n = y.size
    if n < 2:
        raise CXDataError("weighting_effect needs at least two answered scores.")
    mu, mw = y.mean(), np.average(y, weights=w)
    z = w * (y - mw) / w.sum() - (y - mu) / n
    se = np.sqrt(n / (n - 1) * np.sum(z * z))
    half = stats.norm.ppf(0.5 + confidence / 2) * se
    d = mw - mu
    return {"unweighted": float(mu), "weighted": float(mw), "difference": float(d),
            "difference_ci_low": float(d - half), "difference_ci_high": float(d + half),
            "significant": bool(abs(d) > half), "n": int(n)}


# ---------------------------------------------------------------------------------- checking
def _levels_preview(levels, limit: int = 6) -> str:
    levels = [repr(v) for v in levels]
    return ", ".join(levels[:limit]) + (f" and {len(levels) - limit} more" if len(levels) > limit
                                        else "")


def _require_columns(frame: pd.DataFrame, cols, what: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise CXDataError(f"{what} must be a pandas DataFrame, got {type(frame).__name__}.")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise CXDataError(f"{what} has no column(s) {missing}; it has {list(frame.columns)}.")
    for c in cols:
        bad = frame[c].isna()
        if bad.any():
            raise CXDataError(f"{what}[{c!r}] is missing in {int(bad.sum())} row(s) (e.g. index "
                              f"{_levels_preview(frame.index[bad][:3])}); weighting needs every "
                              "row's level. Recode the missing rows as their own level or drop them "
                              "(and say so).")


def _targets(margins: dict) -> dict[str, pd.Series]:
    if not isinstance(margins, dict) or not margins:
        raise CXDataError("margins must be a dict: column name -> {level: population total}, "
                          "e.g. {'region': {'North': 4400, 'South': 4000}}.")
    out = {}
    for var, spec in margins.items():
        t = pd.Series(spec, dtype=float) if not isinstance(spec, pd.Series) else spec.astype(float)
        if t.empty:
            raise CXDataError(f"margin {var!r} has no levels.")
        bad = t[~np.isfinite(t.to_numpy()) | (t.to_numpy() <= 0)]
        if len(bad):
            raise CXDataError(f"margin {var!r} has zero, negative or missing target(s) at level(s) "
                              f"{_levels_preview(bad.index)} ({_levels_preview(bad.to_numpy())}). "
                              "Targets are population totals > 0; drop a level nobody is in (and "
                              "its rows from the sample) or merge it with a neighbour.")
        out[var] = t
    totals = {v: float(t.sum()) for v, t in out.items()}
    first = next(iter(totals.values()))
    off = {v: s for v, s in totals.items() if abs(s - first) > 1e-6 * abs(first)}
    if off:
        raise CXDataError("margins must describe the same population, but their totals differ: "
                          + ", ".join(f"{v} = {s:,.6g}" for v, s in totals.items())
                          + ". Compute every margin from the same population (or rescale them to "
                          "one total).")
    return out


def _codes(sample: pd.DataFrame, var: str, target: pd.Series) -> np.ndarray:
    levels = list(target.index)
    values = sample[var]
    present = pd.unique(values)
    extra = [v for v in present if v not in set(levels)]
    if extra:
        n_extra = int(values.isin(extra).sum())
        raise CXDataError(f"sample[{var!r}] has level(s) {_levels_preview(extra)} ({n_extra} "
                          f"row(s)) with no population target in margins[{var!r}]. Add their "
                          "targets, or recode them into a level that has one.")
    absent = [v for v in levels if v not in set(present)]
    if absent:
        raise CXDataError(f"margin {var!r} level(s) {_levels_preview(absent)} have a population "
                          "target but no respondent in the sample, so no weight can reach them. "
                          "Merge those levels with a neighbour (in the margin and the sample) or "
                          "drop the variable.")
    return pd.Categorical(values, categories=levels).codes.astype(np.intp)


# --------------------------------------------------------------------------------------- rake
def rake(sample: pd.DataFrame, margins: dict, *, weights=None, max_iter: int = 1000,
         tol: float = 1e-10, cap: float | None = None, trim: tuple | None = None) -> pd.Series:
    """Raking (iterative proportional fitting) of weights to population margins.

    Starting from ``weights`` (equal weights when omitted), each weighting variable in turn
    scales the weights of each level to its population total; cycles repeat until every margin
    is within ``tol`` (relative) of its target (Deming & Stephan 1940). The result is the raking
    calibration estimator of Deville & Särndal (1992): the same weights as R's
    ``survey::rake(design, list(~region, ~plan), list(pop_region, pop_plan))`` and
    ``survey::calibrate(..., calfun = "raking")``. Weights sum to the population total.

    Parameters
    ----------
    sample : DataFrame
        One row per respondent with a column per weighting variable (no missing levels).
    margins : dict
        Column name -> mapping or Series of level -> population total (all > 0, equal totals
        across variables).
    weights : array-like, optional
        Starting (design) weights, one per row.
    max_iter : int
        Maximum number of full cycles.
    tol : float
        Convergence: largest relative margin error ``|Σw − T| / T`` after a cycle.
    cap : float, optional
        Upper bound on ``w / mean(w)`` enforced *during* raking (weights above it are set to it
        and the others re-raked, as ``anesrake``'s cap). Margins stay exact when feasible.
    trim : (low, high), optional
        Bounds on ``w / mean(w)`` applied once *after* raking, the excess redistributed over the
        untrimmed weights so the total is kept (``survey::trimWeights``); margins then move a
        little — the largest relative margin error is reported.

    Returns
    -------
    Series ``weight`` aligned with ``sample.index``; ``.attrs["weighting"]`` holds ``method``,
    ``iterations``, ``converged``, ``max_margin_error`` (relative), ``n_capped``, ``n_trimmed`` and
    Kish's ``deff_kish`` / ``n_eff_kish`` (design effect of the unequal weights).

    Raises
    ------
    CXDataError
        margins with different totals, zero/negative targets, a level without respondents, a
        sample level without a target, or no convergence in ``max_iter`` cycles (naming the
        variable and level furthest from its target).

    Examples
    --------
    >>> s = pd.DataFrame({"a": ["x", "x", "y", "y"], "b": ["u", "v", "u", "v"]})
    >>> w = rake(s, {"a": {"x": 30, "y": 70}, "b": {"u": 50, "v": 50}})
    >>> w.round(6).tolist()
    [15.0, 15.0, 35.0, 35.0]

    References
    ----------
    Deming & Stephan (1940); Deville & Särndal (1992); Kish (1965).
    """
    targets = _targets(margins)
    _require_columns(sample, list(targets), "sample")
    if len(sample) == 0:
        raise CXDataError("sample is empty: there is nobody to weight.")
    codes = {v: _codes(sample, v, t) for v, t in targets.items()}
    tvals = {v: t.to_numpy(dtype=float) for v, t in targets.items()}
    w = _start_weights(weights, len(sample))
    total = float(next(iter(tvals.values())).sum())
    w = w * total / w.sum()
    n_capped, it, err = 0, 0, np.inf
    for it in range(1, max_iter + 1):
        for v, c in codes.items():
            cur = np.bincount(c, w, minlength=tvals[v].size)
            w = w * (tvals[v] / cur)[c]
        if cap is not None:
            bound = cap * w.mean()
            over = w > bound * (1 + tol)
            n_capped = int(over.sum())
            w = np.minimum(w, bound)
        err, worst = _margin_error(w, codes, tvals)
        if err <= tol:
            break
    else:
        var, level = worst
        raise CXDataError(
            f"raking did not converge in {max_iter} cycles: margin {var!r} level "
            f"{targets[var].index[level]!r} is still {err:.2e} (relative) from its target"
            + (f" with weights capped at {cap:g} × the mean" if cap is not None else "")
            + ". Sparse or empty combinations of the variables make the margins unreachable: "
            "merge small levels, drop a variable, loosen `cap`, or raise `max_iter`.")
    info = {"method": "rake", "variables": list(targets), "iterations": it, "converged": True,
            "max_margin_error": float(err), "n_capped": n_capped, "n_trimmed": 0}
    if trim is not None:
        w, info["n_trimmed"] = _trim(w, trim)
        info["max_margin_error"] = float(_margin_error(w, codes, tvals)[0])
    return _as_weights(w, sample.index, info)


def _start_weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != n:
        raise CXDataError(f"weights has {w.size} values but the sample has {n} rows; pass one "
                          "starting weight per row.")
    bad = ~np.isfinite(w) | (w <= 0)
    if bad.any():
        raise CXDataError(f"starting weights must be finite and > 0; {int(bad.sum())} are not "
                          f"(positions {_levels_preview(np.flatnonzero(bad)[:5])}).")
    return w


def _margin_error(w, codes, tvals):
    worst, err = (None, 0), 0.0
    for v, c in codes.items():
        rel = np.abs(np.bincount(c, w, minlength=tvals[v].size) / tvals[v] - 1)
        j = int(np.argmax(rel))
        if rel[j] >= err:
            err, worst = float(rel[j]), (v, j)
    return err, worst


def _trim(w: np.ndarray, bounds) -> tuple[np.ndarray, int]:
    try:
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise CXDataError(f"trim must be (low, high) bounds on w / mean(w), e.g. (0.3, 5); "
                          f"got {bounds!r}.") from None
    if not 0 <= low < 1 < high:
        raise CXDataError(f"trim=(low, high) needs 0 <= low < 1 < high; got {bounds!r}.")
    total, hit = w.sum(), np.zeros(w.size, dtype=bool)
    for _ in range(100):                        # redistribute until no bound is crossed
        m = total / w.size
        lo_hit, hi_hit = w < low * m * (1 - 1e-12), w > high * m * (1 + 1e-12)
        if not (lo_hit | hi_hit).any():
            break
        hit |= lo_hit | hi_hit
        w = np.clip(w, low * m, high * m)
        free = ~hit
        if not free.any():
            break
        w[free] *= (total - w[hit].sum()) / w[free].sum()
    return w, int(hit.sum())


# ------------------------------------------------------------------------------ poststratify
def poststratify(sample: pd.DataFrame, population, by, *, weights=None) -> pd.Series:
    """Post-stratification: within each cell of ``by``, weights scale to the cell's total.

    ``w_i = d_i · N_h / Σ_{j∈h} d_j`` (Holt & Smith 1979), i.e. ``survey::postStratify``.

    Parameters
    ----------
    sample : DataFrame with the ``by`` columns
    population : DataFrame of population units (counted by ``by``) or Series of cell totals
        indexed by the ``by`` levels (a MultiIndex for several columns)
    by : str or list of str
    weights : array-like, optional starting weights

    Returns
    -------
    Series ``weight`` aligned with ``sample.index`` (``.attrs["weighting"]`` as in :func:`rake`).

    Examples
    --------
    >>> s = pd.DataFrame({"plan": ["A", "A", "B"]})
    >>> poststratify(s, pd.Series({"A": 10.0, "B": 30.0}), "plan").tolist()
    [5.0, 5.0, 30.0]
    """
    by = [by] if isinstance(by, str) else list(by)
    _require_columns(sample, by, "sample")
    if isinstance(population, pd.DataFrame):
        _require_columns(population, by, "population")
        totals = population.groupby(by, observed=True).size().astype(float)
    else:
        totals = pd.Series(population, dtype=float)
    totals.index = _cell_index(totals.index, len(by))
    bad = totals[~np.isfinite(totals.to_numpy()) | (totals.to_numpy() <= 0)]
    if len(bad):
        raise CXDataError(f"population cell total(s) must be > 0; {by} cell(s) "
                          f"{_levels_preview(bad.index)} are {_levels_preview(bad.to_numpy())}.")
    cells = pd.MultiIndex.from_frame(sample[by].astype(object))
    cells = _cell_index(cells, len(by))
    no_target = cells[~cells.isin(totals.index)].unique()
    if len(no_target):
        raise CXDataError(f"sample cell(s) {by} = {_levels_preview(no_target)} have no population "
                          "total. Add them to `population` or recode them.")
    empty = totals.index[~totals.index.isin(cells)]
    if len(empty):
        raise CXDataError(f"population cell(s) {by} = {_levels_preview(empty)} have no respondent "
                          f"(total {totals[empty].sum():,.6g}), so no weight can reach them. "
                          "Collapse them with a neighbouring cell or rake on the margins instead.")
    d = _start_weights(weights, len(sample))
    code = totals.index.get_indexer(cells)
    cur = np.bincount(code, d, minlength=len(totals))
    w = d * (totals.to_numpy() / cur)[code]
    info = {"method": "poststratify", "variables": by, "cells": len(totals), "converged": True,
            "iterations": 1, "max_margin_error": 0.0, "n_capped": 0, "n_trimmed": 0}
    return _as_weights(w, sample.index, info)


def _cell_index(index, k: int) -> pd.Index:
    if k == 1:
        vals = [v[0] if isinstance(v, tuple) else v for v in index]
        return pd.MultiIndex.from_arrays([pd.Index(vals, dtype=object)])
    return pd.MultiIndex.from_tuples([tuple(v) for v in index])


# ---------------------------------------------------------------------------- propensity
def _response_flag(frame: pd.DataFrame, responded: str) -> np.ndarray:
    _require_columns(frame, [responded], "frame")
    r = frame[responded]
    ok = r.isin([0, 1, True, False])
    if not ok.all():
        raise CXDataError(f"frame[{responded!r}] must be 0/1 (1 = answered); rows "
                          f"{_levels_preview(frame.index[~ok][:5])} are "
                          f"{_levels_preview(r[~ok].unique()[:5])}.")
    y = r.astype(int).to_numpy()
    if y.min() == y.max():
        raise CXDataError(f"frame[{responded!r}] is {y[0]} for every row: response propensities "
                          "need both respondents and non-respondents.")
    return y


def _propensity(frame: pd.DataFrame, covariates, responded: str) -> np.ndarray:
    """Fitted P(answer | covariates) from a main-effects logistic model (statsmodels GLM)."""
    y = _response_flag(frame, responded)
    X = _design(frame, covariates)
    patterns, row = np.unique(X, axis=0, return_inverse=True)
    return _logit_fit(patterns, row.ravel(), y, np.ones(len(y)))


def _logit_fit(patterns: np.ndarray, row: np.ndarray, y: np.ndarray, count: np.ndarray):
    """Binomial GLM on the distinct covariate patterns (successes, failures per pattern): the
    same maximum-likelihood fit as on the individual rows, in a fraction of the time."""
    import statsmodels.api as sm
    k = len(patterns)
    yes = np.bincount(row, count * y, minlength=k)
    tot = np.bincount(row, count, minlength=k)
    keep = tot > 0
    endog = np.column_stack([yes[keep], tot[keep] - yes[keep]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = sm.GLM(endog, patterns[keep], family=sm.families.Binomial()).fit()
    p = 1 / (1 + np.exp(-(patterns @ np.asarray(fit.params))))
    return p[row]


def _design(frame: pd.DataFrame, covariates) -> np.ndarray:
    covariates = [covariates] if isinstance(covariates, str) else list(covariates)
    _require_columns(frame, covariates, "frame")
    parts = [np.ones((len(frame), 1))]
    for c in covariates:
        s = frame[c]
        if pd.api.types.is_numeric_dtype(s) and s.nunique() > 12:
            parts.append(s.to_numpy(dtype=float)[:, None])
        else:
            d = pd.get_dummies(s.astype(str), drop_first=True, dtype=float)
            parts.append(d.to_numpy())
    return np.hstack(parts)


def propensity_weights(frame: pd.DataFrame, covariates, *, responded: str = "responded",
                       classes: int | None = None) -> pd.Series:
    """Inverse response-propensity weights for the respondents of ``frame``.

    ``frame`` holds everyone invited (respondents and non-respondents) with ``responded`` 0/1 and
    the covariates. The propensity ``ρ̂`` is the fit of a main-effects logistic regression
    (statsmodels GLM, binomial); the weight of a respondent is ``1/ρ̂``. With ``classes=k`` the
    invited are grouped into ``k`` equal-size classes of ``ρ̂`` and a respondent's weight is the
    inverse response rate of their class (weighting-class adjustment, Little 1986) — more robust
    to a misspecified model and to tiny propensities.

    Parameters
    ----------
    frame : DataFrame of the invited
    covariates : str or list of str (categorical columns become dummies)
    responded : str, the 0/1 response column
    classes : int, optional number of propensity classes

    Returns
    -------
    Series ``weight`` indexed like the respondent rows of ``frame``; weights sum to about the
    number invited. ``.attrs["weighting"]`` as in :func:`rake`.

    References
    ----------
    Little (1986); Rosenbaum, P. R. & Rubin, D. B. (1983). Biometrika 70, 41–55.
    """
    y = _response_flag(frame, responded)
    p = _propensity(frame, covariates, responded)
    info = {"method": "propensity", "variables": list(np.atleast_1d(covariates)),
            "classes": classes, "converged": True, "iterations": 1, "max_margin_error": np.nan,
            "n_capped": 0, "n_trimmed": 0}
    if classes is None:
        w = 1 / p
    else:
        if not isinstance(classes, (int, np.integer)) or classes < 1:
            raise CXDataError(f"classes must be a whole number >= 1; got {classes!r}.")
        cls = pd.qcut(pd.Series(p).rank(method="first"), classes, labels=False).to_numpy()
        rate = np.bincount(cls, y, minlength=classes) / np.bincount(cls, minlength=classes)
        if (rate == 0).any():
            raise CXDataError(f"propensity class(es) {list(np.flatnonzero(rate == 0))} have no "
                              "respondent; use fewer classes.")
        w = 1 / rate[cls]
    resp = y == 1
    return _as_weights(w[resp], frame.index[resp], info)


# ------------------------------------------------------------------------- response analysis
def response_rates(frame: pd.DataFrame, by=None, *, responded: str = "responded",
                   confidence: float = 0.95) -> pd.DataFrame:
    """Response rates (%) with Wilson intervals, overall and by each attribute in ``by``.

    Parameters
    ----------
    frame : DataFrame of the invited with a 0/1 ``responded`` column
    by : str or list of str, optional (default: the :data:`ATTRIBUTES` present in ``frame``)
    confidence : float

    Returns
    -------
    DataFrame: variable, level, invited, responded, response_rate, response_rate_ci_low,
    response_rate_ci_high (percent; Wilson 1927 via statsmodels ``proportion_confint``).
    """
    from statsmodels.stats.proportion import proportion_confint
    y = _response_flag(frame, responded)
    if by is None:
        by = [c for c in ATTRIBUTES if c in frame.columns]
    by = [by] if isinstance(by, str) else list(by)
    _require_columns(frame, by, "frame")
    rows = [("all", "all", len(y), int(y.sum()))]
    for var in by:
        g = pd.DataFrame({"level": frame[var].to_numpy(), "y": y}).groupby(
            "level", sort=True, observed=True)["y"]
        rows += [(var, lvl, int(n), int(k)) for lvl, n, k in zip(g.size().index, g.size(), g.sum())]
    out = pd.DataFrame(rows, columns=["variable", "level", "invited", "responded"])
    lo, hi = proportion_confint(out["responded"], out["invited"], alpha=1 - confidence,
                                method="wilson")
    out["response_rate"] = 100 * out["responded"] / out["invited"]
    out["response_rate_ci_low"], out["response_rate_ci_high"] = 100 * lo, 100 * hi
    return out


@dataclass
class RIndicator:
    """The R-indicator ``R = 1 − 2·S(ρ̂)`` with its bootstrap interval."""
    r: float
    r_ci_low: float
    r_ci_high: float
    sd_propensity: float
    response_rate: float
    n: int
    covariates: tuple
    bootstrap: int
    confidence: float

    @property
    def max_bias(self) -> float:
        """Upper bound on the absolute bias of a respondent mean, in SDs of the score:
        ``(1 − R) / (2·ρ̄)`` (Schouten et al. 2009, eq. 9) — for MAR given the covariates."""
        return (1 - self.r) / (2 * self.response_rate)

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"r_indicator": self.r, "r_indicator_ci_low": self.r_ci_low,
                              "r_indicator_ci_high": self.r_ci_high,
                              "sd_propensity": self.sd_propensity,
                              "response_rate": self.response_rate, "max_bias_sd": self.max_bias,
                              "n": self.n, "covariates": ", ".join(self.covariates)}])

    def __repr__(self) -> str:
        return (f"R-indicator {self.r:.3f} ({100 * self.confidence:g}% CI {self.r_ci_low:.3f} to "
                f"{self.r_ci_high:.3f}; n = {self.n:,}, response {100 * self.response_rate:.1f}%, "
                f"by {', '.join(self.covariates)})")


def r_indicator(frame: pd.DataFrame, covariates, *, responded: str = "responded",
                bootstrap: int = 200, seed: int = 0, confidence: float = 0.95) -> RIndicator:
    """Representativeness of the response: ``R = 1 − 2·S(ρ̂)`` (Schouten, Cobben & Bethlehem 2009).

    ``ρ̂`` are the fitted response propensities of everyone invited from a main-effects logistic
    model on ``covariates``; ``S`` is their standard deviation (divisor n − 1). R = 1: response
    unrelated to the covariates; lower values: more selective response. The interval is the
    percentile bootstrap over invited customers, refitting the model each time (the bootstrap
    variance of Shlomo, Skinner & Schouten 2012 takes the same route; the plug-in R is biased
    downwards in small samples, so the interval matters when comparing waves).

    Parameters
    ----------
    frame : DataFrame of the invited with ``responded`` 0/1 and the covariates
    covariates : str or list of str
    bootstrap : int, number of resamples (0: no interval)
    seed : int
    confidence : float

    Returns
    -------
    RIndicator (``.r``, ``.r_ci_low``, ``.r_ci_high``, ``.max_bias``, ``.summary()``)

    References
    ----------
    Schouten, Cobben & Bethlehem (2009), Survey Methodology 35, 101–113. Shlomo, N., Skinner, C. &
    Schouten, B. (2012). Estimation of an indicator of the representativeness of survey response.
    Journal of Statistical Planning and Inference 142, 201–211.
    """
    y = _response_flag(frame, responded)
    X = _design(frame, covariates)
    patterns, row = np.unique(X, axis=0, return_inverse=True)
    row = row.ravel()

    def r_of(count):                      # count: how often each invited row is drawn
        p = _logit_fit(patterns, row, y, count)
        m = np.average(p, weights=count)
        sd = np.sqrt(np.sum(count * (p - m) ** 2) / (count.sum() - 1))
        return 1 - 2 * sd, sd

    r, sd = r_of(np.ones(len(y)))
    lo = hi = np.nan
    if bootstrap:
        rng = np.random.default_rng(seed)
        n = len(y)
        draws = np.array([r_of(np.bincount(rng.integers(0, n, n), minlength=n).astype(float))[0]
                          for _ in range(bootstrap)])
        lo, hi = np.quantile(draws, [(1 - confidence) / 2, (1 + confidence) / 2])
    cov = tuple(np.atleast_1d(covariates))
    return RIndicator(r=float(r), r_ci_low=float(lo), r_ci_high=float(hi),
                      sd_propensity=float(sd), response_rate=float(y.mean()), n=len(y),
                      covariates=cov, bootstrap=bootstrap, confidence=confidence)


# ------------------------------------------------------------------------ the bundled company
def _bands(customers: pd.DataFrame) -> pd.Series:
    q = customers["monthly_revenue"].quantile([0.25, 0.5, 0.75]).to_numpy()
    band = np.searchsorted(q, customers["monthly_revenue"].to_numpy(), side="right")
    labels = np.array(["1 low", "2 mid-low", "3 mid-high", "4 high"])
    return pd.Series(labels[band], index=customers["customer_id"])


def invited_frame(company, wave=None) -> pd.DataFrame:
    """Everyone invited to a survey wave, with the customer attributes the file knows.

    Columns: customer_id, wave, responded, true_ltr (simulated data only), region, plan,
    segment, channel, tenure_band (months since joining at the wave's mid-point: <12, 12-24,
    >=24), value_band (quartile of monthly revenue over all customers), contacts_in_quarter
    (contacts logged in the wave's quarter: 0, 1, 2+).

    Parameters
    ----------
    company : Company with ``invitations``, ``customers`` and ``contacts`` tables
    wave : str or list of str, optional (all waves when omitted)
    """
    inv = company.table("invitations")
    if wave is not None:
        waves = [wave] if isinstance(wave, str) else list(wave)
        unknown = sorted(set(waves) - set(inv["wave"]))
        if unknown:
            raise CXDataError(f"wave(s) {unknown} have no invitations; waves are "
                              f"{sorted(inv['wave'].unique())}.")
        inv = inv[inv["wave"].isin(waves)]
    cust = company.table("customers").set_index("customer_id")
    out = inv.reset_index(drop=True).copy()
    for c in ("region", "plan", "segment", "channel"):
        out[c] = out["customer_id"].map(cust[c]).to_numpy()
    mid = pd.PeriodIndex(out["wave"], freq="Q").start_time + pd.Timedelta(days=45)
    months = (mid - out["customer_id"].map(cust["start_date"]).to_numpy()).days / 30.4375
    out["tenure_band"] = np.select([months < 12, months < 24], ["<12", "12-24"], ">=24")
    out["value_band"] = out["customer_id"].map(_bands(cust.reset_index())).to_numpy()
    contacts = company.contacts
    if contacts is not None:
        k = contacts.groupby(["customer_id", "wave"]).size()
        n_c = pd.MultiIndex.from_frame(out[["customer_id", "wave"]]).map(k.to_dict().get)
        n_c = pd.Series(n_c, dtype=float).fillna(0).to_numpy()
        out["contacts_in_quarter"] = np.select([n_c == 0, n_c == 1], ["0", "1"], "2+")
    return out


def survey_weights(company, variables=WEIGHTING_VARIABLES, *, method: str = "rake",
                   cap: float | None = None) -> pd.Series:
    """Weights for every survey response: each wave's respondents weighted to everyone invited
    that wave (a random half of the active customers, so to the customer base).

    ``method="rake"`` rakes to the invited margins of ``variables``; ``"propensity"`` uses
    inverse propensities from a logistic model on them (:func:`propensity_weights`, 10 classes).
    Weights are scaled to mean 1 within each wave (so a wave's weighted base is its response count).

    Returns
    -------
    Series ``weight`` aligned with ``company.survey`` (same index).
    """
    if method not in ("rake", "propensity"):
        raise CXDataError(f"method must be 'rake' or 'propensity'; got {method!r}.")
    variables = list(variables)
    survey = company.table("survey")
    frame = invited_frame(company)
    out = pd.Series(np.nan, index=survey.index, name="weight")
    key = pd.MultiIndex.from_frame(survey[["customer_id", "wave"]])
    infos = {}
    for w, inv in frame.groupby("wave", sort=True):
        resp = inv[inv["responded"] == 1]
        if method == "rake":
            margins = {v: inv[v].value_counts() for v in variables}
            wt = rake(resp, margins, cap=cap)
        else:
            wt = propensity_weights(inv, variables, classes=10)
        wt = wt / wt.mean()
        pos = key.get_indexer(pd.MultiIndex.from_frame(resp[["customer_id", "wave"]]))
        out.iloc[pos] = wt.to_numpy()
        infos[w] = weight_summary(wt)
    missing = out.isna()
    if missing.any():
        raise CXDataError(f"{int(missing.sum())} survey response(s) are not in the invitations "
                          "table, so they cannot be weighted; the invitations must list every "
                          "respondent.")
    out.attrs["weighting"] = {"method": method, "variables": variables, "by": "wave",
                              "target": "invited customers of each wave", "waves": infos}
    return out


def nonresponse_bias(company, variables=WEIGHTING_VARIABLES, *, method: str = "rake",
                     confidence: float = 0.95) -> pd.DataFrame:
    """Per wave: the respondents' NPS, the weighted NPS (linearised intervals) and — for a
    simulated company whose invitations carry ``true_ltr`` — the true NPS of everyone invited and
    both biases (points).

    Columns: wave, n, nps, nps_ci_low, nps_ci_high, weighted_nps, weighted_nps_ci_low,
    weighted_nps_ci_high, n_eff, deff_kish, and when known true_nps, bias_unweighted,
    bias_weighted, weighted_covers (the weighted interval contains the truth).
    """
    from . import metrics
    survey = company.table("survey")
    w = survey_weights(company, variables, method=method)
    inv = company.table("invitations")
    rows = []
    for wave, idx in survey.groupby("wave", sort=True).groups.items():
        s, ww = survey.loc[idx, "ltr"], w.loc[idx]
        u = metrics.nps(s, confidence=confidence)
        r = metrics.nps(s, weights=ww, confidence=confidence)
        row = {"wave": wave, "n": u.n, "nps": u.value, "nps_ci_low": u.ci_low,
               "nps_ci_high": u.ci_high, "weighted_nps": r.value, "weighted_nps_ci_low": r.ci_low,
               "weighted_nps_ci_high": r.ci_high, "n_eff": r.n_eff,
               "deff_kish": weight_summary(ww)["deff_kish"]}
        if "true_ltr" in inv.columns:
            t = inv.loc[inv["wave"] == wave, "true_ltr"]
            true = 100 * ((t >= 9).mean() - (t <= 6).mean())
            row.update({"true_nps": true, "bias_unweighted": u.value - true,
                        "bias_weighted": r.value - true,
                        "weighted_covers": bool(r.ci_low <= true <= r.ci_high)})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["weighting"] = w.attrs["weighting"]
    return out

"""CX metrics with honest uncertainty: NPS, top/bottom box (CSAT), CES and means.

Every number comes with a confidence interval, a base (``n``) and, for weighted data, the
effective base ``n_eff``. Results from a base below ``min_base`` are *suppressed*: the value and the
interval are NaN and the result says so, so that a small cell is never published as a number.

Interval methods (chosen by simulation, see ``tests/test_metrics_coverage.py``):

* **NPS** (−100..100): the *score* interval for the difference of two cells of one multinomial,
  ``p_P − p_D`` (Tango 1998, Statistics in Medicine 17:891–908; the same problem as the paired
  difference of proportions; the "iterative score" interval of Rocks 2016, The American
  Statistician 70:365–372). Alternatives: ``"adjusted-wald"`` (Rocks 2016 / Lewis & Sauro: add 3/4
  to promoters and detractors and 3 to n, then Wald) and plain ``"wald"`` (under-covers at small n).
* **Top/bottom box, CSAT**: Wilson score interval (Wilson 1927); ``"agresti-coull"`` and ``"wald"``
  on request.
* **Means, CES**: Student t interval.

Differences (``compare``, ``change``; independent samples, ``b − a``):

* NPS: MOVER (Zou & Donner 2008, Newcombe 1998) combining the two score intervals.
* Proportions: Newcombe's hybrid score interval (Newcombe 1998, method 10 = MOVER–Wilson).
* Means: Welch t with Welch–Satterthwaite degrees of freedom.

``significant`` is "the CI of the difference excludes 0"; the p-value is the test-inversion
p-value of the same interval (the smallest 1 − confidence at which 0 leaves the interval), so
``p < 1 − confidence`` exactly when ``significant``.

Weights: the estimate is the weighted mean (share, NPS = mean of promoter − detractor) and its
variance the Taylor linearisation of the ratio estimator, ``v = n/(n−1)·Σw²(y − ȳ_w)²/(Σw)²``, as
R's ``survey::svymean`` for ``svydesign(ids = ~1, weights = ~w)``
(:func:`cxlab.weighting.linearized_variance`). The interval is formed with the "effective n by
design effect" (Kish 1965; Korn & Graubard 1998): ``n_eff = n/deff`` with ``deff = v / v_srs``, i.e.
``n_eff = Σw·Σw(y − ȳ_w)² / Σw²(y − ȳ_w)²``, put in place of ``n`` in the unweighted formula (Tango
score for NPS, Wilson for shares, t with ``n_eff − 1`` df for means) with the weighted shares — so
intervals stay inside the scale and their width follows the linearised SE (for means the SE is
exactly ``√v``; for shares and NPS ``√(v·(n−1)/n)``); ``n_eff`` is truncated at ``n`` (Korn &
Graubard 1998), and a warning names results whose ``n_eff`` or Kish's base is below ``min_base``
(a few large weights then dominate and no variance estimate is reliable). Kish's ``(Σw)²/Σw²`` (the same when the score
does not spread more where the weights are large) under-covers when a heavily weighted group is
also more polarised (90.7 % for a nominal 95 % in such a design; ``tests/test_weighting_coverage.py``).
Changes between independent samples combine the two linearised intervals (MOVER / Welch).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import checks, intervals, weighting
from .checks import CXDataError, CXWarning
from .contract import CONFIDENCE, MIN_BASE

__all__ = [
    "DEFAULT_MIN_BASE", "METRICS", "ChangeResult", "MetricResult", "bottom_box", "ces", "change",
    "compare", "csat", "mean", "mean_ci", "mean_diff_ci", "nps", "nps_ci", "nps_diff_ci",
    "proportion_ci", "proportion_diff_ci", "table", "top_box",
]

DEFAULT_MIN_BASE = MIN_BASE   # kept: the name of the constant before cxlab.contract
METRICS = ("nps", "top_box", "bottom_box", "csat", "ces", "mean")
NPS_METHODS = intervals.NPS_METHODS
PROPORTION_METHODS = intervals.PROPORTION_METHODS


# --------------------------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MetricResult:
    """One metric with its confidence interval.

    ``value``/``ci_*``/``se`` are on the reporting scale: NPS −100..100, shares in % (0..100),
    means in scale units. ``se`` is the plug-in (Wald) standard error, for information; the
    interval comes from ``method``. ``n`` counts answered (non-missing) responses, ``n_missing``
    the excluded missing ones; ``n_eff`` is the effective base ``n/deff`` from the linearised
    variance (= ``n`` when unweighted or equally weighted).
    ``suppressed`` is True when ``n < min_base``: value, interval and shares are then NaN.
    ``shares`` holds the promoter/passive/detractor percentages for NPS.
    """

    metric: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    n_eff: float
    se: float
    confidence: float
    method: str
    suppressed: bool
    min_base: int
    n_missing: int = 0
    weighted: bool = False
    shares: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """One-row DataFrame with every field (shares as their own columns)."""
        row = {k: getattr(self, k) for k in ("metric", "value", "ci_low", "ci_high", "n",
                                              "n_eff", "se", "n_missing", "confidence", "method",
                                              "suppressed", "min_base", "weighted")}
        row.update(self.shares)
        return pd.DataFrame([row])

    def __str__(self) -> str:
        if self.suppressed:
            return f"{self.metric} suppressed (n = {self.n} < {self.min_base})"
        fmt = _formatter(self.metric)
        base = f"n = {self.n}" + (f", n_eff = {self.n_eff:.1f}" if self.weighted else "")
        if self.n_missing:
            base += f"; {self.n_missing} missing excluded"
        return (f"{self.metric} {fmt(self.value)} ({100 * self.confidence:g}% CI "
                f"{fmt(self.ci_low)} to {fmt(self.ci_high)}; {base})")


@dataclass(frozen=True)
class ChangeResult:
    """Difference ``b − a`` between two independent samples, with CI and p-value.

    ``significant`` means the interval excludes 0. When either side is suppressed, the
    difference, interval and p-value are NaN, ``significant`` is False and ``suppressed`` True.
    """

    metric: str
    a: MetricResult
    b: MetricResult
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    significant: bool
    method: str
    confidence: float
    suppressed: bool

    def summary(self) -> pd.DataFrame:
        """One-row DataFrame: both sides, the difference, its CI, p-value and flags."""
        return pd.DataFrame([{
            "metric": self.metric, "a": self.a.value, "n_a": self.a.n, "b": self.b.value,
            "n_b": self.b.n, "difference": self.difference, "ci_low": self.ci_low,
            "ci_high": self.ci_high, "p_value": self.p_value, "significant": self.significant,
            "suppressed": self.suppressed, "confidence": self.confidence, "method": self.method}])

    def __str__(self) -> str:
        if self.suppressed:
            side = "a" if self.a.suppressed else "b"
            n = getattr(self, side).n
            return (f"{self.metric} change suppressed (side {side}: n = {n} < "
                    f"{getattr(self, side).min_base})")
        fmt = _formatter(self.metric, signed=True)
        verdict = "significant" if self.significant else "not significant"
        return (f"{self.metric} change {fmt(self.difference)} ({100 * self.confidence:g}% CI "
                f"{fmt(self.ci_low)} to {fmt(self.ci_high)}; p = {self.p_value:.3g}; {verdict})")


def _formatter(metric: str, signed: bool = False):
    if metric == "NPS":
        return lambda v: f"{v:+.1f}"
    if metric in ("CES", "Mean"):
        return (lambda v: f"{v:+.2f}") if signed else (lambda v: f"{v:.2f}")
    return (lambda v: f"{v:+.1f} pp") if signed else (lambda v: f"{v:.1f}%")


# --------------------------------------------------------------------------------------------
# vectorised interval formulas (array in, array out)
# --------------------------------------------------------------------------------------------

def _z(confidence: float) -> float:
    return intervals.z_value(confidence)


def _arr(*xs):
    return [np.asarray(x, dtype=float) for x in np.broadcast_arrays(*xs)]


def nps_ci(promoters, detractors, n, confidence: float = CONFIDENCE, method: str = "score"):
    """NPS interval (−100..100) from counts; arrays broadcast; counts may be fractional.

    ``method="score"``: Tango's (1998) score interval for p_P − p_D; ``"adjusted-wald"``
    (Rocks 2016) or ``"wald"`` (:func:`cxlab.intervals.nps`). Returns ``(low, high)``.
    """
    lo, hi = intervals.nps(promoters, detractors, n, confidence, method)
    return 100 * lo, 100 * hi


def proportion_ci(successes, n, confidence: float = CONFIDENCE, method: str = "wilson"):
    """Interval for a share, in % (0..100): :func:`cxlab.intervals.proportion` (Wilson default)."""
    lo, hi = intervals.proportion(successes, n, confidence, method)
    return 100 * lo, 100 * hi


def mean_ci(mean, sd, n, confidence: float = CONFIDENCE):
    """Student t interval: mean ± t_{n−1, 1−α/2} · sd / √n (n may be an effective base)."""
    return intervals.t_mean(mean, sd, n, confidence)


def _nps_diff(xa, da, na, xb, db, nb, z):
    la, ua = intervals.nps(xa, da, na, z=z)
    lb, ub = intervals.nps(xb, db, nb, z=z)
    return intervals.mover_difference((xa - da) / na, la, ua, (xb - db) / nb, lb, ub)


def _prop_diff(xa, na, xb, nb, z):
    lo, hi = intervals.newcombe(xb, nb, xa, na, z=z)
    return xb / nb - xa / na, lo, hi


def nps_diff_ci(promoters_a, detractors_a, n_a, promoters_b, detractors_b, n_b,
                confidence: float = CONFIDENCE, p_value: bool = False):
    """Difference NPS_b − NPS_a (independent samples), MOVER with score intervals.

    L = d − √((N_b − l_b)² + (u_a − N_a)²), U = d + √((u_b − N_b)² + (N_a − l_a)²), with
    (l, u) each sample's Tango score interval. Returns ``(diff, low, high)`` in NPS points, plus
    the test-inversion p-value when ``p_value=True``.
    """
    xa, da, na, xb, db, nb = _arr(promoters_a, detractors_a, n_a, promoters_b, detractors_b, n_b)
    d, lo, hi = _nps_diff(xa, da, na, xb, db, nb, _z(confidence))
    out = (100 * d, 100 * lo, 100 * hi)
    if p_value:
        out += (intervals.inversion_p_value(
            lambda z: _nps_diff(xa, da, na, xb, db, nb, z), d),)
    return out


def proportion_diff_ci(x_a, n_a, x_b, n_b, confidence: float = CONFIDENCE, p_value: bool = False):
    """Difference of shares p_b − p_a in percentage points: Newcombe (1998) hybrid score
    interval (method 10), i.e. MOVER with Wilson intervals. Returns ``(diff, low, high[, p])``."""
    xa, na, xb, nb = _arr(x_a, n_a, x_b, n_b)
    d, lo, hi = _prop_diff(xa, na, xb, nb, _z(confidence))
    out = (100 * d, 100 * lo, 100 * hi)
    if p_value:
        out += (intervals.inversion_p_value(lambda z: _prop_diff(xa, na, xb, nb, z), d),)
    return out


def mean_diff_ci(mean_a, sd_a, n_a, mean_b, sd_b, n_b, confidence: float = CONFIDENCE):
    """Welch interval and test for mean_b − mean_a (:func:`cxlab.intervals.welch`).
    Returns ``(diff, low, high, p_value)``."""
    return intervals.welch(mean_a, sd_a, n_a, mean_b, sd_b, n_b, confidence)


# --------------------------------------------------------------------------------------------
# metric specifications: how raw ratings become the quantity estimated
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Spec:
    label: str                     # "NPS", "CSAT", "Top box (9–10)", ...
    kind: str                      # "nps" | "prop" | "mean"
    scale: tuple | None
    integer: bool
    method: str
    rule: Any = None               # for "prop": ("in", values) or (">=", t) or ("<=", t)

    def indicators(self, y: np.ndarray) -> dict:
        if self.kind == "nps":
            return {"p": (y >= 9).astype(float), "d": (y <= 6).astype(float)}
        if self.kind == "prop":
            op, v = self.rule
            hit = np.isin(y, v) if op == "in" else (y >= v if op == ">=" else y <= v)
            return {"x": hit.astype(float)}
        return {"y": y}


def _fmt_num(v) -> str:
    return f"{v:g}"


def _box_rule(which: str, box, scale, default_k: int = 2):
    """Turn ``top``/``bottom`` into (rule, label, needs_integer)."""
    if scale is None or len(scale) != 2 or not scale[0] < scale[1]:
        raise CXDataError(f"scale must be (lowest, highest), e.g. (1, 5); got {scale!r}.")
    lo, hi = scale
    if box is None:
        vals = tuple(range(int(hi) - default_k + 1, int(hi) + 1)) if which == "top" \
            else tuple(range(int(lo), int(lo) + default_k))
        box = vals
    if isinstance(box, (list, tuple, set, frozenset, np.ndarray, range)):
        vals = tuple(sorted(float(v) for v in box))
        if not vals:
            raise CXDataError(f"{which} must list at least one scale value.")
        outside = [v for v in vals if v < lo or v > hi]
        if outside:
            raise CXDataError(f"{which}={tuple(box)!r} has value(s) {outside} outside the scale "
                              f"{lo:g}–{hi:g}. Fix `{which}` or `scale`.")
        span = f"{_fmt_num(vals[0])}–{_fmt_num(vals[-1])}" if len(vals) > 1 else _fmt_num(vals[0])
        if len(vals) > 1 and vals != tuple(np.arange(vals[0], vals[-1] + 1)):
            span = ",".join(_fmt_num(v) for v in vals)
        name = "Top box" if which == "top" else "Bottom box"
        return ("in", np.array(vals)), f"{name} ({span})", True
    if isinstance(box, (int, float, np.integer, np.floating)) and not isinstance(box, bool):
        if not lo <= box <= hi:
            raise CXDataError(f"{which} threshold {box!r} is outside the scale {lo:g}–{hi:g}.")
        op = ">=" if which == "top" else "<="
        name = "Top box" if which == "top" else "Bottom box"
        return (op, float(box)), f"{name} ({'≥' if op == '>=' else '≤'} {box:g})", False
    raise CXDataError(f"{which} must be a list of scale values, e.g. (9, 10), or a threshold "
                      f"number; got {box!r}.")


def _spec(metric: str, scale=None, top=None, bottom=None, method=None) -> _Spec:
    key = str(metric).lower().replace("-", "_").replace(" ", "_")
    if key == "nps":
        if scale not in (None, (0, 10), [0, 10]):
            raise CXDataError(f"NPS is defined on the 0–10 likelihood-to-recommend scale; "
                              f"got scale={scale!r}. Rescale the answers to 0–10 first.")
        method = method or "score"
        if method not in NPS_METHODS:
            raise CXDataError(f"Unknown NPS interval method {method!r}; choose one of "
                              f"{NPS_METHODS}.")
        return _Spec("NPS", "nps", (0, 10), True, method)
    if key in ("top_box", "bottom_box", "csat"):
        if key == "csat":
            scale = tuple(scale) if scale is not None else (1, 5)
            k = 2 if top is None else top
            if not (isinstance(k, (int, np.integer)) and 1 <= k < scale[1] - scale[0] + 1):
                raise CXDataError(f"csat(top=...) is the number of top boxes counted as "
                                  f"satisfied (e.g. 2 → 4–5 on a 1–5 scale); got {top!r}.")
            rule, _, integer = _box_rule("top", tuple(range(int(scale[1]) - k + 1,
                                                            int(scale[1]) + 1)), scale)
            label = "CSAT"
        else:
            scale = tuple(scale) if scale is not None else (0, 10)
            which = "top" if key == "top_box" else "bottom"
            rule, label, integer = _box_rule(which, top if which == "top" else bottom, scale)
        method = method or "wilson"
        if method not in PROPORTION_METHODS:
            raise CXDataError(f"Unknown proportion interval method {method!r}; choose one of "
                              f"{PROPORTION_METHODS}.")
        return _Spec(label, "prop", scale, integer, method, rule)
    if key in ("ces", "mean"):
        if key == "ces":
            scale = tuple(scale) if scale is not None else (1, 7)
            if top is not None:   # CES as a share agreeing, e.g. top=(5, 6, 7)
                rule, label, integer = _box_rule("top", top, scale)
                return _Spec(f"CES {label.lower()}", "prop", scale, integer,
                             method or "wilson", rule)
        elif scale is not None:
            scale = tuple(scale)
            if len(scale) != 2 or not scale[0] < scale[1]:
                raise CXDataError(f"scale must be (lowest, highest); got {scale!r}.")
        if method not in (None, "t"):
            raise CXDataError(f"Means use the t interval; got method={method!r}.")
        return _Spec("CES" if key == "ces" else "Mean", "mean", scale, False, "t")
    raise CXDataError(f"Unknown metric {metric!r}; choose one of {METRICS}.")


# --------------------------------------------------------------------------------------------
# sufficient statistics per group, then estimates per group (all vectorised)
# --------------------------------------------------------------------------------------------

def _unit_weights(w: np.ndarray) -> np.ndarray:
    """Weights rescaled to mean 1 (first by their maximum, so the mean cannot overflow). Every
    statistic here is a ratio of weighted sums (shares, means, n_eff = (Σw)²/Σw²), unchanged by
    the scale of the weights; but Σw² overflows for weights ≥ ~1e155 and underflows for
    ≤ ~1e-160, which turned constant weights into a NaN interval."""
    top = w.max() if len(w) else 0.0
    if not top > 0:
        return w
    w = w / top
    return w / w.mean()


def _group_stats(spec: _Spec, y: np.ndarray, w: np.ndarray | None, codes: np.ndarray,
                 ngroups: int) -> dict:
    valid = ~np.isnan(y)
    c = codes[valid]
    yv = y[valid]
    wv = np.ones(len(yv)) if w is None else _unit_weights(np.asarray(w, dtype=float)[valid])
    out = {"n": np.bincount(c, minlength=ngroups),
           "n_missing": np.bincount(codes[~valid], minlength=ngroups),
           "sw": np.bincount(c, wv, minlength=ngroups),
           "sw2": np.bincount(c, wv * wv, minlength=ngroups),
           "weighted": w is not None}
    inds = spec.indicators(yv)
    for key, ind in inds.items():
        out[key] = np.bincount(c, wv * ind, minlength=ngroups)
    if w is not None:                  # linearised variance -> effective base n / deff
        score = inds["p"] - inds["d"] if spec.kind == "nps" else next(iter(inds.values()))
        n_lin = weighting.linearized_variance(score, wv, c, ngroups)[2]
        out["n_eff_lin"] = np.minimum(n_lin, out["n"])    # never above n (Korn & Graubard 1998)
    if spec.kind == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            m = out["y"] / out["sw"]
        resid = yv - m[c]                              # two-pass: no cancellation
        out["ss"] = np.bincount(c, wv * resid * resid, minlength=ngroups)
    return out


def _estimate(spec: _Spec, st: dict, confidence: float, min_base: int) -> dict:
    z = _z(confidence)
    n, sw = st["n"], st["sw"]
    with np.errstate(invalid="ignore", divide="ignore"):
        n_eff = np.where(sw > 0, st.get("n_eff_lin", sw * sw / st["sw2"]), 0.0)
        n_kish = np.where(sw > 0, sw * sw / st["sw2"], 0.0)
        ok = (n >= max(min_base, 1)) & (sw > 0)
        ne = np.where(ok, n_eff, np.nan)
        shares = {}
        if spec.kind == "nps":
            pp, pd_ = st["p"] / sw, st["d"] / sw
            d = pp - pd_
            lo, hi = intervals.nps(pp * ne, pd_ * ne, ne, method=spec.method, z=z)
            se = np.sqrt(np.maximum(pp + pd_ - d * d, 0) / ne)
            value, lo, hi, se = 100 * d, 100 * lo, 100 * hi, 100 * se
            shares = {"promoters": 100 * pp, "passives": 100 * (1 - pp - pd_),
                      "detractors": 100 * pd_}
        elif spec.kind == "prop":
            p = st["x"] / sw
            lo, hi = intervals.proportion(p * ne, ne, method=spec.method, z=z)
            value, lo, hi = 100 * p, 100 * lo, 100 * hi
            se = 100 * np.sqrt(p * (1 - p) / ne)
        else:
            value = st["y"] / sw
            sd = np.sqrt(st["ss"] / sw * n / (n - 1))      # sd/√n_eff = linearised SE
            se = sd / np.sqrt(ne)
            lo, hi = mean_ci(value, sd, ne, confidence)
            shares = {"sd": sd}
    nan = np.nan
    res = {"value": np.where(ok, value, nan), "ci_low": np.where(ok, lo, nan),
           "ci_high": np.where(ok, hi, nan), "se": np.where(ok, se, nan),
           "n": n, "n_eff": n_eff, "n_missing": st["n_missing"], "suppressed": ~ok,
           "n_eff_kish": n_kish}
    res.update({k: np.where(ok, v, nan) for k, v in shares.items()})
    return res


def _warn_small_eff(spec: _Spec, est: dict, min_base: int, weighted: bool, where: str = ""):
    if not weighted:
        return
    base = np.minimum(est["n_eff"], est["n_eff_kish"])   # Kish: few large weights dominate
    low = (~est["suppressed"]) & (base < min_base)
    if low.any():
        warnings.warn(
            f"{spec.label}{where}: {int(low.sum())} result(s) have at least {min_base} responses "
            f"but an effective base (n/deff, or Kish's (Σw)²/Σw²) below {min_base} because of "
            f"unequal weights (smallest {np.min(base[low]):.1f}). They are shown, with wide "
            "intervals; consider trimming the weights or a larger base.", CXWarning, stacklevel=3)


def _result(spec: _Spec, est: dict, i: int, confidence: float, min_base: int,
            weighted: bool) -> MetricResult:
    shares = {}
    if spec.kind == "nps":
        shares = {k: float(est[k][i]) for k in ("promoters", "passives", "detractors")}
    elif spec.kind == "mean":
        shares = {"sd": float(est["sd"][i])}
    return MetricResult(metric=spec.label, value=float(est["value"][i]),
                        ci_low=float(est["ci_low"][i]), ci_high=float(est["ci_high"][i]),
                        n=int(est["n"][i]), n_eff=float(est["n_eff"][i]), se=float(est["se"][i]),
                        confidence=confidence, method=spec.method,
                        suppressed=bool(est["suppressed"][i]), min_base=min_base,
                        n_missing=int(est["n_missing"][i]), weighted=weighted, shares=shares)


# --------------------------------------------------------------------------------------------
# input validation
# --------------------------------------------------------------------------------------------

def _check_min_base(min_base) -> int:
    if isinstance(min_base, bool) or not isinstance(min_base, (int, np.integer)) or min_base < 0:
        raise CXDataError(f"min_base must be a whole number >= 0 (default {DEFAULT_MIN_BASE}); "
                          f"got {min_base!r}.")
    return int(min_base)


def _scores(scores, spec: _Spec, what: str = "scores") -> tuple[np.ndarray, str]:
    s = checks.as_series(scores, name=what)
    name = str(s.name) if s.name is not None else what
    if len(s) == 0:
        raise CXDataError(f"{name!r} is empty: there are no responses to compute {spec.label} "
                          "from. Check the filter that selected them.")
    y = checks.numeric(s.to_frame(name=name), name, scale=spec.scale, integer=spec.integer)
    return y.to_numpy(dtype=float), name


def _weights(weights, n_rows: int, what: str = "weights") -> np.ndarray | None:
    if weights is None:
        return None
    w = checks.as_series(weights, name=what)
    if len(w) != n_rows:
        raise CXDataError(f"{what} has {len(w)} values but the scores have {n_rows}; pass one "
                          "weight per response (in the same order).")
    return checks.weights_for(pd.DataFrame({what: w.to_numpy()}), what)


def _single(spec: _Spec, scores, weights, confidence, min_base, what="scores",
            wwhat="weights") -> MetricResult:
    min_base = _check_min_base(min_base)
    y, _ = _scores(scores, spec, what)
    w = _weights(weights, len(y), wwhat)
    st = _group_stats(spec, y, w, np.zeros(len(y), dtype=np.intp), 1)
    est = _estimate(spec, st, confidence, min_base)
    _warn_small_eff(spec, est, min_base, w is not None)
    return _result(spec, est, 0, confidence, min_base, w is not None)


# --------------------------------------------------------------------------------------------
# public single-sample metrics
# --------------------------------------------------------------------------------------------

def nps(scores, weights=None, min_base: int = MIN_BASE, confidence: float = CONFIDENCE,
        method: str = "score") -> MetricResult:
    """Net Promoter Score: % promoters (9–10) − % detractors (0–6) of 0–10 answers, −100..100.

    Interval: Tango's score interval (default), ``"adjusted-wald"`` (Rocks 2016) or ``"wald"``
    (see the module docstring). Missing answers are excluded and counted in ``n_missing``;
    answers outside 0–10, fractional answers or text raise :class:`CXDataError`.

    >>> print(nps([10] * 50 + [8] * 30 + [3] * 20))
    NPS +30.0 (95% CI +14.0 to +44.3; n = 100)
    """
    return _single(_spec("nps", method=method), scores, weights, confidence, min_base)


def top_box(scores, top=None, scale=(0, 10), weights=None, min_base: int = MIN_BASE,
            confidence: float = CONFIDENCE, method: str = "wilson") -> MetricResult:
    """Share (%) of answers in the top box(es) with a Wilson interval.

    ``top`` is either the scale values that count, e.g. ``(9, 10)`` (default: the two highest
    values of ``scale``), or a threshold number: answers ``>= top`` count.
    """
    return _single(_spec("top_box", scale=scale, top=top, method=method), scores, weights,
                   confidence, min_base)


def bottom_box(scores, bottom=None, scale=(0, 10), weights=None,
               min_base: int = MIN_BASE, confidence: float = CONFIDENCE,
               method: str = "wilson") -> MetricResult:
    """Share (%) of answers in the bottom box(es) (values listed, or ``<= bottom``), Wilson CI."""
    return _single(_spec("bottom_box", scale=scale, bottom=bottom, method=method), scores,
                   weights, confidence, min_base)


def csat(scores, scale=(1, 5), top: int = 2, weights=None, min_base: int = MIN_BASE,
         confidence: float = CONFIDENCE, method: str = "wilson") -> MetricResult:
    """CSAT: % answering in the top ``top`` boxes of ``scale`` (default 4–5 of 1–5), Wilson CI."""
    return _single(_spec("csat", scale=scale, top=top, method=method), scores, weights,
                   confidence, min_base)


def ces(scores, scale=(1, 7), weights=None, min_base: int = MIN_BASE,
        confidence: float = CONFIDENCE, top=None) -> MetricResult:
    """Customer effort score: mean of the effort answers with a t interval.

    With ``top`` (e.g. ``(5, 6, 7)``) the share agreeing is returned instead (Wilson CI).
    """
    return _single(_spec("ces", scale=scale, top=top), scores, weights, confidence, min_base)


def mean(scores, scale=None, weights=None, min_base: int = MIN_BASE,
         confidence: float = CONFIDENCE) -> MetricResult:
    """Mean with a Student t interval; weighted: weighted mean, linearised SE
    ``√(n/(n−1)·Σw²(y − ȳ_w)²)/Σw`` (``survey::svymean``), df = n_eff − 1 with n_eff = n/deff."""
    return _single(_spec("mean", scale=scale), scores, weights, confidence, min_base)


# --------------------------------------------------------------------------------------------
# tables and changes
# --------------------------------------------------------------------------------------------

def _by_list(by) -> list:
    if by is None:
        return []
    return [by] if isinstance(by, str) else list(by)


def _groups(data: pd.DataFrame, by: list):
    """Group codes (sorted keys, missing labels kept as their own group) and the key frame."""
    if not by:
        return np.zeros(len(data), dtype=np.intp), pd.DataFrame(index=[0])
    g = data.groupby(by, dropna=False, sort=True, observed=True)
    codes = g.ngroup().to_numpy().astype(np.intp)
    keys = g.size().index.to_frame(index=False)
    return codes, keys


_COLUMNS = ["metric", "n", "value", "ci_low", "ci_high", "suppressed", "n_eff", "se",
            "n_missing", "confidence", "method", "min_base"]


def table(data: pd.DataFrame, column: str, metric: str = "nps", by=None, weight: str | None = None,
          min_base: int = MIN_BASE, confidence: float = CONFIDENCE, **metric_kw) -> pd.DataFrame:
    """Tidy table of one metric, overall or per group of ``by`` (one row per group).

    Columns: <by>, metric, n, value, ci_low, ci_high, suppressed, n_eff, se, n_missing,
    confidence, method, min_base (+ promoters/passives/detractors for NPS, sd for means).
    Groups below ``min_base`` show ``suppressed=True`` and NaN numbers; a group whose answers
    are all missing has n = 0 and is suppressed. Rows with a missing group label form their own
    group. ``metric_kw`` go to the metric (``scale``, ``top``, ``bottom``, ``method``).
    """
    checks.require_frame(data)
    byl = _by_list(by)
    checks.require_columns(data, [column, *byl])
    min_base = _check_min_base(min_base)
    spec = _spec(metric, **metric_kw)
    y = checks.numeric(data, column, scale=spec.scale, integer=spec.integer).to_numpy(float)
    w = checks.weights_for(data, weight)
    codes, keys = _groups(data, byl)
    st = _group_stats(spec, y, w, codes, len(keys))
    est = _estimate(spec, st, confidence, min_base)
    _warn_small_eff(spec, est, min_base, w is not None, f" of {column!r}")
    out = keys.copy() if byl else pd.DataFrame(index=range(1))
    out["metric"] = spec.label
    for k in ("n", "value", "ci_low", "ci_high", "suppressed", "n_eff", "se", "n_missing"):
        out[k] = est[k]
    out["confidence"], out["method"], out["min_base"] = confidence, spec.method, min_base
    for k in ("promoters", "passives", "detractors", "sd"):
        if k in est:
            out[k] = est[k]
    return out.reset_index(drop=True)


def _difference(spec: _Spec, ea: dict, eb: dict, sta: dict, stb: dict, confidence: float):
    """Vectorised difference b − a for groups; NaN where either side is suppressed."""
    ok = ~(ea["suppressed"] | eb["suppressed"])
    z = _z(confidence)
    nan = np.full(ok.shape, np.nan)
    if not ok.any():
        return nan, nan.copy(), nan.copy(), nan.copy(), ok
    na, nb = ea["n_eff"][ok], eb["n_eff"][ok]
    if spec.kind == "nps":
        pa, da = sta["p"][ok] / sta["sw"][ok] * na, sta["d"][ok] / sta["sw"][ok] * na
        pb, db = stb["p"][ok] / stb["sw"][ok] * nb, stb["d"][ok] / stb["sw"][ok] * nb
        d, lo, hi = _nps_diff(pa, da, na, pb, db, nb, z)
        p = intervals.inversion_p_value(lambda zz: _nps_diff(pa, da, na, pb, db, nb, zz), d)
        d, lo, hi = 100 * d, 100 * lo, 100 * hi
    elif spec.kind == "prop":
        xa, xb = sta["x"][ok] / sta["sw"][ok] * na, stb["x"][ok] / stb["sw"][ok] * nb
        d, lo, hi = _prop_diff(xa, na, xb, nb, z)
        p = intervals.inversion_p_value(lambda zz: _prop_diff(xa, na, xb, nb, zz), d)
        d, lo, hi = 100 * d, 100 * lo, 100 * hi
    else:
        d, lo, hi, p = mean_diff_ci(ea["value"][ok], ea["sd"][ok], na, eb["value"][ok],
                                    eb["sd"][ok], nb, confidence)
    out = []
    for v in (d, lo, hi, p):
        full = nan.copy()
        full[ok] = v
        out.append(full)
    return (*out, ok)


def _diff_method(spec: _Spec) -> str:
    return {"nps": "MOVER with Tango score intervals",
            "prop": "Newcombe hybrid score (MOVER-Wilson)", "mean": "Welch t"}[spec.kind]


def compare(a, b, metric: str = "nps", weights_a=None, weights_b=None, confidence: float = CONFIDENCE,
            min_base: int = MIN_BASE, **metric_kw) -> ChangeResult:
    """Compare a metric between two independent samples (e.g. two waves or two segments).

    ``difference = b − a`` with its interval (NPS: MOVER–score; shares: Newcombe hybrid score;
    means: Welch) and the matching p-value. A side below ``min_base`` makes the comparison
    suppressed (NaN, ``significant=False``) rather than a noisy number.
    """
    min_base = _check_min_base(min_base)
    spec = _spec(metric, **metric_kw)
    ya, _ = _scores(a, spec, "a")
    yb, _ = _scores(b, spec, "b")
    wa, wb = _weights(weights_a, len(ya), "weights_a"), _weights(weights_b, len(yb), "weights_b")
    sta = _group_stats(spec, ya, wa, np.zeros(len(ya), dtype=np.intp), 1)
    stb = _group_stats(spec, yb, wb, np.zeros(len(yb), dtype=np.intp), 1)
    ea, eb = (_estimate(spec, s, confidence, min_base) for s in (sta, stb))
    for e, w, side in ((ea, wa, " (a)"), (eb, wb, " (b)")):
        _warn_small_eff(spec, e, min_base, w is not None, side)
    d, lo, hi, p, ok = _difference(spec, ea, eb, sta, stb, confidence)
    ra = _result(spec, ea, 0, confidence, min_base, wa is not None)
    rb = _result(spec, eb, 0, confidence, min_base, wb is not None)
    sig = bool(ok[0] and (lo[0] > 0 or hi[0] < 0))
    return ChangeResult(metric=spec.label, a=ra, b=rb, difference=float(d[0]),
                        ci_low=float(lo[0]), ci_high=float(hi[0]), p_value=float(p[0]),
                        significant=sig, method=_diff_method(spec), confidence=confidence,
                        suppressed=not bool(ok[0]))


def _periods(data: pd.DataFrame, period: str, current, previous):
    col = data[period]
    values = col.dropna().unique()
    if isinstance(col.dtype, pd.CategoricalDtype) and col.cat.ordered:
        order = [c for c in col.cat.categories if c in set(values)]
    else:
        order = sorted(values, key=lambda v: (str(type(v)), v))
    if current is None:
        if len(order) < 2:
            raise CXDataError(f"Column {period!r} has {len(order)} distinct period(s) "
                              f"({checks._preview(order)}); a change needs two. Pass `current` "
                              "and `previous` or add another wave.")
        current = order[-1]
    if current not in order:
        raise CXDataError(f"current={current!r} is not a value of {period!r}. Available: "
                          f"{checks._preview(order, limit=12)}.")
    if previous is None:
        i = order.index(current)
        if i == 0:
            raise CXDataError(f"current={current!r} is the first period in {period!r}; there is "
                              "no previous one. Pass `previous` explicitly.")
        previous = order[i - 1]
    if previous not in order:
        raise CXDataError(f"previous={previous!r} is not a value of {period!r}. Available: "
                          f"{checks._preview(order, limit=12)}.")
    if previous == current:
        raise CXDataError(f"previous and current are both {current!r}; choose two periods.")
    return current, previous


def change(data: pd.DataFrame, column: str, metric: str = "nps", period: str = "wave",
           current=None, previous=None, by=None, weight: str | None = None,
           min_base: int = MIN_BASE, confidence: float = CONFIDENCE,
           **metric_kw) -> pd.DataFrame:
    """Change of a metric between two periods, overall or per group of ``by``.

    ``current`` defaults to the latest period (sort order of ``period``, or category order if
    ordered categorical) and ``previous`` to the one before it. One row per group with
    previous, current, difference (current − previous), ci_low, ci_high, p_value, significant,
    suppressed (either side below ``min_base``, or the group missing in a period), plus n_previous,
    n_current and the period labels. Samples in the two periods are treated as independent.
    """
    checks.require_frame(data)
    byl = _by_list(by)
    checks.require_columns(data, [column, period, *byl])
    min_base = _check_min_base(min_base)
    spec = _spec(metric, **metric_kw)
    current, previous = _periods(data, period, current, previous)
    sub = data.loc[data[period].isin([current, previous])]
    y = checks.numeric(sub, column, scale=spec.scale, integer=spec.integer).to_numpy(float)
    w = checks.weights_for(sub, weight)
    codes, keys = _groups(sub, byl)
    is_cur = (sub[period] == current).to_numpy()
    sts, ests = {}, {}
    for name, mask in (("previous", ~is_cur), ("current", is_cur)):
        sts[name] = _group_stats(spec, y[mask], None if w is None else w[mask], codes[mask],
                                 len(keys))
        ests[name] = _estimate(spec, sts[name], confidence, min_base)
        _warn_small_eff(spec, ests[name], min_base, w is not None, f" ({name} period)")
    d, lo, hi, p, ok = _difference(spec, ests["previous"], ests["current"], sts["previous"],
                                   sts["current"], confidence)
    out = keys.copy() if byl else pd.DataFrame(index=range(1))
    out["metric"] = spec.label
    out["previous"], out["current"] = ests["previous"]["value"], ests["current"]["value"]
    out["difference"], out["ci_low"], out["ci_high"], out["p_value"] = d, lo, hi, p
    out["significant"] = ok & ((lo > 0) | (hi < 0))
    out["suppressed"] = ~ok
    out["n_previous"], out["n_current"] = ests["previous"]["n"], ests["current"]["n"]
    out["previous_period"], out["current_period"] = previous, current
    out["confidence"], out["method"], out["min_base"] = confidence, _diff_method(spec), min_base
    return out.reset_index(drop=True)

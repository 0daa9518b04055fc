"""What-if chain: improve a driver → the score moves → fewer customers leave → value gained.

Three links, each estimated from the data and re-estimated in every bootstrap draw:

1. **Driver link** — OLS of the score (ltr) on the driver ratings: raising driver X by Δ points
   (capped at the top of its scale) moves a respondent's score by b_X·Δ (capped at the top of
   the score's scale).
2. **Hazard link** — Cox model (Efron ties) of time to churn on the score plus controls (and,
   optionally, drivers with a *direct* effect on leaving), fitted on episodes that follow each
   answer to the end of its quarter, so the hazard ratio is that of the *current* score. A
   permanent improvement multiplies every month's hazard by θ = exp(β·Δscore + γ·Δx).
3. **Baseline link** — logistic model of churn within ``horizon`` months on the score plus
   controls gives each respondent's survival S_i over the horizon. Under proportional hazards
   the improved survival is S_i^θ, so the change in churn is S_i − S_i^θ_i.

Value: annual margin m_i = 12 × monthly revenue × ``margin``, retention r_i = 1 − churn_i,
CLV_i = :func:`cxlab.value.clv_from_retention` (m_i, r_i, ``discount``, ``years``); the value of
an action is (number of customers) × mean_i [CLV_i(after) − CLV_i(before)], minus its cost.

Uncertainty: nonparametric bootstrap over customers (all answers of a resampled customer come
along), refitting every link with closed-form / Newton steps in numpy (weighted by the
resampling counts), so 1,000 draws take seconds. Intervals are percentile intervals.

"Move k % of detractors to passives" acts on the score directly: each detractor's score goes
to 7 with probability k.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import retention as _ret
from .checks import (CXDataError, CXWarning, _preview, numeric_series, progress_bar,
                     require_columns, require_frame)
from .contract import CONFIDENCE
from .display import result_html

__all__ = ["Action", "WhatIfResult", "chain", "move_detractors", "raise_driver"]


# ----------------------------------------------------------------------------- actions

@dataclass(frozen=True)
class Action:
    """One candidate action: raise ``driver`` by ``delta`` points, or move ``share`` of the
    detractors to passive (``driver=None``); ``cost`` in the same currency as the revenue."""

    name: str
    driver: str | None = None
    delta: float = 0.0
    share: float = 0.0
    cost: float = 0.0


def raise_driver(driver: str, delta: float = 1.0, cost: float = 0.0, name: str | None = None) -> Action:
    """Action: every customer who rates ``driver`` rates it ``delta`` points higher (capped)."""
    if not np.isfinite(delta) or delta == 0:
        raise CXDataError(f"delta for {driver!r} must be a non-zero number of points, not {delta!r}.")
    return Action(name or f"{driver} {delta:+g}", driver=driver, delta=float(delta), cost=float(cost))


def move_detractors(share: float, cost: float = 0.0, name: str | None = None) -> Action:
    """Action: a ``share`` (0–1) of the detractors (score 0–6) become passives (score 7)."""
    if not 0 < share <= 1:
        raise CXDataError(f"share must be in (0, 1], e.g. 0.2 for 20 % of detractors; got {share!r}.")
    return Action(name or f"{share:.0%} of detractors to passive", share=float(share), cost=float(cost))


def _as_action(a) -> Action:
    if isinstance(a, Action):
        return a
    if isinstance(a, Mapping):
        a = dict(a)
        if a.get("driver"):
            return raise_driver(a["driver"], a.get("delta", 1.0), a.get("cost", 0.0), a.get("name"))
        if a.get("share") or a.get("detractors_to_passives"):
            return move_detractors(a.get("share", a.get("detractors_to_passives")),
                                   a.get("cost", 0.0), a.get("name"))
    raise CXDataError(f"Cannot read the action {a!r}: use cx.whatif.raise_driver('price_value', 1) "
                      "or cx.whatif.move_detractors(0.2), or a dict with driver/delta or share.")


# ----------------------------------------------------------------------------- numeric fits

def _as_list(x) -> list[str]:
    return [] if x is None else [x] if isinstance(x, str) else list(x)


def _numeric(s: pd.Series, name: str, scale=None) -> pd.Series:
    return numeric_series(s, name, scale=scale, require_values=False)


#: A driver missing for more than this share of the answers with a score counts as asked of
#: only some respondents (``missing="auto"`` in :func:`chain`).
ASKED_OF_SOME = 0.25


def _fill_unrated(df: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Missing-indicator coding for ratings not given: each missing value set to the raters'
    mean, and a 0/1 ``<column>[not rated]`` column returned beside. The rating's coefficient is
    then its effect among the raters, which is what an action changes (non-raters are not
    touched), and no answer is dropped. This is the usual model for items *not asked* (support
    items after a contact only); for items skipped at random it can bias the other coefficients
    (Jones 1996, JASA 91:222-230), which is why ``missing="auto"`` uses it only for drivers
    asked of some respondents."""
    df = df.copy()
    flags = {}
    for col in columns:
        miss = df[col].isna()
        if miss.any() and (~miss).any():
            df[col] = df[col].fillna(pd.to_numeric(df.loc[~miss, col]).mean())
            flags[f"{col}[not rated]"] = miss.astype(float).to_numpy()
    return df, pd.DataFrame(flags, index=df.index)


def _wls(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares by the normal equations (X'WX) b = X'Wy."""
    Xw = X * w[:, None]
    return np.linalg.solve(Xw.T @ X, Xw.T @ y)


def _logit(X: np.ndarray, y: np.ndarray, w: np.ndarray, beta: np.ndarray, iters: int = 25,
           tol: float = 1e-10) -> np.ndarray:
    """Weighted logistic regression by Newton–Raphson from ``beta``."""
    b = beta.copy()
    for _ in range(iters):
        eta = X @ b
        p = 1 / (1 + np.exp(-eta))
        g = X.T @ (w * (y - p))
        H = (X * (w * p * (1 - p))[:, None]).T @ X
        step = np.linalg.solve(H, g)
        b += step
        if np.max(np.abs(step)) < tol:
            return b
    return b


class _Cox:
    """Cox partial likelihood with Efron ties for integer case weights (bootstrap counts).

    Rows are sorted by time once; each fit needs only the weights. A weight w counts a row w
    times (identical to replicating it), so tied events of replicated rows get Efron's
    correction as if they were distinct rows.
    """

    def __init__(self, X: np.ndarray, time: np.ndarray, event: np.ndarray):
        order = np.argsort(time, kind="stable")
        t, e = time[order], event[order].astype(bool)
        ev_t = np.unique(t[e])
        first = np.searchsorted(t, ev_t, side="left")   # risk set at ev_t[j]: rows first[j]..n-1
        keep = np.arange(first[0], len(t))               # earlier rows are never at risk
        self.order = order[keep]
        self.X = X[self.order]
        self.blocks = first - first[0]                   # block j: rows blocks[j]..blocks[j+1]-1
        self.ev_rows = np.flatnonzero(e[keep])           # sorted by time: groups are contiguous
        self.ev_group = np.searchsorted(ev_t, t[keep][self.ev_rows])
        self.ev_starts = np.searchsorted(self.ev_group, np.arange(len(ev_t)))
        self.Xe = self.X[self.ev_rows]
        self.J = len(ev_t)
        self.row_block = np.repeat(np.arange(self.J), np.diff(np.r_[self.blocks, len(keep)]))

    def fit(self, w: np.ndarray, beta: np.ndarray, hessian: np.ndarray | None = None,
            iters: int = 40, tol: float = 1e-9) -> tuple[np.ndarray, np.ndarray]:
        """Maximise the weighted partial likelihood from ``beta``; returns (beta, Hessian).

        Newton–Raphson; given ``hessian`` (e.g. the full-sample one in a bootstrap draw), a
        quasi-Newton (Broyden) iteration started from it needs only the cheap gradient and
        converges to the same exact maximum; if that stalls, full Newton takes over.
        """
        w = w[self.order]
        we = w[self.ev_rows]
        d = np.add.reduceat(we, self.ev_starts)
        dj = np.round(d).astype(np.int64)                # tied events, counting replicates
        j = np.repeat(np.arange(self.J), dj)
        f = (np.arange(dj.sum()) - np.repeat(np.cumsum(dj) - dj, dj)) / np.repeat(np.maximum(dj, 1), dj)
        pairs = (we, j, f)
        if hessian is not None:                          # quasi-Newton (Broyden) from `hessian`
            b = beta.copy()
            inv = np.linalg.inv(-hessian)
            g, _ = self._grad_hess(w, b, pairs, hessian=False)
            for _ in range(iters):
                step = inv @ g
                b = b + step
                if not np.all(np.isfinite(b)):
                    break
                if np.max(np.abs(step)) < tol:
                    return b, hessian
                g_new, _ = self._grad_hess(w, b, pairs, hessian=False)
                y = g - g_new                                 # = (−H) step for a quadratic
                iy = inv @ y
                inv += np.outer(step - iy, step @ inv) / (step @ iy)
                g = g_new
        b = beta.copy()                                  # full Newton–Raphson
        for _ in range(iters):
            g, H = self._grad_hess(w, b, pairs, hessian=True)
            step = np.linalg.solve(-H, g)
            b += step
            if not np.all(np.isfinite(b)):
                break
            if np.max(np.abs(step)) < tol:
                return b, H
        raise np.linalg.LinAlgError("Cox fit did not converge")

    def _grad_hess(self, w, b, pairs, hessian: bool = True):
        X, Xe = self.X, self.Xe
        we, j, f = pairs
        eta = X @ b
        r = w * np.exp(eta - eta.max())
        rx = r[:, None] * X
        # sums over the blocks between event times, then reverse cumulative over blocks
        S0 = np.cumsum(np.add.reduceat(r, self.blocks)[::-1])[::-1]
        S1 = np.cumsum(np.add.reduceat(rx, self.blocks, axis=0)[::-1], axis=0)[::-1]
        re, rxe = r[self.ev_rows], rx[self.ev_rows]
        A0 = np.add.reduceat(re, self.ev_starts)
        A1 = np.add.reduceat(rxe, self.ev_starts, axis=0)
        den = S0[j] - f * A0[j]
        m1 = (S1[j] - f[:, None] * A1[j]) / den[:, None]
        grad = we @ Xe - m1.sum(axis=0)
        if not hessian:
            return grad, None
        # Σ_pairs (S2_j − f A2_j)/den with S2_j = Σ_{blocks b ≥ j} Σ_{rows in b} r x xᵀ becomes
        # Xᵀ diag(r · Σ_{j ≤ block} c0_j) X − Xeᵀ diag(r_e · c1_group) Xe: no n × k × k array
        c0 = np.bincount(j, weights=1 / den, minlength=self.J)
        c1 = np.bincount(j, weights=f / den, minlength=self.J)
        v = r * np.cumsum(c0)[self.row_block]
        ve = re * c1[self.ev_group]
        m2 = (X * v[:, None]).T @ X - (Xe * ve[:, None]).T @ Xe
        return grad, -(m2 - m1.T @ m1)


# ----------------------------------------------------------------------------- result

@dataclass(repr=False)
class WhatIfResult:
    """Actions ranked by value with bootstrap intervals; ``links`` shows the fitted chain."""

    table: pd.DataFrame
    links: pd.DataFrame
    draws: pd.DataFrame = field(repr=False)
    settings: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"WhatIfResult({len(self.table)} actions, {self.settings.get('bootstrap', 0)} "
                f"bootstrap draws; best: {self.table['action'].iloc[0]!r})")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        """One row per action: change in score, churn (percentage points), customers kept,
        value, net of cost, each with its interval; ranked by net value."""
        return self.table.copy()

    def plot(self, *, ax=None, value: str = "net_value", **kwargs):
        from .plots import whatif_plot
        return whatif_plot(self, ax=ax, value=value, **kwargs)

    def __str__(self) -> str:
        cols = ["rank", "action", "delta_score", "delta_churn", "retained", "delta_value", "net_value"]
        return self.table[cols].to_string(index=False)


# ----------------------------------------------------------------------------- the chain

def chain(data, actions: Sequence, drivers: Sequence[str], *, score: str = "ltr",
          controls: Sequence[str] = ("plan", "tenure_band", "segment"),
          direct: Sequence[str] | str = "all",
          reference: Mapping[str, object] | None = None, horizon: float = 12,
          duration: str = "duration", event: str = "churned", churned: str | None = None,
          revenue: str = "monthly_revenue", cluster: str | None = "customer_id",
          margin: float = 1.0, discount: float = 0.10, years: int | None = 3,
          customers: float | None = None, score_scale: tuple[float, float] = (0, 10),
          driver_scale: tuple[float, float] = (1, 10), bootstrap: int = 1000, seed: int = 0,
          confidence: float = CONFIDENCE, missing: str = "auto", min_events: int = 5,
          max_failed: float = 0.05, progress: bool = True) -> WhatIfResult:
    """Chain each action through driver → score → churn → value, with bootstrap intervals.

    ``data`` is a company (``.customers``, ``.survey``; the episode frame is built with
    :func:`cxlab.retention.analysis_frame` with ``follow_up="quarter"``) or such a frame: one row
    per answer with the score, drivers, controls, ``duration``/``event`` (follow-up of the
    answer for the hazard link), the fixed-horizon flag ``churned`` (default
    ``churn_<horizon>m``), ``revenue`` and the ``cluster`` id (customer) for resampling.

    ``drivers``: all ratings in the driver model (the actions' drivers among them; more drivers
    keep b_X from absorbing correlated drivers). ``direct``: drivers also entered in the hazard
    model, so that a driver's effect on leaving *beyond* the score (e.g. price or billing
    errors) is counted and the score's hazard ratio is not confounded by it: ``"all"`` (default,
    every driver), a list, or ``()`` for the pure chain driver → score → churn. ``customers``: size of the
    base the result is scaled to (default: customers active at the end of observation, or the
    number of distinct customers in ``data``). ``years``: CLV horizon in years (None = lifetime).
    Values are in the currency of ``revenue``; ``margin`` turns revenue into margin.

    Ratings not given (``missing``): drivers are often asked of only some respondents (support
    items after a contact, onboarding in the first year); fitting on complete cases would then
    drop most answers. ``"auto"`` (default): a driver missing for more than
    :data:`ASKED_OF_SOME` (25 %) of the answers enters both the driver and the hazard link with a
    missing indicator (value set to the raters' mean plus a 0/1 ``<driver>[not rated]`` term), so
    its coefficient is its effect among those asked, an action changes only them, and no answer
    is dropped; sporadic item non-response below that share is handled by complete cases.
    ``"indicator"``: indicators for every driver with missing values; ``"complete"``: complete
    cases throughout. Every row left out of a link is counted in ``settings["excluded"]`` (rows
    and missing values per column) and announced by a :class:`CXWarning`; rows whose
    ``churned`` horizon is not yet observed are counted there too (not warned: their outcome
    is unknown, not missing).

    Sparse controls: a control level with fewer than ``min_events`` churn events in the hazard
    model's rows (or fewer than ``min_events`` churners or stayers in the baseline model's rows)
    has no estimable effect (zero events → infinite coefficient, and its bootstrap resamples
    lose their few events). Such levels are merged into the control's reference level (their
    coefficient is fixed at 0), with a :class:`CXWarning` naming the level and its counts; a
    control left with one level is dropped. Listed in ``settings["merged_levels"]``.

    Bootstrap draws whose refit fails (no finite maximum) are counted, not hidden:
    ``settings["failed_draws"]`` and ``settings["failed_share"]``; above ``max_failed`` (share)
    a :class:`CXWarning` says the intervals rest on the remaining draws and may be too narrow
    (the failures are the extreme resamples). ``settings["bootstrap"]`` is the number of
    successful draws.
    """
    from .value import clv_from_retention

    tqdm = progress_bar()

    acts = [_as_action(a) for a in (actions if isinstance(actions, (list, tuple)) else [actions])]
    if not acts:
        raise CXDataError("Give at least one action, e.g. [cx.whatif.raise_driver('price_value', 1)].")
    names = [a.name for a in acts]
    if len(set(names)) < len(names):
        raise CXDataError(f"Action names must be unique: {_preview(names)}.")
    drivers, controls = list(drivers), list(controls)
    direct = list(drivers) if isinstance(direct, str) and direct == "all" else _as_list(direct)
    unknown = [c for c in direct if c not in drivers]
    if unknown:
        raise CXDataError(f"direct= names {_preview(unknown)}, which are not among the drivers.")
    for a in acts:
        if a.driver is not None and a.driver not in drivers:
            raise CXDataError(f"Action {a.name!r} raises {a.driver!r}, which is not among the drivers "
                              f"{_preview(drivers, 12)} of the driver model. Add it to drivers=.")
    if not 0 < confidence < 1:
        raise CXDataError(f"confidence must be between 0 and 1, got {confidence!r}.")
    if missing not in ("auto", "indicator", "complete"):
        raise CXDataError(f"missing must be 'auto', 'indicator' or 'complete', not {missing!r}.")
    churned = churned or f"churn_{horizon:g}m"
    if not 0 <= max_failed <= 1:
        raise CXDataError(f"max_failed is a share between 0 and 1 (e.g. 0.05), got {max_failed!r}.")
    frame, n_base = _frame(data, horizon, customers)
    require_frame(frame, "data")
    needed = [score, *drivers, *controls, *direct, duration, event, churned, revenue]
    require_columns(frame, needed + ([cluster] if cluster else []), "data")

    # -- rows of each link; the bootstrap resamples clusters and reweights every link ----------
    frame = frame.reset_index(drop=True)
    clus = (pd.factorize(frame[cluster])[0] if cluster else np.arange(len(frame)))
    n_clus = clus.max() + 1
    notes = []
    answered = frame[score].notna()
    share_missing = frame.loc[answered, drivers].isna().mean()
    if missing == "complete":
        flagged = []
    elif missing == "indicator":
        flagged = [c for c in drivers if share_missing[c] > 0]
    else:
        flagged = [c for c in drivers if share_missing[c] > ASKED_OF_SOME]
    if flagged:
        notes.append("drivers asked of only some respondents, entered with a 'not rated' "
                     "indicator: " + ", ".join(f"{c} ({share_missing[c]:.0%} not rated)"
                                               for c in flagged))
    listwise = [c for c in drivers if c not in flagged]
    drv_cols = [score, *listwise]
    drv_rows = frame[drv_cols].notna().all(axis=1).to_numpy()
    haz_cols = [score, *controls, *[c for c in direct if c not in flagged], duration, event]
    haz_rows = frame[haz_cols].notna().all(axis=1).to_numpy()
    pop_cols = [score, *controls, revenue]
    pop_rows = frame[pop_cols].notna().all(axis=1).to_numpy()
    horizon_known = frame[churned].notna().to_numpy()
    excluded = {}
    for label, rows, cols in (("driver model", drv_rows, drv_cols),
                              ("hazard model", haz_rows, haz_cols),
                              ("baseline churn model / population", pop_rows, pop_cols)):
        if (rows & horizon_known if "population" in label else rows).sum() < 30:
            raise CXDataError(f"The {label} has only {rows.sum()} usable rows: too few. Missing "
                              f"values per column: {_missing_counts(frame, cols)}. Use fewer "
                              "drivers or fill the missing values.")
        if (~rows).any():
            by_col = _missing_counts(frame.loc[~rows], cols)
            excluded[label] = {"rows": int((~rows).sum()), "of": len(frame),
                               "missing_by_column": by_col}
            notes.append(f"{label}: {(~rows).sum():,} of {len(frame):,} rows left out for missing "
                         f"values ({', '.join(f'{c}: {k:,}' for c, k in by_col.items())})")
    if excluded:
        hint = "" if missing != "complete" else ("; missing='auto' keeps the answers of drivers "
                                                 "asked of only some respondents")
        warnings.warn("what-if chain: " + "; ".join(notes[len(notes) - len(excluded):])
                      + f". See settings['excluded']{hint}.", CXWarning, stacklevel=2)
    unknown = pop_rows & ~horizon_known
    if unknown.any():
        excluded["baseline churn model / population (outcome not yet observed)"] = {
            "rows": int(unknown.sum()), "of": len(frame), "missing_by_column": {churned: int(
                unknown.sum())}}
        notes.append(f"population: {unknown.sum():,} answers whose {churned!r} horizon is not yet "
                     "observed are left out (outcome unknown)")
    pop_rows = pop_rows & horizon_known
    # sparse control levels: merged into the reference, separately for each model's rows
    hz = frame.loc[haz_rows]
    hz, unrated = _fill_unrated(hz, [c for c in direct if c in flagged])
    if _ret.churn_flag(hz, event, "event flag").sum() == 0:
        raise CXDataError(f"{event!r} has no events in the hazard model's rows: no churn to link.")
    hz, h_controls, merged = _merge_sparse_levels(
        hz, controls, reference, {"churn events": _ret.churn_flag(hz, event, "event flag")},
        "hazard model", min_events)
    pop = frame.loc[pop_rows]
    yp_ = _ret.churn_flag(pop, churned)
    pop, p_controls, merged_p = _merge_sparse_levels(
        pop, controls, reference, {"churners": yp_, "stayers": 1 - yp_}, "baseline churn model",
        min_events)
    merged += merged_p
    for m in merged:
        notes.append(m["note"])
        warnings.warn(m["note"] + ".", CXWarning, stacklevel=2)
    score_v = _numeric(frame[score], f"Column {score!r}", scale=score_scale).to_numpy()
    for col in drivers:
        _numeric(frame[col], f"Driver {col!r}", scale=driver_scale)

    # driver link: OLS score ~ 1 + drivers (+ 'not rated' indicators, last)
    dr, d_unrated = _fill_unrated(frame.loc[drv_rows], flagged)
    Xd = np.column_stack([np.ones(drv_rows.sum()), dr[drivers].to_numpy(float),
                          d_unrated.to_numpy(float)])
    yd = score_v[drv_rows]
    # hazard link: Cox on score + controls + direct (first column = score)
    Xh_df, h_terms = _ret.design_matrix(hz, [score, *direct], h_controls, reference)
    if unrated.shape[1]:                      # indicators last: direct coefficients keep places
        Xh_df = pd.concat([Xh_df, unrated], axis=1)
        h_terms = pd.concat([h_terms, pd.DataFrame({"term": list(unrated.columns),
                                                    "variable": list(unrated.columns),
                                                    "role": "not rated", "reference": None})],
                            ignore_index=True)
    t = _ret.durations(hz, duration).to_numpy()
    e = _ret.churn_flag(hz, event, "event flag").to_numpy()
    if e.sum() == 0:
        raise CXDataError(f"{event!r} has no events in the hazard model's rows: no churn to link.")
    cox = _Cox(Xh_df.to_numpy(float), t, e)
    # baseline link: logistic churned ~ 1 + score + controls, on the population
    Xp_df, p_terms = _ret.design_matrix(pop, [score], p_controls, reference)
    Xp = np.column_stack([np.ones(len(pop)), Xp_df.to_numpy(float)])
    yp = _ret.churn_flag(pop, churned).to_numpy()
    if yp.sum() == 0 or yp.sum() == len(yp):
        raise CXDataError(f"{churned!r} has no churners (or only churners) in the population.")
    # the population's covariates and each action's per-row change
    pop_score = score_v[pop_rows]
    annual = 12 * _numeric(pop[revenue], f"Column {revenue!r}").to_numpy() * margin
    changes = _changes(acts, pop, pop_score, direct, driver_scale, score_scale)
    direct_idx = {c: 1 + i for i, c in enumerate(direct)}     # position in the Cox coefficients
    mix = np.array([1.0 if a.driver is not None else a.share for a in acts])

    hessians: dict[str, np.ndarray] = {}

    def evaluate(w_clus: np.ndarray | None, b_d0=None, b_h0=None, b_p0=None):
        wd = np.ones(len(yd)) if w_clus is None else w_clus[clus[drv_rows]]
        wh = np.ones(len(t)) if w_clus is None else w_clus[clus[haz_rows]]
        wp = np.ones(len(yp)) if w_clus is None else w_clus[clus[pop_rows]]
        b_d = _wls(Xd, yd, wd)
        if b_h0 is None:
            b_h, H_h = cox.fit(wh, np.zeros(Xh_df.shape[1]), tol=1e-12)
            hessians["cox"] = H_h
        else:
            b_h, _ = cox.fit(wh, b_h0, hessian=hessians["cox"])
        b_p = _logit(Xp, yp, wp, np.zeros(Xp.shape[1]) if b_p0 is None else b_p0)
        surv = 1 - 1 / (1 + np.exp(-(Xp @ b_p)))
        # per action (rows) and population member (columns): score change, new survival
        dscore = np.empty((len(acts), len(surv)))
        log_theta = np.empty_like(dscore)
        for i, (a, ch) in enumerate(zip(acts, changes)):
            if a.driver is not None:
                slope = b_d[1 + drivers.index(a.driver)]
                target = np.clip(pop_score + slope * ch["dx"], *score_scale)
                dscore[i] = target - pop_score
                log_theta[i] = b_h[0] * dscore[i]
                if a.driver in direct_idx:
                    log_theta[i] += b_h[direct_idx[a.driver]] * ch["dx"]
            else:
                dscore[i] = ch["dscore_if_moved"]       # if moved; applied with probability share
                log_theta[i] = b_h[0] * dscore[i]
        new_surv = surv ** np.exp(log_theta)
        clv = clv_from_retention(annual, np.vstack([surv, new_surv]), discount, years)
        wn = wp / wp.sum()
        mean_dscore = (dscore @ wn) * mix
        mean_dchurn = ((surv - new_surv) @ wn) * mix      # change in churn probability; < 0 = fewer leave
        mean_dclv = ((clv[1:] - clv[0]) @ wn) * mix
        out = np.column_stack([mean_dscore, 100 * mean_dchurn, -n_base * mean_dchurn,
                               n_base * mean_dclv])
        links = [b_h[0], *(b_d[1 + drivers.index(a.driver)] for a in acts if a.driver),
                 (1 - surv) @ wn]
        return out, b_d, b_h, b_p, np.array(links)

    est, b_d, b_h, b_p, link0 = evaluate(None)
    rng = np.random.default_rng(seed)
    B = int(bootstrap or 0)
    draws = np.full((B, len(acts), 4), np.nan)
    link_draws = np.full((B, len(link0)), np.nan)
    failed = 0
    for bi in tqdm(range(B), desc="what-if bootstrap", disable=not progress or B == 0):
        w_clus = rng.multinomial(n_clus, np.full(n_clus, 1 / n_clus)).astype(float)
        try:
            with np.errstate(all="ignore"):
                res, *_, lk = evaluate(w_clus, b_d, b_h.copy(), b_p.copy())
            if np.all(np.isfinite(res)):
                draws[bi], link_draws[bi] = res, lk
            else:
                failed += 1
        except np.linalg.LinAlgError:
            failed += 1
    failed_share = failed / B if B else 0.0
    if failed:
        notes.append(f"{failed} of {B} bootstrap draws ({failed_share:.1%}) could not be refitted "
                     "and were left out")
        if failed_share > max_failed:
            warnings.warn(f"{notes[-1]}: more than {max_failed:.0%}. The failed draws are the extreme "
                          "resamples (e.g. a control level or driver losing its few churn events), so "
                          "the intervals rest on the rest and may be too narrow. Use fewer direct "
                          "effects or controls (direct=(), controls=[]) or a larger base.",
                          CXWarning, stacklevel=2)
    alpha = (1 - confidence) / 2

    def interval(x):
        x = x[np.isfinite(x)]
        if len(x) < 2:
            return np.nan, np.nan
        return tuple(np.quantile(x, [alpha, 1 - alpha]))

    rows = []
    for i, a in enumerate(acts):
        row = {"action": a.name, "driver": a.driver or score,
               "change": a.delta if a.driver else a.share}
        for k, col in enumerate(["delta_score", "delta_churn", "retained", "delta_value"]):
            row[col] = est[i, k]
            row[f"{col}_ci_low"], row[f"{col}_ci_high"] = interval(draws[:, i, k])
        net = draws[:, i, 3] - a.cost
        row["cost"] = a.cost
        row["net_value"] = est[i, 3] - a.cost
        row["net_ci_low"], row["net_ci_high"] = interval(net)
        row["roi"] = (est[i, 3] - a.cost) / a.cost if a.cost > 0 else np.nan
        row["prob_positive"] = float(np.mean(net[np.isfinite(net)] > 0)) if B else np.nan
        rows.append(row)
    table = pd.DataFrame(rows)
    table.insert(0, "rank", table["net_value"].rank(ascending=False, method="min").astype(int))
    table = table.sort_values("rank", kind="stable").reset_index(drop=True)

    link_names = ([f"hazard ratio per {score} point"]
                  + [f"{score} points per {a.driver} point" for a in acts if a.driver]
                  + [f"baseline churn within {horizon:g} months (%)"])
    link_est = np.r_[np.exp(link0[0]), link0[1:-1], 100 * link0[-1]]
    lows, highs = [], []
    for k in range(len(link0)):
        lo, hi = interval(link_draws[:, k])
        if k == 0:
            lo, hi = np.exp(lo), np.exp(hi)
        elif k == len(link0) - 1:
            lo, hi = 100 * lo, 100 * hi
        lows.append(lo)
        highs.append(hi)
    links = pd.DataFrame({"link": link_names, "estimate": link_est, "ci_low": lows, "ci_high": highs})
    links = links.drop_duplicates("link").reset_index(drop=True)
    long = pd.DataFrame([{"draw": b, "action": a.name, "delta_score": draws[b, i, 0],
                          "delta_churn": draws[b, i, 1], "retained": draws[b, i, 2],
                          "delta_value": draws[b, i, 3], "net_value": draws[b, i, 3] - a.cost}
                         for b in range(B) for i, a in enumerate(acts)])
    settings = {"customers": n_base, "horizon_months": horizon, "years": years, "margin": margin,
                "discount": discount, "bootstrap": B - failed, "failed_draws": failed,
                "failed_share": failed_share, "merged_levels": merged, "confidence": confidence,
                "seed": seed, "n_driver_model": int(drv_rows.sum()),
                "n_hazard_model": int(haz_rows.sum()), "events_hazard_model": int(e.sum()),
                "n_population": int(pop_rows.sum()), "missing": missing,
                "not_rated_indicator": flagged,
                "excluded": excluded, "notes": notes,
                "coefficients": {"driver_model": dict(zip(["Intercept", *drivers,
                                                           *d_unrated.columns], b_d)),
                                 "hazard_model": dict(zip(h_terms["term"], b_h)),
                                 "baseline_model": dict(zip(["Intercept", *p_terms["term"]], b_p))}}
    return WhatIfResult(table, links, long, settings)


def _missing_counts(df: pd.DataFrame, columns: Sequence[str]) -> dict[str, int]:
    """Missing values per column (only columns with some), in the order given."""
    counts = df[list(dict.fromkeys(columns))].isna().sum()
    return {c: int(k) for c, k in counts.items() if k}


def _merge_sparse_levels(df, controls, reference, counts: Mapping[str, np.ndarray], model: str,
                         min_events: int):
    """Merge control levels of ``df`` (one model's rows) with fewer than ``min_events`` of any of
    ``counts`` (name → 0/1 per row, e.g. churn events) into the control's reference level; drop
    a control left with a single level. Returns (df, controls, records with a note each)."""
    reference = dict(reference or {})
    merged, kept = [], []
    for col in controls:
        s = df[col]
        if not _ret.is_categorical(s):
            kept.append(col)
            continue
        lab = s.astype(str).where(s.notna())
        n = lab.value_counts()
        ref = str(reference[col]) if col in reference else str(n.idxmax())
        tallies = {k: pd.Series(np.asarray(v, float), index=df.index).groupby(lab).sum()
                   for k, v in counts.items()}
        sparse = []
        for lv in n.index:
            got = {k: int(t.get(lv, 0)) for k, t in tallies.items()}
            if lv != ref and min(got.values()) < min_events:
                sparse.append(lv)
                what = ", ".join(f"{v} {k}" for k, v in got.items())
                merged.append({"model": model, "control": col, "level": lv, "into": ref,
                               "rows": int(n[lv]), **got,
                               "note": f"{model}: level {lv!r} of {col!r} has {what} (fewer than "
                                       f"min_events={min_events}): merged into the reference "
                                       f"level {ref!r}"})
        if sparse:
            lab = lab.where(~lab.isin(sparse), ref)
            df = df.assign(**{col: lab})
        if lab.nunique() < 2:
            merged.append({"model": model, "control": col, "level": None, "into": None,
                           "rows": len(df), "note": f"{model}: control {col!r} dropped, a single "
                                                    "level is left after merging sparse levels"})
            continue
        kept.append(col)
    return df, kept, merged


def _frame(data, horizon, customers):
    """The episode frame and the size of the customer base."""
    if isinstance(data, pd.DataFrame):
        n = customers if customers is not None else (
            data["customer_id"].nunique() if "customer_id" in data.columns else len(data))
        return data, float(n)
    if not hasattr(data, "survey") or not hasattr(data, "customers"):
        raise CXDataError("data must be a company (with .customers and .survey) or a DataFrame "
                          "from cx.retention.analysis_frame(...).")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CXWarning)
        frame = _ret.analysis_frame(data, responses="all", follow_up="quarter", horizon=horizon)
    if customers is None:
        customers = float((_ret.churn_flag(data.customers, "churned") == 0).sum())
    return frame, float(customers)


def _changes(acts, pop, pop_score, direct, driver_scale, score_scale):
    """Per population row: the driver change of each action (capped at the scale's top; rows
    that did not rate the driver are not touched), or the score change if moved to passive."""
    out = []
    for a in acts:
        if a.driver is not None:
            x = pd.to_numeric(pop[a.driver], errors="coerce").to_numpy(float)
            dx = np.clip(x + a.delta, *driver_scale) - x
            out.append({"dx": np.where(np.isnan(x), 0.0, dx)})
        else:
            out.append({"dscore_if_moved": np.where(pop_score <= 6, 7 - pop_score, 0.0)})
    return out

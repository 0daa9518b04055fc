"""Cascade goals to the front line: company target → driver targets → team targets, whether the
call-quality scorecard measures what drives customer satisfaction, and team engagement vs CSAT.

    import cxlab as cx
    from cxlab import frontline
    k = cx.datasets.load("kestrel")
    frontline.cascade_targets(teams, company_target=80).summary()      # team targets
    frontline.driver_targets(k.survey, "ltr", drivers, change=0.3).summary()
    frontline.scorecard_validity(k.contacts).summary()                   # items that drive CSAT
    frontline.engagement_link(k.pulse, k.contacts).summary()             # 12 teams: wide interval

Methods:

* **Team targets** (:func:`cascade_targets`): *equal uplift*. With unit values ``v_i`` and weights
  ``n_i`` (answers or contacts) the company now is ``v̄ = Σ n_i v_i / Σ n_i``; every unit gets
  ``t_i = v_i + (T − v̄)``. Then ``Σ n_i t_i / Σ n_i = T``: if every unit meets its target (with
  the same weights) the company meets its own. ``rule="gap"`` instead closes the same share
  ``g`` of every unit's gap to the top of the scale, ``t_i = v_i + g (high − v_i)`` with
  ``g = (T − v̄)/(high − v̄)``: the same property holds (weighted mean is linear), weaker units
  are asked for more, and no target passes the top of the scale.
* **Driver targets** (:func:`driver_targets`): the outcome's OLS slopes ``b_j`` on the drivers
  (listwise rows) and their LMG shares ``s_j`` (:func:`cxlab.drivers.relative_importance`). The
  required outcome change ``Δ`` is split by importance, ``Δ_j = s_j Δ / Σ s``, and driver ``j``
  must rise by ``Δ_j / b_j`` rating points; so ``Σ b_j · (Δ_j / b_j) = Δ``: if every driver
  meets its target the model's outcome meets its own. :func:`nps_shift` converts an NPS target
  into the shift of the mean 0–10 answer it needs (integer answers spread uniformly over ±0.5).
* **Scorecard validity** (:func:`scorecard_validity`): on contacts that were quality-evaluated
  *and* answered the post-contact survey, LMG relative importance of the scorecard items for the
  outcome with bootstrap intervals (:func:`cxlab.drivers.analyze`), the OLS slope of each item
  with HC3 intervals, and each item's mean score. An item is flagged *scored but not shown to
  drive* when its slope's interval includes 0 or lies below it (a correlated item can take a
  share of R² without an effect of its own, so the slope, not the share, decides).
* **Engagement link** (:func:`engagement_link`): team mean engagement (pulse) against team CSAT
  (share 4–5, or mean 1–5), pooled over the chosen waves: Pearson r with a Fisher-z interval and a
  weighted least-squares slope (weights: CSAT answers) with a t interval on n − 2 df. With
  ``unit="team_wave"`` one point per team-quarter, standard errors clustered by team.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import intervals
from .checks import CXDataError, CXWarning, require_columns, require_frame
from .contract import CONFIDENCE, QA_ITEMS
from .display import result_html

__all__ = [
    "QA_ITEMS",
    "CascadeResult",
    "DriverTargets",
    "EngagementLink",
    "ScorecardValidity",
    "cascade_targets",
    "driver_targets",
    "engagement_link",
    "nps_shift",
    "scorecard_validity",
    "team_csat",
]


def _label(item: str) -> str:
    return item.removeprefix("qa_").replace("_", " ").replace("selfservice", "self-service")


# ============================================================ company target -> team targets

@dataclass(repr=False)
class CascadeResult:
    """Team (unit) targets from a company target. ``table``: unit, value, n, uplift, target."""
    table: pd.DataFrame
    company_now: float
    company_target: float
    rule: str
    unit: str = "team"

    def __repr__(self) -> str:
        return (f"CascadeResult({len(self.table)} {self.unit}s: company {self.company_now:.1f} -> "
                f"target {self.company_target:.1f}, rule {self.rule!r})")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def company_if_met(self) -> float:
        """The company value if every unit meets its target exactly (same weights)."""
        ok = self.table["target"].notna()
        return float(np.average(self.table.loc[ok, "target"], weights=self.table.loc[ok, "n"]))

    def plot(self, *, ax=None, xlabel: str = "value"):
        """Dumbbell: each unit's value now → its target, company now and target as lines."""
        import matplotlib.pyplot as plt
        t = self.table.dropna(subset=["target"]).sort_values("value")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.35 * len(t) + 1.8))
        y = np.arange(len(t))
        ax.hlines(y, t["value"], t["target"], color="0.6", lw=2)
        ax.scatter(t["value"], y, color="C0", zorder=3, label="now")
        ax.scatter(t["target"], y, color="C1", marker="D", zorder=3, label="target")
        ax.axvline(self.company_now, color="C0", ls=":", lw=1.5, label="company now")
        ax.axvline(self.company_target, color="C1", ls="--", lw=1.5, label="company target")
        ax.set_yticks(y, t[self.unit].astype(str))
        ax.set_xlabel(xlabel)
        ax.set_ylabel("")
        ax.legend(fontsize=10, loc="lower right", frameon=True)
        return ax


def cascade_targets(current: pd.DataFrame, company_target: float, low: float = 0.0,
                    high: float = 100.0, rule: str = "uplift", unit: str = "team") -> CascadeResult:
    """Cascade a company target to units (teams, regions).

    ``current``: one row per unit with ``value`` (the unit's KPI now) and ``n`` (its weight:
    answers or contacts). ``rule="uplift"`` (default): every unit gets the company's uplift,
    ``target = value + (company_target − company_now)``; ``rule="gap"``: every unit closes the
    same share of its gap to ``high``. Either way, with weights ``n`` the mean of the targets is
    the company target (if every unit meets its target the company meets its own) unless a
    target is clipped to [low, high] (uplift rule only; then a warning says so). Units without a
    value (or n = 0) keep target NaN and are reported in ``table["note"]``.
    """
    cur = require_frame(current, "current").copy()
    require_columns(cur, ["value", "n"], "current")
    if rule not in ("uplift", "gap"):
        raise CXDataError(f"rule must be 'uplift' or 'gap'; got {rule!r}.")
    if not low <= company_target <= high:
        raise CXDataError(f"company_target {company_target} is outside the scale {low}–{high}.")
    ok = cur["value"].notna() & (cur["n"] > 0)
    if not ok.any():
        raise CXDataError("No unit has a value to cascade the target to (column 'value' is empty "
                          "or every 'n' is 0).")
    now = float(np.average(cur.loc[ok, "value"], weights=cur.loc[ok, "n"]))
    T = float(company_target)
    if rule == "uplift":
        raw = cur["value"] + (T - now)
    else:
        if now >= high:
            raise CXDataError("The company is already at the top of the scale: no gap to close.")
        g = (T - now) / (high - now)
        raw = cur["value"] + g * (high - cur["value"])
    target = raw.clip(low, high)
    clipped = ok & (target != raw)
    if clipped.any():
        names = cur.loc[clipped, unit].tolist() if unit in cur else list(cur.index[clipped])
        warnings.warn(f"Targets of {names} were clipped to the scale {low}–{high}; if every unit "
                      "meets its target the company falls slightly short of its own.", CXWarning,
                      stacklevel=2)
    cur["uplift"] = np.where(ok, target - cur["value"], np.nan)
    cur["target"] = np.where(ok, target, np.nan)
    cur["note"] = np.where(ok, "", "no value: no target")
    cur.attrs.update(company_now=now, company_target=T)   # read by report.team_scorecard's test
    return CascadeResult(cur, now, T, rule, unit)


def team_csat(contacts: pd.DataFrame, wave: str | Sequence[str] | None = None,
              by: str = "team") -> pd.DataFrame:
    """Post-contact CSAT (share of answers 4–5, in %) per team: team, n (answers), value."""
    require_columns(contacts, [by, "csat"], "contacts")
    c = contacts
    if wave is not None:
        waves = [wave] if isinstance(wave, str) else list(wave)
        c = c.loc[c["wave"].astype(str).isin(waves)]
    c = c.dropna(subset=["csat"])
    g = c.assign(top=(c["csat"] >= 4) * 100.0).groupby(by)["top"]
    return pd.DataFrame({"n": g.size(), "value": g.mean()}).reset_index()


# ============================================================ company target -> driver targets

def nps_shift(scores, target_nps: float) -> float:
    """The shift δ of every 0–10 answer that moves NPS to ``target_nps``.

    Each integer answer s is spread uniformly over [s − 0.5, s + 0.5] (so NPS is a continuous,
    increasing function of δ): promoters are the mass above 8.5, detractors below 6.5. Solved
    by bisection; δ is in answer points (= the change in the mean answer needed).
    """
    s = pd.Series(scores, dtype="float64").dropna().to_numpy()
    if len(s) == 0:
        raise CXDataError("nps_shift needs at least one 0–10 answer.")

    def nps_at(d):
        x = s + d
        pro = np.clip(x + 0.5 - 8.5, 0, 1)
        det = np.clip(6.5 - (x - 0.5), 0, 1)
        return 100 * (pro.mean() - det.mean())

    if not nps_at(-11) < target_nps < nps_at(11):
        raise CXDataError(f"target_nps must be between -100 and 100; got {target_nps}.")
    lo, hi = -11.0, 11.0
    for _ in range(80):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if nps_at(mid) < target_nps else (lo, mid)
    return (lo + hi) / 2


@dataclass(repr=False)
class DriverTargets:
    """Driver targets from an outcome target. ``table`` per driver: slope, share, contribution
    (outcome points), change (driver points), now (mean rating), target (rating)."""
    table: pd.DataFrame
    outcome: str
    change: float
    n: int
    r2: float

    def __repr__(self) -> str:
        return (f"DriverTargets({self.outcome!r} {self.change:+g}: {len(self.table)} drivers, "
                f"n = {self.n:,})")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def predicted_change(self) -> float:
        """Σ slope × driver change: equals ``change`` when every driver meets its target."""
        t = self.table
        return float((t["slope"] * t["change"]).sum())

    def plot(self, *, ax=None):
        import matplotlib.pyplot as plt
        t = self.table.sort_values("change")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 0.4 * len(t) + 1.5))
        ax.barh([_label(d) for d in t.index], t["change"], color="C1")
        ax.set_xlabel("rating points the driver must rise (mean, 1–10)")
        ax.set_title(f"Driver targets for {self.outcome} {self.change:+.2f}")
        return ax


def driver_targets(survey: pd.DataFrame, outcome: str, drivers: Sequence[str], *,
                   change: float | None = None, target: float | None = None,
                   scale: tuple[float, float] = (1, 10)) -> DriverTargets:
    """Split a required change in the outcome's mean into driver targets.

    Give ``change`` (outcome points) or ``target`` (the outcome's mean to reach). OLS of the
    outcome on the drivers (listwise rows; the count excluded is reported in a warning) gives
    slopes ``b_j``; LMG shares ``s_j`` split the change, ``Δ_j = s_j Δ / Σ s``; driver j must rise
    ``Δ_j / b_j`` points. A driver with a slope ≤ 0 gets no target (its share goes to the others).
    A driver target above the top of ``scale`` is reported in ``note`` (not reachable).
    """
    from .drivers import relative_importance
    if change is None and target is None or change is not None and target is not None:
        raise CXDataError("Give either change= (outcome points) or target= (outcome mean).")
    require_columns(survey, [outcome, *drivers], "survey")
    used = survey[[outcome, *drivers]].apply(pd.to_numeric, errors="coerce").dropna()
    dropped = len(survey) - len(used)
    if dropped:
        warnings.warn(f"driver_targets: {dropped:,} of {len(survey):,} rows lack {outcome!r} or a "
                      "driver rating and were left out (listwise).", CXWarning, stacklevel=2)
    if len(used) < 10 * (len(drivers) + 1):
        raise CXDataError(f"driver_targets needs at least {10 * (len(drivers) + 1)} complete rows; "
                          f"got {len(used)}.")
    X = np.column_stack([np.ones(len(used)), used[list(drivers)].to_numpy()])
    y = used[outcome].to_numpy()
    beta = np.linalg.lstsq(X, y, rcond=None)[0][1:]
    delta = float(change) if change is not None else float(target) - float(y.mean())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CXWarning)
        imp = relative_importance(used, outcome, list(drivers))["importance"]
    share = imp.reindex(list(drivers)).clip(lower=0).to_numpy()
    share = np.where(beta > 0, share, 0.0)
    if share.sum() <= 0:
        raise CXDataError("No driver has a positive slope: no driver target can be set.")
    share = share / share.sum()
    contrib = share * delta
    chg = np.where(share > 0, contrib / np.where(beta > 0, beta, np.nan), 0.0)
    now = used[list(drivers)].mean().to_numpy()
    tab = pd.DataFrame({"slope": beta, "share": share, "contribution": contrib, "change": chg,
                        "now": now, "target": now + chg}, index=pd.Index(list(drivers), name="driver"))
    tab["note"] = np.where(tab["target"] > scale[1], "above the top of the scale", "")
    tab.loc[beta <= 0, "note"] = "no positive slope: no target"
    r2 = 1 - np.var(y - X @ np.linalg.lstsq(X, y, rcond=None)[0]) / np.var(y)
    return DriverTargets(tab.sort_values("share", ascending=False), outcome, delta, len(used),
                         float(r2))


# ============================================================ is the scorecard valid?

@dataclass(repr=False)
class ScorecardValidity:
    """Does the call-quality scorecard measure what drives the outcome?

    ``table`` per item: mean score, LMG share with interval, OLS slope with interval, and
    ``drives`` (slope interval above 0). ``drivers`` is the :class:`cxlab.drivers.DriverResult`.
    """
    table: pd.DataFrame
    drivers: object
    outcome: str
    n: int
    n_evaluated: int
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return (f"ScorecardValidity({self.outcome!r}: {len(self.table)} items, n = {self.n:,} of "
                f"{self.n_evaluated:,} evaluated)")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    @property
    def scored_not_driving(self) -> list[str]:
        """Items scored on the scorecard but not shown to drive the outcome."""
        return [i for i in self.table.index if not self.table.loc[i, "drives"]]

    def plot(self, *, ax=None):
        """Each item's effect on the outcome (OLS slope with interval), flagged items in grey."""
        import matplotlib.pyplot as plt
        t = self.table.sort_values("slope")
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5))
        y = np.arange(len(t))
        colors = ["C0" if d else "0.55" for d in t["drives"]]
        ax.hlines(y, t["slope_ci_low"], t["slope_ci_high"], color=colors, lw=3)
        ax.scatter(t["slope"], y, color=colors, zorder=3, s=50)
        ax.axvline(0, color="k", lw=1)
        ax.set_yticks(y, [_label(i) for i in t.index])
        name = self.outcome.upper() if len(self.outcome) <= 4 else self.outcome
        ax.set_xlabel(f"change in mean {name} per scorecard point (95% CI)")
        ax.set_title("Which scorecard items drive satisfaction (grey: scored, not driving)")
        return ax


def scorecard_validity(contacts: pd.DataFrame, outcome: str = "csat",
                       items: Sequence[str] = QA_ITEMS, *, bootstrap: int = 200, seed: int = 0,
                       confidence: float = CONFIDENCE, min_base: int = 100,
                       progress: bool = False) -> ScorecardValidity:
    """Contact-level driver analysis of the scorecard items for ``outcome``.

    Rows: contacts evaluated on every item and with an ``outcome`` answer (the count of others is
    in ``notes``). LMG shares with bootstrap percentile intervals (``cxlab.drivers.analyze``),
    OLS slopes with HC3 intervals (statsmodels), mean item scores over all evaluated contacts.
    ``min_base``: fewest such contacts to analyse (100: a model of seven items needs more than
    the reporting minimum :data:`cxlab.contract.MIN_BASE`).
    """
    import statsmodels.api as sm

    from .drivers import analyze
    items = list(items)
    require_columns(contacts, [outcome, *items], "contacts")
    evaluated = contacts.dropna(subset=items, how="all")
    used = contacts[[outcome, *items]].apply(pd.to_numeric, errors="coerce").dropna()
    notes = [(f"{len(used):,} of {len(contacts):,} contacts were evaluated on every item and "
              f"answered {outcome!r}; the rest are left out.")]
    if len(used) < min_base:
        raise CXDataError(f"scorecard_validity needs at least {min_base} contacts evaluated on every "
                          f"item with an {outcome!r} answer; got {len(used)}.")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CXWarning)
        res = analyze(used, outcome, items, bootstrap=bootstrap, seed=seed, confidence=confidence,
                      progress=progress)
    fit = sm.OLS(used[outcome].to_numpy(float), sm.add_constant(used[items].to_numpy(float))
                 ).fit(cov_type="HC3")
    ci = np.asarray(fit.conf_int(alpha=1 - confidence))[1:]
    imp = res.importance
    tab = pd.DataFrame({
        "mean_score": evaluated[items].mean(), "evaluated": evaluated[items].notna().sum(),
        "share": imp["share"], "share_ci_low": imp.get("share_ci_low", np.nan),
        "share_ci_high": imp.get("share_ci_high", np.nan),
        "slope": np.asarray(fit.params)[1:], "slope_ci_low": ci[:, 0], "slope_ci_high": ci[:, 1]},
        index=pd.Index(items, name="item"))
    tab["drives"] = tab["slope_ci_low"] > 0
    return ScorecardValidity(tab.sort_values("share", ascending=False), res, outcome, len(used),
                             len(evaluated), notes)


# ============================================================ engagement vs CSAT

@dataclass(repr=False)
class EngagementLink:
    """Team engagement against team CSAT. ``points``: one row per team (or team-quarter)."""
    points: pd.DataFrame
    r: float
    r_ci: tuple[float, float]
    slope: float
    ci_low: float
    ci_high: float
    intercept: float
    unit: str
    outcome: str
    confidence: float

    @property
    def level(self) -> str:
        """Deprecated name of :attr:`unit`."""
        return self.unit

    @property
    def teams(self) -> int:
        return int(self.points["team"].nunique())

    def __repr__(self) -> str:
        return (f"EngagementLink({self.outcome!r} per {self.unit}: {len(self.points)} points, "
                f"r = {self.r:.2f}, slope {self.slope:.2f} ({self.ci_low:.2f} to {self.ci_high:.2f}))")

    _repr_html_ = result_html

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "unit": self.unit, "points": len(self.points), "teams": self.teams,
            "r": self.r, "r_ci_low": self.r_ci[0], "r_ci_high": self.r_ci[1],
            "slope": self.slope, "slope_ci_low": self.ci_low, "slope_ci_high": self.ci_high}])

    def as_dict(self) -> dict:
        return {"slope": self.slope, "ci_low": self.ci_low, "ci_high": self.ci_high,
                "points": len(self.points), "teams": self.teams}

    def plot(self, *, ax=None):
        """Scatter of the points (size ∝ CSAT answers) with the fitted line and team labels."""
        import matplotlib.pyplot as plt
        p = self.points
        if ax is None:
            _, ax = plt.subplots(figsize=(8, 4.5))
        ax.scatter(p["engagement"], p["csat"], s=20 + 200 * p["n_csat"] / p["n_csat"].max(),
                   alpha=0.7, color="C0", edgecolor="white")
        ax.margins(x=0.12, y=0.1)
        xs = np.linspace(p["engagement"].min(), p["engagement"].max(), 50)
        ax.plot(xs, self.intercept + self.slope * xs, color="C1", lw=2)
        if self.unit == "team":
            _label_points(ax, p["engagement"].to_numpy(float), p["csat"].to_numpy(float),
                          p["team"].astype(str).tolist())
        unit = "% answers 4–5" if self.outcome == "top2" else "mean 1–5"
        ax.set_xlabel("team engagement (pulse mean, 1–5)")
        ax.set_ylabel(f"post-contact CSAT ({unit})")
        pct = round(100 * self.confidence)
        ax.set_title(f"r = {self.r:.2f} ({pct}% CI {self.r_ci[0]:.2f} to {self.r_ci[1]:.2f}), "
                     f"{len(p)} points")
        return ax


def _label_points(ax, x, y, names, fontsize: int = 11) -> None:
    """Label scatter points, each label in the first place (right or left, above or below,
    further away if needed, then with a thin leader line) whose approximate box (in axes
    fractions) overlaps no point and no label placed before it."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    fx, fy = (x - x0) / (x1 - x0), (y - y0) / (y1 - y0)
    dot = [(a - 0.012, b - 0.02, a + 0.012, b + 0.02) for a, b in zip(fx, fy)]
    placed = []

    def free(box, own):
        return 0 <= box[0] and box[2] <= 1 and 0 <= box[1] and box[3] <= 1 and not any(
            box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3]
            for k, b in enumerate(placed + dot) if k != len(placed) + own)

    for i in np.argsort(-fy):
        w, h = 0.0115 * len(names[i]) * fontsize / 11, 0.055
        options = [(sx * 0.015, dy, sx) for dy in (-h / 2, 0.012, -h - 0.012, 0.07, -h - 0.07,
                                                   0.13, -h - 0.13) for sx in (1, -1)]
        for dx, dy, sx in options:
            left = fx[i] + dx if sx > 0 else fx[i] + dx - w
            box = (left, fy[i] + dy, left + w, fy[i] + dy + h)
            if free(box, i):
                break
        placed.append(box)
        far = dy != -h / 2          # not beside the point: draw a leader line
        ax.annotate(names[i], (x[i], y[i]), xytext=(box[0] if sx > 0 else box[2], box[1] + h / 2),
                    textcoords="axes fraction", ha="left" if sx > 0 else "right", va="center",
                    fontsize=fontsize,
                    arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.8} if far else None)


def engagement_link(pulse: pd.DataFrame, contacts: pd.DataFrame, *, waves=None,
                    unit: str = "team", outcome: str = "top2", confidence: float = CONFIDENCE,
                    min_pulse: int = 3, min_csat: int = 10, level: str | None = None
                    ) -> EngagementLink:
    """Team engagement (pulse mean) against team post-contact CSAT.

    ``unit="team"``: one point per team pooled over ``waves`` (default: waves present in both
    tables); ``"team_wave"``: one point per team-quarter, standard errors clustered by team.
    (``level=`` is the old name of ``unit``, kept for one release with a DeprecationWarning.)
    ``outcome="top2"`` (% of answers 4–5) or ``"mean"`` (1–5). Points with fewer than
    ``min_pulse`` pulse answers or ``min_csat`` CSAT answers are left out. Pearson r with a
    Fisher-z interval (on the number of points; clustered points make it optimistic), WLS slope
    (weights: CSAT answers) with a t interval on points − 2 df (team) or clustered by team.
    """
    import statsmodels.api as sm
    require_columns(pulse, ["team", "wave", "engagement"], "pulse")
    require_columns(contacts, ["team", "wave", "csat"], "contacts")
    if level is not None:
        warnings.warn("engagement_link(level=...) is now engagement_link(unit=...); level will "
                      "be removed in the next release.", DeprecationWarning, stacklevel=2)
        unit = level
    if unit not in ("team", "team_wave") or outcome not in ("top2", "mean"):
        raise CXDataError("unit must be 'team' or 'team_wave'; outcome 'top2' or 'mean'.")
    p = pulse.assign(team=pulse["team"].astype(str), wave=pulse["wave"].astype(str))
    c = contacts.dropna(subset=["csat"])
    c = c.assign(team=c["team"].astype(str), wave=c["wave"].astype(str))
    if waves is None:
        waves = sorted(set(p["wave"]) & set(c["wave"]))
    waves = [waves] if isinstance(waves, str) else list(waves)
    p, c = p.loc[p["wave"].isin(waves)], c.loc[c["wave"].isin(waves)]
    c = c.assign(y=(c["csat"] >= 4) * 100.0 if outcome == "top2" else c["csat"].astype(float))
    keys = ["team"] if unit == "team" else ["team", "wave"]
    eng = p.groupby(keys)["engagement"].agg(engagement="mean", n_pulse="size")
    cs = c.groupby(keys)["y"].agg(csat="mean", n_csat="size")
    pts = eng.join(cs, how="inner").reset_index()
    pts = pts.loc[(pts["n_pulse"] >= min_pulse) & (pts["n_csat"] >= min_csat)]
    if len(pts) < 4:
        raise CXDataError(f"engagement_link needs at least 4 {unit} points with ≥ {min_pulse} "
                          f"pulse and ≥ {min_csat} CSAT answers; got {len(pts)}.")
    X = sm.add_constant(pts["engagement"].to_numpy(float))
    y = pts["csat"].to_numpy(float)
    w = pts["n_csat"].to_numpy(float)
    if unit == "team":
        fit = sm.WLS(y, X, weights=w).fit()
    else:
        fit = sm.WLS(y, X, weights=w).fit(cov_type="cluster",
                                          cov_kwds={"groups": pd.factorize(pts["team"])[0]})
    lo, hi = np.asarray(fit.conf_int(alpha=1 - confidence))[1]
    r = float(np.corrcoef(pts["engagement"], y)[0, 1])
    z, se = np.arctanh(r), 1 / np.sqrt(len(pts) - 3) if len(pts) > 3 else np.inf
    q = intervals.z_value(confidence)
    params = np.asarray(fit.params)
    return EngagementLink(pts.reset_index(drop=True), r,
                          (float(np.tanh(z - q * se)), float(np.tanh(z + q * se))),
                          float(params[1]), float(lo), float(hi), float(params[0]), unit, outcome,
                          confidence)

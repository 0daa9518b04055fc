"""The figures of cxlab: small functions that take a result table and return a matplotlib Axes.

Sections follow the modules (drivers, value, metrics, retention, study). Result objects call these
from their ``.plot()`` methods; notebooks and reports may call them directly. matplotlib is imported
inside each function so that ``import cxlab`` stays fast for command-line and batch use.
"""


# ---- key driver analysis (cxlab.drivers) -------------------------------------------------------

def driver_importance(table, *, ax=None, value: str = "share", title: str | None = None):
    """Horizontal bars of driver importance with bootstrap intervals, most important on top.

    ``table`` is ``DriverResult.importance`` (or ``relative_importance(...)``); ``value`` is
    ``"share"`` (share of explained variance, intervals ``share_ci_low/high``) or ``"importance"``
    (raw share of R², intervals ``ci_low/high``). Returns the matplotlib Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    lo_col, hi_col = ("share_ci_low", "share_ci_high") if value == "share" else ("ci_low", "ci_high")
    t = table.sort_values(value, ascending=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.35 * len(t) + 1.2))
    y = np.arange(len(t))
    ax.barh(y, t[value], color="#4C72B0", alpha=0.85)
    if lo_col in t and t[lo_col].notna().all():
        err = np.vstack([t[value] - t[lo_col], t[hi_col] - t[value]])
        ax.errorbar(t[value], y, xerr=np.clip(err, 0, None), fmt="none", ecolor="#222222",
                    capsize=3, lw=1)
    ax.set_yticks(y, [str(i) for i in t.index])
    ax.set_xlabel("share of explained variance" if value == "share" else "importance (share of R²)")
    if value == "share":
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    if title:
        ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    return ax


def quadrant(frame, *, ax=None, title: str | None = None, importance_cut: float | None = None,
             performance_cut: float | None = None, performance_label: str | None = None,
             outcome: str | None = None):
    """Importance × performance map: performance on x, importance share on y, split at the
    cuts, each driver labelled and coloured by quadrant.

    ``frame``: a driver result (its ``quadrant()`` is drawn) or the table ``quadrant()``
    returns. The cuts and labels are explicit arguments; left out, they are read from what the
    table carries (``DriverResult.quadrant()`` records them), else the mean importance and
    performance are used.
    """
    import matplotlib.pyplot as plt

    if hasattr(frame, "quadrant") and callable(frame.quadrant):
        outcome = outcome or getattr(frame, "outcome", None)
        frame = frame.quadrant()
    meta = getattr(frame, "attrs", {}) or {}
    icut = importance_cut if importance_cut is not None else meta.get(
        "importance_cut", frame["importance"].mean())
    pcut = performance_cut if performance_cut is not None else meta.get(
        "performance_cut", frame["performance"].mean())
    plabel = performance_label or meta.get("performance_label", "mean rating")
    outcome = outcome or meta.get("outcome")

    colors = {"Fix": "#C44E52", "Maintain": "#55A868", "Monitor": "#8C8C8C",
              "Don't over-invest": "#DD8452"}
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 5.5))
    for label, part in frame.groupby("quadrant", sort=False):
        ax.scatter(part["performance"], part["importance"], s=60, label=label,
                   color=colors.get(label, "#4C72B0"), zorder=3)
        if {"share_ci_low", "share_ci_high"} <= set(part.columns) and part["share_ci_low"].notna().all():
            ax.vlines(part["performance"], part["share_ci_low"], part["share_ci_high"],
                      color=colors.get(label, "#4C72B0"), alpha=0.5, zorder=2)
    for name, row in frame.iterrows():
        ax.annotate(str(name), (row["performance"], row["importance"]), xytext=(4, 4),
                    textcoords="offset points", fontsize="small")
    ax.axhline(icut, color="#444444", lw=0.8, ls="--")
    ax.axvline(pcut, color="#444444", lw=0.8, ls="--")
    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    style = {"fontsize": "small", "alpha": 0.7, "fontweight": "bold"}
    ax.text(x0, y1, " Fix", va="top", ha="left", color=colors["Fix"], **style)
    ax.text(x1, y1, "Maintain ", va="top", ha="right", color=colors["Maintain"], **style)
    ax.text(x0, y0, " Monitor", va="bottom", ha="left", color=colors["Monitor"], **style)
    ax.text(x1, y0, "Don't over-invest ", va="bottom", ha="right",
            color=colors["Don't over-invest"], **style)
    ax.set_xlabel(f"performance ({plabel})")
    ax.set_ylabel("importance (share of explained variance)")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_title(title or "Importance × performance"
                 + (f" for {outcome}" if outcome else ""))
    ax.legend(loc="best", fontsize="small", frameon=False)
    return ax


def driver_importance_by_segment(long, *, ax=None, value: str = "share"):
    """Grouped horizontal bars of each driver's importance by segment, from
    ``SegmentedDriverResult.importance`` (columns segment, driver, share, ...)."""
    import matplotlib.pyplot as plt
    import numpy as np

    wide = long.pivot(index="driver", columns="segment", values=value)
    wide = wide.loc[wide.mean(axis=1).sort_values().index]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * len(wide) * max(1, wide.shape[1] / 2) + 1.2))
    k = wide.shape[1]
    height = 0.8 / k
    y = np.arange(len(wide))
    for i, seg in enumerate(wide.columns):
        ax.barh(y + (i - (k - 1) / 2) * height, wide[seg], height=height, label=str(seg))
    ax.set_yticks(y, [str(i) for i in wide.index])
    ax.set_xlabel("share of explained variance" if value == "share" else value)
    ax.legend(title=long["segment"].name if hasattr(long["segment"], "name") else None,
              fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return ax


# ---- lifetime value and money on every contact (cxlab.value) -----------------------------------

def sbg_plot(fit, horizon: int | None = None, *, ax=None):
    """Actual vs fitted sBG survival (% of the starting cohort), projected to ``horizon``."""
    import matplotlib.pyplot as plt
    import numpy as np

    n = fit.survivors.size - 1
    horizon = max(n, horizon or 2 * n)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    t = np.arange(horizon + 1)
    ax.plot(np.arange(n + 1), 100 * fit.survivors / fit.survivors[0], "o", color="#222222",
            label="actual")
    ax.plot(t, 100 * fit.survival(t), "-", color="#4C72B0",
            label=f"sBG fit (α = {fit.alpha:.3f}, β = {fit.beta:.3f})")
    if horizon > n:
        ax.axvline(n, color="grey", ls=":", lw=1)
        ax.text(n, ax.get_ylim()[1] * 0.97, " projection", va="top", fontsize="small",
                color="grey")
    ax.set_xlabel("period")
    ax.set_ylabel("% of cohort still active")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3)
    return ax


def bgnbd_frequency_plot(fit, max_x: int = 7, *, ax=None):
    """Actual vs BG/NBD-expected number of customers by repeat purchases in calibration."""
    import matplotlib.pyplot as plt
    import numpy as np

    tab = fit.frequency_distribution(max_x=max_x)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    x = np.arange(len(tab))
    ax.bar(x - 0.2, tab["actual"], width=0.4, color="#222222", label="actual")
    ax.bar(x + 0.2, tab["expected"], width=0.4, color="#4C72B0", label="BG/NBD")
    ax.set_xticks(x, tab["repeat_purchases"])
    ax.set_xlabel("repeat purchases in the calibration period")
    ax.set_ylabel("customers")
    ax.legend(frameon=False)
    ax.grid(axis="y", alpha=0.3)
    return ax


def clv_by_group_plot(result, *, ax=None):
    """Mean CLV per group with bootstrap intervals (small bases hatched)."""
    import matplotlib.pyplot as plt
    import numpy as np

    t = result.table
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.45 * len(t) + 1.4))
    y = np.arange(len(t))
    bars = ax.barh(y, t["clv"], color="#4C72B0", alpha=0.85)
    for bar, small in zip(bars, t["small_base"]):
        if small:
            bar.set_hatch("//")
            bar.set_alpha(0.4)
    err = np.vstack([t["clv"] - t["ci_low"], t["ci_high"] - t["clv"]])
    ax.errorbar(t["clv"], y, xerr=np.clip(err, 0, None), fmt="none", ecolor="#222222", capsize=3)
    ax.set_yticks(y, [f"{g} (n={n})" for g, n in zip(t["group"], t["n"])])
    ax.invert_yaxis()
    ax.set_xlabel("mean customer lifetime value")
    ax.grid(axis="x", alpha=0.3)
    return ax


def revenue_at_risk_plot(result, *, ax=None):
    """Revenue at risk per group with intervals."""
    import matplotlib.pyplot as plt
    import numpy as np

    t = result.table
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.45 * len(t) + 1.4))
    y = np.arange(len(t))
    ax.barh(y, t["revenue_at_risk"], color="#C44E52", alpha=0.85)
    err = np.vstack([t["revenue_at_risk"] - t["ci_low"], t["ci_high"] - t["revenue_at_risk"]])
    ax.errorbar(t["revenue_at_risk"], y, xerr=np.clip(err, 0, None), fmt="none",
                ecolor="#222222", capsize=3)
    base = getattr(result, "baseline", None)
    ax.set_yticks(y, [f"{g} (baseline)" if g == base else str(g) for g in t["group"]])
    ax.invert_yaxis()
    tot = result.total
    ax.set_title(f"Total at risk {tot['revenue_at_risk']:,.0f} "
                 f"({tot['ci_low']:,.0f} – {tot['ci_high']:,.0f})", fontsize="medium")
    ax.set_xlabel("revenue at risk per period")
    ax.grid(axis="x", alpha=0.3)
    return ax


def market_damage_plot(result, *, ax=None):
    """Waterfall of value lost by complaint path and word of mouth, ending in the total."""
    import matplotlib.pyplot as plt
    import numpy as np

    t = result.table
    parts = t[t["path"] != "Total"]
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4))
    start = np.r_[0, np.cumsum(parts["value_lost"].to_numpy())[:-1]]
    x = np.arange(len(parts) + 1)
    ax.bar(x[:-1], parts["value_lost"], bottom=start, color="#C44E52", alpha=0.85)
    total = parts["value_lost"].sum()
    ax.bar(x[-1], total, color="#222222")
    for xi, (b, h) in enumerate(zip(np.r_[start, 0], np.r_[parts["value_lost"], total])):
        ax.text(xi, b + h, f"{h:,.0f}", ha="center", va="bottom", fontsize="small")
    import textwrap

    labels = [textwrap.fill(p, 11) for p in parts["path"]] + ["Total"]
    ax.set_xticks(x, labels, fontsize="small")
    if total > 0:                          # headroom for the value labels above the bars
        ax.set_ylim(0, 1.12 * total)
    ax.set_ylabel("value lost")
    ax.set_title("Market damage (Goodman / TARP model)", fontsize="medium")
    ax.grid(axis="y", alpha=0.3)
    return ax


# ---- metrics with their uncertainty (cxlab.metrics) -------------------------------------------

def metric_intervals(table, x: str, *, ax=None, value: str = "value", low: str = "ci_low",
                     high: str = "ci_high", title: str | None = None, xlabel: str | None = None,
                     ylabel: str | None = None, reference: float | None = None,
                     color: str = "#4C72B0"):
    """Point estimates with confidence-interval whiskers, one per row of a metrics table.

    ``table`` is the output of ``cx.metrics.table`` (``value``, ``ci_low``, ``ci_high``) or of
    ``cx.metrics.change`` (pass ``value="difference"``), one row per category of column ``x``
    (a wave, a region, ...), in the table's order. Suppressed rows (``suppressed`` True) get no
    point, only the label "n < min base" — a small base is shown as missing, never as a number.
    ``reference`` draws a dashed horizontal line (e.g. 0 for a change). Returns the Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    t = table.reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(t) + 2), 4.5))
    pos = np.arange(len(t))
    hidden = t["suppressed"].to_numpy(bool) if "suppressed" in t else np.zeros(len(t), bool)
    shown = ~hidden & t[value].notna().to_numpy()
    v = t[value].to_numpy(float)
    err = np.vstack([v - t[low].to_numpy(float), t[high].to_numpy(float) - v])
    ax.errorbar(pos[shown], v[shown], yerr=np.clip(err[:, shown], 0, None), fmt="o", color=color,
                ecolor=color, capsize=6, lw=2, ms=8)
    if reference is not None:
        ax.axhline(reference, color="#555555", lw=1, ls="--")
    for p in pos[hidden]:
        ax.annotate("n < min base", (p, 0.5), xycoords=("data", "axes fraction"), ha="center",
                    va="center", rotation=90, color="#777777")
    ax.set_xticks(pos, [str(c) for c in t[x]])
    ax.set_xlim(-0.5, len(t) - 0.5)
    ax.set_xlabel(xlabel if xlabel is not None else x)
    ax.set_ylabel(ylabel if ylabel is not None else value)
    if title:
        ax.set_title(title)
    return ax


def metric_trend(table, x: str = "wave", hue: str | None = None, *, ax=None,
                 title: str | None = None, ylabel: str | None = None):
    """Metric over waves as a line with its confidence band, one line per ``hue`` group.

    ``table`` is ``cx.metrics.table(data, column, by=[hue, x])`` (or ``by=x``). Suppressed points
    (base below ``min_base``) break the line and are marked with a grey × on the x axis, so a
    small base is visibly missing, never plotted as a number. Returns the Axes.
    """
    import matplotlib.pyplot as plt
    import matplotlib.transforms as mtransforms
    import numpy as np

    t = table.reset_index(drop=True)
    cats = list(dict.fromkeys(sorted(t[x].dropna().unique(), key=str)))
    pos = {c: i for i, c in enumerate(cats)}
    if ax is None:
        _, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(cats) + 2), 4.2))
    groups = [(None, t)] if hue is None else list(t.groupby(hue, sort=True, dropna=False))
    marker_tf = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    any_suppressed = False
    for i, (name, g) in enumerate(groups):
        g = g.assign(_pos=g[x].map(pos)).sort_values("_pos")
        hidden = g["suppressed"].to_numpy(bool) if "suppressed" in g else np.zeros(len(g), bool)
        v = np.where(hidden, np.nan, g["value"].to_numpy(float))
        lo = np.where(hidden, np.nan, g["ci_low"].to_numpy(float))
        hi = np.where(hidden, np.nan, g["ci_high"].to_numpy(float))
        color = plt.cm.tab10(i % 10)
        ax.plot(g["_pos"], v, "-o", color=color, lw=2, ms=5,
                label=None if name is None else str(name))
        ax.fill_between(g["_pos"], lo, hi, color=color, alpha=0.18, lw=0)
        if hidden.any():
            any_suppressed = True
            ax.plot(g["_pos"][hidden], np.full(hidden.sum(), 0.03), "x", color="#777777", ms=8,
                    mew=2, transform=marker_tf, clip_on=False)
    ax.set_xticks(range(len(cats)), [str(c) for c in cats])
    ax.set_xlim(-0.5, len(cats) - 0.5)
    ax.set_xlabel(x)
    metric = str(t["metric"].iloc[0]) if "metric" in t and len(t) else "value"
    ax.set_ylabel(ylabel or metric)
    conf = t["confidence"].iloc[0] if "confidence" in t and len(t) else 0.95
    base = int(t["min_base"].iloc[0]) if "min_base" in t and len(t) else None
    note = f"; × = suppressed, n < {base}" if any_suppressed and base is not None else ""
    ax.set_title(title or f"{metric} with {100 * conf:g}% confidence band{note}", fontsize=10)
    if hue is not None:
        ax.legend(title=hue, frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return ax


def nps_stack(table, group: str | None = None, *, ax=None, title: str | None = None):
    """Promoter / passive / detractor shares per group as 100 % stacked bars, NPS and its CI
    written beside each bar; suppressed groups are an empty hatched bar labelled with their n.

    ``table`` is ``cx.metrics.table(data, "ltr", metric="nps", by=group)`` (``group`` defaults
    to its first grouping column). Returns the Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    t = table.reset_index(drop=True)
    if group is None:                 # cx.metrics.table puts its `by` columns before "metric"
        cols = list(t.columns)
        by = cols[:cols.index("metric")] if "metric" in cols else []
        group = by[0] if by else None
    labels = [str(v) for v in t[group]] if group is not None else ["All"] * len(t)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.5 * len(t) + 1.4))
    y = np.arange(len(t))
    hidden = t["suppressed"].to_numpy(bool)
    left = np.zeros(len(t))
    for col, color in (("detractors", "#C44E52"), ("passives", "#B8B8B8"),
                       ("promoters", "#55A868")):
        w = np.where(hidden, 0.0, t[col].to_numpy(float))
        ax.barh(y, w, left=left, color=color, label=col, height=0.7)
        for yi, li, wi in zip(y, left, w):
            if wi >= 6:
                ax.text(li + wi / 2, yi, f"{wi:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if col != "passives" else "#222222")
        left += w
    for yi, (row, hid) in enumerate(zip(t.itertuples(index=False), hidden)):
        if hid:
            ax.barh(yi, 100, color="none", edgecolor="#999999", hatch="//", height=0.7)
            ax.text(50, yi, f"suppressed (n = {row.n})", ha="center", va="center", fontsize=8,
                    color="#555555", bbox={"facecolor": "white", "edgecolor": "none", "pad": 1})
        else:
            ax.text(101, yi, f"NPS {row.value:+.0f} ({row.ci_low:+.0f} to {row.ci_high:+.0f})",
                    va="center", fontsize=8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of answers")
    ax.legend(ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=8)
    if title:
        ax.set_title(title, pad=22)
    return ax


# ---- retention (cxlab.retention) ---------------------------------------------------------------

def churn_rates_plot(result, *, ax=None, title: str | None = None):
    """Churn rate (%) per group with Wilson intervals, from ``churn_by_group(...)``."""
    import matplotlib.pyplot as plt
    import numpy as np

    t = result.table
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.45 * len(t) + 1.3))
    y = np.arange(len(t))
    rate = t["churn_rate"].to_numpy(float)
    err = np.vstack([rate - t["ci_low"], t["ci_high"] - rate])
    ax.errorbar(rate, y, xerr=np.clip(err, 0, None), fmt="o", color="#C44E52", ecolor="#444444",
                capsize=3, lw=1)
    for yi, row in zip(y, t.itertuples(index=False)):
        ax.annotate(f"{row.churn_rate:.1f}% (n = {row.n:,})", (row.ci_high, yi), xytext=(5, 0),
                    textcoords="offset points", va="center", fontsize="small")
    ax.set_yticks(y, [str(v) for v in t[result.group]])
    ax.invert_yaxis()
    ax.set_xlim(0, max(t["ci_high"].max() * 1.35, 1))
    ax.set_xlabel(f"churn rate, % ({result.churned}; {result.confidence:.0%} Wilson intervals)")
    test = result.test
    sub = (f"chi-square({test['df']}) = {test['statistic']:.1f}, p = {test['p_value']:.2g}"
           if np.isfinite(test["statistic"]) else "")
    ax.set_title(title or f"Churn by {result.group}" + (f"\n{sub}" if sub else ""), fontsize="medium")
    ax.grid(axis="x", alpha=0.3)
    return ax


def forest_plot(terms, estimate: str = "hazard_ratio", label: str = "ratio", *, ax=None,
                title: str | None = None):
    """Ratios (odds or hazard) with intervals on a log axis, one row per model term; the dashed
    line at 1 is "no effect". ``terms`` needs columns term, ``estimate``, ci_low, ci_high."""
    import matplotlib.pyplot as plt
    import numpy as np

    t = terms.dropna(subset=[estimate]).reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.4 * len(t) + 1.3))
    y = np.arange(len(t))
    est = t[estimate].to_numpy(float)
    err = np.vstack([est - t["ci_low"], t["ci_high"] - est])
    colors = np.where(t["ci_high"] < 1, "#55A868", np.where(t["ci_low"] > 1, "#C44E52", "#8C8C8C"))
    ax.errorbar(est, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="#444444", capsize=3, lw=1)
    ax.scatter(est, y, color=colors, zorder=3, s=30)
    for yi, row in zip(y, t.itertuples(index=False)):
        ax.annotate(f"{getattr(row, estimate):.2f} ({row.ci_low:.2f}–{row.ci_high:.2f})",
                    (row.ci_high, yi), xytext=(5, 0), textcoords="offset points", va="center",
                    fontsize="x-small")
    ax.axvline(1, color="#444444", ls="--", lw=0.8)
    ax.set_xscale("log")
    lo, hi = t["ci_low"].min(), t["ci_high"].max()
    ax.set_xlim(min(lo, 1) / 1.15, max(hi, 1) * 1.8)
    plain = plt.FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(plain)
    ax.xaxis.set_minor_formatter(plt.FuncFormatter(
        lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
    ax.set_yticks(y, list(t["term"]))
    ax.invert_yaxis()
    ax.set_xlabel(f"{label} (log scale; < 1 protects, > 1 raises churn)")
    if title:
        ax.set_title(title)
    ax.grid(axis="x", alpha=0.3, which="both")
    return ax


def km_plot(km, *, ax=None, bands: bool = True, title: str | None = None,
            xlabel: str | None = None):
    """Kaplan–Meier retention curves per group with pointwise interval bands and the log-rank
    test, from ``kaplan_meier(...)``."""
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4.5))
    palette = {"Detractor": "#C44E52", "Passive": "#8C8C8C", "Promoter": "#55A868"}
    default = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["#4C72B0"])
    for i, row in enumerate(km.counts.itertuples(index=False)):
        part = km.table[km.table["group"] == row.group]
        color = palette.get(str(row.group), default[i % len(default)])
        t = np.r_[0.0, part["time"].to_numpy(float), row.max_time]
        s = np.r_[1.0, part["survival"].to_numpy(float)]
        s = np.r_[s, s[-1]]
        label = row.group if km.group else "all"
        ax.step(t, s, where="post", color=color, lw=1.6, label=f"{label} (n = {row.n:,})")
        if bands and len(part):
            lo = np.r_[1.0, part["ci_low"].to_numpy(float)]
            hi = np.r_[1.0, part["ci_high"].to_numpy(float)]
            ax.fill_between(t, np.r_[lo, lo[-1]], np.r_[hi, hi[-1]], step="post", color=color,
                            alpha=0.15, lw=0)
    ax.set_xlabel(xlabel or f"{km.duration} (time since the origin, e.g. months since the survey)")
    ax.set_ylabel("share still a customer")
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    test = km.test
    sub = (f"log-rank chi-square({test['df']}) = {test['statistic']:.1f}, p = {test['p_value']:.2g}"
           if np.isfinite(test["statistic"]) else "")
    head = title or ("Retention by " + km.group if km.group else "Retention")
    ax.set_title(head + (f"\n{sub}" if sub else ""), fontsize="medium")
    ax.legend(loc="lower left", fontsize="small", frameon=False)
    ax.grid(alpha=0.3)
    return ax


def driver_comparison_plot(comparison, *, ax=None, title: str | None = None):
    """"What drives the score" vs "what drives leaving": each driver's share of explained
    variance (score) and of pseudo-R² (churn) side by side, with intervals when bootstrapped,
    sorted by importance for churn. From ``compare_driver_lists(...)``."""
    import matplotlib.pyplot as plt
    import numpy as np

    t = comparison.table
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.55 * len(t) + 1.4))
    y = np.arange(len(t))
    h = 0.38
    for off, col, color, name in ((-h / 2, "share_score", "#4C72B0", f"drives {comparison.score}"),
                                  (h / 2, "share_churn", "#C44E52", "drives leaving")):
        ax.barh(y + off, t[col], height=h, color=color, alpha=0.85, label=name)
        base = col.split("_")[1]
        lo, hi = f"{base}_ci_low", f"{base}_ci_high"
        if lo in t:
            err = np.vstack([t[col] - t[lo], t[hi] - t[col]])
            ax.errorbar(t[col], y + off, xerr=np.clip(err, 0, None), fmt="none",
                        ecolor="#222222", capsize=2, lw=0.8)
    labels = [f"{d}  (#{rs} → #{rc})" for d, rs, rc in
              zip(t["driver"], t["rank_score"], t["rank_churn"])]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel("share of explained variance (score) / of pseudo-R² (churn)")
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    ax.set_title(title or f"What drives {comparison.score} vs what drives leaving "
                 f"(n = {comparison.n:,})", fontsize="medium")
    ax.grid(axis="x", alpha=0.3)
    return ax


# ---- driver studies (cxlab.study) ---------------------------------------------------------------

def importance_by_method(long, order=None, *, ax=None, title: str | None = None):
    """Each driver's share of explained variance by method, with bootstrap intervals: one row per
    driver, one marker per method, so agreement and disagreement between methods is visible.

    ``long`` has columns label (method), driver, share, share_ci_low, share_ci_high
    (``ImportanceComparison.table``). Returns the Axes.
    """
    import matplotlib.pyplot as plt
    import numpy as np

    drivers = list(order) if order is not None else list(dict.fromkeys(long["driver"]))
    labels = list(dict.fromkeys(long["label"]))
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.42 * len(drivers) * max(1.0, len(labels) / 4) + 1.5))
    k = len(labels)
    step = 0.8 / max(k, 1)
    y = np.arange(len(drivers))[::-1]
    for i, lab in enumerate(labels):
        part = long[long["label"] == lab].set_index("driver").reindex(drivers)
        pos = y + (k - 1) / 2 * step - i * step
        v = part["share"].to_numpy(float)
        lo = part["share_ci_low"].to_numpy(float) if "share_ci_low" in part else v
        hi = part["share_ci_high"].to_numpy(float) if "share_ci_high" in part else v
        err = np.vstack([v - lo, hi - v])
        ax.errorbar(v, pos, xerr=np.where(np.isfinite(err), np.clip(err, 0, None), 0), fmt="o",
                    ms=4, capsize=2, lw=1, label=str(lab))
    ax.set_yticks(y, [str(d) for d in drivers])
    ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:.0%}"))
    ax.set_xlabel("share of explained variance (pseudo-R² for logistic models)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.set_title(title or "Driver importance by method (95% bootstrap intervals)")
    return ax


def outcome_distribution(table, *, ax=None, title: str | None = None, xlabel: str = "answer"):
    """Bar chart of the share (%) of answers per outcome value (``cx.study.outcome_distribution``)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.5))
    labels = [f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in table["value"]]
    ax.bar(labels, table["share"], color="#4C72B0")
    ax.set_ylabel("share of answers (%)")
    ax.set_xlabel(xlabel)
    if title:
        ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    return ax


# ---- what-if chain (cxlab.whatif) ----------------------------------------------------------------

def whatif_plot(result, *, ax=None, value: str = "net_value", title: str | None = None):
    """Candidate actions ranked by value (``net_value``, ``delta_value``, ``retained`` or
    ``delta_churn``) with bootstrap intervals; each bar is annotated with the churn change and
    the customers kept. From ``cx.whatif.chain(...)``."""
    import matplotlib.pyplot as plt
    import numpy as np

    lo_hi = {"net_value": ("net_ci_low", "net_ci_high")}.get(value, (f"{value}_ci_low",
                                                                   f"{value}_ci_high"))
    t = result.table.sort_values(value, ascending=value == "delta_churn").reset_index(drop=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(7.5, 0.55 * len(t) + 1.4))
    y = np.arange(len(t))
    est = t[value].to_numpy(float)
    colors = np.where(est >= 0, "#55A868", "#C44E52") if value != "delta_churn" else \
        np.where(est <= 0, "#55A868", "#C44E52")
    ax.barh(y, est, color=colors, alpha=0.85)
    if lo_hi[0] in t and t[lo_hi[0]].notna().all():
        err = np.vstack([est - t[lo_hi[0]], t[lo_hi[1]] - est])
        ax.errorbar(est, y, xerr=np.clip(err, 0, None), fmt="none", ecolor="#222222", capsize=3,
                    lw=1)
    for yi, row in zip(y, t.itertuples(index=False)):
        ax.annotate(f"churn {row.delta_churn:+.2f} pp\n{row.retained:+,.0f} customers",
                    (1.01, yi), xycoords=("axes fraction", "data"), va="center", fontsize="x-small",
                    color="#333333", annotation_clip=False)
    ax.set_yticks(y, list(t["action"]))
    ax.invert_yaxis()
    ax.axvline(0, color="#444444", lw=0.8)
    labels = {"net_value": "value gained net of cost", "delta_value": "value gained",
              "retained": "customers kept", "delta_churn": "change in churn (pp)"}
    ax.set_xlabel(labels.get(value, value) + f" ({result.settings.get('confidence', 0.95):.0%} "
                  "bootstrap intervals)")
    if value in ("net_value", "delta_value"):
        ax.xaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    s = result.settings
    ax.set_title(title or f"What-if: actions ranked ({s.get('customers', 0):,.0f} customers, "
                 f"{s.get('bootstrap', 0)} bootstrap draws)", fontsize="medium")
    ax.grid(axis="x", alpha=0.3)
    return ax

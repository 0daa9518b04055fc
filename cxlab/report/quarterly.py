"""What the quarterly report template's cells call, one call a section.

    from cxlab.report import quarterly as rq
    ctx = rq.prepare("quarterly", globals())
    rq.show_header(ctx); rq.show_kpis(ctx); rq.show_trend(ctx); rq.show_comparison(ctx)
    rq.show_drivers(ctx); rq.show_churn(ctx); rq.show_value(ctx); rq.show_actions(ctx)
    rq.record(ctx)

Beyond the shared sections (:mod:`cxlab.report.common`): which touchpoints drive the score
(LMG importance with intervals, quadrant), churn by NPS group, revenue at risk and the what-if
chain ranking actions by value. Warnings of the analyses go into ``ctx.notes`` (and from there
into the manifest), never silenced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import plots
from ..checks import CXDataError
from ..contract import TOUCHPOINTS, Company
from ..display import escape as _esc
from ..display import figure as _show_figure
from ..display import html as _html
from ..display import html_table as _table_html
from ..display import markdown as _md
from ..notes import recorded
from .common import (
    DRIVER_MIN_BASE,
    comparison_table,
    eur,
    is_protected,
    kpi_cards,
    kpi_sentences,
    kpi_table,
    nice,
    record,
    share_text,
    show_comparison,
    show_header,
    show_kpis,
    show_trend,
    signed,
    trend_table,
)
from .context import ReportContext, once, prepare, suppressed_note

__all__ = ["CHURN_HORIZON", "DRIVER_MIN_COVERAGE", "LEVEL", "RULE", "actions_result",
           "actions_table", "performance_gaps", "quadrant_table", "recommendations",
           "analysis_frame", "churn_link", "churn_table", "comparison_table", "driver_frame",
           "driver_result", "kpi_cards", "kpi_sentences", "kpi_table", "prepare", "record",
           "revenue_at_risk", "show_actions", "show_churn", "show_comparison", "show_drivers",
           "show_header", "show_kpis", "show_trend", "show_value", "trend_table", "whatif_chain"]


@dataclass
class ChurnLink:
    """Churn within ``CHURN_HORIZON`` months by NPS group (``table``) and the waves answered."""

    table: pd.DataFrame
    waves: list[str]


@dataclass
class DriverInput:
    """The pooled answers of the driver analysis, the touchpoints used and left out, the waves
    pooled and each touchpoint's coverage (share of answers rating it)."""

    frame: pd.DataFrame
    used: list[str]
    left_out: list[str]
    waves: list[str]
    coverage: dict[str, float]


@dataclass
class WhatIf:
    """The what-if chain's result, or None with the reason it was refused (None: not attempted)."""

    result: object
    reason: str | None


CHURN_HORIZON = 12  # months: churn within a year of the survey answer (matches annual revenue)


@once
def analysis_frame(ctx: ReportContext) -> pd.DataFrame | None:
    """Survey answers of the report's scope joined to what the customer did next
    (``cx.retention.analysis_frame``, churn within ``CHURN_HORIZON`` months); None without a
    customers table."""
    from .. import retention
    if not (ctx.has_scope("customers") and ctx.has_scope("survey")):
        return None
    contacts = ctx.scope("contacts") if ctx.has_scope("contacts") else None
    end = (ctx.data.truth or {}).get("observation_end")
    out, warned = recorded(retention.analysis_frame, customers=ctx.scope("customers"),
                           survey=ctx.scope("survey"), contacts=contacts,
                           horizon=CHURN_HORIZON, observation_end=end)
    ctx.notes += warned
    return out


@once
def churn_link(ctx: ReportContext) -> ChurnLink | None:
    """Churn within CHURN_HORIZON months by NPS group (Wilson intervals), over the answers whose
    outcome is already known, with the group's mean monthly revenue; groups below the minimum
    base are suppressed."""
    from .. import retention
    frame = analysis_frame(ctx)
    flag = f"churn_{CHURN_HORIZON}m"
    if frame is None or flag not in frame.columns:
        return None
    # Only answers followed for the whole horizon: for recent answers the churners are known
    # before the stayers, so keeping every decided outcome would inflate the churn rates.
    end = pd.Timestamp(frame.attrs.get("observation_end") or frame["survey_date"].max())
    full = pd.to_datetime(frame["survey_date"]) + pd.DateOffset(months=CHURN_HORIZON) <= end
    known = frame.loc[full & frame[flag].notna()]
    if len(known) < ctx.min_base:
        return None
    res = retention.churn_by_group(known, "nps_group", churned=flag, confidence=ctx.confidence)
    out = res.summary().copy()
    revenue = known.groupby(known["nps_group"].astype(str), observed=True)["monthly_revenue"].mean()
    out["monthly_revenue"] = out["nps_group"].astype(str).map(revenue)
    out["suppressed"] = out["n"] < ctx.min_base
    for col in ("churn_rate", "ci_low", "ci_high", "monthly_revenue"):
        out.loc[out["suppressed"], col] = np.nan
    return ChurnLink(out, sorted(known["wave"].astype(str).unique()))



def churn_table(ctx: ReportContext) -> pd.DataFrame:
    """The table of :func:`churn_link` (empty when churn cannot be linked)."""
    link = churn_link(ctx)
    return pd.DataFrame() if link is None else link.table


def show_churn(ctx: ReportContext) -> None:
    """Who leaves: churn within six months of answering, by NPS group."""
    if suppressed_note(ctx):
        return
    link = churn_link(ctx)
    if link is None:
        _md("_Churn cannot be linked here: the data has no customers table, or too few answers "
            "with a known outcome._")
        return
    pct = round(100 * ctx.confidence)
    table, waves = link.table, link.waves
    shown = pd.DataFrame({
        "NPS group": table["nps_group"].astype(str),
        "answers": table["n"],
        f"churn in {CHURN_HORIZON} months": table["churn_rate"].map(lambda v: "suppressed" if not
                                                                  np.isfinite(v) else f"{v:.1f}%"),
        f"{pct}% CI": [("" if not np.isfinite(lo) else f"{lo:.1f}% to {hi:.1f}%")
                       for lo, hi in zip(table["ci_low"], table["ci_high"])],
        "mean monthly revenue": table["monthly_revenue"].map(
            lambda v: "–" if not np.isfinite(v) else f"€{v:,.2f}")})
    _html(_table_html(shown, note=f"Answers from {waves[0]} to {waves[-1]}: those followed for "
                      f"a full {CHURN_HORIZON} months." if waves else None))
    ok = table.loc[~table["suppressed"]]
    if len(ok) >= 2:
        first, last = ok.iloc[0], ok.iloc[-1]
        overlap = first["ci_low"] <= last["ci_high"] and last["ci_low"] <= first["ci_high"]
        ratio = first["churn_rate"] / last["churn_rate"] if last["churn_rate"] > 0 else np.nan
        _md(f"{_esc(first['nps_group'])}s left at **{first['churn_rate']:.1f}%** within {CHURN_HORIZON} "
            f"months against **{last['churn_rate']:.1f}%** for {_esc(last['nps_group'].lower())}s"
            + (f" — {ratio:.1f} times as often." if np.isfinite(ratio) else ".")
            + (" The intervals overlap, so treat the gap with care." if overlap else ""))
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    plots.metric_intervals(table.assign(nps_group=table["nps_group"].astype(str)), x="nps_group",
                           value="churn_rate", ax=ax, xlabel="NPS group",
                           ylabel=f"% churned within {CHURN_HORIZON} months",
                           title=f"{ctx.label}: churn by NPS group ({pct}% CI)")
    _show_figure(fig)


#: Touchpoints rated by fewer of the pooled answers than this share (e.g. onboarding: new
#: customers only) stay out of the driver model; see :func:`driver_result` for why.
DRIVER_MIN_COVERAGE = 0.5


@once
def driver_frame(ctx: ReportContext) -> DriverInput:
    """Survey answers of the scope pooled over the last ``driver_waves`` waves that rated every
    touchpoint analysed, the touchpoints analysed and the ones left out (rated by fewer than
    ``DRIVER_MIN_COVERAGE`` of the pooled answers), the waves and each touchpoint's coverage."""
    survey = ctx.scope("survey")
    pool = ctx.pooled("survey", ctx.options["driver_waves"])
    frame = survey.loc[survey["wave"].astype(str).isin(pool)]
    present = [t for t in TOUCHPOINTS if t in frame.columns]
    share = {t: float(frame[t].notna().mean()) if len(frame) else 0.0 for t in present}
    used = [t for t in present if share[t] >= DRIVER_MIN_COVERAGE]
    left = [t for t in present if share[t] < DRIVER_MIN_COVERAGE]
    return DriverInput(frame.dropna(subset=["ltr", *used]), used, left, pool, share)


@once
def driver_result(ctx: ReportContext):
    """``cx.drivers.analyze`` (LMG, bootstrap intervals, fixed seed) on the report's scope; None
    when too few answers (suppressed).

    Selection rule (listwise): touchpoints rated by at least ``DRIVER_MIN_COVERAGE`` of the
    pooled answers enter, and only the answers that rated all of them are used. Kept rather than
    ``missing="pairwise"`` (now safe in cx.drivers) because one set of respondents gives one n,
    an R² and importances a reader can take as "these customers", and the same rule needs no
    fallback; the cost, touchpoints few customers rate (onboarding), is listed below the chart
    with its coverage. Warnings of the analysis go into ``ctx.notes``.
    """
    from .. import drivers
    inp = driver_frame(ctx)
    frame, used = inp.frame, inp.used
    if len(used) < 2 or len(frame) < max(DRIVER_MIN_BASE, ctx.min_base, 10 * len(used)):
        return None
    labels = {t: nice(t) for t in used}         # readable names in tables and charts
    res, warned = recorded(drivers.analyze, frame[["ltr", *used]].rename(columns=labels), "ltr",
                           list(labels.values()), bootstrap=ctx.options["bootstrap"],
                           seed=ctx.seed, confidence=ctx.confidence, progress=False)
    ctx.notes += [f"drivers: {m}" for m in warned]
    return res


def show_drivers(ctx: ReportContext) -> None:
    """Which touchpoints drive the likelihood to recommend: importance with intervals and the
    importance–performance map."""
    if suppressed_note(ctx):
        return
    res = driver_result(ctx)
    inp = driver_frame(ctx)
    waves = inp.waves
    if res is None:
        _html(f'<div class="cx-callout">Driver analysis suppressed: it needs at least '
              f"{max(DRIVER_MIN_BASE, ctx.min_base)} answers over {_esc(', '.join(waves))}.</div>")
        return
    import matplotlib.pyplot as plt
    lo, hi = res.r2_ci
    pct = round(100 * ctx.confidence)
    _md(f"LMG (Shapley) relative importance of each touchpoint rating for likelihood to recommend, "
        f"from the **{res.n:,}** answers over {_esc(waves[0])}–{_esc(waves[-1])} that rated every "
        f"touchpoint "
        f"below. Together the touchpoints "
        f"explain **{res.r2:.0%}** of the variation in the score"
        + (f" ({pct}% CI {lo:.0%} to {hi:.0%})" if np.isfinite(lo) else "") + ". Bars show each "
        f"touchpoint's share of that, with {pct}% bootstrap intervals ({res.bootstrap} resamples).")
    fig, ax = plt.subplots(figsize=(8.5, 0.42 * len(res.importance) + 1.6))
    res.plot(ax=ax)
    ax.set_title(f"{ctx.label}: share of explained variance in likelihood to recommend "
                 f"({pct}% CI)")
    _show_figure(fig)
    fig, ax = plt.subplots(figsize=(9, 6.2))
    res.plot_quadrant(ax=ax)
    if ax.get_legend() is not None:      # keep the legend off the points
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=9)
    ax.set_title(f"{ctx.label}: importance × performance (mean rating 1–10)")
    _show_figure(fig)
    quad = quadrant_table(ctx)
    words = []
    for name in ("Fix", "Maintain", "Monitor", "Don't over-invest"):
        sub = quad.loc[quad["placed"] == name]
        if len(sub):
            words.append(f"{name}: " + ", ".join(
                f"**{_esc(n)}**" + ("" if c else " (uncertain)")
                for n, c in zip(sub.index, sub["confident"])))
    level = quad.loc[quad["placed"] == LEVEL]
    _md("**Quadrant** (context for the one ranked action list at the end, not a second list) — "
        + "; ".join(words) + "."
        + (" Rated level with the other touchpoints (performance not placed): "
           + ", ".join(f"**{_esc(n)}**" for n in level.index) + "." if len(level) else "")
        + f" _A touchpoint is placed above or below the others only when the {pct}% interval of "
        "its rating minus the mean of the same customer's other ratings excludes zero; "
        "\"(uncertain)\": the importance interval crosses the importance cut._")
    left, cover = inp.left_out, inp.coverage
    if left:
        _md("_Rated by too few customers to enter the model (under "
            f"{DRIVER_MIN_COVERAGE:.0%} of answers): "
            + ", ".join(f"{nice(t).lower()} ({cover.get(t, 0):.0%})" for t in left) + "._")


LEVEL = "level with the others"


def performance_gaps(frame: pd.DataFrame, drivers: list[str], confidence: float = 0.95,
                     labels=None) -> pd.DataFrame:
    """Per driver, the paired difference d = its rating − the mean of the same answer's other
    ratings: mean, t interval and p-value (``scipy.stats.ttest_1samp``). A driver whose interval
    includes zero is not rated differently from the others."""
    from scipy import stats
    x = frame[list(drivers)].to_numpy(float)
    p = x.shape[1]
    rows = []
    for j, t in enumerate(drivers):
        d = x[:, j] - (x.sum(axis=1) - x[:, j]) / (p - 1)
        test = stats.ttest_1samp(d, 0.0)
        lo, hi = test.confidence_interval(confidence)
        rows.append({"driver": labels(t) if labels else t, "performance_gap": float(d.mean()),
                     "performance_gap_ci_low": float(lo), "performance_gap_ci_high": float(hi),
                     "performance_p_value": float(test.pvalue)})
    return pd.DataFrame(rows).set_index("driver")


@once
def quadrant_table(ctx: ReportContext) -> pd.DataFrame:
    """``drivers`` quadrant of the report's driver result with :func:`performance_gaps` on the
    same answers as the driver model. ``placed`` is the quadrant when the gap's interval
    excludes zero on the quadrant's side, else :data:`LEVEL` (performance not shown to differ:
    not placed by noise)."""
    res = driver_result(ctx)
    if res is None:
        return pd.DataFrame()
    inp = driver_frame(ctx)
    out = res.quadrant().join(performance_gaps(inp.frame, inp.used, ctx.confidence, nice))
    high = out["quadrant"].isin(["Maintain", "Don't over-invest"])
    shown = np.where(high, out["performance_gap_ci_low"] > 0, out["performance_gap_ci_high"] < 0)
    out["performance_differs"] = shown
    out["placed"] = np.where(shown, out["quadrant"], LEVEL)
    return out


#: The rule of the one ranked list, stated once (shown in the report).
RULE = ("Actions are ranked by their {years}-year value from the what-if chain; an action whose "
        "value interval includes zero is never listed first — it goes under \"not shown to pay "
        "off yet\". The quadrant is context, not a second ranking.")


def recommendations(ctx: ReportContext) -> pd.DataFrame:
    """One ranked list (:data:`RULE`): every what-if action with its value, interval, chance of
    a positive value, the list it goes in (``worth doing first`` when the value interval lies
    above zero, else ``not shown to pay off yet``) and its touchpoint's quadrant as context;
    paying actions first, each list by value. Empty when the chain was not computed."""
    res = actions_result(ctx)
    if res is None:
        return pd.DataFrame()
    t = res.table.copy()
    t["list"] = np.where(t["net_ci_low"] > 0, "worth doing first", "not shown to pay off yet")
    quad = quadrant_table(ctx)
    placed = quad["placed"].to_dict() if len(quad) else {}
    t["quadrant"] = [placed.get(nice(d), "not in the driver map" if d != "ltr" else "–")
                     for d in t["driver"]]
    t["_pay"] = t["list"] != "worth doing first"
    t = t.sort_values(["_pay", "net_value"], ascending=[True, False], kind="stable")
    return t.drop(columns="_pay").reset_index(drop=True)


@once
def revenue_at_risk(ctx: ReportContext):
    """Annual revenue at risk from experience-linked churn: ``cx.value.revenue_at_risk`` with the
    12-month churn by NPS group (baseline: promoters' churn), applied to the scope's current
    customers split by this quarter's NPS-group shares, at each group's annual revenue."""
    from .. import retention, value
    out = None
    table = churn_table(ctx)
    if is_protected(ctx, ctx.kpi("NPS")):
        return None     # this quarter's NPS mix x the active customers would give the NPS away
    if not table.empty and not table["suppressed"].any() and ctx.has_scope("customers"):
        active = _active_customers(ctx)
        current = ctx.in_period(ctx.scope("survey"))
        groups = retention.nps_group(current["ltr"]).astype(str).value_counts(normalize=True)
        mix = {g: float(groups.get(g, 0.0)) * active for g in table["nps_group"].astype(str)}
        churn = table.assign(nps_group=table["nps_group"].astype(str))
        if all(v > 0 for v in mix.values()):
            out = value.revenue_at_risk(
                churn, "nps_group", value={g: 12 * v for g, v in
                                           zip(churn["nps_group"], churn["monthly_revenue"])},
                customers=mix, baseline="Promoter", scale="percent", confidence=ctx.confidence)
    return out



def _active_customers(ctx: ReportContext) -> int:
    """Customers of the scope still active (not churned), the base revenue at risk applies to."""
    customers = ctx.scope("customers")
    return int((customers["churned"] == 0).sum()) if "churned" in customers else len(customers)


def show_value(ctx: ReportContext) -> None:
    """Revenue at risk: the annual revenue of the extra churn among passives and detractors."""
    if suppressed_note(ctx):
        return
    res = revenue_at_risk(ctx)
    if res is None and is_protected(ctx, ctx.kpi("NPS")):
        _md("_Revenue at risk is not shown: it splits the customers by this quarter's NPS mix, "
            "and this quarter's NPS is suppressed here (see the KPI table)._")
        return
    if res is None:
        _md("_Revenue at risk is not shown: it needs customers with revenue and enough answers "
            f"in every NPS group (minimum base {ctx.min_base})._")
        return
    pct = round(100 * ctx.confidence)
    t = res.table
    tot = res.total
    _md(f"If passives and detractors churned like promoters do, **{_esc(ctx.label)}** would keep "
        "about "
        f"**{eur(tot['revenue_at_risk'])}** a year ({pct}% CI {eur(tot['ci_low'])} to "
        f"{eur(tot['ci_high'])}) — the revenue at risk from the experience, for "
        f"{_active_customers(ctx):,} active customers split by this quarter's NPS mix.")
    shown = pd.DataFrame({
        "NPS group": t["group"],
        "customers": t["customers"].round().astype(int).map("{:,}".format),
        "extra churn vs promoters": [signed(100 * v, 1, " pts") for v in t["linked_churn"]],
        "annual revenue each": t["value"].map(eur),
        "revenue at risk": t["revenue_at_risk"].map(eur),
        f"{pct}% CI": [f"{eur(a)} to {eur(b)}" for a, b in zip(t["ci_low"], t["ci_high"])]})
    _html(_table_html(shown, note="Annual figures (one year of revenue). Promoters are the "
                                  "baseline (no revenue at risk by definition). Intervals "
                                  "combine the churn-rate intervals of the groups (MOVER: the "
                                  "method of variance estimates recovery, Zou & Donner 2008)."))


#: Touchpoints most customers rate: candidates for the what-if driver model (listwise rows).
WHATIF_MAX_MISSING = 0.25
WHATIF_DETRACTOR_SHARE = 0.2


@once
def whatif_chain(ctx: ReportContext) -> WhatIf:
    """``cx.whatif.chain`` for the report's scope: raise each widely rated touchpoint by one point,
    or move 20% of detractors to passive; driver → score → churn → 3-year value with bootstrap
    intervals. The chain merges control levels with too few churn events into the reference
    and counts failed bootstrap draws itself; its warnings and notes (merged levels, failed
    share) go into ``ctx.notes``. ``result`` is None when the scope cannot support the chain;
    ``reason`` then says why when the chain itself refused."""
    from .. import whatif
    survey = ctx.scope("survey") if ctx.has_scope("survey") else None
    drivers = [] if survey is None else [t for t in TOUCHPOINTS if t in survey.columns
                                         and survey[t].isna().mean() <= WHATIF_MAX_MISSING]
    if not (ctx.has_scope("customers") and drivers
            and len(survey) >= max(DRIVER_MIN_BASE, ctx.min_base)):
        return WhatIf(None, None)
    actions = [whatif.raise_driver(d, 1.0, name=f"{nice(d)} +1 point") for d in drivers]
    actions.append(whatif.move_detractors(
        WHATIF_DETRACTOR_SHARE, name=f"{WHATIF_DETRACTOR_SHARE:.0%} of detractors won over "
                                     "to passive"))
    scope = Company(customers=ctx.scope("customers"), survey=survey,
                    contacts=ctx.scope("contacts") if ctx.has_scope("contacts") else None,
                    name=ctx.label)
    controls = [c for c in ("plan", "tenure_band", "segment") if c != ctx.by]
    try:
        out, warned = recorded(whatif.chain, scope, actions, drivers, controls=controls,
                               seed=ctx.seed, bootstrap=ctx.options["bootstrap"],
                               confidence=ctx.confidence, progress=False)
    except (CXDataError, np.linalg.LinAlgError) as err:
        reason = str(err).splitlines()[0]
        ctx.notes.append(f"what-if chain not computed: {reason}")
        return WhatIf(None, reason)
    notes = out.settings.get("notes", [])
    ctx.notes += [f"what-if: {n}" for n in notes]
    ctx.notes += [f"what-if: {m}" for m in warned if not any(m.startswith(n) for n in notes)]
    return WhatIf(out, None)


def actions_result(ctx: ReportContext):
    """The what-if chain's result for the report's scope (None when not computed)."""
    return whatif_chain(ctx).result


def actions_table(ctx: ReportContext) -> pd.DataFrame:
    """The ``top_actions`` best actions by value (what-if chain), best first."""
    res = actions_result(ctx)
    if res is None:
        return pd.DataFrame()
    return res.table.head(ctx.options["top_actions"]).reset_index(drop=True)


def show_actions(ctx: ReportContext) -> None:
    """Top actions ranked by the value the what-if chain puts on them."""
    if suppressed_note(ctx):
        return
    chain = whatif_chain(ctx)
    res, reason = chain.result, chain.reason
    if res is None:
        _md("_The what-if chain needs customers with revenue and at least "
            f"{max(DRIVER_MIN_BASE, ctx.min_base)} survey answers; not shown here"
            + (f" ({_esc(reason)})" if reason else "") + "._")
        return
    pct = round(100 * ctx.confidence)
    st = res.settings
    years, draws = st.get("years", 3), int(st.get("bootstrap") or 0)
    top = recommendations(ctx).head(ctx.options["top_actions"])
    _md(RULE.format(years=years))
    shown = pd.DataFrame({
        "list": top["list"],
        "action": top["action"],
        f"value over {years} years ({pct}% CI)": [
            f"{eur(v)} ({eur(lo)} to {eur(hi)})"
            for v, lo, hi in zip(top["net_value"], top["net_ci_low"], top["net_ci_high"])],
        "chance value > 0": top["prob_positive"].map(lambda v: share_text(v, draws)),
        "customers kept": top["retained"].map(lambda v: f"{v:,.0f}".replace("-", "−")),
        "score change (0–10)": [f"{signed(v)} ({signed(lo)} to {signed(hi)})" for v, lo, hi in
                                zip(top["delta_score"], top["delta_score_ci_low"],
                                    top["delta_score_ci_high"])],
        "churn change in 12 months": [
            f"{signed(v, 2, ' pts')} ({signed(lo)} to {signed(hi)})" for v, lo, hi in
            zip(top["delta_churn"], top["delta_churn_ci_low"], top["delta_churn_ci_high"])],
        "quadrant (context)": top["quadrant"]})
    _html(_table_html(shown, note=(
        "Chain, both paths: a touchpoint rating moves likelihood to recommend (regression), and "
        "churn (Cox model) responds both to the score and directly to the rating itself "
        "(e.g. price or billing errors make customers leave beyond what they say about "
        "recommending) — so an action can lift the score yet keep fewer customers, or the "
        f"reverse. Value: {years}-year customer value at {st.get('discount', 0.1):.0%} "
        f"discount, for {st.get('customers', 0):,.0f} customers; revenue counted as margin; "
        f"{draws} bootstrap draws"
        + (f" ({st['failed_draws']} more, {st['failed_share']:.1%}, could not be "
           "refitted and were left out)" if st.get("failed_draws") else "")
        + f"; \"chance value > 0\" is the share of draws above zero, given to what {draws} "
        "draws resolve. Churn change in percentage points.")))
    merged = [m for m in st.get("merged_levels", []) if m.get("level") is not None]
    if merged:
        levels = sorted({f"{m['control'].replace('_', ' ')} {m['level']}" for m in merged})
        _md(f"_Note: too few churn events to estimate {_esc(', '.join(levels))} each on its own; "
            "they are counted with their reference level (the comparison group of the churn "
            "model) instead._")
    if not (top["list"] == "worth doing first").any():
        _md("_No action's value is clearly above zero at this base: treat the ranking as a "
            "hypothesis to test, not a plan._")

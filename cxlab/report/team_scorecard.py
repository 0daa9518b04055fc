"""What the team-scorecard template's cells call, one call a section.

    from cxlab.report import team_scorecard as ts
    ctx = ts.prepare("team_scorecard", globals())
    ts.show_header(ctx); ts.show_targets(ctx); ts.show_kpis(ctx); ts.show_trend(ctx)
    ts.show_comparison(ctx); ts.show_scorecard(ctx); ts.show_engagement(ctx); ts.record(ctx)

Beyond the shared sections (:mod:`cxlab.report.common`): the company target cascaded to teams,
the call-quality scorecard (and whether its items drive CSAT) and the engagement pulse.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import metrics
from ..checks import CXDataError
from ..contract import QA_ITEMS
from ..display import escape as _esc
from ..display import figure as _show_figure
from ..display import html as _html
from ..display import html_table as _table_html
from ..display import markdown as _md
from ..notes import recorded
from .common import (
    DRIVER_MIN_BASE,
    comparison_table,
    complementary_suppression,
    protected_groups,
    kpi_cards,
    kpi_sentences,
    kpi_table,
    nice,
    record,
    show_comparison,
    show_header,
    show_kpis,
    show_trend,
    signed,
    trend_table,
)
from .context import KPI, ReportContext, once, prepare, suppressed_note
from .record import SUPPRESSION_RULE

__all__ = ["DEFAULT_STRETCH", "show_summary", "summary_sentences", "cascade_targets", "comparison_table", "engagement_link",
           "engagement_table", "kpi_cards", "kpi_sentences", "kpi_table", "prepare", "record",
           "scorecard_drivers", "scorecard_table", "scorecard_validity", "show_comparison",
           "show_engagement", "show_header", "show_kpis", "show_scorecard", "show_targets",
           "show_trend", "target_table", "team_values", "trend_table"]


#: Default company targets when none is given: this quarter's company value plus this stretch.
DEFAULT_STRETCH = {"CSAT": 5.0, "FCR": 5.0, "CES": 0.2}
_KPI_RANGE = {"CSAT": (0.0, 100.0), "FCR": (0.0, 100.0), "CES": (1.0, 7.0)}
_TARGET_PARAM = {"CSAT": "csat_target", "FCR": "fcr_target", "CES": "ces_target"}


def cascade_targets(current: pd.DataFrame, company_target: float, low: float = 0.0,
                    high: float = 100.0) -> pd.DataFrame:
    """Equal-uplift cascade of a company target to units: the table of
    :func:`cxlab.frontline.cascade_targets` (``uplift``, ``target``). A target clipped to the
    scale warns (CXWarning); :func:`target_table` records it in the report's notes."""
    from .. import frontline
    return frontline.cascade_targets(current, company_target, low, high).table


def team_values(ctx: ReportContext, kpi: KPI) -> pd.DataFrame:
    """The KPI per team in the period: team, n, value (suppressed teams keep value NaN)."""
    frame = ctx.in_period(ctx.company(kpi.table))
    tab = metrics.table(frame.assign(team=frame["team"].astype(str)), kpi.column, metric=kpi.metric,
                        by="team", min_base=1, confidence=ctx.confidence, **kpi.kwargs)
    return tab[["team", "n", "value"]]


@once
def target_table(ctx: ReportContext) -> pd.DataFrame:
    """Per KPI: company now and target, the cascaded target of every team, and (team report) the
    team's value with its interval and whether it is on target beyond the noise."""
    rows = []
    kt = kpi_table(ctx).set_index("kpi")
    for k in ctx.kpis:
        if k.name not in kt.index or "team" not in ctx.company(k.table).columns:
            continue
        teams = team_values(ctx, k)
        company_now = float(np.average(teams["value"].dropna(),
                                       weights=teams.loc[teams["value"].notna(), "n"]))
        given = ctx.options[_TARGET_PARAM[k.name]]
        lo, hi = _KPI_RANGE[k.name]
        target = given if given is not None else min(hi, company_now + DEFAULT_STRETCH[k.name])
        cascade, warned = recorded(cascade_targets, teams, target, lo, hi)
        hidden = complementary_suppression(dict(zip(teams["team"].astype(str), teams["n"])),
                                           ctx.min_base)
        ctx.notes += [f"targets: {m}" for m in warned if f"targets: {m}" not in ctx.notes]
        for r in cascade.to_dict("records"):
            if ctx.segment is not None and r["team"] != ctx.segment:
                continue
            row = {"kpi": k.name, "company_now": company_now, "company_target": target,
                   "target_source": "given" if given is not None else
                   f"company now + {DEFAULT_STRETCH[k.name]:g}", "team": r["team"],
                   "team_n": int(r["n"]), "team_now": r["value"], "team_target": r["target"]}
            if ctx.segment is not None:
                own = kt.loc[k.name]
                row.update(team_now=own["value"], team_low=own["ci_low"], team_high=own["ci_high"],
                           suppressed=bool(own["suppressed"]) or str(r["team"]) in hidden)
                row["status"] = _target_status(row)
            else:
                row["suppressed"] = str(r["team"]) in hidden
            if row["suppressed"]:       # target = own value + uplift: it would reveal the value
                row.update(team_now=np.nan, team_target=np.nan, team_low=np.nan,
                           team_high=np.nan)
                row["team_n"] = None
            rows.append(row)
    return pd.DataFrame(rows)


def _target_status(row: Mapping) -> str:
    if row.get("suppressed"):
        return "suppressed"
    if row["team_low"] >= row["team_target"]:
        return "on target"
    if row["team_high"] < row["team_target"]:
        return "below target"
    return "within the noise of the target"


def show_targets(ctx: ReportContext) -> None:
    """Company target -> team targets, and (team report) the team against them."""
    if suppressed_note(ctx):
        return
    table = target_table(ctx)
    if table.empty:
        _md("_No team column in the data: targets cannot be cascaded._")
        return
    pct = round(100 * ctx.confidence)
    if ctx.segment is None:
        wide = {}
        for r in table.to_dict("records"):
            k = ctx.kpi(r["kpi"])
            d = wide.setdefault(r["team"], {"Team": r["team"]})
            d[f"{k.name} now"] = "suppressed" if r["suppressed"] else k.fmt(r["team_now"])
            d[f"{k.name} target"] = "suppressed" if r["suppressed"] else k.fmt(r["team_target"])
        heads = table.drop_duplicates("kpi")
        _md("Company targets for " + _esc(ctx.period) + ": " + "; ".join(
            f"**{r['kpi']} {ctx.kpi(r['kpi']).fmt(r['company_target'])}** (now "
            f"{ctx.kpi(r['kpi']).fmt(r['company_now'])}; {r['target_source']})"
            for r in heads.to_dict("records")) + ". Each team gets the same uplift, so when every "
            "team meets its target the company meets its own.")
        _html(_table_html(pd.DataFrame(list(wide.values())),
                          note=f"Teams are suppressed by one rule: {SUPPRESSION_RULE}"))
        return
    shown = []
    for r in table.to_dict("records"):
        k = ctx.kpi(r["kpi"])
        shown.append({"KPI": k.name, "company target": k.fmt(r["company_target"]),
                      "team target": "suppressed" if r["suppressed"] else k.fmt(r["team_target"]),
                      f"team {ctx.period} ({pct}% CI)": "suppressed" if r["suppressed"] else
                      f"{k.fmt(r['team_now'])} ({k.fmt(r['team_low'])} to {k.fmt(r['team_high'])})",
                      "status": r["status"]})
    _html(_table_html(pd.DataFrame(shown), note="On target / below target only when the whole "
                      "interval is on one side of the target."))
    sources = "; ".join(f"{r['kpi']} " + ("set for this report" if r["target_source"] == "given"
                                          else r["target_source"])
                        for r in table.to_dict("records"))
    _md(f"Company targets: {sources}. The team's target is its own current value plus the "
        "uplift the company needs.")


def scorecard_table(ctx: ReportContext) -> pd.DataFrame:
    """Mean score (1–5) of each call-quality item, the team's evaluated calls in the pooled
    driver waves beside the company's; suppressed below the minimum base."""
    frame, _ = _scorecard_frame(ctx, ctx.scope("contacts"))
    company, pool = _scorecard_frame(ctx, ctx.company("contacts"))
    rows = []
    for item in [i for i in QA_ITEMS if i in frame.columns]:
        if frame[item].notna().sum() == 0:
            continue        # this scope's calls are not evaluated on the item
        own = metrics.mean(frame[item], scale=(1, 5), min_base=ctx.min_base, confidence=ctx.confidence)
        ref = metrics.mean(company[item], scale=(1, 5), min_base=ctx.min_base,
                           confidence=ctx.confidence)
        off = bool(own.suppressed) or _hidden(ctx, company, item, "mean", ("qa", item, *pool),
                                              scale=(1, 5))
        rows.append({"item": item, "value": np.nan if off else own.value,
                     "ci_low": np.nan if off else own.ci_low,
                     "ci_high": np.nan if off else own.ci_high,
                     "n": None if off and own.n < ctx.min_base else own.n, "suppressed": off,
                     "company": ref.value})
    return pd.DataFrame(rows)


def _hidden(ctx: ReportContext, company: pd.DataFrame, column: str, metric: str, key: tuple,
            **kwargs) -> bool:
    """True when the report's segment may not publish ``column`` pooled over ``company``'s rows
    (:data:`SUPPRESSION_RULE` across the segments of ``ctx.by``)."""
    return ctx.segment is not None and str(ctx.segment) in protected_groups(
        ctx, company, column, metric, key, **kwargs)


def _scorecard_frame(ctx: ReportContext, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    pool = ctx.pooled("contacts", ctx.options["driver_waves"])
    return frame.loc[frame["wave"].astype(str).isin(pool)], pool


@once
def scorecard_validity(ctx: ReportContext):
    """:func:`cxlab.frontline.scorecard_validity` (items labelled for readers) among the team's
    evaluated and surveyed calls in the pooled driver waves; the company's when the team has
    fewer than ``DRIVER_MIN_BASE``. Returns (result or None, scope label)."""
    from .. import frontline
    out = (None, None)
    for label, frame in ((ctx.label, ctx.scope("contacts")), ("Company", ctx.company("contacts"))):
        sub, _ = _scorecard_frame(ctx, frame)
        items = [q for q in QA_ITEMS if q in sub.columns]
        used = sub.dropna(subset=[*items, "csat"]) if items and "csat" in sub else sub.iloc[:0]
        if len(used) >= max(DRIVER_MIN_BASE, ctx.min_base):
            labels = {q: nice(q.removeprefix("qa_")) for q in items}
            out = (frontline.scorecard_validity(
                sub[["csat", *items]].rename(columns=labels), "csat", list(labels.values()),
                bootstrap=ctx.options["bootstrap"], seed=ctx.seed,
                confidence=ctx.confidence, min_base=len(used), progress=False), label)
            break
    return out


def scorecard_drivers(ctx: ReportContext):
    """Relative importance (LMG, bootstrap CI) of the call-quality items for post-contact CSAT:
    the ``DriverResult`` of :func:`scorecard_validity`. Returns (result or None, scope label)."""
    res, label = scorecard_validity(ctx)
    return (None if res is None else res.drivers), label


def show_scorecard(ctx: ReportContext) -> None:
    """The team's call-quality items and whether they drive its customers' satisfaction."""
    if suppressed_note(ctx):
        return
    table = scorecard_table(ctx)
    _, pool = _scorecard_frame(ctx, ctx.company("contacts"))
    if table.empty or table["n"].max() == 0:
        _md(f"_{_esc(ctx.label)}'s calls are not quality-evaluated (no scorecard items in "
            f"{_esc(pool[0])}–{_esc(pool[-1])})._")
        return
    pct = round(100 * ctx.confidence)
    shown = pd.DataFrame({
        "item": table["item"].str.removeprefix("qa_").str.replace("_", " "),
        f"{ctx.label}": ["suppressed" if s else f"{v:.2f} ({lo:.2f} to {hi:.2f})" for v, lo, hi, s in
                         zip(table["value"], table["ci_low"], table["ci_high"], table["suppressed"])],
        "evaluated calls": ["–" if s else int(n) for n, s in zip(table["n"], table["suppressed"])]})
    if ctx.segment is not None:
        shown["company"] = table["company"].map(lambda v: f"{v:.2f}")
    _html(_table_html(shown, note=f"Mean score 1–5 with {pct}% CI, calls evaluated in "
                                  f"{pool[0]}–{pool[-1]}."))
    validity, scope = scorecard_validity(ctx)
    if validity is None:
        _md(f"_Too few evaluated calls with a post-contact survey (< {DRIVER_MIN_BASE}) to tell "
            "which items drive satisfaction._")
        return
    res = validity.drivers
    imp = res.importance
    weak = validity.scored_not_driving
    strong = [i for i in validity.table.index if i not in weak]
    where = "this team's" if scope == ctx.label and ctx.segment is not None else "the company's"
    note = ("" if scope == ctx.label else f" ({_esc(ctx.label)} has too few evaluated and surveyed "
            "calls; "
            "the company-wide analysis is shown)")
    _md(f"Which scorecard items drive post-contact CSAT in {where} calls{note}: LMG relative "
        f"importance from {res.n:,} calls (R² = {res.r2:.2f}).")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(imp) + 1.5))
    res.plot(ax=ax)
    ax.set_title("Share of explained CSAT variance by scorecard item (with CI)")
    _show_figure(fig)
    nice = lambda xs: _esc(", ".join(str(x).lower() for x in xs))  # noqa: E731
    if strong:
        _md(f"**Drive satisfaction:** {nice(strong)}.")
    if weak:
        _md(f"**Scored but not shown to drive satisfaction** (effect interval includes zero): "
            f"{nice(weak)}. Keep them for compliance if needed, but do not coach for CSAT on them.")


def engagement_table(ctx: ReportContext) -> pd.DataFrame:
    """Engagement (mean 1–5) and eNPS of the team's pulse answers pooled over the report's
    waves, beside the company's; suppressed below the minimum base."""
    if not ctx.has_scope("pulse"):
        return pd.DataFrame()
    rows = []
    for label, frame in ((ctx.label, ctx.scope("pulse")), ("Company", ctx.company("pulse"))):
        sub = frame.loc[frame["wave"].astype(str).isin(ctx.waves)]
        eng = metrics.mean(sub["engagement"], scale=(1, 5), min_base=ctx.min_base,
                           confidence=ctx.confidence)
        enps = metrics.nps(sub["enps"], min_base=ctx.min_base, confidence=ctx.confidence)
        pooled = ctx.company("pulse")
        pooled = pooled.loc[pooled["wave"].astype(str).isin(ctx.waves)]
        for name, res, column, metric, kw in (("engagement", eng, "engagement", "mean",
                                               {"scale": (1, 5)}),
                                              ("eNPS", enps, "enps", "nps", {})):
            off = bool(res.suppressed) or (label != "Company" and _hidden(
                ctx, pooled, column, metric, ("pulse", column, *ctx.waves), **kw))
            rows.append({"scope": label, "measure": name, "value": np.nan if off else res.value,
                         "ci_low": np.nan if off else res.ci_low,
                         "ci_high": np.nan if off else res.ci_high,
                         "n": None if off and res.n < ctx.min_base else res.n, "suppressed": off})
        if ctx.segment is None:
            break
    return pd.DataFrame(rows)


def engagement_link(ctx: ReportContext) -> dict | None:
    """Company-wide link of team engagement to team CSAT (:func:`cxlab.frontline.engagement_link`
    per team-quarter, clustered by team): slope (CSAT points per engagement point) with its
    interval, points and teams; None without pulse or contacts or with fewer than 10 points."""
    from .. import frontline
    data = ctx.data
    if data.pulse is None or data.contacts is None:
        return None
    try:
        link = frontline.engagement_link(data.pulse, data.contacts, unit="team_wave",
                                         confidence=ctx.confidence)
    except CXDataError:
        return None
    return link.as_dict() if len(link.points) >= 10 else None


def show_engagement(ctx: ReportContext) -> None:
    """The team's engagement pulse and the company-wide link of engagement to CSAT."""
    if suppressed_note(ctx):
        return
    table = engagement_table(ctx)
    if table.empty:
        _md("_No employee pulse for this scope._")
        return
    pct = round(100 * ctx.confidence)
    fmt = {"engagement": lambda v: f"{v:.2f}", "eNPS": lambda v: f"{v:+.1f}".replace("-", "−")}
    shown = pd.DataFrame({
        "scope": table["scope"], "measure": table["measure"],
        "value": ["suppressed" if s else fmt[m](v) for m, v, s in
                  zip(table["measure"], table["value"], table["suppressed"])],
        f"{pct}% CI": ["" if s else f"{fmt[m](lo)} to {fmt[m](hi)}" for m, lo, hi, s in
                       zip(table["measure"], table["ci_low"], table["ci_high"], table["suppressed"])],
        "answers": ["–" if s else int(n) for n, s in zip(table["n"], table["suppressed"])]})
    _html(_table_html(shown, note=f"Pulse answers pooled over {ctx.waves[0]}–{ctx.waves[-1]} "
                                  "(teams are small; one quarter alone is below the base)."))
    link = engagement_link(ctx)
    if link is not None:
        verdict = ("a link larger than the noise" if link["ci_low"] > 0 or link["ci_high"] < 0
                   else "not distinguishable from no link")
        _md(f"Across the company ({link['teams']} teams, {link['points']} team-quarters), a team "
            f"whose engagement is one point higher has post-contact CSAT "
            f"**{signed(link['slope'], 1)} points** higher ({pct}% CI "
            f"{signed(link['ci_low'], 1)} to {signed(link['ci_high'], 1)}; {verdict})."
            + (" Engagement is worth managing as a CX lever." if link["ci_low"] > 0 else ""))


def summary_sentences(ctx: ReportContext) -> list[str]:
    """The scorecard's lead: each published KPI's change vs last quarter (called a change only
    beyond the noise), the team against its cascaded targets, and what is suppressed. Only
    figures the page publishes anyway (suppressed cells stay out)."""
    kt = kpi_table(ctx)
    pub = kt.loc[~kt["suppressed"]]
    pct = round(100 * ctx.confidence)
    moved = pub.loc[pub["verdict"].isin(["up", "down"])]
    if len(moved):
        parts = [f"**{ctx.kpi(r['kpi']).name} {r['verdict']} "
                 f"{ctx.kpi(r['kpi']).fmt(abs(r['change']), signed=False)}** vs "
                 f"{r['previous_period']} (to {ctx.kpi(r['kpi']).fmt(r['value'])}, {pct}% CI "
                 f"{ctx.kpi(r['kpi']).fmt(r['ci_low'])} to {ctx.kpi(r['kpi']).fmt(r['ci_high'])})"
                 for r in moved.to_dict("records")]
        out = ["Changes beyond the noise: " + "; ".join(parts) + "."]
    elif len(pub):
        out = [("No KPI moved beyond the noise since " + ctx.previous if ctx.previous else
                "No previous quarter to compare with") + ": "
               + ", ".join(f"{ctx.kpi(r['kpi']).name} {ctx.kpi(r['kpi']).fmt(r['value'])}"
                           for r in pub.to_dict("records")) + "."]
    else:
        out = ["No KPI can be published for this scope this quarter."]
    if ctx.segment is not None:
        tt = target_table(ctx)
        if len(tt):
            status = [f"{r['kpi']} {r['status']}" for r in tt.to_dict("records")
                      if r["status"] != "suppressed"]
            if status:
                out.append("Against the cascaded targets: " + "; ".join(status) + ".")
    out.append("CSAT and CES here come from the contact survey (after a contact; CES 1–7, "
               "7 = very easy), not the quarterly relationship survey.")
    hidden = kt.loc[kt["suppressed"], "kpi"].tolist()
    if hidden:
        out.append(f"Suppressed (base too small): {', '.join(hidden)}.")
    return out[:5]


def show_summary(ctx: ReportContext) -> None:
    """The scorecard's summary box (first section after the title)."""
    if suppressed_note(ctx):
        return
    import re
    bold = re.compile(r"[*][*](.+?)[*][*]")
    _html('<div class="cx-callout">' + "".join(
        "<p>" + bold.sub(r"<b>\1</b>", _esc(s)) + "</p>" for s in summary_sentences(ctx))
        + "</div>")

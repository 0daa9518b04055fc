"""The summary that leads the quarterly report, the early-warning flags of its scope, and the
one-line verdict the index page shows — all generated from the statistics of the report.

    from cxlab.report import story
    story.show_summary(ctx)       # first cell after the title: 3–5 plain sentences + flags
    story.record(ctx)             # last cell: the record with the verdict and the flags

The flags come from :func:`cxlab.alerts.early_warning` run on the *whole* company split by the
report's ``by`` (the same tests and the same Holm adjustment in every report of
the batch); the recommendation is :func:`cxlab.report.quarterly.recommendations` (one rule).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import alerts as _alerts
from ..display import escape as _esc
from ..display import html as _html
from ..display import html_table as _table_html
from ..display import markdown as _md
from . import quarterly as rq
from .alerts_digest import protect
from .common import eur, nice, record as _record
from .context import ReportContext, once, suppressed_note

__all__ = ["GLOSSARY", "early_warning", "flags_table", "record", "scope_flags", "show_summary",
           "summary_sentences", "verdict"]

#: Terms the report uses, in a reader's words (shown at the end of every quarterly report).
GLOSSARY = {
    "95% CI": "the range of values compatible with the answers we got (confidence interval).",
    "NPS": "likelihood to recommend 0–10 (relationship survey): % promoters (9–10) minus % "
           "detractors (0–6), from −100 to +100.",
    "CSAT": "overall satisfaction (relationship survey): % answering 4 or 5 on 1–5.",
    "CES": "customer effort score (relationship survey, quarterly): mean of 1–7, 7 = very easy. "
           "The team scorecard's CES is the contact survey's, after a contact.",
    "baseline": "the segment's own level over the 4 waves before last quarter, pooled.",
    "flag": "a fall larger than the noise after allowing for the many segments × KPIs tested "
            "(Holm: at most a 5% chance of any false flag in the whole batch).",
    "LMG": "Lindeman–Merenda–Gold (Shapley) importance: each touchpoint's share of the "
           "explained variation, averaged over every order of entering the touchpoints, so "
           "correlated touchpoints share fairly.",
    "(uncertain)": "the importance interval crosses the quadrant's importance cut, so the "
                   "touchpoint could sit in the neighbouring quadrant.",
    "level with the others": "the touchpoint's rating does not differ from the customer's other "
                             "ratings beyond the noise, so it is not placed high or low.",
    "MOVER": "method of variance estimates recovery (Zou & Donner 2008): an interval for a sum "
             "or difference built from the intervals of its parts.",
    "reference level": "the comparison group of a model (e.g. the Standard plan); other levels "
                       "are measured against it.",
    "revenue at risk": "one year of revenue lost if passives and detractors keep leaving more "
                       "often than promoters (annual).",
    "action value": "customer value gained over 3 years (discounted), from the what-if chain.",
}


@once
def early_warning(ctx: ReportContext):
    """``cx.alerts.early_warning`` on the company's survey split by ``ctx.by`` in the report's
    period (None when there is no previous wave or no survey)."""
    if ctx.previous is None or getattr(ctx.data, "survey", None) is None:
        return None
    survey = ctx.company("survey")
    by = ctx.by if ctx.by is not None and ctx.by in survey.columns else None
    res = _alerts.early_warning(survey, by=by, current=ctx.period, confidence=ctx.confidence,
                                min_base=ctx.min_base)
    # cells the reports suppress (primary or complementary) are not flagged with their value
    return protect(res, survey, by, ctx.period, ctx.min_base)


def scope_flags(ctx: ReportContext) -> pd.DataFrame:
    """The flags (segment × KPI rows of :func:`early_warning`) of the report's own scope."""
    ew = early_warning(ctx)
    if ew is None:
        return pd.DataFrame()
    return ew.for_segment(ctx.segment).reset_index(drop=True)


def _name(kpi: str) -> str:
    return kpi if kpi in _alerts.DEFAULT_KPIS and kpi.isupper() else nice(kpi)


def _fmt(ctx: ReportContext, kpi: str, value: float, signed: bool = False) -> str:
    if kpi in {k.name for k in ctx.kpis}:
        return ctx.kpi(kpi).fmt(value, signed=signed)
    text = f"{value:+.2f}" if signed else f"{value:.2f}"
    return text.replace("-", "−")


def _unit(kpi: str) -> str:
    """Unit after a signed gap: shares already print ' pts', CES is on its own 1–7 scale."""
    return "" if kpi in ("CSAT", "CES") else " points"


_ORDER = {"baseline": 0, "previous": 1, "rest": 2}


def _main_test(ctx: ReportContext, segment: str, kpi: str) -> pd.Series:
    """The flagged test shown for a cell: vs the baseline first, then last quarter, the rest."""
    t = early_warning(ctx).table
    own = t.loc[(t["segment"] == segment) & (t["kpi"] == kpi) & (t["direction"] < 0)]
    return own.iloc[np.argsort(own["comparison"].map(_ORDER).to_numpy(), kind="stable")].iloc[0]


def _against(main: pd.Series) -> str:
    return {"previous": f"{main['reference_period']}",
            "baseline": f"its {main['reference_period']} baseline",
            "rest": "the rest of the company"}[main["comparison"]]


def _gap(ctx: ReportContext, kpi: str, main: pd.Series) -> str:
    pct = round(100 * ctx.confidence)
    return (f"{_fmt(ctx, kpi, main['difference'], True)}{_unit(kpi)} against {_against(main)} "
            f"({pct}% CI {_fmt(ctx, kpi, main['difference_ci_low'], True)} to "
            f"{_fmt(ctx, kpi, main['difference_ci_high'], True)})")


def flags_table(ctx: ReportContext) -> pd.DataFrame:
    """The scope's flagged KPIs and touchpoints for the page: what, now, how big, since when."""
    flags = scope_flags(ctx)
    if flags.empty:
        return pd.DataFrame()
    rows = []
    for r in flags.loc[flags["flagged"]].to_dict("records"):
        main = _main_test(ctx, r["segment"], r["kpi"])
        rows.append({"KPI or touchpoint": _name(r["kpi"]),
                     ctx.period: _fmt(ctx, r["kpi"], r["value"]), "flag": r["label"],
                     "gap (95% CI)": _gap(ctx, r["kpi"], main).replace("(95% CI ", "("),
                     "since": r["since"]})
    return pd.DataFrame(rows)


def _main_change(ctx: ReportContext) -> str:
    """The most important change: the scope's first flagged headline KPI (else touchpoint)."""
    flags = scope_flags(ctx)
    pct = round(100 * ctx.confidence)
    kpis = rq.kpi_table(ctx)
    head = kpis.loc[~kpis["suppressed"]]
    if flags.empty or not flags["flagged"].any():
        if head.empty:
            return "No headline KPI can be published for this scope."
        r = head.iloc[0]
        k = ctx.kpi(r["kpi"])
        base = (early_warning(ctx).settings["baseline"] if early_warning(ctx) else [])
        good = ([] if flags.empty else
                [f"{_name(r['kpi'])} {r['good_news'].split(';')[0]}" for r in
                 flags.loc[flags["good_news"].str.len() > 0].to_dict("records")])
        return (f"**{k.name} is {k.fmt(r['value'])}** ({pct}% CI {k.fmt(r['ci_low'])} to "
                f"{k.fmt(r['ci_high'])}) in {ctx.period}, and **nothing is flagged**: no KPI or "
                "touchpoint fell beyond the noise vs last quarter"
                + (f", vs its own baseline ({base[0]}–{base[-1]})" if base else "")
                + (" or vs the rest of the company" if ctx.segment is not None else "")
                + " (false-alarm rate controlled across the batch)."
                + (f" Good news: {'; '.join(good[:3])}{'; …' if len(good) > 3 else ''}."
                   if good else ""))
    flagged = flags.loc[flags["flagged"]].copy()
    flagged["_head"] = ~flagged["kpi"].isin([k.name for k in ctx.kpis])
    r = flagged.sort_values(["_head"], kind="stable").iloc[0]
    main = _main_test(ctx, r["segment"], r["kpi"])
    name = _name(r["kpi"])
    out = (f"**{name} is {_fmt(ctx, r['kpi'], r['value'])}** in {ctx.period}, **{r['label']}**: "
           f"{_gap(ctx, r['kpi'], main)}.")
    others = [_name(k) for k in flagged["kpi"] if k != r["kpi"]]
    if others:
        out += f" Also flagged: {', '.join(others)} (table below)."
    return out


def _segments_flagged(ctx: ReportContext) -> str | None:
    """Company report: which segments carry flags (the reader's next click)."""
    ew = early_warning(ctx)
    if ew is None or ctx.segment is not None or ctx.by is None:
        return None
    f = ew.flags.loc[ew.flags["flagged"] & (ew.flags["segment"] != _alerts.COMPANY)]
    if f.empty:
        return f"No {ctx.by} is flagged this quarter."
    heads = [k.name for k in ctx.kpis]
    f = f.assign(_head=~f["kpi"].isin(heads), _o=f["kpi"].map(
        {k: i for i, k in enumerate(heads)}).fillna(99))
    parts = []
    for seg, g in sorted(f.groupby("segment"), key=lambda sg: (sg[1]["_head"].min(), -len(sg[1]))):
        r = g.sort_values(["_head", "_o"]).iloc[0]
        rest = [_name(k) for k in g["kpi"] if k != r["kpi"]]
        parts.append(f"**{_esc(seg)}**: {_name(r['kpi'])} {_fmt(ctx, r['kpi'], r['value'])}, "
                     f"{r['label'].split(';')[0]} — "
                     f"{_gap(ctx, r['kpi'], _main_test(ctx, seg, r['kpi']))}"
                     + (f"; also {', '.join(rest[:4])}{', …' if len(rest) > 4 else ''}"
                        if rest else ""))
    return f"Flagged by {ctx.by}: " + "; ".join(parts) + ". See their reports."


def _action(ctx: ReportContext) -> str | None:
    rec = rq.recommendations(ctx)
    if rec.empty:
        return None
    pct = round(100 * ctx.confidence)
    years = rq.actions_result(ctx).settings.get("years", 3)
    best = rec.iloc[0]
    money = (f"{eur(best['net_value'])} over {years} years ({pct}% CI {eur(best['net_ci_low'])} "
             f"to {eur(best['net_ci_high'])})")
    if best["list"] == "worth doing first":
        return (f"The action most worth taking: **{_esc(best['action'])}**, worth **{money}** "
                f"in customer value, about {best['retained']:,.0f} customers kept"
                + (f" (quadrant: {best['quadrant']})" if best["quadrant"] not in ("–",) else "")
                + ".")
    return (f"**No action is shown to pay off yet**: the best estimate, "
            f"{_esc(best['action'])}, is {money}, an interval that includes zero.")


def _risk(ctx: ReportContext) -> str | None:
    res = rq.revenue_at_risk(ctx)
    if res is None:
        return None
    tot, pct = res.total, round(100 * ctx.confidence)
    return (f"Revenue at risk from the experience: **{eur(tot['revenue_at_risk'])} a year** "
            f"({pct}% CI {eur(tot['ci_low'])} to {eur(tot['ci_high'])}) if passives and "
            "detractors keep leaving more often than promoters.")


def _uncertain(ctx: ReportContext) -> str:
    bits = []
    rec = rq.recommendations(ctx)
    if not rec.empty:
        unsure = rec.loc[rec["list"] != "worth doing first", "action"].tolist()
        if unsure:
            bits.append(f"{len(unsure)} of {len(rec)} actions are not shown to pay off yet "
                        f"({_esc(', '.join(unsure[:3]))}{', …' if len(unsure) > 3 else ''})")
    quad = rq.quadrant_table(ctx)
    if len(quad):
        level = quad.index[quad["placed"] == rq.LEVEL].tolist()
        if level:
            bits.append(f"{', '.join(level)} rated level with the other touchpoints")
    kpis = rq.kpi_table(ctx)
    if kpis["suppressed"].any():
        bits.append(f"{', '.join(kpis.loc[kpis['suppressed'], 'kpi'])} suppressed (base too "
                    "small)")
    if not bits:
        return "Every figure below carries its interval; none of the conclusions above rests on "\
               "a base below the minimum."
    return "Still uncertain: " + "; ".join(bits) + "."


def summary_sentences(ctx: ReportContext) -> list[str]:
    """Three to five plain sentences: the most important change with its interval, (company
    report) which segments are flagged, the action most worth taking and what it is worth, the
    annual revenue at risk, and what is uncertain."""
    segments, own = _segments_flagged(ctx), _main_change(ctx)
    if ctx.segment is None and segments and not segments.startswith("No "):
        own = "Company-wide: " + own
    lead = ([segments, own] if segments and not segments.startswith("No ") else
            [own] + ([segments] if segments else []))
    out = list(lead)
    for s in (_action(ctx), _risk(ctx)):
        if s:
            out.append(s)
    out.append(_uncertain(ctx))
    return out[:5]


def verdict(ctx: ReportContext) -> str:
    """One line for the index page: the main flag (or no change) and the best action."""
    if ctx.suppressed:
        return "suppressed: base too small"
    flags = scope_flags(ctx)
    if not flags.empty and flags["flagged"].any():
        f = flags.loc[flags["flagged"]]
        head = f.loc[f["kpi"].isin([k.name for k in ctx.kpis])]
        r = (head if len(head) else f).iloc[0]
        first = f"{_name(r['kpi'])} {r['label'].split(';')[0]}"
    else:
        first = "No KPI moved beyond the noise"
    ew = early_warning(ctx)
    if ctx.segment is None and ew is not None and ctx.by is not None:
        a = ew.alerts.loc[ew.alerts["segment"] != _alerts.COMPANY]
        if len(a):
            heads = {k.name: i for i, k in enumerate(ctx.kpis)}
            segs = []
            for seg, g in a.groupby("segment"):
                r = g.assign(_o=g["kpi"].map(heads).fillna(99)).sort_values("_o").iloc[0]
                segs.append(f"{seg} ({_name(r['kpi'])} {r['label'].split(';')[0]})")
            first = f"Flagged: {', '.join(segs)}; company: {first[0].lower()}{first[1:]}"
    rec = rq.recommendations(ctx)
    if rec.empty:
        return first
    best = rec.iloc[0]
    if best["list"] == "worth doing first":
        years = rq.actions_result(ctx).settings.get("years", 3)
        return f"{first}; best action: {best['action']} ({eur(best['net_value'])} over {years} years)"
    return f"{first}; no action shown to pay off yet"


def _flag_words(ctx: ReportContext) -> list[str]:
    flags = scope_flags(ctx)
    if flags.empty:
        return []
    return [f"{_name(r['kpi'])}: {r['label']}"
            for r in flags.loc[flags["flagged"]].to_dict("records")]


def show_summary(ctx: ReportContext) -> None:
    """The summary box (3–5 sentences) and the scope's flags table."""
    if suppressed_note(ctx):
        return
    sentences = summary_sentences(ctx)
    _html("<div class=\"cx-callout\">" + "".join(
        f"<p>{_md_inline(s)}</p>" for s in sentences) + "</div>")
    table = flags_table(ctx)
    if len(table):
        ew = early_warning(ctx)
        _html(_table_html(table, note=(
            f"Early warning: each KPI and touchpoint rating tested against last quarter, its own "
            f"baseline ({ew.settings['baseline'][0]}–{ew.settings['baseline'][-1]}) and the rest "
            f"of the company; {ew.settings['tests']} tests across the batch, "
            f"{_alerts.ADJUST_NAMES[ew.settings['adjust']]}-adjusted at {1 - ctx.confidence:.0%} "
            "(the chance of any false flag in the batch). Touchpoints are mean ratings on "
            "1–10.")))


def _md_inline(text: str) -> str:
    """**bold** to <b> for the summary box (the text is already escaped where it holds data)."""
    import re
    return re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)


def show_glossary(ctx: ReportContext) -> None:
    """The terms the report uses, one line each."""
    _md("\n".join(f"- **{k}**: {v}" for k, v in GLOSSARY.items()))


def record(ctx: ReportContext) -> dict:
    """The report's record (:func:`cxlab.report.common.record`) with its one-line ``verdict``
    and ``flags`` for the index page."""
    if ctx.suppressed:
        return _record(ctx)
    flags = scope_flags(ctx)
    flagged = {} if flags.empty else dict(zip(flags.loc[flags["flagged"], "kpi"],
                                              flags.loc[flags["flagged"], "label"]))
    cards = [dict(c, change_text=f"▼ {flagged[c['name']]}", direction="down")
             if c.get("name") in flagged else c
             for c in rq.kpi_cards(ctx)]
    return _record(ctx, verdict=verdict(ctx), flags=_flag_words(ctx), kpis=cards)

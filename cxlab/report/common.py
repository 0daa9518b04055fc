"""Sections both report templates show: the header, the headline KPIs with their change, the
trend over waves, the segment comparison, and the record the runner reads (last cell).

Each ``show_*`` displays tables, figures (:mod:`cxlab.plots`) and plain-language sentences; the
``*_table`` function behind it returns the numbers (unit-tested). Groups below the minimum base
are suppressed.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .. import metrics, plots
from ..display import escape as _esc
from ..display import figure as _show_figure
from ..display import html as _html
from ..display import html_table as _table_html
from ..display import markdown as _md
from .context import ReportContext, once, suppressed_note
from .record import SUPPRESSION_RULE, complementary_suppression, write_record

DRIVER_MIN_BASE = 100   # answers needed before driver importances are shown at all


def protected_groups(ctx: ReportContext, frame: pd.DataFrame, column: str, metric: str,
                     key: tuple, **kwargs) -> frozenset[str]:
    """Groups of ``ctx.by`` in ``frame`` (one partition: one KPI in one wave, or one pooled
    measure) whose ``column`` is not published: :func:`complementary_suppression` of the answers
    per group as :func:`cxlab.metrics.table` counts them. Cached in ``ctx.computed`` by ``key``."""
    cache = ("protected", *key)
    if cache not in ctx.computed:
        out: frozenset[str] = frozenset()
        if ctx.by is not None and ctx.by in frame.columns and column in frame.columns and len(frame):
            tab = metrics.table(frame.assign(**{ctx.by: frame[ctx.by].astype(str)}), column,
                                metric=metric, by=ctx.by, min_base=1, confidence=ctx.confidence,
                                **kwargs)
            out = complementary_suppression(dict(zip(tab[ctx.by].astype(str), tab["n"])),
                                            ctx.min_base)
        ctx.computed[cache] = out
    return ctx.computed[cache]


def protected_segments(ctx: ReportContext, kpi, period: str | None = None) -> frozenset[str]:
    """Segments of ``ctx.by`` whose ``kpi`` is suppressed in ``period`` (default the report's),
    primary or complementary (:data:`SUPPRESSION_RULE`)."""
    period = period or ctx.period
    if ctx.by is None or not ctx.has_scope(kpi.table):
        return frozenset()
    frame = ctx.in_period(ctx.company(kpi.table), period)
    return protected_groups(ctx, frame, kpi.column, kpi.metric, ("kpi", kpi.name, period),
                            **kpi.kwargs)


def is_protected(ctx: ReportContext, kpi, period: str | None = None) -> bool:
    """True when the report's own segment may not publish ``kpi`` in ``period``."""
    return ctx.segment is not None and str(ctx.segment) in protected_segments(ctx, kpi, period)


@once
def kpi_table(ctx: ReportContext) -> pd.DataFrame:
    """Each KPI for the report's scope in the period, with its interval and the change vs the
    previous period (difference, interval, p-value). ``verdict`` calls a change ``up``/``down``
    only when the interval of the difference excludes zero; otherwise ``no change beyond the
    noise``. Groups below ``min_base`` are ``suppressed`` (NaN numbers)."""
    rows = []
    for kpi in ctx.kpis:
        if not ctx.has_scope(kpi.table):
            continue
        frame = ctx.scope(kpi.table)
        if kpi.column not in frame.columns:
            continue
        cur = ctx.in_period(frame)[kpi.column]
        row = {"kpi": kpi.name, "period": ctx.period}
        if ctx.previous is not None:
            prev = ctx.in_period(frame, ctx.previous)[kpi.column]
            ch = metrics.compare(prev, cur, metric=kpi.metric, min_base=ctx.min_base,
                                 confidence=ctx.confidence, **kpi.kwargs)
            res = ch.b
            row.update(previous_period=ctx.previous, previous=ch.a.value, n_previous=ch.a.n,
                       change=ch.difference, change_low=ch.ci_low, change_high=ch.ci_high,
                       p_value=ch.p_value, significant=bool(ch.significant))
        else:
            res = kpi.compute(cur, ctx.min_base, ctx.confidence)
            row.update(previous_period=None, previous=np.nan, n_previous=0, change=np.nan,
                       change_low=np.nan, change_high=np.nan, p_value=np.nan, significant=False)
        row.update(value=res.value, ci_low=res.ci_low, ci_high=res.ci_high, n=res.n,
                   suppressed=bool(res.suppressed))
        _protect_row(ctx, kpi, row)
        row["verdict"] = _verdict(row)
        rows.append(row)
    cols = ["kpi", "period", "value", "ci_low", "ci_high", "n", "suppressed", "previous_period",
            "previous", "n_previous", "change", "change_low", "change_high", "p_value",
            "significant", "verdict"]
    return pd.DataFrame(rows, columns=cols)


def _protect_row(ctx: ReportContext, kpi, row: dict) -> None:
    """Blank what :data:`SUPPRESSION_RULE` withholds from a segment's KPI row: the current value
    (and so the change) when the segment is suppressed now, the previous value and the change
    when it was suppressed then."""
    if is_protected(ctx, kpi):
        row.update(value=np.nan, ci_low=np.nan, ci_high=np.nan, suppressed=True)
    if row["suppressed"] or (ctx.previous is not None and is_protected(ctx, kpi, ctx.previous)):
        row.update(change=np.nan, change_low=np.nan, change_high=np.nan, p_value=np.nan,
                   significant=False)
        if ctx.previous is not None and is_protected(ctx, kpi, ctx.previous):
            row["previous"] = np.nan


def _verdict(row: Mapping) -> str:
    if row.get("suppressed"):
        return "suppressed"
    if row.get("previous_period") is None:
        return "no previous period"
    if not np.isfinite(row.get("change", np.nan)):
        return "previous period suppressed"
    if row.get("significant"):
        return "up" if row["change"] > 0 else "down"
    return "no change beyond the noise"


def kpi_cards(ctx: ReportContext) -> list[dict]:
    """KPI values formatted for the index page (recorded by :func:`record`)."""
    cards = []
    if ctx.suppressed:
        return cards
    pct = round(100 * ctx.confidence)
    for row in kpi_table(ctx).to_dict("records"):
        kpi = ctx.kpi(row["kpi"])
        if row["suppressed"]:
            cards.append({"name": kpi.name, "text": "suppressed", "interval": _why(ctx, row),
                          "change_text": "", "direction": None, "value": None, "n": None})
            continue
        verdict = row["verdict"]
        if verdict in {"up", "down"}:
            arrow = "▲" if verdict == "up" else "▼"
            change = f"{arrow} {kpi.fmt(row['change'], signed=True)} vs {row['previous_period']}"
        elif verdict == "no change beyond the noise":
            change = f"no change beyond the noise vs {row['previous_period']}"
        else:
            change = verdict
        cards.append({"name": kpi.name, "text": kpi.fmt(row["value"]),
                      "interval": f"{pct}% CI {kpi.fmt(row['ci_low'])} to {kpi.fmt(row['ci_high'])}"
                                  f" · n = {row['n']}",
                      "change_text": change,
                      "direction": verdict if verdict in {"up", "down"} else None,
                      "value": _num(row["value"], kpi), "ci_low": _num(row["ci_low"], kpi),
                      "ci_high": _num(row["ci_high"], kpi), "n": int(row["n"]),
                      "change": _num(row["change"], kpi), "significant": bool(row["significant"])})
    return cards


def _why(ctx: ReportContext, row: Mapping) -> str:
    """Why a KPI is suppressed, without its number of answers (:data:`SUPPRESSION_RULE`)."""
    if row["n"] < ctx.min_base:
        return f"fewer than {ctx.min_base} answers"
    return "suppressed with a smaller group"


def signed(value: float, digits: int = 2, suffix: str = "") -> str:
    """'+1.23' / '−1.23' with a true minus sign."""
    return f"{value:+.{digits}f}{suffix}".replace("-", "−")


def eur(value: float, digits: int = 2) -> str:
    """Money to ``digits`` significant figures: '€290k', '−€1.2m', '€620' (a model's estimate is
    not known to the euro, so no more figures are printed than its interval supports)."""
    if value is None or not np.isfinite(value):
        return "–"
    sign, v = ("−" if value < 0 else ""), abs(float(value))
    if v == 0:
        return "€0"
    v = float(f"{v:.{digits}g}")
    for size, suffix in ((1e9, "bn"), (1e6, "m"), (1e3, "k")):
        if v >= size:
            return f"{sign}€{v / size:,.{max(0, digits - len(str(int(v // size))))}f}{suffix}"
    return f"{sign}€{v:,.0f}"


def share_text(p: float, draws: int) -> str:
    """A bootstrap share (e.g. chance value > 0) within what ``draws`` resolve: whole percent,
    and '> 99 %' / '< 1 %' (for 200 draws) instead of 100 % / 0 %: with B draws a share of 1
    only says the true chance is above about 1 − 1/B."""
    if p is None or not np.isfinite(p) or not draws:
        return "–"
    edge = 100 / draws
    if p >= 1 - 1 / draws:
        return f"> {int(np.floor(100 - edge)) if edge >= 1 else 99} %"
    if p <= 1 / draws:
        return f"< {max(1, int(np.ceil(edge)))} %"
    return f"{100 * p:.0f} %"


SOURCE = {"survey": "relationship survey", "contacts": "contact survey"}


def kpi_label(kpi) -> str:
    """The KPI with its survey: 'CES (relationship survey)' / 'CES (contact survey)'."""
    return f"{kpi.name} ({SOURCE.get(kpi.table, kpi.table)})"


def _num(x, kpi=None) -> float | None:
    """A number for the manifest, rounded as the page prints it (no more precision is published)."""
    if x is None or not np.isfinite(x):
        return None
    return round(float(x), 2 if kpi is not None and kpi.unit == "mean" else 1)


def nice(name: str) -> str:
    return name.replace("_", " ").replace("selfservice", "self-service").capitalize()


def _kpi_display(ctx: ReportContext) -> pd.DataFrame:
    pct = round(100 * ctx.confidence)
    rows = []
    for row in kpi_table(ctx).to_dict("records"):
        kpi = ctx.kpi(row["kpi"])
        if row["suppressed"]:
            rows.append({"KPI": kpi_label(kpi), "scale": kpi.description,
                         ctx.period: "suppressed", f"{pct}% CI": "",
                         "n": "–", f"vs {row['previous_period'] or '–'}": "",
                         "change": f"suppressed ({_why(ctx, row)})"})
            continue
        verdict = row["verdict"]
        change = (f"{kpi.fmt(row['change'], signed=True)} ({kpi.fmt(row['change_low'], signed=True)}"
                  f" to {kpi.fmt(row['change_high'], signed=True)})"
                  if np.isfinite(row["change"]) else "–")
        label = {"up": "▲ up", "down": "▼ down"}.get(verdict, verdict)
        rows.append({"KPI": kpi_label(kpi), "scale": kpi.description,
                     ctx.period: kpi.fmt(row["value"]),
                     f"{pct}% CI": f"{kpi.fmt(row['ci_low'])} to {kpi.fmt(row['ci_high'])}",
                     "n": row["n"], f"vs {row['previous_period'] or '–'}": change,
                     "change": label})
    return pd.DataFrame(rows)


def kpi_sentences(ctx: ReportContext) -> list[str]:
    """One plain-language sentence per KPI."""
    out = []
    pct = round(100 * ctx.confidence)
    for row in kpi_table(ctx).to_dict("records"):
        kpi = ctx.kpi(row["kpi"])
        if row["suppressed"]:
            out.append(f"**{kpi.name}** is suppressed ({_why(ctx, row)}; minimum base "
                       f"{ctx.min_base}). {SUPPRESSION_RULE}")
            continue
        s = (f"**{kpi.name}** is **{kpi.fmt(row['value'])}** ({pct}% CI {kpi.fmt(row['ci_low'])} "
             f"to {kpi.fmt(row['ci_high'])}, n = {row['n']})")
        v = row["verdict"]
        if v in {"up", "down"}:
            s += (f", {v} {kpi.fmt(abs(row['change']), signed=False)} points on "
                  f"{_esc(row['previous_period'])} — "
                  "a change larger than the noise.")
        elif v == "no change beyond the noise":
            s += (f"; the {kpi.fmt(row['change'], signed=True)} move since "
                  f"{_esc(row['previous_period'])} "
                  "is within the noise, so it is not called a change.")
        else:
            s += f"; {v}."
        out.append(s)
    return out


def show_kpis(ctx: ReportContext) -> None:
    """Headline KPI table (interval, change vs the previous period) and one sentence each."""
    if suppressed_note(ctx):
        return
    table = _kpi_display(ctx)
    if table.empty:
        _md("_No headline KPI can be computed from this data._")
        return
    _html(_table_html(table, note="Changes are called up or down only when their "
                               f"{round(100 * ctx.confidence)}% interval excludes zero."))
    _md("\n".join(f"- {s}" for s in kpi_sentences(ctx)))


def show_header(ctx: ReportContext) -> None:
    """Scope line: who and what the report covers, its base and how to read it."""
    spec = ctx.spec
    scope = "the whole company" if ctx.segment is None else f"{ctx.label} only"
    bench = "" if ctx.segment is None else " The company figures are shown as the benchmark."
    scope = _esc(scope)         # data-derived text is escaped where it enters markup
    _md(f"# {spec.title}: {_esc(ctx.label)}, {_esc(ctx.period)}\n\n"
        f"Data **{_esc(ctx.data.name)}**, covering {scope}: **{ctx.base:,}** answered "
        f"{'surveys' if spec.table == 'survey' else 'post-contact surveys'} in {_esc(ctx.period)}."
        f"{bench} Every figure carries its {round(100 * ctx.confidence)}% confidence interval; "
        f"groups with fewer than {ctx.min_base} answers are suppressed.")
    suppressed_note(ctx)


def trend_table(ctx: ReportContext, kpi: str | None = None) -> pd.DataFrame:
    """A KPI per wave over the report's last ``waves`` waves: the report's scope and, for a
    segment report, the company benchmark. Columns: scope, wave, value, ci_low, ci_high, n,
    suppressed."""
    k = ctx.kpi(kpi) if kpi else ctx.kpis[0]
    scopes = [(ctx.label, ctx.scope(k.table))]
    if ctx.segment is not None:
        scopes.append(("Company", ctx.company(k.table)))
    parts = []
    for i, (label, frame) in enumerate(scopes):
        sub = frame.loc[frame["wave"].astype(str).isin(ctx.waves)]
        tab = metrics.table(sub.assign(wave=sub["wave"].astype(str)), k.column, metric=k.metric,
                            by="wave", min_base=ctx.min_base, confidence=ctx.confidence, **k.kwargs)
        tab.insert(0, "scope", label)
        if i == 0 and ctx.segment is not None:
            hidden = tab["wave"].astype(str).map(lambda w: is_protected(ctx, k, w)).astype(bool)
            tab.loc[hidden, ["value", "ci_low", "ci_high"]] = np.nan
            tab.loc[hidden, "suppressed"] = True
        parts.append(tab[["scope", "wave", "value", "ci_low", "ci_high", "n", "suppressed"]])
    out = pd.concat(parts, ignore_index=True)
    out["kpi"] = k.name
    return out


def show_trend(ctx: ReportContext) -> None:
    """Trend of every headline KPI over the last waves (figure per KPI row)."""
    if suppressed_note(ctx):
        return
    import matplotlib.pyplot as plt
    kpis = [k for k in ctx.kpis if ctx.has_scope(k.table)]
    fig, axes = plt.subplots(len(kpis), 1, figsize=(8.5, 2.7 * len(kpis)), sharex=True,
                             squeeze=False)
    pct = round(100 * ctx.confidence)
    for i, (ax, k) in enumerate(zip(axes[:, 0], kpis)):
        table = trend_table(ctx, k.name)
        plots.metric_trend(table, x="wave", hue="scope" if ctx.segment is not None else None,
                           ax=ax, title=f"{k.name} ({k.description})", ylabel=k.name)
        if i > 0 and ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.set_xlabel("")
    fig.suptitle(f"{ctx.label}: headline KPIs over the last {len(ctx.waves)} waves "
                 f"(shaded: {pct}% CI)", fontsize=12, fontweight="bold")
    _show_figure(fig)
    gaps = pd.concat([trend_table(ctx, k.name) for k in kpis], ignore_index=True)
    gaps = gaps.loc[gaps["suppressed"]]
    if len(gaps):
        listed = "; ".join(f"{_esc(scope)} {kpi}: {_esc(', '.join(sorted(g['wave'])))}"
                           for (scope, kpi), g in gaps.groupby(["scope", "kpi"], sort=False))
        _md(f"_Points left out had fewer than {ctx.min_base} answers (suppressed) — {listed}._")


def comparison_table(ctx: ReportContext) -> pd.DataFrame:
    """Company report: each KPI per segment of ``by`` in the period (suppressed below the base).
    Segment report: the segment beside the company benchmark; ``verdict`` says whether the
    segment differs from the rest of the company by more than the noise."""
    rows = []
    if ctx.segment is None:
        if ctx.by is None:
            return pd.DataFrame()
        for k in ctx.kpis:
            frame = ctx.in_period(ctx.company(k.table))
            if ctx.by not in frame.columns:
                continue
            tab = metrics.table(frame.assign(**{ctx.by: frame[ctx.by].astype(str)}), k.column,
                                metric=k.metric, by=ctx.by, min_base=ctx.min_base,
                                confidence=ctx.confidence, **k.kwargs)
            hidden = protected_segments(ctx, k)
            for r in tab.to_dict("records"):
                off = bool(r["suppressed"]) or str(r[ctx.by]) in hidden
                rows.append({"segment": r[ctx.by], "kpi": k.name,
                             "value": np.nan if off else r["value"],
                             "ci_low": np.nan if off else r["ci_low"],
                             "ci_high": np.nan if off else r["ci_high"], "n": r["n"],
                             "suppressed": off})
        return pd.DataFrame(rows)
    for k in ctx.kpis:
        if not ctx.has_scope(k.table):
            continue
        company = ctx.in_period(ctx.company(k.table))
        inside = company[ctx.by].astype(str) == ctx.segment
        ch = metrics.compare(company.loc[~inside, k.column], company.loc[inside, k.column],
                             metric=k.metric, min_base=ctx.min_base, confidence=ctx.confidence,
                             **k.kwargs)
        total = k.compute(company[k.column], ctx.min_base, ctx.confidence)
        seg = ch.b
        off = bool(seg.suppressed) or is_protected(ctx, k)
        if off:
            verdict = "suppressed"
        elif ch.significant:
            verdict = "above the company" if ch.difference > 0 else "below the company"
        else:
            verdict = "in line with the company (within the noise)"
        nan = np.nan
        rows.append({"kpi": k.name, "segment": nan if off else seg.value,
                     "segment_low": nan if off else seg.ci_low,
                     "segment_high": nan if off else seg.ci_high, "n": seg.n,
                     "company": total.value, "company_low": total.ci_low,
                     "company_high": total.ci_high,
                     "difference": nan if off else seg.value - total.value,
                     "p_value": nan if off else ch.p_value,
                     "significant": False if off else bool(ch.significant), "suppressed": off,
                     "verdict": verdict})
    return pd.DataFrame(rows)


def show_comparison(ctx: ReportContext) -> None:
    """Segment vs company benchmark, or (company report) the KPIs of every segment."""
    if suppressed_note(ctx):
        return
    table = comparison_table(ctx)
    if table.empty:
        _md("_This report was run without a segment split, so there is no segment comparison._")
        return
    pct = round(100 * ctx.confidence)
    if ctx.segment is None:
        shown = {}
        for r in table.to_dict("records"):
            k = ctx.kpi(r["kpi"])
            cell = ("suppressed" if r["suppressed"] else
                    f"{k.fmt(r['value'])} ({k.fmt(r['ci_low'])} to {k.fmt(r['ci_high'])})")
            shown.setdefault(r["segment"], {ctx.by.replace("_", " ").title(): r["segment"]})
            shown[r["segment"]][f"{k.name} ({pct}% CI)"] = cell
            if k is ctx.kpis[0]:
                shown[r["segment"]]["n"] = "–" if r["suppressed"] else r["n"]
        _html(_table_html(pd.DataFrame(list(shown.values())),
                          note=f"{ctx.period}. {SUPPRESSION_RULE}"))
        _show_figure(_plot_segments(ctx, table))
        return
    shown = []
    for r in table.to_dict("records"):
        k = ctx.kpi(r["kpi"])
        shown.append({"KPI": k.name,
                      ctx.label: "suppressed" if r["suppressed"] else
                      f"{k.fmt(r['segment'])} ({k.fmt(r['segment_low'])} to "
                      f"{k.fmt(r['segment_high'])})",
                      "Company": f"{k.fmt(r['company'])} ({k.fmt(r['company_low'])} to "
                                 f"{k.fmt(r['company_high'])})",
                      "difference": "" if r["suppressed"] else k.fmt(r["difference"], signed=True),
                      "verdict": r["verdict"]})
    _html(_table_html(pd.DataFrame(shown), note=f"{ctx.period}, {pct}% intervals. The verdict "
                      "tests this segment against the rest of the company."))


def _plot_segments(ctx: ReportContext, table: pd.DataFrame):
    """The first KPI per segment with its interval (suppressed segments: no point), lowest first,
    and the company's value as the dashed reference line."""
    import matplotlib.pyplot as plt
    k = ctx.kpis[0]
    sub = table.loc[(table["kpi"] == k.name)].sort_values("value")
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(sub) + 2), 3.8))
    total = kpi_table(ctx)
    total = total.loc[total["kpi"] == k.name, "value"]
    reference = float(total.iloc[0]) if len(total) and np.isfinite(total.iloc[0]) else None
    plots.metric_intervals(sub, x="segment", ax=ax, reference=reference, xlabel=ctx.by,
                           ylabel=f"{k.name}, {ctx.period}",
                           title=f"{k.name} by {ctx.by} with {round(100 * ctx.confidence)}% "
                                 "intervals" + ("; dashed: company" if reference is not None
                                               else ""))
    return fig


def record(ctx: ReportContext, **extra) -> dict:
    """Record the report's status and KPI cards as a JSON output the runner reads for the index
    page and the manifest (the cell is removed from the stakeholder HTML); ``extra`` (e.g. the
    summary's ``verdict``, ``flags`` and KPI cards marked with their flags) is added to or
    replaces entries of the record."""
    payload = {"status": "suppressed" if ctx.suppressed else "ok", "reason": ctx.reason,
               "label": ctx.label, "period": ctx.period, "previous": ctx.previous,
               "base": None if ctx.suppressed else int(ctx.base), "by": ctx.by,
               "segment": ctx.segment,
               "kpis": kpi_cards(ctx), "notes": list(ctx.notes)}
    payload.update(extra)          # e.g. the summary's verdict, flags and flagged KPI cards
    return write_record(payload)

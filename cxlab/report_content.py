"""Report content: what the cells of a report template call, one call a section.

    from cxlab import report_content as rc
    ctx = rc.prepare("quarterly", globals())   # parameters checked, data loaded, segment cut
    rc.show_header(ctx); rc.show_kpis(ctx); ...; rc.record(ctx)

Sections (each ``show_*`` displays a table/figure and plain-language sentences; the ``*_table`` /
``*_result`` function behind it returns the numbers, unit-tested):

- quarterly: ``show_header``, ``show_kpis`` (KPI, interval, change vs the previous period),
  ``show_trend``, ``show_comparison`` (segment vs company), ``show_drivers`` (LMG importance),
  ``show_churn`` (churn by NPS group), ``show_value`` (revenue at risk), ``show_actions``
  (what-if chain, actions ranked by value);
- team_scorecard: ``show_header``, ``show_targets`` (company target cascaded to teams),
  ``show_kpis``, ``show_trend``, ``show_comparison``, ``show_scorecard`` (call-quality items and
  whether they drive CSAT), ``show_engagement`` (pulse, engagement-CSAT link);
- last cell of both: ``record`` (status and KPI cards the runner reads for the index page).

Groups below the minimum base are suppressed; notes on excluded data go into ``ctx.notes`` and
from there into the manifest. The runner (batch, HTML, index, manifest) is :mod:`cxlab.reports`;
this module depends on it (data loading, parameter checks), never the other way round.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd

from . import simulate
from .checks import CXDataError, CXWarning
from .frontline import QA_ITEMS  # the call-quality scorecard items
from .reports import (
    RECORD_MIME,
    ReportData,
    TemplateSpec,
    base_count,
    check_period,
    check_segment,
    load_data,
    segment_label,
    template_spec,
    validate_parameters,
    waves_of,
)


@dataclass(frozen=True)
class KPI:
    """A headline measure: which table/column, which cx.metrics function and its options."""

    name: str
    table: str
    column: str
    metric: str
    kwargs: Mapping = field(default_factory=dict)
    unit: str = ""
    description: str = ""

    def compute(self, scores, min_base: int, confidence: float):
        from . import metrics
        return getattr(metrics, self.metric)(scores, min_base=min_base, confidence=confidence,
                                             **self.kwargs)

    def fmt(self, value: float, signed: bool | None = None) -> str:
        if value is None or not np.isfinite(value):
            return "–"
        signed = self.name == "NPS" if signed is None else signed
        digits = 2 if self.unit == "mean" else 1
        text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
        text = text.replace("-", "−")
        if self.unit == "%":
            text += ("" if signed else "%")
            if signed:
                text += " pts"
        return text


QUARTERLY_KPIS = (
    KPI("NPS", "survey", "ltr", "nps", {}, "score",
        "likelihood to recommend 0–10: % promoters (9–10) − % detractors (0–6)"),
    KPI("CSAT", "survey", "osat", "csat", {"scale": (1, 5), "top": 2}, "%",
        "overall satisfaction: % answering 4 or 5 on 1–5"),
    KPI("CES", "survey", "effort", "ces", {"scale": (1, 7)}, "mean",
        "customer effort: mean of 1–7, 7 = very easy (higher is better)"),
)
TEAM_KPIS = (
    KPI("CSAT", "contacts", "csat", "csat", {"scale": (1, 5), "top": 2}, "%",
        "post-contact satisfaction: % answering 4 or 5 on 1–5"),
    KPI("CES", "contacts", "ces", "ces", {"scale": (1, 7)}, "mean",
        "post-contact effort: mean of 1–7, 7 = very easy"),
    KPI("FCR", "contacts", "fcr", "top_box", {"scale": (0, 1), "top": (1,)}, "%",
        "first-contact resolution: % of contacts resolved at the first contact"),
)
KPIS = {"quarterly": QUARTERLY_KPIS, "team_scorecard": TEAM_KPIS}

_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open", "display"}


@dataclass
class ReportContext:
    """Validated parameters plus the data a report may show (its own segment, and the company
    as benchmark). Created by :func:`prepare`; every ``show_*`` section takes it."""

    template: str
    data: ReportData
    period: str
    previous: str | None
    waves: list[str]
    by: str | None
    segment: str | None
    min_base: int
    confidence: float
    seed: int
    options: dict
    base: int = 0
    suppressed: bool = False
    reason: str | None = None
    notes: list = field(default_factory=list)
    cache: dict = field(default_factory=dict)

    @property
    def spec(self) -> TemplateSpec:
        return template_spec(self.template)

    @property
    def label(self) -> str:
        return segment_label(self.by, self.segment)

    @property
    def kpis(self) -> tuple[KPI, ...]:
        return KPIS.get(self.spec.name, QUARTERLY_KPIS)

    def scope(self, table: str) -> pd.DataFrame:
        """The report's own rows of ``table`` (all waves): its segment, or the whole company."""
        frame = self.data.table(table)
        if self.segment is None:
            return frame
        if self.by not in frame.columns:
            raise CXDataError(f"The {table} table has no {self.by!r} column, so it cannot be "
                              f"cut to {self.label}.")
        return frame.loc[frame[self.by].astype(str) == self.segment]

    def has_scope(self, table: str) -> bool:
        frame = getattr(self.data, table, None)
        return frame is not None and (self.segment is None or self.by in frame.columns)

    def company(self, table: str) -> pd.DataFrame:
        return self.data.table(table)

    def in_period(self, frame: pd.DataFrame, period: str | None = None) -> pd.DataFrame:
        return frame.loc[frame["wave"].astype(str) == (period or self.period)]


def _user_parameters(namespace: Mapping) -> dict:
    """Names a notebook user (or papermill) set: no modules, IPython helpers or private names."""
    import types
    out = {}
    for name, value in namespace.items():
        if name.startswith("_") or name in _IPYTHON_NAMES or isinstance(value, types.ModuleType):
            continue
        if callable(value) and not isinstance(value, (str, int, float)):
            continue
        out[name] = value
    return out


def prepare(template: str, namespace: Mapping | None = None, **params) -> ReportContext:
    """Validate a report's parameters and load its data; the first code cell of every template.

    ``namespace`` is the notebook's ``globals()``: every user-set name must be a known parameter
    (papermill injects unknown names silently; here they are rejected). Wrong types, a period
    not in the data, an unknown segment or a missing file raise CXDataError with the fix, shown
    as the first output of the notebook.
    """
    try:
        merged = {**(_user_parameters(namespace) if namespace is not None else {}), **params}
        p = validate_parameters(template, merged)
        spec = template_spec(template)
        data = load_data(p["data"])
        frame = data.table(spec.table)
        waves = waves_of(frame)
        period = check_period(p["period"], waves)
        by, segment = check_segment(p["by"], p["segment"], frame)
    except CXDataError as err:
        _show_error(err)
        raise
    i = waves.index(period)
    ctx = ReportContext(template=spec.name, data=data, period=period,
                        previous=waves[i - 1] if i > 0 else None,
                        waves=waves[max(0, i - p.get("waves", 6) + 1): i + 1], by=by,
                        segment=segment, min_base=p["min_base"], confidence=p["confidence"],
                        seed=p["seed"], options={k: v for k, v in p.items()})
    ctx.base = base_count(frame, spec, period, by if segment is not None else None, segment)
    if ctx.base < ctx.min_base:
        ctx.suppressed = True
        ctx.reason = (f"{ctx.base} responses in {period} < minimum base {ctx.min_base}; "
                      "nothing is reported for this group")
    _setup_display()
    return ctx


def _in_ipython() -> bool:
    try:
        from IPython import get_ipython
        return get_ipython() is not None
    except ImportError:  # pragma: no cover
        return False


def _display(obj) -> None:
    if _in_ipython():
        from IPython.display import display
        display(obj)
    else:
        text = getattr(obj, "data", obj)
        print(text if isinstance(text, str) else obj)


def _md(text: str) -> None:
    from IPython.display import Markdown
    _display(Markdown(text))


def _html(text: str) -> None:
    from IPython.display import HTML
    _display(HTML(text))


def _show_error(err: Exception) -> None:
    if _in_ipython():
        _html('<div class="cx-callout"><b>Report parameters rejected.</b> '
              f"{html.escape(str(err))}</div>")


def _setup_display() -> None:
    """Seaborn styling and PNG figures (embedded as base64 in the HTML)."""
    import matplotlib
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook", palette="deep")
    matplotlib.rcParams.update({"figure.dpi": 110, "savefig.dpi": 110, "axes.titleweight": "bold",
                                "axes.titlesize": 12, "figure.autolayout": False})
    if _in_ipython():
        try:
            from matplotlib_inline.backend_inline import set_matplotlib_formats
            set_matplotlib_formats("png")
        except Exception:  # pragma: no cover - only cosmetics
            pass
    pd.set_option("display.max_rows", 60)


def _show_figure(fig) -> None:
    import matplotlib.pyplot as plt
    fig.tight_layout()
    if _in_ipython():
        _display(fig)
    plt.close(fig)


def _table_html(frame: pd.DataFrame, note: str | None = None) -> str:
    body = frame.to_html(index=False, border=0, escape=True, na_rep="–", classes="cx-table")
    return body + (f'<p class="cx-note">{html.escape(note)}</p>' if note else "")


# -- headline KPIs ------------------------------------------------------------------------------

def kpi_table(ctx: ReportContext) -> pd.DataFrame:
    """Each KPI for the report's scope in the period, with its interval and the change vs the
    previous period (difference, interval, p-value). ``verdict`` calls a change ``up``/``down``
    only when the interval of the difference excludes zero; otherwise ``no change beyond the
    noise``. Groups below ``min_base`` are ``suppressed`` (NaN numbers)."""
    key = "kpi_table"
    if key in ctx.cache:
        return ctx.cache[key]
    from . import metrics
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
        row["verdict"] = _verdict(row)
        rows.append(row)
    cols = ["kpi", "period", "value", "ci_low", "ci_high", "n", "suppressed", "previous_period",
            "previous", "n_previous", "change", "change_low", "change_high", "p_value",
            "significant", "verdict"]
    out = pd.DataFrame(rows, columns=cols)
    ctx.cache[key] = out
    return out


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


def _kpi(ctx: ReportContext, name: str) -> KPI:
    return next(k for k in ctx.kpis if k.name == name)


def kpi_cards(ctx: ReportContext) -> list[dict]:
    """KPI values formatted for the index page (recorded by :func:`record`)."""
    cards = []
    if ctx.suppressed:
        return cards
    pct = round(100 * ctx.confidence)
    for row in kpi_table(ctx).to_dict("records"):
        kpi = _kpi(ctx, row["kpi"])
        if row["suppressed"]:
            cards.append({"name": kpi.name, "text": "suppressed", "interval": f"n = {row['n']}",
                          "change_text": "", "direction": None, "value": None, "n": int(row["n"])})
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
                      "value": _num(row["value"]), "ci_low": _num(row["ci_low"]),
                      "ci_high": _num(row["ci_high"]), "n": int(row["n"]),
                      "change": _num(row["change"]), "significant": bool(row["significant"])})
    return cards


def _signed(value: float, digits: int = 2, suffix: str = "") -> str:
    """'+1.23' / '−1.23' with a true minus sign."""
    return f"{value:+.{digits}f}{suffix}".replace("-", "−")


def _eur(value: float) -> str:
    """'€1,234' / '−€1,234'."""
    return ("−" if value < 0 else "") + f"€{abs(value):,.0f}"


def _num(x) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 4)


def _kpi_display(ctx: ReportContext) -> pd.DataFrame:
    pct = round(100 * ctx.confidence)
    rows = []
    for row in kpi_table(ctx).to_dict("records"):
        kpi = _kpi(ctx, row["kpi"])
        if row["suppressed"]:
            rows.append({"KPI": kpi.name, ctx.period: "suppressed", f"{pct}% CI": "",
                         "n": row["n"], f"vs {row['previous_period'] or '–'}": "",
                         "change": "suppressed (base too small)"})
            continue
        verdict = row["verdict"]
        change = (f"{kpi.fmt(row['change'], signed=True)} ({kpi.fmt(row['change_low'], signed=True)}"
                  f" to {kpi.fmt(row['change_high'], signed=True)})"
                  if np.isfinite(row["change"]) else "–")
        label = {"up": "▲ up", "down": "▼ down"}.get(verdict, verdict)
        rows.append({"KPI": kpi.name, ctx.period: kpi.fmt(row["value"]),
                     f"{pct}% CI": f"{kpi.fmt(row['ci_low'])} to {kpi.fmt(row['ci_high'])}",
                     "n": row["n"], f"vs {row['previous_period'] or '–'}": change,
                     "change": label})
    return pd.DataFrame(rows)


def kpi_sentences(ctx: ReportContext) -> list[str]:
    """One plain-language sentence per KPI."""
    out = []
    pct = round(100 * ctx.confidence)
    for row in kpi_table(ctx).to_dict("records"):
        kpi = _kpi(ctx, row["kpi"])
        if row["suppressed"]:
            out.append(f"**{kpi.name}** is suppressed: {row['n']} answers are fewer than the "
                       f"minimum base of {ctx.min_base}.")
            continue
        s = (f"**{kpi.name}** is **{kpi.fmt(row['value'])}** ({pct}% CI {kpi.fmt(row['ci_low'])} "
             f"to {kpi.fmt(row['ci_high'])}, n = {row['n']})")
        v = row["verdict"]
        if v in {"up", "down"}:
            s += (f", {v} {kpi.fmt(abs(row['change']), signed=False)} points on "
                  f"{row['previous_period']} — "
                  "a change larger than the noise.")
        elif v == "no change beyond the noise":
            s += (f"; the {kpi.fmt(row['change'], signed=True)} move since {row['previous_period']} "
                  "is within the noise, so it is not called a change.")
        else:
            s += f"; {v}."
        out.append(s)
    return out


def show_kpis(ctx: ReportContext) -> None:
    """Headline KPI table (interval, change vs the previous period) and one sentence each."""
    if _suppressed_note(ctx):
        return
    table = _kpi_display(ctx)
    if table.empty:
        _md("_No headline KPI can be computed from this data._")
        return
    _html(_table_html(table, note="Changes are called up or down only when their "
                               f"{round(100 * ctx.confidence)}% interval excludes zero."))
    _md("\n".join(f"- {s}" for s in kpi_sentences(ctx)))


def _suppressed_note(ctx: ReportContext) -> bool:
    if ctx.suppressed:
        _html(f'<div class="cx-callout">Suppressed: {html.escape(ctx.reason or "")}.</div>')
    return ctx.suppressed


def show_header(ctx: ReportContext) -> None:
    """Scope line: who and what the report covers, its base and how to read it."""
    spec = ctx.spec
    scope = "the whole company" if ctx.segment is None else f"{ctx.label} only"
    bench = "" if ctx.segment is None else " The company figures are shown as the benchmark."
    _md(f"# {spec.title}: {ctx.label}, {ctx.period}\n\n"
        f"Data **{ctx.data.name}**, covering {scope}: **{ctx.base:,}** answered "
        f"{'surveys' if spec.table == 'survey' else 'post-contact surveys'} in {ctx.period}."
        f"{bench} Every figure carries its {round(100 * ctx.confidence)}% confidence interval; "
        f"groups with fewer than {ctx.min_base} answers are suppressed.")
    _suppressed_note(ctx)


# -- trend over waves ---------------------------------------------------------------------------

def trend_table(ctx: ReportContext, kpi: str | None = None) -> pd.DataFrame:
    """A KPI per wave over the report's last ``waves`` waves: the report's scope and, for a
    segment report, the company benchmark. Columns: scope, wave, value, ci_low, ci_high, n,
    suppressed."""
    from . import metrics
    k = _kpi(ctx, kpi) if kpi else ctx.kpis[0]
    scopes = [(ctx.label, ctx.scope(k.table))]
    if ctx.segment is not None:
        scopes.append(("Company", ctx.company(k.table)))
    parts = []
    for label, frame in scopes:
        sub = frame.loc[frame["wave"].astype(str).isin(ctx.waves)]
        tab = metrics.table(sub.assign(wave=sub["wave"].astype(str)), k.column, metric=k.metric,
                            by="wave", min_base=ctx.min_base, confidence=ctx.confidence, **k.kwargs)
        tab.insert(0, "scope", label)
        parts.append(tab[["scope", "wave", "value", "ci_low", "ci_high", "n", "suppressed"]])
    out = pd.concat(parts, ignore_index=True)
    out["kpi"] = k.name
    return out


def plot_trend(table: pd.DataFrame, ax=None, title: str | None = None, legend: bool = True):
    """Line per scope with its confidence band; suppressed waves are gaps."""
    import matplotlib.pyplot as plt
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.4))
    waves = sorted(table["wave"].unique())
    x = {w: i for i, w in enumerate(waves)}
    colors = {"Company": "#7b8794"}
    for i, (scope, grp) in enumerate(table.groupby("scope", sort=False)):
        color = colors.get(scope, plt.cm.tab10(0 if i == 0 else i))
        xs = grp["wave"].map(x)
        style = "--" if scope == "Company" and table["scope"].nunique() > 1 else "-"
        ax.plot(xs, grp["value"], style, marker="o", color=color, label=scope, lw=2)
        ax.fill_between(xs, grp["ci_low"], grp["ci_high"], color=color, alpha=0.15, lw=0)
    ax.set_xticks(range(len(waves)), waves)
    kpi = table["kpi"].iloc[0] if "kpi" in table and len(table) else ""
    ax.set_ylabel(kpi)
    ax.set_title(title or f"{kpi} by wave, with 95% confidence band")
    if table["scope"].nunique() > 1 and legend:
        ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def show_trend(ctx: ReportContext) -> None:
    """Trend of every headline KPI over the last waves (figure per KPI row)."""
    if _suppressed_note(ctx):
        return
    import matplotlib.pyplot as plt
    kpis = [k for k in ctx.kpis if ctx.has_scope(k.table)]
    fig, axes = plt.subplots(len(kpis), 1, figsize=(8.5, 2.7 * len(kpis)), sharex=True,
                             squeeze=False)
    pct = round(100 * ctx.confidence)
    for i, (ax, k) in enumerate(zip(axes[:, 0], kpis)):
        plot_trend(trend_table(ctx, k.name), ax=ax, title=f"{k.name} ({k.description})",
                   legend=i == 0)
        ax.title.set_fontsize(10)
    fig.suptitle(f"{ctx.label}: headline KPIs over the last {len(ctx.waves)} waves "
                 f"(shaded: {pct}% CI)", fontsize=12, fontweight="bold")
    _show_figure(fig)
    gaps = pd.concat([trend_table(ctx, k.name) for k in kpis], ignore_index=True)
    gaps = gaps.loc[gaps["suppressed"]]
    if len(gaps):
        listed = "; ".join(f"{scope} {kpi}: {', '.join(sorted(g['wave']))}" for (scope, kpi), g in
                           gaps.groupby(["scope", "kpi"], sort=False))
        _md(f"_Points left out had fewer than {ctx.min_base} answers (suppressed) — {listed}._")


# -- segment vs company -------------------------------------------------------------------------

def comparison_table(ctx: ReportContext) -> pd.DataFrame:
    """Company report: each KPI per segment of ``by`` in the period (suppressed below the base).
    Segment report: the segment beside the company benchmark; ``verdict`` says whether the
    segment differs from the rest of the company by more than the noise."""
    from . import metrics
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
            for r in tab.to_dict("records"):
                rows.append({"segment": r[ctx.by], "kpi": k.name, "value": r["value"],
                             "ci_low": r["ci_low"], "ci_high": r["ci_high"], "n": r["n"],
                             "suppressed": bool(r["suppressed"])})
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
        if ch.suppressed:
            verdict = "suppressed"
        elif ch.significant:
            verdict = "above the company" if ch.difference > 0 else "below the company"
        else:
            verdict = "in line with the company (within the noise)"
        rows.append({"kpi": k.name, "segment": seg.value, "segment_low": seg.ci_low,
                     "segment_high": seg.ci_high, "n": seg.n, "company": total.value,
                     "company_low": total.ci_low, "company_high": total.ci_high,
                     "difference": seg.value - total.value, "p_value": ch.p_value,
                     "significant": bool(ch.significant), "suppressed": bool(seg.suppressed),
                     "verdict": verdict})
    return pd.DataFrame(rows)


def show_comparison(ctx: ReportContext) -> None:
    """Segment vs company benchmark, or (company report) the KPIs of every segment."""
    if _suppressed_note(ctx):
        return
    table = comparison_table(ctx)
    if table.empty:
        _md("_This report was run without a segment split, so there is no segment comparison._")
        return
    pct = round(100 * ctx.confidence)
    if ctx.segment is None:
        shown = {}
        for r in table.to_dict("records"):
            k = _kpi(ctx, r["kpi"])
            cell = ("suppressed" if r["suppressed"] else
                    f"{k.fmt(r['value'])} ({k.fmt(r['ci_low'])} to {k.fmt(r['ci_high'])})")
            shown.setdefault(r["segment"], {ctx.by.replace("_", " ").title(): r["segment"]})
            shown[r["segment"]][f"{k.name} ({pct}% CI)"] = cell
            if k is ctx.kpis[0]:
                shown[r["segment"]]["n"] = r["n"]
        _html(_table_html(pd.DataFrame(list(shown.values())),
                          note=f"{ctx.period}. Segments with fewer than {ctx.min_base} answers "
                               "are suppressed."))
        _show_figure(_plot_segments(ctx, table))
        return
    shown = []
    for r in table.to_dict("records"):
        k = _kpi(ctx, r["kpi"])
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
    import matplotlib.pyplot as plt
    k = ctx.kpis[0]
    sub = table.loc[(table["kpi"] == k.name)].sort_values("value")
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(sub) + 1.4))
    ok = ~sub["suppressed"]
    y = np.arange(len(sub))
    ax.errorbar(sub.loc[ok, "value"], y[ok.to_numpy()],
                xerr=[sub.loc[ok, "value"] - sub.loc[ok, "ci_low"],
                      sub.loc[ok, "ci_high"] - sub.loc[ok, "value"]],
                fmt="o", color="#2b6cb0", capsize=4, lw=2)
    total = kpi_table(ctx)
    total = total.loc[total["kpi"] == k.name, "value"]
    if len(total) and np.isfinite(total.iloc[0]):
        ax.axvline(total.iloc[0], color="#7b8794", ls="--", lw=1.5, label="Company")
        ax.legend(frameon=False, loc="lower right")
    ax.set_yticks(y, [s + ("  (suppressed)" if sup else "") for s, sup in
                      zip(sub["segment"], sub["suppressed"])])
    ax.set_xlabel(f"{k.name}, {ctx.period}")
    ax.set_title(f"{k.name} by {ctx.by} with {round(100 * ctx.confidence)}% intervals")
    return fig


# -- churn and value link -----------------------------------------------------------------------

CHURN_HORIZON = 12  # months: churn within a year of the survey answer (matches annual revenue)


def analysis_frame(ctx: ReportContext) -> pd.DataFrame | None:
    """Survey answers of the report's scope joined to what the customer did next
    (``cx.retention.analysis_frame``, churn within ``CHURN_HORIZON`` months); None without a
    customers table."""
    if "analysis" in ctx.cache:
        return ctx.cache["analysis"]
    from . import retention
    out = None
    if ctx.has_scope("customers") and ctx.has_scope("survey"):
        contacts = ctx.scope("contacts") if ctx.has_scope("contacts") else None
        end = (ctx.data.truth or {}).get("observation_end")
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CXWarning)
            out = retention.analysis_frame(customers=ctx.scope("customers"),
                                           survey=ctx.scope("survey"), contacts=contacts,
                                           horizon=CHURN_HORIZON, observation_end=end)
        ctx.notes += [str(w.message) for w in caught if issubclass(w.category, CXWarning)]
    ctx.cache["analysis"] = out
    return out


def churn_table(ctx: ReportContext) -> pd.DataFrame:
    """Churn within CHURN_HORIZON months by NPS group (Wilson intervals), over the answers whose
    outcome is already known, with the group's mean monthly revenue; groups below the minimum
    base are suppressed."""
    from . import retention
    frame = analysis_frame(ctx)
    flag = f"churn_{CHURN_HORIZON}m"
    if frame is None or flag not in frame.columns:
        return pd.DataFrame()
    # Only answers followed for the whole horizon: for recent answers the churners are known
    # before the stayers, so keeping every decided outcome would inflate the churn rates.
    end = pd.Timestamp(frame.attrs.get("observation_end") or frame["survey_date"].max())
    full = pd.to_datetime(frame["survey_date"]) + pd.DateOffset(months=CHURN_HORIZON) <= end
    known = frame.loc[full & frame[flag].notna()]
    if len(known) < ctx.min_base:
        return pd.DataFrame()
    res = retention.churn_by_group(known, "nps_group", churned=flag, confidence=ctx.confidence)
    out = res.summary().copy()
    revenue = known.groupby(known["nps_group"].astype(str), observed=True)["monthly_revenue"].mean()
    out["monthly_revenue"] = out["nps_group"].astype(str).map(revenue)
    out["suppressed"] = out["n"] < ctx.min_base
    for col in ("churn_rate", "ci_low", "ci_high", "monthly_revenue"):
        out.loc[out["suppressed"], col] = np.nan
    out.attrs["waves"] = sorted(known["wave"].astype(str).unique())
    out.attrs["p_value"] = getattr(res, "test", {}).get("p_value") if isinstance(
        getattr(res, "test", None), dict) else None
    return out


def show_churn(ctx: ReportContext) -> None:
    """Who leaves: churn within six months of answering, by NPS group."""
    if _suppressed_note(ctx):
        return
    table = churn_table(ctx)
    if table.empty:
        _md("_Churn cannot be linked here: the data has no customers table, or too few answers "
            "with a known outcome._")
        return
    pct = round(100 * ctx.confidence)
    waves = table.attrs.get("waves", [])
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
        _md(f"{first['nps_group']}s left at **{first['churn_rate']:.1f}%** within {CHURN_HORIZON} "
            f"months against **{last['churn_rate']:.1f}%** for {last['nps_group'].lower()}s"
            + (f" — {ratio:.1f} times as often." if np.isfinite(ratio) else ".")
            + (" The intervals overlap, so treat the gap with care." if overlap else ""))
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 2.8))
    colors = ["#c53030", "#b7791f", "#2f855a"][:len(ok)]
    ax.barh(ok["nps_group"].astype(str), ok["churn_rate"], color=colors,
            xerr=[ok["churn_rate"] - ok["ci_low"], ok["ci_high"] - ok["churn_rate"]], capsize=4)
    ax.set_xlabel(f"% churned within {CHURN_HORIZON} months of answering")
    ax.set_title(f"{ctx.label}: churn by NPS group ({pct}% CI)")
    _show_figure(fig)


# -- recorded values for the index page ------------------------------------------------------

def record(ctx: ReportContext) -> dict:
    """Record the report's status and KPI cards as a JSON output the runner reads for the index
    page and the manifest (the cell is removed from the stakeholder HTML)."""
    payload = {"status": "suppressed" if ctx.suppressed else "ok", "reason": ctx.reason,
               "label": ctx.label, "period": ctx.period, "previous": ctx.previous,
               "base": int(ctx.base), "by": ctx.by, "segment": ctx.segment,
               "kpis": kpi_cards(ctx), "notes": list(ctx.notes)}
    if _in_ipython():
        from IPython.display import display
        display({RECORD_MIME: payload}, raw=True)
    return payload


# -- drivers ------------------------------------------------------------------------------------

TOUCHPOINTS = tuple(simulate.TOUCHPOINTS)   # the journey touchpoints of the data contract
DRIVER_MIN_BASE = 100   # answers needed before driver importances are shown at all
#: Touchpoints rated by fewer of the pooled answers than this share (e.g. onboarding: new
#: customers only) stay out of the driver model; see :func:`driver_result` for why.
DRIVER_MIN_COVERAGE = 0.5


def driver_frame(ctx: ReportContext) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Survey answers of the scope pooled over the last ``driver_waves`` waves that rated every
    touchpoint analysed, the touchpoints analysed and the ones left out (rated by fewer than
    ``DRIVER_MIN_COVERAGE`` of the pooled answers)."""
    survey = ctx.scope("survey")
    k = ctx.options.get("driver_waves", 4)
    i = waves_of(ctx.company("survey")).index(ctx.period)
    pool = waves_of(ctx.company("survey"))[max(0, i - k + 1): i + 1]
    frame = survey.loc[survey["wave"].astype(str).isin(pool)]
    present = [t for t in TOUCHPOINTS if t in frame.columns]
    share = {t: float(frame[t].notna().mean()) if len(frame) else 0.0 for t in present}
    used = [t for t in present if share[t] >= DRIVER_MIN_COVERAGE]
    left = [t for t in present if share[t] < DRIVER_MIN_COVERAGE]
    frame = frame.dropna(subset=["ltr", *used])
    frame.attrs["waves"] = pool
    frame.attrs["coverage"] = share
    return frame, used, left


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
    if "drivers" in ctx.cache:
        return ctx.cache["drivers"]
    import warnings

    from . import drivers
    frame, used, left = driver_frame(ctx)
    res = None
    if len(used) >= 2 and len(frame) >= max(DRIVER_MIN_BASE, ctx.min_base, 10 * len(used)):
        labels = {t: _nice(t) for t in used}         # readable names in tables and charts
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", CXWarning)
            res = drivers.analyze(frame[["ltr", *used]].rename(columns=labels), "ltr",
                                  list(labels.values()), bootstrap=ctx.options.get("bootstrap", 200),
                                  seed=ctx.seed, conf=ctx.confidence, progress=False)
        ctx.notes += [f"drivers: {w.message}" for w in caught if issubclass(w.category, CXWarning)]
    ctx.cache["drivers"] = res
    ctx.cache["drivers_left_out"] = left
    ctx.cache["drivers_waves"] = frame.attrs.get("waves", [])
    ctx.cache["drivers_coverage"] = frame.attrs.get("coverage", {})
    return res


def show_drivers(ctx: ReportContext) -> None:
    """Which touchpoints drive the likelihood to recommend: importance with intervals and the
    importance–performance map."""
    if _suppressed_note(ctx):
        return
    res = driver_result(ctx)
    waves = ctx.cache.get("drivers_waves", [])
    if res is None:
        _html(f'<div class="cx-callout">Driver analysis suppressed: it needs at least '
              f"{max(DRIVER_MIN_BASE, ctx.min_base)} answers over {', '.join(waves)}.</div>")
        return
    import matplotlib.pyplot as plt
    lo, hi = res.r2_ci
    pct = round(100 * ctx.confidence)
    _md(f"LMG (Shapley) relative importance of each touchpoint rating for likelihood to recommend, "
        f"from the **{res.n:,}** answers over {waves[0]}–{waves[-1]} that rated every touchpoint "
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
    quad = res.quadrant()
    fix = quad.loc[quad["quadrant"] == "Fix"]
    if len(fix):
        items = ", ".join(f"**{n}**" + ("" if c else " (uncertain)")
                          for n, c in zip(fix.index, fix["confident"]))
        _md(f"**Fix first** (important but rated below average): {items}.")
    left = ctx.cache.get("drivers_left_out", [])
    cover = ctx.cache.get("drivers_coverage", {})
    if left:
        _md("_Rated by too few customers to enter the model (under "
            f"{DRIVER_MIN_COVERAGE:.0%} of answers): "
            + ", ".join(f"{_nice(t).lower()} ({cover.get(t, 0):.0%})" for t in left) + "._")


# -- revenue at risk ----------------------------------------------------------------------------

def revenue_at_risk(ctx: ReportContext):
    """Annual revenue at risk from experience-linked churn: ``cx.value.revenue_at_risk`` with the
    12-month churn by NPS group (baseline: promoters' churn), applied to the scope's current
    customers split by this quarter's NPS-group shares, at each group's annual revenue."""
    if "rar" in ctx.cache:
        return ctx.cache["rar"]
    from . import retention, value
    out = None
    table = churn_table(ctx)
    if not table.empty and not table["suppressed"].any() and ctx.has_scope("customers"):
        customers = ctx.scope("customers")
        active = int((customers["churned"] == 0).sum()) if "churned" in customers else len(customers)
        current = ctx.in_period(ctx.scope("survey"))
        groups = retention.nps_group(current["ltr"]).astype(str).value_counts(normalize=True)
        mix = {g: float(groups.get(g, 0.0)) * active for g in table["nps_group"].astype(str)}
        churn = table.assign(nps_group=table["nps_group"].astype(str))
        if all(v > 0 for v in mix.values()):
            out = value.revenue_at_risk(
                churn, "nps_group", value={g: 12 * v for g, v in
                                           zip(churn["nps_group"], churn["monthly_revenue"])},
                customers=mix, baseline="Promoter", scale="percent", level=ctx.confidence)
            out.table.attrs["active"] = active
    ctx.cache["rar"] = out
    return out


def show_value(ctx: ReportContext) -> None:
    """Revenue at risk: the annual revenue of the extra churn among passives and detractors."""
    if _suppressed_note(ctx):
        return
    res = revenue_at_risk(ctx)
    if res is None:
        _md("_Revenue at risk is not shown: it needs customers with revenue and enough answers "
            f"in every NPS group (minimum base {ctx.min_base})._")
        return
    pct = round(100 * ctx.confidence)
    t = res.table
    tot = res.total
    _md(f"If passives and detractors churned like promoters do, **{ctx.label}** would keep about "
        f"**{_eur(tot['revenue_at_risk'])}** a year ({pct}% CI {_eur(tot['ci_low'])} to "
        f"{_eur(tot['ci_high'])}) — the revenue at risk from the experience, for "
        f"{t.attrs.get('active', 0):,} active customers split by this quarter's NPS mix.")
    shown = pd.DataFrame({
        "NPS group": t["group"],
        "customers": t["customers"].round().astype(int).map("{:,}".format),
        "extra churn vs promoters": [_signed(100 * v, 1, " pts") for v in t["linked_churn"]],
        "annual revenue each": t["value"].map(_eur),
        "revenue at risk": t["revenue_at_risk"].map(_eur),
        f"{pct}% CI": [f"{_eur(a)} to {_eur(b)}" for a, b in zip(t["ci_low"], t["ci_high"])]})
    _html(_table_html(shown, note="Promoters are the baseline (no revenue at risk by "
                                  "definition). Intervals combine the churn-rate intervals "
                                  "(MOVER)."))


# -- team scorecard: goals cascaded from the company target -------------------------------------

#: Default company targets when none is given: this quarter's company value plus this stretch.
DEFAULT_STRETCH = {"CSAT": 5.0, "FCR": 5.0, "CES": 0.2}
_KPI_RANGE = {"CSAT": (0.0, 100.0), "FCR": (0.0, 100.0), "CES": (1.0, 7.0)}
_TARGET_PARAM = {"CSAT": "csat_target", "FCR": "fcr_target", "CES": "ces_target"}


def cascade_targets(current: pd.DataFrame, company_target: float, low: float = 0.0,
                    high: float = 100.0) -> pd.DataFrame:
    """Equal-uplift cascade of a company target to units: the table of
    :func:`cxlab.frontline.cascade_targets` (``uplift``, ``target``; ``company_now`` in ``attrs``).
    A target clipped to the scale is kept clipped without a warning in the report."""
    import warnings

    from . import frontline
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CXWarning)
        return frontline.cascade_targets(current, company_target, low, high).table


def team_values(ctx: ReportContext, kpi: KPI) -> pd.DataFrame:
    """The KPI per team in the period: team, n, value (suppressed teams keep value NaN)."""
    from . import metrics
    frame = ctx.in_period(ctx.company(kpi.table))
    tab = metrics.table(frame.assign(team=frame["team"].astype(str)), kpi.column, metric=kpi.metric,
                        by="team", min_base=1, confidence=ctx.confidence, **kpi.kwargs)
    return tab[["team", "n", "value"]]


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
        given = ctx.options.get(_TARGET_PARAM[k.name])
        lo, hi = _KPI_RANGE[k.name]
        target = given if given is not None else min(hi, company_now + DEFAULT_STRETCH[k.name])
        cascade = cascade_targets(teams, target, lo, hi)
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
                           suppressed=bool(own["suppressed"]))
                row["status"] = _target_status(row)
            else:
                row["suppressed"] = r["n"] < ctx.min_base
                if row["suppressed"]:
                    row["team_now"] = row["team_target"] = np.nan
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
    if _suppressed_note(ctx):
        return
    table = target_table(ctx)
    if table.empty:
        _md("_No team column in the data: targets cannot be cascaded._")
        return
    pct = round(100 * ctx.confidence)
    if ctx.segment is None:
        wide = {}
        for r in table.to_dict("records"):
            k = _kpi(ctx, r["kpi"])
            d = wide.setdefault(r["team"], {"Team": r["team"]})
            d[f"{k.name} now"] = "suppressed" if r["suppressed"] else k.fmt(r["team_now"])
            d[f"{k.name} target"] = "" if r["suppressed"] else k.fmt(r["team_target"])
        heads = table.drop_duplicates("kpi")
        _md("Company targets for " + ctx.period + ": " + "; ".join(
            f"**{r['kpi']} {_kpi(ctx, r['kpi']).fmt(r['company_target'])}** (now "
            f"{_kpi(ctx, r['kpi']).fmt(r['company_now'])}; {r['target_source']})"
            for r in heads.to_dict("records")) + ". Each team gets the same uplift, so when every "
            "team meets its target the company meets its own.")
        _html(_table_html(pd.DataFrame(list(wide.values())),
                          note=f"Teams with fewer than {ctx.min_base} answers are suppressed."))
        return
    shown = []
    for r in table.to_dict("records"):
        k = _kpi(ctx, r["kpi"])
        shown.append({"KPI": k.name, "company target": k.fmt(r["company_target"]),
                      "team target": k.fmt(r["team_target"]),
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


# -- call-quality scorecard ---------------------------------------------------------------------

def scorecard_table(ctx: ReportContext) -> pd.DataFrame:
    """Mean score (1–5) of each call-quality item, the team's evaluated calls in the pooled
    driver waves beside the company's; suppressed below the minimum base."""
    from . import metrics
    frame, _ = _scorecard_frame(ctx, ctx.scope("contacts"))
    company, _ = _scorecard_frame(ctx, ctx.company("contacts"))
    rows = []
    for item in [i for i in QA_ITEMS if i in frame.columns]:
        if frame[item].notna().sum() == 0:
            continue        # this scope's calls are not evaluated on the item
        own = metrics.mean(frame[item], scale=(1, 5), min_base=ctx.min_base, confidence=ctx.confidence)
        ref = metrics.mean(company[item], scale=(1, 5), min_base=ctx.min_base,
                           confidence=ctx.confidence)
        rows.append({"item": item, "value": own.value, "ci_low": own.ci_low, "ci_high": own.ci_high,
                     "n": own.n, "suppressed": own.suppressed, "company": ref.value})
    return pd.DataFrame(rows)


def _scorecard_frame(ctx: ReportContext, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    waves = waves_of(ctx.company("contacts"))
    i = waves.index(ctx.period)
    pool = waves[max(0, i - ctx.options.get("driver_waves", 4) + 1): i + 1]
    return frame.loc[frame["wave"].astype(str).isin(pool)], pool


def scorecard_validity(ctx: ReportContext):
    """:func:`cxlab.frontline.scorecard_validity` (items labelled for readers) among the team's
    evaluated and surveyed calls in the pooled driver waves; the company's when the team has
    fewer than ``DRIVER_MIN_BASE``. Returns (result or None, scope label)."""
    if "qa_validity" in ctx.cache:
        return ctx.cache["qa_validity"]
    from . import frontline
    out = (None, None)
    for label, frame in ((ctx.label, ctx.scope("contacts")), ("Company", ctx.company("contacts"))):
        sub, _ = _scorecard_frame(ctx, frame)
        items = [q for q in QA_ITEMS if q in sub.columns]
        used = sub.dropna(subset=[*items, "csat"]) if items and "csat" in sub else sub.iloc[:0]
        if len(used) >= max(DRIVER_MIN_BASE, ctx.min_base):
            labels = {q: _nice(q.removeprefix("qa_")) for q in items}
            out = (frontline.scorecard_validity(
                sub[["csat", *items]].rename(columns=labels), "csat", list(labels.values()),
                bootstrap=ctx.options.get("bootstrap", 200), seed=ctx.seed,
                confidence=ctx.confidence, min_n=len(used), progress=False), label)
            break
    ctx.cache["qa_validity"] = out
    return out


def scorecard_drivers(ctx: ReportContext):
    """Relative importance (LMG, bootstrap CI) of the call-quality items for post-contact CSAT:
    the ``DriverResult`` of :func:`scorecard_validity`. Returns (result or None, scope label)."""
    res, label = scorecard_validity(ctx)
    return (None if res is None else res.drivers), label


def show_scorecard(ctx: ReportContext) -> None:
    """The team's call-quality items and whether they drive its customers' satisfaction."""
    if _suppressed_note(ctx):
        return
    table = scorecard_table(ctx)
    _, pool = _scorecard_frame(ctx, ctx.company("contacts"))
    if table.empty or table["n"].max() == 0:
        _md(f"_{ctx.label}'s calls are not quality-evaluated (no scorecard items in "
            f"{pool[0]}–{pool[-1]})._")
        return
    pct = round(100 * ctx.confidence)
    shown = pd.DataFrame({
        "item": table["item"].str.removeprefix("qa_").str.replace("_", " "),
        f"{ctx.label}": ["suppressed" if s else f"{v:.2f} ({lo:.2f} to {hi:.2f})" for v, lo, hi, s in
                         zip(table["value"], table["ci_low"], table["ci_high"], table["suppressed"])],
        "evaluated calls": table["n"]})
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
    note = ("" if scope == ctx.label else f" ({ctx.label} has too few evaluated and surveyed calls; "
            "the company-wide analysis is shown)")
    _md(f"Which scorecard items drive post-contact CSAT in {where} calls{note}: LMG relative "
        f"importance from {res.n:,} calls (R² = {res.r2:.2f}).")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7.5, 0.4 * len(imp) + 1.5))
    res.plot(ax=ax)
    ax.set_title("Share of explained CSAT variance by scorecard item (with CI)")
    _show_figure(fig)
    nice = lambda xs: ", ".join(str(x).lower() for x in xs)  # noqa: E731
    if strong:
        _md(f"**Drive satisfaction:** {nice(strong)}.")
    if weak:
        _md(f"**Scored but not shown to drive satisfaction** (effect interval includes zero): "
            f"{nice(weak)}. Keep them for compliance if needed, but do not coach for CSAT on them.")


# -- engagement pulse ---------------------------------------------------------------------------

def engagement_table(ctx: ReportContext) -> pd.DataFrame:
    """Engagement (mean 1–5) and eNPS of the team's pulse answers pooled over the report's
    waves, beside the company's; suppressed below the minimum base."""
    from . import metrics
    if not ctx.has_scope("pulse"):
        return pd.DataFrame()
    rows = []
    for label, frame in ((ctx.label, ctx.scope("pulse")), ("Company", ctx.company("pulse"))):
        sub = frame.loc[frame["wave"].astype(str).isin(ctx.waves)]
        eng = metrics.mean(sub["engagement"], scale=(1, 5), min_base=ctx.min_base,
                           confidence=ctx.confidence)
        enps = metrics.nps(sub["enps"], min_base=ctx.min_base, confidence=ctx.confidence)
        for name, res in (("engagement", eng), ("eNPS", enps)):
            rows.append({"scope": label, "measure": name, "value": res.value, "ci_low": res.ci_low,
                         "ci_high": res.ci_high, "n": res.n, "suppressed": res.suppressed})
        if ctx.segment is None:
            break
    return pd.DataFrame(rows)


def engagement_link(ctx: ReportContext) -> dict | None:
    """Company-wide link of team engagement to team CSAT (:func:`cxlab.frontline.engagement_link`
    per team-quarter, clustered by team): slope (CSAT points per engagement point) with its
    interval, points and teams; None without pulse or contacts or with fewer than 10 points."""
    from . import frontline
    data = ctx.data
    if data.pulse is None or data.contacts is None:
        return None
    try:
        link = frontline.engagement_link(data.pulse, data.contacts, level="team_wave",
                                         confidence=ctx.confidence)
    except CXDataError:
        return None
    return link.as_dict() if len(link.points) >= 10 else None


def show_engagement(ctx: ReportContext) -> None:
    """The team's engagement pulse and the company-wide link of engagement to CSAT."""
    if _suppressed_note(ctx):
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
        "answers": table["n"]})
    _html(_table_html(shown, note=f"Pulse answers pooled over {ctx.waves[0]}–{ctx.waves[-1]} "
                                  "(teams are small; one quarter alone is below the base)."))
    link = engagement_link(ctx)
    if link is not None:
        verdict = ("a link larger than the noise" if link["ci_low"] > 0 or link["ci_high"] < 0
                   else "not distinguishable from no link")
        _md(f"Across the company ({link['teams']} teams, {link['points']} team-quarters), a team "
            f"whose engagement is one point higher has post-contact CSAT "
            f"**{_signed(link['slope'], 1)} points** higher ({pct}% CI "
            f"{_signed(link['ci_low'], 1)} to {_signed(link['ci_high'], 1)}; {verdict})."
            + (" Engagement is worth managing as a CX lever." if link["ci_low"] > 0 else ""))


# -- what-if: actions ranked by value -----------------------------------------------------------

#: Touchpoints most customers rate: candidates for the what-if driver model (listwise rows).
WHATIF_MAX_MISSING = 0.25
WHATIF_DETRACTOR_SHARE = 0.2


def actions_result(ctx: ReportContext):
    """``cx.whatif.chain`` for the report's scope: raise each widely rated touchpoint by one point,
    or move 20% of detractors to passive; driver → score → churn → 3-year value with bootstrap
    intervals. The chain merges control levels with too few churn events into the reference
    and counts failed bootstrap draws itself; its warnings and notes (merged levels, failed
    share) go into ``ctx.notes``. None (with a note) when the scope cannot support the chain."""
    if "whatif" in ctx.cache:
        return ctx.cache["whatif"]
    import warnings

    from . import whatif
    out = None
    survey = ctx.scope("survey") if ctx.has_scope("survey") else None
    drivers = [] if survey is None else [t for t in TOUCHPOINTS if t in survey.columns
                                         and survey[t].isna().mean() <= WHATIF_MAX_MISSING]
    if ctx.has_scope("customers") and drivers \
            and len(survey) >= max(DRIVER_MIN_BASE, ctx.min_base):
        actions = [whatif.raise_driver(d, 1.0, name=f"{_nice(d)} +1 point") for d in drivers]
        actions.append(whatif.move_detractors(
            WHATIF_DETRACTOR_SHARE, name=f"{WHATIF_DETRACTOR_SHARE:.0%} of detractors won over "
                                         "to passive"))
        scope = SimpleNamespace(customers=ctx.scope("customers"), survey=survey,
                                contacts=ctx.scope("contacts") if ctx.has_scope("contacts")
                                else None)
        controls = [c for c in ("plan", "tenure_band", "segment") if c != ctx.by]
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", CXWarning)
                out = whatif.chain(scope, actions, drivers, controls=controls, seed=ctx.seed,
                                   bootstrap=ctx.options.get("bootstrap", 200),
                                   confidence=ctx.confidence, progress=False)
        except (CXDataError, np.linalg.LinAlgError) as err:
            ctx.notes.append(f"what-if chain not computed: {str(err).splitlines()[0]}")
        else:
            ctx.notes += [f"what-if: {n}" for n in out.settings.get("notes", [])]
            ctx.notes += [f"what-if: {w.message}" for w in caught
                          if issubclass(w.category, CXWarning)
                          and not any(str(w.message).startswith(n)
                                      for n in out.settings.get("notes", []))]
    ctx.cache["whatif"] = out
    return out


def _nice(name: str) -> str:
    return name.replace("_", " ").replace("selfservice", "self-service").capitalize()


def actions_table(ctx: ReportContext) -> pd.DataFrame:
    """The ``top_actions`` best actions by value (what-if chain), best first."""
    res = actions_result(ctx)
    if res is None:
        return pd.DataFrame()
    return res.table.head(ctx.options.get("top_actions", 5)).reset_index(drop=True)


def show_actions(ctx: ReportContext) -> None:
    """Top actions ranked by the value the what-if chain puts on them."""
    if _suppressed_note(ctx):
        return
    res = actions_result(ctx)
    if res is None:
        reason = next((n for n in ctx.notes if n.startswith("what-if chain not computed")), None)
        _md("_The what-if chain needs customers with revenue and at least "
            f"{max(DRIVER_MIN_BASE, ctx.min_base)} survey answers; not shown here"
            + (f" ({reason.split(': ', 1)[1]})" if reason else "") + "._")
        return
    pct = round(100 * ctx.confidence)
    top = actions_table(ctx)
    shown = pd.DataFrame({
        "action (best first)": top["action"],
        "score change (0–10)": [f"{_signed(v)} ({_signed(lo)} to {_signed(hi)})" for v, lo, hi in
                                zip(top["delta_score"], top["delta_score_ci_low"],
                                    top["delta_score_ci_high"])],
        "churn change": [f"{_signed(v, 2, ' pts')} ({_signed(lo)} to {_signed(hi)})" for v, lo, hi in
                         zip(top["delta_churn"], top["delta_churn_ci_low"], top["delta_churn_ci_high"])],
        "customers kept": top["retained"].map(lambda v: f"{v:,.0f}".replace("-", "−")),
        f"value ({pct}% CI)": [f"{_eur(v)} ({_eur(lo)} to {_eur(hi)})" for v, lo, hi in
                               zip(top["net_value"], top["net_ci_low"], top["net_ci_high"])],
        "chance value > 0": top["prob_positive"].map(lambda v: f"{v:.0%}")})
    st = res.settings
    _html(_table_html(shown, note=(
        f"Chain: touchpoint rating → likelihood to recommend (regression) → churn (Cox model) → "
        f"{st.get('years', 3)}-year customer value at {st.get('discount', 0.1):.0%} discount, for "
        f"{st.get('customers', 0):,.0f} customers; revenue counted as margin; {st.get('bootstrap')} "
        "bootstrap draws" + (f" ({st['failed_draws']} more, {st['failed_share']:.1%}, could not be "
                             "refitted and were left out)" if st.get("failed_draws") else "")
        + ". Churn change in percentage points over 12 months.")))
    merged = [m for m in st.get("merged_levels", []) if m.get("level") is not None]
    if merged:
        levels = sorted({f"{m['control'].replace('_', ' ')} {m['level']}" for m in merged})
        _md(f"_Note: too few churn events to estimate {', '.join(levels)} each on its own; "
            "they are counted with their reference level in the churn models._")
    sure = top.loc[top["net_ci_low"] > 0, "action"].tolist()
    if sure:
        _md(f"**Worth doing first** (value interval above zero): {', '.join(sure)}.")
    else:
        _md("_No action's value is clearly above zero at this base: treat the ranking as a "
            "hypothesis to test, not a plan._")

"""What the driver-study template's cells call: one ``show_*`` a section, each a table or
figure with plain-language sentences (the numbers come from :mod:`cxlab.study.analysis`).

    study = cx.study.start("study.yaml")     # validates, stops on errors, runs every section
    cx.study.show_importance(study)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..display import escape as _esc
from ..display import figure as _fig
from ..display import markdown as _md
from ..display import setup
from ..display import show as _show
from ..display import styled_table as _fmt_table
from .analysis import StudyResult, run
from .loading import source_label
from .schema import load_schema

#: A relative configuration path not found from the working folder is looked up here (the
#: repository root of a checkout: the template's default is ``examples/study_kestrel.yaml``).
_CHECKOUT = Path(__file__).resolve().parents[2]


def start(config: str | Path | Mapping, bootstrap: int | None = None, progress: bool = False,
          data: str | None = None) -> StudyResult:
    """Notebook entry: read the configuration (a path is looked up from the working folder, then
    from the repository root), run the study and set up the figures' style."""
    setup()
    if not isinstance(config, Mapping):
        path = Path(config)
        if not path.exists():
            alt = _CHECKOUT / path
            path = alt if alt.exists() else path
        config = path
    schema = load_schema(config, bootstrap=bootstrap, data=data)
    return run(schema, progress=progress)


def show_header(res: StudyResult) -> None:
    s = res.schema
    o = s.outcome
    kind = {"nps": "likelihood to recommend (0–10)", "binary": "a yes/no outcome",
            "rating": f"a {o.scale[0]:g}–{o.scale[1]:g} rating" if o.scale else "a rating"}[o.kind]
    _md(f"# {_esc(s.title)}\n\nOutcome **{_esc(o.label or o.column)}** ({_esc(kind)}); "
        f"{len(s.drivers)} drivers"
        + (f" in {len(s.groups)} group{'s' if len(s.groups) > 1 else ''}" if s.groups else "")
        + (f"; segments: {_esc(', '.join(s.segments))}" if s.segments else "")
        + f". Data: {_esc(source_label(s))}"
        + (f", filter {_esc(s.filter)}" if s.filter else "") + ".")


def issue_counts(rep) -> pd.DataFrame:
    """The validation findings as counts for stakeholder pages: severity, check, column and the
    rows affected; the messages (which quote values, ids and row numbers) stay out."""
    order = {"error": 0, "warning": 1, "info": 2}
    rows = [{"severity": i.severity, "check": i.check, "column": i.column, "rows affected": i.n}
            for i in sorted(rep.issues, key=lambda i: order.get(i.severity, 3))]
    return pd.DataFrame(rows, columns=["severity", "check", "column", "rows affected"])


def show_quality(res: StudyResult) -> None:
    """Validation report, every exclusion counted, and what the reader recoded."""
    rep = res.report
    _md(f"**{rep.n_rows:,} rows checked; {rep.usable_rows:,} usable for the driver analysis.** "
        f"{len(rep.errors)} error(s), {len(rep.warnings)} warning(s).")
    tab = issue_counts(rep)
    if len(tab):
        _show(_fmt_table(tab))
        _md("_Counts only: the values and row numbers behind each finding are in the analyst's "
            "validation report (validation.txt), never in this page._")
    _md("Missing values per study column:")
    _show(_fmt_table(rep.columns.assign(share_missing=100 * rep.columns["share_missing"])
                     .rename(columns={"share_missing": "% missing"}), 1))
    _md("Every row that leaves the analysis, and why:")
    _show(_fmt_table(res.prepared.flow))
    read = rep.read_report
    if len(read):
        _md("What the reader detected and recoded in the file:")
        _show(_fmt_table(read))


def show_outcome(res: StudyResult) -> None:
    from .. import plots
    o = res.schema.outcome
    cols = [c for c in ("metric", "value", "ci_low", "ci_high", "n", "n_missing")
            if c in res.outcome.columns]
    _show(_fmt_table(res.outcome[cols], 2))
    ax = plots.outcome_distribution(res.distribution, title=f"Distribution of {o.label or o.column}",
                                    xlabel=o.column)
    _fig(ax)


def _names(res: StudyResult) -> dict[str, str]:
    """Driver column -> display name ("label" when the configuration gives one)."""
    return {d.column: d.label for d in res.schema.drivers if d.label}


def _relabel(frame: pd.DataFrame, names: dict, column: str | None = None) -> pd.DataFrame:
    out = frame.copy()
    if column is None:
        out.index = [names.get(i, i) for i in out.index]
        out.index.name = frame.index.name
    else:
        out[column] = out[column].map(lambda v: names.get(v, v))
    return out


def show_importance(res: StudyResult) -> None:
    from .. import plots
    comp, names = res.importance, _names(res)
    primary = comp.results[comp.primary]
    _md(f"**Primary method: {_esc(comp.primary)}** — {_esc(primary.model)}; R² = {primary.r2:.3f} "
        f"({res.schema.confidence:.0%} CI {primary.r2_ci[0]:.3f}–{primary.r2_ci[1]:.3f}); "
        f"n = {primary.n:,}. " + _esc(" ".join(comp.notes)))
    _fig(plots.driver_importance(_relabel(primary.importance, names),
                                 title=f"Drivers of {res.schema.outcome.column} ({comp.primary})"))
    top = _relabel(comp.top(len(res.schema.drivers)), names)
    _show(_fmt_table(top.rename_axis("driver").reset_index(), 3))
    ag = comp.agreement()
    _md("### All methods side by side\n\nShare of explained variance per driver and method. "
        f"Agreement of the rankings (Kendall's W over {ag['methods']} methods): "
        f"**{ag['kendall_w']:.2f}** (1 = identical). Top three under every method: "
        + (", ".join(f"**{_esc(names.get(d, d))}**" for d in ag["top3_all_methods"]) or "none")
        + ".")
    _show(_fmt_table(_relabel(comp.shares(), names), 3, index=True))
    per = comp.table[comp.table["grouped"] == False]
    _fig(plots.importance_by_method(_relabel(per, names, "driver"),
                                    order=[names.get(d, d) for d in comp.shares().index]))
    grouped = comp.table[comp.table["grouped"] == True]
    if len(grouped):
        _md("Driver groups (LMG with each group as one player):")
        _show(_fmt_table(_relabel(grouped, names, "driver")[
            ["label", "driver", "share", "share_ci_low", "share_ci_high", "rank"]]
            .rename(columns={"driver": "group"}), 3))


def show_quadrant(res: StudyResult) -> None:
    from .. import plots
    q = _relabel(res.quadrant, _names(res))
    _show(_fmt_table(q.rename_axis("driver").reset_index(), 3))
    _fig(plots.quadrant(q))
    fix = [d for d, r in q.iterrows() if r["quadrant"] == "Fix"]
    if fix:
        _md("**Act first on:** " + _esc(", ".join(map(str, fix))) + " — important and below "
            "average.")


def show_segments(res: StudyResult) -> None:
    from .. import plots
    names = _names(res)
    if not res.segments:
        _md("No segment columns were given (or all were skipped; see the data check).")
        return
    for by, part in res.segments.items():
        _md(f"### By {_esc(by)}")
        m = part["metrics"]
        cols = [c for c in (by, "metric", "n", "value", "ci_low", "ci_high", "suppressed")
                if c in m.columns]
        _show(_fmt_table(m[cols], 1))
        _fig(plots.metric_intervals(m, x=by, ylabel=str(m["metric"].iloc[0]),
                                    title=f"{res.schema.outcome.column} by {by}"))
        _md("Mean driver rating per segment (–: fewer answers than the minimum base):")
        _show(_fmt_table(_relabel(part["performance"], names), 2, index=True))
        seg = part["importance"]
        if seg is not None:
            _md(f"Importance ({_esc(res.importance.primary)}, share) per segment:")
            _show(_fmt_table(_relabel(seg.summary(), names), 3, index=True))
        if part.get("notes"):
            _md("_Notes on the segment analysis: " + _esc(" ".join(part["notes"])) + "_")


def show_retention(res: StudyResult) -> None:
    from .. import plots
    link = res.retention
    if link is None:
        _md("No customer-outcome file with a churn flag was given, so the link to retention "
            "and value is not part of this study. Add `customers:` to the configuration.")
        return
    _md(_esc(" ".join(link.notes)))
    _show(_fmt_table(link.churn.table, 2))
    _fig(plots.churn_rates_plot(link.churn))
    if link.logit is not None:
        t = link.logit.summary()
        t = t[t["role"] != "intercept"] if "role" in t.columns else t
        cols = [c for c in ("term", "odds_ratio", "ci_low", "ci_high", "p_value", "ame",
                            "ame_ci_low", "ame_ci_high") if c in t.columns]
        _md("Logistic model of churn on the outcome (odds ratio per point; average marginal "
            "effect in percentage points):")
        _show(_fmt_table(t[cols], 3))
    if link.value is not None:
        _md("### Value at stake")
        _show(_fmt_table(link.value.summary(), 0))
        _fig(plots.revenue_at_risk_plot(link.value))


def show_themes(res: StudyResult) -> None:
    """What the comments say: each theme's share of the written comments and its adjusted
    effect on the outcome (``comment:`` in the configuration)."""
    table = res.themes
    if table is None:
        _md("No comment column was given (or fewer comments than the minimum base), so the "
            "themes of the open answers are not part of this study. Add `comment:` to the "
            "configuration.")
        return
    unit = table.attrs.get("unit", "")
    _md(f"Share of the {table.attrs.get('n_comments', 0):,} written comments mentioning each "
        f"theme, and the theme's effect on {_esc(res.schema.outcome.label or res.schema.outcome.column)}"
        f" ({_esc(unit)}), adjusted for the other themes: an association, not a cause. Effects "
        f"of themes in fewer than {res.schema.min_base} comments are left out. Themes listed "
        "as drivers are ranked with the other drivers above.")
    cols = ["n_with", "prevalence", "prevalence_ci_low", "prevalence_ci_high", "effect",
            "effect_ci_low", "effect_ci_high", "p_value"]
    _show(_fmt_table(table[cols].reset_index(), 1))
    for note in table.attrs.get("notes", []):
        _md(_esc(note))

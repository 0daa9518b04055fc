"""The quarterly report's "What customers say" section: themes of the open comments.

    from cxlab.report import voice
    voice.show_voice(ctx)          # prevalence, trend by wave, redacted quotes

The comments of the report's scope (its segment, or the company) are coded with the bundled
codeframe (:func:`cxlab.text.code`, English and Polish). Three parts:

* **prevalence** in the period: the share of written comments mentioning each theme, Wilson
  interval (:func:`cxlab.text.theme_impact`), and the theme's adjusted effect on NPS pooled over
  the report's waves (only for themes mentioned in at least ``min_base`` comments);
* **trend** by wave: the same shares wave by wave (the South's outage theme rises in 2026Q2);
* **quotes**: a few comments per theme, redacted (:func:`cxlab.text.quotes`: e-mails, phones,
  account/card/IBAN numbers, names), never with an id.

Privacy: a (scope, wave) cell is published only when it holds at least ``min_base`` written
comments and the segment is not complementarily suppressed among its siblings
(:func:`cxlab.report.record.complementary_suppression` on the comment counts); quotes come only
from themes with at least ``min_base`` comments, and suppressed themes are named only as "fewer
than N comments". Without a comments table the section is a plain note.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import intervals
from .. import text as cxtext
from ..display import escape as _esc
from ..display import figure as _show_figure
from ..display import html as _html
from ..display import html_table as _table_html
from ..display import markdown as _md
from .context import ReportContext, once, suppressed_note
from .record import complementary_suppression

__all__ = ["CODEFRAME", "comment_frame", "quote_table", "show_voice", "theme_label",
           "theme_prevalence", "theme_trend"]

#: The codeframe the report codes comments with (a bundled name or a YAML path).
CODEFRAME = "kestrel"


def theme_label(theme: str) -> str:
    """The codeframe's label of ``theme`` (e.g. 'Billing error')."""
    cf = cxtext.load_codeframe(CODEFRAME)
    return str(cf.themes.get(theme, {}).get("label") or theme.replace("_", " ").capitalize())


@once
def comment_frame(ctx: ReportContext) -> pd.DataFrame | None:
    """Written comments of the report's scope (all waves), one row each: wave, ltr, the
    comment, and one 0/1 column per theme; None when the data have no comments table."""
    comments = getattr(ctx.data, "comments", None)
    if comments is None or not ctx.has_scope("survey"):
        return None
    survey = ctx.scope("survey")[["response_id", "wave", "ltr"]]
    written = comments.loc[comments["comment"].fillna("").str.strip().str.len() > 0,
                           ["response_id", "language", "comment"]]
    frame = survey.merge(written, on="response_id", how="inner").reset_index(drop=True)
    themes = cxtext.code(frame["comment"], CODEFRAME, language=frame["language"].to_numpy())
    out = pd.concat([frame.drop(columns="response_id"), themes], axis=1)
    out.attrs["themes"] = list(themes.columns)
    return out


def _hidden_waves(ctx: ReportContext, waves) -> set:
    """Waves whose comment count of the report's segment is not published (primary or
    complementary suppression among the segments of ``ctx.by``)."""
    comments = getattr(ctx.data, "comments", None)
    hidden = set()
    frame = comment_frame(ctx)
    for w in waves:
        n = int((frame["wave"] == w).sum())
        if n < ctx.min_base:
            hidden.add(w)
            continue
        if ctx.segment is None or comments is None:
            continue
        survey = ctx.company("survey")
        if ctx.by not in survey.columns:
            continue
        ids = set(comments.loc[comments["comment"].fillna("").str.strip().str.len() > 0,
                               "response_id"])
        rows = survey.loc[(survey["wave"].astype(str) == w) & survey["response_id"].isin(ids)]
        counts = rows[ctx.by].astype(str).value_counts().to_dict()
        if str(ctx.segment) in complementary_suppression(counts, ctx.min_base):
            hidden.add(w)
    return hidden


def _shares(frame: pd.DataFrame, themes, confidence: float) -> pd.DataFrame:
    n = len(frame)
    x = frame[themes].sum().to_numpy(dtype=float)
    lo, hi = intervals.wilson(x, np.full(len(themes), n), confidence)
    return pd.DataFrame({"n_comments": n, "n_with": x.astype(int), "prevalence": 100 * x / n,
                         "prevalence_ci_low": 100 * lo, "prevalence_ci_high": 100 * hi},
                        index=pd.Index(themes, name="theme"))


@once
def theme_trend(ctx: ReportContext) -> pd.DataFrame:
    """Theme shares by wave (the report's waves): tidy, one row per wave and theme, with
    ``n_comments``, ``n_with``, ``prevalence`` and its Wilson interval (percent of written
    comments) and ``suppressed`` (numbers NaN where the wave is not published)."""
    frame = comment_frame(ctx)
    themes = frame.attrs["themes"]
    hidden = _hidden_waves(ctx, ctx.waves)
    parts = []
    for w in ctx.waves:
        rows = frame.loc[frame["wave"] == w]
        if len(rows):
            part = _shares(rows, themes, ctx.confidence)
        else:
            part = pd.DataFrame(np.nan, index=pd.Index(themes, name="theme"),
                                columns=["n_comments", "n_with", "prevalence",
                                         "prevalence_ci_low", "prevalence_ci_high"])
        part = part.reset_index().assign(wave=w, suppressed=w in hidden)
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    num = ["n_comments", "n_with", "prevalence", "prevalence_ci_low", "prevalence_ci_high"]
    out[num] = out[num].astype(float)
    out.loc[out["suppressed"], num] = np.nan
    return out[["wave", "theme", *num, "suppressed"]]


@once
def theme_prevalence(ctx: ReportContext) -> pd.DataFrame | None:
    """The period's theme shares (as :func:`theme_trend`) and each theme's adjusted effect on
    NPS over the report's pooled waves (:func:`cxlab.text.theme_impact`; NaN for themes in fewer
    than ``min_base`` pooled comments). None when the period's cell is suppressed."""
    trend = theme_trend(ctx)
    now = trend.loc[trend["wave"] == ctx.period].set_index("theme")
    if now["suppressed"].all():
        return None
    frame = comment_frame(ctx)
    pooled = frame.loc[frame["wave"].isin(ctx.waves) & ~frame["wave"].isin(
        _hidden_waves(ctx, ctx.waves))]
    themes = frame.attrs["themes"]
    counts = pooled[themes].sum()
    enough = [t for t in themes if counts[t] >= ctx.min_base]
    table = now.drop(columns=["wave", "suppressed"]).assign(
        effect=np.nan, effect_ci_low=np.nan, effect_ci_high=np.nan)
    if enough and len(pooled) > len(themes) + 1:
        import warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            impact = cxtext.theme_impact(pooled, "ltr", themes=[t for t in themes
                                                                 if counts[t] > 0],
                                         confidence=ctx.confidence)
        ctx.notes += [str(w.message) for w in caught]
        for col in ("effect", "effect_ci_low", "effect_ci_high"):
            table.loc[enough, col] = impact.loc[enough, col]
    table.attrs["pooled_waves"] = sorted(set(pooled["wave"]))
    return table


@once
def quote_table(ctx: ReportContext) -> pd.DataFrame | None:
    """Up to three redacted quotes per theme from the period's comments
    (:func:`cxlab.text.quotes`, themes with at least ``min_base`` comments); None when the
    period's cell is suppressed. ``attrs["suppressed"]``: the themes left out."""
    if theme_prevalence(ctx) is None:
        return None
    frame = comment_frame(ctx)
    rows = frame.loc[frame["wave"] == ctx.period].reset_index(drop=True)
    themes = rows[frame.attrs["themes"]]
    out = cxtext.quotes(rows["comment"], themes, min_base=ctx.min_base, n=3, seed=ctx.seed)
    return out


def _pct(v: float) -> str:
    return "–" if not np.isfinite(v) else f"{v:.1f}%"


def _show_prevalence(ctx: ReportContext, table: pd.DataFrame) -> None:
    pct = round(100 * ctx.confidence)
    pooled = table.attrs.get("pooled_waves") or [ctx.period]
    shown = pd.DataFrame({
        "theme": [theme_label(t) for t in table.index],
        "share of comments": table["prevalence"].map(_pct),
        f"{pct}% CI": [f"{lo:.1f}% to {hi:.1f}%" for lo, hi in
                       zip(table["prevalence_ci_low"], table["prevalence_ci_high"])],
        "effect on NPS": [("–" if not np.isfinite(e) else
                           f"{e:+.0f} ({lo:+.0f} to {hi:+.0f})".replace("-", "−"))
                          for e, lo, hi in zip(table["effect"], table["effect_ci_low"],
                                               table["effect_ci_high"])]})
    n = int(table["n_comments"].iloc[0])
    _html(_table_html(shown, note=(
        f"Share of the {n:,} written comments of {ctx.period} mentioning each theme (a comment "
        f"may mention several). Effect on NPS: NPS points between comments with and without the "
        f"theme, adjusted for the other themes, {pooled[0]}–{pooled[-1]} pooled, {pct}% CI; "
        f"'–' where fewer than {ctx.min_base} comments mention the theme. An association, not "
        "a cause.")))


def _show_trend(ctx: ReportContext, trend: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt
    pct = round(100 * ctx.confidence)
    wide = trend.assign(cell=[("suppressed" if s else f"{v:.1f}%") for v, s in
                              zip(trend["prevalence"], trend["suppressed"])])
    table = wide.pivot(index="theme", columns="wave", values="cell").reindex(
        list(dict.fromkeys(trend["theme"])))
    table.index = [theme_label(t) for t in table.index]
    _html(_table_html(table.reset_index(names="theme"), note=(
        f"Share of written comments per wave; 'suppressed': fewer than {ctx.min_base} comments "
        "(or a sibling segment's small cell could be recovered).")))
    ok = trend.loc[~trend["suppressed"]]
    if ok["wave"].nunique() < 2:
        return
    latest = ok.loc[ok["wave"] == ok["wave"].max()].nlargest(4, "prevalence")["theme"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for theme in latest:
        rows = ok.loc[ok["theme"] == theme]
        ax.plot(rows["wave"], rows["prevalence"], marker="o", label=theme_label(theme))
        ax.fill_between(rows["wave"], rows["prevalence_ci_low"], rows["prevalence_ci_high"],
                        alpha=0.15)
    ax.set_ylabel("% of written comments")
    ax.set_title(f"{ctx.label}: the most mentioned themes by wave ({pct}% CI)")
    ax.legend(fontsize=8)
    _show_figure(fig)


def _show_quotes(ctx: ReportContext, quotes: pd.DataFrame) -> None:
    if len(quotes):
        parts = []
        for theme, rows in quotes.groupby("theme", sort=False):
            items = "".join(f"<li>“{_esc(q)}”</li>" for q in rows["quote"])
            parts.append(f"<p><b>{_esc(theme_label(theme))}</b></p><ul>{items}</ul>")
        _html("".join(parts))
    hidden = sorted({t for t, *_ in quotes.attrs.get("suppressed", [])})
    if hidden:
        names = ", ".join(theme_label(t) for t in hidden)
        _md(f"_No quotes for {_esc(names)}: fewer than {ctx.min_base} comments in "
            f"{ctx.period}._")
    _md("_Quotes are drawn at random among the theme's comments and redacted (e-mail addresses, "
        "phone, account and card numbers, names); they carry no customer or response id._")


def show_voice(ctx: ReportContext) -> None:
    """The "What customers say" section: theme shares, their trend, redacted quotes."""
    if suppressed_note(ctx):
        return
    if comment_frame(ctx) is None:
        _md("_No comments table in these data, so this section is left out. Add the open "
            "answers as comments.csv (or `tables: comments:` in a company configuration)._")
        return
    table = theme_prevalence(ctx)
    if table is None:
        _md(f"_Fewer than {ctx.min_base} written comments in {ctx.period} (or a sibling "
            "segment's small count could be recovered), so no themes are shown._")
        return
    _show_prevalence(ctx, table)
    _show_trend(ctx, theme_trend(ctx))
    _show_quotes(ctx, quote_table(ctx))

"""The study run: outcome metrics, importance by every method, quadrant, segments and the link
to retention and value, each section a function of the prepared data (:class:`StudyData`).

    result = cx.study.run(schema)                      # all sections of the study

CXWarnings of the analyses (e.g. near-collinear drivers) are recorded with
:func:`cxlab.notes.recorded` and kept in each section's notes for the reader, never silenced.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..checks import CXDataError
from ..notes import recorded
from .loading import load_data
from .preparation import StudyData, prepare
from .schema import Outcome, StudySchema, load_schema
from .validation import ValidationReport, validate

#: Largest number of drivers for which the per-driver logistic LMG (2^p logistic fits per estimate
#: and per bootstrap resample) is run; beyond it the study uses groups or the linear-probability
#: model for LMG and keeps logistic "first"/"last" per driver.
LOGISTIC_LMG_MAX = 8


def outcome_summary(sd: StudyData) -> pd.DataFrame:
    """Headline metrics of the outcome with intervals (NPS / top box / share, and the mean)."""
    from .. import metrics
    s, o = sd.schema, sd.schema.outcome
    y = sd.data[o.column]
    ok = y.notna()
    if s.weight:
        ok &= sd.data[s.weight] > 0
    y = y[ok]
    w = sd.data.loc[ok, s.weight] if s.weight else None
    kw = {"weights": w, "min_base": 0, "confidence": s.confidence}
    if o.kind == "nps":
        res = [metrics.nps(y, **kw), metrics.mean(y, scale=(0, 10), **kw)]
    elif o.kind == "rating":
        res = ([metrics.top_box(y, top=_top_values(o), scale=o.scale, **kw)]
               if _top_values(o) is not None else []) + [metrics.mean(y, scale=o.scale, **kw)]
    else:
        res = [metrics.top_box(y, top=(1,), scale=(0, 1), **kw)]
    out = pd.concat([r.summary() for r in res], ignore_index=True)
    if o.kind == "binary":
        out["metric"] = f"share {o.column} = {o.positive if o.positive is not None else 1} (%)"
    return out


def _top_values(o: Outcome) -> tuple | float:
    """The top box: ``top_from`` (a threshold) if given, else the ``top`` highest scale points
    (default 2; 3 on scales with 8–10 points)."""
    if o.top_from is not None:
        return o.top_from
    lo, hi = o.scale
    if hi - lo > 10 and o.top is None:
        return None                 # a wide (e.g. 0–100) scale: say top_from, else means only
    k = o.top or (2 if hi - lo <= 6 else 3 if hi - lo <= 9 else 2)
    return tuple(float(hi - i) for i in range(k))[::-1]


def _top_min(o: Outcome) -> float:
    top = _top_values(o)
    if top is None:                 # no top box defined: the upper half of the scale
        return float(sum(o.scale) / 2)
    return float(top) if np.isscalar(top) else float(min(top))


def outcome_distribution(sd: StudyData) -> pd.DataFrame:
    """Answers per outcome value: n and share (%), weighted share if weights are given."""
    s, o = sd.schema, sd.schema.outcome
    y = sd.data[o.column]
    w = sd.data[s.weight] if s.weight else pd.Series(1.0, index=y.index)
    ok = y.notna() & (w > 0)
    tab = pd.DataFrame({"value": y[ok], "w": w[ok]}).groupby("value")["w"].agg(["size", "sum"])
    tab = tab.rename(columns={"size": "n", "sum": "weighted"})
    tab["share"] = 100 * tab["weighted"] / tab["weighted"].sum()
    return tab.drop(columns="weighted").reset_index()


@dataclass
class ImportanceComparison:
    """Relative importance by every method side by side, with bootstrap intervals.

    ``results``: {label: DriverResult}; ``table``: long tidy frame (label, method, model, driver,
    importance, share, rank, ci_low, ci_high, share_ci_low, share_ci_high); ``primary``: the label
    used for the quadrant and segment sections; ``notes``: what was run and why.
    """

    results: dict
    table: pd.DataFrame
    primary: str
    notes: list[str]

    def shares(self) -> pd.DataFrame:
        """Share of explained variance (or pseudo-R²) per driver (rows) and method (columns)."""
        per = self.table[self.table["grouped"] == False]
        wide = per.pivot(index="driver", columns="label", values="share")
        order = self.results[self.primary].importance.sort_values("rank").index
        return wide.loc[[d for d in order if d in wide.index], list(dict.fromkeys(per["label"]))]

    def ranks(self) -> pd.DataFrame:
        per = self.table[self.table["grouped"] == False]
        wide = per.pivot(index="driver", columns="label", values="rank")
        return wide.loc[self.shares().index, self.shares().columns]

    def agreement(self) -> dict:
        """Kendall's W over the methods' driver rankings (1 = identical rankings) and the drivers
        every method puts in its top three."""
        r = self.ranks().dropna(axis=1)
        return {"kendall_w": kendall_w(r.to_numpy().T), "methods": r.shape[1],
                "top3_all_methods": [d for d in r.index if (r.loc[d] <= 3).all()]}

    def top(self, k: int = 5) -> pd.DataFrame:
        """The primary method's top ``k`` drivers with share and interval."""
        imp = self.results[self.primary].importance.sort_values("rank")
        return imp.head(k)[["importance", "ci_low", "ci_high", "share", "share_ci_low",
                            "share_ci_high", "rank"]]

    def plot(self, ax=None):
        from .. import plots
        per = self.table[self.table["grouped"] == False]
        return plots.importance_by_method(per, order=list(self.shares().index), ax=ax)


def kendall_w(ranks: np.ndarray) -> float:
    """Kendall's coefficient of concordance W for an (m raters × n items) rank matrix:
    W = 12 S / (m² (n³ − n)), S = Σ_i (R_i − m(n+1)/2)², R_i the rank sum of item i (no tie
    correction). 1 = all raters agree, 0 = no agreement."""
    ranks = np.asarray(ranks, dtype=float)
    m, n = ranks.shape
    if m < 2 or n < 2:
        return float("nan")
    R = ranks.sum(axis=0)
    S = float(((R - m * (n + 1) / 2) ** 2).sum())
    return 12 * S / (m ** 2 * (n ** 3 - n))


def _plan(sd: StudyData) -> list[dict]:
    """Which (method, family, groups) runs the importance section makes, with labels."""
    s = sd.schema
    p = len(s.drivers)
    runs = []
    if s.outcome.kind != "binary":
        for m in s.methods:
            runs.append({"label": m, "method": m, "family": "linear", "groups": None})
        if s.groups and "lmg" in s.methods:
            runs.append({"label": "lmg (groups)", "method": "lmg", "family": "linear", "groups": s.groups})
        return runs
    for m in ("lmg", "first", "last"):
        if m not in s.methods:
            continue
        if m == "lmg" and p > LOGISTIC_LMG_MAX:
            continue
        runs.append({"label": f"logistic {m}", "method": m, "family": "logistic", "groups": None})
    if s.groups and "lmg" in s.methods and len(s.groups) + (p - sum(map(len, s.groups.values()))) \
            <= LOGISTIC_LMG_MAX:
        runs.append({"label": "logistic lmg (groups)", "method": "lmg", "family": "logistic",
                         "groups": s.groups})
    for m in s.methods:
        runs.append({"label": f"LPM {m}", "method": m, "family": "linear", "groups": None})
    return runs


def importance(sd: StudyData, progress: bool = False) -> ImportanceComparison:
    """Run every importance method of the schema on the complete rows, each with bootstrap
    intervals (``schema.bootstrap`` resamples, same seed), and collect them side by side.

    Binary outcomes: logistic models (McFadden pseudo-R²) for lmg/first/last — LMG per driver
    only up to :data:`LOGISTIC_LMG_MAX` drivers (2^p fits per resample), else on the driver
    groups — plus the linear probability model (LPM) for all methods, so the rankings can be
    compared.
    """
    from .. import drivers
    s = sd.schema
    df = sd.complete
    results, frames, warned_by = {}, [], {}
    for run in _plan(sd):
        res, warned = recorded(drivers.analyze, df, s.outcome.column, s.driver_columns,
                               method=run["method"], bootstrap=s.bootstrap, seed=s.seed,
                               weights=s.weight, groups=run["groups"], family=run["family"],
                               confidence=s.confidence, progress=progress)
        for message in warned:                    # one note per message, naming its runs
            warned_by.setdefault(message, []).append(run["label"])
        results[run["label"]] = res
        t = res.importance.reset_index().rename(columns={res.importance.index.name or "index":
                                                         "driver"})
        if "driver" not in t.columns:
            t = t.rename(columns={t.columns[0]: "driver"})
        frames.append(t.assign(label=run["label"], method=run["method"], model=res.model,
                               grouped=run["groups"] is not None, r2=res.r2))
    notes = [f"{', '.join(labels)}: {message}" for message, labels in warned_by.items()]
    if s.outcome.kind == "binary" and len(s.drivers) > LOGISTIC_LMG_MAX:
        notes.append(f"Logistic LMG per driver needs 2^{len(s.drivers)} model fits per resample; "
                     f"with more than {LOGISTIC_LMG_MAX} drivers the study shows logistic 'first' "
                     "and 'last' per driver, logistic LMG on the driver groups (if given), and "
                     "the linear probability model (LPM) for all methods.")
    labels = list(results)
    if s.outcome.kind != "binary":
        primary = "lmg" if "lmg" in results else labels[0]
    else:
        per_driver = [k for k in labels if "groups" not in k]
        primary = ("logistic lmg" if "logistic lmg" in results else
                   "LPM lmg" if "LPM lmg" in results else per_driver[0])
    cols = ["label", "method", "model", "grouped", "driver", "importance", "share", "rank",
            "ci_low", "ci_high", "share_ci_low", "share_ci_high", "r2"]
    table = pd.concat(frames, ignore_index=True)
    notes.append(f"{len(df):,} complete rows; {s.bootstrap} bootstrap resamples (seed {s.seed}), "
                 f"{s.confidence:.0%} percentile intervals.")
    return ImportanceComparison(results, table[[c for c in cols if c in table.columns]],
                                primary, notes)


def quadrant(sd: StudyData, comparison: ImportanceComparison) -> pd.DataFrame:
    """Importance–performance map of the primary method (mean rating as performance)."""
    return comparison.results[comparison.primary].quadrant()


def segment_metrics(sd: StudyData, by: str) -> pd.DataFrame:
    """Outcome metric per segment with intervals; segments below ``min_base`` suppressed."""
    from .. import metrics
    s, o = sd.schema, sd.schema.outcome
    df = sd.data[sd.data[o.column].notna()]
    if s.weight:
        df = df[df[s.weight] > 0]
    df = df.assign(**{by: df[by].astype("str").where(df[by].notna(), "(missing)")})
    kw = {"by": by, "weight": s.weight, "min_base": s.min_base, "confidence": s.confidence}
    if o.kind == "nps":
        return metrics.table(df, o.column, metric="nps", **kw)
    if o.kind == "rating":
        if _top_values(o) is None:
            return metrics.table(df, o.column, metric="mean", scale=o.scale, **kw)
        return metrics.table(df, o.column, metric="top_box", top=_top_values(o), scale=o.scale,
                             **kw)
    return metrics.table(df, o.column, metric="top_box", top=(1,), scale=(0, 1), **kw)


def segment_performance(sd: StudyData, by: str) -> pd.DataFrame:
    """Mean rating of each driver (rows) per segment (columns), NaN where n < ``min_base`` (the
    answers per segment are in :func:`segment_metrics`)."""
    s = sd.schema
    df = sd.data.assign(**{by: sd.data[by].astype("str").where(sd.data[by].notna(), "(missing)")})
    w = df[s.weight] if s.weight else pd.Series(1.0, index=df.index)
    out = {}
    for seg, part in df.groupby(by, sort=True):
        means = {}
        for c in s.driver_columns:
            ok = part[c].notna() & (w[part.index] > 0)
            means[c] = (np.average(part.loc[ok, c], weights=w[part.index][ok])
                        if ok.sum() >= s.min_base else np.nan)
        out[seg] = means
    return pd.DataFrame(out)


def segment_importance(sd: StudyData, by: str, comparison: ImportanceComparison):
    """Primary method per segment (point estimates; segments need ``min_base`` and
    5 × (drivers + 1) complete rows). Returns a SegmentedDriverResult or None; its CXWarnings
    reach the reader through :func:`run` (``segments[by]["notes"]``)."""
    from .. import drivers
    s = sd.schema
    res0 = comparison.results[comparison.primary]
    run = next(r for r in _plan(sd) if r["label"] == comparison.primary)
    df = sd.complete.assign(**{by: sd.complete[by].astype("str")
                               .where(sd.complete[by].notna(), "(missing)")})
    need = max(s.min_base, 5 * (len(s.drivers) + 1))
    try:
        return drivers.analyze(df, s.outcome.column, s.driver_columns, method=res0.method,
                               bootstrap=0, seed=s.seed, weights=s.weight, by=by,
                               min_segment_n=need, family=run["family"], progress=False)
    except CXDataError:
        return None


@dataclass
class RetentionLink:
    """Survey outcome → churn on the joined customers: churn by outcome group, a logistic model
    of churn on the outcome, and the revenue at stake."""

    frame: pd.DataFrame
    group: str
    churn: Any
    logit: Any
    value: Any
    notes: list[str]


def outcome_group(sd: StudyData, values: pd.Series) -> pd.Series:
    """NPS group (nps), top box vs rest (rating), or the binary outcome's two levels."""
    o = sd.schema.outcome
    if o.kind == "nps":
        from ..retention import nps_group
        return nps_group(values).astype("str").where(values.notna())
    if o.kind == "rating":
        lo = _top_min(o)
        top = _top_values(o) is not None
        lab = f"top box (≥ {lo:g})" if top else f"upper half (≥ {lo:g})"
        return pd.Series(np.where(values >= lo, lab, "below top box" if top else "lower half"),
                         index=values.index).where(values.notna())
    pos = str(o.positive) if o.positive is not None else "1"
    return pd.Series(np.where(values == 1, pos, f"not {pos}"), index=values.index)\
        .where(values.notna())


def retention_link(sd: StudyData) -> RetentionLink | None:
    """Churn by outcome group (Wilson intervals), churn ~ outcome (logistic odds ratio per point)
    and revenue at risk linked to the experience (baseline: the best outcome group).

    Respondents are customers of the joined file; a customer who answered more than once counts
    once (the last response in file order; counted in ``notes``). Value lost per churner is
    ``revenue × revenue_periods_per_year`` (one year of revenue), projected to the customer base
    in proportion to the respondents of each group.
    """
    from .. import retention, value
    s = sd.schema
    c = s.customers
    if sd.joined is None or c is None or not c.churned:
        return None
    notes = []
    j = sd.joined[sd.joined[s.outcome.column].notna()]
    n0 = len(j)
    j = j.drop_duplicates(subset=[s.join_on], keep="last")
    if len(j) < n0:
        notes.append(f"{n0 - len(j):,} earlier response(s) of customers who answered more than "
                     "once are not used here (the last response per customer is).")
    j = j.assign(outcome_group=outcome_group(sd, j[s.outcome.column]),
                 churned_flag=pd.to_numeric(j[c.churned], errors="coerce"))
    j = j[j["churned_flag"].notna()]
    order = ["Detractor", "Passive", "Promoter"] if s.outcome.kind == "nps" else None
    present = set(j["outcome_group"].dropna())
    if order:
        order = [g for g in order if g in present]
    churn = retention.churn_by_group(j, "outcome_group", "churned_flag",
                                     confidence=s.confidence, order=order)
    logit = None
    try:
        logit, warned = recorded(retention.churn_logit, j, "churned_flag", s.outcome.column,
                                 confidence=s.confidence)
        notes += warned
    except CXDataError as err:
        notes.append(f"Logistic churn model not fitted: {err}")
    val = None
    if c.revenue:
        tab = churn.table.rename(columns={"outcome_group": "group"})
        annual = (j.groupby("outcome_group")[c.revenue].mean() * c.revenue_periods_per_year)
        best = _best_group(sd, list(tab["group"]))
        base = len(j)
        n_customers = _n_customers(sd)
        try:
            val = value.revenue_at_risk(tab, group="group", value=annual.to_dict(),
                                        customers=n_customers, baseline=best, scale="percent",
                                        confidence=s.confidence)
            notes.append(f"Value at stake: churn above the {best!r} group's rate × one year of "
                         f"revenue ({c.revenue} × {c.revenue_periods_per_year:g}), projected to "
                         f"{n_customers:,.0f} customers in proportion to {base:,} respondents.")
        except CXDataError as err:
            notes.append(f"Revenue at risk not computed: {err}")
    return RetentionLink(j, "outcome_group", churn, logit, val, notes)


def _best_group(sd: StudyData, groups: list[str]) -> str:
    o = sd.schema.outcome
    if o.kind == "nps":
        return "Promoter" if "Promoter" in groups else groups[-1]
    if o.kind == "rating":
        return next((g for g in groups if g.startswith(("top box", "upper half"))), groups[0])
    pos = str(o.positive) if o.positive is not None else "1"
    return pos if pos in groups else groups[0]


def _n_customers(sd: StudyData) -> float:
    return float(sd.customers_n or sd.joined[sd.schema.join_on].nunique())


@dataclass
class StudyResult:
    """All sections of a driver study (see :func:`run`)."""

    schema: StudySchema
    prepared: StudyData
    report: ValidationReport
    outcome: pd.DataFrame
    distribution: pd.DataFrame
    importance: ImportanceComparison
    quadrant: pd.DataFrame
    segments: dict
    retention: RetentionLink | None
    themes: pd.DataFrame | None = None     # comment themes: prevalence and effect (if comment:)

    def summary(self) -> pd.DataFrame:
        """The primary method's drivers: share with interval, performance, quadrant."""
        return self.importance.results[self.importance.primary].summary()


def code_comments(schema: StudySchema, data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with one 0/1 column per theme of ``schema.codeframe`` coded from the comment
    column (:func:`cxlab.text.code`; no comment = 0 everywhere), so themes can be drivers."""
    from ..checks import require_columns
    from ..text import code
    lang = schema.comment_language
    require_columns(data, [schema.comment] + ([lang] if lang not in ("en", "pl") else []),
                    "the study data (comment / comment_language)")
    themes = code(data[schema.comment], schema.codeframe_source,
                  language=lang if lang in ("en", "pl") else data[lang].fillna("en").to_numpy())
    clash = [t for t in themes.columns if t in data.columns]
    if clash:
        raise CXDataError(f"The data already have column(s) named like comment themes: {clash}. "
                          "Rename them, or drop comment: from the configuration.")
    out = pd.concat([data, themes], axis=1)
    out.attrs["themes"] = list(themes.columns)
    return out


def comment_themes(sd: StudyData, themes: list[str]) -> pd.DataFrame | None:
    """Prevalence of each theme among the written comments and its effect on the outcome,
    adjusted for the other themes (:func:`cxlab.text.theme_impact`): NPS points for a 0–10
    outcome, percentage points of the top box for a rating, of the share for a binary outcome.
    Effects of themes in fewer than ``min_base`` comments are left out (NaN)."""
    from ..text import theme_impact
    s, o = sd.schema, sd.schema.outcome
    df = sd.data.loc[sd.data[s.comment].fillna("").astype(str).str.strip().str.len() > 0]
    df = df.loc[df[o.column].notna()]
    if s.weight:
        df = df.loc[df[s.weight] > 0]
    if o.kind == "rating":
        df = df.assign(**{o.column: (df[o.column] >= _top_min(o)).astype(int)})
    present = [t for t in themes if df[t].sum() > 0]
    if len(df) < s.min_base or not present:
        return None
    table, warned = recorded(theme_impact, df, o.column, present, weights=s.weight,
                             confidence=s.confidence)
    small = table["n_with"] < s.min_base
    table.loc[small, ["effect", "effect_ci_low", "effect_ci_high", "p_value"]] = np.nan
    table.attrs["notes"] = warned
    table.attrs["n_comments"] = len(df)
    return table


def run(schema: StudySchema | str | Path | Mapping, data: pd.DataFrame | None = None,
        customers: pd.DataFrame | None = None, progress: bool = False) -> StudyResult:
    """The whole study: load (unless ``data`` is given), code the comments into theme columns
    (``comment:``; themes may then be drivers), validate (stop on errors), prepare, then outcome
    metrics, importance by every method, quadrant, segments, the retention link and the comment
    themes' impact on the outcome."""
    if not isinstance(schema, StudySchema):
        schema = load_schema(schema)
    if data is None:
        data, loaded = load_data(schema)
        customers = customers if customers is not None else loaded
    themes = []
    if schema.comment:
        data = code_comments(schema, data)
        themes = data.attrs["themes"]
    report = validate(schema, data, customers)
    sd = prepare(schema, data, customers, report)
    comp = importance(sd, progress=progress)
    segs = {}
    for by in schema.segments:
        if by in {i.column for i in report.issues if i.check == "segments"}:
            continue
        imp, warned = recorded(segment_importance, sd, by, comp)
        segs[by] = {"metrics": segment_metrics(sd, by), "performance": segment_performance(sd, by),
                    "importance": imp, "notes": warned}
    return StudyResult(schema, sd, report, outcome_summary(sd), outcome_distribution(sd), comp,
                       quadrant(sd, comp), segs, retention_link(sd),
                       comment_themes(sd, themes) if themes else None)

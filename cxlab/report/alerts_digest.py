"""The batch's alert digest, one per owning department: which segments, which touchpoints, how
big, since when — the early-warning flags of :func:`cxlab.alerts.early_warning` routed with the
accountability map (:data:`cxlab.report.parameters.ACCOUNTABILITY`).

Written by the runner at the end of a quarterly batch into ``<period>/alerts/``: ``alerts.csv``
(every flag with its department) and ``<department>.html`` for every department of the map
(a department with nothing flagged gets a page that says so). Only aggregate figures of groups
at or above the minimum base appear; no respondent-level data.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from .. import alerts as _alerts
from ..contract import CONFIDENCE
from ..display import escape
from .html import page
from .parameters import ACCOUNTABILITY
from .publication import atomic_write, slug
from .record import complementary_suppression

__all__ = ["digest_table", "protect", "without_hidden", "write_digest"]


def digest_table(result: _alerts.AlertResult, owners: Mapping[str, str] | None = None
                 ) -> pd.DataFrame:
    """The flags of ``result`` with their owning department, largest fall first within each."""
    owners = {**ACCOUNTABILITY, **(owners or {})}
    f = result.alerts.copy()
    t = result.table
    cols = ["department", "segment", "kpi", "period", "value", "n", "label", "since",
            "difference", "difference_ci_low", "difference_ci_high", "compared_with",
            "p_adjusted"]
    if f.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for r in f.to_dict("records"):
        own = t.loc[(t["segment"] == r["segment"]) & (t["kpi"] == r["kpi"]) & (t["direction"] < 0)]
        main = own.sort_values("p_adjusted").iloc[0]
        rows.append({"department": owners.get(r["kpi"], "CX programme office"),
                     "segment": r["segment"], "kpi": r["kpi"], "period": r["period"],
                     "value": round(float(r["value"]), 2), "n": int(r["n"]), "label": r["label"],
                     "since": r["since"], "difference": round(float(main["difference"]), 2),
                     "difference_ci_low": round(float(main["difference_ci_low"]), 2),
                     "difference_ci_high": round(float(main["difference_ci_high"]), 2),
                     "compared_with": {"previous": main["reference_period"],
                                       "baseline": f"baseline {main['reference_period']}",
                                       "rest": "rest of the company"}[main["comparison"]],
                     "p_adjusted": float(f"{main['p_adjusted']:.2g}")})
    return (pd.DataFrame(rows, columns=cols).sort_values(["department", "difference"])
            .reset_index(drop=True))


def without_hidden(table: pd.DataFrame, survey: pd.DataFrame, by: str | None, period: str,
                   min_base: int) -> pd.DataFrame:
    """``table`` (rows with ``segment`` and ``kpi``) without the segments whose KPI the reports
    suppress in ``period`` (:data:`~cxlab.report.record.SUPPRESSION_RULE`, primary or
    complementary): a flagged value of a group hidden to protect a smaller one, beside the
    company figure, would give the smaller one away."""
    if table.empty or by is None or by not in survey.columns:
        return table
    now = survey.loc[survey["wave"].astype(str) == str(period)]
    groups = now[by].astype(str)
    hidden: dict[str, frozenset] = {}
    for kpi in table["kpi"].unique():
        column = _alerts.DEFAULT_KPIS.get(kpi, (kpi,))[0]
        hidden[kpi] = (complementary_suppression(now[column].groupby(groups).count().to_dict(),
                                                 min_base)
                       if column in now.columns else frozenset())
    keep = [str(s) not in hidden[k] for s, k in zip(table["segment"], table["kpi"])]
    return table.loc[keep].reset_index(drop=True)


def protect(result: _alerts.AlertResult, survey: pd.DataFrame, by: str | None, period: str,
            min_base: int) -> _alerts.AlertResult:
    """``result`` without the tests and flags of suppressed cells (:func:`without_hidden`)."""
    from dataclasses import replace
    return replace(result, table=without_hidden(result.table, survey, by, period, min_base),
                   flags=without_hidden(result.flags, survey, by, period, min_base))


def _department_page(dept: str, rows: pd.DataFrame, period: str, settings: dict) -> str:
    if rows.empty:
        body = f"<p>Nothing owned by {escape(dept)} is flagged in {escape(period)}.</p>"
    else:
        head = "".join(f"<th>{escape(h)}</th>" for h in
                       ("segment", "touchpoint / KPI", period, "flag", "gap (95% CI)", "since"))
        cells = []
        for r in rows.to_dict("records"):
            gap = (f"{r['difference']:+.2f} ({r['difference_ci_low']:+.2f} to "
                   f"{r['difference_ci_high']:+.2f}) vs {r['compared_with']}").replace("-", "−")
            cells.append("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in (
                r["segment"], r["kpi"].replace("_", " "), r["value"], r["label"], gap,
                r["since"])) + "</tr>")
        body = (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(cells)}</tbody></table>")
    base = settings.get("baseline") or []
    note = (f"<p class=\"cx-note\">Each KPI and touchpoint rating (mean of 1–10) of every segment is "
            f"tested against last quarter ({escape(str(settings.get('previous')))}), its own "
            f"baseline ({escape(base[0] + '–' + base[-1]) if base else 'none'}) and the rest of "
            f"the company; {settings.get('tests')} tests, "
            f"{_alerts.ADJUST_NAMES.get(settings.get('adjust'), '')}-adjusted at "
            f"{1 - settings.get('confidence', CONFIDENCE):.0%}. Only falls are listed.</p>")
    return page(f"Alert digest: {dept}, {period}", body + note,
                subtitle="Customer-experience early warning routed to its owner",
                back="../index.html")


def write_digest(manifest: Mapping, dataset, folder: str | os.PathLike,
                 owners: Mapping[str, str] | None = None) -> dict | None:
    """Write ``alerts/alerts.csv`` and one HTML digest per department into ``folder`` for a
    quarterly batch; return {"csv", "pages", "alerts"} (paths relative to ``folder``) for the
    manifest, or None when the batch is not a survey batch (team scorecards) or has no
    previous wave."""
    if manifest.get("template") != "quarterly" or getattr(dataset, "survey", None) is None:
        return None
    params = manifest.get("parameters", {})
    try:
        res = _alerts.early_warning(dataset.survey, by=manifest.get("by"),
                                    current=manifest["period"],
                                    confidence=params.get("confidence", CONFIDENCE),
                                    min_base=params.get("min_base", 30))
    except Exception as err:          # the digest never fails the batch; it says why
        return {"error": str(err).splitlines()[0]}
    table = without_hidden(digest_table(res, owners), dataset.survey, manifest.get("by"),
                           manifest["period"], params.get("min_base", 30))
    out = Path(folder) / "alerts"
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "alerts.csv", table.to_csv(index=False))
    pages = {}
    for dept in sorted(set({**ACCOUNTABILITY, **(owners or {})}.values())):
        name = f"alerts/{slug(dept)}.html"
        atomic_write(Path(folder) / name,
                     _department_page(dept, table.loc[table["department"] == dept],
                                      manifest["period"], res.settings))
        pages[dept] = name
    return {"csv": "alerts/alerts.csv", "pages": pages, "alerts": int(len(table))}

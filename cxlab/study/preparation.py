"""Preparation: the analysis-ready frames, every excluded row counted in ``flow``.

    prepared = cx.study.prepare(schema, data, customers)   # stops on errors
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import io as cxio
from .rules import _apply_filter, _binary, _key, _numeric, _reverse
from .schema import StudySchema
from .validation import ValidationReport, validate


@dataclass
class StudyData:
    """Analysis-ready data: ``data`` (all rows after the filter, outcome as a number, drivers
    numeric, codes recoded), ``complete`` (rows used for importance), ``flow`` (every exclusion,
    counted), the joined customer outcomes and the validation report."""

    schema: StudySchema
    data: pd.DataFrame
    complete: pd.DataFrame
    flow: pd.DataFrame
    report: ValidationReport
    joined: pd.DataFrame | None = None
    customers_n: int | None = None      # customers in the customer file (the base to project to)

    @property
    def y(self) -> str:
        return self.schema.outcome.column

    @property
    def X(self) -> list[str]:
        return self.schema.driver_columns

    @property
    def weights(self) -> np.ndarray | None:
        w = self.schema.weight
        return None if not w else self.complete[w].to_numpy(dtype=float)


def prepare(schema: StudySchema, data: pd.DataFrame, customers: pd.DataFrame | None = None,
            report: ValidationReport | None = None) -> StudyData:
    """Validate (unless ``report`` is given), stop on errors, and build the analysis frames.

    Every row removed is counted in ``flow`` (step, rows_before, excluded, rows_after, reason).
    """
    report = report if report is not None else validate(schema, data, customers)
    report.raise_for_errors()
    s = schema
    flow = []

    def step(name, before, after, reason):
        flow.append({"step": name, "rows_before": before, "excluded": before - after,
                     "rows_after": after, "reason": reason})

    n0 = len(data)
    df, _ = _apply_filter(s, data)
    step("filter", n0, len(df), f"outside filter {s.filter}" if s.filter else "no filter")
    df, _ = cxio.recode_missing(df, s.codes_plan())
    cols = s.columns_needed()
    cols += [t for t in s.theme_columns if t in df.columns and t not in cols]   # coded comments
    df = df[cols].copy()
    o = s.outcome
    if o.kind == "binary":
        df[o.column] = _binary(df[o.column], o.positive, strict=True)
    else:
        df[o.column] = _numeric(df[o.column])[0]
    for c in s.driver_columns:
        df[c] = _numeric(df[c])[0]
    as_answered = df[s.driver_columns]
    df = _reverse(s, df)
    if s.weight:
        df[s.weight] = _numeric(df[s.weight])[0]
    n1 = len(df)
    keep = df[o.column].notna()
    step("outcome answered", n1, int(keep.sum()), f"{o.column!r} missing")
    cur = df[keep]
    missing_by = {c: int(cur[c].isna().sum()) for c in s.driver_columns}
    keep2 = cur[s.driver_columns].notna().all(axis=1)
    worst = ", ".join(f"{c} {n:,}" for c, n in sorted(missing_by.items(), key=lambda kv: -kv[1])
                      if n)[:300]
    step("all drivers answered", len(cur), int(keep2.sum()),
         f"a driver missing (per driver: {worst})" if worst else "none missing")
    cur = cur[keep2]
    if s.weight:
        keep3 = cur[s.weight] > 0
        step("positive weight", len(cur), int(keep3.sum()), f"{s.weight!r} zero or missing")
        cur = cur[keep3]
    if s.straightliners == "drop" and len(s.drivers) >= 3:
        X = as_answered.loc[cur.index]
        keep4 = X.max(axis=1) != X.min(axis=1)
        step("straight-liners", len(cur), int(keep4.sum()), "same rating on every driver")
        cur = cur[keep4]
    from ..checks import min_rows
    min_rows(len(cur), max(30, 5 * (len(s.drivers) + 1)), "The driver analysis")
    joined, n_cust = None, None
    if customers is not None and s.customers is not None:
        joined = _join(s, df, customers, step)
        n_cust = int(customers[s.customers.id].nunique())
    return StudyData(s, df, cur, pd.DataFrame(flow), report, joined, n_cust)


def _join(s: StudySchema, df: pd.DataFrame, customers: pd.DataFrame, step) -> pd.DataFrame:
    c = s.customers
    keep = [x for x in (c.id, c.churned, c.tenure, c.end_date, c.revenue) if x]
    cust = customers[list(dict.fromkeys(keep))].copy()
    cust["__key__"] = _key(cust[c.id])
    left = df.copy()
    left["__key__"] = _key(left[s.join_on])
    merged = left.merge(cust.drop(columns=[c.id] if c.id in left.columns else []),
                        on="__key__", how="inner", validate="many_to_one")
    step("joined to customer file (retention and value sections only)", len(left), len(merged),
         f"{s.join_on!r} missing or not in the customer file")
    return merged.drop(columns="__key__")

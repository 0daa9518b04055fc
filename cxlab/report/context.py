"""The report context: validated parameters, the data and the report's scope, and what a report
measures (its headline KPIs). Every section of every template takes the context
:func:`prepare` returns.

    ctx = prepare("quarterly", globals())   # parameters checked, data loaded, segment cut

Sections computed once per report are decorated with :func:`once`: the result is kept in
``ctx.computed`` under the section function itself (no string keys to mistype).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .. import metrics
from ..checks import CXDataError
from ..contract import Company
from ..display import callout, in_ipython, setup
from .data import (base_count, check_period, check_segment, load_data, resolve_by,
                   segment_label, waves_of)
from .parameters import TemplateSpec, template_spec, validate_parameters


@dataclass(frozen=True)
class KPI:
    """A headline measure: which table/column, which cx.metrics function and its options."""

    name: str
    table: str
    column: str
    measure: Callable            # a cx.metrics function: nps, csat, ces, top_box, mean
    kwargs: Mapping = field(default_factory=dict)
    unit: str = ""
    description: str = ""

    @property
    def metric(self) -> str:
        """The measure's name, as ``cx.metrics.table`` and ``compare`` take it (``metric=``)."""
        return self.measure.__name__

    def compute(self, scores, min_base: int, confidence: float):
        return self.measure(scores, min_base=min_base, confidence=confidence, **self.kwargs)

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
    KPI("NPS", "survey", "ltr", metrics.nps, {}, "score",
        "likelihood to recommend 0–10: % promoters (9–10) − % detractors (0–6)"),
    KPI("CSAT", "survey", "osat", metrics.csat, {"scale": (1, 5), "top": 2}, "%",
        "overall satisfaction: % answering 4 or 5 on 1–5"),
    KPI("CES", "survey", "effort", metrics.ces, {"scale": (1, 7)}, "mean",
        "customer effort: mean of 1–7, 7 = very easy (higher is better)"),
)
TEAM_KPIS = (
    KPI("CSAT", "contacts", "csat", metrics.csat, {"scale": (1, 5), "top": 2}, "%",
        "post-contact satisfaction: % answering 4 or 5 on 1–5"),
    KPI("CES", "contacts", "ces", metrics.ces, {"scale": (1, 7)}, "mean",
        "post-contact effort: mean of 1–7, 7 = very easy"),
    KPI("FCR", "contacts", "fcr", metrics.top_box, {"scale": (0, 1), "top": (1,)}, "%",
        "first-contact resolution: % of contacts resolved at the first contact"),
)
KPIS = {"quarterly": QUARTERLY_KPIS, "team_scorecard": TEAM_KPIS}


_IPYTHON_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open", "display"}


@dataclass
class ReportContext:
    """Validated parameters plus the data a report may show (its own segment, and the company
    as benchmark). Created by :func:`prepare`; every ``show_*`` section takes it."""

    template: str
    data: Company
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
    #: results of the sections computed so far, keyed by the section function (see :func:`once`)
    computed: dict = field(default_factory=dict, repr=False)

    @property
    def spec(self) -> TemplateSpec:
        return template_spec(self.template)

    @property
    def label(self) -> str:
        return segment_label(self.by, self.segment)

    @property
    def kpis(self) -> tuple[KPI, ...]:
        return KPIS.get(self.spec.name, QUARTERLY_KPIS)

    def kpi(self, name: str) -> KPI:
        """The headline KPI called ``name``."""
        return next(k for k in self.kpis if k.name == name)

    def scope(self, table: str) -> pd.DataFrame:
        """The report's own rows of ``table`` (all waves): its segment, or the whole company."""
        frame = self.data.table(table)
        if self.segment is None:
            return frame
        if self.by not in frame.columns:
            raise CXDataError(f"The {table} table has no {self.by!r} column, so it cannot be "
                              f"cut to {self.label}.")
        return frame.loc[frame[self.by].astype(str) == self.segment]

    def pooled(self, table: str, waves: int) -> list[str]:
        """The last ``waves`` waves of ``table`` up to the report's period (pooled analyses)."""
        all_waves = waves_of(self.company(table))
        i = all_waves.index(self.period)
        return all_waves[max(0, i - waves + 1): i + 1]

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
        by, segment = check_segment(resolve_by(p["data"], p["by"], spec.table), p["segment"],
                                    frame)
    except CXDataError as err:
        if in_ipython():
            callout(str(err), bold="Report parameters rejected.")
        raise
    i = waves.index(period)
    ctx = ReportContext(template=spec.name, data=data, period=period,
                        previous=waves[i - 1] if i > 0 else None,
                        waves=waves[max(0, i - p["waves"] + 1): i + 1], by=by,
                        segment=segment, min_base=p["min_base"], confidence=p["confidence"],
                        seed=p["seed"], options=dict(p))
    ctx.base = base_count(frame, spec, period, by if segment is not None else None, segment)
    if ctx.base < ctx.min_base:
        ctx.suppressed = True
        ctx.reason = (f"fewer than {ctx.min_base} responses (the minimum base) in {period}; "
                      "nothing is reported for this group")
    setup()
    return ctx


def once(section: Callable) -> Callable:
    """Compute ``section(ctx)`` once per report context (later calls return the same object)."""
    @functools.wraps(section)
    def wrapper(ctx: ReportContext):
        if section not in ctx.computed:
            ctx.computed[section] = section(ctx)
        return ctx.computed[section]
    return wrapper


def suppressed_note(ctx: ReportContext) -> bool:
    """Show the suppression callout when the whole report is below the base; True if so."""
    if ctx.suppressed:
        callout(f"Suppressed: {ctx.reason or ''}.")
    return ctx.suppressed

"""Template parameters, declared once: name, default, allowed values and help of every parameter
of every report template.

The declaration is used three ways: :func:`validate_parameters` checks what the CLI, the Python
API or papermill passed (before any kernel starts, and again in the notebook); the notebook's
parameter cell is :func:`cell_source` (a test keeps the template notebooks equal to it); and the
report sections read the validated values (``ctx.options["bootstrap"]``), never a default of
their own.

    spec = template_spec("quarterly")
    spec.defaults                      # {"data": "kestrel", "period": None, ..., "top_actions": 5}
    table("quarterly")                 # the declaration as a DataFrame, for readers
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..checks import CXDataError
from ..contract import CONFIDENCE, MIN_BASE
from ..resources import template as _template_file

__all__ = ["Parameter", "TEMPLATES", "TemplateSpec", "cell_source", "table", "template_spec",
           "validate_parameters"]


#: Accountability map: the department that owns each touchpoint (course 08's map), used to route
#: the batch's alert digest; headline KPIs (NPS, CSAT, CES) go to the CX programme office. A
#: company configuration can override it (``alerts_digest.write_digest(..., owners=...)``).
ACCOUNTABILITY = {
    "network_reliability": "Network operations", "network_speed": "Network operations",
    "billing_clarity": "Billing", "billing_accuracy": "Billing", "price_value": "Pricing",
    "digital_selfservice": "Digital", "support_resolution": "Customer care",
    "support_speed": "Customer care", "onboarding": "Sales", "shop_experience": "Retail",
    "NPS": "CX programme office", "CSAT": "CX programme office", "CES": "CX programme office",
}


@dataclass(frozen=True)
class Parameter:
    """One template parameter: ``kind`` is "text" (a string or None), "whole" or "number";
    ``low``/``high`` bound numbers; ``optional`` allows None for numbers."""

    name: str
    default: object
    help: str
    kind: str = "text"
    low: float | None = None
    high: float | None = None
    optional: bool = False

    @property
    def allowed(self) -> str:
        """The accepted values in words (for the CLI help and the parameter table)."""
        if self.kind == "text":
            return "text" + (" or None" if self.default is None else "")
        word = "whole number" if self.kind == "whole" else "number"
        span = (f"{self.low:g} to {self.high:g}" if self.high is not None
                else f"at least {self.low:g}")
        return f"{word} {span}" + (" or None" if self.optional else "")

    def check(self, value):
        """The value converted (int/float), or a CXDataError naming the parameter and the fix."""
        if self.kind == "text" or (value is None and self.optional):
            return value
        numeric = isinstance(value, numbers.Real) and not isinstance(value, bool)
        if self.kind == "whole":
            if not numeric or not float(value).is_integer():
                raise CXDataError(f"{self.name} must be a whole number, got {value!r}.")
            value = int(value)
            if value < self.low or (self.high is not None and value > self.high):
                span = (f"between {self.low:g} and {self.high:g}" if self.high is not None
                        else f"at least {self.low:g}")
                raise CXDataError(f"{self.name} must be {span}, got {value}.")
            return value
        if not numeric or not math.isfinite(value) or not self.low <= float(value) <= self.high:
            raise CXDataError(f"{self.name} must be a number from {self.low:g} to {self.high:g}"
                              f"{' or None' if self.optional else ''}, got {value!r}.")
        return float(value)


def _common(data_help: str, by_help: str, segment_help: str) -> tuple[Parameter, ...]:
    return (
        Parameter("data", "kestrel", data_help),
        Parameter("period", None, "quarter like 2026Q3; None = latest wave in the data"),
        Parameter("by", None, by_help),
        Parameter("segment", None, segment_help),
        Parameter("min_base", MIN_BASE, "fewer answers than this: the figure is suppressed",
                  "whole", 1),
        Parameter("confidence", CONFIDENCE, "confidence level of every interval", "number",
                  0.5, 0.999),
        Parameter("seed", 0, "random seed (bootstrap): same inputs -> same numbers", "whole", 0),
    )


@dataclass(frozen=True)
class TemplateSpec:
    """A report template: its notebook, the table whose responses form the base, default split
    and its parameters."""

    name: str
    notebook: str
    title: str
    table: str                 # table that defines the report's base ("survey" or "contacts")
    base_column: str           # answered values of this column are counted as the base
    default_by: str | None     # segment column used when --by is not given
    parameters: tuple[Parameter, ...]

    @property
    def path(self) -> Path:
        """The template notebook (bundled, or the path given for a custom one)."""
        path = Path(self.notebook)
        return path if path.is_absolute() else _template_file(self.notebook)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parameters)

    @property
    def defaults(self) -> dict:
        return {p.name: p.default for p in self.parameters}

    def parameter(self, name: str) -> Parameter:
        return next(p for p in self.parameters if p.name == name)


TEMPLATES: dict[str, TemplateSpec] = {
    "quarterly": TemplateSpec(
        "quarterly", "quarterly_report.ipynb", "Quarterly customer-experience report",
        table="survey", base_column="ltr", default_by="region", parameters=_common(
            "bundled dataset name, a folder like datasets/kestrel, or a survey file",
            "segment column, e.g. region; None = company only",
            "value of by that this report covers; None = whole company") + (
            Parameter("waves", 6, "waves shown in the trend", "whole", 2, 40),
            Parameter("driver_waves", 4, "waves pooled for the driver analysis", "whole", 1, 40),
            Parameter("bootstrap", 200, "bootstrap resamples for driver-importance intervals",
                      "whole", 0, 100_000),
            Parameter("top_actions", 5, "actions listed in the what-if ranking", "whole", 1, 50),
        )),
    "team_scorecard": TemplateSpec(
        "team_scorecard", "team_scorecard.ipynb", "Front-line team scorecard",
        table="contacts", base_column="csat", default_by="team", parameters=_common(
            "bundled dataset name or a folder with contacts.csv (and pulse.csv)",
            "team column (team); None = whole contact centre",
            "the team this scorecard covers; None = all teams") + (
            Parameter("waves", 6, "waves shown in the trend and pooled for the pulse", "whole",
                      2, 40),
            Parameter("driver_waves", 4, "waves pooled for the scorecard items", "whole", 1, 40),
            Parameter("bootstrap", 200, "bootstrap resamples for scorecard-item importance "
                      "intervals", "whole", 0, 100_000),
            Parameter("csat_target", None, "company post-contact CSAT target in %; None = now + "
                      "5 points", "number", 0, 100, optional=True),
            Parameter("fcr_target", None, "company first-contact resolution target in %; None = "
                      "now + 5 points", "number", 0, 100, optional=True),
            Parameter("ces_target", None, "company effort target, mean 1-7; None = now + 0.2",
                      "number", 1, 7, optional=True),
        )),
}


def template_spec(template: str | os.PathLike) -> TemplateSpec:
    """Look up a template by name (``quarterly``, ``team_scorecard``) or by notebook path.

    A path to a custom notebook reuses the spec of the built-in template whose name its file
    name contains (e.g. ``my_quarterly_report.ipynb`` -> quarterly), else the quarterly spec.
    """
    key = str(template)
    if key in TEMPLATES:
        return TEMPLATES[key]
    for spec in TEMPLATES.values():
        if key == spec.notebook or key == spec.notebook.removesuffix(".ipynb"):
            return spec
    path = Path(key)
    if path.suffix == ".ipynb":
        if not path.exists():
            raise CXDataError(f"Template notebook {str(path)!r} does not exist.")
        base = next((s for s in TEMPLATES.values() if s.name in path.stem), TEMPLATES["quarterly"])
        return TemplateSpec(path.stem, str(path.resolve()), base.title, base.table,
                            base.base_column, base.default_by, base.parameters)
    raise CXDataError(f"Unknown report template {key!r}. Choose one of {', '.join(TEMPLATES)} "
                      "or give the path to a template notebook (.ipynb).")


def validate_parameters(template: str, params: Mapping) -> dict:
    """Check every report parameter (type, range, known name); return them with defaults filled.

    Raises CXDataError naming the parameter, what it got and what it accepts. Does not look at
    the data (period and segment are checked against the data by :mod:`cxlab.report.data`).
    """
    spec = template_spec(template)
    unknown = [n for n in params if n not in spec.names]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, spec.names, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise CXDataError(f"Unknown parameter(s) {', '.join(hints)} for the {spec.name} report. "
                          f"Known parameters: {', '.join(spec.names)}.")
    values = {**spec.defaults, **params}
    out = {p.name: p.check(values[p.name]) for p in spec.parameters}
    if out["data"] is None or not isinstance(out["data"], (str, os.PathLike)):
        raise CXDataError("data must be a bundled dataset name or a file/folder path, got "
                          f"{out['data']!r}.")
    return out


#: Fewest bootstrap resamples a *published* report may use. ``bootstrap=0`` skips the
#: resampling (quick previews and tests through :func:`cxlab.report.context.prepare`) and leaves
#: every importance and what-if interval undefined, which a stakeholder page would print as
#: "nan"; below 20 draws a 95% percentile interval is just the range of a handful of draws.
PUBLISHED_MIN_BOOTSTRAP = 20


def check_publishable(params: Mapping) -> None:
    """Refuse parameters that would publish undefined numbers: ``bootstrap`` below
    :data:`PUBLISHED_MIN_BOOTSTRAP` in a batch (``cxlab report``)."""
    b = params.get("bootstrap")
    if b is not None and b < PUBLISHED_MIN_BOOTSTRAP:
        raise CXDataError(f"bootstrap={b} would publish reports without intervals (every "
                          f"importance and what-if interval undefined): give at least "
                          f"{PUBLISHED_MIN_BOOTSTRAP} resamples, e.g. --param bootstrap=200 "
                          "(0 is for previews in a notebook, not for a published batch).")


def cell_source(template: str) -> str:
    """The parameter cell of the template notebook, generated from the declaration."""
    spec = template_spec(template)
    lines = ["# Parameters (papermill replaces this cell's values)"]
    for p in spec.parameters:
        assign = f"{p.name} = {_literal(p.default)}"
        lines.append(f"{assign:<21} # {p.help}")
    return "\n".join(lines)


def _literal(value) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def table(template: str):
    """The declaration as a DataFrame (parameter, default, allowed, meaning), for readers."""
    import pandas as pd
    spec = template_spec(template)
    return pd.DataFrame([{"parameter": p.name, "default": p.default, "allowed": p.allowed,
                          "meaning": p.help} for p in spec.parameters]).set_index("parameter")

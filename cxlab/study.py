"""Driver studies on the analyst's own data: a study schema, validation, preparation and the run.

    schema = cx.study.load_schema("study.yaml")      # or cx.study.StudySchema.from_dict({...})
    data, customers = cx.study.load_data(schema)     # reads the survey (and customer file)
    report = cx.study.validate(schema, data, customers)
    report                                            # readable: errors, warnings, missing shares
    prepared = cx.study.prepare(schema, data, customers)   # stops on errors; counts every exclusion
    result = cx.study.run(schema)                      # all sections of the study

The schema states the outcome (0–10 likelihood to recommend, a 1–5/1–7/1–10 rating or a binary
flag such as retained/satisfied), the drivers with their scales, optional driver groups,
segments, weight, id and an optional customer-outcome file to join (churn, tenure, revenue).

Validation errors stop the study (the report names the column, the offending values and rows and
the fix); warnings go into the study output. Nothing is dropped without being counted: the
``flow`` table of :class:`StudyData` lists every exclusion and its reason.

Large files: :func:`validate_file` validates a file chunk by chunk in bounded memory.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import io as cxio
from .checks import CXDataError, _preview

__all__ = [
    "METHODS",
    "CustomerFile",
    "Driver",
    "Issue",
    "Outcome",
    "StudyData",
    "StudySchema",
    "ValidationReport",
    "load_data",
    "load_schema",
    "prepare",
    "validate",
    "validate_file",
]

#: Relative-importance methods compared side by side (see cxlab.drivers).
METHODS = ("lmg", "relative_weights", "pratt", "first", "last", "betasq")
_BINARY_TEXT = {"yes": 1, "no": 0, "true": 1, "false": 0, "y": 1, "n": 0}
_MAX_EXAMPLES = 10
_MAX_LEVELS = 1000


# =========================================================================== schema

@dataclass
class Outcome:
    """The study outcome: ``kind`` is "nps" (0–10 likelihood to recommend), "rating" or "binary"."""

    column: str
    kind: str = "rating"
    scale: tuple[float, float] | None = None
    positive: Any = None          # binary: the value meaning 1 (e.g. "satisfied", "Yes")
    label: str | None = None
    top: int | None = None        # rating: size of the top box (default 2 on 1–5, 2 on 1–7 ...)
    top_from: float | None = None  # rating: answers >= this count as top box (wide scales)


@dataclass
class Driver:
    """One driver column with its rating scale (``None`` for counts, amounts and flags)."""

    column: str
    scale: tuple[float, float] | None = None
    label: str | None = None
    group: str | None = None
    reverse: bool = False         # the scale runs the other way (1 = best): use low + high − x


@dataclass
class CustomerFile:
    """Customer-outcome file joined on ``join_on`` (survey column) = ``id`` (customer column)."""

    id: str
    path: str | None = None
    dataset: str | None = None
    table: str | None = None
    join_on: str | None = None
    churned: str | None = None
    tenure: str | None = None
    end_date: str | None = None
    revenue: str | None = None          # revenue per period (e.g. monthly revenue)
    revenue_periods_per_year: float = 12.0
    read: dict = field(default_factory=dict)


@dataclass
class StudySchema:
    """Everything the study needs to know about the analyst's data (see module docstring)."""

    outcome: Outcome
    drivers: list[Driver]
    data: Any = None                    # path, {"path": ...} or {"dataset": name, "table": ...}
    read: dict = field(default_factory=dict)
    missing_codes: Any = None           # list -> outcome and drivers; {column: [codes]}
    segments: list[str] = field(default_factory=list)
    weight: str | None = None
    id: str | None = None
    customers: CustomerFile | None = None
    filter: dict = field(default_factory=dict)
    min_segment: int = 30
    straightliners: str = "keep"        # "keep" (warn) or "drop" (counted)
    methods: tuple[str, ...] = METHODS
    bootstrap: int = 200
    seed: int = 0
    confidence: float = 0.95
    title: str = "Driver study"
    base_dir: Path = field(default_factory=Path.cwd)

    # ------------------------------------------------------------------ helpers
    @property
    def driver_columns(self) -> list[str]:
        return [d.column for d in self.drivers]

    @property
    def groups(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for d in self.drivers:
            if d.group:
                out.setdefault(d.group, []).append(d.column)
        return out

    @property
    def labels(self) -> dict[str, str]:
        return {d.column: d.label or d.column for d in self.drivers}

    @property
    def join_on(self) -> str | None:
        if self.customers is None:
            return None
        return self.customers.join_on or self.customers.id

    def columns_needed(self) -> list[str]:
        cols = [self.outcome.column, *self.driver_columns, *self.segments, *self.filter]
        cols += [c for c in (self.weight, self.id, self.join_on) if c]
        return list(dict.fromkeys(cols))

    def codes_plan(self) -> dict[str, list]:
        """Missing codes per column: a list applies to the outcome and every driver."""
        codes = self.missing_codes
        if not codes:
            return {}
        if isinstance(codes, Mapping):
            return {str(k): _as_list(v) for k, v in codes.items()}
        cols = [self.outcome.column, *self.driver_columns]
        return {c: _as_list(codes) for c in cols}

    def to_dict(self) -> dict:
        d = asdict(self)
        d["base_dir"] = str(self.base_dir)
        return d

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_dict(cls, spec: Mapping, base_dir: str | Path | None = None) -> StudySchema:
        """Build a schema from a dict (parsed YAML or notebook parameters), checking every key."""
        if not isinstance(spec, Mapping):
            raise CXDataError(f"The study configuration must be a mapping (YAML key: value pairs), "
                              f"got {type(spec).__name__}.")
        known = {"title", "data", "read", "missing_codes", "outcome", "drivers", "driver_scale",
                 "groups", "segments", "weight", "id", "customers", "filter", "min_segment",
                 "straightliners", "analysis", "methods", "bootstrap", "seed", "confidence"}
        _unknown(spec, known, "study configuration")
        for key in ("outcome", "drivers"):
            if key not in spec or spec[key] in (None, "", [], {}):
                raise CXDataError(f"The study configuration has no {key!r}. Example:\n"
                                  "  outcome: {column: ltr, scale: [0, 10]}\n"
                                  "  drivers: {scale: [1, 10], columns: [billing, network]}")
        analysis = dict(spec.get("analysis") or {})
        _unknown(analysis, {"methods", "bootstrap", "seed", "confidence"}, "analysis")
        for key in ("methods", "bootstrap", "seed", "confidence"):
            if key in spec:
                analysis.setdefault(key, spec[key])
        drivers = _parse_drivers(spec["drivers"], spec.get("driver_scale"))
        _apply_groups(drivers, spec.get("groups"))
        methods = tuple(_as_list(analysis.get("methods", METHODS)))
        bad = [m for m in methods if m not in METHODS]
        if bad:
            raise CXDataError(f"Unknown importance method(s) {_preview(bad)}. Choose from "
                              f"{', '.join(METHODS)}.")
        schema = cls(
            outcome=_parse_outcome(spec["outcome"]), drivers=drivers, data=spec.get("data"),
            read=dict(spec.get("read") or {}), missing_codes=spec.get("missing_codes"),
            segments=[str(s) for s in _as_list(spec.get("segments"))],
            weight=_opt_str(spec.get("weight")), id=_opt_str(spec.get("id")),
            customers=_parse_customers(spec.get("customers")),
            filter=dict(spec.get("filter") or {}),
            min_segment=_positive_int(spec.get("min_segment", 30), "min_segment"),
            straightliners=str(spec.get("straightliners", "keep")),
            methods=methods,
            bootstrap=_positive_int(analysis.get("bootstrap", 200), "bootstrap", allow_zero=True),
            seed=int(analysis.get("seed", 0)),
            confidence=float(analysis.get("confidence", 0.95)),
            title=str(spec.get("title", "Driver study")),
            base_dir=Path(base_dir) if base_dir is not None else Path.cwd())
        schema._check()
        return schema

    def _check(self) -> None:
        if self.straightliners not in ("keep", "drop"):
            raise CXDataError(f"straightliners must be 'keep' or 'drop', got {self.straightliners!r}.")
        if not 0.5 < self.confidence < 1:
            raise CXDataError(f"confidence must be between 0.5 and 1, got {self.confidence}.")
        cols = self.driver_columns
        dup = sorted({c for c in cols if cols.count(c) > 1})
        if dup:
            raise CXDataError(f"Driver(s) {_preview(dup)} are listed more than once.")
        if self.outcome.column in cols:
            raise CXDataError(f"The outcome {self.outcome.column!r} is also listed as a driver.")
        if self.weight and (self.weight in cols or self.weight == self.outcome.column):
            raise CXDataError(f"The weight column {self.weight!r} is also the outcome or a driver.")
        if self.missing_codes is not None and not isinstance(self.missing_codes,
                                                             (Mapping, list, tuple, int, float)):
            raise CXDataError("missing_codes must be a list of codes (applied to the outcome and "
                              "drivers) or a mapping {column: [codes]}.")


def _unknown(spec: Mapping, known: set, what: str) -> None:
    bad = [k for k in spec if k not in known]
    if bad:
        import difflib
        hints = [f"{b!r} (did you mean {difflib.get_close_matches(str(b), known, 1)[0]!r}?)"
                 if difflib.get_close_matches(str(b), known, 1) else repr(b) for b in bad]
        raise CXDataError(f"Unknown key(s) in {what}: {', '.join(hints)}. "
                          f"Allowed: {', '.join(sorted(known))}.")


def _as_list(v) -> list:
    if v is None:
        return []
    if isinstance(v, (str, int, float, bool)):
        return [v]
    return list(v)


def _opt_str(v) -> str | None:
    return None if v in (None, "") else str(v)


def _positive_int(v, name: str, allow_zero: bool = False) -> int:
    try:
        out = int(v)
    except (TypeError, ValueError):
        raise CXDataError(f"{name} must be a whole number, got {v!r}.") from None
    if out < (0 if allow_zero else 1) or out != v:
        raise CXDataError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} "
                          f"whole number, got {v!r}.")
    return out


def _parse_scale(v, where: str) -> tuple[float, float] | None:
    if v is None:
        return None
    if isinstance(v, str) and "-" in v.strip()[1:]:
        v = v.replace("–", "-").split("-", 1) if not v.strip().startswith("-") else v
    try:
        lo, hi = (float(x) for x in v)
    except (TypeError, ValueError):
        raise CXDataError(f"The scale of {where} must be two numbers [low, high], got {v!r}.") \
            from None
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo >= hi:
        raise CXDataError(f"The scale of {where} must have low < high, got {v!r}.")
    return (lo, hi)


def _parse_outcome(spec) -> Outcome:
    if isinstance(spec, str):
        spec = {"column": spec}
    if not isinstance(spec, Mapping) or "column" not in spec:
        raise CXDataError("outcome must name its column, e.g. outcome: {column: ltr, scale: [0, 10]}.")
    _unknown(spec, {"column", "kind", "type", "scale", "positive", "label", "top", "top_from"},
             "outcome")
    col = str(spec["column"])
    scale = _parse_scale(spec.get("scale"), f"outcome {col!r}")
    kind = spec.get("kind", spec.get("type"))
    if kind is None:
        if spec.get("positive") is not None:
            kind = "binary"
        elif scale == (0.0, 10.0):
            kind = "nps"
        elif scale == (0.0, 1.0):
            kind = "binary"
        elif scale is None:
            raise CXDataError(f"Outcome {col!r}: state its scale (e.g. scale: [0, 10] for likelihood "
                              "to recommend, [1, 5] for satisfaction) or kind: binary.")
        else:
            kind = "rating"
    kind = {"ltr": "nps", "recommend": "nps", "likert": "rating", "satisfaction": "rating",
            "flag": "binary", "retained": "binary"}.get(str(kind), str(kind))
    if kind not in ("nps", "rating", "binary"):
        raise CXDataError(f"Outcome kind must be 'nps', 'rating' or 'binary', got {kind!r}.")
    if kind == "nps":
        scale = scale or (0.0, 10.0)
        if scale != (0.0, 10.0):
            raise CXDataError(f"An NPS outcome is on the 0–10 scale, but {col!r} is given {scale}. "
                              "Use kind: rating for other scales.")
    if kind == "rating" and scale is None:
        raise CXDataError(f"Rating outcome {col!r} needs its scale, e.g. scale: [1, 5].")
    top, top_from = spec.get("top"), spec.get("top_from")
    if top_from is not None:
        try:
            top_from = float(top_from)
        except (TypeError, ValueError):
            raise CXDataError(f"outcome top_from must be a number, got {top_from!r}.") from None
        if scale is not None and not scale[0] < top_from <= scale[1]:
            raise CXDataError(f"outcome top_from {top_from:g} is not inside the scale {scale}.")
    return Outcome(column=col, kind=kind, scale=scale if kind != "binary" else None,
                   positive=spec.get("positive"), label=spec.get("label"),
                   top=None if top is None else _positive_int(top, "outcome top"),
                   top_from=top_from)


def _parse_drivers(spec, default_scale) -> list[Driver]:
    default = _parse_scale(default_scale, "drivers") if default_scale is not None else None
    if isinstance(spec, Mapping) and "columns" in spec:
        _unknown(spec, {"columns", "scale", "labels", "groups"}, "drivers")
        if "scale" in spec:
            default = _parse_scale(spec["scale"], "drivers")
        labels = dict(spec.get("labels") or {})
        out = [Driver(str(c), default, labels.get(c)) for c in _as_list(spec["columns"])]
    elif isinstance(spec, Mapping):
        out = []
        for col, sub in spec.items():
            if sub is None:
                out.append(Driver(str(col), default))
            elif isinstance(sub, (list, tuple)):
                out.append(Driver(str(col), _parse_scale(sub, f"driver {col!r}")))
            elif isinstance(sub, Mapping):
                _unknown(sub, {"scale", "label", "group", "reverse"}, f"driver {col!r}")
                scale = _parse_scale(sub["scale"], f"driver {col!r}") if "scale" in sub else default
                rev = bool(sub.get("reverse", False))
                if rev and scale is None:
                    raise CXDataError(f"Driver {col!r} has reverse: true but no scale; reversing "
                                      "needs the scale's ends.")
                out.append(Driver(str(col), scale, sub.get("label"), sub.get("group"), rev))
            else:
                raise CXDataError(f"Driver {col!r}: give a scale [low, high] or a mapping "
                                  "{scale:, label:, group:}.")
    elif isinstance(spec, (list, tuple)):
        out = [Driver(str(c), default) for c in spec]
    else:
        raise CXDataError("drivers must be a list of columns, {scale: [1, 5], columns: [...]} or "
                          "a mapping {column: {scale: [1, 5], group: ...}}.")
    if not out:
        raise CXDataError("The study needs at least one driver.")
    return out


def _apply_groups(drivers: list[Driver], groups) -> None:
    if not groups:
        return
    if not isinstance(groups, Mapping):
        raise CXDataError("groups must be a mapping {group name: [driver columns]}.")
    by_col = {d.column: d for d in drivers}
    for name, cols in groups.items():
        for c in _as_list(cols):
            if c not in by_col:
                raise CXDataError(f"Group {name!r} lists {c!r}, which is not a driver. Drivers: "
                                  f"{_preview(by_col, 12)}.")
            if by_col[c].group not in (None, name):
                raise CXDataError(f"Driver {c!r} is in two groups ({by_col[c].group!r}, {name!r}).")
            by_col[c].group = str(name)


def _parse_customers(spec) -> CustomerFile | None:
    if not spec:
        return None
    if not isinstance(spec, Mapping):
        raise CXDataError("customers must be a mapping {path: ..., id: ..., churned: ..., ...}.")
    _unknown(spec, {"path", "dataset", "table", "id", "join_on", "churned", "tenure", "end_date",
                    "revenue", "revenue_periods_per_year", "read"}, "customers")
    if "id" not in spec:
        raise CXDataError("customers needs id: the customer id column in the customer file.")
    if not (spec.get("path") or spec.get("dataset")):
        raise CXDataError("customers needs path: (a file) or dataset: (a bundled dataset).")
    return CustomerFile(id=str(spec["id"]), path=_opt_str(spec.get("path")),
                        dataset=_opt_str(spec.get("dataset")), table=_opt_str(spec.get("table")),
                        join_on=_opt_str(spec.get("join_on")), churned=_opt_str(spec.get("churned")),
                        tenure=_opt_str(spec.get("tenure")), end_date=_opt_str(spec.get("end_date")),
                        revenue=_opt_str(spec.get("revenue")),
                        revenue_periods_per_year=float(spec.get("revenue_periods_per_year", 12)),
                        read=dict(spec.get("read") or {}))


def load_schema(config: str | Path | Mapping, **overrides) -> StudySchema:
    """Read a study schema from a YAML file (paths in it are relative to the file) or a dict.

    ``overrides`` replace top-level keys (e.g. ``bootstrap=50``).
    """
    if isinstance(config, Mapping):
        spec, base = dict(config), None
    else:
        import yaml
        path = Path(config)
        if not path.exists():
            raise CXDataError(f"Study configuration not found: {path}.")
        try:
            spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise CXDataError(f"{path.name} is not valid YAML: {err}") from None
        base = path.resolve().parent
    spec = dict(spec or {})
    for key, value in overrides.items():
        if value is None:
            continue
        if key in ("methods", "bootstrap", "seed", "confidence"):
            spec["analysis"] = {**dict(spec.get("analysis") or {}), key: value}
            spec.pop(key, None)
        else:
            spec[key] = value
    return StudySchema.from_dict(spec, base_dir=base)


# =========================================================================== loading

def _resolve(schema: StudySchema, p) -> Path:
    path = Path(str(p)).expanduser()
    return path if path.is_absolute() else (schema.base_dir / path)


#: Survey files are read (and cleaned) this many rows at a time, only the study's columns.
READ_CHUNK = 200_000


def _load_source(schema: StudySchema, spec, read: dict, what: str, default_table: str,
                 columns: Sequence[str] | None = None):
    if isinstance(spec, pd.DataFrame):
        return spec
    if spec is None:
        raise CXDataError(f"The study configuration names no {what} (data: path/to/file or "
                          "data: {dataset: kestrel, table: survey}).")
    if isinstance(spec, (str, Path)):
        spec = {"path": spec}
    if not isinstance(spec, Mapping):
        raise CXDataError(f"{what}: give a file path or {{dataset: name, table: ...}}.")
    if spec.get("dataset"):
        from . import datasets
        obj = datasets.load(spec["dataset"])
        if isinstance(obj, pd.DataFrame):
            return obj
        table = spec.get("table") or default_table
        if not hasattr(obj, table):
            raise CXDataError(f"Dataset {spec['dataset']!r} has no table {table!r}.")
        return getattr(obj, table)
    options = {**read, **{k: v for k, v in spec.items() if k != "path"}}
    path = _resolve(schema, spec["path"])
    if columns is not None and "usecols" not in options:
        present = set(cxio.columns_of(path, **options))
        # absent columns are left to validate(), which names them and suggests close names
        options["usecols"] = [c for c in dict.fromkeys(columns) if c in present] or None
    options.setdefault("chunksize", READ_CHUNK)
    return cxio.read_survey(path, **options)


def load_data(schema: StudySchema) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Read the survey and (if configured) the customer-outcome file. Missing codes are *not*
    applied here but in :func:`validate` / :func:`prepare`, where they are counted."""
    data = _load_source(schema, schema.data, schema.read, "survey data", "survey",
                        columns=schema.columns_needed())
    labelled = [c for c in schema.segments if c in cxio.value_labels(data)]
    if labelled:                      # SPSS/Stata segment codes shown with their labels
        data = cxio.apply_value_labels(data, labelled)
    customers = None
    if schema.customers is not None:
        customers = _load_customers_only(schema)[1]
    return data, customers


# =========================================================================== validation report

@dataclass
class Issue:
    """One finding: ``severity`` is "error" (stops the study), "warning" or "info"."""

    severity: str
    check: str
    column: str
    message: str
    n: int = 0
    rows: list = field(default_factory=list)
    values: list = field(default_factory=list)


@dataclass
class ValidationReport:
    """The validator's findings, a per-column missing table and the rows checked."""

    issues: list[Issue]
    columns: pd.DataFrame          # column, role, n, n_missing, share_missing, n_recoded
    n_rows: int
    usable_rows: int
    read_report: pd.DataFrame = field(default_factory=pd.DataFrame)
    title: str = "Data check"

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> pd.DataFrame:
        """One row per finding: severity, check, column, n, message."""
        order = {"error": 0, "warning": 1, "info": 2}
        rows = [{"severity": i.severity, "check": i.check, "column": i.column, "n": i.n,
                 "message": i.message} for i in sorted(self.issues, key=lambda i: order[i.severity])]
        return pd.DataFrame(rows, columns=["severity", "check", "column", "n", "message"])

    def raise_for_errors(self) -> None:
        """Raise :class:`CXDataError` with the whole readable report when there is an error."""
        if self.errors:
            raise CXDataError(f"The data failed {len(self.errors)} check(s); the study stops.\n\n"
                              + self.to_text())

    def to_text(self) -> str:
        lines = [(f"{self.title}: {self.n_rows:,} rows checked, {self.usable_rows:,} usable "
                  f"for the driver analysis; {len(self.errors)} error(s), "
                  f"{len(self.warnings)} warning(s). Rows are data-row labels (0 = the first "
                  "answer under the header).")]
        for sev, head in (("error", "ERRORS (the study stops until these are fixed)"),
                          ("warning", "WARNINGS (the study goes on; these are reported)"),
                          ("info", "NOTES")):
            items = [i for i in self.issues if i.severity == sev]
            if items:
                lines += ["", head]
                lines += [f"  - [{i.check}] {i.message}" for i in items]
        if len(self.columns):
            lines += ["", "Missing values per column:"]
            tab = self.columns.assign(share_missing=lambda d: (100 * d.share_missing).round(1))
            lines += ["  " + ln for ln in tab.to_string(index=False).splitlines()]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def to_html(self) -> str:
        colours = {"error": "#b00020", "warning": "#8a6d00", "info": "#444"}
        parts = [(f"<p><b>{escape(self.title)}</b>: {self.n_rows:,} rows checked, "
                  f"{self.usable_rows:,} usable; {len(self.errors)} error(s), "
                  f"{len(self.warnings)} warning(s).</p><ul>")]
        for i in sorted(self.issues, key=lambda i: ["error", "warning", "info"].index(i.severity)):
            parts.append(f"<li style='color:{colours[i.severity]}'><b>{i.severity}</b> "
                         f"[{escape(i.check)}] {escape(i.message)}</li>")
        parts.append("</ul>")
        if len(self.columns):
            parts.append(self.columns.to_html(index=False, float_format=lambda v: f"{v:.3f}"))
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html()


# =========================================================================== the validator

def _numeric(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(float values, mask of cells holding non-numeric text)."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float), pd.Series(False, index=s.index)
    if pd.api.types.is_numeric_dtype(s):
        v = s.astype(float)
        return v, pd.Series(False, index=s.index)
    if pd.api.types.is_datetime64_any_dtype(s):
        return pd.Series(np.nan, index=s.index), s.notna()
    txt = s.astype("str").str.strip().where(s.notna())
    try:
        v = txt.astype(float)               # fast path: all numbers (or missing)
    except (ValueError, TypeError):
        v = pd.to_numeric(txt, errors="coerce").astype(float)
    text = s.notna() & v.isna() & (txt != "")
    return v, text


class _Examples:
    """Count offending cells, keep a few row labels and distinct values."""

    def __init__(self):
        self.n, self.rows, self.values = 0, [], []

    def add(self, mask: pd.Series, values: pd.Series) -> None:
        k = int(mask.sum())
        if not k:
            return
        self.n += k
        if len(self.rows) < _MAX_EXAMPLES:
            self.rows += list(mask.index[mask][: _MAX_EXAMPLES - len(self.rows)])
        if len(self.values) < _MAX_EXAMPLES:
            for v in pd.unique(values[mask]):
                if len(self.values) >= _MAX_EXAMPLES:
                    break
                v = v.item() if isinstance(v, np.generic) else v
                if isinstance(v, float) and v.is_integer():
                    v = int(v)
                if v not in self.values:
                    self.values.append(v)


class _HashDup:
    """Duplicate detection in bounded memory: 64-bit hashes of keys plus a few example values."""

    def __init__(self):
        self.hashes: list[np.ndarray] = []
        self.seen = np.empty(0, dtype=np.uint64)
        self.ex = _Examples()

    def add(self, keys: pd.Series | pd.DataFrame) -> None:
        if len(keys) == 0:
            return
        h = pd.util.hash_pandas_object(keys, index=False).to_numpy(dtype=np.uint64)
        within = pd.Series(h).duplicated(keep="first").to_numpy()
        pos = np.searchsorted(self.seen, h)
        before = (pos < len(self.seen)) & (self.seen[np.minimum(pos, len(self.seen) - 1)] == h) \
            if len(self.seen) else np.zeros(len(h), bool)
        mask = pd.Series(within | before, index=keys.index)
        shown = keys if isinstance(keys, pd.Series) else pd.Series(
            ["row " + str(i) for i in keys.index], index=keys.index)
        self.ex.add(mask, shown)
        # merge two sorted runs (timsort: linear time), keeping the hashes sorted for searchsorted
        self.seen = np.sort(np.concatenate([self.seen, np.sort(h)]), kind="stable")


class _Validator:
    """Accumulates checks over one or many chunks (bounded memory), then builds the report."""

    def __init__(self, schema: StudySchema, customers: pd.DataFrame | None = None):
        self.s = schema
        self.n_rows = 0
        self.usable = 0
        self.issues: list[Issue] = []
        self.read_rows: list[dict] = []
        self.recoded: Counter = Counter()
        self.missing: Counter = Counter()
        self.filtered = 0
        self.numcols = [c for c in [schema.outcome.column if schema.outcome.kind != "binary" else None,
                                    *schema.driver_columns] if c]
        self.scales = {d.column: d.scale for d in schema.drivers}
        if schema.outcome.kind != "binary":
            self.scales[schema.outcome.column] = schema.outcome.scale
        self.text = {c: _Examples() for c in self.numcols + ([schema.weight] if schema.weight else [])}
        self.infinite = {c: _Examples() for c in self.text}
        self.out_of_scale = {c: _Examples() for c in self.numcols}
        self.fraction = {c: _Examples() for c in self.numcols}
        self.minmax = {c: [np.inf, -np.inf] for c in self.numcols}
        self.binary_levels: Counter = Counter()
        self.weight_bad = {"negative": _Examples(), "missing": _Examples(), "zero": _Examples()}
        self.ids = _HashDup()
        self.id_missing = _Examples()
        self.rows_dup = _HashDup()
        self.segments = {c: Counter() for c in schema.segments}
        self.seg_overflow: set = set()
        self.straight = _Examples()
        self.answered3 = 0
        self.pair = None
        self.join_unmatched = _Examples()
        self.join_checked = 0
        self.customer_ids = None
        self.columns_missing: list[str] = []
        self.columns_checked = False
        self.y_events = Counter()
        if customers is not None and schema.customers is not None:
            self._check_customers(customers)

    # ------------------------------------------------------------------ customers
    def _check_customers(self, cust: pd.DataFrame) -> None:
        c = self.s.customers
        needed = [x for x in (c.id, c.churned, c.tenure, c.end_date, c.revenue) if x]
        absent = [x for x in needed if x not in cust.columns]
        if absent:
            self._issue("error", "customer file", ", ".join(absent),
                        f"The customer file has no column {_preview(absent)}. Its columns: "
                        f"{_preview(map(str, cust.columns), 12)}.")
            return
        ids = cust[c.id]
        dup = ids.duplicated(keep=False) & ids.notna()
        if dup.any():
            ex = _Examples()
            ex.add(dup, ids)
            self._issue("error", "customer file", c.id,
                        f"The customer file has {int(dup.sum())} rows with a repeated id "
                        f"(e.g. {_preview(ex.values)} at rows {_preview(ex.rows)}); the join "
                        "would be ambiguous. Keep one row per customer.", ex)
        self.customer_ids = pd.Index(_key(ids).dropna().unique())
        if c.churned:
            v, text = _numeric(cust[c.churned])
            bad = text | (v.notna() & ~v.isin([0, 1]))
            if bad.any():
                ex = _Examples()
                ex.add(bad, cust[c.churned])
                self._issue("error", "customer file", c.churned,
                            f"Churn flag {c.churned!r} must be 0/1 but has {_preview(ex.values)} "
                            f"at rows {_preview(ex.rows)}. Recode it to 0 = active, 1 = churned.", ex)
        for col, what in ((c.tenure, "tenure"), (c.revenue, "revenue")):
            if col:
                v, text = _numeric(cust[col])
                bad = text | (v < 0)
                if bad.any():
                    ex = _Examples()
                    ex.add(bad, cust[col])
                    self._issue("error", "customer file", col,
                                f"{what.capitalize()} column {col!r} must hold non-negative numbers "
                                f"but has {_preview(ex.values)} at rows {_preview(ex.rows)}.", ex)

    # ------------------------------------------------------------------ per chunk
    def _issue(self, severity, check, column, message, ex: _Examples | None = None, n=None):
        self.issues.append(Issue(severity, check, str(column), message,
                                 n=int(n if n is not None else (ex.n if ex else 0)),
                                 rows=list(ex.rows) if ex else [],
                                 values=list(ex.values) if ex else []))

    def check_columns(self, columns) -> bool:
        needed = self.s.columns_needed()
        absent = [c for c in needed if c not in columns]
        if absent:
            import difflib
            hints = []
            for a in absent:
                close = difflib.get_close_matches(a, list(map(str, columns)), 1, 0.6)
                hints.append(f"{a!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
            self._issue("error", "columns", ", ".join(absent),
                        f"The data have no column {', '.join(hints)}. Available columns: "
                        f"{_preview(map(str, columns), 15)}. Fix the name in the study "
                        "configuration.", n=len(absent))
            self.columns_missing = absent
            return False
        return True

    def update(self, chunk: pd.DataFrame) -> None:
        s = self.s
        if not self.columns_checked:
            self.columns_checked = True
            if not self.check_columns(chunk.columns):
                return
        if self.columns_missing:
            return
        for rec in cxio.read_report(chunk).to_dict("records"):
            self.read_rows.append(rec)
        chunk = chunk.copy(deep=False)
        chunk.attrs = {}        # reader metadata is read; don't deep-copy it on every operation
        chunk, n_out = _apply_filter(s, chunk)
        self.filtered += n_out
        chunk, rep = cxio.recode_missing(chunk, s.codes_plan(), reason="missing code set to missing")
        for rec in rep.to_dict("records"):
            self.recoded[(rec["column"], rec["value"])] += rec["n"]
        self.n_rows += len(chunk)
        if len(chunk) == 0:
            return
        cols = s.columns_needed()
        for c in cols:
            self.missing[c] += int(chunk[c].isna().sum())
        values = {}
        for c in self.numcols:
            v, text = _numeric(chunk[c])
            self.text[c].add(text, chunk[c])
            inf = v.notna() & ~np.isfinite(v)
            self.infinite[c].add(inf, v)
            v = v.where(~inf)
            sc = self.scales.get(c)
            if sc is not None:
                out = v.notna() & ((v < sc[0]) | (v > sc[1]))
                self.out_of_scale[c].add(out, v)
                v = v.where(~out)
                if float(sc[0]).is_integer() and float(sc[1]).is_integer() and sc[1] - sc[0] <= 10:
                    frac = v.notna() & (v != np.round(v))
                    self.fraction[c].add(frac, v)
            if v.notna().any():
                self.minmax[c][0] = min(self.minmax[c][0], float(v.min()))
                self.minmax[c][1] = max(self.minmax[c][1], float(v.max()))
            values[c] = v
        y = self._outcome(chunk, values)
        w_ok = self._weight(chunk)
        self._ids(chunk)
        if not s.id:
            self.rows_dup.add(chunk[cols])
        X = pd.DataFrame({c: values[c] for c in s.driver_columns}, index=chunk.index)
        self._straight(X)                       # as answered: same column clicked throughout
        self._pairs(y, _reverse(s, X))
        self._segments(chunk, y)
        self._join(chunk)
        complete = y.notna() & X.notna().all(axis=1) & w_ok
        self.usable += int(complete.sum())
        if s.outcome.kind == "binary":
            self.y_events.update(y[complete].astype(int).tolist())

    def _outcome(self, chunk, values) -> pd.Series:
        o = self.s.outcome
        if o.kind != "binary":
            return values[o.column]
        raw = chunk[o.column]
        for v, k in raw.dropna().value_counts().items():
            if len(self.binary_levels) < _MAX_LEVELS or v in self.binary_levels:
                self.binary_levels[v.item() if isinstance(v, np.generic) else v] += int(k)
        return _binary(raw, o.positive, strict=False)

    def _weight(self, chunk) -> pd.Series:
        s = self.s
        if not s.weight:
            return pd.Series(True, index=chunk.index)
        v, text = _numeric(chunk[s.weight])
        self.text[s.weight].add(text, chunk[s.weight])
        inf = v.notna() & ~np.isfinite(v)
        self.infinite[s.weight].add(inf, v)
        self.weight_bad["missing"].add(v.isna() & ~text, chunk[s.weight])
        v = v.where(~inf)
        self.weight_bad["negative"].add(v < 0, v)
        self.weight_bad["zero"].add(v == 0, v)
        return v.notna() & (v > 0)

    def _ids(self, chunk) -> None:
        if not self.s.id:
            return
        ids = chunk[self.s.id]
        self.id_missing.add(ids.isna(), ids)
        self.ids.add(ids[ids.notna()])

    def _straight(self, X: pd.DataFrame) -> None:
        p = X.shape[1]
        if p < 3:
            return
        answered = X.notna().sum(axis=1)
        need = max(3, math.ceil(0.5 * p))
        eligible = answered >= need
        same = (X.max(axis=1) == X.min(axis=1)) & eligible
        self.answered3 += int(eligible.sum())
        self.straight.add(same, X.max(axis=1))

    def _pairs(self, y: pd.Series, X: pd.DataFrame) -> None:
        Z = pd.concat([y.rename("__y__"), X], axis=1).to_numpy(dtype=float)
        M = ~np.isnan(Z)
        Z0 = np.where(M, Z, 0.0)
        Mf = M.astype(float)
        stats = (Mf.T @ Mf, Z0.T @ Mf, (Z0 ** 2).T @ Mf, Z0.T @ Z0)
        self.pair = stats if self.pair is None else tuple(a + b for a, b in zip(self.pair, stats))

    def _segments(self, chunk, y) -> None:
        for c in self.s.segments:
            if c in self.seg_overflow:
                continue
            counts = chunk.loc[y.notna(), c].astype("str").where(chunk.loc[y.notna(), c].notna(),
                                                                 "(missing)").value_counts()
            self.segments[c].update(counts.to_dict())
            if len(self.segments[c]) > _MAX_LEVELS:
                self.seg_overflow.add(c)

    def _join(self, chunk) -> None:
        if self.customer_ids is None:
            return
        key = chunk[self.s.join_on]
        present = key.notna()
        unmatched = present & ~_key(key).isin(self.customer_ids)
        self.join_checked += int(present.sum())
        self.join_unmatched.add(unmatched, key)

    # ------------------------------------------------------------------ finish
    def _read_summary(self) -> pd.DataFrame:
        """The reader's report summed over chunks (one row per column, action and value)."""
        read = pd.DataFrame(self.read_rows, columns=["column", "action", "value", "n"])
        if len(read):
            read = read.assign(value=read["value"].astype("str")).groupby(
                ["column", "action", "value"], sort=False)["n"].sum().reset_index()
        return read

    def finish(self) -> ValidationReport:
        s = self.s
        read = self._read_summary()
        if not self.columns_missing:
            self._finish_checks(read)
        cols = s.columns_needed() if not self.columns_missing else []
        roles = {s.outcome.column: "outcome", **{c: "driver" for c in s.driver_columns},
                 **{c: "segment" for c in s.segments}, **{c: "filter" for c in s.filter}}
        if s.weight:
            roles[s.weight] = "weight"
        if s.id:
            roles[s.id] = "id"
        if s.join_on and s.join_on not in roles:
            roles[s.join_on] = "join key"
        rec = Counter()
        for (c, _), n in self.recoded.items():
            rec[c] += n
        table = pd.DataFrame({
            "column": cols, "role": [roles.get(c, "") for c in cols],
            "n": self.n_rows, "n_missing": [self.missing[c] for c in cols],
            "share_missing": [self.missing[c] / self.n_rows if self.n_rows else np.nan for c in cols],
            "n_recoded_missing": [rec[c] for c in cols]})
        return ValidationReport(self.issues, table, self.n_rows, self.usable, read, s.title)

    def _finish_checks(self, read: pd.DataFrame) -> None:
        s = self.s
        if self.filtered:
            self._issue("info", "filter", ", ".join(map(str, s.filter)),
                        f"{self.filtered:,} rows are outside the study filter {s.filter} and are not "
                        "analysed.", n=self.filtered)
        if self.n_rows == 0:
            self._issue("error", "rows", "", "No rows left to analyse" +
                        (" after the filter." if s.filter else "."))
            return
        for (c, code), n in self.recoded.items():
            self._issue("info", "missing codes", c, f"{n:,} value(s) {code!r} in {c!r} set to "
                        "missing as the configuration's missing_codes say.", n=n)
        for rec in read.to_dict("records"):
            if rec["column"] != "(file)" and "missing" in rec["action"]:
                self._issue("info", "read", rec["column"], f"{rec['n']:,} answer(s) {rec['value']!r} "
                            f"in {rec['column']!r}: {rec['action']} when reading.", n=rec["n"])
        for d in s.drivers:
            if d.reverse:
                self._issue("info", "reversed scale", d.column,
                            f"{d.column!r} is reverse-coded as the configuration says: analysed as "
                            f"{d.scale[0]:g} + {d.scale[1]:g} − answer.")
        self._finish_numeric()
        self._finish_outcome()
        self._finish_weight()
        self._finish_ids()
        self._finish_patterns()
        self._finish_segments()
        self._finish_join()
        self._finish_usable()

    def _finish_numeric(self) -> None:
        s = self.s
        for c, ex in self.text.items():
            if ex.n:
                self._issue("error", "text in numeric column", c,
                            f"Column {c!r} should be numeric but holds text in {ex.n:,} row(s): "
                            f"{_preview(ex.values)} at rows {_preview(ex.rows)}. Recode these "
                            "answers (add them to missing_codes if they mean 'no answer') or fix "
                            "the export.", ex)
        for c, ex in self.infinite.items():
            if ex.n:
                self._issue("error", "infinite values", c,
                            f"Column {c!r} holds {ex.n:,} infinite value(s) at rows "
                            f"{_preview(ex.rows)}: a division by zero in the export? Replace them "
                            "with real values or leave the cells empty.", ex)
        for c, ex in self.out_of_scale.items():
            if ex.n:
                lo, hi = self.scales[c]
                codes = [v for v in ex.values if v in (0, -1, 6, 8, 9, 11, 66, 77, 88, 97, 98, 99,
                                                        999, -9, -99)]
                hint = (f" Values such as {_preview(codes)} look like 'don't know'/'not applicable' "
                        f"codes: add missing_codes: {{{c}: {codes}}} to the configuration."
                        if codes else " Check the scale in the configuration or fix the data.")
                self._issue("error", "out of scale", c,
                            f"Column {c!r} is rated {lo:g}–{hi:g} but {ex.n:,} value(s) are outside: "
                            f"{_preview(ex.values)} at rows {_preview(ex.rows)}.{hint}", ex)
        for c, ex in self.fraction.items():
            if ex.n:
                self._issue("warning", "non-whole ratings", c,
                            f"Column {c!r} has {ex.n:,} non-whole rating(s), e.g. "
                            f"{_preview(ex.values)} at rows {_preview(ex.rows)}. Fine for averaged "
                            "items; otherwise check the decimal mark.", ex)
        for c in self.numcols:
            n_valid = (self.n_rows - self.missing[c] - self.text[c].n - self.out_of_scale[c].n
                       - self.infinite[c].n)
            lo, hi = self.minmax[c]
            role = "outcome" if c == s.outcome.column else "driver"
            if n_valid <= 0:
                self._issue("error", "no data", c, f"The {role} {c!r} has no usable values.")
            elif lo == hi:
                self._issue("error", "constant", c,
                            f"The {role} {c!r} has the same value ({lo:g}) in every answered row, so "
                            "its importance cannot be estimated. Remove it from the study.")
            elif self.missing[c] / self.n_rows > 0.5:
                self._issue("warning", "mostly missing", c,
                            f"{c!r} is missing in {self.missing[c] / self.n_rows:.0%} of rows; the "
                            "driver analysis uses only rows where every driver is answered.",
                            n=self.missing[c])

    def _finish_outcome(self) -> None:
        o = self.s.outcome
        if o.kind != "binary":
            return
        levels = list(self.binary_levels)
        if len(levels) > 2:
            self._issue("error", "binary outcome", o.column,
                        f"The binary outcome {o.column!r} has {len(levels)} distinct values "
                        f"({_preview(levels)}); it needs exactly two. Recode it or use "
                        "kind: rating with a scale.", n=len(levels))
        elif len(levels) < 2:
            self._issue("error", "binary outcome", o.column,
                        f"The binary outcome {o.column!r} has only the value(s) {_preview(levels)}; "
                        "with no variation there is nothing to explain.")
        else:
            try:
                _binary(pd.Series(levels, dtype=object), o.positive, strict=True)
            except CXDataError as err:
                self._issue("error", "binary outcome", o.column, str(err))
                return
            small = min(self.y_events.get(0, 0), self.y_events.get(1, 0))
            p = len(self.s.drivers)
            if small < 10 * p:
                self._issue("warning", "few events", o.column,
                            f"The rarer outcome level occurs in only {small:,} usable rows for "
                            f"{p} drivers (fewer than 10 per driver): logistic importance will "
                            "be imprecise.", n=small)

    def _finish_weight(self) -> None:
        w = self.s.weight
        if not w:
            return
        for kind, ex in self.weight_bad.items():
            if ex.n:
                sev = "warning" if kind == "zero" else "error"
                fix = {"negative": "Weights must be >= 0.",
                       "missing": "Give every row a weight (or drop those rows explicitly).",
                       "zero": "Rows with weight 0 do not count in any estimate."}[kind]
                self._issue(sev, "weight", w, f"Weight column {w!r} has {ex.n:,} {kind} value(s) at "
                            f"rows {_preview(ex.rows)}. {fix}", ex)

    def _finish_ids(self) -> None:
        s = self.s
        if s.id:
            ex = self.ids.ex
            if ex.n:
                self._issue("error", "duplicate ids", s.id,
                            f"{ex.n:,} row(s) repeat an id already seen in {s.id!r}: "
                            f"{_preview(ex.values)} at rows {_preview(ex.rows)}. Remove the "
                            "duplicate responses, or if the id is a customer id that may answer "
                            "several waves, name the response id as id: and this column as the "
                            "customers join_on:.", ex)
            if self.id_missing.n:
                self._issue("warning", "missing ids", s.id,
                            f"{self.id_missing.n:,} row(s) have no id in {s.id!r} (rows "
                            f"{_preview(self.id_missing.rows)}).", self.id_missing)
        elif self.rows_dup.ex.n:
            ex = self.rows_dup.ex
            self._issue("warning", "duplicate rows", "(all columns)",
                        f"{ex.n:,} row(s) repeat an earlier row in every study column (rows "
                        f"{_preview(ex.rows)}). Without an id column cxlab cannot tell repeated "
                        "submissions from identical answers; they are kept. Name an id column "
                        "to check.", ex)

    def _finish_patterns(self) -> None:
        s = self.s
        ex = self.straight
        if ex.n:
            share = ex.n / max(self.answered3, 1)
            share = f"{share:.1%}" if share >= 0.001 else "under 0.1%"
            action = ("They are dropped from the analysis (straightliners: drop)."
                      if s.straightliners == "drop" else
                      "They are kept; set straightliners: drop to exclude them (counted).")
            self._issue("warning", "straight-lining", "(drivers)",
                        f"{ex.n:,} respondent(s) ({share} of those answering at least half the "
                        f"drivers) gave the same rating to every driver they answered, e.g. rows "
                        f"{_preview(ex.rows)}. {action}", ex)
        if self.pair is None or len(s.drivers) < 2:
            return
        N, Sx, Sxx, Sxy = self.pair
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_i, mean_j = Sx / N, Sx.T / N
            cov = Sxy / N - mean_i * mean_j
            var_i = Sxx / N - mean_i ** 2
            var_j = Sxx.T / N - mean_j ** 2
            r = cov / np.sqrt(var_i * var_j)
        r = np.where(N >= 10, r, np.nan)
        names = ["__y__", *s.driver_columns]
        for j, c in enumerate(names[1:], start=1):
            with_y = r[0, j]
            others = np.delete(r[j, 1:], j - 1)
            others = others[np.isfinite(others)]
            if np.isfinite(with_y) and with_y < -0.05 and len(others) \
                    and np.mean(others < 0) > 0.5:
                self._issue("warning", "reversed scale", c,
                            f"{c!r} correlates negatively with the outcome (r = {with_y:+.2f}) and "
                            f"with {np.mean(others < 0):.0%} of the other drivers (median r = "
                            f"{np.median(others):+.2f}). Is its scale reversed (1 = best)? If so, "
                            "recode it (e.g. low + high - value) before the study.")

    def _finish_segments(self) -> None:
        s = self.s
        for c, counts in self.segments.items():
            if c in self.seg_overflow:
                self._issue("warning", "segments", c, f"Segment column {c!r} has more than "
                            f"{_MAX_LEVELS} levels; is it an id? Segment comparisons skip it.")
                continue
            small = {k: v for k, v in counts.items() if v < s.min_segment}
            if small:
                shown = ", ".join(f"{k} (n = {v})" for k, v in sorted(small.items(),
                                                                            key=lambda kv: kv[1])[:8])
                self._issue("warning", "small segments", c,
                            f"{len(small)} of {len(counts)} {c!r} segment(s) have fewer than "
                            f"{s.min_segment} answers: {shown}. Their results are suppressed.",
                            n=len(small))

    def _finish_join(self) -> None:
        s = self.s
        if self.customer_ids is None:
            return
        ex = self.join_unmatched
        matched = self.join_checked - ex.n
        if self.join_checked and matched == 0:
            self._issue("error", "join", s.join_on,
                        f"None of the {self.join_checked:,} survey ids in {s.join_on!r} occur in the "
                        f"customer file's {s.customers.id!r} (e.g. {_preview(ex.values)}). Check "
                        "that both columns hold the same ids (same format, leading zeros).", ex)
        elif ex.n:
            self._issue("warning", "join", s.join_on,
                        f"{ex.n:,} of {self.join_checked:,} survey rows ({ex.n / self.join_checked:.1%}"
                        f") have an id in {s.join_on!r} that is not in the customer file, e.g. "
                        f"{_preview(ex.values)} at rows {_preview(ex.rows)}. They are left out of "
                        "the retention and value sections (counted).", ex)

    def _finish_usable(self) -> None:
        p = len(self.s.drivers)
        need = max(30, 5 * (p + 1))
        if self.usable < need:
            self._issue("error", "usable rows", "(outcome and drivers)",
                        f"Only {self.usable:,} rows have the outcome and every driver answered (and "
                        f"a positive weight); the driver analysis needs at least {need}. Use fewer "
                        "drivers, a wider filter, or check the missing codes.", n=self.usable)
        elif self.usable < self.n_rows:
            self._issue("info", "usable rows", "(outcome and drivers)",
                        f"{self.n_rows - self.usable:,} of {self.n_rows:,} rows lack the outcome or "
                        f"a driver (or have no weight) and are left out of the importance "
                        f"analysis; {self.usable:,} remain.", n=self.n_rows - self.usable)


def _reverse(schema: StudySchema, X: pd.DataFrame) -> pd.DataFrame:
    """Drivers declared ``reverse: true`` turned round: low + high − x."""
    rev = [d for d in schema.drivers if d.reverse and d.column in X.columns]
    if not rev:
        return X
    X = X.copy()
    for d in rev:
        X[d.column] = d.scale[0] + d.scale[1] - X[d.column]
    return X


def _key(ids: pd.Series) -> pd.Series:
    """Join keys as text; whole-number floats lose their '.0' (ids read as float because of NaN)."""
    if pd.api.types.is_float_dtype(ids):
        whole = ids.dropna()
        if len(whole) and (whole == np.round(whole)).all():
            return ids.astype("Int64").astype("str").where(ids.notna())
    return ids.astype("str").str.strip().where(ids.notna())


def _apply_filter(schema: StudySchema, data: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    if not schema.filter:
        return data, 0
    keep = pd.Series(True, index=data.index)
    for col, allowed in schema.filter.items():
        allowed = _as_list(allowed)
        s = data[col]
        if pd.api.types.is_numeric_dtype(s):
            vals = pd.to_numeric(pd.Series(allowed, dtype=object), errors="coerce").dropna()
            keep &= s.isin(vals.tolist())
        else:
            keep &= s.astype("str").isin([str(a) for a in allowed])
    return data[keep], int((~keep).sum())


def _binary(raw: pd.Series, positive, strict: bool) -> pd.Series:
    """0/1 (float, NaN for missing) from a binary column; ``positive`` names the 1 level."""
    present = raw.notna()
    if positive is not None:
        if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
            try:
                pos = float(positive)
            except (TypeError, ValueError):
                pos = None
            hit = raw.astype(float) == pos if pos is not None else pd.Series(False, index=raw.index)
        else:
            hit = raw.astype("str").str.strip().str.lower() == str(positive).strip().lower()
        if strict and not hit.any():
            raise CXDataError(f"The outcome's positive value {positive!r} does not occur; its values "
                              f"are {_preview(pd.unique(raw.dropna()))}.")
        return hit.astype(float).where(present)
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype(float).where(present)
    v, text = _numeric(raw)
    if not text.any():
        if strict and not v.dropna().isin([0, 1]).all():
            raise CXDataError(f"The binary outcome has values {_preview(pd.unique(v.dropna()))}; "
                              "state which one means 1 with positive: <value>.")
        return v.where(v.isin([0, 1]))
    low = raw.astype("str").str.strip().str.lower()
    mapped = low.map(_BINARY_TEXT).astype(float).where(present)
    if strict and mapped[present].isna().any():
        raise CXDataError(f"The binary outcome holds text ({_preview(pd.unique(raw.dropna()))}); "
                          "state which value means 1, e.g. positive: satisfied.")
    return mapped


def validate(schema: StudySchema, data: pd.DataFrame, customers: pd.DataFrame | None = None
             ) -> ValidationReport:
    """Check the data against the schema; return a readable :class:`ValidationReport`.

    Errors: missing columns, text in numeric columns, ratings out of scale (offending values and
    rows), duplicate ids, a join that matches nothing, constant or empty drivers, a binary outcome
    without exactly two levels, bad weights, too few usable rows. Warnings: unmatched join ids,
    columns mostly missing, reversed scales, straight-liners, small segments, duplicate rows.
    """
    from .checks import require_frame
    require_frame(data, "survey data")
    v = _Validator(schema, customers)
    if customers is not None and schema.customers is not None:
        require_frame(customers, "customer file")
    attrs = data.attrs
    for start in range(0, len(data), READ_CHUNK):    # slices keep the temporaries small
        part = data.iloc[start:start + READ_CHUNK]
        part.attrs = attrs if start == 0 else {}     # the reader's report counts once
        v.update(part)
    return v.finish()


def validate_file(schema: StudySchema, path: str | Path | None = None, chunksize: int = 200_000,
                  customers: pd.DataFrame | None = None) -> ValidationReport:
    """Validate a survey file chunk by chunk (bounded memory: only the needed columns are read,
    ``chunksize`` rows at a time; duplicate ids use 8-byte hashes per row)."""
    if path is None:
        spec = schema.data
        if isinstance(spec, Mapping):
            if spec.get("dataset"):
                data, cust = load_data(schema)
                return validate(schema, data, cust if customers is None else customers)
            spec = spec.get("path")
        if spec is None:
            raise CXDataError("validate_file needs a path (or data: path in the configuration).")
        path = _resolve(schema, spec)
    if customers is None and schema.customers is not None:
        _, customers = _load_customers_only(schema)
    v = _Validator(schema, customers)
    options = dict(schema.read)
    options.pop("usecols", None)
    head = next(cxio.iter_survey(path, chunksize=1, **options))
    v.columns_checked = True
    if v.check_columns(head.columns):
        for chunk in cxio.iter_survey(path, chunksize=chunksize, usecols=schema.columns_needed(),
                                      **options):
            v.update(chunk)
    return v.finish()


def _load_customers_only(schema: StudySchema):
    c = schema.customers
    spec = {"dataset": c.dataset, "table": c.table} if c.dataset else {"path": c.path}
    cols = [x for x in (c.id, c.churned, c.tenure, c.end_date, c.revenue) if x]
    return None, _load_source(schema, spec, c.read, "customer file", "customers", columns=cols)


# =========================================================================== preparation

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
    from .checks import min_rows
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


# =========================================================================== the analysis

#: Largest number of drivers for which the per-driver logistic LMG (2^p logistic fits per estimate
#: and per bootstrap resample) is run; beyond it the study uses groups or the linear-probability
#: model for LMG and keeps logistic "first"/"last" per driver.
LOGISTIC_LMG_MAX = 8


def outcome_summary(sd: StudyData) -> pd.DataFrame:
    """Headline metrics of the outcome with intervals (NPS / top box / share, and the mean)."""
    from . import metrics
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
        from . import plots
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
    import warnings as _w

    from . import drivers
    s = sd.schema
    df = sd.complete
    results, frames, notes = {}, [], []
    for run in _plan(sd):
        B = s.bootstrap
        with _w.catch_warnings():
            _w.simplefilter("ignore")
            res = drivers.analyze(df, s.outcome.column, s.driver_columns, method=run["method"],
                                  bootstrap=B, seed=s.seed, weights=s.weight,
                                  groups=run["groups"], family=run["family"], conf=s.confidence,
                                  progress=progress)
        results[run["label"]] = res
        t = res.importance.reset_index().rename(columns={res.importance.index.name or "index":
                                                         "driver"})
        if "driver" not in t.columns:
            t = t.rename(columns={t.columns[0]: "driver"})
        frames.append(t.assign(label=run["label"], method=run["method"], model=res.model,
                               grouped=run["groups"] is not None, r2=res.r2))
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
    """Outcome metric per segment with intervals; segments below ``min_segment`` suppressed."""
    from . import metrics
    s, o = sd.schema, sd.schema.outcome
    df = sd.data[sd.data[o.column].notna()]
    if s.weight:
        df = df[df[s.weight] > 0]
    df = df.assign(**{by: df[by].astype("str").where(df[by].notna(), "(missing)")})
    kw = {"by": by, "weight": s.weight, "min_base": s.min_segment, "confidence": s.confidence}
    if o.kind == "nps":
        return metrics.table(df, o.column, metric="nps", **kw)
    if o.kind == "rating":
        if _top_values(o) is None:
            return metrics.table(df, o.column, metric="mean", scale=o.scale, **kw)
        return metrics.table(df, o.column, metric="top_box", top=_top_values(o), scale=o.scale,
                             **kw)
    return metrics.table(df, o.column, metric="top_box", top=(1,), scale=(0, 1), **kw)


def segment_performance(sd: StudyData, by: str) -> pd.DataFrame:
    """Mean rating of each driver (rows) per segment (columns), NaN where n < ``min_segment``;
    ``attrs["n"]`` holds the answers per segment."""
    s = sd.schema
    df = sd.data.assign(**{by: sd.data[by].astype("str").where(sd.data[by].notna(), "(missing)")})
    w = df[s.weight] if s.weight else pd.Series(1.0, index=df.index)
    out, n = {}, {}
    for seg, part in df.groupby(by, sort=True):
        n[seg] = len(part)
        means = {}
        for c in s.driver_columns:
            ok = part[c].notna() & (w[part.index] > 0)
            means[c] = (np.average(part.loc[ok, c], weights=w[part.index][ok])
                        if ok.sum() >= s.min_segment else np.nan)
        out[seg] = means
    tab = pd.DataFrame(out)
    tab.attrs["n"] = n
    return tab


def segment_importance(sd: StudyData, by: str, comparison: ImportanceComparison):
    """Primary method per segment (point estimates; segments need ``min_segment`` and
    5 × (drivers + 1) complete rows). Returns a SegmentedDriverResult or None."""
    import warnings as _w

    from . import drivers
    s = sd.schema
    res0 = comparison.results[comparison.primary]
    run = next(r for r in _plan(sd) if r["label"] == comparison.primary)
    df = sd.complete.assign(**{by: sd.complete[by].astype("str")
                               .where(sd.complete[by].notna(), "(missing)")})
    need = max(s.min_segment, 5 * (len(s.drivers) + 1))
    try:
        with _w.catch_warnings():
            _w.simplefilter("ignore")
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
        from .retention import nps_group
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
    from . import retention, value
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
        import warnings as _w
        with _w.catch_warnings():
            _w.simplefilter("ignore")
            logit = retention.churn_logit(j, "churned_flag", s.outcome.column,
                                          confidence=s.confidence)
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
                                        level=s.confidence)
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

    def summary(self) -> pd.DataFrame:
        """The primary method's drivers: share with interval, performance, quadrant."""
        return self.importance.results[self.importance.primary].summary()


def run(schema: StudySchema | str | Path | Mapping, data: pd.DataFrame | None = None,
        customers: pd.DataFrame | None = None, progress: bool = False) -> StudyResult:
    """The whole study: load (unless ``data`` is given), validate (stop on errors), prepare, then
    outcome metrics, importance by every method, quadrant, segments and the retention link."""
    if not isinstance(schema, StudySchema):
        schema = load_schema(schema)
    if data is None:
        data, loaded = load_data(schema)
        customers = customers if customers is not None else loaded
    report = validate(schema, data, customers)
    sd = prepare(schema, data, customers, report)
    comp = importance(sd, progress=progress)
    segs = {}
    for by in schema.segments:
        if by in {i.column for i in report.issues if i.check == "segments"}:
            continue
        segs[by] = {"metrics": segment_metrics(sd, by), "performance": segment_performance(sd, by),
                    "importance": segment_importance(sd, by, comp)}
    return StudyResult(schema, sd, report, outcome_summary(sd), outcome_distribution(sd), comp,
                       quadrant(sd, comp), segs, retention_link(sd))


# =========================================================================== notebook display
# The template's cells are one call each; the logic lives above and is unit-tested.

def _show(obj) -> None:
    try:
        from IPython import get_ipython
        inside = get_ipython() is not None
    except ImportError:  # pragma: no cover
        inside = False
    if inside:
        from IPython.display import display
        display(obj)
    else:
        print(getattr(obj, "data", obj))


def _md(text: str) -> None:
    from IPython.display import Markdown
    _show(Markdown(text))


def _fig(ax) -> None:
    import matplotlib.pyplot as plt
    fig = ax.figure
    fig.tight_layout()
    _show(fig)
    plt.close(fig)


def _fmt_table(frame: pd.DataFrame, digits: int = 3, index: bool = False):
    """A styled table: no row numbers unless ``index``, numbers rounded with thousands separators,
    missing shown as '–', text columns left-aligned."""
    out = frame.copy()
    text = [c for c in out.columns if not pd.api.types.is_numeric_dtype(out[c])
            and not pd.api.types.is_bool_dtype(out[c])]
    sty = out.style.format(precision=digits, thousands=",", na_rep="–")
    if not index:
        sty = sty.hide(axis="index")
    if text:
        sty = sty.set_properties(subset=text, **{"text-align": "left"})
    return sty


def start(config: str | Path | Mapping, bootstrap: int | None = None, progress: bool = False,
          data: str | None = None) -> StudyResult:
    """Notebook entry: read the configuration (a path is looked up from the working folder, then
    from the repository root), run the study and set up the figures' style."""
    import matplotlib
    import seaborn as sns
    sns.set_theme(style="whitegrid", context="notebook")
    matplotlib.rcParams.update({"figure.dpi": 110, "axes.titleweight": "bold"})
    if not isinstance(config, Mapping):
        path = Path(config)
        if not path.exists():
            alt = Path(__file__).resolve().parents[1] / path
            path = alt if alt.exists() else path
        config = path
    schema = load_schema(config, bootstrap=bootstrap, data=data)
    return run(schema, progress=progress)


def _source_label(schema: StudySchema) -> str:
    spec = schema.data
    if isinstance(spec, Mapping) and spec.get("dataset"):
        return f"bundled dataset {spec['dataset']}" + (f" ({spec['table']})" if spec.get("table")
                                                        else "")
    if isinstance(spec, Mapping):
        spec = spec.get("path")
    return Path(str(spec)).name


def show_header(res: StudyResult) -> None:
    s = res.schema
    o = s.outcome
    kind = {"nps": "likelihood to recommend (0–10)", "binary": "a yes/no outcome",
            "rating": f"a {o.scale[0]:g}–{o.scale[1]:g} rating" if o.scale else "a rating"}[o.kind]
    _md(f"# {s.title}\n\nOutcome **{o.label or o.column}** ({kind}); {len(s.drivers)} drivers"
        + (f" in {len(s.groups)} group{'s' if len(s.groups) > 1 else ''}" if s.groups else "")
        + (f"; segments: {', '.join(s.segments)}" if s.segments else "")
        + f". Data: {_source_label(s)}"
        + (f", filter {s.filter}" if s.filter else "") + ".")


def show_quality(res: StudyResult) -> None:
    """Validation report, every exclusion counted, and what the reader recoded."""
    rep = res.report
    _md(f"**{rep.n_rows:,} rows checked; {rep.usable_rows:,} usable for the driver analysis.** "
        f"{len(rep.errors)} error(s), {len(rep.warnings)} warning(s).")
    tab = rep.summary()
    if len(tab):
        _show(_fmt_table(tab))
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
    from . import plots
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
    from . import plots
    comp, names = res.importance, _names(res)
    primary = comp.results[comp.primary]
    _md(f"**Primary method: {comp.primary}** — {primary.model}; R² = {primary.r2:.3f} "
        f"({res.schema.confidence:.0%} CI {primary.r2_ci[0]:.3f}–{primary.r2_ci[1]:.3f}); "
        f"n = {primary.n:,}. " + " ".join(comp.notes))
    _fig(plots.driver_importance(_relabel(primary.importance, names),
                                 title=f"Drivers of {res.schema.outcome.column} ({comp.primary})"))
    top = _relabel(comp.top(len(res.schema.drivers)), names)
    _show(_fmt_table(top.rename_axis("driver").reset_index(), 3))
    ag = comp.agreement()
    _md("### All methods side by side\n\nShare of explained variance per driver and method. "
        f"Agreement of the rankings (Kendall's W over {ag['methods']} methods): "
        f"**{ag['kendall_w']:.2f}** (1 = identical). Top three under every method: "
        + (", ".join(f"**{names.get(d, d)}**" for d in ag["top3_all_methods"]) or "none") + ".")
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
    from . import plots
    q = _relabel(res.quadrant, _names(res))
    _show(_fmt_table(q.rename_axis("driver").reset_index(), 3))
    _fig(plots.quadrant(q))
    fix = [d for d, r in q.iterrows() if r["quadrant"] == "Fix"]
    if fix:
        _md("**Act first on:** " + ", ".join(map(str, fix)) + " — important and below average.")


def show_segments(res: StudyResult) -> None:
    from . import plots
    names = _names(res)
    if not res.segments:
        _md("No segment columns were given (or all were skipped; see the data check).")
        return
    for by, part in res.segments.items():
        _md(f"### By {by}")
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
            _md(f"Importance ({res.importance.primary}, share) per segment:")
            _show(_fmt_table(_relabel(seg.summary(), names), 3, index=True))


def show_retention(res: StudyResult) -> None:
    from . import plots
    link = res.retention
    if link is None:
        _md("No customer-outcome file with a churn flag was given, so the link to retention "
            "and value is not part of this study. Add `customers:` to the configuration.")
        return
    _md(" ".join(link.notes))
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


# =========================================================================== command line

TEMPLATE = Path(__file__).resolve().parents[1] / "notebooks" / "templates" / "driver_study.ipynb"
#: Files larger than this are validated chunk by chunk (bounded memory) before the study runs.
LARGE_FILE_BYTES = 200 * 1024 ** 2

STUDY_EPILOG = """\
examples:
  cxlab study --config examples/study_kestrel.yaml --out reports/study_kestrel
  cxlab study --config my_study.yaml --validate-only       check the data, write the report
  cxlab study --config my_study.yaml --bootstrap 1000      more resamples for the intervals

The data are checked first. Errors (out-of-scale ratings, text in numeric columns, duplicate
ids, unknown columns, ...) stop the study: the report (OUT/validation.txt and .html) names the
column, the values, the rows and the fix. Warnings go into the study.
Writes OUT/index.html, OUT/driver_study.html (no code), OUT/driver_study.ipynb (executed),
OUT/validation.txt|html and OUT/manifest.json.

exit codes: 0 study written (or --validate-only and no errors), 1 the notebook failed,
            2 the configuration or the data failed the checks.
"""


def add_arguments(parser) -> None:
    """Fill an argparse parser with the ``cxlab study`` options."""
    parser.add_argument("--config", required=True, help="study configuration (YAML)")
    parser.add_argument("--data", default=None,
                        help="survey file to use instead of the configuration's data:")
    parser.add_argument("--out", default=None,
                        help="output folder (default: reports/study_<config name>)")
    parser.add_argument("--bootstrap", type=int, default=None,
                        help="bootstrap resamples for the importance intervals (overrides the "
                             "configuration)")
    parser.add_argument("--validate-only", action="store_true",
                        help="only check the data and write the validation report")
    parser.add_argument("--chunksize", type=int, default=None,
                        help="validate the survey file in chunks of this many rows (bounded "
                             f"memory; automatic for files over {LARGE_FILE_BYTES >> 20} MB)")
    parser.add_argument("--timeout", type=int, default=3600,
                        help="seconds a notebook cell may run (default 3600)")


def _data_file(schema: StudySchema) -> Path | None:
    spec = schema.data
    if isinstance(spec, Mapping):
        spec = spec.get("path")
    return _resolve(schema, spec) if spec else None


def _validation_page(report: ValidationReport, title: str) -> str:
    from . import reports
    return reports._page(f"Data check: {title}", f'<div class="cx-page">{report.to_html()}</div>',
                         subtitle="cxlab study validation", back="index.html")


def run_cli(args) -> int:
    """Runner of ``cxlab study`` (see :data:`STUDY_EPILOG`)."""
    import datetime as dt
    import json
    import time

    from . import __version__, reports
    t0 = time.perf_counter()
    config = Path(args.config).resolve()
    data_override = str(Path(args.data).resolve()) if getattr(args, "data", None) else None
    schema = load_schema(config, bootstrap=args.bootstrap, data=data_override)
    out = Path(args.out) if args.out else Path("reports") / f"study_{reports.slug(config.stem)}"
    out.mkdir(parents=True, exist_ok=True)
    path = _data_file(schema)
    big = path is not None and path.exists() and path.stat().st_size > LARGE_FILE_BYTES
    if args.chunksize or big:
        report = validate_file(schema, path, chunksize=args.chunksize or 200_000)
    else:
        data, customers = load_data(schema)
        report = validate(schema, data, customers)
    reports.atomic_write(out / "validation.txt", report.to_text() + "\n")
    reports.atomic_write(out / "validation.html", _validation_page(report, schema.title))
    print(report.to_text())
    manifest = {"title": schema.title, "config": str(config), "cxlab_version": __version__,
                "data_file": str(path) if path else None,
                "data_sha256": reports.files_sha256([path]) if path and path.exists() else None,
                "started": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                "errors": len(report.errors), "warnings": len(report.warnings),
                "rows": report.n_rows, "usable_rows": report.usable_rows}
    status = 0
    if report.errors:
        print(f"\nThe study stops: fix the {len(report.errors)} error(s) above (also in "
              f"{out / 'validation.txt'}).")
        manifest["status"] = "invalid"
        status = 2
    elif args.validate_only:
        manifest["status"] = "validated"
    else:
        job = {"name": "driver_study", "label": schema.title, "segment": None,
               "template": str(TEMPLATE),
               "parameters": {"config": str(config), "bootstrap": args.bootstrap,
                              "data": data_override, "progress": False},
               "notebook": str(out / "driver_study.ipynb"), "notebook_rel": "driver_study.ipynb",
               "html": str(out / "driver_study.html"), "html_rel": "driver_study.html",
               "cwd": str(config.parent), "timeout": args.timeout, "title": schema.title,
               "subtitle": "Driver study · data " + (path.name if path else _source_label(schema)),
               "footer": f"cxlab {__version__} · config {config.name}", "kernel_name": None}
        entry = reports.execute_job(job)
        manifest.update(status=entry["status"], error=entry.get("error"),
                        notebook_seconds=entry.get("seconds"))
        if entry["status"] == "ok":
            print(f"\nStudy written: {out / 'driver_study.html'}")
        else:
            print(f"\nThe study notebook failed: {entry.get('error')}. The executed notebook "
                  f"({out / 'driver_study.ipynb'}) shows where.")
            status = 1
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    reports.atomic_write(out / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")
    links = [("validation.html", "Data check")] + (
        [("driver_study.html", "Driver study")] if (out / "driver_study.html").exists()
        and manifest.get("status") == "ok" else [])
    body = "".join(f'<div class="card"><h3><a href="{h}">{t}</a></h3></div>' for h, t in links)
    reports.atomic_write(out / "index.html", reports._page(schema.title, f'<div class="cards">'
                                                           f'{body}</div>', subtitle="cxlab study"))
    return status


def main(argv: list[str] | None = None) -> int:
    """``python -m cxlab.study --config study.yaml --out reports/...`` (same as ``cxlab study``)."""
    import argparse
    import sys
    parser = argparse.ArgumentParser(prog="cxlab study", epilog=STUDY_EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     description="Run a driver study on your own survey data.")
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return run_cli(args)
    except CXDataError as err:
        print(f"cxlab study: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())

"""The study schema: what the analyst's data hold, read from a YAML configuration or a dict.

The schema states the outcome (0–10 likelihood to recommend, a 1–5/1–7/1–10 rating or a binary
flag such as retained/satisfied), the drivers with their scales, optional driver groups,
segments, weight, id and an optional customer-outcome file to join (churn, tenure, revenue).
Every key is checked when the configuration is read; an unknown key names the close ones.

    schema = cx.study.load_schema("study.yaml")      # or cx.study.StudySchema.from_dict({...})
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..checks import CXDataError, _preview
from ..config import MAX_YAML_VALUES, read_yaml  # noqa: F401 - MAX_YAML_VALUES re-exported
from ..contract import CONFIDENCE, MIN_BASE

#: Relative-importance methods compared side by side (see cxlab.drivers).
METHODS = ("lmg", "relative_weights", "pratt", "first", "last", "betasq")


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
    min_base: int = MIN_BASE            # fewer answers in a segment: its results are suppressed
    straightliners: str = "keep"        # "keep" (warn) or "drop" (counted)
    methods: tuple[str, ...] = METHODS
    bootstrap: int = 200
    seed: int = 0
    confidence: float = CONFIDENCE
    title: str = "Driver study"
    base_dir: Path = field(default_factory=Path.cwd)
    comment: str | None = None          # open-answer column: coded into 0/1 theme columns
    comment_language: str = "en"        # "en", "pl" or the column holding each row's language
    codeframe: str = "kestrel"          # a bundled codeframe name or a YAML path

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
        if self.comment:
            cols += [self.comment] + ([self.comment_language] if self.comment_language
                                      not in ("en", "pl") else [])
        return [c for c in dict.fromkeys(cols) if c not in self.theme_drivers]

    @property
    def theme_columns(self) -> list[str]:
        """The codeframe's themes: 0/1 columns made by coding ``comment`` (none without it)."""
        if not self.comment:
            return []
        from ..text import load_codeframe
        return list(load_codeframe(self.codeframe_source).theme_names)

    @property
    def theme_drivers(self) -> list[str]:
        """Drivers that are themes of the comments (made by coding, not read from the data)."""
        themes = set(self.theme_columns)
        return [c for c in self.driver_columns if c in themes]

    @property
    def codeframe_source(self) -> str:
        """The codeframe: a bundled name, else a path resolved from the configuration's folder."""
        from ..text import CODEFRAMES
        if (CODEFRAMES / f"{self.codeframe}.yaml").exists():
            return self.codeframe
        path = Path(self.codeframe).expanduser()
        return str(path if path.is_absolute() else self.base_dir / path)

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
            raise CXDataError(f"The study configuration must be a mapping (YAML key: value pairs "
                              f"such as 'outcome: ltr'), got a {type(spec).__name__}: "
                              f"{_preview([spec] if isinstance(spec, (str, bytes)) else spec)}. "
                              "Remove the leading '- ' of each line.")
        if isinstance(spec.get("data"), Mapping):
            _read_options({k: v for k, v in spec["data"].items()
                           if k not in {"path", "dataset", "table"}}, "data")
        known = {"title", "data", "read", "missing_codes", "outcome", "drivers", "driver_scale",
                 "groups", "segments", "weight", "id", "customers", "filter", "min_base",
                 "min_segment", "straightliners", "analysis", "methods", "bootstrap", "seed",
                 "confidence", "comment", "comment_language", "codeframe"}
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
            read=_read_options(spec.get("read"), "read"),
            missing_codes=spec.get("missing_codes"),
            segments=[_name(s, "segments") for s in _as_list(spec.get("segments"))],
            weight=_opt_str(spec.get("weight"), "weight"), id=_opt_str(spec.get("id"), "id"),
            customers=_parse_customers(spec.get("customers")),
            filter=_filter(spec.get("filter")),
            min_base=_min_base(spec),
            straightliners=_text(spec.get("straightliners", "keep"), "straightliners"),
            methods=methods,
            bootstrap=_positive_int(analysis.get("bootstrap", 200), "bootstrap", allow_zero=True),
            seed=_positive_int(analysis.get("seed", 0), "seed", allow_zero=True),
            confidence=_number(analysis.get("confidence", CONFIDENCE), "confidence",
                               "a level between 0.5 and 1, e.g. confidence: 0.95"),
            title=_text(spec.get("title", "Driver study"), "title"),
            base_dir=Path(base_dir) if base_dir is not None else Path.cwd(),
            comment=_opt_str(spec.get("comment"), "comment"),
            comment_language=_text(spec.get("comment_language", "en"), "comment_language"),
            codeframe=_text(spec.get("codeframe", "kestrel"), "codeframe"))
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


def _min_base(spec: Mapping) -> int:
    """``min_base`` (``min_segment`` is its former name, still read)."""
    if "min_base" in spec and "min_segment" in spec:
        raise CXDataError("Give the minimum base once: min_base (min_segment is its former "
                          "name).")
    key = "min_segment" if "min_segment" in spec else "min_base"
    return _positive_int(spec.get(key, MIN_BASE), key)


def _opt_str(v, name: str = "value") -> str | None:
    return None if v is None or (isinstance(v, str) and v == "") else _name(v, name)


def _name(v, name: str) -> str:
    """A column name: a string (or a number, as YAML reads ``2024``), never a list or mapping."""
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise CXDataError(f"{name}: each entry must be one column name, got {_short(v)}. "
                          f"Write e.g. {name}: [region, plan].")
    return str(v)


def _text(v, name: str) -> str:
    """A plain text value (title, a choice): refuses lists, mappings, numbers and booleans."""
    if not isinstance(v, str):
        raise CXDataError(f"{name} must be a text, got {_short(v)}. Write it as one string, "
                          f"e.g. {name}: \"Driver study 2026\" (quote it if it starts with "
                          "[, {, - or a digit).")
    return v


def _short(v) -> str:
    text = repr(v)
    return f"{type(v).__name__} {text if len(text) <= 80 else text[:77] + '...'}"


def _number(v, name: str, fix: str) -> float:
    """A real number: refuses booleans and texts (YAML reads ``high`` or ``true`` as such)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CXDataError(f"{name} must be a number, got {_short(v)}. Give {fix}.")
    return float(v)


def _filter(v) -> dict:
    """``filter: {column: value or [values]}`` (rows kept when the column has one of them)."""
    if v in (None, {}, []):
        return {}
    if not isinstance(v, Mapping):
        raise CXDataError(f"filter must be a mapping {{column: value or [values]}}, got "
                          f"{_short(v)}. Write e.g. filter: {{region: [North, South]}}.")
    for col, allowed in v.items():
        _name(col, "filter")
        for x in _as_list(allowed) if isinstance(allowed, (list, tuple)) else [allowed]:
            if isinstance(x, (list, tuple, Mapping)):
                raise CXDataError(f"filter {col!r}: the kept values must be single values, got "
                                  f"{_short(allowed)}. Write e.g. filter: {{{col}: [a, b]}}.")
    return dict(v)


def _read_options(v, where: str) -> dict:
    """Options for :func:`cxlab.io.read_survey`: known names (did-you-mean), an encoding Python
    knows, a positive chunk size, a one-character delimiter."""
    if v in (None, {}):
        return {}
    from ..io import READ_OPTIONS
    if not isinstance(v, Mapping):
        raise CXDataError(f"{where} must be a mapping of reader options, got {_short(v)}. Write "
                          f"e.g. {where}: {{delimiter: \";\", encoding: cp1250}}. Options: "
                          f"{', '.join(READ_OPTIONS)}.")
    _unknown(v, set(READ_OPTIONS), f"{where} (reader options of cx.io.read_survey)")
    enc = v.get("encoding")
    if enc is not None:
        import codecs
        try:
            codecs.lookup(str(enc))
        except LookupError:
            raise CXDataError(f"{where}: encoding {enc!r} is not an encoding Python knows. Use "
                              "e.g. utf-8, cp1250 (Central European), cp1251 (Cyrillic), "
                              "cp1252 or latin-1, or leave it out to detect it.") from None
    if v.get("chunksize") is not None:
        _positive_int(v["chunksize"], f"{where} chunksize")
    sep = v.get("delimiter")
    if sep is not None and not (isinstance(sep, str) and len(sep) == 1):
        raise CXDataError(f"{where}: delimiter must be one character such as ';' or '\\t', "
                          f"got {_short(sep)}. Write e.g. {where}: {{delimiter: \";\"}}.")
    return dict(v)


def _positive_int(v, name: str, allow_zero: bool = False) -> int:
    if isinstance(v, bool):
        raise CXDataError(f"{name} must be a whole number, got the boolean {v!r} (YAML reads "
                          f"yes/no/true/false as booleans). Give a number, e.g. {name}: "
                          f"{MIN_BASE if 'min' in name else 30}.")
    try:
        out = int(v)
    except (TypeError, ValueError, OverflowError):
        raise CXDataError(f"{name} must be a whole number, got {_short(v)}. Give e.g. "
                          f"{name}: {MIN_BASE if 'min' in name else 1}.") from None
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
                        revenue_periods_per_year=_periods(spec.get("revenue_periods_per_year",
                                                                   12)),
                        read=_read_options(spec.get("read"), "customers read"))


def _periods(v) -> float:
    out = _number(v, "customers revenue_periods_per_year",
                  "how many revenue periods make a year: 12 for monthly revenue, 4 quarterly, "
                  "1 yearly")
    if out <= 0:
        raise CXDataError(f"customers revenue_periods_per_year must be positive, got {v!r}: 12 "
                          "for monthly revenue, 4 quarterly, 1 yearly.")
    return out


def load_schema(config: str | Path | Mapping, **overrides) -> StudySchema:
    """Read a study schema from a YAML file (paths in it are relative to the file) or a dict.

    ``overrides`` replace top-level keys (e.g. ``bootstrap=50``).
    """
    if isinstance(config, Mapping):
        spec, base = dict(config), None
    else:
        path = Path(config)
        if not path.exists():
            raise CXDataError(f"Study configuration not found: {path}.")
        spec = read_yaml(path)
        base = path.resolve().parent
    if spec is not None and not isinstance(spec, Mapping):
        StudySchema.from_dict(spec)           # raises: the configuration must be a mapping
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

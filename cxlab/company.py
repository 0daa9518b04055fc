"""A company configuration: the analyst's own tables mapped onto the data contract.

One YAML file (the study configuration's family: every key checked, unknown ones named with the
closest match) says where each table of :mod:`cxlab.contract` lives and what its columns are
called; :func:`load_company` returns a :class:`~cxlab.contract.Company` that every report reads,
:func:`validate_company` the readable list of every problem before any notebook starts.

.. code-block:: yaml

    name: Nadwiślańska Telekom
    tables:
      survey:
        source: exports/survey.parquet          # file or glob: CSV, Parquet, Excel, SPSS, Stata
        columns: {ltr: Q1_NPS, region: REGION, wave: {from_date: SURVEY_DATE}}
      customers:
        source: exports/customers.csv
        read: {delimiter: ";", decimal: ","}   # options of cx.io.read_survey
        date_format: "%d.%m.%Y"
        recode: {plan: {B: Basic, S: Standard, P: Premium}}
      contacts: {source: warehouse.duckdb, table: contacts}   # or sql: SELECT ...
      pulse: {source: pulse.xlsx}
      comments:                                 # the open "why?" answers (optional)
        source: exports/verbatims.csv
        columns: {response_id: RESP_ID, comment: WHY, language: LANG}   # or customer_id + wave

Contract columns with the contract's own name need no entry. ``survey`` and ``customers`` are
needed, ``contacts``, ``pulse``, ``invitations`` and ``comments`` optional. A comment is tied to
its survey response by ``response_id`` or by ``customer_id`` + ``wave`` (the other keys are
filled from the survey; a comment matching no response is an error); ``language`` is ``en`` or
``pl`` (``en`` when absent), an empty comment means nothing was written. A wave is a column
(values like ``2026Q3``, ``2026-Q3``, ``Q3 2026``) or ``{from_date: COLUMN}`` (calendar
quarters); without either it is derived from the table's contract date (``survey_date``, ``contact_date``). Columns
outside the contract (the user's own segment columns) are kept under their own names. Relative
paths are read from the configuration's folder.

Checks (:func:`validate_company`): missing columns (with the closest match), text in numeric
columns, non-whole or out-of-range ratings, unknown codes (values outside a ``recode`` map,
waves that are not quarters), unparseable dates, duplicate ids and survey customers absent from
the customer table. Rows without an outcome or a wave are left out and counted, never dropped
silently.
"""

from __future__ import annotations

import difflib
import glob as _glob
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .checks import CXDataError, Findings, _preview
from .contract import COLUMNS, OPTIONAL_TABLES, TABLES, TOUCHPOINTS, QA_ITEMS, Company, \
    link_comments

__all__ = ["CompanyConfig", "CompanyValidation", "Issue", "RANGES", "REQUIRED", "contract_column",
           "load_company", "load_config", "validate_company"]

#: Tables a configuration must name (the others are optional; sections needing them say so).
NEEDED_TABLES = ("survey", "customers")
#: Contract columns a table cannot do without (other absent columns are left empty, with a note).
REQUIRED = {"survey": ("customer_id", "wave", "ltr"), "customers": ("customer_id",),
            "contacts": ("team", "wave", "csat"), "pulse": ("team", "wave", "engagement"),
            "invitations": ("customer_id", "wave", "responded"), "comments": ("comment",)}
#: Allowed range of every numeric contract column (inclusive; None = unbounded).
RANGES: dict[tuple[str, str], tuple[float, float | None]] = {
    ("survey", "ltr"): (0, 10), ("survey", "osat"): (1, 5), ("survey", "effort"): (1, 7),
    **{("survey", t): (1, 10) for t in TOUCHPOINTS},
    ("contacts", "fcr"): (0, 1), ("contacts", "csat"): (1, 5), ("contacts", "ces"): (1, 7),
    **{("contacts", q): (1, 5) for q in QA_ITEMS},
    ("customers", "churned"): (0, 1), ("customers", "tenure_months"): (0, None),
    ("customers", "monthly_revenue"): (0, None),
    ("pulse", "engagement"): (1, 5), ("pulse", "enps"): (0, 10),
    ("invitations", "responded"): (0, 1), ("invitations", "true_ltr"): (0, 10)}
#: Columns that identify a row (repeats are errors).
IDS = {"survey": ("response_id",), "customers": ("customer_id",), "contacts": ("contact_id",),
       "pulse": ("employee_id", "wave"), "invitations": ("customer_id", "wave"),
       "comments": ("response_id",)}
_DATE_OF = {"survey": "survey_date", "contacts": "contact_date"}
_TABLE_KEYS = {"source", "table", "sql", "columns", "recode", "read", "date_format"}
_DB_SUFFIXES = {".duckdb", ".ddb", ".db"}
_WAVE = re.compile(r"^\s*(?:(\d{4})\s*[-/ ]?\s*Q([1-4])|Q([1-4])\s*[-/ ]?\s*(\d{4}))\s*$", re.I)
_EXAMPLES = 5


# ------------------------------------------------------------------------------ configuration
@dataclass
class TableConfig:
    """Where one contract table lives and what its columns are called."""

    name: str
    source: str
    table: str | None = None
    sql: str | None = None
    columns: dict = field(default_factory=dict)     # contract name -> user name (wave: dict too)
    recode: dict = field(default_factory=dict)      # contract name -> {user value: contract value}
    read: dict = field(default_factory=dict)
    date_format: str | None = None

    def user_name(self, column: str) -> str:
        """The user's name of contract ``column`` (its own name when not mapped)."""
        value = self.columns.get(column, column)
        return value["from_date"] if isinstance(value, Mapping) else str(value)


@dataclass
class CompanyConfig:
    """A parsed company configuration; ``base_dir`` resolves relative paths."""

    tables: dict[str, TableConfig]
    name: str = "company"
    base_dir: Path = field(default_factory=Path.cwd)
    path: Path | None = None

    def resolve(self, p: str) -> Path:
        path = Path(str(p)).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def _unknown(spec: Mapping, known, what: str) -> None:
    bad = [str(k) for k in spec if k not in known]
    if bad:
        hints = []
        for b in bad:
            close = difflib.get_close_matches(b, sorted(known), 1)
            hints.append(f"{b!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise CXDataError(f"Unknown key(s) in {what}: {', '.join(hints)}. "
                          f"Allowed: {', '.join(sorted(known))}.")


def _parse_table(name: str, spec) -> TableConfig:
    if isinstance(spec, (str, os.PathLike)):
        spec = {"source": str(spec)}
    if not isinstance(spec, Mapping) or not spec.get("source"):
        raise CXDataError(f"tables: {name}: give a source, e.g. {name}: {{source: "
                          f"exports/{name}.csv, columns: {{...}}}}.")
    _unknown(spec, _TABLE_KEYS, f"tables: {name}")
    columns = dict(spec.get("columns") or {})
    _unknown(columns, COLUMNS[name], f"tables: {name}: columns (contract column names)")
    for col, user in columns.items():
        if isinstance(user, Mapping):
            if col != "wave" or set(user) != {"from_date"}:
                raise CXDataError(f"tables: {name}: columns: {col}: give the user's column name"
                                  + (" or {from_date: DATE_COLUMN}" if col == "wave" else "")
                                  + f", got {dict(user)!r}.")
        elif not isinstance(user, str) or not user:
            raise CXDataError(f"tables: {name}: columns: {col}: give the user's column name "
                              f"(text), got {user!r}.")
    recode = dict(spec.get("recode") or {})
    _unknown(recode, COLUMNS[name], f"tables: {name}: recode")
    for col, mapping in recode.items():
        if not isinstance(mapping, Mapping) or not mapping:
            raise CXDataError(f"tables: {name}: recode: {col}: give a mapping "
                              "{user value: contract value}.")
    read = dict(spec.get("read") or {})
    from .io import READ_OPTIONS
    _unknown(read, set(READ_OPTIONS) - {"usecols", "chunksize"}, f"tables: {name}: read")
    if (spec.get("table") or spec.get("sql")) and \
            Path(str(spec["source"])).suffix.lower() not in _DB_SUFFIXES:
        raise CXDataError(f"tables: {name}: table:/sql: are for a DuckDB database source "
                          f"(.duckdb), but the source is {spec['source']!r}.")
    if spec.get("table") and spec.get("sql"):
        raise CXDataError(f"tables: {name}: give table: or sql:, not both.")
    return TableConfig(name, str(spec["source"]), spec.get("table"), spec.get("sql"), columns,
                       recode, read, spec.get("date_format"))


def load_config(config) -> CompanyConfig:
    """Parse a company configuration (a YAML path or a mapping), checking every key.

    Parameters
    ----------
    config : str, Path, Mapping or CompanyConfig
        The YAML file (relative sources are read from its folder) or its parsed content
        (relative to the current directory).

    Returns
    -------
    CompanyConfig

    Examples
    --------
    >>> cfg = load_config({"tables": {"survey": {"source": "s.csv", "columns": {"ltr": "Q1"}},
    ...                               "customers": {"source": "c.csv"}}})
    >>> cfg.tables["survey"].user_name("ltr")
    'Q1'
    """
    if isinstance(config, CompanyConfig):
        return config
    path = None
    if isinstance(config, (str, os.PathLike)):
        from .config import read_yaml
        path = Path(config).expanduser()
        if not path.is_file():
            raise CXDataError(f"Company configuration {str(path)!r} not found.")
        spec = read_yaml(path)
    else:
        spec = config
    if not isinstance(spec, Mapping):
        raise CXDataError("A company configuration is a mapping with a tables: section, e.g. "
                          "tables: {survey: {source: survey.csv}, customers: {source: "
                          "customers.csv}}.")
    _unknown(spec, {"name", "tables"}, "the company configuration")
    tables = spec.get("tables") or {}
    if not isinstance(tables, Mapping):
        raise CXDataError("tables: must map table names to {source:, columns:}.")
    _unknown(tables, set(TABLES) | set(OPTIONAL_TABLES), "tables")
    absent = [t for t in NEEDED_TABLES if t not in tables]
    if absent:
        raise CXDataError(f"The company configuration names no {' or '.join(absent)} table; "
                          "tables: needs at least survey and customers.")
    base = path.parent.resolve() if path is not None else Path.cwd()
    return CompanyConfig({t: _parse_table(t, s) for t, s in tables.items()},
                         str(spec.get("name") or (path.stem if path else "company")), base,
                         path.resolve() if path is not None else None)


def contract_column(config, column: str, table: str = "survey") -> str:
    """The contract name of ``column`` (a contract name or the user's own name) in ``table``.

    Examples
    --------
    >>> cfg = {"tables": {"survey": {"source": "s.csv", "columns": {"region": "REGION"}},
    ...                   "customers": {"source": "c.csv"}}}
    >>> contract_column(cfg, "REGION"), contract_column(cfg, "region")
    ('region', 'region')
    """
    cfg = load_config(config)
    spec = cfg.tables.get(table)
    if spec is None or column in COLUMNS[table]:
        return column
    for contract, user in spec.columns.items():
        if not isinstance(user, Mapping) and user == column:
            return contract
    return column


# ------------------------------------------------------------------------------- validation
@dataclass
class Issue:
    """One finding (same fields as the study's): severity "error", "warning" or "info"."""

    severity: str
    check: str
    table: str
    column: str
    message: str
    n: int = 0
    rows: list = field(default_factory=list)
    values: list = field(default_factory=list)


@dataclass
class CompanyValidation(Findings):
    """Every finding over every table and the row flow (read, left out by reason, kept)."""

    issues: list[Issue]
    flow: pd.DataFrame             # table, step, rows
    name: str = "company"

    def summary(self) -> pd.DataFrame:
        """One row per finding: severity, check, table, column, n, message (errors first)."""
        return self._findings(["severity", "check", "table", "column", "n", "message"])

    def raise_for_errors(self) -> None:
        if self.errors:
            raise CXDataError(f"The company data failed {len(self.errors)} check(s).\n\n"
                              + self.to_text())

    def to_text(self) -> str:
        lines = [f"Company data check ({self.name}): {len(self.errors)} error(s), "
                 f"{len(self.warnings)} warning(s). Rows are data-row labels (0 = the first row "
                 "under the header)."]
        for sev, head in (("error", "ERRORS (nothing runs until these are fixed)"),
                          ("warning", "WARNINGS (reports run; these are stated)"),
                          ("info", "NOTES")):
            items = [i for i in self.issues if i.severity == sev]
            if items:
                lines += ["", head] + [f"  - [{i.table}: {i.check}] {i.message}" for i in items]
        if len(self.flow):
            lines += ["", "Rows per table:"]
            lines += ["  " + ln for ln in self.flow.to_string(index=False).splitlines()]
        return "\n".join(lines)

    __str__ = to_text

    def __repr__(self) -> str:
        return (f"CompanyValidation({self.name}: {len(self.errors)} error(s), "
                f"{len(self.warnings)} warning(s))")


class _Checker:
    """Collects the findings and the row flow of one table at a time."""

    def __init__(self):
        self.issues: list[Issue] = []
        self.flow: list[dict] = []

    def add(self, severity, check, table, column, message, mask=None, values=None, n=None):
        rows, shown = [], []
        if mask is not None and mask.any():
            rows = [_label(i) for i in mask.index[mask][:_EXAMPLES]]
            shown = [_plain(v) for v in pd.unique(values[mask])[:_EXAMPLES]]
            n = int(mask.sum()) if n is None else n
        self.issues.append(Issue(severity, check, table, str(column), message, int(n or 0),
                                 rows, shown))

    def step(self, table: str, step: str, rows: int) -> None:
        self.flow.append({"table": table, "step": step, "rows": int(rows)})


def _label(i):
    return i.item() if isinstance(i, np.generic) else i


def _plain(v):
    v = v.item() if isinstance(v, np.generic) else v
    return int(v) if isinstance(v, float) and v.is_integer() else v


def _examples(mask: pd.Series, values: pd.Series) -> str:
    shown = [_plain(v) for v in pd.unique(values[mask])[:_EXAMPLES]]
    rows = [_label(i) for i in mask.index[mask][:_EXAMPLES]]
    return f"{_preview(shown)} at rows {_preview(rows)}"


# ------------------------------------------------------------------------------------ reading
def _files(cfg: CompanyConfig, spec: TableConfig) -> list[Path]:
    pattern = str(cfg.resolve(spec.source))
    files = sorted(Path(f) for f in _glob.glob(pattern)) if any(c in pattern for c in "*?[") \
        else [Path(pattern)]
    if not files or not all(f.exists() for f in files):
        raise CXDataError(f"tables: {spec.name}: no file matches {spec.source!r} (read from "
                          f"{str(cfg.base_dir)!r}). Check the path in the configuration.")
    return files


def _read(cfg: CompanyConfig, spec: TableConfig) -> tuple[pd.DataFrame, list[Path]]:
    """The table as the user wrote it (their column names), and the files read."""
    files = _files(cfg, spec)
    if files[0].suffix.lower() in _DB_SUFFIXES:
        import duckdb
        con = duckdb.connect(str(files[0]), read_only=True)
        try:
            query = spec.sql or f'SELECT * FROM "{spec.table or spec.name}"'
            try:
                frame = con.sql(query).df()
            except duckdb.Error as err:
                raise CXDataError(f"tables: {spec.name}: the DuckDB query on {files[0].name} "
                                  f"failed: {err}".splitlines()[0]) from None
        finally:
            con.close()
        return frame, files
    from . import io as cxio
    text = [spec.user_name(c) for c, kind in COLUMNS[spec.name].items() if kind == "str"]
    parts = []
    for f in files:
        present = set(cxio.columns_of(f, **spec.read))
        parts.append(cxio.read_survey(f, **spec.read,
                                      text_columns=[c for c in text if c in present] or None))
    report = pd.concat([cxio.read_report(p) for p in parts], ignore_index=True)
    frame = parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)
    frame.attrs = {"read_report": report.loc[report["column"] != "(file)"]}
    return frame, files


# --------------------------------------------------------------------------------- conversion
def _numeric(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(float values, mask of cells holding text that is not a number)."""
    if pd.api.types.is_bool_dtype(raw) or pd.api.types.is_numeric_dtype(raw):
        return raw.astype(float), pd.Series(False, index=raw.index)
    txt = raw.astype("str").str.strip().where(raw.notna())
    values = pd.to_numeric(txt, errors="coerce").astype(float)
    return values, raw.notna() & values.isna() & (txt != "")


def _as_text(raw: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(raw):
        whole = raw.dropna()
        if len(whole) and (whole == np.round(whole)).all():
            raw = raw.astype("Int64")
    out = raw.astype("str").str.strip()
    return out.where(raw.notna() & (out != "")).astype("str")


def _waves(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Quarter labels 'YYYYQn' from 2026Q3, 2026-Q3, 2026 Q3, Q3 2026, Q3/2026; (waves, bad)."""
    txt = raw.astype("str").where(raw.notna())
    parts = txt.str.extract(_WAVE)
    year = parts[0].fillna(parts[3])
    quarter = parts[1].fillna(parts[2])
    out = (year + "Q" + quarter).where(year.notna())
    return out.astype("str"), raw.notna() & out.isna()


def _dates(raw: pd.Series, fmt: str | None) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw.astype("datetime64[us]"), pd.Series(False, index=raw.index)
    txt = raw.astype("str").str.strip().where(raw.notna())
    txt = txt.where(txt != "")
    if fmt:
        out = pd.to_datetime(txt, format=fmt, errors="coerce")
    else:
        out = pd.to_datetime(txt, format="ISO8601", errors="coerce")
    return out.astype("datetime64[us]"), txt.notna() & out.isna()


class _Table:
    """One table: the user's frame turned into the contract's columns and types, with checks."""

    def __init__(self, spec: TableConfig, raw: pd.DataFrame, check: _Checker):
        self.spec, self.raw, self.c, self.t = spec, raw, check, spec.name
        self.out: dict[str, pd.Series] = {}
        self.numbers: dict[str, pd.Series] = {}
        self.drop = pd.Series(False, index=raw.index)

    def build(self) -> pd.DataFrame | None:
        c, t = self.c, self.t
        c.step(t, "rows read", len(self.raw))
        for rec in self.raw.attrs.get("read_report", pd.DataFrame()).to_dict("records"):
            c.add("info", "read", t, rec["column"],
                  f"{rec['n']:,} value(s) {rec['value']!r} in {rec['column']!r}: "
                  f"{rec['action']} when reading.", n=rec["n"])
        self._columns_present()          # absent columns are reported; the checks go on
        for col, kind in COLUMNS[t].items():
            if col == "wave":
                continue
            self.out[col] = self._convert(col, kind)
        if "wave" in COLUMNS[t]:
            self.out["wave"] = self._wave()
        self._ranges()
        frame = pd.DataFrame({col: self.out[col] for col in COLUMNS[t]}, index=self.raw.index)
        extra = [u for u in self.raw.columns if u not in self._used() and u not in frame.columns]
        for u in extra:
            frame[str(u)] = self.raw[u]
        self._duplicates(frame)
        kept = frame.loc[~self.drop]
        c.step(t, "rows kept", len(kept))
        return kept.reset_index(drop=True)

    def _used(self) -> set:
        return {self.spec.user_name(col) for col in COLUMNS[self.t]}

    def _columns_present(self) -> None:
        spec, t, avail = self.spec, self.t, [str(x) for x in self.raw.columns]
        for col in COLUMNS[t]:
            user = spec.user_name(col)
            if user in avail:
                continue
            if col == "wave" and "wave" not in spec.columns and _DATE_OF.get(t) and \
                    spec.user_name(_DATE_OF[t]) in avail:
                continue                                        # derived from the date
            close = difflib.get_close_matches(user, avail, 1, 0.6) or \
                [a for a in avail if a.lower() == user.lower()][:1]
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            named = f"{user!r}" + (f" (contract column {col!r})" if user != col else "")
            if col in spec.columns or col in REQUIRED[t]:
                self.c.add("error", "missing column", t, col,
                           f"The {t} data have no column {named}{hint}. Columns: "
                           f"{_preview(avail, 15)}. Map it under tables: {t}: columns: "
                           f"{{{col}: YOUR_COLUMN}}.")
            else:
                self.c.add("info", "absent column", t, col,
                           f"The {t} data have no column {named}{hint}; it is left empty and "
                           "sections needing it say so.")

    def _recoded(self, col: str, values: pd.Series) -> pd.Series:
        mapping = self.spec.recode.get(col)
        if not mapping:
            return values
        by_text = {str(k).strip(): v for k, v in mapping.items()}
        key = values.astype("str").str.strip().where(values.notna())
        unknown = key.notna() & ~key.isin(list(by_text))
        if unknown.any():
            self.c.add("error", "unknown codes", self.t, col,
                       f"{int(unknown.sum()):,} value(s) of {self.spec.user_name(col)!r} are not "
                       f"in its recode map: {_examples(unknown, values)}. Known codes: "
                       f"{_preview(list(by_text), 10)}. Add them under recode: {col}:.",
                       unknown, values)
        return key.map(by_text).where(~unknown, values)

    def _convert(self, col: str, kind: str) -> pd.Series:
        user, idx = self.spec.user_name(col), self.raw.index
        if user not in self.raw.columns:
            empty = {"str": "str", "date": "datetime64[us]"}.get(kind, "float")
            return pd.Series(pd.NA if kind == "str" else np.nan, index=idx).astype(empty)
        raw = self._recoded(col, self.raw[user])
        if kind == "str":
            return _as_text(raw)
        if kind == "date":
            out, bad = _dates(raw, self.spec.date_format)
            if bad.any():
                fmt = self.spec.date_format or "ISO (2026-09-30)"
                self.c.add("error", "unparseable dates", self.t, col,
                           f"{int(bad.sum()):,} value(s) of {user!r} are not dates in the format "
                           f"{fmt}: {_examples(bad, raw)}. Set date_format: (e.g. \"%d.%m.%Y\") "
                           f"under tables: {self.t}: or fix the export.", bad, raw)
            return out
        values, text = _numeric(raw)
        if text.any():
            self.c.add("error", "text in numeric column", self.t, col,
                       f"{user!r} should hold numbers but has text in {int(text.sum()):,} "
                       f"row(s): {_examples(text, raw)}. Recode those answers (read: "
                       "{missing_codes: ...} if they mean 'no answer') or fix the export.",
                       text, raw)
        values = values.where(~text)
        self.numbers[col] = values                  # for the range checks (NaN: text, missing)
        if kind == "int":
            frac = values.notna() & (values != np.round(values))
            if frac.any():
                self.c.add("error", "not whole numbers", self.t, col,
                           f"{user!r} holds whole numbers only, but {int(frac.sum()):,} value(s) "
                           f"are not: {_examples(frac, values)}. Check the decimal mark or "
                           "the column mapping.", frac, values)
            gone = values.isna() & ~text & ~self.drop
            if gone.any():
                self.c.add("warning", "rows left out", self.t, col,
                           f"{int(gone.sum()):,} row(s) have no {user!r} and are left out of the "
                           f"{self.t} table (e.g. rows {_preview(list(gone.index[gone][:5]))}).",
                           n=int(gone.sum()))
                self.c.step(self.t, f"left out: no {col}", int(gone.sum()))
            self.drop |= values.isna() & ~text          # text cells are errors, not exclusions
            return values.fillna(0).astype("int64")
        return values

    def _wave(self) -> pd.Series:
        spec, t = self.spec, self.t
        mapped = spec.columns.get("wave")
        date_col = _DATE_OF.get(t)
        if spec.user_name("wave") not in self.raw.columns and (
                date_col is None or spec.user_name(date_col) not in self.raw.columns):
            return pd.Series(np.nan, index=self.raw.index).astype("str")   # reported missing
        if isinstance(mapped, Mapping) or (
                mapped is None and "wave" not in self.raw.columns and date_col):
            user = spec.user_name("wave") if mapped is not None else spec.user_name(date_col)
            dates, _ = _dates(self.raw[user], spec.date_format)
            waves = dates.dt.to_period("Q").astype("str").where(dates.notna()).astype("str")
            self.c.add("info", "waves from dates", t, "wave",
                       f"Waves are the calendar quarters of {user!r}.")
        else:
            user = spec.user_name("wave")
            raw = self._recoded("wave", self.raw[user])
            waves, bad = _waves(raw)
            if bad.any():
                self.c.add("error", "unknown codes", t, "wave",
                           f"{int(bad.sum()):,} value(s) of {user!r} are not quarters like "
                           f"2026Q3 (or 2026-Q3, Q3 2026): {_examples(bad, raw)}. Recode them "
                           "(recode: {wave: {...}}) or derive waves from a date column "
                           "(columns: {wave: {from_date: DATE_COLUMN}}).", bad, raw)
        gone = waves.isna() & ~self.drop
        if gone.any():
            self.c.add("warning", "rows left out", t, "wave",
                       f"{int(gone.sum()):,} row(s) have no wave (no {user!r}) and are left out "
                       f"of the {t} table.", n=int(gone.sum()))
            self.c.step(t, "left out: no wave", int(gone.sum()))
        self.drop |= waves.isna()
        return waves

    def _ranges(self) -> None:
        for col, (lo, hi) in ((c, r) for (t, c), r in RANGES.items() if t == self.t):
            v = self.numbers.get(col)
            user = self.spec.user_name(col)
            if v is None:
                continue
            bad = v.notna() & ((v < lo) | (v > hi if hi is not None else False))
            if bad.any():
                span = f"{lo:g}–{hi:g}" if hi is not None else f"at least {lo:g}"
                codes = [_plain(x) for x in pd.unique(v[bad])
                         if x in (-9, -1, 66, 77, 88, 97, 98, 99, 999)]
                hint = (f" {_preview(codes)} look like 'don't know' codes: if so, add read: "
                        f"{{missing_codes: {{{user}: {codes}}}}} under tables: {self.t}:."
                        if codes else " Check the column mapping or the export.")
                self.c.add("error", "out of range", self.t, col,
                           f"{user!r} ({col}) must be {span}, but {int(bad.sum()):,} value(s) "
                           f"are outside: {_examples(bad, v)}.{hint}", bad, v)

    def _duplicates(self, frame: pd.DataFrame) -> None:
        keys = list(IDS[self.t])
        if not all(frame[k].notna().any() for k in keys):
            return
        kept = frame.loc[~self.drop, keys]
        dup = kept.duplicated(keep="first") & kept.notna().all(axis=1)
        if dup.any():
            shown = kept[keys[0]] if len(keys) == 1 else kept.astype(str).agg(" / ".join, axis=1)
            names = " + ".join(repr(self.spec.user_name(k)) for k in keys)
            self.c.add("error", "duplicate ids", self.t, ", ".join(keys),
                       f"{int(dup.sum()):,} row(s) repeat an id in {names}: "
                       f"{_examples(dup, shown)}. Keep one row per id.", dup, shown)


# -------------------------------------------------------------------------------------- entry
def _cross_checks(frames: dict, check: _Checker) -> None:
    survey, customers = frames.get("survey"), frames.get("customers")
    if survey is not None and customers is not None:
        known = set(customers["customer_id"].dropna())
        unmatched = survey["customer_id"].notna() & ~survey["customer_id"].isin(known)
        if unmatched.any():
            share = unmatched.mean()
            sev = "error" if unmatched.all() else "warning"
            check.add(sev, "join", "survey", "customer_id",
                      f"{int(unmatched.sum()):,} survey row(s) ({share:.1%}) name a customer "
                      f"absent from the customer table, e.g. {_examples(unmatched, survey['customer_id'])}"
                      ". They count in the scores but not in the churn and value sections."
                      if sev == "warning" else
                      "No survey customer id occurs in the customer table "
                      f"(e.g. {_examples(unmatched, survey['customer_id'])}): check that both "
                      "columns hold the same ids (format, leading zeros).", unmatched,
                      survey["customer_id"])


def _build(config) -> tuple[Company | None, CompanyValidation]:
    cfg = load_config(config)
    check = _Checker()
    frames, files = {}, []
    for name in [t for t in (*TABLES, *OPTIONAL_TABLES) if t in cfg.tables]:
        spec = cfg.tables[name]
        try:
            raw, read = _read(cfg, spec)
        except CXDataError as err:
            check.add("error", "read", name, "", str(err))
            continue
        files += read
        frames[name] = _Table(spec, raw, check).build()
    for name in [t for t in TABLES if t not in cfg.tables]:
        check.add("info", "absent table", name, "",
                  f"No {name} table is configured: report sections that need it are left out "
                  "with a note.")
    if not check.issues or all(i.severity != "error" for i in check.issues):
        _cross_checks(frames, check)
        if frames.get("comments") is not None:
            try:
                frames["comments"] = link_comments(frames["comments"], frames.get("survey"))
            except CXDataError as err:
                check.add("error", "join", "comments", "response_id", str(err))
    report = CompanyValidation(check.issues, pd.DataFrame(check.flow, columns=["table", "step",
                                                                              "rows"]), cfg.name)
    if not report.ok:
        return None, report
    if cfg.path is not None:
        files.append(cfg.path)
    company = Company(**{t: f for t, f in frames.items()}, name=cfg.name,
                      files=tuple(dict.fromkeys(f.resolve() for f in files)))
    return company, report


def validate_company(config) -> CompanyValidation:
    """Check every configured table against the contract; nothing is run.

    Parameters
    ----------
    config : str, Path, Mapping or CompanyConfig
        The company configuration (see the module docstring).

    Returns
    -------
    CompanyValidation
        ``.ok``, ``.errors``, ``.summary()`` (one row per finding), ``.flow`` (rows read, left
        out by reason, kept, per table) and a readable ``str()``.

    Examples
    --------
    >>> report = validate_company("examples/own_company/company.yaml")   # doctest: +SKIP
    >>> report.ok                                                          # doctest: +SKIP
    True
    """
    return _build(config)[1]


def load_company(config) -> Company:
    """The company a configuration describes, in the contract's columns and types.

    Parameters
    ----------
    config : str, Path, Mapping or CompanyConfig
        The company configuration (see the module docstring).

    Returns
    -------
    Company
        One DataFrame per configured table (``None`` for the absent optional ones), the user's
        extra columns kept under their own names; ``files`` are the files read and the
        configuration (their fingerprint is ``data_sha256``).

    Raises
    ------
    CXDataError
        With the whole validation report when any check fails.

    Examples
    --------
    >>> company = load_company("examples/own_company/company.yaml")       # doctest: +SKIP
    >>> company.survey["region"].unique()                                  # doctest: +SKIP
    """
    company, report = _build(config)
    report.raise_for_errors()
    return company

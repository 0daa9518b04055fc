"""The data a report reads: a bundled company, an analyst's folder or one survey file, as one
:class:`~cxlab.contract.Company`; and the checks of period and segment against those data.

Analyst files go through :func:`cxlab.io.read_survey` (CSV, Excel, SPSS, Stata, Parquet: the
same reader, missing-value texts and checks as a driver study).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ..checks import CXDataError
from ..contract import TABLES, Company
from .parameters import TemplateSpec

_PERIOD = re.compile(r"^\d{4}Q[1-4]$")
_EXTENSIONS = (".csv", ".parquet", ".xlsx", ".sav")
_CONFIG_SUFFIXES = (".yaml", ".yml")


def bundled_names() -> list[str]:
    """Names of the bundled datasets."""
    from .. import datasets
    return list(datasets.names())


def _read_table(path: Path) -> pd.DataFrame:
    from .. import io as cxio
    if path.suffix.lower() not in {*_EXTENSIONS, ".xls"}:
        raise CXDataError(f"Cannot read {str(path)!r}: use a .csv, .parquet, .xlsx or .sav file.")
    return cxio.read_survey(path)


def load_data(data: str | os.PathLike = "kestrel", notes: list | None = None) -> Company:
    """:func:`_load_data`, with every text value NFC-normalised (:func:`normalise_labels`), so
    the NFC and NFD spellings of one name (``Łódź``) are one segment; what was changed is
    appended to ``notes`` (a list) when given."""
    company = _load_data(data)
    changed = normalise_labels(company)
    if notes is not None:
        notes += changed
    return company


def normalise_labels(company: Company) -> list[str]:
    """NFC-normalise (Unicode canonical composition) every text column of every table in place;
    one note per column whose values changed, naming how many distinct values (e.g. ``Łódź``
    typed with a combining accent, NFD, as macOS file names and some exports write it)."""
    import unicodedata
    notes = []
    for table in ("customers", "survey", "contacts", "pulse"):
        frame = getattr(company, table, None)
        if frame is None:
            continue
        for col in frame.columns:
            values = frame[col]
            if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
                continue
            fix = {v: unicodedata.normalize("NFC", v) for v in values.dropna().unique()
                   if isinstance(v, str) and not unicodedata.is_normalized("NFC", v)}
            if fix:
                frame[col] = values.replace(fix)
                notes.append(f"{table}.{col}: {len(fix)} text value(s) written in decomposed "
                             "Unicode (NFD) were normalised to NFC, so each name is one group "
                             f"(e.g. {next(iter(fix.values()))!r}).")
    return notes


def _load_data(data: str | os.PathLike = "kestrel") -> Company:
    """Load a bundled dataset by name, a folder laid out like ``datasets/kestrel``, one survey file
    or a company configuration (``company.yaml``: :func:`cxlab.company.load_company`).

    A folder needs ``survey.csv`` (or .parquet/.xlsx/.sav) or ``contacts.csv``; ``customers``,
    ``contacts``, ``pulse`` and ``comments.csv`` are optional (sections that need a missing table say so). A single
    file is read as the survey. Returns a :class:`~cxlab.contract.Company` with ``name`` and the
    ``files`` read (their fingerprint is ``data_sha256``).
    """
    if data is None:
        data = "kestrel"
    if not isinstance(data, (str, os.PathLike)):
        raise CXDataError(f"data must be a bundled dataset name or a path, got {data!r}.")
    key = str(data)
    path = Path(key).expanduser()
    if not path.exists() and key in bundled_names():
        from .. import datasets
        loaded = datasets.load(key)
        if isinstance(loaded, Company):
            return loaded
        folder = datasets.path(key)
        files = tuple(sorted(p for p in folder.glob("*") if p.is_file() and p.suffix in
                             {".csv", ".json", ".parquet"}))
        return Company(survey=loaded, name=key, files=files)
    if not path.exists():
        raise CXDataError(
            f"Data {key!r} is neither a bundled dataset ({', '.join(bundled_names()) or 'none'}) "
            "nor an existing file or folder. Check the path (relative paths are read from the "
            "current directory) or list the bundled data with `cxlab datasets`.")
    if path.is_file() and path.suffix.lower() in _CONFIG_SUFFIXES:
        from ..company import load_company
        return load_company(path)
    if path.is_file():
        return Company(survey=_read_table(path), name=path.stem, files=(path.resolve(),))
    tables, files = {}, []
    for name in TABLES:
        found = next((c for c in (path / f"{name}{ext}" for ext in _EXTENSIONS) if c.exists()),
                     None)
        if found is not None:
            tables[name] = _read_table(found)
            files.append(found.resolve())
    truth = None
    if (path / "truth.json").exists():
        truth = json.loads((path / "truth.json").read_text())
        files.append((path / "truth.json").resolve())
    if "survey" not in tables and "contacts" not in tables:
        raise CXDataError(f"Folder {str(path)!r} has neither survey.csv nor contacts.csv. "
                          "A report folder needs at least the survey export named survey.csv.")
    if (path / "comments.csv").exists():   # optional; not in ``files`` (see Company.load)
        from ..contract import read_comments_csv
        tables["comments"] = read_comments_csv(path / "comments.csv", tables.get("survey"))
    return Company(**tables, truth=truth, name=path.name, files=tuple(files))


def resolve_by(data, by: str | None, table: str = "survey") -> str | None:
    """The contract name of the split column ``by``: with a company configuration (``data`` a
    .yaml file) the user's own column name is accepted too (``REGION`` -> ``region``)."""
    if not isinstance(by, str) or not isinstance(data, (str, os.PathLike)) or \
            Path(str(data)).suffix.lower() not in _CONFIG_SUFFIXES:
        return by
    from ..company import contract_column
    return contract_column(Path(str(data)).expanduser(), by, table)


def waves_of(frame: pd.DataFrame, column: str = "wave") -> list[str]:
    """Sorted distinct waves (``YYYYQn`` strings sort in time order)."""
    if column not in frame.columns:
        raise CXDataError(f"The data has no {column!r} column, so periods cannot be told apart. "
                          "Add a wave column with values like '2026Q3'.")
    return sorted(str(w) for w in frame[column].dropna().unique())


def check_period(period, waves: Sequence[str]) -> str:
    """Validate ``period`` against the data's waves; None means the latest wave."""
    if period is None or (isinstance(period, str) and period.strip().lower() in {"", "latest", "none"}):
        if not waves:
            raise CXDataError("The data has no waves at all; cannot choose a period.")
        return waves[-1]
    text = str(period).strip().upper()
    if not isinstance(period, str) or not _PERIOD.match(text):
        raise CXDataError(f"period must be a quarter written like '2026Q3' (a string), got {period!r}. "
                          f"Available: {', '.join(waves)}.")
    if text not in waves:
        raise CXDataError(f"Period {text!r} is not in the data. Available waves: {', '.join(waves)}.")
    return text


def segment_values(frame: pd.DataFrame, by: str) -> list[str]:
    if by not in frame.columns:
        raise CXDataError(f"Cannot split reports by {by!r}: the data has no such column. "
                          f"Columns you could use: {', '.join(_segment_columns(frame)) or 'none'}.")
    return sorted(str(v) for v in frame[by].dropna().unique())


def _segment_columns(frame: pd.DataFrame) -> list[str]:
    out = []
    for col in frame.columns:
        if col in {"wave"} or col.endswith(("_id", "_date")):
            continue
        values = frame[col]
        if (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)) \
                and 1 < values.nunique() <= 50:
            out.append(col)
    return out


def check_segment(by, segment, frame: pd.DataFrame) -> tuple[str | None, str | None]:
    """Validate the segment column and value; (None, None) is the whole company."""
    if by in (None, "", "none", "None") and segment in (None, "", "none", "None"):
        return None, None
    if by in (None, "", "none", "None"):
        raise CXDataError(f"segment={segment!r} was given without by=... Name the column it "
                          "belongs to, e.g. by='region'.")
    if not isinstance(by, str):
        raise CXDataError(f"by must be a column name, got {by!r}.")
    values = segment_values(frame, by)
    if segment in (None, "", "none", "None"):
        return by, None
    if str(segment) not in values:
        raise CXDataError(f"Unknown {by} {segment!r}. Choose one of: {', '.join(values)}.")
    return by, str(segment)


def segment_label(by: str | None, value: str | None) -> str:
    """'Company' or e.g. 'Region North'."""
    if value is None:
        return "Company"
    return f"{str(by).replace('_', ' ').capitalize()} {value}"


def base_count(frame: pd.DataFrame, spec: TemplateSpec, period: str, by: str | None = None,
               value: str | None = None) -> int:
    """Answered ``spec.base_column`` values in ``period`` (and segment ``by == value``)."""
    rows = frame["wave"].astype(str) == period
    if by is not None and value is not None:
        rows &= frame[by].astype(str) == value
    if spec.base_column in frame.columns:
        return int(frame.loc[rows, spec.base_column].notna().sum())
    return int(rows.sum())

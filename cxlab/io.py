"""Read survey exports (CSV, Excel, SPSS, Stata, Parquet) into a clean DataFrame, reporting every recode.

    df = cx.io.read_survey("export.csv", missing_codes={"q1": [98, 99]})
    cx.io.read_report(df)          # what was detected and recoded, with counts
    cx.io.variable_labels(df)      # question texts (SPSS/Stata labels, survey-platform header rows)
    cx.io.value_labels(df)         # {column: {code: label}}

What the reader does (and records in the read report, never silently):

* CSV: detects the encoding (BOM, UTF-8, else cp1252/latin-1), the delimiter (``, ; tab |``) and
  decimal commas; skips the extra header rows of survey-platform exports (question text and
  ``{"ImportId": ...}`` rows under the column names, as Qualtrics writes them) and keeps the question
  text as variable labels.
* Text answer codes such as "Don't know", "N/A", "Refused" in an otherwise numeric column become
  missing (counted per column and code). Numeric codes (98, 99, -1 ...) become missing only when you
  name them in ``missing_codes``, or when SPSS declares them user-missing, or their value label says
  "don't know"/"not applicable" (``label_missing=True``).
* Numbers written with a decimal comma ("3,5") are converted.

The metadata rides along in ``DataFrame.attrs["cxlab"]``; the accessors above read it.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io as _io
import lzma
import re
import warnings
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .checks import CXDataError, CXWarning, _preview

__all__ = [
    "FORMATS",
    "NA_TEXT",
    "CsvFormat",
    "apply_value_labels",
    "columns_of",
    "iter_survey",
    "read_report",
    "read_survey",
    "recode_missing",
    "sniff_csv",
    "survey_info",
    "value_labels",
    "variable_labels",
]

#: File formats by extension (compressed CSV ``.csv.gz``, ``.csv.bz2``, ``.csv.xz``, ``.csv.zip`` too).
FORMATS = {".csv": "csv", ".txt": "csv", ".tsv": "csv", ".tab": "csv", ".dat": "csv",
           ".xlsx": "excel", ".xlsm": "excel", ".xls": "excel",
           ".sav": "spss", ".zsav": "spss", ".por": "spss_por", ".dta": "stata",
           ".parquet": "parquet", ".pq": "parquet"}
_COMPRESSION = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}

#: Answer texts that mean "no rating" (compared case-insensitively, surrounding spaces ignored).
NA_TEXT = ("", "na", "n/a", "n.a.", "n. a.", "#n/a", "nan", "null", "none", "-", "--", ".",
           "don't know", "don’t know", "dont know", "do not know", "dk", "d/k", "not applicable",
           "not relevant", "prefer not to say", "prefer not to answer", "refused", "no answer",
           "no opinion", "cannot say", "can't say", "weiß nicht", "keine angabe", "ne sait pas",
           "no sabe", "non so")
_NA_LABEL = re.compile(r"(don.?t|do not|doesn.?t)\s+know|not\s+applicable|^n/?a$|^dk$|refus|"
                       r"prefer not|no answer|can.?t say|cannot say|not (asked|answered|rated)|"
                       r"missing|weiß nicht|keine angabe", re.IGNORECASE)
_IMPORT_ID = re.compile(r'^\s*\{\s*"?ImportId"?\s*:', re.IGNORECASE)
_DEC_COMMA = re.compile(r"^[+-]?(\d+|\d{1,3}(\.\d{3})+),\d+$")
_PLAIN_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_SAMPLE_BYTES = 256 * 1024


# --------------------------------------------------------------------------------------- metadata

def survey_info(data: pd.DataFrame) -> dict:
    """The reader's metadata dict (format, encoding, delimiter, labels, report); empty if none."""
    return dict(data.attrs.get("cxlab", {}))


def read_report(data: pd.DataFrame) -> pd.DataFrame:
    """What the reader detected and recoded: columns ``column, action, value, n``."""
    rows = survey_info(data).get("read_report", [])
    return pd.DataFrame(rows, columns=["column", "action", "value", "n"])


def variable_labels(data: pd.DataFrame) -> dict[str, str]:
    """Question text per column (SPSS/Stata variable labels or survey-platform header rows)."""
    return dict(survey_info(data).get("variable_labels", {}))


def value_labels(data: pd.DataFrame) -> dict[str, dict]:
    """Value labels per column, ``{column: {code: label}}`` (SPSS/Stata)."""
    return {k: dict(v) for k, v in survey_info(data).get("value_labels", {}).items()}


def apply_value_labels(data: pd.DataFrame, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Return a copy with coded columns replaced by their labels (ordered categoricals).

    Codes without a label keep their value (as text) so nothing disappears.
    """
    labels = value_labels(data)
    out = data.copy()
    for col in (columns if columns is not None else list(labels)):
        if col not in labels:
            raise CXDataError(f"Column {col!r} has no value labels. Labelled columns: "
                              f"{_preview(labels) or 'none'}.")
        mapping = labels[col]
        codes = sorted(set(mapping) | set(pd.unique(out[col].dropna())), key=_sort_key)
        names = [str(mapping.get(c, c)) for c in codes]
        order = list(dict.fromkeys(names))
        mapped = out[col].map(lambda v, m=mapping: np.nan if pd.isna(v) else str(m.get(v, v)))
        out[col] = pd.Categorical(mapped, categories=order, ordered=True)
    return out


def _sort_key(v):
    return (0, float(v), "") if isinstance(v, (int, float, np.number)) else (1, 0.0, str(v))


# ---------------------------------------------------------------------------------------- sniffing

@dataclass
class CsvFormat:
    """What :func:`sniff_csv` found out about a delimited text file."""

    encoding: str
    delimiter: str
    decimal: str = "."
    header_rows: int = 0            # extra header rows under the column names (survey platforms)
    labels: dict = field(default_factory=dict)   # question text from the first extra header row
    compression: str | None = None


def _opener(path: Path):
    suffix = path.suffix.lower()
    if suffix in _COMPRESSION:
        return lambda: _COMPRESSION[suffix](path, "rb")
    if suffix == ".zip":
        def open_zip():
            zf = zipfile.ZipFile(path)
            names = [n for n in zf.namelist() if not n.endswith("/")]
            if len(names) != 1:
                raise CXDataError(f"{path.name} holds {len(names)} files; cxlab reads a zip with "
                                  "exactly one file. Unzip it and read the survey file directly.")
            return zf.open(names[0])
        return open_zip
    return lambda: open(path, "rb")


_CP1252_UNDEFINED = bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D])


def detect_encoding(path: Path | str) -> str:
    """Encoding of a text file: BOM if present, else UTF-8 if the whole file decodes, else cp1252
    (or latin-1 when bytes undefined in cp1252 occur). Reads the file in 1 MB blocks."""
    path = Path(path)
    with _opener(path)() as fh:
        head = fh.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            return "utf-32"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        decoder = codecs.getincrementaldecoder("utf-8")()
        block, utf8, latin = head, True, False
        while block:
            if utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    utf8 = False
            if not utf8 and any(b in block for b in _CP1252_UNDEFINED):
                latin = True
                break
            block = fh.read(1 << 20)
        if utf8:
            try:
                decoder.decode(b"", final=True)
                return "utf-8"
            except UnicodeDecodeError:
                pass
    return "latin-1" if latin else "cp1252"


def _sample_text(path: Path, encoding: str) -> str:
    with _opener(path)() as fh:
        raw = fh.read(_SAMPLE_BYTES)
        more = bool(fh.read(1))
    if b"\x00" in raw and not encoding.startswith("utf-16") and not encoding.startswith("utf-32"):
        raise CXDataError(f"{path.name} contains NUL bytes and does not look like a text (CSV) file. "
                          "If it is an Excel, SPSS or Parquet file, give it the right extension.")
    text = raw.decode(encoding, errors="replace")
    if more:  # cut at the last complete line
        cut = text.rfind("\n")
        text = text[:cut + 1] if cut > 0 else text
    return text.lstrip("\ufeff")


def _split_rows(text: str, delimiter: str, limit: int = 60) -> list[list[str]]:
    rows = []
    try:
        for row in csv.reader(_io.StringIO(text), delimiter=delimiter):
            if row:
                rows.append(row)
            if len(rows) >= limit:
                break
    except csv.Error:
        pass
    return rows


def _guess_delimiter(text: str) -> str:
    best, best_score = ",", (-1.0, 0)
    for delim in [",", ";", "\t", "|"]:
        rows = _split_rows(text, delim)
        if not rows:
            continue
        counts = pd.Series([len(r) for r in rows])
        width = int(counts.mode().iloc[0])
        if width < 2:
            continue
        consistency = float((counts == width).mean())
        score = (round(consistency, 2), width)
        if score > best_score:
            best, best_score = delim, score
    return best


def _is_num(cell: str) -> bool:
    return bool(_PLAIN_NUM.match(cell.strip()))


def _count_header_rows(rows: list[list[str]]) -> int:
    """How many rows under the column names are extra header rows (question text, import ids)."""
    if len(rows) < 3:
        return 0
    body = rows[3:] if len(rows) > 4 else rows[2:]
    width = len(rows[0])
    numeric_cols = []
    for j in range(width):
        cells = [r[j].strip() for r in body if j < len(r) and r[j].strip()]
        if cells and sum(map(_is_num, cells)) >= 0.9 * len(cells):
            numeric_cols.append(j)
    import_id = [any(_IMPORT_ID.match(c.strip()) for c in row) for row in rows[1:3]]
    k = 0
    for i, row in enumerate(rows[1:3]):
        cells = [c.strip() for c in row]
        if import_id[i] or (i == 0 and len(import_id) > 1 and import_id[1]):
            k += 1                   # an import-id row, or the question-text row above it
            continue
        # a question-text row: text where the body is numeric, in at least 2 columns and in
        # at least 80 % of the numeric columns (one odd cell is a data error, not a header)
        texty = [j for j in numeric_cols if j < len(cells) and cells[j] and not _is_num(cells[j])]
        if len(numeric_cols) >= 2 and len(texty) >= 0.8 * len(numeric_cols):
            k += 1
        else:
            break
    return k


def _guess_decimal(rows: list[list[str]], delimiter: str) -> str:
    if delimiter == ",":
        return "."
    cells = [c.strip() for r in rows[1:] for c in r]
    comma = sum(bool(_DEC_COMMA.match(c)) for c in cells)
    dot = sum(bool(re.match(r"^[+-]?\d+\.\d+$", c)) for c in cells)
    return "," if comma > 0 and comma >= 3 * dot else "."


def sniff_csv(path: Path | str, encoding: str | None = None, delimiter: str | None = None,
              header_rows: int | str = "auto") -> CsvFormat:
    """Detect encoding, delimiter, decimal mark and extra header rows of a delimited text file."""
    path = Path(path)
    encoding = encoding or detect_encoding(path)
    text = _sample_text(path, encoding)
    if not text.strip():
        raise CXDataError(f"{path.name} is empty. Export the survey again.")
    delimiter = delimiter or _guess_delimiter(text)
    rows = _split_rows(text, delimiter)
    k = _count_header_rows(rows) if header_rows == "auto" else int(header_rows)
    labels = {}
    if k and len(rows) > 1:
        first = rows[1]
        if not any(_IMPORT_ID.match(c) for c in first):
            labels = {name: txt.strip() for name, txt in zip(rows[0], first) if txt.strip()}
    body = [rows[0]] + rows[1 + k:]
    suffix = path.suffix.lower()
    return CsvFormat(encoding=encoding, delimiter=delimiter, decimal=_guess_decimal(body, delimiter),
                     header_rows=k, labels=labels,
                     compression=suffix.lstrip(".") if suffix in (*_COMPRESSION, ".zip") else None)


# ------------------------------------------------------------------------------------- cleaning

def _add(report: list, column, action, value, n) -> None:
    if n:
        report.append({"column": str(column), "action": action, "value": value, "n": int(n)})


def _clean_text_column(s: pd.Series, na_text: set, col: str, report: list) -> pd.Series:
    """Turn a text column that is numeric apart from answer codes / decimal commas into numbers."""
    head = s.dropna().iloc[:200].astype("str").str.strip()
    head = head[(head != "") & ~head.str.lower().isin(na_text)]
    numberish = pd.to_numeric(head, errors="coerce").notna() | head.str.match(_DEC_COMMA)
    if len(head) and numberish.mean() < 0.5:
        return s  # a text column (ids, names, segments): leave it as it is
    txt = s.astype("str").str.strip()
    present = s.notna() & (txt != "")
    if not present.any():
        return s
    low = txt.str.lower()
    is_token = present & low.isin(na_text)
    rest = txt[present & ~is_token]
    if len(rest) == 0:
        return s  # nothing but codes: leave as text, the validator reports the column
    try:
        nums = rest.astype(float)            # fast path: every remaining cell is a number
    except (ValueError, TypeError):
        nums = pd.to_numeric(rest, errors="coerce")
    comma_used = False
    if nums.isna().any():
        bad = rest[nums.isna()]
        comma = bad.str.match(_DEC_COMMA)
        if comma.any():
            conv = bad[comma].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
            nums = nums.copy()
            nums[conv.index] = pd.to_numeric(conv, errors="coerce")
            comma_used = bool(comma.all())
    if nums.isna().any():
        # real text remains: keep the column as text so the validator can name it; in a mostly
        # numeric column the answer codes still become missing (counted)
        if nums.notna().mean() < 0.5 or not is_token.any():
            return s
        for token, n in txt[is_token].value_counts().items():
            _add(report, col, "answer code text set to missing", token, n)
        return s.where(~is_token)
    out = pd.Series(np.nan, index=s.index, dtype=float)
    out[rest.index] = nums.astype(float)
    if comma_used:
        _add(report, col, "decimal comma converted to number", None, int(rest.str.contains(",").sum()))
    for token, n in txt[is_token].value_counts().items():
        _add(report, col, "answer code text set to missing", token, n)
    return out


def _normalise_codes(codes) -> list:
    if codes is None:
        return []
    if isinstance(codes, (str, int, float, np.number)):
        return [codes]
    return list(codes)


def recode_missing(data: pd.DataFrame, codes: Sequence | Mapping[str, Sequence] | None,
                   columns: Sequence[str] | None = None, reason: str = "missing code set to missing",
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Set answer codes (e.g. 98, 99, -1 or "Don't know") to missing, counting each.

    ``codes`` is a list applied to ``columns`` (default: every numeric column) or a mapping
    ``{column: [codes]}``. Returns ``(recoded copy, report)`` with report columns
    ``column, action, value, n``.
    """
    report: list = []
    if not codes:
        return data, pd.DataFrame(report, columns=["column", "action", "value", "n"])
    if isinstance(codes, Mapping):
        plan = {c: _normalise_codes(v) for c, v in codes.items()}
        missing = [c for c in plan if c not in data.columns]
        if missing:
            raise CXDataError(f"missing_codes names column(s) {_preview(missing)} that the data do "
                              f"not have. Available columns: {_preview(map(str, data.columns), 12)}.")
    else:
        cols = list(columns) if columns is not None else [
            c for c in data.columns if pd.api.types.is_numeric_dtype(data[c])]
        plan = {c: _normalise_codes(codes) for c in cols if c in data.columns}
    out = data.copy()
    for col, col_codes in plan.items():
        s = out[col]
        if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
            num_codes = [c for c in col_codes if isinstance(c, (int, float, np.number))
                         and not isinstance(c, bool)]
            for code in num_codes:
                hit = s == code
                if hit.any():
                    _add(report, col, reason, code, hit.sum())
                    s = s.astype(float).where(~hit)
        else:
            txt = s.astype("str").str.strip()
            for code in col_codes:
                hit = s.notna() & (txt == str(code).strip())
                if hit.any():
                    _add(report, col, reason, code, hit.sum())
                    s = s.where(~hit)
        out[col] = s
    out.attrs = data.attrs
    return out, pd.DataFrame(report, columns=["column", "action", "value", "n"])


def _clean(df: pd.DataFrame, *, na_text, missing_codes, labels: dict, value_labels_: dict,
           user_missing: dict, label_missing: bool, report: list) -> pd.DataFrame:
    na_set = {t.strip().lower() for t in na_text} if na_text else set()
    out = {}
    for col in df.columns:
        s = df[col]
        if not pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) \
                and not isinstance(s.dtype, pd.CategoricalDtype) \
                and not pd.api.types.is_datetime64_any_dtype(s):
            s = _clean_text_column(s, na_set, col, report)
        out[col] = s
    df = pd.DataFrame(out, index=df.index)
    df.columns = list(out)  # keep names exactly
    codes: dict = {}
    for col, vals in user_missing.items():
        if col in df.columns:
            codes.setdefault(col, set()).update(vals)
    if user_missing:
        df, rep = recode_missing(df, {c: sorted(v, key=_sort_key) for c, v in codes.items()},
                                 reason="SPSS/Stata user-missing code set to missing")
        report.extend(rep.to_dict("records"))
    if label_missing and value_labels_:
        plan = {}
        for col, mapping in value_labels_.items():
            hits = [code for code, lab in mapping.items() if _NA_LABEL.search(str(lab))]
            if hits and col in df.columns:
                plan[col] = hits
        if plan:
            df, rep = recode_missing(df, plan, reason="code labelled as non-answer set to missing")
            report.extend(rep.to_dict("records"))
    if missing_codes:
        if isinstance(missing_codes, Mapping):
            absent = [c for c in missing_codes if c not in df.columns]
            if absent:
                raise CXDataError(f"missing_codes names column(s) {_preview(absent)} that the file "
                                  f"does not have. Columns: {_preview(map(str, df.columns), 12)}.")
        df, rep = recode_missing(df, missing_codes)
        report.extend(rep.to_dict("records"))
    return df


# -------------------------------------------------------------------------------------- readers

def _format_of(path: Path, fmt: str | None) -> str:
    if fmt:
        if fmt not in set(FORMATS.values()):
            raise CXDataError(f"Unknown format {fmt!r}. Choose one of {sorted(set(FORMATS.values()))}.")
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (*_COMPRESSION, ".zip"):
        inner = suffixes[-2] if len(suffixes) > 1 else ".csv"
        if FORMATS.get(inner, "csv") != "csv":
            raise CXDataError(f"{path.name}: only CSV files may be compressed; decompress it first.")
        return "csv"
    suffix = suffixes[-1] if suffixes else ""
    if suffix not in FORMATS:
        raise CXDataError(f"Cannot tell the format of {path.name!r} from its extension {suffix!r}. "
                          f"Supported: {', '.join(sorted(FORMATS))} (or pass format=...).")
    return FORMATS[suffix]


def _read_errors():
    errs = [pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeError, OSError, EOFError,
            zipfile.BadZipFile, ValueError, TypeError, KeyError, IndexError, csv.Error,
            OverflowError, MemoryError]
    try:
        import pyreadstat
        errs += [pyreadstat.ReadstatError, pyreadstat.PyreadstatError]
    except ImportError:  # pragma: no cover
        pass
    try:
        import pyarrow
        errs += [pyarrow.ArrowException]
    except ImportError:  # pragma: no cover
        pass
    return tuple(errs)


def _wrap(path: Path, fmt: str, err: Exception) -> CXDataError:
    hints = {"csv": "Open it in a text editor: is it a delimited text export? Pass delimiter=, "
                    "encoding= or header_rows= if the detection guessed wrong.",
             "excel": "Is it a valid .xlsx file (not .xls, not password protected)? Choose the "
                      "sheet with sheet=.",
             "spss": "Is it a valid SPSS .sav file? Re-export it from SPSS or the survey platform.",
             "spss_por": "Is it a valid SPSS portable (.por) file?",
             "stata": "Is it a valid Stata .dta file?",
             "parquet": "Is it a valid Parquet file?"}
    msg = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
    return CXDataError(f"Could not read {path.name} as {fmt}: {msg}. {hints.get(fmt, '')}")


def _csv_kwargs(fmt: CsvFormat, decimal: str | None, usecols) -> dict:
    kw = {"sep": fmt.delimiter, "encoding": fmt.encoding, "decimal": decimal or fmt.decimal,
              "keep_default_na": False, "na_values": [""], "skipinitialspace": False,
              "skiprows": range(1, 1 + fmt.header_rows) if fmt.header_rows else None,
              "usecols": usecols, "encoding_errors": "strict", "low_memory": False,
              "on_bad_lines": "error"}
    if fmt.compression:
        kw["compression"] = {"gz": "gzip", "bz2": "bz2", "xz": "xz", "zip": "zip"}[fmt.compression]
    if kw["decimal"] == kw["sep"]:
        raise CXDataError(f"The decimal mark and the delimiter are both {kw['sep']!r}; "
                          "pass decimal= or delimiter= explicitly.")
    return kw


def _check_columns(df: pd.DataFrame, path: Path, report: list) -> pd.DataFrame:
    names = [str(c) for c in df.columns]
    dup = {n for n in names if names.count(n) > 1}
    mangled = [n for n in names if re.match(r".+\.\d+$", n) and n.rsplit(".", 1)[0] in names]
    if dup or mangled:
        shown = sorted(dup) or mangled
        warnings.warn(f"{path.name} has repeated column names ({_preview(shown)}); the copies were "
                      "renamed with suffixes .1, .2 ... Check which one you mean.", CXWarning,
                      stacklevel=4)
        _add(report, "(file)", "repeated column names renamed", ", ".join(map(str, shown)),
             len(shown))
        if dup:
            seen: dict = {}
            new = []
            for n in names:
                seen[n] = seen.get(n, -1) + 1
                new.append(n if seen[n] == 0 else f"{n}.{seen[n]}")
            df.columns = new
    return df


def _pyreadstat_meta(meta) -> tuple[dict, dict, dict]:
    var_labels = {k: v for k, v in (meta.column_names_to_labels or {}).items() if v}
    val_labels = {k: dict(v) for k, v in (meta.variable_value_labels or {}).items()}
    user_missing: dict = {}
    for col, ranges in (getattr(meta, "missing_ranges", None) or {}).items():
        for r in ranges:
            lo, hi = r.get("lo"), r.get("hi")
            if lo == hi:
                user_missing.setdefault(col, set()).add(lo)
            else:
                user_missing.setdefault(col, set()).add(("range", lo, hi))
    for col, vals in (getattr(meta, "missing_user_values", None) or {}).items():
        user_missing.setdefault(col, set()).update(vals)
    return var_labels, val_labels, user_missing


def _expand_ranges(df: pd.DataFrame, user_missing: dict) -> dict:
    """Turn SPSS missing ranges into the list of codes present in the data."""
    out = {}
    for col, vals in user_missing.items():
        codes = set()
        for v in vals:
            if isinstance(v, tuple) and v[0] == "range" and col in df.columns:
                s = pd.to_numeric(df[col], errors="coerce")
                codes.update(pd.unique(s[(s >= v[1]) & (s <= v[2])].dropna()).tolist())
            elif not isinstance(v, tuple):
                codes.add(v)
        if codes:
            out[col] = codes
    return out


@dataclass
class _Source:
    path: Path
    fmt: str
    info: dict
    chunks: Iterator[pd.DataFrame]


def _open_source(path, fmt, *, sheet, delimiter, encoding, decimal, header_rows, usecols,
                 chunksize) -> _Source:
    path = Path(path)
    if not path.exists():
        raise CXDataError(f"File not found: {path}. Check the path (relative paths start at "
                          f"{Path.cwd()}).")
    if path.is_dir():
        raise CXDataError(f"{path} is a folder, not a survey file.")
    fmt = _format_of(path, fmt)
    if path.stat().st_size == 0:
        raise CXDataError(f"{path.name} is empty (0 bytes). Export the survey again.")
    info: dict = {"source": str(path), "format": fmt, "variable_labels": {}, "value_labels": {},
                  "user_missing": {}}
    usecols = list(usecols) if usecols is not None else None
    try:
        chunks = _open_chunks(path, fmt, info, sheet=sheet, delimiter=delimiter,
                              encoding=encoding, decimal=decimal, header_rows=header_rows,
                              usecols=usecols, chunksize=chunksize)
    except CXDataError:
        raise
    except _read_errors() as err:
        raise _wrap(path, fmt, err) from err
    return _Source(path, fmt, info, chunks)


def _open_chunks(path: Path, fmt: str, info: dict, *, sheet, delimiter, encoding, decimal,
                 header_rows, usecols, chunksize):
    if fmt == "csv":
        cf = sniff_csv(path, encoding=encoding, delimiter=delimiter, header_rows=header_rows)
        info.update(encoding=cf.encoding, delimiter=cf.delimiter, decimal=decimal or cf.decimal,
                    header_rows=cf.header_rows, variable_labels=dict(cf.labels))
        kw = _csv_kwargs(cf, decimal, usecols)
        if chunksize:
            chunks = pd.read_csv(path, chunksize=chunksize, **kw)
        else:
            chunks = iter([pd.read_csv(path, **kw)])
    elif fmt == "excel":
        if path.suffix.lower() == ".xls":
            try:
                import xlrd  # noqa: F401
            except ImportError:
                raise CXDataError(f"{path.name} is an old-style .xls workbook, which needs the "
                                  "optional package xlrd. Save it as .xlsx or CSV instead.") from None
        raw = pd.read_excel(path, sheet_name=sheet, header=None, dtype=object)
        raw = raw.dropna(how="all").dropna(axis=1, how="all")
        if raw.empty:
            raise CXDataError(f"Sheet {sheet!r} of {path.name} is empty.")
        header = [str(h).strip() if pd.notna(h) else f"Unnamed: {j}" for j, h in
                  enumerate(raw.iloc[0])]
        rows = [[("" if pd.isna(v) else str(v)) for v in r] for r in raw.iloc[:60].itertuples(index=False)]
        k = _count_header_rows(rows) if header_rows == "auto" else int(header_rows)
        labels = {}
        if k and not any(_IMPORT_ID.match(c) for c in rows[1]):
            labels = {h: t.strip() for h, t in zip(header, rows[1]) if t.strip()}
        body = raw.iloc[1 + k:].reset_index(drop=True)
        body.columns = header
        body = body.infer_objects()
        body = body.apply(lambda s: s.astype("str").where(s.notna())
                          if s.dtype == object else s)
        if usecols is not None:
            _require(body, usecols, path)
            body = body[usecols]
        info.update(sheet=sheet, header_rows=k, variable_labels=labels)
        chunks = _split(body, chunksize)
    elif fmt in ("spss", "spss_por", "stata"):
        import pyreadstat
        reader = {"spss": pyreadstat.read_sav, "spss_por": pyreadstat.read_por,
                  "stata": pyreadstat.read_dta}[fmt]
        kw = {"usecols": usecols, "apply_value_formats": False}
        if fmt == "spss":
            kw["user_missing"] = True
        _, meta = reader(str(path), metadataonly=True, **({} if fmt != "spss" else
                                                           {"user_missing": True}))
        var_labels, val_labels, user_missing = _pyreadstat_meta(meta)
        info.update(variable_labels=var_labels, value_labels=val_labels,
                    file_label=getattr(meta, "file_label", None))
        info["user_missing"] = user_missing
        if usecols is not None:
            _require(pd.DataFrame(columns=meta.column_names), usecols, path)
        if chunksize:
            chunks = (c for c, _ in pyreadstat.read_file_in_chunks(reader, str(path),
                                                                   chunksize=chunksize, **kw))
        else:
            chunks = iter([reader(str(path), **kw)[0]])
    elif fmt == "parquet":
        import pyarrow.parquet as pq
        pf = pq.ParquetFile(path)
        if usecols is not None:
            _require(pd.DataFrame(columns=pf.schema_arrow.names), usecols, path)
        if chunksize:
            chunks = (b.to_pandas() for b in pf.iter_batches(batch_size=chunksize, columns=usecols))
        else:
            chunks = iter([pf.read(columns=usecols).to_pandas()])
    else:  # pragma: no cover - _format_of guards this
        raise CXDataError(f"Unsupported format {fmt!r}.")
    return chunks


def _require(df: pd.DataFrame, cols, path: Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise CXDataError(f"{path.name} has no column {_preview(missing)}. Columns: "
                          f"{_preview(map(str, df.columns), 12)}.")


def _split(df: pd.DataFrame, chunksize: int | None) -> Iterator[pd.DataFrame]:
    if not chunksize:
        yield df
        return
    for start in range(0, max(len(df), 1), chunksize):
        yield df.iloc[start:start + chunksize]


def iter_survey(path: str | Path, chunksize: int = 100_000, *, format: str | None = None,
                sheet: int | str = 0, delimiter: str | None = None, encoding: str | None = None,
                decimal: str | None = None, header_rows: int | str = "auto",
                missing_codes: Sequence | Mapping | None = None, na_text: Sequence[str] = NA_TEXT,
                label_missing: bool = True, usecols: Sequence[str] | None = None,
                ) -> Iterator[pd.DataFrame]:
    """Read a survey file in chunks of ``chunksize`` rows (bounded memory), cleaned as
    :func:`read_survey` does. Each chunk's ``attrs`` carry the read report *for that chunk*;
    the row index continues across chunks."""
    if not isinstance(chunksize, (int, np.integer)) or chunksize < 1:
        raise CXDataError(f"chunksize must be a positive whole number, got {chunksize!r}.")
    src = _open_source(path, format, sheet=sheet, delimiter=delimiter, encoding=encoding,
                       decimal=decimal, header_rows=header_rows, usecols=usecols,
                       chunksize=int(chunksize))
    return _iter_clean(src, missing_codes=missing_codes, na_text=na_text,
                       label_missing=label_missing, chunked=True)


def _iter_clean(src: _Source, *, missing_codes, na_text, label_missing, chunked):
    errs = _read_errors()
    offset = 0
    it = iter(src.chunks)
    first = True
    while True:
        try:
            raw = next(it)
        except StopIteration:
            break
        except CXDataError:
            raise
        except errs as err:
            raise _wrap(src.path, src.fmt, err) from err
        report: list = []
        if first:
            _add(report, "(file)", "format", src.fmt, 1)
            for key in ("encoding", "delimiter", "decimal"):
                if key in src.info:
                    _add(report, "(file)", f"{key} detected", src.info[key], 1)
            if src.info.get("header_rows"):
                _add(report, "(file)", "extra header rows skipped (question text / import ids)",
                     None, src.info["header_rows"])
            raw = _check_columns(raw, src.path, report)
        raw.index = pd.RangeIndex(offset, offset + len(raw))
        offset += len(raw)
        user_missing = _expand_ranges(raw, src.info.get("user_missing", {}))
        df = _clean(raw, na_text=na_text, missing_codes=missing_codes, labels={},
                    value_labels_=src.info.get("value_labels", {}), user_missing=user_missing,
                    label_missing=label_missing, report=report)
        info = {k: v for k, v in src.info.items() if k != "user_missing"}
        info["user_missing"] = {k: sorted(map(str, v)) for k, v in
                                src.info.get("user_missing", {}).items()}
        info["read_report"] = report
        df.attrs["cxlab"] = info
        first = False
        yield df
    if first:  # no chunk at all
        raise CXDataError(f"{src.path.name} has column names but no data rows.")


def read_survey(path: str | Path, *, format: str | None = None, sheet: int | str = 0,
                delimiter: str | None = None, encoding: str | None = None,
                decimal: str | None = None, header_rows: int | str = "auto",
                missing_codes: Sequence | Mapping | None = None,
                na_text: Sequence[str] = NA_TEXT, label_missing: bool = True,
                usecols: Sequence[str] | None = None, chunksize: int | None = None
                ) -> pd.DataFrame:
    """Read a survey export into a DataFrame, detecting the file's conventions.

    Parameters
    ----------
    path : CSV/TSV/TXT (optionally .gz/.bz2/.xz/.zip), .xlsx, .sav/.zsav/.por, .dta or .parquet.
    format : override the format guessed from the extension ("csv", "excel", "spss", "stata", ...).
    sheet : Excel sheet name or index.
    delimiter, encoding, decimal : override the CSV detection.
    header_rows : extra header rows under the column names ("auto" detects question-text and
        import-id rows of survey platforms; 0 disables).
    missing_codes : numeric or text codes that mean "no answer": a list applied to every numeric
        column, or ``{column: [codes]}``. Each recode is counted in :func:`read_report`.
    na_text : answer texts that mean "no answer" in otherwise numeric columns.
    label_missing : SPSS/Stata codes whose value label reads like "Don't know"/"Not applicable"
        become missing (counted).
    usecols : read only these columns.
    chunksize : read and clean this many rows at a time and stack the cleaned chunks: the peak
        memory is the result plus one chunk (text columns of a raw read can take several times
        the memory of the cleaned numbers). The read report is summed over the chunks.

    Returns a DataFrame; metadata (labels, detection, read report) in ``attrs["cxlab"]``.
    """
    if chunksize:
        return _read_chunked(path, chunksize, format=format, sheet=sheet, delimiter=delimiter,
                             encoding=encoding, decimal=decimal, header_rows=header_rows,
                             missing_codes=missing_codes, na_text=na_text,
                             label_missing=label_missing, usecols=usecols)
    src = _open_source(path, format, sheet=sheet, delimiter=delimiter, encoding=encoding,
                       decimal=decimal, header_rows=header_rows, usecols=usecols, chunksize=None)
    (df,) = list(_iter_clean(src, missing_codes=missing_codes, na_text=na_text,
                             label_missing=label_missing, chunked=False))
    if len(df) == 0:
        raise CXDataError(f"{Path(path).name} has column names but no data rows.")
    return df


def _read_chunked(path, chunksize: int, **options) -> pd.DataFrame:
    parts, report = [], []
    for chunk in iter_survey(path, chunksize=chunksize, **options):
        info = chunk.attrs.get("cxlab", {})
        report.extend(info.get("read_report", []))
        chunk.attrs = {}
        parts.append(chunk)
    df = pd.concat(parts) if len(parts) > 1 else parts[0]
    summed: dict = {}
    for rec in report:
        key = (rec["column"], rec["action"], str(rec["value"]))
        if key in summed:
            summed[key]["n"] += rec["n"]
        else:
            summed[key] = dict(rec)
    df.attrs["cxlab"] = {**info, "read_report": list(summed.values())}
    return df


def columns_of(path: str | Path, **options) -> list[str]:
    """The column names of a survey file (reads its first row only)."""
    options.pop("usecols", None)
    return [str(c) for c in next(iter_survey(path, chunksize=1, **options)).columns]

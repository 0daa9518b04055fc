"""Read survey exports (CSV, Excel, SPSS, Stata, Parquet) into a clean DataFrame, reporting every recode.

    df = cx.io.read_survey("export.csv", missing_codes={"q1": [98, 99]})
    cx.io.read_report(df)          # what was detected and recoded, with counts
    cx.io.variable_labels(df)      # question texts (SPSS/Stata labels, survey-platform header rows)
    cx.io.value_labels(df)         # {column: {code: label}}

**One reader path for every job.** The study, the report batch and the notebooks read files only
through :func:`read_survey` (:func:`iter_survey` for the same cleaning chunk by chunk,
:func:`columns_of` for the names): one detection, one read report, and a :class:`CXDataError`
naming the file, the problem and the fix instead of a pandas, zip or codec traceback.

What the reader does (and records in the read report, never silently):

* CSV: detects the encoding -- byte-order mark; UTF-16 without one (by its NUL bytes); strict
  UTF-8; else the most plausible of cp1252, cp1250 (Polish, Czech, Hungarian ...), cp1251
  (Russian, Ukrainian ...), ISO 8859-2 and Latin-1 (see :func:`detect_encoding`; a close call is
  warned with the alternative) -- the delimiter (``, ; tab |``) and the decimal mark; skips the
  extra header rows of survey-platform exports (question text and ``{"ImportId": ...}`` rows, as
  Qualtrics writes them) and keeps the question text as variable labels. A file whose bytes are
  a workbook, SPSS or Parquet file is named as such.
* Text answer codes such as "Don't know", "N/A", "Refused" in an otherwise numeric column become
  missing (counted per column and code). Numeric codes (98, 99, -1 ...) become missing only when you
  name them in ``missing_codes``, or when SPSS declares them user-missing, or their value label says
  "don't know"/"not applicable" (``label_missing=True``).
* Numbers with a decimal comma ("3,5") or thousands separators ("1,234.5", "1.234,5", "1 234")
  are converted; "1,234" (thousands, or three decimals?) follows the column's other values, else
  the file's decimal mark, with a warning. Whole numbers of more than 15 digits (ids) stay text.
* Excel: error cells (``#DIV/0!``, ``#VALUE!``, ``#N/A``) are counted and read as their text,
  exactly like the same cell in a CSV; formulas saved without a result are counted and warned.
  Sheets are sized by their filled cells, so a stray cell at XFD1048576 costs one cell.
* Limits, refused with the reason: :data:`MAX_COLUMNS` columns, :data:`MAX_CELLS` cells and the
  memory free (estimated before reading).

The metadata rides along in ``DataFrame.attrs["cxlab"]``; the accessors above read it.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import difflib
import gzip
import inspect
import io as _io
import lzma
import math
import os
import re
import unicodedata
import warnings
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd

from .checks import CXDataError, CXWarning, _preview

__all__ = [
    "FORMATS",
    "MAX_CELLS",
    "MAX_COLUMNS",
    "NA_TEXT",
    "READ_OPTIONS",
    "CsvFormat",
    "apply_value_labels",
    "columns_of",
    "detect_encoding",
    "iter_survey",
    "read_report",
    "read_survey",
    "recode_missing",
    "sniff_csv",
    "suggest_columns",
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
#: Numbers whose only separator groups thousands -- or is a decimal mark with three decimals.
_GROUPED = {",": re.compile(r"^[+-]?\d{1,3}(,\d{3})+$"), ".": re.compile(r"^[+-]?\d{1,3}(\.\d{3})+$")}
#: Unambiguous forms: thousands with the other mark as decimal, or a decimal mark alone.
_THOUSANDS_THEN_DECIMAL = {",": re.compile(r"^[+-]?\d{1,3}(,\d{3})+\.\d+$"),
                           ".": re.compile(r"^[+-]?\d{1,3}(\.\d{3})+,\d+$")}
_DECIMAL_ONLY = {",": re.compile(r"^[+-]?\d*,\d+$"), ".": re.compile(r"^[+-]?\d*\.\d+$")}
_SPACE_GROUPED = re.compile(r"^[+-]?\d{1,3}([ \u00a0\u202f']\d{3})+([.,]\d+)?$")
_NUMBERISH = re.compile(r"^[+-]?[\d.,\u00a0\u202f' ]*\d$")
_PLAIN_NUM = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_SAMPLE_BYTES = 256 * 1024

#: Most columns a reader accepts (Excel's own limit is 16,384; SPSS allows 32,767 variables).
MAX_COLUMNS = 32_767
#: Most cells (rows x columns) a reader builds in one frame: 250 million is 2 GB as float64.
MAX_CELLS = 250_000_000
_CELL_BYTES = 128       # a streamed Excel cell held as Python objects (dict entry, value)


def _warn(message: str) -> None:
    """A CXWarning attributed to the first caller outside this module (the user's line)."""
    frame, level = inspect.currentframe(), 1
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, CXWarning, stacklevel=level)


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
    columns: int = 0                # width of the header row
    header: list = field(default_factory=list)   # the column names
    header_complete: bool = True    # the sample holds the whole header line
    long_integers: list = field(default_factory=list)  # columns with >15-digit whole numbers
    rows_estimate: int | None = None   # data rows, estimated from the sample's line length
    note: str | None = None         # warning about an uncertain encoding guess


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


# Per-mille share of each non-ASCII letter in running text, per language (rounded from the
# letter-frequency tables collected on Wikipedia, "Letter frequency"); a code page's languages.
_LANG_LETTERS = {
    "cp1252": [  # Western European
        "é19 è2.7 ê2.2 à4.9 â0.3 ç0.85 î0.45 ô0.2 û0.6 ù0.6 ë0.1 ï0.05 œ0.2 ÿ0.01",   # French
        "ä5.8 ö4.4 ü10 ß3.1",                                                         # German
        "á5 é4.3 í7.3 ñ3.1 ó8.3 ú1.7 ü0.1",                                           # Spanish
        "á1.2 â5.6 ã7.3 à0.7 ç5.3 é3.4 ê4.5 í1.3 ó3 ô6.4 õ0.4 ú2",                   # Portuguese
        "à6.4 è2.6 é0.5 ì0.3 ò0.9 ù1.7",                                              # Italian
        "å13 ä18 ö13", "æ9 ø9 å12",                                                   # Nordic
        "á18 ð44 é6 í16 ó10 ú6 ý2 þ15 æ9 ö8",                                         # Icelandic
        "ä36 ö4.4", "ë0.5 é0.5 ï0.1 è0.1",                                            # Finnish, Dutch
    ],
    "cp1250": [  # Central European
        "ą9.9 ć4 ę11 ł18 ń2 ó8.5 ś6.6 ź0.6 ż8.3",                                      # Polish
        "á8.7 č4.6 ď0.2 é6.3 ě12 í16 ň0.1 ó0.2 ř3.8 š6.9 ť0.1 ú0.5 ů2 ý10 ž7.2",       # Czech
        "á9 ä0.5 č9 ď1 é7 í6 ĺ0.1 ľ4 ň1 ó1 ô1.5 ŕ0.1 š3 ť1 ú2.5 ý2 ž2",                # Slovak
        "á34 é43 í6 ó10 ö10 ő9 ú3 ü6 ű1",                                             # Hungarian
        "č11 ć8 đ2 š8 ž7",                                                            # Croatian, Slovene
        "ă25 â9 î12 ş13 ţ10", "ä5.8 ö4.4 ü10 ß3.1",                                   # Romanian, German
    ],
    "cp1251": [  # Cyrillic
        ("о110 е85 а80 и73 н67 т63 с55 р47 в45 л44 к35 м32 д30 п28 у26 я20 ы19 ь17 г17 з17 б16 "
        "ч14 й12 х10 ж9 ш7 ю6 ц5 щ4 э3 ф3 ъ0.4 ё0.4"),                                  # Russian
        ("о94 а72 н66 и61 і57 в54 р48 т47 е47 с41 к36 л35 у33 д33 м32 п28 я26 з23 ь17 г16 б16 "
        "ч13 х12 ж9 й9 ш8 ю8 ц7 ї6 є3 щ3 ф2 ґ0.2"),                                      # Ukrainian
        ("а111 о86 е80 и75 т70 н66 р51 с46 в45 л42 к39 д32 п31 м30 з19 ъ27 я22 у21 б15 ч12 г16 "
        "й8 ж8 щ10 ш7 ц6 ю3 х6 ф2"),                                                    # Bulgarian
        ("а117 и98 о92 е86 н50 с48 р47 ј45 т42 у40 в34 к33 д33 л31 п29 м30 з16 г16 б14 ч12 ш9 "
        "ц9 ћ7 њ6 х4 ж6 љ5 ђ2 џ1 ф1 ѓ0.5 ќ0.5 ѕ0.3"),                                   # Serbian, Macedonian
    ],
}


def _letter_tables(langs: list[str]) -> list[dict]:
    """Per language: {letter: log share of all letters}."""
    tables = []
    for lang in langs:
        items = (item for item in lang.split())
        tables.append({it[0]: math.log(float(it[1:]) / 1000) for it in items})
    return tables


_LANG_TABLES = {enc: _letter_tables(langs) for enc, langs in _LANG_LETTERS.items()}
_LANG_TABLES["iso8859_2"] = _LANG_TABLES["cp1250"]
_LANG_TABLES["latin-1"] = _LANG_TABLES["cp1252"]
#: Log prior of each single-byte code page (cp1252 is by far the most common Windows export).
_PRIOR = {"cp1252": 0.0, "cp1250": -6.0, "cp1251": -6.0, "iso8859_2": -8.0, "latin-1": -10.0}
_LOG = {"letter_floor": math.log(1e-5), "symbol_inside": math.log(1e-7),
        "symbol_edge": math.log(1e-6), "punct_edge": math.log(0.1), "control": math.log(1e-11),
        "case": math.log(1e-4), "mixed_script": math.log(1e-7), "run": math.log(1e-3)}
_EDGE_PUNCT = set("¿¡«»“”‘’„‚‹›·–—…")   # punctuation that may touch a word
_WORD = re.compile(rb"[A-Za-z\x80-\xff]*[\x80-\xff][A-Za-z\x80-\xff]*")
_MAX_WORDS = 20_000


def _script(ch):
    name = unicodedata.name(ch, "")
    return "cyrillic" if name.startswith("CYRILLIC") else "latin" if name.startswith("LATIN") else "other"


def _word_shape(word: str, letters: list) -> float:
    """Log penalty for what no language writes (symbols in words, control characters, lower-
    then-upper case, mixed scripts, long runs of accented letters); the non-ASCII letters are
    appended to ``letters`` for the language score."""
    score, run, scripts = 0.0, 0, set()
    n = len(word)
    for i, ch in enumerate(word):
        cat = unicodedata.category(ch)
        if ch.isascii():
            run = 0
            if cat[0] == "L":
                scripts.add("latin")
                if i and ch.isupper() and word[i - 1].islower() and not word[i - 1].isascii():
                    score += _LOG["case"]
            continue
        if cat == "Cc":
            score += _LOG["control"]
            continue
        if cat[0] == "L":
            script = _script(ch)
            scripts.add(script)
            letters.append(ch.lower())
            if i and ch.isupper() and word[i - 1].islower():
                score += _LOG["case"]
            if script == "latin":
                run += 1
                if run > 3:
                    score += _LOG["run"]
            continue
        run = 0
        if n > 1:
            inside = 0 < i < n - 1 and word[i - 1].isalpha() and word[i + 1].isalpha()
            score += (_LOG["symbol_inside"] if inside else _LOG["punct_edge"] if ch in _EDGE_PUNCT
                      else _LOG["symbol_edge"])
    if len(scripts - {"other"}) > 1:
        score += _LOG["mixed_script"]
    return score


def _score_encodings(words, prior: bool = True) -> dict:
    """Log plausibility of each code page's reading of ``words`` (distinct byte strings): the
    shape penalties plus log of the mean over the code page's languages of the likelihood of
    all non-ASCII letters in that one language (a file is written in one language, mostly)."""
    out = {}
    for enc, log_prior in _PRIOR.items():
        total, letters = (log_prior if prior else 0.0), []
        try:
            for w in words:
                total += _word_shape(w.decode(enc), letters)
        except UnicodeDecodeError:
            out[enc] = -math.inf
            continue
        counts = Counter(letters)
        per_lang = [sum(k * t.get(ch, _LOG["letter_floor"]) for ch, k in counts.items())
                    for t in _LANG_TABLES[enc]]
        top = max(per_lang)
        mix = top + math.log(sum(math.exp(v - top) for v in per_lang) / len(per_lang))
        out[enc] = total + mix
    return out


def _decide_single_byte(words) -> tuple[str, str | None, float]:
    """``(best, rival, margin)``: the best code page, the best one that reads some word
    differently, and their margin on the bytes alone (without priors)."""
    sc = _score_encodings(words)
    order = sorted(sc, key=sc.get, reverse=True)
    best = order[0]
    ref = [w.decode(best) for w in words]
    rival = None
    for enc in order[1:]:
        if sc[enc] == -math.inf:
            break
        try:
            if [w.decode(enc) for w in words] != ref:
                rival = enc
                break
        except UnicodeDecodeError:
            continue
    if rival is None:
        return best, None, math.inf
    data = _score_encodings(words, prior=False)       # the margin the bytes alone give
    return best, rival, data[best] - data[rival]


#: Single-byte code pages tried when a file is not UTF-8, and what they are called in messages.
_CODE_PAGES = {"cp1252": "Western European", "cp1250": "Central European",
               "cp1251": "Cyrillic", "iso8859_2": "Latin-2", "latin-1": "Latin-1"}
_CLOSE_CALL = 3.0     # log-likelihood margin (without priors) under which the choice is uncertain


def _utf16_without_bom(head: bytes) -> str | None:
    """'utf-16-le'/'utf-16-be' when the NUL bytes sit in every other position (ASCII text in
    UTF-16 without a byte-order mark), else None."""
    if len(head) < 8:
        return None
    even, odd = head[0::2], head[1::2]
    for enc, nul, other in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
        if nul.count(0) > 0.3 * len(nul) and other.count(0) < 0.02 * len(other):
            try:
                head[: len(head) // 2 * 2].decode(enc)
            except UnicodeDecodeError:
                continue
            return enc
    return None


def _detect(path: Path) -> tuple[str, str | None]:
    """``(encoding, note)``: the encoding and, for an uncertain single-byte choice, a warning."""
    with _opener(path)() as fh:
        head = fh.read(4096)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig", None
        if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
            return "utf-32", None
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16", None
        utf16 = _utf16_without_bom(head)
        if utf16:
            return utf16, None
        decoder = codecs.getincrementaldecoder("utf-8")()
        block, utf8 = head, True
        while block and utf8:
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                utf8 = False
            block = fh.read(1 << 20)
        if utf8:
            try:
                decoder.decode(b"", final=True)
                return "utf-8", None
            except UnicodeDecodeError:
                pass
    words: dict = {}
    with _opener(path)() as fh:                  # not UTF-8: collect the non-ASCII words
        while len(words) < _MAX_WORDS and (block := fh.read(1 << 20)):
            if not block.isascii():
                words.update(dict.fromkeys(_WORD.findall(block)))
    words_list = list(words)[:_MAX_WORDS]
    best, rival, margin = _decide_single_byte(words_list)
    note = None
    if rival and margin < _CLOSE_CALL:
        example = next(w for w in words_list if w.decode(best) != w.decode(rival))
        note = (f"{path.name} is not UTF-8; it was read as {best} ({_CODE_PAGES[best]}), but "
                f"{rival} ({_CODE_PAGES[rival]}) is nearly as likely and reads "
                f"{example.decode(best)!r} as {example.decode(rival)!r}. If the text looks "
                f"wrong, pass encoding={rival!r} (or save the export as UTF-8).")
    return best, note


def detect_encoding(path: Path | str) -> str:
    """Encoding of a text file.

    A byte-order mark decides; UTF-16 without one is recognised by its NUL bytes; then UTF-8 if
    the whole file decodes strictly; otherwise the single-byte code page (cp1252, cp1250, cp1251,
    ISO 8859-2, Latin-1) whose reading of the file's distinct non-ASCII words is most plausible:

    log P(reading) = prior + shape penalties + log mean_L prod_letters p_L(letter)

    where p_L is the letter's share of running text in language L among the code page's
    languages (French, German, Spanish ... for cp1252; Polish, Czech, Slovak, Hungarian,
    Croatian, Romanian for cp1250; Russian, Ukrainian, Bulgarian, Serbian for cp1251), and the
    shape penalties are for symbols in words (``Wroc³aw``), control characters, lower-then-
    upper case (``ódŸ``), mixed scripts and runs of accented letters (``Ìîñêâà``); bytes a code
    page leaves undefined rule it out. cp1252 has the highest prior. When the bytes alone
    separate the choice from its best rival by less than 3 log units, :func:`read_survey` warns
    with an example word read both ways. Hand-written because charset-normalizer (installed
    with requests) misreads short survey files (French as cp1250, Czech as cp1258).

    References
    ----------
    Letter frequencies: Wikipedia, "Letter frequency" (per-language tables), rounded.
    """
    return _detect(Path(path))[0]


def _sample_text(path: Path, encoding: str) -> str:
    with _opener(path)() as fh:
        raw = fh.read(_SAMPLE_BYTES)
        more = bool(fh.read(1))
    if b"\x00" in raw and not encoding.startswith("utf-16") and not encoding.startswith("utf-32"):
        raise CXDataError(f"{path.name} contains NUL bytes and does not look like a text (CSV) file. "
                          "If it is text in UTF-16 or UTF-32, pass encoding='utf-16-le' (or "
                          "'utf-16-be', 'utf-32'); if it is an Excel, SPSS or Parquet file, give it "
                          "the right extension or pass format=....")
    text = raw.decode(encoding, errors="replace")
    if more:  # cut at the last complete line
        cut = text.rfind("\n")
        text = text[:cut + 1] if cut > 0 else text
    return text.lstrip("\ufeff")


_MAGIC = ((b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook is one)"),
          (b"\xd0\xcf\x11\xe0", "an old Office file (Excel .xls?)"),
          (b"$FL2", "an SPSS .sav file"), (b"$FL3", "an SPSS .zsav file"),
          (b"PAR1", "a Parquet file"), (b"<stata_dta>", "a Stata .dta file"))


def _binary_kind(raw: bytes) -> str | None:
    """What a binary file is, from its first bytes (None for text)."""
    for magic, kind in _MAGIC:
        if raw.startswith(magic):
            return kind
    return None


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
    # "1,234" could be either mark (thousands or three decimals): it is no evidence here
    comma = sum(bool(_DEC_COMMA.match(c)) and not _GROUPED[","].match(c) for c in cells)
    dot = sum(bool(re.match(r"^[+-]?\d+\.\d+$", c)) and not _GROUPED["."].match(c) for c in cells)
    return "," if comma > 0 and comma >= 3 * dot else "."


def sniff_csv(path: Path | str, encoding: str | None = None, delimiter: str | None = None,
              header_rows: int | str = "auto") -> CsvFormat:
    """Detect encoding, delimiter, decimal mark and extra header rows of a delimited text file."""
    path = Path(path)
    with _opener(path)() as fh:
        kind = _binary_kind(fh.read(16))
    if kind:
        raise CXDataError(f"{path.name} is named like a text (CSV) file but its content is {kind}. "
                          "Rename it with the right extension or pass format=... "
                          "(e.g. format='excel').")
    note = None
    if not encoding:
        encoding, note = _detect(path)
    text = _sample_text(path, encoding)
    if not text.strip():
        raise CXDataError(f"{path.name} is empty. Export the survey again.")
    delimiter = delimiter or _guess_delimiter(text)
    rows = _split_rows(text, delimiter)
    if not rows:
        raise CXDataError(f"{path.name} holds no delimited rows (only blank lines or quotes).")
    if len(rows[0]) > MAX_COLUMNS:
        whole = "\n" in text or len(text.encode(encoding, "replace")) < _SAMPLE_BYTES
        raise CXDataError(
            f"{path.name} has {'' if whole else 'at least '}{len(rows[0]):,} columns in its first "
            f"line (delimiter {delimiter!r}); cxlab reads at most {MAX_COLUMNS:,} columns "
            "(cxlab.io.MAX_COLUMNS). Is it really a survey export, with one respondent a line? "
            "Pass the right delimiter=, or select columns before exporting.")
    k = _count_header_rows(rows) if header_rows == "auto" else int(header_rows)
    labels = {}
    if k and len(rows) > 1:
        first = rows[1]
        if not any(_IMPORT_ID.match(c) for c in first):
            labels = {name: txt.strip() for name, txt in zip(rows[0], first) if txt.strip()}
    body = [rows[0]] + rows[1 + k:]
    suffix = path.suffix.lower()
    compression = suffix.lstrip(".") if suffix in (*_COMPRESSION, ".zip") else None
    rows_estimate = None
    lines = text.count("\n")
    size = _text_size(path, compression)
    if size and lines:
        rows_estimate = int(size / max(len(text.encode(encoding, "replace")) / lines, 1))
    return CsvFormat(encoding=encoding, delimiter=delimiter, decimal=_guess_decimal(body, delimiter),
                     header_rows=k, labels=labels, compression=compression,
                     columns=len(rows[0]), rows_estimate=rows_estimate, note=note,
                     header=list(rows[0]), long_integers=_long_integer_columns(body),
                     header_complete="\n" in text or path.stat().st_size <= _SAMPLE_BYTES)


def _text_size(path: Path, compression: str | None) -> int | None:
    """Bytes of text once decompressed: the file size, gzip's ISIZE trailer (size mod 2**32, so
    at least the compressed size) or the zip directory's entry; None when unknown (bz2, xz)."""
    if not compression:
        return path.stat().st_size
    try:
        if compression == "gz":
            with open(path, "rb") as fh:
                fh.seek(-4, 2)
                isize = int.from_bytes(fh.read(4), "little")
            packed = path.stat().st_size
            while isize < packed:          # more than 4 GB of text: the trailer wrapped
                isize += 1 << 32
            return isize
        if compression == "zip":
            with zipfile.ZipFile(path) as zf:
                return sum(i.file_size for i in zf.infolist() if not i.is_dir())
    except (OSError, zipfile.BadZipFile, ValueError):
        return None
    return None


def _long_integer_columns(rows: list[list[str]]) -> list[str]:
    """Columns of the sample holding whole numbers of 16+ digits: read as text, since a float
    keeps only about 16 digits and distinct ids would merge."""
    if len(rows) < 2:
        return []
    hits = set()
    for row in rows[1:]:
        for j, cell in enumerate(row[:len(rows[0])]):
            if len(cell) > 15 and re.fullmatch(r"\s*[+-]?\d{16,}\s*", cell):
                hits.add(j)
    return [rows[0][j] for j in sorted(hits)]


# ------------------------------------------------------------------------------------- cleaning

def _add(report: list, column, action, value, n) -> None:
    if n:
        report.append({"column": str(column), "action": action, "value": value, "n": int(n)})


def _clean_text_column(s: pd.Series, na_text: set, col: str, report: list, decimal: str = ".",
                       explicit: bool = False, marks: dict | None = None) -> pd.Series:
    """Turn a text column that is numeric apart from answer codes, decimal commas and thousands
    separators into numbers; whole numbers longer than 15 digits (ids) stay text."""
    head = s.dropna().iloc[:200].astype("str").str.strip()
    head = head[(head != "") & ~head.str.lower().isin(na_text)]
    numberish = pd.to_numeric(head, errors="coerce").notna() | head.str.match(_NUMBERISH)
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
    long_int = rest.str.len().gt(15)
    if long_int.any():
        long_int = rest[long_int].str.fullmatch(r"[+-]?\d{16,}")
    if long_int.any() or (marks or {}).get(col, {}).get("text"):
        if marks is not None:            # every later chunk keeps the column as text too
            marks.setdefault(col, {})["text"] = True
        _add(report, col, "whole numbers of more than 15 digits kept as text (a float cannot "
             "hold them exactly)", None, long_int.sum())
        return txt.where(s.notna())
    nums = None
    try:
        nums = rest.astype(float)            # fast path: every remaining cell is a number
        known = (marks or {}).get(col, {}).get("mark", decimal)
        if known == "," and rest.str.match(_GROUPED["."]).any():
            nums = None                      # "1.234" in a decimal-comma file: see below
    except (ValueError, TypeError):
        pass
    if nums is None:
        nums = _separated_numbers(rest, col, decimal, explicit, report, marks)
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
    for token, n in txt[is_token].value_counts().items():
        _add(report, col, "answer code text set to missing", token, n)
    return out


def _separated_numbers(rest: pd.Series, col: str, decimal: str, explicit: bool,
                       report: list, marks: dict | None = None) -> pd.Series:
    """Numbers with a decimal comma or thousands separators -> float (NaN for other text).

    ``1,5`` and ``1.234,5`` show a decimal comma, ``3.75`` and ``1,234.5`` a decimal point; the
    ambiguous ``1,234`` / ``1.234`` (thousands, or three decimals) follow the column's evidence,
    else ``decimal`` (the file's mark; warned about), and a column with both marks and
    ambiguous cells is refused. Spaces, no-break spaces and apostrophes group thousands.
    ``marks`` carries each column's decision from chunk to chunk, so all chunks agree.
    """
    marks = {} if marks is None else marks
    prev = marks.get(col)
    m = {key: rest.str.match(rx) for key, rx in (
        ("gc", _GROUPED[","]), ("gd", _GROUPED["."]), ("tc", _THOUSANDS_THEN_DECIMAL[","]),
        ("td", _THOUSANDS_THEN_DECIMAL["."]), ("dc", _DECIMAL_ONLY[","]),
        ("dd", _DECIMAL_ONLY["."]), ("sp", _SPACE_GROUPED))}
    m["dc"] &= ~m["gc"]
    m["dd"] &= ~m["gd"]
    evidence = {".": bool((m["tc"] | m["dd"]).any()), ",": bool((m["td"] | m["dc"]).any())}
    by_default = False
    if explicit:
        mark = decimal
    elif evidence["."] != evidence[","]:
        mark = "." if evidence["."] else ","
        if prev and prev["default"] and prev["ambiguous"] and prev["mark"] != mark:
            raise CXDataError(
                f"Column {col!r}: earlier rows held values like {prev['example']!r} read with "
                f"the file's decimal mark {prev['mark']!r}, but later rows show {mark!r} as the "
                f"decimal mark (e.g. {rest[m['dc'] | m['td'] | m['dd'] | m['tc']].iloc[0]!r}). "
                f"Pass decimal={mark!r} (or decimal={prev['mark']!r}) to read them one way.")
    elif not any(evidence.values()):
        mark, by_default = (prev["mark"], prev["default"]) if prev else (decimal, True)
    else:
        mark = None
    ambiguous = m["gc"] | m["gd"]
    if mark is not None and (ambiguous.any() or not by_default):
        marks[col] = {"mark": mark, "default": by_default,
                      "ambiguous": bool(ambiguous.any()) or bool(prev and prev["ambiguous"]),
                      "example": rest[ambiguous].iloc[0] if ambiguous.any() else
                      (prev or {}).get("example"), "warned": bool(prev and prev["warned"])}
    if mark is None and ambiguous.any():
        raise CXDataError(
            f"Column {col!r} mixes decimal commas and decimal points (e.g. "
            f"{_preview(rest[m['dc'] | m['td']].unique()[:2])} and "
            f"{_preview(rest[m['dd'] | m['tc']].unique()[:2])}), so values like "
            f"{_preview(rest[ambiguous].unique()[:3])} could be thousands or decimals. Pass "
            "decimal=',' or decimal='.', or fix the export.")
    norm = rest.copy()
    norm[m["tc"]] = rest[m["tc"]].str.replace(",", "", regex=False)
    norm[m["td"]] = rest[m["td"]].str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    norm[m["dc"]] = rest[m["dc"]].str.replace(",", ".", regex=False)
    norm[m["sp"]] = rest[m["sp"]].str.replace(r"[ \u00a0\u202f']", "", regex=True) \
        .str.replace(",", ".", regex=False)
    thousands = m["tc"] | m["td"] | m["sp"]
    commas = m["td"] | m["dc"] | (m["sp"] & rest.str.contains(",", regex=False))
    if mark == ".":
        norm[m["gc"]] = rest[m["gc"]].str.replace(",", "", regex=False)
        thousands |= m["gc"]
        read_as = m["gc"]
    elif mark == ",":
        norm[m["gd"]] = rest[m["gd"]].str.replace(".", "", regex=False)
        norm[m["gc"]] = rest[m["gc"]].str.replace(",", ".", regex=False)
        thousands |= m["gd"]
        commas |= m["gc"]
        read_as = ambiguous
    else:
        read_as = ambiguous & False
    nums = pd.to_numeric(norm, errors="coerce")
    _add(report, col, "thousands separators removed", None, int((thousands & nums.notna()).sum()))
    _add(report, col, "decimal comma converted to number", None, int((commas & nums.notna()).sum()))
    if by_default and read_as.any() and not marks[col]["warned"]:
        marks[col]["warned"] = True
        ex = rest[read_as].iloc[0]
        other = "," if mark == "." else "."
        _warn(
            f"Column {col!r}: {int(read_as.sum())} value(s) such as {ex!r} could be thousands or "
            f"decimals; they were read as {float(nums[read_as].iloc[0]):g} because the file's "
            f"decimal mark is {mark!r} and the column shows no other. Pass decimal={other!r} if "
            "they are decimals.")
        _add(report, col, f"ambiguous numbers read with the file's decimal mark {mark!r}",
             ex, int(read_as.sum()))
    return nums


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
                              f"not have.{suggest_columns(missing, data.columns)}")
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
           user_missing: dict, label_missing: bool, report: list, decimal: str = ".",
           explicit_decimal: bool = False, text_columns=(), marks: dict | None = None
           ) -> pd.DataFrame:
    na_set = {t.strip().lower() for t in na_text} if na_text else set()
    dtypes = list(df.dtypes)
    names = list(df.columns)
    text = [j for j, dt in enumerate(dtypes) if names[j] not in text_columns
            and not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
                     or isinstance(dt, pd.CategoricalDtype)
                     or pd.api.types.is_datetime64_any_dtype(dt))]
    floats = [names[j] for j, dt in enumerate(dtypes)
              if pd.api.types.is_float_dtype(dt) and names[j] not in text_columns]
    if floats:                       # one vectorised pass, then only the columns that hit
        big = (df[floats].abs() >= 2.0 ** 53).any()
        for col in big.index[big.to_numpy()]:
            _warn_lost_digits(df[col], col, report)
    if text:
        df = df.copy(deep=False)
        for j in text:
            df.isetitem(j, _clean_text_column(df.iloc[:, j], na_set, names[j], report, decimal,
                                              explicit_decimal, marks))
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
                                  f"does not have.{suggest_columns(absent, df.columns)}")
        df, rep = recode_missing(df, missing_codes)
        report.extend(rep.to_dict("records"))
    return df


def _warn_lost_digits(s: pd.Series, col: str, report: list) -> None:
    """Whole numbers at or above 2**53 in a float column have lost digits (ids may merge)."""
    big = s.abs() >= 2.0 ** 53
    if big.any():
        n = int(big.sum())
        _add(report, col, "whole numbers above 2**53 stored as floats (digits lost)", None, n)
        _warn(
            f"Column {col!r} holds {n} number(s) of 2**53 or more (e.g. {s[big].iloc[0]:.17g}) "
            "stored as floats, which keep only about 16 digits: distinct ids may have merged. "
            f"Read the column as text (text_columns=[{col!r}]) or store the ids as text in the "
            "export.")


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
            OverflowError, MemoryError, ElementTree.ParseError, zlib.error]
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
    if kw["decimal"] == kw["sep"]:   # decimal commas in a comma-delimited file sit in quotes;
        kw["decimal"] = "."          # the text cleaning reads them with decimal=','
    return kw


def _unique_names(names: Sequence[str]) -> tuple[list[str], list[str]]:
    """Repeated names made unique with suffixes .1, .2 ... in linear time (pandas' own renaming
    is quadratic: 20,000 copies of one name take 12 s). Returns ``(names, repeated)``."""
    names = [str(n) if str(n) != "" else f"Unnamed: {j}" for j, n in enumerate(names)]
    counts = Counter(names)
    repeated = sorted(n for n, k in counts.items() if k > 1)
    if not repeated:
        return names, []
    used, nxt, out = set(names), {}, []
    for n in names:
        if n not in nxt:
            nxt[n] = 1
            out.append(n)
            continue
        k = nxt[n]
        while f"{n}.{k}" in used:
            k += 1
        out.append(f"{n}.{k}")
        used.add(f"{n}.{k}")
        nxt[n] = k + 1
    return out, repeated


def _check_columns(df: pd.DataFrame, path: Path, report: list,
                   repeated: list | None = None) -> pd.DataFrame:
    names = [str(c) for c in df.columns]
    if repeated is not None:                      # renamed before parsing (CSV)
        dup, mangled = set(repeated), []
    else:
        counts = Counter(names)                   # linear: 5 million names in seconds
        dup = {n for n, k in counts.items() if k > 1}
        mangled = [n for n in names if re.match(r".+\.\d+$", n) and n.rsplit(".", 1)[0] in counts]
    if dup or mangled:
        shown = sorted(dup) or mangled
        _warn(f"{path.name} has repeated column names ({_preview(shown)}); the copies were "
                      "renamed with suffixes .1, .2 ... Check which one you mean.")
        _add(report, "(file)", "repeated column names renamed", ", ".join(map(str, shown)),
             len(shown))
        if dup and repeated is None:
            df.columns = _unique_names(names)[0]
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


# ------------------------------------------------------------------------------ memory bounds

def _available_memory() -> int | None:
    """Bytes this process may still allocate: the system's MemAvailable, capped by RLIMIT_AS."""
    free = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    free = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource
        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as fh:
                used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            free = soft - used if free is None else min(free, soft - used)
    except (ImportError, OSError, ValueError, IndexError):
        pass
    return free


def _check_allocation(path: Path, rows: int, cols: int, what: str, extra_bytes: int = 0) -> None:
    """Refuse to build a frame of ``rows x cols`` cells larger than MAX_CELLS or free memory."""
    cells = rows * cols
    need = cells * 8 + extra_bytes
    free = _available_memory()
    if cells <= MAX_CELLS and (free is None or need <= free):
        return
    limit = (f"more than the {MAX_CELLS:,} cells cxlab builds at once (cxlab.io.MAX_CELLS)"
             if cells > MAX_CELLS else f"more than the {free / 1e9:.1f} GB of memory free")
    raise CXDataError(f"{path.name}: {what} holds {rows:,} rows x {cols:,} columns = {cells:,} "
                      f"cells, about {need / 1e9:.1f} GB in memory, {limit}. Read only the columns "
                      "you need (usecols=[...]) or read in chunks (chunksize=..., "
                      "cx.io.iter_survey).")


# ------------------------------------------------------------------------------------- excel

def _xlsx_cells(path: Path, sheet) -> tuple[dict, list, list, str]:
    """Stream the cells of one sheet: ``({col: {row: value}}, error cells, formulas without a
    cached value, sheet name)``. Only cells that hold something are stored, so a stray cell at
    XFD1048576 costs one entry, not the 17 billion cells of its bounding box (pandas/openpyxl
    pad every row to the widest one). Uses openpyxl's own streaming worksheet parser."""
    import openpyxl
    from openpyxl.worksheet._reader import FORMULA_TAG, WorkSheetParser

    class Parser(WorkSheetParser):
        def parse_cell(self, element):
            cell = super().parse_cell(element)
            if cell["value"] is None and element.find(FORMULA_TAG) is not None:
                cell["data_type"] = "formula without value"
            return cell

    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        names = wb.sheetnames
        if isinstance(sheet, (int, np.integer)) and not isinstance(sheet, bool):
            if not 0 <= sheet < len(names):
                raise CXDataError(f"{path.name} has {len(names)} sheet(s) ({_preview(names)}); "
                                  f"there is no sheet number {sheet} (counting from 0).")
            name = names[sheet]
        elif sheet in names:
            name = sheet
        else:
            close = difflib.get_close_matches(str(sheet), names, n=3)
            hint = f" Did you mean {_preview(close)}?" if close else ""
            raise CXDataError(f"{path.name} has no sheet {sheet!r}.{hint} Sheets: "
                              f"{_preview(names, 50)}.")
        ws = wb[name]
        if not hasattr(ws, "_get_source"):
            raise CXDataError(f"Sheet {name!r} of {path.name} is a chart, not a table.")
        cols: dict = {}
        errors, no_value = [], []
        n = 0
        with ws._get_source() as src:
            parser = Parser(src, ws._shared_strings, data_only=True, epoch=wb.epoch,
                            date_formats=wb._date_formats, timedelta_formats=wb._timedelta_formats)
            for _, row in parser.parse():
                for cell in row:
                    value, kind = cell["value"], cell["data_type"]
                    if kind == "formula without value":
                        no_value.append((cell["row"], cell["column"]))
                        continue
                    if value is None or (isinstance(value, str) and not value.strip()):
                        continue
                    if kind == "e":
                        errors.append((cell["row"], cell["column"], value))
                    cols.setdefault(cell["column"], {})[cell["row"]] = value
                    n += 1
                    if not n % (1 << 20) and (free := _available_memory()) is not None \
                            and n * _CELL_BYTES > free:
                        raise CXDataError(
                            f"Sheet {name!r} of {path.name} holds more than {n:,} filled cells, "
                            f"about {n * _CELL_BYTES / 1e9:.1f} GB while reading, more than the "
                            f"{free / 1e9:.1f} GB of memory free. Export it as CSV and read it in "
                            "chunks (chunksize=...).")
                    if n > MAX_CELLS:
                        raise CXDataError(
                            f"Sheet {name!r} of {path.name} holds more than {MAX_CELLS:,} filled "
                            "cells, more than cxlab reads at once (cxlab.io.MAX_CELLS). Export "
                            "it as CSV and read it in chunks (chunksize=...).")
        return cols, errors, no_value, name
    finally:
        wb.close()


def _xlsx_frame(path: Path, sheet) -> tuple[pd.DataFrame, dict]:
    """The filled part of a sheet as an object frame indexed by Excel row number, with
    columns named by Excel letter; ``notes`` hold error cells and formulas without values."""
    from openpyxl.utils import get_column_letter

    cols, errors, no_value, name = _xlsx_cells(path, sheet)
    rows = sorted({r for c in cols.values() for r in c})
    if not rows and no_value:
        raise CXDataError(f"Sheet {name!r} of {path.name} holds {len(no_value)} formula(s) but no "
                          "saved results: the workbook was written by a program that does not "
                          "calculate. Open it in Excel (or LibreOffice), save it, and read it again.")
    if not rows:
        raise CXDataError(f"Sheet {name!r} of {path.name} is empty.")
    keys = sorted(cols)
    _check_allocation(path, len(rows), len(keys), f"sheet {name!r} (filled cells span "
                      f"{get_column_letter(keys[0])}{rows[0]}:{get_column_letter(keys[-1])}"
                      f"{rows[-1]})")
    pos = {r: i for i, r in enumerate(rows)}
    data = {}
    for c in keys:
        arr = np.full(len(rows), None, dtype=object)
        for r, v in cols[c].items():
            arr[pos[r]] = v
        data[get_column_letter(c)] = arr
    raw = pd.DataFrame(data, index=pd.Index(rows, name="excel_row"))
    notes = {"sheet": name,
             "errors": [(r, get_column_letter(c), v) for r, c, v in errors],
             "no_value": [(r, get_column_letter(c)) for r, c in no_value],
             "empty_rows": rows[-1] - rows[0] + 1 - len(rows)}
    return raw, notes


def _excel_body(path: Path, raw: pd.DataFrame, notes: dict, header_rows, report: list):
    """Header, survey-platform header rows and body of a sheet read by :func:`_xlsx_frame`;
    error cells and formulas without a cached value are counted per column, and values in
    columns without a header are warned about with their cell address."""
    first = raw.iloc[0]
    header, unnamed = [], []
    for letter, h in first.items():
        if h is None or (isinstance(h, float) and math.isnan(h)):
            header.append(f"Unnamed: {letter}")
            unnamed.append(letter)
        else:
            header.append(str(h).strip())
    rows = [[("" if v is None else str(v)) for v in r] for r in raw.iloc[:60].itertuples(index=False)]
    k = _count_header_rows(rows) if header_rows == "auto" else int(header_rows)
    labels = {}
    if k and len(rows) > 1 and not any(_IMPORT_ID.match(c) for c in rows[1]):
        labels = {h: t.strip() for h, t in zip(header, rows[1]) if t.strip()}
    body = raw.iloc[1 + k:]
    name_of = dict(zip(raw.columns, header))
    first_data = body.index[0] if len(body) else math.inf
    for letter in unnamed:
        filled = body[letter].dropna()
        if len(filled):
            cells = [f"{letter}{r}" for r in filled.index]
            _warn(f"{path.name}: column {letter} has no name in the header row but holds "
                          f"{len(filled)} value(s) ({_preview(cells)}); it is read as "
                          f"'Unnamed: {letter}'. Delete stray cells in Excel, or name the column.")
            _add(report, f"Unnamed: {letter}", "values in a column without a header", None,
                 len(filled))
    errors = Counter((name_of[c], v) for r, c, v in notes["errors"] if r >= first_data)
    for (col, value), n in sorted(errors.items()):
        _add(report, col, "Excel error cell (read as its text, like a CSV)", value, n)
    no_value = [(r, c) for r, c in notes["no_value"] if r >= first_data and c in name_of]
    no_value += [(r, c) for r, c in notes["no_value"] if r >= first_data and c not in name_of]
    if no_value:
        by_col = Counter(name_of.get(c, f"Unnamed: {c}") for _, c in no_value)
        for col, n in sorted(by_col.items()):
            _add(report, col, "formula without a saved result set to missing", None, n)
        _warn(f"{path.name}: {len(no_value)} formula cell(s) have no saved result "
                      f"({_preview([f'{c}{r}' for r, c in no_value])}), so they are missing in "
                      f"columns {_preview(by_col)}. The workbook was written by a program that does "
                      "not calculate: open it in Excel (or LibreOffice) and save it, then read it "
                      "again.")
    if notes["empty_rows"]:
        _add(report, "(file)", "empty rows skipped", None, notes["empty_rows"])
    body = body.reset_index(drop=True)
    body.columns = header
    return body, k, labels


@dataclass
class _Source:
    path: Path
    fmt: str
    info: dict
    chunks: Iterator[pd.DataFrame]


def _check_options(*, delimiter, encoding, decimal, header_rows, usecols, text_columns,
                   sheet) -> None:
    """Refuse option values the readers cannot use, saying what would work."""
    if decimal is not None and decimal not in (".", ","):
        raise CXDataError(f"decimal must be '.' or ',', got {decimal!r}.")
    if delimiter is not None and not (isinstance(delimiter, str) and len(delimiter) == 1):
        raise CXDataError(f"delimiter must be one character such as ',', ';', '\\t' or '|', got "
                          f"{delimiter!r}.")
    if encoding is not None:
        try:
            codecs.lookup(str(encoding))
        except LookupError:
            known = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1250", "cp1251",
                     "cp1252", "iso8859_2", "latin-1"]
            close = difflib.get_close_matches(str(encoding).lower(), known, n=2)
            hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise CXDataError(f"Unknown encoding {encoding!r}.{hint} Common ones: "
                              f"{', '.join(known)}.") from None
    if not (header_rows == "auto" or (isinstance(header_rows, (int, np.integer))
                                      and not isinstance(header_rows, bool) and header_rows >= 0)):
        raise CXDataError(f"header_rows must be 'auto' or a whole number >= 0, got {header_rows!r}.")
    for name, cols in (("usecols", usecols), ("text_columns", text_columns)):
        if cols is not None and (isinstance(cols, (str, bytes)) or not all(
                isinstance(c, str) for c in cols)):
            raise CXDataError(f"{name} must be a list of column names, got {cols!r}.")
    if isinstance(sheet, bool) or not isinstance(sheet, (int, np.integer, str)):
        raise CXDataError(f"sheet must be a sheet name or a number from 0, got {sheet!r}.")


def _open_source(path, fmt, *, sheet, delimiter, encoding, decimal, header_rows, usecols,
                 chunksize, text_columns=None, stacked=True) -> _Source:
    """Check the path, detect the format and open the reader (``stacked``: the chunks end up
    in one frame, so the whole result must fit in memory)."""
    path = Path(path)
    if not path.exists():
        raise CXDataError(f"File not found: {path}. Check the path (relative paths start at "
                          f"{Path.cwd()}).")
    if path.is_dir():
        raise CXDataError(f"{path} is a folder, not a survey file.")
    fmt = _format_of(path, fmt)
    if path.stat().st_size == 0:
        raise CXDataError(f"{path.name} is empty (0 bytes). Export the survey again.")
    _check_options(delimiter=delimiter, encoding=encoding, decimal=decimal,
                   header_rows=header_rows, usecols=usecols, text_columns=text_columns, sheet=sheet)
    info: dict = {"source": str(path), "format": fmt, "variable_labels": {}, "value_labels": {},
                  "user_missing": {}, "decimal_explicit": decimal is not None,
                  "text_columns": list(text_columns or [])}
    usecols = list(usecols) if usecols is not None else None
    try:
        chunks = _open_chunks(path, fmt, info, sheet=sheet, delimiter=delimiter,
                              encoding=encoding, decimal=decimal, header_rows=header_rows,
                              usecols=usecols, chunksize=chunksize, stacked=stacked)
    except CXDataError:
        raise
    except _read_errors() as err:
        raise _wrap(path, fmt, err) from err
    if info["text_columns"]:
        _require(pd.DataFrame(columns=info["file_columns"]), info["text_columns"], path,
                 "text_columns")
    return _Source(path, fmt, info, chunks)


def _open_chunks(path: Path, fmt: str, info: dict, *, sheet, delimiter, encoding, decimal,
                 header_rows, usecols, chunksize, stacked):
    whole = stacked or not chunksize           # must the whole result fit in memory?
    if fmt == "csv":
        cf = sniff_csv(path, encoding=encoding, delimiter=delimiter, header_rows=header_rows)
        if cf.note:
            _warn(cf.note)
        info.update(encoding=cf.encoding, delimiter=cf.delimiter, decimal=decimal or cf.decimal,
                    header_rows=cf.header_rows, variable_labels=dict(cf.labels),
                    file_columns=_unique_names(cf.header)[0])
        if usecols is not None and cf.header_complete:
            _require(pd.DataFrame(columns=info["file_columns"]), usecols, path)
        if whole and cf.rows_estimate:
            _check_allocation(path, cf.rows_estimate, len(usecols) if usecols else cf.columns,
                              "the file (rows estimated from its size)",
                              extra_bytes=0 if chunksize else path.stat().st_size)
        kw = _csv_kwargs(cf, decimal, usecols)
        if cf.header_complete:
            names, repeated = _unique_names(cf.header)
            if repeated:
                kw.update(names=names, header=None, skiprows=range(1 + cf.header_rows))
                info["repeated_names"] = repeated
        as_text = [c for c in dict.fromkeys([*cf.long_integers, *info["text_columns"]])
                   if usecols is None or c in usecols]
        if as_text:
            kw["dtype"] = {c: "str" for c in as_text}
            info["column_marks"] = {c: {"text": True} for c in cf.long_integers}
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
        report = info.setdefault("pending_report", [])
        if path.suffix.lower() == ".xls":
            raw = pd.read_excel(path, sheet_name=sheet, header=None, dtype=object)
            raw = raw.dropna(how="all").dropna(axis=1, how="all")
            if raw.empty:
                raise CXDataError(f"Sheet {sheet!r} of {path.name} is empty.")
            from openpyxl.utils import get_column_letter
            raw.columns = [get_column_letter(j + 1) for j in range(raw.shape[1])]
            raw.index = raw.index + 1
            raw = raw.astype(object).where(raw.notna(), None)
            notes = {"sheet": sheet, "errors": [], "no_value": [], "empty_rows": 0}
        else:
            raw, notes = _xlsx_frame(path, sheet)
        body, k, labels = _excel_body(path, raw, notes, header_rows, report)
        info["file_columns"] = _unique_names(list(body.columns))[0]
        body = body.infer_objects()
        body = body.apply(lambda s: s.astype("str").where(s.notna())
                          if s.dtype == object else s)
        if usecols is not None:
            _require(body, usecols, path)
            body = body[usecols]
        info.update(sheet=notes["sheet"], header_rows=k, variable_labels=labels)
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
                    file_label=getattr(meta, "file_label", None),
                    file_columns=list(meta.column_names))
        info["user_missing"] = user_missing
        if usecols is not None:
            _require(pd.DataFrame(columns=meta.column_names), usecols, path)
        n_rows = getattr(meta, "number_rows", None)
        if whole and n_rows:
            _check_allocation(path, int(n_rows), len(usecols) if usecols else
                              len(meta.column_names), "the file")
        if chunksize:
            chunks = (c for c, _ in pyreadstat.read_file_in_chunks(reader, str(path),
                                                                   chunksize=chunksize, **kw))
        else:
            chunks = iter([reader(str(path), **kw)[0]])
    elif fmt == "parquet":
        import pyarrow.parquet as pq
        pf = pq.ParquetFile(path)
        info["file_columns"] = list(pf.schema_arrow.names)
        if usecols is not None:
            _require(pd.DataFrame(columns=pf.schema_arrow.names), usecols, path)
        if whole:
            _check_allocation(path, pf.metadata.num_rows, len(usecols) if usecols else
                              len(pf.schema_arrow.names), "the file")
        if chunksize:
            chunks = (b.to_pandas() for b in pf.iter_batches(batch_size=chunksize, columns=usecols))
        else:
            chunks = iter([pf.read(columns=usecols).to_pandas()])
    else:  # pragma: no cover - _format_of guards this
        raise CXDataError(f"Unsupported format {fmt!r}.")
    return chunks


def _require(df: pd.DataFrame, cols, path: Path, what: str = "usecols") -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise CXDataError(f"{path.name} has no column {_preview(missing)} ({what})."
                          f"{suggest_columns(missing, df.columns)}")


def suggest_columns(missing: Sequence[str], available: Sequence, limit: int = 100) -> str:
    """' Did you mean ...? Columns in the file: ...' for column names that are not there:
    close matches (difflib) for each missing name, then the available names (up to ``limit``)."""
    names = [str(c) for c in available]
    lowered = {n.lower(): n for n in names}
    hints = []
    for name in missing:
        close = difflib.get_close_matches(str(name), names, n=3, cutoff=0.6)
        if not close and str(name).lower() in lowered:
            close = [lowered[str(name).lower()]]
        if close:
            hints.append(f"{name!r}: did you mean {' or '.join(map(repr, close))}?")
    hint = (" " + " ".join(hints)) if hints else ""
    return f"{hint} Columns in the file ({len(names)}): {_preview(names, limit)}."


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
                text_columns: Sequence[str] | None = None) -> Iterator[pd.DataFrame]:
    """Read a survey file in chunks of ``chunksize`` rows (bounded memory), cleaned as
    :func:`read_survey` does. Each chunk's ``attrs`` carry the read report *for that chunk*;
    the row index continues across chunks."""
    return _iter_survey(path, chunksize, stacked=False, format=format, sheet=sheet,
                        delimiter=delimiter, encoding=encoding, decimal=decimal,
                        header_rows=header_rows, missing_codes=missing_codes, na_text=na_text,
                        label_missing=label_missing, usecols=usecols, text_columns=text_columns)


def _iter_survey(path, chunksize, *, stacked: bool, format, sheet, delimiter, encoding, decimal,
                 header_rows, missing_codes, na_text, label_missing, usecols, text_columns):
    if isinstance(chunksize, bool) or not isinstance(chunksize, (int, np.integer)) or chunksize < 1:
        raise CXDataError(f"chunksize must be a positive whole number, got {chunksize!r}.")
    src = _open_source(path, format, sheet=sheet, delimiter=delimiter, encoding=encoding,
                       decimal=decimal, header_rows=header_rows, usecols=usecols,
                       chunksize=int(chunksize), text_columns=text_columns, stacked=stacked)
    return _iter_clean(src, missing_codes=missing_codes, na_text=na_text,
                       label_missing=label_missing, chunked=True)


_PRIVATE_INFO = ("user_missing", "pending_report", "decimal_explicit", "repeated_names",
                 "column_marks")


def _iter_clean(src: _Source, *, missing_codes, na_text, label_missing, chunked):
    errs = _read_errors()
    offset = 0
    it = iter(src.chunks)
    first = True
    text_columns = set(src.info.get("text_columns", ()))
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
            report.extend(src.info.get("pending_report", []))
            raw = _check_columns(raw, src.path, report, src.info.get("repeated_names"))
        raw.index = pd.RangeIndex(offset, offset + len(raw))
        offset += len(raw)
        for col in text_columns.intersection(raw.columns):
            raw[col] = raw[col].astype("str").where(raw[col].notna())
        user_missing = _expand_ranges(raw, src.info.get("user_missing", {}))
        df = _clean(raw, na_text=na_text, missing_codes=missing_codes, labels={},
                    value_labels_=src.info.get("value_labels", {}), user_missing=user_missing,
                    label_missing=label_missing, report=report,
                    decimal=src.info.get("decimal") or ".",
                    explicit_decimal=src.info.get("decimal_explicit", False),
                    text_columns=text_columns, marks=src.info.setdefault("column_marks", {}))
        info = {k: v for k, v in src.info.items() if k not in _PRIVATE_INFO}
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
                usecols: Sequence[str] | None = None, chunksize: int | None = None,
                text_columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Read a survey export into a DataFrame, detecting the file's conventions.

    The one entry point for files: the study, the report batch and the notebooks all read
    through it (:func:`iter_survey` streams the same cleaning chunk by chunk), so every job
    gets the same detection, the same counted recodes and the same :class:`CXDataError`
    naming the problem and the fix -- never a pandas, zip or codec traceback.

    Parameters
    ----------
    path : str or Path
        CSV/TSV/TXT (optionally .gz/.bz2/.xz/.zip), .xlsx/.xlsm, .sav/.zsav/.por, .dta or
        .parquet.
    format : str, optional
        Override the format guessed from the extension ("csv", "excel", "spss", "stata", ...).
    sheet : int or str
        Excel sheet name or index (from 0).
    delimiter, encoding, decimal : str, optional
        Override the CSV detection (``decimal`` also decides numbers like "1,234" in text
        cells of any format).
    header_rows : int or "auto"
        Extra header rows under the column names ("auto" detects question-text and import-id
        rows of survey platforms; 0 disables).
    missing_codes : list or dict, optional
        Numeric or text codes that mean "no answer": a list applied to every numeric column, or
        ``{column: [codes]}``. Each recode is counted in :func:`read_report`.
    na_text : sequence of str
        Answer texts that mean "no answer" in otherwise numeric columns.
    label_missing : bool
        SPSS/Stata codes whose value label reads like "Don't know"/"Not applicable" become
        missing (counted).
    usecols : list of str, optional
        Read only these columns.
    chunksize : int, optional
        Read and clean this many rows at a time and stack the cleaned chunks: the peak memory is
        the result plus one chunk. The read report is summed over the chunks.
    text_columns : list of str, optional
        Columns kept as text exactly as written (ids, codes with leading zeros). Whole numbers
        of more than 15 digits are kept as text anyway.

    Returns
    -------
    pandas.DataFrame
        Metadata (labels, detection, read report, ``file_columns``: every column of the file)
        in ``attrs["cxlab"]``.

    Notes
    -----
    Limits, each refused with a message saying why: at most :data:`MAX_COLUMNS` columns; at most
    :data:`MAX_CELLS` cells (rows x columns, estimated from the file size for CSV) and no more
    than the memory free; an Excel sheet is sized by its filled cells, not its stated range.

    Examples
    --------
    >>> df = cx.io.read_survey("export.csv", missing_codes={"q1": [98, 99]})  # doctest: +SKIP
    >>> cx.io.read_report(df)                                                  # doctest: +SKIP
    """
    options = {"format": format, "sheet": sheet, "delimiter": delimiter, "encoding": encoding,
               "decimal": decimal, "header_rows": header_rows, "missing_codes": missing_codes,
               "na_text": na_text, "label_missing": label_missing, "usecols": usecols,
               "text_columns": text_columns}
    if chunksize:
        return _read_chunked(path, chunksize, **options)
    src = _open_source(path, format, sheet=sheet, delimiter=delimiter, encoding=encoding,
                       decimal=decimal, header_rows=header_rows, usecols=usecols, chunksize=None,
                       text_columns=text_columns)
    (df,) = list(_iter_clean(src, missing_codes=missing_codes, na_text=na_text,
                             label_missing=label_missing, chunked=False))
    if len(df) == 0:
        raise CXDataError(f"{Path(path).name} has column names but no data rows.")
    return df


def _read_chunked(path, chunksize: int, **options) -> pd.DataFrame:
    parts, report = [], []
    for chunk in _iter_survey(path, chunksize, stacked=True, **options):
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
    """All column names of a survey file (reads its first row only)."""
    options.pop("usecols", None)
    options.pop("chunksize", None)
    first = next(iter_survey(path, chunksize=1, **options))
    return list(survey_info(first).get("file_columns") or map(str, first.columns))


#: The options of :func:`read_survey` (what a configuration's ``read:`` section may set).
READ_OPTIONS = tuple(p for p in inspect.signature(read_survey).parameters if p != "path")

"""The data contract: the tables of a company, their columns and types, and the ``Company`` bundle.

One home for what every other module assumes about the data (``datasets/README.md`` is the
prose version): the four tables (``customers``, ``survey``, ``contacts``, ``pulse``), their
columns in file order with their types after loading, the journey ``TOUCHPOINTS`` of the survey,
the call-quality scorecard ``QA_ITEMS`` of the contacts, the file format (CSV bytes that are
identical on every platform) and the :class:`Company` bundle that the simulator returns, the
loaders read and the reports analyse. Also the package-wide defaults ``MIN_BASE`` (minimum
base below which a result is suppressed) and ``CONFIDENCE`` (confidence level).

    from cxlab.contract import TOUCHPOINTS, Company, MIN_BASE
    company = Company.load("datasets/kestrel")
    company.table("survey")                      # a clear error if the table is absent

Conventions every public function follows (the package's one vocabulary):

* ``confidence`` names every confidence level (default :data:`CONFIDENCE`, 0.95);
* ``min_base`` names the minimum base (default :data:`MIN_BASE`, 30 answers);
* units: shares of people (NPS, CSAT, top box, churn rates, average marginal effects) are
  **percent** (or percentage points for differences) in every result and table; probabilities
  of one customer or one curve (predicted churn probability, Kaplan–Meier survival, bootstrap
  internals) are 0–1 and are named as probabilities; :mod:`cxlab.intervals` works on 0–1;
  one exception: :func:`cxlab.value.revenue_at_risk` keeps the unit of the churn table it
  is given (``scale="proportion"`` or ``"percent"``), as its rates are inputs to money;
* intervals of a quantity ``q`` in new tables are ``q_ci_low`` / ``q_ci_high`` (the
  established ``ci_low`` / ``ci_high`` of a table's one headline quantity stay);
* plotting functions take a result or a table and a keyword-only ``ax``.

Bottom layer: imports only :mod:`cxlab.checks`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .checks import CXDataError

__all__ = [
    "COLUMNS",
    "CONFIDENCE",
    "MIN_BASE",
    "OPTIONAL_TABLES",
    "QA_ITEMS",
    "TABLES",
    "TOUCHPOINTS",
    "Company",
    "columns",
    "date_columns",
    "files_sha256",
]

#: Minimum base (answered responses): results from fewer are suppressed, never published.
MIN_BASE = 30
#: Default confidence level of every interval in the package.
CONFIDENCE = 0.95

#: The ten journey touchpoints rated 1-10 in the relationship survey.
TOUCHPOINTS = ("onboarding", "network_reliability", "network_speed", "billing_clarity",
               "billing_accuracy", "price_value", "support_resolution", "support_speed",
               "digital_selfservice", "shop_experience")
#: The call-quality scorecard items (1-5) of the contacts table.
QA_ITEMS = ("qa_greeting", "qa_verification", "qa_empathy", "qa_ownership", "qa_explanation",
            "qa_compliance", "qa_next_steps")
#: The tables of a company, in the order they are written.
TABLES = ("customers", "survey", "contacts", "pulse")
#: Optional tables: written and read when present (``invitations``: who was invited to each survey
#: wave and who answered; ``true_ltr`` is the simulator's truth, absent from real exports;
#: ``comments``: the open "why?" answer of survey responses, keyed by ``response_id`` or by
#: ``customer_id`` + ``wave``, empty text = nothing written; see :func:`link_comments`).
OPTIONAL_TABLES = ("invitations", "comments")

# dtype after loading: "str" (ids, categories, wave), "date" (datetime64, NaT = missing),
# "int" (int64, always present), "float" (float64, NaN = missing / not asked).
_STR, _DATE, _INT, _FLOAT = "str", "date", "int", "float"

#: Every table's columns in file order, with their type after loading.
COLUMNS: dict[str, dict[str, str]] = {
    "customers": {"customer_id": _STR, "segment": _STR, "region": _STR, "plan": _STR,
                  "channel": _STR, "start_date": _DATE, "end_date": _DATE, "churned": _INT,
                  "tenure_months": _FLOAT, "monthly_revenue": _FLOAT},
    "survey": {"response_id": _STR, "customer_id": _STR, "wave": _STR, "survey_date": _DATE,
               "segment": _STR, "region": _STR, "plan": _STR, "ltr": _INT, "osat": _INT,
               "effort": _INT, **dict.fromkeys(TOUCHPOINTS, _FLOAT)},
    "contacts": {"contact_id": _STR, "customer_id": _STR, "contact_date": _DATE, "wave": _STR,
                 "region": _STR, "channel": _STR, "team": _STR, "agent_id": _STR,
                 "problem_type": _STR, "fcr": _INT, "csat": _FLOAT, "ces": _FLOAT,
                 **dict.fromkeys(QA_ITEMS, _FLOAT)},
    "pulse": {"employee_id": _STR, "team": _STR, "wave": _STR, "engagement": _FLOAT,
              "enps": _INT},
    "invitations": {"customer_id": _STR, "wave": _STR, "responded": _INT, "true_ltr": _INT},
    "comments": {"response_id": _STR, "customer_id": _STR, "wave": _STR, "language": _STR,
                 "comment": _STR},
}
# decimals written for non-integer float columns (others are whole numbers)
_DECIMALS = {"customers": {"tenure_months": 2, "monthly_revenue": 2}, "pulse": {"engagement": 1}}


def columns(table: str) -> list[str]:
    """The columns of ``table`` in file order."""
    if table not in COLUMNS:
        raise CXDataError(f"Unknown table {table!r}; the tables are {', '.join(TABLES)}.")
    return list(COLUMNS[table])


def date_columns(table: str) -> list[str]:
    """The date columns of ``table``."""
    return [c for c in columns(table) if COLUMNS[table][c] == _DATE]


def files_sha256(files: Sequence[Path]) -> str:
    """One SHA-256 over the given files' names and contents (order-independent)."""
    digest = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


# ------------------------------------------------------------------------------- file format
def to_csv_bytes(frame: pd.DataFrame, table: str) -> bytes:
    """Fixed column order, ISO dates, explicit decimals, empty = missing, '\\n' line endings."""
    decimals = _DECIMALS.get(table, {})
    out = {}
    for col, kind in COLUMNS[table].items():
        s = frame[col]
        if kind == _DATE:
            txt = pd.to_datetime(s).dt.strftime("%Y-%m-%d")
        elif col in decimals:
            values = s.to_numpy(dtype=float, na_value=np.nan)
            txt = pd.Series(np.char.mod(f"%.{decimals[col]}f", np.nan_to_num(values)),
                            index=s.index)
        elif pd.api.types.is_numeric_dtype(s):
            values = s.to_numpy(dtype=float, na_value=np.nan)
            txt = pd.Series(np.nan_to_num(values).astype(np.int64).astype(str), index=s.index)
        else:
            txt = s.astype(object)
        out[col] = txt.astype(object).where(s.notna(), "")
    buf = io.StringIO()
    pd.DataFrame(out).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def read_csv_bytes(data: bytes, table: str) -> pd.DataFrame:
    """Parse one table: ids/categories as str, dates as datetime64, complete integer columns as
    int64, columns with missing values (ratings, csat, end_date...) as float64 with NaN."""
    text_cols = [c for c, kind in COLUMNS[table].items() if kind == _STR]
    frame = pd.read_csv(io.BytesIO(data), dtype=dict.fromkeys(text_cols, str),
                        keep_default_na=False, na_values=[""])
    for col in date_columns(table):
        frame[col] = pd.to_datetime(frame[col], format="%Y-%m-%d")
    return frame[columns(table)]


def link_comments(comments: pd.DataFrame, survey: pd.DataFrame | None) -> pd.DataFrame:
    """The comments table in the contract's columns, each comment tied to its survey response.

    A comment is keyed by ``response_id`` or by ``customer_id`` + ``wave``; the missing keys are
    filled from ``survey`` (one response per customer and wave). ``comment`` missing -> ``""``
    (nothing written), ``language`` missing -> ``"en"``. Comments whose keys match no survey
    response are an error naming them (a comment must belong to a response to be analysed).
    """
    frame = comments.copy()
    for col in COLUMNS["comments"]:
        if col not in frame.columns:
            frame[col] = pd.Series(pd.NA, index=frame.index, dtype=object)
    if "comment" not in comments.columns:
        raise CXDataError("The comments table has no 'comment' column; name the column holding "
                          "the open answer (columns: {comment: YOUR_COLUMN}).")
    if survey is not None and len(frame):
        keys = survey[["response_id", "customer_id", "wave"]].astype(object)
        by_id = keys.set_index("response_id")
        has_id = frame["response_id"].notna()
        if has_id.any():
            rid = frame.loc[has_id, "response_id"]
            for col in ("customer_id", "wave"):
                known = rid.map(by_id[col].to_dict())
                frame.loc[has_id, col] = frame.loc[has_id, col].where(
                    frame.loc[has_id, col].notna(), known)
        by_pair = keys.drop_duplicates(["customer_id", "wave"]).set_index(
            ["customer_id", "wave"])["response_id"].to_dict()
        pair = ~has_id & frame["customer_id"].notna() & frame["wave"].notna()
        if pair.any():
            frame.loc[pair, "response_id"] = [by_pair.get((c, w)) for c, w in
                                              zip(frame.loc[pair, "customer_id"],
                                                  frame.loc[pair, "wave"])]
        unmatched = ~frame["response_id"].isin(set(by_id.index))
        if unmatched.any():
            shown = frame.loc[unmatched, ["response_id", "customer_id", "wave"]]
            rows = [f"row {i}: " + " / ".join(map(str, v)) for i, v in
                    zip(shown.index[:5], shown.to_numpy().tolist())]
            raise CXDataError(f"{int(unmatched.sum()):,} comment(s) match no survey response "
                              f"({'; '.join(rows)}). Key each comment by the survey's "
                              "response_id, or by customer_id + wave of its survey answer.")
    for col in ("response_id", "customer_id", "wave"):
        frame[col] = frame[col].astype(object).where(frame[col].notna(), None).astype("str")
    frame["comment"] = frame["comment"].fillna("").astype("str")
    frame["language"] = frame["language"].fillna("en").astype("str")
    return frame[[*COLUMNS["comments"], *[c for c in frame.columns
                                          if c not in COLUMNS["comments"]]]]


def read_comments_csv(path, survey: pd.DataFrame | None) -> pd.DataFrame:
    """Read a comments.csv holding any of the contract's comment columns (the bundled file has
    response_id, language, comment) and :func:`link_comments` it to ``survey``."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for col in ("response_id", "customer_id", "wave"):
        if col in frame.columns:
            frame[col] = frame[col].replace("", pd.NA)
    return link_comments(frame, survey)


# ------------------------------------------------------------------------------------ bundle
@dataclass
class Company:
    """A company's data: one DataFrame per table (``None`` when absent), the truth that generated
    them (simulated companies only), a display name and the files read.

    Made by :func:`cxlab.simulate.company`, read by :meth:`load` / ``cx.datasets.load("kestrel")``
    and analysed by the reports. ``table(name)`` returns a table or raises a clear error.
    """

    customers: pd.DataFrame | None = None
    survey: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None
    pulse: pd.DataFrame | None = None
    truth: dict | None = None
    name: str = ""
    files: tuple[Path, ...] = field(default=(), repr=False)
    invitations: pd.DataFrame | None = None
    comments: pd.DataFrame | None = None

    def table(self, name: str) -> pd.DataFrame:
        """The table ``name``; a :class:`CXDataError` naming the missing file if it is absent."""
        frame = getattr(self, name, None) if name in TABLES + OPTIONAL_TABLES else None
        if frame is None:
            raise CXDataError(f"The data {self.name or 'company'!r} has no {name} table "
                              f"({name}.csv). This analysis needs it: add the file or choose "
                              "another template.")
        return frame

    @property
    def tables(self) -> tuple[str, ...]:
        """Names of the tables present."""
        return tuple(t for t in TABLES if getattr(self, t) is not None)

    def to_bytes(self) -> dict[str, bytes]:
        """The files as bytes (stable formatting), keyed by file name."""
        out = {f"{t}.csv": to_csv_bytes(getattr(self, t), t) for t in self.tables}
        if self.invitations is not None:
            out["invitations.csv"] = to_csv_bytes(self.invitations, "invitations")
        if self.comments is not None:
            out["comments.csv"] = to_csv_bytes(self.comments, "comments")
        if self.truth is not None:
            out["truth.json"] = (json.dumps(self.truth, indent=2, ensure_ascii=False)
                                 + "\n").encode()
        return out

    def save(self, folder) -> Path:
        """Write customers.csv, survey.csv, contacts.csv, pulse.csv and truth.json to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for fname, data in self.to_bytes().items():
            (folder / fname).write_bytes(data)
        return folder

    @classmethod
    def load(cls, folder, name: str | None = None) -> Company:
        """Read a folder written by :meth:`save` (types parsed: dates, nullable ratings)."""
        folder = Path(folder)
        missing = [f"{t}.csv" for t in TABLES if not (folder / f"{t}.csv").exists()]
        if not (folder / "truth.json").exists():
            missing.append("truth.json")
        if missing:
            raise FileNotFoundError(f"{folder} lacks {', '.join(missing)}; write it with "
                                    "cx.simulate.company(...).save(folder).")
        frames = {t: read_csv_bytes((folder / f"{t}.csv").read_bytes(), t) for t in TABLES}
        truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
        files = tuple(folder / f for f in [*(f"{t}.csv" for t in TABLES), "truth.json"])
        inv = folder / "invitations.csv"
        if inv.exists():   # optional; not (yet) in ``files``: no report reads it so far
            frames["invitations"] = read_csv_bytes(inv.read_bytes(), "invitations")
        # optional, and deliberately not in ``files``: ``files`` feeds ``data_sha256``, the data
        # fingerprint every report manifest, cache key and stored notebook output pins; adding
        # an optional table must not change the fingerprint of data that had no such table.
        if (folder / "comments.csv").exists():
            frames["comments"] = read_comments_csv(folder / "comments.csv", frames["survey"])
        return cls(truth=truth, name=name or folder.name, files=files, **frames)

    def sha256(self) -> dict[str, str]:
        """SHA-256 of every file as :meth:`to_bytes` writes it, keyed by file name."""
        return {k: hashlib.sha256(v).hexdigest() for k, v in self.to_bytes().items()}

    @property
    def data_sha256(self) -> str:
        """One fingerprint of the input: over the files read, else over the bytes written."""
        if self.files:
            return files_sha256(self.files)
        digest = hashlib.sha256()
        for fname, data in sorted(self.to_bytes().items()):
            digest.update(fname.encode())
            digest.update(hashlib.sha256(data).digest())
        return digest.hexdigest()

    def __repr__(self) -> str:
        sizes = ", ".join(f"{t}={len(getattr(self, t)):,}" for t in self.tables)
        label = (self.truth or {}).get("name") or self.name or "company"
        return f"Company({label}: {sizes})"

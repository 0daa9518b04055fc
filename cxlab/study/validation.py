"""Validation of the analyst's data against the schema: the readable validation report.

Errors stop the study (the report names the column, the offending values and rows and the
fix); warnings go into the study output. :func:`validate_file` validates a large file chunk by
chunk in bounded memory.

    report = cx.study.validate(schema, data, customers)
    report                                            # readable: errors, warnings, missing shares
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd

from .. import io as cxio
from ..checks import CXDataError, Findings, _preview
from .loading import READ_CHUNK, _load_customers_only, _resolve, load_data
from .rules import _apply_filter, _binary, _key, _numeric, _reverse
from .schema import StudySchema

_MAX_EXAMPLES = 10
_MAX_LEVELS = 1000


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
class ValidationReport(Findings):
    """The validator's findings, a per-column missing table and the rows checked."""

    issues: list[Issue]
    columns: pd.DataFrame          # column, role, n, n_missing, share_missing, n_recoded
    n_rows: int
    usable_rows: int
    read_report: pd.DataFrame = field(default_factory=pd.DataFrame)
    title: str = "Data check"

    def summary(self) -> pd.DataFrame:
        """One row per finding: severity, check, column, n, message."""
        return self._findings(["severity", "check", "column", "n", "message"])

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
        self.id_big = _Examples()
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

    def check_columns(self, columns, file_columns=None) -> bool:
        """Every configured column is in the data; otherwise one error naming the absent ones
        with close matches among *all* the file's columns (the reader reads only the needed
        ones, so ``columns`` alone would hide the right name)."""
        needed = self.s.columns_needed()
        absent = [c for c in needed if c not in columns]
        if absent:
            every = list(file_columns) if file_columns else list(map(str, columns))
            self._issue("error", "columns", ", ".join(absent),
                        f"The data have no column {', '.join(map(repr, absent))}."
                        f"{cxio.suggest_columns(absent, every, limit=15)} Fix the name in the "
                        "study configuration.", n=len(absent))
            self.columns_missing = absent
            return False
        return True

    def update(self, chunk: pd.DataFrame) -> None:
        s = self.s
        if not self.columns_checked:
            self.columns_checked = True
            if not self.check_columns(chunk.columns,
                                      cxio.survey_info(chunk).get("file_columns")):
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
        if pd.api.types.is_float_dtype(ids):
            big = ids.abs() >= 2.0 ** 53
            if big.any():
                self.id_big.add(big, ids)
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
            if self.id_big.n:
                self._issue("error", "ids read as numbers", s.id,
                            f"{self.id_big.n:,} id(s) in {s.id!r} were read as floating-point "
                            f"numbers of 2^53 or more (e.g. {_preview(self.id_big.values)} at rows "
                            f"{_preview(self.id_big.rows)}): beyond 2^53 distinct ids round to "
                            "the same number, so duplicates cannot be told. Read the column as "
                            f"text: read: {{text_columns: [{s.id}]}}.", self.id_big)
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
            small = {k: v for k, v in counts.items() if v < s.min_base}
            if small:
                shown = ", ".join(f"{k} (n = {v})" for k, v in sorted(small.items(),
                                                                            key=lambda kv: kv[1])[:8])
                self._issue("warning", "small segments", c,
                            f"{len(small)} of {len(counts)} {c!r} segment(s) have fewer than "
                            f"{s.min_base} answers: {shown}. Their results are suppressed.",
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


def validate(schema: StudySchema, data: pd.DataFrame, customers: pd.DataFrame | None = None
             ) -> ValidationReport:
    """Check the data against the schema; return a readable :class:`ValidationReport`.

    Errors: missing columns, text in numeric columns, ratings out of scale (offending values and
    rows), duplicate ids, a join that matches nothing, constant or empty drivers, a binary outcome
    without exactly two levels, bad weights, too few usable rows. Warnings: unmatched join ids,
    columns mostly missing, reversed scales, straight-liners, small segments, duplicate rows.
    """
    from ..checks import require_frame
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
    options.pop("chunksize", None)      # this function reads chunksize rows at a time itself
    head = next(cxio.iter_survey(path, chunksize=1, **options))
    v.columns_checked = True
    if v.check_columns(head.columns):
        for chunk in cxio.iter_survey(path, chunksize=chunksize, usecols=schema.columns_needed(),
                                      **options):
            v.update(chunk)
    return v.finish()

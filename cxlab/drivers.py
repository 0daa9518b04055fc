"""Key driver analysis: relative importance of correlated drivers, bootstrap intervals, quadrant map.

Which touchpoint ratings drive the overall score (e.g. likelihood to recommend)? When drivers are
correlated, a regression coefficient does not say how much of the explained variance each one
carries. Relative-importance methods split the model R² between the drivers:

    import cxlab as cx
    res = cx.drivers.analyze(survey, "ltr", drivers, bootstrap=1000, seed=0)
    res.importance          # importance, share, rank, ci_low, ci_high per driver
    res.quadrant()          # importance x performance: Fix / Maintain / Monitor / Don't over-invest
    res.plot(); res.plot_quadrant(); res.differences()

Methods (``method=``), all computed from the (weighted) correlation matrix, i.e. from sufficient
statistics, never by refitting regressions on raw rows:

* ``"lmg"`` — LMG / Shapley decomposition of R² (Lindeman, Merenda & Gold 1980; Grömping 2006,
  J. Stat. Software 17(1)): ``LMG_j = Σ_{S ⊆ D∖{j}} |S|!(p−|S|−1)!/p! · [R²(S∪{j}) − R²(S)]``.
  Exact for up to :data:`EXACT_MAX_DRIVERS` players; beyond, Monte-Carlo permutation sampling
  (see :func:`relative_importance`). Sums to the model R².
* ``"relative_weights"`` — Johnson (2000, Multivariate Behav. Res. 35:1): with ``R = VΛV'`` and
  ``Λ½ = VΛ^{1/2}V'``, ``β* = Λ½⁻¹ r_xy``, ``ε_j = Σ_k (Λ½)_{jk}² β*_k²``; equal to Genizi (1993).
  Sums to R².
* ``"pratt"`` — Pratt (1987): ``β_j · r_jy`` (standardised coefficient times zero-order r). Sums to R².
* ``"first"`` — squared zero-order correlation ``r_jy²`` (R² of the driver alone).
* ``"last"`` — usefulness (Darlington 1968): ``R²(all) − R²(all but j)``.
* ``"betasq"`` — squared standardised coefficient ``β_j²``.
* ``"car"`` — CAR scores (Zuber & Strimmer 2011): ``(R^{-1/2} r_xy)_j²``. Sums to R².

Results match R's relaimpo 2.2-7 (``calc.relimp``) to 1e-9 (see tests/data/relaimpo/).

A binary outcome (retained, top-box) is analysed with a logistic model and a stated pseudo-R²
(McFadden by default; Estrella, Cox–Snell, Nagelkerke) as in dominance analysis for logistic
regression (Azen & Traxel 2009): the Shapley value of the pseudo-R² over all driver subsets.
The 2^p logistic fits are made together by :mod:`cxlab._logit_subsets` (pattern table, batched
Newton steps, warm starts from nested models; equal to statsmodels refits to 1e-8); beyond
:data:`LOGISTIC_EXACT_MAX_DRIVERS` players, permutation sampling with a stated error bound.
"""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ._logit_subsets import LogitSubsets, single_blas_thread
from . import engine as _engine
from .checks import CXDataError, CXWarning, _preview, require_columns, require_frame

__all__ = [
    "EXACT_MAX_DRIVERS",
    "METHODS",
    "NEAR_COLLINEAR_COND",
    "PSEUDO_R2",
    "QUADRANTS",
    "DriverResult",
    "SegmentedDriverResult",
    "analyze",
    "percentile_interval",
    "population_importance",
    "relative_importance",
]

#: Largest number of players (drivers or groups) for which LMG is computed exactly over all
#: 2^p subsets (p = 24: about 3 s and 1 GB of working memory). Beyond it, permutation sampling.
EXACT_MAX_DRIVERS = 24
#: Largest number of players for the exact logistic (pseudo-R²) decomposition: every subset needs
#: its own maximum-likelihood fit on the rows, so the cost grows as 2^p model fits (about 25 ns of
#: CPU per subset and row: p = 14 on 25,000 rows in 11 CPU-s, p = 16 about four times that).
LOGISTIC_EXACT_MAX_DRIVERS = 16
#: Condition number (λmax/λmin of the drivers' correlation matrix) above which a warning is given.
#: 1000 corresponds to Belsley's condition index of about 30 for standardised data.
NEAR_COLLINEAR_COND = 1e3
#: λmin/λmax below which drivers are treated as perfectly collinear (an error).
_SINGULAR_TOL = 1e-12
#: Number of delete-a-group jackknife groups used for the BCa acceleration constant.
BCA_JACKKNIFE_GROUPS = 100
#: ``analyze(resample="auto")`` resamples rows up to this many usable rows (case resampling, as
#: relaimpo's ``boot.relimp``; cost n x B) and uses the bucket bootstrap beyond (cost G x B).
ROW_BOOTSTRAP_MAX_N = 50_000

METHODS = ("lmg", "relative_weights", "pratt", "first", "last", "betasq", "car")
_METHOD_ALIASES = {"shapley": "lmg", "johnson": "relative_weights", "genizi": "relative_weights",
                   "rw": "relative_weights", "usefulness": "last", "dominance": "lmg"}
_GROUPABLE = {"lmg", "first", "last"}
_LOGISTIC_METHODS = {"lmg", "first", "last"}
PSEUDO_R2 = ("mcfadden", "estrella", "cox_snell", "nagelkerke")
QUADRANTS = ("Fix", "Maintain", "Monitor", "Don't over-invest")


# --------------------------------------------------------------------------------------------
# input preparation
# --------------------------------------------------------------------------------------------

@dataclass
class _Design:
    """Validated analysis data: columns ordered player by player, outcome last.

    Two forms. *Rows* (logistic, pairwise): ``Z`` and ``w`` hold the analysis rows. *Moments*
    (linear model, listwise — the usual case, and every engine source): ``moments`` holds the
    weighted moments of the analysis rows (one pass, O(n·p) memory, see :mod:`cxlab.engine`) and
    ``bucket_moments`` their split into bootstrap buckets; ``Z``, ``w`` and ``frame`` are then
    materialised from ``source`` only if something asks for rows (the row bootstrap, top-box).
    """
    _Z: np.ndarray | None         # n x (q+1) values, drivers in player order then outcome (may hold NaN if pairwise)
    _w: np.ndarray | None         # n case weights (ones if none)
    columns: list[str]            # driver columns in player order
    players: list[str]            # player names (driver or group names)
    sizes: list[int]              # columns per player
    outcome: str
    family: str                   # "linear" or "logistic"
    missing: str
    n_total: int
    n_used: int
    dropped: dict[str, int]       # column -> missing values among all rows (listwise)
    weighted: bool
    _frame: pd.DataFrame | None   # analysis rows (drivers + outcome) for performance
    notes: list[str] = field(default_factory=list)
    C: np.ndarray | None = None   # correlation matrix of the analysis sample (set by the checks)
    n_rows: int | None = None     # rows kept by listwise deletion (weight 0 included)
    moments: object | None = None         # engine.Moments of the analysis rows (total)
    bucket_moments: object | None = None  # engine.Moments by bootstrap bucket
    source: object | None = None          # DataFrame or engine.Source the moments came from
    keep: np.ndarray | None = None        # in memory: listwise mask over the source's rows
    w_all: np.ndarray | None = None       # in memory: weights of all source rows
    weights_col: str | None = None        # engine: the weight column
    resample: str = "rows"                # bootstrap: "rows" or "buckets"

    @property
    def q(self) -> int:
        return len(self.columns)

    @property
    def Z(self) -> np.ndarray:
        if self._Z is None:
            self._Z = self._rows()[0]
        return self._Z

    @property
    def w(self) -> np.ndarray:
        if self._w is None:
            self._Z, self._w = self._rows()
        return self._w

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            self._frame = pd.DataFrame(self.Z, columns=self.columns + [self.outcome])
        return self._frame

    def _rows(self) -> tuple[np.ndarray, np.ndarray]:
        """The analysis rows of a moments design (listwise complete rows, source order)."""
        cols = self.columns + [self.outcome]
        if isinstance(self.source, pd.DataFrame):
            Z = np.column_stack([_engine._float_values(self.source[c])[self.keep] for c in cols])
            w = np.ones(len(Z)) if self.w_all is None else self.w_all[self.keep]
            return Z, w
        extra = [self.weights_col] if self.weights_col else []
        rows = _engine.collect(self.source, cols + extra).apply(pd.to_numeric, errors="coerce")
        rows = rows.loc[rows.notna().all(axis=1)]
        w = rows[self.weights_col].to_numpy(float) if self.weights_col else np.ones(len(rows))
        return rows[cols].to_numpy(float), w


def _method_name(method: str) -> str:
    m = str(method).lower().strip()
    m = _METHOD_ALIASES.get(m, m)
    if m not in METHODS:
        raise CXDataError(f"Unknown method {method!r}. Choose one of {', '.join(METHODS)}.")
    return m


def _players(drivers: list[str], groups) -> tuple[list[str], list[list[str]]]:
    """Players (group or driver names) and their columns, in order of first appearance."""
    if groups is None:
        return list(drivers), [[d] for d in drivers]
    if not isinstance(groups, Mapping):
        raise CXDataError("groups must be a dict {group name: [driver, ...]}, e.g. "
                          "{'support': ['support_speed', 'support_resolution']}.")
    owner: dict[str, str] = {}
    for name, members in groups.items():
        members = [members] if isinstance(members, str) else list(members)
        if not members:
            raise CXDataError(f"Group {name!r} has no drivers.")
        unknown = [m for m in members if m not in drivers]
        if unknown:
            raise CXDataError(f"Group {name!r} lists {_preview(unknown)}, which are not among the "
                              f"drivers. Add them to drivers or remove them from the group.")
        for m in members:
            if m in owner:
                raise CXDataError(f"Driver {m!r} is in two groups ({owner[m]!r} and {name!r}). "
                                  "Each driver can belong to one group only.")
            owner[m] = str(name)
        if name in drivers and name not in members:
            raise CXDataError(f"Group name {name!r} is also the name of another driver; rename it.")
    names, cols = [], []
    for d in drivers:
        player = owner.get(d, d)
        if player not in names:
            names.append(player)
            cols.append([])
        cols[names.index(player)].append(d)
    return names, cols


def _numeric_block(data: pd.DataFrame, columns: list[str], role: str) -> pd.DataFrame:
    """Columns as float, with one error naming every non-numeric column."""
    bad = {}
    out = {}
    for c in columns:
        raw = data[c]
        if pd.api.types.is_bool_dtype(raw):
            raw = raw.astype(float)
        vals = pd.to_numeric(raw, errors="coerce") if not pd.api.types.is_numeric_dtype(raw) else raw
        text = vals.isna() & raw.notna()
        if text.any():
            bad[c] = pd.unique(raw[text].astype(str))
        out[c] = vals.astype(float)
    if bad:
        detail = "; ".join(f"{c!r} holds {_preview(v, 3)}" for c, v in bad.items())
        raise CXDataError(
            f"{role} must be numeric ratings, but {len(bad)} column(s) hold text: {detail}. "
            "Recode answers such as \"Don't know\" to missing; for a categorical driver create "
            "0/1 dummy columns and pass them together as a group (groups={...}).")
    frame = pd.DataFrame(out, index=data.index)
    inf = ~np.isfinite(frame.to_numpy()) & frame.notna().to_numpy()
    if inf.any():
        cols = [c for c, flag in zip(columns, inf.any(axis=0)) if flag]
        raise CXDataError(f"Column(s) {_preview(cols)} hold infinite values. Replace them with real "
                          "values or missing.")
    return frame


def _weights_vector(data: pd.DataFrame, weights) -> np.ndarray | None:
    if weights is None:
        return None
    if isinstance(weights, str):
        require_columns(data, [weights])
        w = pd.to_numeric(data[weights], errors="coerce")
        if w.isna().any():
            raise CXDataError(f"Weight column {weights!r} has missing or non-numeric values at rows "
                              f"{_preview(w.index[w.isna()])}. Weights must be numbers >= 0.")
        w = w.to_numpy(dtype=float)
        label = repr(weights)
    else:
        w = np.asarray(weights, dtype=float).ravel()
        label = "weights"
        if len(w) != len(data):
            raise CXDataError(f"weights has {len(w)} values but data has {len(data)} rows.")
        if np.isnan(w).any():
            raise CXDataError("weights has missing values. Weights must be numbers >= 0.")
    if not np.all(np.isfinite(w)) or (w < 0).any():
        rows = data.index[~np.isfinite(w) | (w < 0)]
        raise CXDataError(f"Weight {label} has negative or infinite values at rows {_preview(rows)}.")
    if w.sum() <= 0:
        raise CXDataError(f"Weight {label} sums to zero.")
    return w


def _pairwise_n(frame: pd.DataFrame, w: np.ndarray) -> pd.DataFrame:
    """Rows (with weight > 0) answering both columns, for every pair of columns."""
    obs = frame.notna().to_numpy(float) * (w > 0)[:, None]
    return pd.DataFrame(obs.T @ obs, index=frame.columns, columns=frame.columns)


def _least_overlap(N: pd.DataFrame, k: int = 3) -> str:
    """The k pairs answered together by the fewest rows, as 'a & b (n=..)'."""
    iu = np.triu_indices(len(N), 1)
    vals = N.to_numpy()[iu]
    order = np.argsort(vals, kind="stable")[:k]
    return ", ".join(f"{N.index[iu[0][o]]} & {N.index[iu[1][o]]} (n={vals[o]:.0f})" for o in order)


def _prepare(data, outcome, drivers, *, weights=None, missing="listwise", groups=None,
             family="auto", warn_dropped=True, min_pairwise_n=None, resample=None,
             row_id=None) -> _Design:
    """Validate and prepare. ``resample``: the bootstrap planned ("rows", "buckets", "auto" or
    None for none), so that a moments design computes its bucket moments in the same pass."""
    engine_source = _engine.is_engine_source(data)
    if not engine_source:
        data = require_frame(data)
    if isinstance(drivers, str):
        drivers = [drivers]
    if drivers is None or len(drivers) == 0:
        raise CXDataError("Name at least one driver column, e.g. drivers=['billing', 'support'].")
    drivers = [d for d in drivers]
    dupes = sorted({d for d in drivers if drivers.count(d) > 1})
    if dupes:
        raise CXDataError(f"Driver(s) {_preview(dupes)} are listed more than once.")
    if outcome in drivers:
        raise CXDataError(f"Driver {outcome!r} is the outcome itself. Remove it from drivers.")
    if missing not in ("listwise", "pairwise"):
        raise CXDataError(f"missing must be 'listwise' or 'pairwise', not {missing!r}.")
    names, members = _players(drivers, groups)
    columns = [c for m in members for c in m]
    sizes = [len(m) for m in members]
    if engine_source:
        return _prepare_source(data, outcome, columns, names, sizes, weights=weights,
                               missing=missing, groups=groups, family=family,
                               warn_dropped=warn_dropped, min_pairwise_n=min_pairwise_n,
                               resample=resample, row_id=row_id)
    _engine.require_columns(data.columns, [outcome, *drivers] + ([row_id] if row_id else []))
    _no_answers(data, columns, outcome)
    y = _numeric_block(data, [outcome], "The outcome")[outcome]
    fam = _family(family, pd.unique(y.dropna()), outcome, missing)
    if fam == "linear" and missing == "listwise":
        return _prepare_moments(data, outcome, columns, names, sizes, weights=weights,
                                warn_dropped=warn_dropped, resample=resample, row_id=row_id)

    X = _numeric_block(data, columns, "Drivers")
    w_all = _weights_vector(data, weights)
    weighted = w_all is not None
    if w_all is None:
        w_all = np.ones(len(data))

    frame = pd.concat([X, y.rename("__outcome__")], axis=1)
    n_total = len(frame)
    notes = []
    dropped: dict[str, int] = {}
    if missing == "listwise":
        na = frame.isna()
        keep = ~na.any(axis=1).to_numpy()
        if not keep.all():
            dropped = {(outcome if c == "__outcome__" else c): int(k)
                       for c, k in na.sum().items() if k > 0}
            notes.append(_listwise_note(int((~keep).sum()), n_total, dropped, warn_dropped))
        frame = frame.loc[keep]
        w = w_all[keep]
    else:
        notes.append("Pairwise deletion: each correlation uses the rows where both columns are "
                     "answered, so different correlations rest on different respondents; the "
                     "matrix need not match any single sample and R² is approximate.")
        keep = frame["__outcome__"].notna().to_numpy() & frame[columns].notna().any(axis=1).to_numpy()
        frame = frame.loc[keep]
        w = w_all[keep]
        N = _pairwise_n(frame.rename(columns={"__outcome__": outcome}), w)
        min_n = PAIRWISE_MIN_N if min_pairwise_n is None else min_pairwise_n
        if N.to_numpy().min() < max(min_n, 3):
            raise CXDataError(
                f"With pairwise deletion every pair of columns needs at least {max(min_n, 3)} rows "
                f"answered together (min_pairwise_n); too few for: {_least_overlap(N, 5)}. Drop the "
                "sparsely answered driver(s), lower min_pairwise_n, or use missing='listwise'.")
    n_used = int((w > 0).sum())
    _enough_rows(n_used, n_total, columns, dropped, notes)
    Z = frame.to_numpy(dtype=float)
    design = _Design(_Z=Z, _w=np.asarray(w, float), columns=columns, players=names, sizes=sizes,
                     outcome=outcome, family=fam, missing=missing, n_total=n_total, n_used=n_used,
                     dropped=dropped, weighted=weighted, _frame=frame.rename(
                         columns={"__outcome__": outcome}), notes=notes, n_rows=len(Z))
    _check_variation(design)
    p = len(names)
    if p > 0 and fam == "logistic" and p > LOGISTIC_EXACT_MAX_DRIVERS:
        notes.append(f"{p} players exceed the exact logistic limit ({LOGISTIC_EXACT_MAX_DRIVERS}); "
                     "Shapley values are sampled.")
    return design


def _family(family, yvals, outcome, missing) -> str:
    """"linear" or "logistic" from ``family`` and the outcome's distinct values."""
    fam = str(family).lower()
    is_binary = len(yvals) <= 2 and set(np.asarray(yvals, float)) <= {0.0, 1.0}
    if fam == "auto":
        fam = "logistic" if is_binary and len(yvals) == 2 else "linear"
    if fam in ("binary", "logit"):
        fam = "logistic"
    if fam not in ("linear", "logistic"):
        raise CXDataError(f"family must be 'auto', 'linear' or 'logistic', not {family!r}.")
    if fam == "logistic" and not is_binary:
        raise CXDataError(f"A logistic (binary) analysis needs outcome {outcome!r} coded 0/1, but it "
                          f"holds {_preview(sorted(map(float, yvals)))}. Recode it, e.g. "
                          f"(data[{outcome!r}] >= 9).astype(int) for top-box.")
    if fam == "logistic" and missing == "pairwise":
        raise CXDataError("Pairwise deletion works on correlations and is available for the linear "
                          "model only; use missing='listwise' for a binary outcome.")
    return fam


def _no_answers(data: pd.DataFrame, columns: list[str], outcome: str) -> None:
    """Name the column(s) without a single answer (issue 12 item 5) before anything else."""
    empty = [c for c in [*columns, outcome] if not data[c].notna().any()]
    if empty:
        _raise_no_answers(empty, outcome)


def _raise_no_answers(empty: list[str], outcome: str) -> None:
    role = lambda c: "outcome" if c == outcome else "driver"       # noqa: E731
    what = "; ".join(f"{role(c)} {c!r} has no answers" for c in empty)
    raise CXDataError(f"{what}; {'it' if len(empty) == 1 else 'they'} emptied the sample (listwise "
                      "deletion keeps only rows that answer every column). Remove "
                      f"{'it' if len(empty) == 1 else 'them'} from the analysis or check the "
                      "import (a renamed or recoded question?).")


def _listwise_note(n_drop: int, n_total: int, dropped: dict, warn: bool) -> str:
    msg = (f"Listwise deletion: {n_drop} of {n_total} rows have a missing value in the "
           f"outcome or a driver and were left out (missing per column: "
           + ", ".join(f"{c} {k}" for c, k in dropped.items()) + ").")
    if warn:
        warnings.warn(msg + " Use missing='pairwise' to use every answer (see its caveat).",
                      CXWarning, stacklevel=4)
    return msg


def _enough_rows(n_used: int, n_total: int, columns: list[str], dropped: dict, notes: list) -> None:
    if n_used < len(columns) + 2:
        worst = ""
        if dropped and n_used < n_total:
            top = sorted(dropped.items(), key=lambda kv: -kv[1])[:3]
            worst = " (most missing: " + ", ".join(f"{c} {k} of {n_total}" for c, k in top) + ")"
        raise CXDataError(
            f"{len(columns)} driver columns but only {n_used} usable rows"
            + (" after removing rows with missing values" + worst if n_used < n_total else "")
            + f": a regression on {len(columns)} drivers needs at least {len(columns) + 2} rows "
            "(and many more for stable importances). Use fewer drivers, group related drivers, "
            "or a larger sample.")
    if n_used < 10 * len(columns):
        msg = (f"Only {n_used} usable rows for {len(columns)} driver columns (fewer than 10 per "
               "driver): importances will be imprecise; read the intervals, not the ranks.")
        notes.append(msg)
        warnings.warn(msg, CXWarning, stacklevel=4)


def _resample_mode(resample, n_used: int) -> str | None:
    """The bootstrap method: ``"auto"`` resamples rows up to :data:`ROW_BOOTSTRAP_MAX_N` usable
    rows and buckets beyond (see :func:`analyze`)."""
    if resample is None:
        return None
    r = str(resample).lower()
    if r not in ("auto", "rows", "buckets"):
        raise CXDataError(f"resample must be 'auto', 'rows' or 'buckets', not {resample!r}.")
    if r == "auto":
        r = "rows" if n_used <= ROW_BOOTSTRAP_MAX_N else "buckets"
    return r


def _text_error(prof: pd.DataFrame, columns: list[str], outcome: str) -> None:
    """Text in numeric columns (one error naming every column and example values), then
    infinite values."""
    ex = prof.attrs.get("text_examples", {})
    for role, cols in (("The outcome", [outcome]), ("Drivers", columns)):
        bad = [c for c in cols if prof.loc[c, "text"] > 0]
        if bad:
            detail = "; ".join(f"{c!r} holds {_preview(ex.get(c, []), 3)} "
                               f"({int(prof.loc[c, 'text'])} rows)" for c in bad)
            raise CXDataError(
                f"{role} must be numeric ratings, but {len(bad)} column(s) hold text: {detail}. "
                "Recode answers such as \"Don't know\" to missing; for a categorical driver "
                "create 0/1 dummy columns and pass them together as a group (groups={...}).")
    inf = [c for c in [*columns, outcome] if prof.loc[c, "nonfinite"] > 0]
    if inf:
        raise CXDataError(f"Column(s) {_preview(inf)} hold infinite values. Replace them with real "
                          "values or missing.")


def _prepare_moments(data: pd.DataFrame, outcome, columns, names, sizes, *, weights,
                     warn_dropped, resample, row_id) -> _Design:
    """Linear model, listwise, in memory: validate column by column and compute the weighted
    moments in one chunked pass (:func:`cxlab.engine.moments`); no copy of the rows."""
    cols = [*columns, outcome]
    prof, keep = _engine._profile_and_mask(data, cols)
    _text_error(prof, columns, outcome)
    w_all = _weights_vector(data, weights)
    n_total = len(data)
    n_rows = int(keep.sum())
    dropped = {c: int(k) for c, k in prof["missing"].items() if k > 0} if n_rows < n_total else {}
    notes = []
    if n_rows < n_total:
        notes.append(_listwise_note(n_total - n_rows, n_total, dropped, warn_dropped))
    n_used = n_rows if w_all is None else int((keep & (w_all > 0)).sum())
    _enough_rows(n_used, n_total, columns, dropped, notes)
    mode = _resample_mode(resample, n_used)
    shift = _engine.default_shift(prof, cols)
    M = _engine.moments(data, cols, shift=shift, row_mask=keep, weight_values=w_all,
                        buckets=_engine.BUCKETS if mode == "buckets" else None, row_id=row_id)
    design = _Design(_Z=None, _w=None, columns=columns, players=names, sizes=sizes,
                     outcome=outcome, family="linear", missing="listwise", n_total=n_total,
                     n_used=n_used, dropped=dropped, weighted=w_all is not None, _frame=None,
                     notes=notes, n_rows=n_rows, source=data, keep=keep, w_all=w_all,
                     resample=mode or "rows")
    _set_moments(design, M, mode)
    _check_variation(design)
    return design


def _set_moments(d: _Design, M, mode) -> None:
    if mode == "buckets":
        d.bucket_moments = M
        d.moments = M.total()
    else:
        d.moments = M.total() if len(M.n) > 1 else M


#: An engine source whose analysis needs rows (logistic model, pairwise deletion, the row
#: bootstrap) is collected into memory up to this many rows; beyond, an error says what to do.
COLLECT_MAX_ROWS = 5_000_000


def _prepare_source(data, outcome, columns, names, sizes, *, weights, missing, groups, family,
                    warn_dropped, min_pairwise_n, resample, row_id) -> _Design:
    """An engine source (Parquet/CSV path, DuckDB relation, Spark DataFrame): every check and
    count computed in the engine (:func:`cxlab.engine.profile`), then the moments."""
    src = _engine.source(data)
    if weights is not None and not isinstance(weights, str):
        raise CXDataError("With a file or engine source, weights must be the name of a weight "
                          "column.")
    cols = [*columns, outcome]
    _engine.require_columns(src.columns, cols + [c for c in (weights, row_id) if c])
    prof = _engine.profile(src, cols, weights=weights)
    empty = [c for c in cols if prof.loc[c, "missing"] == prof.attrs["rows"]]
    if prof.attrs["rows"] == 0:
        raise CXDataError(f"{src.label} has no rows. Check the file and any filter applied before.")
    if empty:
        _raise_no_answers(empty, outcome)
    _text_error(prof, columns, outcome)
    wr = prof.attrs["weights"]
    if weights and (wr["missing"] or wr["negative"] or wr["nonfinite"]):
        raise CXDataError(f"Weight column {weights!r} has {wr['missing']} missing, "
                          f"{wr['negative']} negative and {wr['nonfinite']} infinite values. "
                          "Weights must be numbers >= 0.")
    if weights and not wr["sum"] > 0:
        raise CXDataError(f"Weight {weights!r} sums to zero.")
    fam = _family(family, _engine.distinct_values(src, outcome, 3), outcome, missing)
    if fam != "linear" or missing != "listwise" or \
            (_resample_mode(resample, prof.attrs["usable"]) == "rows"):
        # rows needed (and few enough): analyse them in memory, exactly as a DataFrame
        extra = [c for c in (weights, row_id) if c]
        rows = _engine.collect(src, cols + extra, limit=COLLECT_MAX_ROWS)
        return _prepare(rows, outcome, columns, weights=weights, missing=missing, groups=groups,
                        family=family, warn_dropped=warn_dropped, min_pairwise_n=min_pairwise_n,
                        resample=resample, row_id=row_id)
    n_total, n_rows, n_used = prof.attrs["rows"], prof.attrs["complete"], prof.attrs["usable"]
    dropped = {c: int(k) for c, k in prof["missing"].items() if k > 0} if n_rows < n_total else {}
    notes = [f"Computed in {src.kind} from {src.label} (aggregates only; no rows collected)."]
    if n_rows < n_total:
        notes.append(_listwise_note(n_total - n_rows, n_total, dropped, warn_dropped))
    _enough_rows(n_used, n_total, columns, dropped, notes)
    mode = _resample_mode(resample, n_used)
    M = _engine.moments(src, cols, weights=weights, shift=_engine.default_shift(prof, cols),
                        buckets=_engine.BUCKETS if mode == "buckets" else None, row_id=row_id)
    design = _Design(_Z=None, _w=None, columns=columns, players=names, sizes=sizes,
                     outcome=outcome, family="linear", missing="listwise", n_total=n_total,
                     n_used=n_used, dropped=dropped, weighted=weights is not None, _frame=None,
                     notes=notes, n_rows=n_rows, source=src, weights_col=weights,
                     resample=mode or "rows")
    _set_moments(design, M, mode)
    _check_variation(design)
    return design


def _check_variation(d: _Design) -> None:
    """Constant columns, outcome copies, perfect and near collinearity."""
    if d.moments is not None:
        cov = d.moments.cov()[0]
        sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        mean = d.moments.mean()[0]
        const = [c for c, s, mu in zip(d.columns + [d.outcome], sd, mean)
                 if not s > 1e-12 * max(1.0, abs(mu))]
    else:
        pos = d.w > 0
        Z = d.Z[pos]
        const = []
        for k, c in enumerate(d.columns + [d.outcome]):
            col = Z[:, k]
            ok = ~np.isnan(col)
            if ok.sum() == 0 or np.nanmax(col[ok]) == np.nanmin(col[ok]):
                const.append(c)
    if const:
        raise CXDataError(f"Column(s) {_preview(const)} do not vary in the rows analysed (every value "
                          "is the same), so they cannot explain anything. Remove them from the "
                          "analysis.")
    if d.moments is not None:
        C = _engine.cov_to_corr(cov)
    else:
        C = _corr_matrices(d.Z, d.w[None, :], d.missing)[0]
    finite = np.isfinite(C).all(axis=0)
    if d.moments is not None:
        finite &= np.isfinite(np.diag(cov))
    bad = [c for c, ok in zip(d.columns + [d.outcome], finite) if not ok]
    if bad:
        raise CXDataError(f"Column(s) {_preview(bad)} hold values so large (or so spread) that their "
                          "variance is not a finite number in double precision. Check them for "
                          "codes such as 9e99 or wrong units, and rescale (e.g. divide by 1,000).")
    d.C = C
    q = d.q
    same = [c for k, c in enumerate(d.columns) if abs(C[k, q]) > 1 - 1e-12]
    if same:
        raise CXDataError(f"Driver(s) {_preview(same)} are perfectly correlated with the outcome "
                          f"{d.outcome!r} (a copy or a rescaled copy of it). Remove them.")
    R = C[:q, :q]
    lam, vec = np.linalg.eigh(R)
    lam_all = np.linalg.eigvalsh(C)[0]
    if d.missing == "pairwise" and lam_all < PAIRWISE_MIN_EIGEN:
        N = _pairwise_n(d.frame, d.w)
        raise CXDataError(
            "With pairwise deletion the correlation matrix of the drivers and the outcome is not "
            f"positive definite (smallest eigenvalue {lam_all:.3g} < {PAIRWISE_MIN_EIGEN:g}): the "
            "pairwise correlations come from different respondents and contradict each other, so "
            "R² could leave 0–1 and importances would be meaningless. Pairs with the least overlap: "
            f"{_least_overlap(N)}. Drop the sparsely answered driver(s), use missing='listwise', "
            "or impute first.")
    if lam[0] < _SINGULAR_TOL * lam[-1]:
        v = np.abs(vec[:, 0])
        involved = [c for c, x in zip(d.columns, v) if x > 1e-6 * v.max()]
        raise CXDataError(
            f"Drivers {_preview(involved, 8)} are perfectly collinear: one is an exact linear "
            "combination of the others (e.g. a total and its parts, or the same question twice), "
            "so their separate effects cannot be told apart. Drop one of them, or treat them as "
            "one player with groups={...}.")
    cond = lam[-1] / lam[0]
    if cond > NEAR_COLLINEAR_COND:
        v = np.abs(vec[:, 0])
        involved = [c for c, x in zip(d.columns, v) if x > 0.2 * v.max()]
        vif = np.diag(np.linalg.inv(R))
        warnings.warn(
            f"Drivers are nearly collinear: condition number of their correlation matrix is "
            f"{cond:,.0f} (> {NEAR_COLLINEAR_COND:,.0f}); most involved: {_preview(involved, 8)}; "
            f"largest VIF {vif.max():,.0f} ({d.columns[int(vif.argmax())]}). Importances stay "
            "defined (LMG shares them) but single coefficients (betasq, pratt) are unstable.",
            CXWarning, stacklevel=4)


# --------------------------------------------------------------------------------------------
# sufficient statistics
# --------------------------------------------------------------------------------------------

#: Pairwise deletion: fewest rows answering a pair of columns together (``min_pairwise_n``).
PAIRWISE_MIN_N = 30
#: Pairwise deletion: the correlation matrix of drivers and outcome must have its smallest
#: eigenvalue above this, in the sample and in each bootstrap resample (else R² can leave 0–1).
PAIRWISE_MIN_EIGEN = 1e-8

def _corr_matrices(Z: np.ndarray, W: np.ndarray, missing: str = "listwise") -> np.ndarray:
    """Weighted correlation matrices, one per row of ``W`` (B x n), of the columns of ``Z`` (n x m).

    Listwise: ``cov = Σ w (z − z̄)(z − z̄)' / Σ w`` (as R's ``cov.wt``; the normalisation cancels in
    the correlation). Pairwise: each correlation from the rows where both columns are present, with
    that pair's own means and variances (as R's ``cor(use = "pairwise.complete.obs")``).
    """
    W = np.atleast_2d(W)
    n, m = Z.shape
    if missing == "listwise":
        Zc = Z - np.average(Z, axis=0, weights=W[0] if W[0].sum() > 0 else None)
        s0 = W.sum(axis=1)
        s1 = W @ Zc / s0[:, None]
        s2 = np.empty((len(W), m, m))
        for b in range(len(W)):                            # BLAS, O(n·m) memory per resample
            s2[b] = (Zc * W[b][:, None]).T @ Zc
        cov = s2 / s0[:, None, None] - s1[:, :, None] * s1[:, None, :]
        sd = np.sqrt(np.einsum("bii->bi", cov))
        C = cov / (sd[:, :, None] * sd[:, None, :])
    else:
        obs = ~np.isnan(Z)
        Mk = obs.astype(float)
        mu = np.nanmean(Z, axis=0)
        Zc = np.where(obs, Z - mu, 0.0)
        pair = lambda A, B: (W @ (A[:, :, None] * B[:, None, :]).reshape(n, m * m)).reshape(-1, m, m)
        N = pair(Mk, Mk)
        with np.errstate(invalid="ignore", divide="ignore"):
            Sx = pair(Zc, Mk) / N            # mean of column i over rows where j also present
            Sxx = pair(Zc * Zc, Mk) / N
            Sxy = pair(Zc, Zc) / N
            cov = Sxy - Sx * np.swapaxes(Sx, 1, 2)
            vi = Sxx - Sx ** 2
            C = cov / np.sqrt(vi * np.swapaxes(vi, 1, 2))
        if np.any(N < 3):
            raise CXDataError("With pairwise deletion some pairs of columns have fewer than 3 "
                              "rows answered together; their correlation cannot be estimated.")
    idx = np.arange(m)
    C[:, idx, idx] = 1.0
    return C


# --------------------------------------------------------------------------------------------
# exact LMG (Shapley) from the correlation matrix
# --------------------------------------------------------------------------------------------

def _all_subset_r2(C: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """R² of every subset of players, indexed by bitmask (bit j set = player j in the model).

    ``C`` is (..., q+1, q+1): correlation of the drivers in player order with the outcome last.
    Sweep-operator doubling: the states before step j are the residual covariance matrices of the
    remaining columns given each subset of players 0..j−1 (2^j states, index = bitmask). Adding
    player j sweeps its pivot(s) c: ``R²(T∪j) = R²(T) + c_cy² / c_cc`` and
    ``C' = C − c_·c c_c·/c_cc``; the new states go to positions 2^j..2^{j+1}−1, so no old state
    is copied. Each upper-triangle entry (a, b) is one contiguous array preallocated at its final
    length 2^(player of a) and freed once swept. Cost ≈ Σ_j 2^j (q−j)²/2, about 3·2^q
    operations: the all-subsets regression from sufficient statistics, no refitting on rows.
    """
    C = np.asarray(C, float)
    batch = C.shape[:-2]
    m = C.shape[-1]
    y = m - 1
    P = len(sizes)
    owner = np.repeat(np.arange(P), sizes)
    E = {}
    for a in range(y):
        L = 1 << int(owner[a])
        for b in range(a, m):
            arr = np.empty(batch + (L,))
            arr[..., 0] = C[..., a, b]
            E[(a, b)] = arr
    r2 = np.zeros(batch + (1 << P,))
    tmp = np.empty(batch + (max(1, 1 << (P - 1)),))
    pos = 0
    for j, g in enumerate(sizes):
        S = 1 << j
        N = {k: v[..., :S] for k, v in E.items() if k[0] >= pos}
        delta = np.zeros(batch + (S,))
        for t in range(g):
            c = pos + t
            inv = 1.0 / N[(c, c)]
            ncy = N[(c, y)]
            delta += ncy * ncy * inv
            if j == P - 1 and t == g - 1:
                break
            final = t == g - 1
            N2 = {}
            for a in range(c + 1, y):
                fa = N[(c, a)] * inv
                for b in range(a, m):
                    if final:
                        out = E[(a, b)][..., S:2 * S]
                        np.multiply(fa, N[(c, b)], out=tmp[..., :S])
                        np.subtract(N[(a, b)], tmp[..., :S], out=out)
                    else:
                        N2[(a, b)] = N[(a, b)] - fa * N[(c, b)]
            N = N2
        r2[..., S:2 * S] = r2[..., :S] + delta
        for c in range(pos, pos + g):
            for b in range(c, m):
                E.pop((c, b), None)
        pos += g
    return r2 / C[..., -1, -1][..., None]


def _popcount(p: int) -> np.ndarray:
    pc = np.zeros(1, np.int8)
    for _ in range(p):
        pc = np.concatenate([pc, pc + 1])
    return pc


def _shapley_weights(p: int) -> np.ndarray:
    """w(k) = k!(p−k−1)!/p! = 1/(p·C(p−1, k)), k = 0..p−1."""
    return np.array([1.0 / (p * math.comb(p - 1, k)) for k in range(p)])


@functools.lru_cache(maxsize=4)
def _shapley_masks_weights(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Per bitmask S: w(|S|) (S as the "without j" term) and w(|S|−1) + w(|S|) (read-only)."""
    pc = _popcount(p)
    w = _shapley_weights(p)
    wa = np.concatenate([[0.0], w])[pc]       # weight of S as "S∪j" term (|S|−1 others)
    wb = np.concatenate([w, [0.0]])[pc]       # weight of S as "S" term
    wab = wa + wb
    wb.flags.writeable = False
    wab.flags.writeable = False
    return wb, wab


def _shapley_from_values(v: np.ndarray, p: int) -> np.ndarray:
    """Shapley values φ_j = Σ_{S∋j} w(|S|−1) v(S) − Σ_{S∌j} w(|S|) v(S) for values by bitmask.

    The per-player sums over "bit j set" are taken by halving (fold the top bit, recurse), so all
    p sums cost 2·2^p additions.
    """
    wb, wab = _shapley_masks_weights(p)
    total_b = v @ wb
    g = v * wab
    phi = np.empty(v.shape[:-1] + (p,))
    for j in reversed(range(p)):
        h = g.reshape(v.shape[:-1] + (2, -1))
        phi[..., j] = h[..., 1, :].sum(axis=-1)
        g = h[..., 0, :] + h[..., 1, :]
    return phi - total_b[..., None]


#: Working memory of the exact LMG per correlation matrix: about 5.2 doubles per subset (measured
#: with tracemalloc at p = 16 and 20); batches of matrices are split to stay under the budget.
_LMG_DOUBLES_PER_SUBSET = 5.2
_LMG_MEMORY_BUDGET = 512e6
#: From p = 12 matrices go one piece per ~8 MB of working memory (one matrix at p ≥ 18): a
#: larger piece leaves the cache and is slower per matrix (86 ms instead of 25 ms at p = 20).
_LMG_CACHE_BYTES = 8e6


def _exact_lmg(C: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
    """Exact LMG (B x p) for a stack of correlation matrices C (B x (q+1) x (q+1)).

    Each matrix is independent, so the stack is cut into pieces (that fit
    :data:`_LMG_MEMORY_BUDGET`; from p = 12 that stay near the cache size) and the pieces run on
    two threads (numpy releases the GIL
    in its array loops; the all-subsets sweep is memory-bound, so two threads give about 2x).
    The arithmetic per matrix is that of :func:`_all_subset_r2` and
    :func:`_shapley_from_values`, so the numbers do not depend on the batching.
    """
    p = len(sizes)
    per = _LMG_DOUBLES_PER_SUBSET * 8 * (1 << p)
    step = max(1, int(_LMG_CACHE_BYTES // per), int(_LMG_MEMORY_BUDGET // (2 * per)) * (p < 12))
    B = len(C)
    if B == 1 or p < 12:
        pieces = [slice(s, min(s + step, B)) for s in range(0, B, step)]
        return np.concatenate([_shapley_from_values(_all_subset_r2(C[sl], sizes), p)
                               for sl in pieces])
    pieces = [slice(s, min(s + step, B)) for s in range(0, B, step)]
    out = np.empty((B, p))

    def run(sl):
        out[sl] = _shapley_from_values(_all_subset_r2(C[sl], sizes), p)

    with ThreadPoolExecutor(2) as ex:
        list(ex.map(run, pieces))
    return out


def _subset_r2(C: np.ndarray, cols: Sequence[int]) -> np.ndarray:
    """R² of the outcome on columns ``cols``: r_s' R_ss⁻¹ r_s (batched over leading axes)."""
    cols = list(cols)
    if not cols:
        return np.zeros(C.shape[:-2])
    R = C[..., cols, :][..., :, cols]
    r = C[..., cols, -1]
    return np.einsum("...i,...i->...", r, np.linalg.solve(R, r[..., None])[..., 0]) / C[..., -1, -1]


def _player_columns(sizes: Sequence[int]) -> list[list[int]]:
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return [list(range(edges[k], edges[k + 1])) for k in range(len(sizes))]


# --------------------------------------------------------------------------------------------
# sampling approximation beyond the exact limit
# --------------------------------------------------------------------------------------------

def _contrib_linear(C: np.ndarray, sizes: Sequence[int]):
    """Marginal contributions along given player orders, by sequential sweeps of ``C``.

    For each order the drivers' columns are arranged player by player and swept one pivot at a
    time; the R² gained by a pivot ``c_cy²/c_cc`` is credited to its player. Batched over orders:
    O(q³) per order.
    """
    pcols = _player_columns(sizes)
    owner = np.repeat(np.arange(len(sizes)), sizes)
    q = len(owner)

    def contrib(perms: np.ndarray) -> np.ndarray:
        order = np.array([[c for j in perm for c in pcols[j]] for perm in perms])
        full = np.concatenate([order, np.full((len(order), 1), q)], axis=1)
        A = C[full[:, :, None], full[:, None, :]]
        out = np.zeros((len(perms), len(sizes)))
        rows = np.arange(len(perms))
        for t in range(q):
            piv = A[:, 0, 0]
            a = A[:, 0, 1:]
            np.add.at(out, (rows, owner[order[:, t]]), a[:, -1] ** 2 / piv)
            if t < q - 1:
                A = A[:, 1:, 1:] - a[:, :, None] * (a[:, None, :] / piv[:, None, None])
        return out / C[-1, -1]
    return contrib


def _shapley_sampled(contrib, p: int, rng: np.random.Generator, tol: float,
                     max_permutations: int, batch: int = 500):
    """Monte-Carlo Shapley values by antithetic permutation sampling (Castro et al. 2009).

    Each draw is a random order π and its reverse; a player's estimate is the mean over draws of
    its marginal contribution v(Pre_π(j) ∪ j) − v(Pre_π(j)). Draws continue until the normal-theory
    95% half-width 1.96·SE is below ``tol`` for every player (SE from the spread of the
    antithetic-pair means) or ``max_permutations`` orders are used. Returns (φ, SE, orders used).
    Every order's contributions add up to v(all), so the estimates sum to R² exactly.
    """
    pair_means = []
    used = 0
    while True:
        perms = np.argsort(rng.random((batch, p)), axis=1)
        c = contrib(np.concatenate([perms, perms[:, ::-1]]))
        pair_means.append(0.5 * (c[:batch] + c[batch:]))
        used += 2 * batch
        allpm = np.concatenate(pair_means)
        phi = allpm.mean(axis=0)
        se = allpm.std(axis=0, ddof=1) / np.sqrt(len(allpm))
        if 1.96 * se.max() <= tol:
            return phi, se, used
        if used >= max_permutations:
            warnings.warn(f"Shapley sampling stopped at max_permutations={max_permutations}: the "
                          f"95% error bound is {1.96 * se.max():.2g}, above tol={tol:g}. Raise "
                          "max_permutations or tol, or group drivers.", CXWarning, stacklevel=4)
            return phi, se, used


# --------------------------------------------------------------------------------------------
# logistic model (binary outcome)
# --------------------------------------------------------------------------------------------

def _pseudo_r2(ll: np.ndarray, ll0: np.ndarray, n: float, kind: str) -> np.ndarray:
    """McFadden 1 − ℓ/ℓ0; Estrella (1998) 1 − (ℓ/ℓ0)^(−2ℓ0/n); Cox–Snell 1 − exp(2(ℓ0−ℓ)/n);
    Nagelkerke Cox–Snell / (1 − exp(2ℓ0/n))."""
    if kind == "mcfadden":
        return 1 - ll / ll0
    if kind == "estrella":
        return 1 - (ll / ll0) ** (-2 * ll0 / n)
    cs = 1 - np.exp(2 * (ll0 - ll) / n)
    if kind == "cox_snell":
        return cs
    return cs / (1 - np.exp(2 * ll0 / n))


class _LogitValues:
    """Pseudo-R² of the logistic model for subsets of players (weights of one sample).

    The fits are made by :class:`cxlab._logit_subsets.LogitSubsets` (pattern table, batched
    Newton steps across subsets, warm starts from the nested models)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, sizes, kind: str):
        self.engine = LogitSubsets(X, y, w, sizes)
        self.n = self.engine.n
        self.ll0 = self.engine.ll0
        self.kind = kind

    def _r2(self, ll: np.ndarray) -> np.ndarray:
        if self.engine.max_abs_beta > 25:
            warnings.warn("Some logistic sub-models show (quasi-)complete separation (very large "
                          "coefficients); their pseudo-R² is close to its maximum.", CXWarning,
                          stacklevel=5)
        elif self.engine.not_converged:
            warnings.warn(f"{self.engine.not_converged} logistic sub-model fit(s) did not converge "
                          "in 100 Newton iterations; their pseudo-R² may be slightly low.",
                          CXWarning, stacklevel=5)
        return _pseudo_r2(ll, self.ll0, self.n, self.kind)

    def all_subsets(self) -> np.ndarray:
        return self._r2(self.engine.all_subsets())

    def masks_value(self, masks: np.ndarray) -> np.ndarray:
        return self._r2(self.engine.values(np.asarray(masks, np.int64)))

    def contrib(self, perms: np.ndarray) -> np.ndarray:
        """Marginal contributions along player orders (prefix fits warm-started from their
        parent prefix, see :meth:`LogitSubsets.prefix_loglik`)."""
        v = self._r2(self.engine.prefix_loglik(perms))
        out = np.empty(perms.shape)
        np.put_along_axis(out, perms, np.diff(v, axis=1), axis=1)
        return out


# --------------------------------------------------------------------------------------------
# importance from one sample (batched over bootstrap weights for the linear model)
# --------------------------------------------------------------------------------------------

def _linear_importance(C: np.ndarray, method: str, sizes: list[int], *, exact: bool,
                       rng=None, tol=5e-4, max_permutations=200_000):
    """Raw importances (B x p) and model R² (B,) from correlation matrices C (B x (q+1) x (q+1))."""
    p = len(sizes)
    q = C.shape[-1] - 1
    info: dict = {}
    Rxx = C[:, :q, :q]
    rxy = C[:, :q, q]
    r2_full = _subset_r2(C, range(q))
    if method == "lmg":
        if exact:
            imp = _exact_lmg(C, sizes)
        else:
            imp = np.empty((len(C), p))
            se = np.empty((len(C), p))
            used = 0
            for b in range(len(C)):
                imp[b], se[b], used = _shapley_sampled(_contrib_linear(C[b], sizes), p, rng,
                                                       tol, max_permutations)
            info.update(mc_se=se, permutations=used)
    elif method == "first":
        imp = np.stack([_subset_r2(C, cols) for cols in _player_columns(sizes)], axis=-1)
    elif method == "last":
        pcols = _player_columns(sizes)
        imp = np.stack([r2_full - _subset_r2(C, [c for c in range(q) if c not in cols])
                        for cols in pcols], axis=-1)
    else:
        beta = np.linalg.solve(Rxx, rxy[..., None])[..., 0]
        if method == "betasq":
            imp = beta ** 2
        elif method == "pratt":
            imp = beta * rxy
        else:
            lam, V = np.linalg.eigh(Rxx)
            half = np.einsum("bij,bj,bkj->bik", V, np.sqrt(lam), V)       # R^{1/2}
            bstar = np.linalg.solve(half, rxy[..., None])[..., 0]        # R^{-1/2} r_xy
            if method == "car":
                imp = bstar ** 2
            else:                                                         # relative_weights
                imp = np.einsum("bjk,bk->bj", half ** 2, bstar ** 2)
    return imp, r2_full, info


def _logistic_importance(d: _Design, w: np.ndarray, method: str, kind: str, *, exact: bool,
                         rng=None, tol=5e-4, max_permutations=20_000):
    q = d.q
    keep = w > 0
    vals = _LogitValues(d.Z[keep, :q], d.Z[keep, q], w[keep], d.sizes, kind)
    p = len(d.sizes)
    full = (1 << p) - 1
    info: dict = {}
    if method == "lmg" and exact:
        v = vals.all_subsets()
        imp, r2 = _shapley_from_values(v, p), v[-1]
    elif method == "lmg":
        imp, se, used = _shapley_sampled(vals.contrib, p, rng, tol, max_permutations, batch=100)
        r2 = vals.masks_value(np.array([full]))[0]
        info.update(mc_se=se[None, :], permutations=used)
    else:
        singles = np.array([1 << j for j in range(p)])
        masks = singles if method == "first" else np.concatenate([[full], full & ~singles])
        v = vals.masks_value(masks)
        if method == "first":
            imp = v
            r2 = vals.masks_value(np.array([full]))[0]
        else:
            r2 = v[0]
            imp = r2 - v[1:]
    return np.atleast_2d(imp), np.atleast_1d(r2), info


def _resolve_exact(exact, p: int, family: str) -> bool:
    limit = EXACT_MAX_DRIVERS if family == "linear" else LOGISTIC_EXACT_MAX_DRIVERS
    if exact is None or exact == "auto":
        return p <= limit
    if exact and p > limit:
        raise CXDataError(f"Exact LMG is limited to {limit} players here (2^p subsets); you have "
                          f"{p}. Use exact=None (sampling approximation) or group drivers.")
    return bool(exact)


def _importance_for_weights(d: _Design, W: np.ndarray, method: str, pseudo_r2: str, exact: bool,
                            rng, tol: float, max_permutations: int | None):
    """Importances (B x p), R² (B,) and info for a batch of weight vectors W (B x n); ``W=None``:
    the design's own weights (a moments design never materialises its rows for it)."""
    if W is None and (d.family != "linear" or d.C is None):
        W = d.w[None, :]
    if d.family == "linear":
        if W is None or (W.shape[0] == 1 and d.C is not None and np.array_equal(W[0], d.w)):
            C = d.C[None]
        else:
            C = _corr_matrices(d.Z, W, d.missing)
        return _linear_importance(C, method, d.sizes, exact=exact, rng=rng, tol=tol,
                                  max_permutations=max_permutations or 200_000)
    imps, r2s, info = [], [], {}
    for wb in np.atleast_2d(W):
        imp, r2, info = _logistic_importance(d, wb, method, pseudo_r2, exact=exact, rng=rng,
                                             tol=tol, max_permutations=max_permutations or 20_000)
        imps.append(imp[0])
        r2s.append(r2[0])
    return np.array(imps), np.array(r2s), info


def _tidy(players, imp: np.ndarray, r2: float) -> pd.DataFrame:
    out = pd.DataFrame({"importance": imp}, index=pd.Index(players, name="driver"))
    total = imp.sum()
    out["share"] = imp / total if total != 0 else np.nan
    out["rank"] = out["importance"].rank(ascending=False, method="min").astype(int)
    return out


# --------------------------------------------------------------------------------------------
# public: relative_importance
# --------------------------------------------------------------------------------------------

def relative_importance(data: pd.DataFrame, outcome: str, drivers: Sequence[str],
                        method: str = "lmg", *, weights=None, missing: str = "listwise",
                        groups: Mapping[str, Sequence[str]] | None = None, family: str = "auto",
                        pseudo_r2: str = "mcfadden", exact: bool | None = None,
                        tol: float = 5e-4, max_permutations: int | None = None,
                        seed: int = 0, min_pairwise_n: int | None = None) -> pd.DataFrame:
    """Relative importance of ``drivers`` for ``outcome``: a DataFrame indexed by driver.

    Columns: ``importance`` (raw share of R²; for lmg, relative_weights, pratt and car they sum to
    the model R²), ``share`` (importance / Σ importance, sums to 1, as relaimpo's ``rela=TRUE``) and
    ``rank`` (1 = most important). ``df.attrs`` holds ``r2``, ``n``, ``method``, ``model`` and the
    missing-data report. Methods and formulas: see the module docstring.

    ``data`` is a pandas DataFrame, a Parquet/CSV path or glob, a DuckDB relation or a Spark
    DataFrame. For the linear model with listwise deletion every method needs only the weighted
    covariance of drivers and outcome, so it is computed in one pass (in memory: numpy BLAS on
    chunks of rows, O(n·p) memory; elsewhere: in the engine, :mod:`cxlab.engine`, collecting
    no rows) and every check and count (missing column with its closest match, text with
    examples, missing values per column, a driver without answers) is computed there too. A
    logistic model or pairwise deletion needs the rows: an engine source is then collected, up
    to :data:`COLLECT_MAX_ROWS` rows.

    Parameters
    ----------
    weights : column name or array of survey/case weights. The covariance is the weighted
        covariance (R's ``cov.wt``, as relaimpo), so weights act as in ``lm(weights=)``.
    missing : ``"listwise"`` (default) drops rows with any missing value in the outcome or a driver
        and reports the counts (a :class:`CXWarning` and ``attrs["dropped"]``). ``"pairwise"`` builds
        each correlation from the rows where both columns are answered (R's
        ``pairwise.complete.obs``). Caveat: different correlations then rest on different
        respondents; the matrix may not be positive definite (an error) and R² is not that of any
        single regression — use it for exploration, or impute.
    groups : ``{name: [driver, ...]}`` — drivers treated as one player (e.g. all support items);
        importance of the group is its Shapley value (lmg) or first/last R². Ungrouped drivers stay
        single players.
    family : ``"auto"`` (a 0/1 outcome → logistic), ``"linear"`` or ``"logistic"``. The logistic
        model decomposes a pseudo-R² (``pseudo_r2``: ``"mcfadden"`` 1 − ℓ/ℓ0, ``"estrella"``,
        ``"cox_snell"``, ``"nagelkerke"``) over all subsets (dominance analysis for logistic
        regression, Azen & Traxel 2009); methods lmg, first, last.
    exact : LMG over all 2^p subsets when p ≤ :data:`EXACT_MAX_DRIVERS` (default). Beyond it (or
        ``exact=False``), Shapley values are estimated by antithetic permutation sampling until
        the normal-theory 95% error bound ``1.96·SE`` is ≤ ``tol`` (R² units) for every driver, or
        ``max_permutations`` orders are used; ``mc_se`` column and ``attrs["error_bound"]`` report it.
    """
    method = _method_name(method)
    d = _prepare(data, outcome, drivers, weights=weights, missing=missing, groups=groups,
                 family=family, min_pairwise_n=min_pairwise_n)
    out, kind, ex, _, info = _point_estimate(d, method, groups, pseudo_r2, exact, seed, tol,
                                             max_permutations)
    out.attrs.update(_attrs(d, method, kind, out.attrs["r2"], ex, info, tol))
    return out


def _point_estimate(d: _Design, method: str, groups, pseudo_r2, exact, seed, tol,
                    max_permutations):
    """Importance on the full sample: the tidy table (``attrs["r2"]``), the pseudo-R² kind, the
    exactness flag, the random generator (for a bootstrap to continue) and the method's info."""
    _check_method(method, d, groups)
    kind = _pseudo_name(pseudo_r2)
    ex = _resolve_exact(exact, len(d.players), d.family) if method == "lmg" else True
    rng = np.random.default_rng(seed)
    imp, r2, info = _importance_for_weights(d, None, method, kind, ex, rng, tol,
                                            max_permutations)
    table = _tidy(d.players, imp[0], float(r2[0]))
    table.attrs["r2"] = float(r2[0])
    if "mc_se" in info:
        table["mc_se"] = info["mc_se"][0]
    return table, kind, ex, rng, info


def _check_method(method: str, d: _Design, groups) -> None:
    if groups and method not in _GROUPABLE and any(s > 1 for s in d.sizes):
        raise CXDataError(f"Method {method!r} gives one number per column and is not defined for "
                          f"groups of drivers; use method='lmg' (or 'first'/'last') with groups.")
    if d.family == "logistic" and method not in _LOGISTIC_METHODS:
        raise CXDataError(f"Method {method!r} needs a linear model; for the binary outcome "
                          f"{d.outcome!r} use 'lmg', 'first' or 'last' (pseudo-R²), or pass "
                          "family='linear' for a linear probability model.")


def _pseudo_name(pseudo_r2: str) -> str:
    k = str(pseudo_r2).lower().replace("-", "_").replace(" ", "_")
    k = {"coxsnell": "cox_snell", "cox_and_snell": "cox_snell"}.get(k, k)
    if k not in PSEUDO_R2:
        raise CXDataError(f"pseudo_r2 must be one of {', '.join(PSEUDO_R2)}, not {pseudo_r2!r}.")
    return k


def _model_label(d: _Design, kind: str) -> str:
    if d.family == "linear":
        return "linear regression (R²)" + (", weighted" if d.weighted else "")
    label = {"mcfadden": "McFadden", "estrella": "Estrella", "cox_snell": "Cox–Snell",
             "nagelkerke": "Nagelkerke"}[kind]
    return f"logistic regression ({label} pseudo-R²)" + (", weighted" if d.weighted else "")


def _attrs(d: _Design, method, kind, r2, exact, info, tol) -> dict:
    a = {"method": method, "outcome": d.outcome, "model": _model_label(d, kind), "r2": r2,
         "n": d.n_used, "n_total": d.n_total, "n_dropped": d.n_total - d.n_rows,
         "dropped": dict(d.dropped), "missing": d.missing, "exact": exact, "notes": list(d.notes)}
    if "mc_se" in info:
        se = np.asarray(info["mc_se"])
        a.update(permutations=info["permutations"], error_bound=float(1.96 * se.max()), tol=tol)
    return a


# --------------------------------------------------------------------------------------------
# bootstrap intervals (boot.ci conventions)
# --------------------------------------------------------------------------------------------

def _norm_inter(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Order-statistic quantiles as ``boot:::norm.inter`` (used by ``boot.ci``).

    With R finite replicates and ``rk = (R+1)·α``: when rk is whole, the k-th order statistic;
    otherwise interpolate between the k-th and (k+1)-th (k = ⌊rk⌋) on the normal-quantile scale,
    ``t_k + (Φ⁻¹(α) − Φ⁻¹(k/(R+1))) / (Φ⁻¹((k+1)/(R+1)) − Φ⁻¹(k/(R+1))) · (t_{k+1} − t_k)``;
    k = 0 or k = R give the extremes.
    """
    t = np.sort(t[np.isfinite(t)])
    R = len(t)
    alpha = np.atleast_1d(np.asarray(alpha, float))
    out = np.empty(len(alpha))
    if R == 0:
        return np.full(len(alpha), np.nan)
    for i, a in enumerate(alpha):
        rk = (R + 1) * a
        if abs(rk - round(rk)) < 1e-10 * max(1.0, rk):      # whole (up to rounding of α)
            out[i] = t[min(max(round(rk), 1), R) - 1]
            continue
        k = int(np.floor(rk))
        if k <= 0:
            out[i] = t[0]
        elif k >= R:
            out[i] = t[-1]
        else:
            z, zk, zk1 = stats.norm.ppf([a, k / (R + 1), (k + 1) / (R + 1)])
            out[i] = t[k - 1] + (z - zk) / (zk1 - zk) * (t[k] - t[k - 1])
    return out


def percentile_interval(replicates, conf: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval with ``boot.ci(type="perc")`` order statistics."""
    lo, hi = _norm_inter(np.asarray(replicates, float), [(1 - conf) / 2, (1 + conf) / 2])
    return float(lo), float(hi)


def _bca_interval(t: np.ndarray, t0: float, jack: np.ndarray, conf: float) -> tuple[float, float]:
    """BCa (Efron 1987) as ``boot.ci(type="bca")``: z0 = Φ⁻¹(#{t* < t0}/R); acceleration
    a = ΣL³/(6(ΣL²)^{3/2}) from jackknife influence values L = (G−1)(mean(θ₍₋g₎) − θ₍₋g₎)."""
    t = t[np.isfinite(t)]
    frac = np.mean(t < t0)
    if frac in (0.0, 1.0):
        return (np.nan, np.nan)
    z0 = stats.norm.ppf(frac)
    L = (len(jack) - 1) * (jack.mean() - jack)
    denom = 6 * (np.sum(L ** 2)) ** 1.5
    a = np.sum(L ** 3) / denom if denom > 0 else 0.0
    za = stats.norm.ppf([(1 - conf) / 2, (1 + conf) / 2])
    adj = stats.norm.cdf(z0 + (z0 + za) / (1 - a * (z0 + za)))
    lo, hi = _norm_inter(t, adj)
    return float(lo), float(hi)


# --------------------------------------------------------------------------------------------
# analyze(): result objects
# --------------------------------------------------------------------------------------------

@dataclass
class DriverResult:
    """Driver analysis of one sample: importances with bootstrap intervals, quadrant, tests.

    ``importance`` has per driver: importance, share, rank, ci_low, ci_high (for importance),
    share_ci_low, share_ci_high; ``boot`` holds the bootstrap replicates (B x p raw importances).
    """
    importance: pd.DataFrame
    r2: float
    r2_ci: tuple[float, float]
    method: str
    model: str
    outcome: str
    n: int
    n_total: int
    dropped: dict
    confidence: float
    ci: str
    bootstrap: int
    boot: np.ndarray | None
    boot_r2: np.ndarray | None
    performance: pd.Series
    notes: list[str]
    seed: int
    segment: str | None = None
    _design: _Design | None = field(default=None, repr=False)

    @property
    def drivers(self) -> list[str]:
        return list(self.importance.index)

    @property
    def conf(self) -> float:
        """Deprecated name of :attr:`confidence`."""
        return self.confidence

    def summary(self) -> pd.DataFrame:
        """One row per driver: importance with CI, share with CI, rank, mean performance, quadrant."""
        out = self.importance.copy()
        quad = self.quadrant()
        out["performance"] = quad["performance"]
        out["quadrant"] = quad["quadrant"]
        out.attrs = {"r2": self.r2, "r2_ci": self.r2_ci, "n": self.n, "model": self.model,
                     "method": self.method, "confidence": self.confidence,
                     "bootstrap": self.bootstrap}
        return out.sort_values("rank")

    def __repr__(self) -> str:
        seg = f" [{self.segment}]" if self.segment else ""
        lo, hi = self.r2_ci
        ci = f" ({self.conf:.0%} CI {lo:.3f}–{hi:.3f})" if np.isfinite(lo) else ""
        top = ", ".join(self.importance.sort_values("rank").index[:3])
        return (f"DriverResult{seg}: {self.method} on {self.outcome!r}, {self.model}, n={self.n}, "
                f"R²={self.r2:.3f}{ci}; top drivers: {top}")

    def differences(self) -> pd.DataFrame:
        """Pairwise tests of whether one driver matters more than another.

        For every pair (a more important than b by the estimate): difference a − b in raw
        importance with the percentile bootstrap interval (boot.ci convention) of the paired
        replicate differences, as relaimpo's ``booteval.relimp(diff = TRUE)``; ``significant``
        when the interval excludes 0.
        """
        if self.boot is None:
            raise CXDataError("Pairwise differences need bootstrap replicates: run analyze() with "
                              "bootstrap >= 100.")
        imp = self.importance["importance"]
        order = list(imp.sort_values(ascending=False).index)
        pos = {d: k for k, d in enumerate(self.drivers)}
        rows = []
        for i, a in enumerate(order):
            for b in order[i + 1:]:
                diff = self.boot[:, pos[a]] - self.boot[:, pos[b]]
                lo, hi = percentile_interval(diff, self.conf)
                rows.append({"driver_a": a, "driver_b": b, "difference": imp[a] - imp[b],
                             "ci_low": lo, "ci_high": hi, "significant": bool(lo > 0 or hi < 0)})
        return pd.DataFrame(rows)

    def quadrant(self, performance: str = "mean", top_box: float | None = None,
                 cut: str | tuple[float, float] = "mean") -> pd.DataFrame:
        """Importance × performance map, one row per driver with its quadrant label.

        ``performance``: ``"mean"`` rating (weighted if weights were given) or ``"top_box"``: the
        share of ratings ≥ ``top_box`` (e.g. 9 on a 1–10 scale). ``cut``: where the map is split —
        ``"mean"`` (default; mean share = 1/p and mean performance across drivers), ``"median"``,
        or ``(importance_share_cut, performance_cut)``. Labels: high importance & low performance →
        **Fix**; high & high → **Maintain**; low & low → **Monitor**; low importance & high
        performance → **Don't over-invest**. ``confident`` says whether the share's interval lies
        wholly on one side of the importance cut. Plot it with :meth:`plot_quadrant` or
        ``cx.plots.quadrant(frame)`` (the table's ``attrs`` carry the cuts and labels for it).
        """
        out, labels = self._quadrant_table(performance, top_box, cut)
        out.attrs = labels
        return out

    def _quadrant_table(self, performance: str = "mean", top_box: float | None = None,
                        cut: str | tuple[float, float] = "mean") -> tuple[pd.DataFrame, dict]:
        """The quadrant table and its cuts and labels (``plots.quadrant``'s keyword arguments)."""
        if performance == "mean":
            perf = self.performance
            plabel = "mean rating"
        elif performance in ("top_box", "topbox"):
            if top_box is None:
                raise CXDataError("performance='top_box' needs the threshold, e.g. top_box=9 for "
                                  "ratings 9–10 on a 1–10 scale.")
            perf = self._top_box(top_box)
            plabel = f"share rating ≥ {top_box:g}"
        else:
            raise CXDataError("performance must be 'mean' or 'top_box'.")
        share = self.importance["share"]
        if isinstance(cut, str):
            if cut not in ("mean", "median"):
                raise CXDataError("cut must be 'mean', 'median' or (importance, performance).")
            icut = share.mean() if cut == "mean" else share.median()
            pcut = perf.mean() if cut == "mean" else perf.median()
        else:
            icut, pcut = map(float, cut)
        high_i = share >= icut
        high_p = perf >= pcut
        label = np.where(high_i & ~high_p, "Fix", np.where(high_i & high_p, "Maintain",
                         np.where(~high_i & ~high_p, "Monitor", "Don't over-invest")))
        out = pd.DataFrame({"importance": share, "share_ci_low": self.importance["share_ci_low"],
                            "share_ci_high": self.importance["share_ci_high"],
                            "performance": perf, "quadrant": label}, index=share.index)
        lo, hi = out["share_ci_low"], out["share_ci_high"]
        out["confident"] = np.where(high_i, lo >= icut, hi < icut) & lo.notna()
        out["quadrant"] = pd.Categorical(out["quadrant"], categories=list(QUADRANTS))
        out = out.sort_values(["quadrant", "importance"], ascending=[True, False])
        out["quadrant"] = out["quadrant"].astype(str)
        return out, {"importance_cut": float(icut), "performance_cut": float(pcut),
                     "performance_label": plabel, "outcome": self.outcome}

    def _top_box(self, threshold: float) -> pd.Series:
        return _performance(self._design, float(threshold))

    def plot(self, ax=None, value: str = "share"):
        """Horizontal bars of importance (``value="share"`` or ``"importance"``) with intervals."""
        from . import plots
        return plots.driver_importance(self.importance, ax=ax, value=value,
                                       title=f"Drivers of {self.outcome} ({self.method}, "
                                             f"R² = {self.r2:.2f})")

    def plot_quadrant(self, ax=None, **quadrant_kw):
        """Importance × performance scatter with the quadrant labels (see :meth:`quadrant`)."""
        from . import plots
        table, labels = self._quadrant_table(**quadrant_kw)
        return plots.quadrant(table, ax=ax, **labels)


@dataclass
class SegmentedDriverResult:
    """``analyze(..., by=column)``: one :class:`DriverResult` per segment and their comparison."""
    results: dict[str, DriverResult]
    by: str
    failed: dict[str, str]

    @property
    def importance(self) -> pd.DataFrame:
        """Long tidy frame: segment, driver, importance, share, rank, intervals."""
        frames = [r.importance.reset_index().assign(segment=s) for s, r in self.results.items()]
        cols = ["segment", "driver"]
        out = pd.concat(frames, ignore_index=True)
        return out[cols + [c for c in out.columns if c not in cols]]

    @property
    def r2(self) -> pd.Series:
        return pd.Series({s: r.r2 for s, r in self.results.items()}, name="r2")

    def summary(self) -> pd.DataFrame:
        """Share of each driver (rows) by segment (columns), plus R² and n per segment as attrs."""
        wide = self.importance.pivot(index="driver", columns="segment", values="share")
        wide = wide.loc[list(next(iter(self.results.values())).drivers)]
        wide.attrs = {"r2": self.r2.to_dict(), "n": {s: r.n for s, r in self.results.items()},
                      "failed": dict(self.failed)}
        return wide

    def compare(self) -> pd.DataFrame:
        """Between-segment differences in each driver's importance with bootstrap intervals.

        Segments are independent samples, so the difference's bootstrap distribution is the
        difference of independent replicates (paired by replicate index); percentile interval
        (boot.ci convention); ``significant`` when it excludes 0.
        """
        segs = [s for s, r in self.results.items() if r.boot is not None]
        rows = []
        for i, a in enumerate(segs):
            for b in segs[i + 1:]:
                ra, rb = self.results[a], self.results[b]
                m = min(len(ra.boot), len(rb.boot))
                for k, drv in enumerate(ra.drivers):
                    diff = ra.boot[:m, k] - rb.boot[:m, k]
                    lo, hi = percentile_interval(diff, ra.conf)
                    rows.append({"driver": drv, "segment_a": a, "segment_b": b,
                                 "importance_a": ra.importance["importance"].iloc[k],
                                 "importance_b": rb.importance["importance"].iloc[k],
                                 "difference": ra.importance["importance"].iloc[k]
                                 - rb.importance["importance"].iloc[k],
                                 "ci_low": lo, "ci_high": hi,
                                 "significant": bool(lo > 0 or hi < 0)})
        return pd.DataFrame(rows)

    def plot(self, ax=None):
        """Grouped bars: each driver's share by segment."""
        from . import plots
        return plots.driver_importance_by_segment(self.importance, ax=ax)

    def __repr__(self) -> str:
        fails = f"; failed: {', '.join(self.failed)}" if self.failed else ""
        return (f"SegmentedDriverResult by {self.by!r}: "
                + ", ".join(f"{s} (n={r.n}, R²={r.r2:.2f})" for s, r in self.results.items())
                + fails)


def population_importance(cov, method: str = "lmg", group_sizes: Sequence[int] | None = None
                          ) -> np.ndarray:
    """Importance from a known covariance matrix (drivers first, outcome last) — the population
    value used to check bootstrap coverage in simulations. ``group_sizes``: columns per player
    when consecutive columns form groups (default: every driver its own player)."""
    cov = np.asarray(cov, float)
    sd = np.sqrt(np.diag(cov))
    C = cov / np.outer(sd, sd)
    sizes = list(group_sizes) if group_sizes is not None else [1] * (len(C) - 1)
    imp, _, _ = _linear_importance(C[None], _method_name(method), sizes,
                                   exact=len(sizes) <= EXACT_MAX_DRIVERS,
                                   rng=np.random.default_rng(0))
    return imp[0]


def _performance(d: _Design, top_box: float | None = None) -> pd.Series:
    """Weighted mean rating per player (a group: the mean of its items' means) on the analysis
    rows, or with ``top_box`` the weighted share of ratings >= top_box."""
    if d.moments is not None and (top_box is None or not isinstance(d.source, pd.DataFrame)):
        if top_box is None:                        # weighted means of the analysis rows
            val = dict(zip(d.columns, d.moments.mean()[0]))
        else:                                      # an engine source: shares computed there
            val = _engine.top_box_shares(d.source, d.columns, top_box,
                                         complete=d.columns + [d.outcome], weights=d.weights_col)
        return pd.Series({name: float(np.mean([val[c] for c in cols])) for name, cols in
                          zip(d.players, _player_members(d))}, name="performance")
    pos = d.w > 0
    F = d.frame.loc[pos]
    w = d.w[pos]
    out = {}
    for name, cols in zip(d.players, _player_members(d)):
        vals = []
        for c in cols:
            ok = F[c].notna().to_numpy()
            x = F[c].to_numpy()[ok]
            vals.append(np.average(x if top_box is None else (x >= top_box), weights=w[ok]))
        out[name] = float(np.mean(vals))
    return pd.Series(out, name="performance")


def _player_members(d: _Design) -> list[list[str]]:
    return [[d.columns[c] for c in cols] for cols in _player_columns(d.sizes)]


# --------------------------------------------------------------------------------------------
# public: analyze
# --------------------------------------------------------------------------------------------

def analyze(data: pd.DataFrame, outcome: str, drivers: Sequence[str], method: str = "lmg",
            bootstrap: int = 1000, seed: int = 0, *, weights=None, missing: str = "listwise",
            groups: Mapping[str, Sequence[str]] | None = None, family: str = "auto",
            pseudo_r2: str = "mcfadden", confidence: float = 0.95, ci: str = "percentile",
            by: str | None = None, min_segment_n: int | None = None, progress: bool = True,
            exact: bool | None = None, tol: float = 5e-4, max_permutations: int | None = None,
            chunk: int = 100, min_pairwise_n: int | None = None, resample: str = "auto",
            row_id: str | None = None, conf: float | None = None
            ) -> DriverResult | SegmentedDriverResult:
    """Key driver analysis with bootstrap confidence intervals (level ``confidence``; the old
    name ``conf`` still works for one release, with a DeprecationWarning).

    Point estimates as :func:`relative_importance` (same options; ``data`` may also be a
    Parquet/CSV path, a DuckDB relation or a Spark DataFrame, see :mod:`cxlab.engine`).

    ``bootstrap`` replicates, by ``resample``:

    * ``"rows"`` — case resampling of the rows (as relaimpo's ``boot.relimp``), each replicate
      from a resampled weighted covariance (multinomial counts × case weights). Cost n × B.
    * ``"buckets"`` — the bucket (Poisson) bootstrap: rows are hashed into
      :data:`cxlab.engine.BUCKETS` = 1024 buckets by ``row_id`` (an integer column) or the row
      position (:func:`cxlab.engine.bucket_ids`), and each bucket's weighted moments (Σw, Σwz,
      Σwzz') are computed once, in the engine that holds the data. A replicate gives every
      bucket an independent Poisson(1) weight and adds the weighted bucket moments, so its cost
      is G × B, whatever n. Row-level Poisson weights are the Poisson bootstrap (Hanley &
      MacGibbon 2006, Comput. Methods Programs Biomed. 83:57; Chamandy, Muralidharan, Najmi &
      Naik 2012, "Estimating uncertainty for massive data streams", Google), asymptotically
      equivalent to case resampling; giving one weight to a random group of rows is the
      random-group method (Wolter 2007, "Introduction to Variance Estimation", ch. 2): buckets
      are iid random groups, the statistic is a smooth function of their sums, so the bootstrap
      of the 1024 bucket sums is valid, with a variance estimate whose relative error is about
      sqrt(2/1024) = 4%. The same buckets in memory and in every engine give the same intervals.
    * ``"auto"`` (default) — rows up to :data:`ROW_BOOTSTRAP_MAX_N` = 50,000 usable rows
      (the classical method, exactly reproducible against refits on resampled rows, and
      affordable there), buckets beyond; an engine source with at most that many rows is
      collected and resampled by rows, so the method depends on n only, never on the engine.

    Intervals:
    ``ci="percentile"`` with ``boot.ci(type="perc")`` order statistics (see
    :func:`percentile_interval`), or ``ci="bca"`` (bias-corrected and accelerated; acceleration
    from a delete-a-group jackknife with :data:`BCA_JACKKNIFE_GROUPS` groups, full jackknife when
    n ≤ that). Reproducible with ``seed``; tqdm progress bar unless ``progress=False``.

    ``by``: run per segment (a column); returns a :class:`SegmentedDriverResult` whose
    ``compare()`` tests between-segment differences. A segment that cannot be analysed (too few
    rows, a constant driver, ...) or has fewer than ``min_segment_n`` rows is recorded in
    ``.failed`` (with the reason) and the rest go on.

    The result's ``quadrant()`` returns a tidy DataFrame (quadrant label per driver);
    ``plot_quadrant()`` draws it (or ``cx.plots.quadrant(result.quadrant())``); ``plot()`` draws
    the importances with their intervals; ``differences()`` tests drivers pairwise.

    ``missing="pairwise"``: every pair of columns needs ``min_pairwise_n`` rows answered
    together (default :data:`PAIRWISE_MIN_N` = 30), else :class:`CXDataError` naming the pairs.
    Pairwise correlations come from different respondents, so the matrix need not be positive
    semi-definite; if the sample's matrix (drivers and outcome) is not positive definite the
    analysis stops with a :class:`CXDataError` naming the pairs with the least overlap. We do
    *not* project to the nearest correlation matrix (Higham 2002): the projected matrix belongs
    to no sample, and the R² and importances would look exact while resting on contradictory
    correlations. A bootstrap resample whose matrix is not positive definite, or any draw with
    R² outside [0, 1] or an importance outside its range, is left out, counted in the notes and
    warned about (intervals from the rest); R² and importances never leave their range.
    """
    if conf is not None:
        warnings.warn("analyze(conf=...) is now analyze(confidence=...); conf will be removed "
                      "in the next release.", DeprecationWarning, stacklevel=2)
        confidence = conf
    conf = confidence
    if by is not None:
        return _analyze_by(data, outcome, drivers, method, bootstrap, seed, by=by,
                           min_segment_n=min_segment_n, progress=progress,
                           kw={"weights": weights, "missing": missing, "groups": groups,
                               "family": family, "pseudo_r2": pseudo_r2, "confidence": conf,
                               "ci": ci,
                               "exact": exact, "tol": tol, "max_permutations": max_permutations,
                               "chunk": chunk, "min_pairwise_n": min_pairwise_n,
                               "resample": resample, "row_id": row_id})
    method = _method_name(method)
    if not 0 < conf < 1:
        raise CXDataError(f"confidence must be between 0 and 1, e.g. 0.95; got {conf}.")
    ci = {"perc": "percentile", "percentile": "percentile", "bca": "bca"}.get(str(ci).lower())
    if ci is None:
        raise CXDataError("ci must be 'percentile' or 'bca'.")
    bootstrap = int(bootstrap or 0)
    if bootstrap < 0:
        raise CXDataError("bootstrap must be >= 0 (0 = no intervals).")
    d = _prepare(data, outcome, drivers, weights=weights, missing=missing, groups=groups,
                 family=family, min_pairwise_n=min_pairwise_n,
                 resample=resample if bootstrap else None, row_id=row_id)
    table, kind, ex, rng, info = _point_estimate(d, method, groups, pseudo_r2, exact, seed, tol,
                                                 max_permutations)
    imp0, r20 = table["importance"].to_numpy(), table.attrs["r2"]
    notes = list(d.notes)
    if "mc_se" in info:
        notes.append(f"LMG estimated by permutation sampling ({info['permutations']} orders); "
                     f"95% Monte-Carlo error bound {1.96 * info['mc_se'].max():.2g}.")
    boot = boot_r2 = None
    r2_ci = (np.nan, np.nan)
    for c in ("ci_low", "ci_high", "share_ci_low", "share_ci_high"):
        table[c] = np.nan
    if bootstrap:
        boot, boot_r2 = _bootstrap(d, method, kind, ex, bootstrap, rng, tol, max_permutations,
                                   progress, chunk)
        if d.resample == "buckets":
            notes.append(f"Bootstrap: {bootstrap} Poisson replicates of "
                         f"{len(d.bucket_moments.n)} hashed row buckets (bucket moments computed "
                         "once; see analyze's resample).")
        ok = np.all(np.isfinite(boot), axis=1) & np.isfinite(boot_r2)
        if (~ok).any():
            notes.append(f"{(~ok).sum()} of {bootstrap} bootstrap resamples could not be "
                         "computed (e.g. a driver constant in the resample) and were left out.")
            warnings.warn(notes[-1], CXWarning, stacklevel=2)
        bad = ok & ~_in_range(boot, boot_r2, method, d)
        if bad.any():
            notes.append(
                f"{bad.sum()} of {bootstrap} bootstrap resamples ({bad.mean():.1%}) gave "
                + ("a pairwise correlation matrix that is not positive definite or " if
                   d.missing == "pairwise" else "")
                + "an R² or importance outside its range and were left out; the intervals rest on "
                "the others" + (" and may be too narrow (pairwise deletion with sparsely answered "
                                "drivers: consider missing='listwise')" if d.missing == "pairwise"
                                else "") + ".")
            warnings.warn(notes[-1], CXWarning, stacklevel=2)
            ok &= ~bad
        boot, boot_r2 = boot[ok], boot_r2[ok]
        shares = boot / boot.sum(axis=1, keepdims=True)
        share0 = table["share"].to_numpy()
        if ci == "bca":
            jack_imp, jack_r2 = _jackknife(d, method, kind, ex, rng, tol, max_permutations)
            jack_share = jack_imp / jack_imp.sum(axis=1, keepdims=True)
            bounds = [_bca_interval(boot[:, k], imp0[k], jack_imp[:, k], conf)
                      for k in range(len(imp0))]
            sbounds = [_bca_interval(shares[:, k], share0[k], jack_share[:, k], conf)
                       for k in range(len(imp0))]
            r2_ci = _bca_interval(boot_r2, r20, jack_r2, conf)
        else:
            bounds = [percentile_interval(boot[:, k], conf) for k in range(len(imp0))]
            sbounds = [percentile_interval(shares[:, k], conf) for k in range(len(imp0))]
            r2_ci = percentile_interval(boot_r2, conf)
        table["ci_low"], table["ci_high"] = np.array(bounds).T
        table["share_ci_low"], table["share_ci_high"] = np.array(sbounds).T
    return DriverResult(importance=table, r2=r20, r2_ci=tuple(map(float, r2_ci)), method=method,
                        model=_model_label(d, kind), outcome=outcome, n=d.n_used,
                        n_total=d.n_total, dropped=dict(d.dropped), confidence=conf, ci=ci,
                        bootstrap=0 if boot is None else len(boot), boot=boot, boot_r2=boot_r2,
                        performance=_performance(d), notes=notes, seed=seed,
                        _design=d)


def _in_range(imp: np.ndarray, r2: np.ndarray, method: str, d: _Design, eps: float = 1e-9):
    """Draws whose R² is in [0, 1] and importances in range ([0, 1]; Pratt's products may be
    negative but not above 1 in size), and, with pairwise deletion, whose resampled correlation
    matrix was positive definite (R² is NaN-marked by :func:`_bootstrap` when not)."""
    ok = (r2 >= -eps) & (r2 <= 1 + eps)
    low = -1 - eps if method == "pratt" else -eps
    ok &= np.all((imp >= low) & (imp <= 1 + eps), axis=1)
    return ok


def _bootstrap(d: _Design, method, kind, exact, B, rng, tol, max_permutations, progress, chunk):
    """B case-resampling replicates via multinomial count weights on the rows (or, for a
    bucket design, :func:`_bucket_bootstrap`)."""
    if d.resample == "buckets":
        return _bucket_bootstrap(d, method, exact, B, rng, tol, max_permutations, progress, chunk)
    tqdm = _tqdm(progress)
    n = len(d.Z)
    if d.family == "logistic":
        chunk = 1
    else:
        # resample weights and moments per chunk; the exact LMG splits its own work by memory
        # (_exact_lmg), so a chunk only bounds W (b x n) and keeps the progress bar moving
        mem = n * 8 * 2 + (d.q + 1) ** 2 * 8 * 4
        chunk = max(1, min(chunk, int(256e6 // mem), max(4, (1 << 24) >> len(d.sizes))))
    imps, r2s = [], []
    bar = tqdm(total=B, desc=f"bootstrap ({method})", disable=not progress, leave=False)
    blas = single_blas_thread()          # many small products: one BLAS thread is faster
    blas.__enter__()
    try:
        done = 0
        while done < B:
            b = min(chunk, B - done)
            W = _resample_counts(rng, n, b) * d.w[None, :]
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                try:
                    imp, r2, _ = _importance_for_weights(d, W, method, kind, exact, rng, tol,
                                                         max_permutations)
                except np.linalg.LinAlgError:          # a singular resample: evaluate one by one
                    imp = np.full((b, len(d.sizes)), np.nan)
                    r2 = np.full(b, np.nan)
                    for i in range(b):
                        try:
                            ii, rr, _ = _importance_for_weights(d, W[i:i + 1], method, kind, exact,
                                                                rng, tol, max_permutations)
                            imp[i], r2[i] = ii[0], rr[0]
                        except np.linalg.LinAlgError:
                            pass
            if d.family == "linear" and d.missing == "pairwise":
                # contradictory pairwise correlations in this resample: R² meaningless
                with np.errstate(invalid="ignore", divide="ignore"):
                    C = _corr_matrices(d.Z, W, d.missing)
                good = np.all(np.isfinite(C), axis=(1, 2))
                lam = np.full(b, -np.inf)
                lam[good] = np.linalg.eigvalsh(C[good])[:, 0]
                r2 = np.where(lam < PAIRWISE_MIN_EIGEN, -1.0, r2)   # out of range: left out
            imps.append(imp)
            r2s.append(r2)
            done += b
            bar.update(b)
    finally:
        bar.close()
        blas.__exit__(None, None, None)
    return np.concatenate(imps), np.concatenate(r2s)


def _tqdm(progress: bool):
    """tqdm.auto (notebook widget) when ipywidgets is available, else the text bar: tqdm.auto
    warns on import in a Jupyter kernel without ipywidgets, even when the bar is disabled."""
    if progress:
        try:
            import ipywidgets  # noqa: F401
            from tqdm.auto import tqdm
            return tqdm
        except ImportError:
            pass
    from tqdm import tqdm
    return tqdm


def _resample_counts(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    """How often each row is drawn in ``b`` resamples of n rows with replacement (b x n):
    Multinomial(n, 1/n) counts, from ``rng.integers(0, n, (b, n))`` row indices."""
    idx = rng.integers(0, n, size=(b, n))
    flat = (idx + (np.arange(b) * n)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(float)


def _bucket_stats(bm) -> np.ndarray:
    """Per-bucket moments as rows [Σw, Σw(z−c), upper triangle of Σw(z−c)(z−c)']."""
    iu, ju = np.triu_indices(bm.s1.shape[1])
    return np.concatenate([bm.s0[:, None], bm.s1, bm.s2[:, iu, ju]], axis=1)


def _stats_corr(R: np.ndarray, m: int) -> np.ndarray:
    """Correlation matrices from rows of summed bucket moments (see :func:`_bucket_stats`)."""
    iu, ju = np.triu_indices(m)
    s0 = R[:, 0]
    m1 = R[:, 1:1 + m] / s0[:, None]
    s2 = np.empty((len(R), m, m))
    s2[:, iu, ju] = R[:, 1 + m:]
    s2[:, ju, iu] = R[:, 1 + m:]
    cov = s2 / s0[:, None, None] - m1[:, :, None] * m1[:, None, :]
    return _engine.cov_to_corr(cov)


def _importance_from_corr(d: _Design, C, method, exact, rng, tol, max_permutations):
    """Importances for a batch of correlation matrices; a singular one is evaluated alone and
    left NaN (counted by analyze)."""
    mp = max_permutations or 200_000
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        try:
            imp, r2, _ = _linear_importance(C, method, d.sizes, exact=exact, rng=rng, tol=tol,
                                            max_permutations=mp)
        except np.linalg.LinAlgError:
            imp = np.full((len(C), len(d.sizes)), np.nan)
            r2 = np.full(len(C), np.nan)
            for i in range(len(C)):
                try:
                    ii, rr, _ = _linear_importance(C[i:i + 1], method, d.sizes, exact=exact,
                                                   rng=rng, tol=tol, max_permutations=mp)
                    imp[i], r2[i] = ii[0], rr[0]
                except np.linalg.LinAlgError:
                    pass
    return imp, r2


def _bucket_bootstrap(d: _Design, method, exact, B, rng, tol, max_permutations, progress, chunk):
    """B Poisson bootstrap replicates from the per-bucket moments (see :func:`analyze`): each
    replicate's moments are Σ_g P_g · moments_g with P_g ~ Poisson(1) independent, so the
    rows are never read again (cost G x B, not n x B)."""
    T = _bucket_stats(d.bucket_moments)
    m = d.q + 1
    tqdm = _tqdm(progress)
    imps, r2s = [], []
    bar = tqdm(total=B, desc=f"bootstrap ({method}, buckets)", disable=not progress, leave=False)
    try:
        done = 0
        while done < B:
            b = min(chunk, B - done)
            P = rng.poisson(1.0, size=(b, len(T))).astype(float)
            with np.errstate(invalid="ignore", divide="ignore"):
                C = _stats_corr(P @ T, m)
            imp, r2 = _importance_from_corr(d, C, method, exact, rng, tol, max_permutations)
            imps.append(imp)
            r2s.append(r2)
            done += b
            bar.update(b)
    finally:
        bar.close()
    return np.concatenate(imps), np.concatenate(r2s)


def _jackknife(d: _Design, method, kind, exact, rng, tol, max_permutations):
    if d.resample == "buckets":      # delete-a-group over groups of buckets (bucket mod G)
        T = _bucket_stats(d.bucket_moments)
        grp = d.bucket_moments.keys["bucket"].to_numpy() % BCA_JACKKNIFE_GROUPS
        Tg = np.zeros((BCA_JACKKNIFE_GROUPS, T.shape[1]))
        np.add.at(Tg, grp, T)
        Tg = Tg[np.bincount(grp, minlength=BCA_JACKKNIFE_GROUPS) > 0]
        C = _stats_corr(T.sum(axis=0)[None, :] - Tg, d.q + 1)
        return _importance_from_corr(d, C, method, exact, rng, tol, max_permutations)
    n = len(d.Z)
    G = min(n, BCA_JACKKNIFE_GROUPS)
    group = rng.permutation(np.arange(n) % G)
    W = np.repeat(d.w[None, :], G, axis=0)
    W[group, np.arange(n)] = 0.0
    imp, r2, _ = _importance_for_weights(d, W, method, kind, exact, rng, tol, max_permutations)
    return imp, r2


def _analyze_by(data, outcome, drivers, method, bootstrap, seed, *, by, min_segment_n, progress,
                kw) -> SegmentedDriverResult:
    if _engine.is_engine_source(data):          # segments filtered in the engine
        src = _engine.source(data)
        _engine.require_columns(src.columns, [by])
        sizes = _engine.category_counts(src, by)
        n_na = int(sizes.loc[sizes[by].isna(), "n"].sum())
        sizes = sizes.loc[sizes[by].notna()]
        size_of = dict(zip(sizes[by], sizes["n"].astype(int)))
        data, part_of = src, lambda s: _engine.filter_equal(src, by, s)
    else:
        data = require_frame(data)
        require_columns(data, [by])
        n_na = int(data[by].isna().sum())
        vc = data[by].value_counts()
        size_of = {s: int(vc[s]) for s in pd.unique(data[by].dropna())}
        part_of = lambda s: data.loc[data[by] == s]          # noqa: E731
    if n_na:
        warnings.warn(f"{n_na} rows have no {by!r} value and are not in any segment.", CXWarning,
                      stacklevel=3)
    segments = list(size_of)
    try:
        segments = sorted(segments)
    except TypeError:
        pass
    seeds = np.random.SeedSequence(seed).spawn(len(segments))
    results, failed = {}, {}
    for s, ss in zip(segments, seeds):
        if min_segment_n is not None and size_of[s] < min_segment_n:
            failed[str(s)] = f"only {size_of[s]} rows (< min_segment_n={min_segment_n})"
            continue
        part = part_of(s)
        try:
            res = analyze(part, outcome, drivers, method, bootstrap,
                          int(ss.generate_state(1)[0]), progress=progress, **kw)
        except CXDataError as err:
            failed[str(s)] = str(err)
            continue
        res.segment = str(s)
        results[str(s)] = res
    if failed:
        warnings.warn("Segments not analysed: " + "; ".join(f"{k}: {v}" for k, v in failed.items()),
                      CXWarning, stacklevel=3)
    if not results:
        raise CXDataError(f"No segment of {by!r} could be analysed: " +
                          "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return SegmentedDriverResult(results=results, by=by, failed=failed)

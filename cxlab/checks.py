"""Input checks shared by every public function: clear errors that name the column, the rows and the fix.

All errors raised here are :class:`CXDataError` (a ``ValueError``), so callers can catch one type.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd


class CXDataError(ValueError):
    """The data cannot be analysed as given; the message says what is wrong and how to fix it."""


class CXWarning(UserWarning):
    """Something in the data deserves attention but the analysis can go on."""


def _preview(values: Iterable, limit: int = 5) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    more = f" and {len(values) - limit} more" if len(values) > limit else ""
    return f"{shown}{more}"


def require_frame(data, what: str = "data") -> pd.DataFrame:
    """Return ``data`` if it is a non-empty DataFrame, else raise."""
    if not isinstance(data, pd.DataFrame):
        raise CXDataError(f"{what} must be a pandas DataFrame, got {type(data).__name__}. "
                          "Load your file with cx.io.read_survey() or pandas first.")
    if len(data) == 0:
        raise CXDataError(f"{what} has no rows. Check the file and any filter applied before.")
    return data


def require_columns(data: pd.DataFrame, columns: Sequence[str], what: str = "data") -> None:
    """Raise if any of ``columns`` is missing, listing the closest available names."""
    missing = [c for c in columns if c not in data.columns]
    if missing:
        available = _preview(map(str, data.columns), limit=12)
        raise CXDataError(f"{what} has no column {_preview(missing)}. Available columns: {available}. "
                          "Check the spelling or rename the column.")


def numeric(data: pd.DataFrame, column: str, scale: tuple[float, float] | None = None,
            integer: bool = False, allow_missing: bool = True) -> pd.Series:
    """Return ``data[column]`` as float, checking type, range and missingness.

    Text values, values outside ``scale`` (inclusive) and, if ``integer``, non-whole values
    raise :class:`CXDataError` naming the offending values and their row labels.
    """
    require_columns(data, [column])
    return numeric_series(data[column], f"Column {column!r}", scale=scale, integer=integer,
                          allow_missing=allow_missing)


def numeric_series(raw: pd.Series, label: str, scale: tuple[float, float] | None = None,
                   integer: bool = False, allow_missing: bool = True,
                   require_values: bool = True) -> pd.Series:
    """The checks of :func:`numeric` on a Series; ``label`` starts each message (e.g. "Column 'ltr'")."""
    if pd.api.types.is_bool_dtype(raw):
        raw = raw.astype(float)
    values = pd.to_numeric(raw, errors="coerce")
    bad_text = values.isna() & raw.notna()
    if bad_text.any():
        rows = raw.index[bad_text]
        raise CXDataError(
            f"{label} should be numeric but holds text in {bad_text.sum()} row(s): "
            f"values {_preview(pd.unique(raw[bad_text].astype(str)))} at rows {_preview(rows)}. "
            "Recode these answers (e.g. 'Don't know' to missing) or drop the rows explicitly.")
    values = values.astype(float)
    infinite = values.notna() & ~np.isfinite(values)
    if infinite.any():
        raise CXDataError(f"{label} has infinite values at rows "
                          f"{_preview(values.index[infinite])}. Replace them with real values or missing.")
    if require_values and values.notna().sum() == 0:
        raise CXDataError(f"{label} has no non-missing values. Choose another column "
                          "or check the import.")
    if not allow_missing and values.isna().any():
        rows = values.index[values.isna()]
        raise CXDataError(f"{label} has {values.isna().sum()} missing value(s) at rows "
                          f"{_preview(rows)}. Fill or drop them first.")
    if scale is not None:
        lo, hi = scale
        out = values.notna() & ((values < lo) | (values > hi))
        if out.any():
            rows = values.index[out]
            raise CXDataError(
                f"{label} is a {lo:g}–{hi:g} scale but has {out.sum()} value(s) outside it: "
                f"{_preview(pd.unique(values[out]))} at rows {_preview(rows)}. Fix the scale "
                "argument, or recode these values (e.g. 99 = 'don't know') to missing.")
    if integer:
        frac = values.notna() & (values != np.round(values))
        if frac.any():
            raise CXDataError(f"{label} should hold whole-number ratings but has "
                              f"{_preview(pd.unique(values[frac]))} at rows {_preview(values.index[frac])}.")
    return values


def as_series(values, name: str = "scores") -> pd.Series:
    """Accept a Series, list or array and return a Series (a DataFrame column stays a Series)."""
    if isinstance(values, pd.DataFrame):
        raise CXDataError(f"{name} must be one column, not a DataFrame with columns "
                          f"{_preview(values.columns)}. Pass e.g. data['ltr'].")
    if isinstance(values, pd.Series):
        return values
    return pd.Series(np.asarray(values, dtype=object), name=name)


def weights_for(data: pd.DataFrame, weight: str | None) -> np.ndarray | None:
    """Survey weights from column ``weight``: numeric, finite, non-negative, not all zero."""
    if weight is None:
        return None
    w = numeric(data, weight, allow_missing=False)
    if (w < 0).any():
        raise CXDataError(f"Weight column {weight!r} has negative values at rows "
                          f"{_preview(w.index[w < 0])}. Weights must be >= 0.")
    if w.sum() <= 0:
        raise CXDataError(f"Weight column {weight!r} sums to zero.")
    return w.to_numpy()


def min_rows(n: int, needed: int, what: str) -> None:
    """Raise when fewer than ``needed`` usable rows remain for ``what``."""
    if n < needed:
        raise CXDataError(f"{what} needs at least {needed} usable rows but only {n} remain. "
                          "Widen the selection (more waves, a larger segment) or lower the requirement.")


def progress_bar():
    """tqdm's ``tqdm.auto`` bar class, imported without its "IProgress not found" warning.

    In a Jupyter kernel without ipywidgets, tqdm falls back to its text bar anyway; the warning
    it prints on first import would otherwise land on stderr in every executed notebook (even
    with ``progress=False``).
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm

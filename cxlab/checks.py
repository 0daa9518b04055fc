"""Input checks shared by every public function: clear errors that name the column, the rows and the fix.

All errors raised here are :class:`CXDataError` (a ``ValueError``), so callers can catch one type.
Bottom layer: imports only numpy and pandas.

Examples
--------
>>> import pandas as pd
>>> from cxlab.checks import CXDataError, numeric
>>> survey = pd.DataFrame({"ltr": [9, 10, "Don't know", 3]})
>>> try:
...     numeric(survey, "ltr", scale=(0, 10))
... except CXDataError as err:
...     print(str(err)[:72])
Column 'ltr' should be numeric but holds text in 1 row(s): values "Don't
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


def require_frame(data: object, what: str = "data") -> pd.DataFrame:
    """Return ``data`` if it is a non-empty DataFrame.

    Parameters
    ----------
    data : object
        What the caller passed.
    what : str
        How messages name it (e.g. ``"survey"``).

    Returns
    -------
    pandas.DataFrame
        ``data`` itself.

    Raises
    ------
    CXDataError
        If ``data`` is not a DataFrame or has no rows.
    """
    if not isinstance(data, pd.DataFrame):
        raise CXDataError(f"{what} must be a pandas DataFrame, got {type(data).__name__}. "
                          "Load your file with cx.io.read_survey() or pandas first.")
    if len(data) == 0:
        raise CXDataError(f"{what} has no rows. Check the file and any filter applied before.")
    return data


def require_columns(data: pd.DataFrame, columns: Sequence[str], what: str = "data") -> None:
    """Raise if any of ``columns`` is missing, listing the available names.

    Parameters
    ----------
    data : pandas.DataFrame
        The table to look in.
    columns : sequence of str
        Names that must be present.
    what : str
        How messages name the table.

    Raises
    ------
    CXDataError
        Naming the missing columns and the first available ones.

    Examples
    --------
    >>> import pandas as pd
    >>> from cxlab.checks import require_columns
    >>> require_columns(pd.DataFrame({"ltr": [9]}), ["ltr"])    # present: returns None
    """
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

    Parameters
    ----------
    data : pandas.DataFrame
        The table.
    column : str
        The column to check.
    scale : (float, float), optional
        Inclusive range of valid values (e.g. ``(0, 10)``).
    integer : bool, default False
        Require whole numbers (ratings).
    allow_missing : bool, default True
        Allow missing values (NaN); ``False`` raises naming their rows.

    Returns
    -------
    pandas.Series
        The column as float64, same index.

    Raises
    ------
    CXDataError
        For a missing column, text, infinite, out-of-scale or (``integer``) fractional values.

    Examples
    --------
    >>> import pandas as pd
    >>> from cxlab.checks import numeric
    >>> numeric(pd.DataFrame({"ltr": [9, 10, None]}), "ltr", scale=(0, 10)).tolist()
    [9.0, 10.0, nan]
    """
    require_columns(data, [column])
    return numeric_series(data[column], f"Column {column!r}", scale=scale, integer=integer,
                          allow_missing=allow_missing)


def numeric_series(raw: pd.Series, label: str, scale: tuple[float, float] | None = None,
                   integer: bool = False, allow_missing: bool = True,
                   require_values: bool = True) -> pd.Series:
    """The checks of :func:`numeric` on a Series.

    Parameters
    ----------
    raw : pandas.Series
        Values as read (any dtype; booleans count as 0/1).
    label : str
        Starts each message, e.g. ``"Column 'ltr'"``.
    scale, integer, allow_missing
        As in :func:`numeric`.
    require_values : bool, default True
        Raise when no value is present at all.

    Returns
    -------
    pandas.Series
        float64, same index.

    Raises
    ------
    CXDataError
        As :func:`numeric`, with ``label`` in the message.
    """
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


def as_series(values: object, name: str = "scores") -> pd.Series:
    """Accept a Series, list or array and return a Series (a DataFrame column stays a Series).

    Parameters
    ----------
    values : pandas.Series, list or numpy.ndarray
        One column of values.
    name : str
        The Series' name when one is built, and how messages name it.

    Returns
    -------
    pandas.Series
        ``values`` itself if it is a Series, else an object Series.

    Raises
    ------
    CXDataError
        If ``values`` is a DataFrame (several columns).

    Examples
    --------
    >>> from cxlab.checks import as_series
    >>> as_series([9, 10, 6]).tolist()
    [9, 10, 6]
    """
    if isinstance(values, pd.DataFrame):
        raise CXDataError(f"{name} must be one column, not a DataFrame with columns "
                          f"{_preview(values.columns)}. Pass e.g. data['ltr'].")
    if isinstance(values, pd.Series):
        return values
    return pd.Series(np.asarray(values, dtype=object), name=name)


def weights_for(data: pd.DataFrame, weight: str | None) -> np.ndarray | None:
    """Survey weights from column ``weight``: numeric, finite, non-negative, not all zero.

    Parameters
    ----------
    data : pandas.DataFrame
        The table holding the weights.
    weight : str or None
        The weight column; ``None`` means unweighted.

    Returns
    -------
    numpy.ndarray or None
        The weights as float, or ``None`` when ``weight`` is ``None``.

    Raises
    ------
    CXDataError
        For a missing column, text, missing, negative or all-zero weights.

    Examples
    --------
    >>> import pandas as pd
    >>> from cxlab.checks import weights_for
    >>> weights_for(pd.DataFrame({"w": [0.5, 1.5]}), "w").tolist()
    [0.5, 1.5]
    """
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
    """Raise when fewer than ``needed`` usable rows remain for ``what``.

    Parameters
    ----------
    n : int
        Usable rows.
    needed : int
        Rows the analysis needs.
    what : str
        The analysis, for the message.

    Raises
    ------
    CXDataError
        If ``n < needed``.
    """
    if n < needed:
        raise CXDataError(f"{what} needs at least {needed} usable rows but only {n} remain. "
                          "Widen the selection (more waves, a larger segment) or lower the requirement.")


def progress_bar() -> type:
    """tqdm's ``tqdm.auto`` bar class, imported without its "IProgress not found" warning.

    In a Jupyter kernel without ipywidgets, tqdm falls back to its text bar anyway; the warning
    it prints on first import would otherwise land on stderr in every executed notebook (even
    with ``progress=False``).

    Returns
    -------
    type
        ``tqdm.auto.tqdm``.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tqdm.auto import tqdm
    return tqdm


class Findings:
    """What every validation report shares: ``issues`` (objects with ``severity``, ``check``,
    ``column``, ``n``, ``message``), the errors and warnings among them, and one table of them."""

    issues: list

    @property
    def errors(self) -> list:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def _findings(self, columns: list[str]):
        """One row per finding with ``columns`` (attributes of the issue), errors first."""
        import pandas as pd
        order = {"error": 0, "warning": 1, "info": 2}
        rows = [{c: getattr(i, c) for c in columns}
                for i in sorted(self.issues, key=lambda i: order[i.severity])]
        return pd.DataFrame(rows, columns=columns)

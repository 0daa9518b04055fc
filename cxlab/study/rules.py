"""Coding rules shared by validation and preparation, so both judge a row the same way:
numbers from text cells, reversed scales, the configured filter, binary outcomes and join keys."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..checks import CXDataError, _preview
from .schema import StudySchema, _as_list

_BINARY_TEXT = {"yes": 1, "no": 0, "true": 1, "false": 0, "y": 1, "n": 0}


def _numeric(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """(float values, mask of cells holding non-numeric text)."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype(float), pd.Series(False, index=s.index)
    if pd.api.types.is_numeric_dtype(s):
        v = s.astype(float)
        return v, pd.Series(False, index=s.index)
    if pd.api.types.is_datetime64_any_dtype(s):
        return pd.Series(np.nan, index=s.index), s.notna()
    txt = s.astype("str").str.strip().where(s.notna())
    try:
        v = txt.astype(float)               # fast path: all numbers (or missing)
    except (ValueError, TypeError):
        v = pd.to_numeric(txt, errors="coerce").astype(float)
    text = s.notna() & v.isna() & (txt != "")
    return v, text


def _reverse(schema: StudySchema, X: pd.DataFrame) -> pd.DataFrame:
    """Drivers declared ``reverse: true`` turned round: low + high − x."""
    rev = [d for d in schema.drivers if d.reverse and d.column in X.columns]
    if not rev:
        return X
    X = X.copy()
    for d in rev:
        X[d.column] = d.scale[0] + d.scale[1] - X[d.column]
    return X


def _key(ids: pd.Series) -> pd.Series:
    """Join keys as text; whole-number floats lose their '.0' (ids read as float because of NaN)."""
    if pd.api.types.is_float_dtype(ids):
        whole = ids.dropna()
        if len(whole) and (whole == np.round(whole)).all():
            return ids.astype("Int64").astype("str").where(ids.notna())
    return ids.astype("str").str.strip().where(ids.notna())


def _apply_filter(schema: StudySchema, data: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    if not schema.filter:
        return data, 0
    keep = pd.Series(True, index=data.index)
    for col, allowed in schema.filter.items():
        allowed = _as_list(allowed)
        s = data[col]
        if pd.api.types.is_numeric_dtype(s):
            vals = pd.to_numeric(pd.Series(allowed, dtype=object), errors="coerce").dropna()
            keep &= s.isin(vals.tolist())
        else:
            keep &= s.astype("str").isin([str(a) for a in allowed])
    return data[keep], int((~keep).sum())


def _binary(raw: pd.Series, positive, strict: bool) -> pd.Series:
    """0/1 (float, NaN for missing) from a binary column; ``positive`` names the 1 level."""
    present = raw.notna()
    if positive is not None:
        if pd.api.types.is_numeric_dtype(raw) or pd.api.types.is_bool_dtype(raw):
            try:
                pos = float(positive)
            except (TypeError, ValueError):
                pos = None
            hit = raw.astype(float) == pos if pos is not None else pd.Series(False, index=raw.index)
        else:
            hit = raw.astype("str").str.strip().str.lower() == str(positive).strip().lower()
        if strict and not hit.any():
            raise CXDataError(f"The outcome's positive value {positive!r} does not occur; its values "
                              f"are {_preview(pd.unique(raw.dropna()))}.")
        return hit.astype(float).where(present)
    if pd.api.types.is_bool_dtype(raw):
        return raw.astype(float).where(present)
    v, text = _numeric(raw)
    if not text.any():
        if strict and not v.dropna().isin([0, 1]).all():
            raise CXDataError(f"The binary outcome has values {_preview(pd.unique(v.dropna()))}; "
                              "state which one means 1 with positive: <value>.")
        return v.where(v.isin([0, 1]))
    low = raw.astype("str").str.strip().str.lower()
    mapped = low.map(_BINARY_TEXT).astype(float).where(present)
    if strict and mapped[present].isna().any():
        raise CXDataError(f"The binary outcome holds text ({_preview(pd.unique(raw.dropna()))}); "
                          "state which value means 1, e.g. positive: satisfied.")
    return mapped

"""cxlab.notes.recorded: the one warning policy of studies and reports (record CXWarnings for the
reader, pass every other warning on, never silence)."""

from __future__ import annotations

import warnings

import pytest

from cxlab.checks import CXWarning
from cxlab.notes import recorded


def _noisy(x):
    warnings.warn("drivers are nearly collinear", CXWarning, stacklevel=2)
    warnings.warn("drivers are nearly collinear", CXWarning, stacklevel=2)   # once in the notes
    warnings.warn("3 rows left out", CXWarning, stacklevel=2)
    warnings.warn("divide by zero", RuntimeWarning, stacklevel=2)
    return 2 * x


def test_cx_warnings_become_notes_and_others_pass_through():
    with pytest.warns(RuntimeWarning, match="divide by zero") as other:
        result, notes = recorded(_noisy, 21)
    assert result == 42
    assert notes == ["drivers are nearly collinear", "3 rows left out"]
    assert not [w for w in other if issubclass(w.category, CXWarning)]     # not shown twice


def test_errors_propagate():
    def fails():
        warnings.warn("partial", CXWarning, stacklevel=2)
        raise ValueError("bad input")
    with pytest.raises(ValueError, match="bad input"):
        recorded(fails)


def test_a_silencing_filter_outside_does_not_hide_cx_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, notes = recorded(_noisy, 1)
    assert "3 rows left out" in notes

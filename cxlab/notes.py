"""One warning policy: warnings are recorded and shown to the reader, never silenced.

A :class:`~cxlab.checks.CXWarning` raised by an analysis (near-collinear drivers, a merged
level, excluded rows, a target clipped to its scale, ...) qualifies the numbers beside it, so
studies and reports run their analyses through :func:`recorded` and print the messages it
returns next to the table or figure (and into the manifest). Warnings of other kinds (numpy,
statsmodels) are passed on unchanged, to the notebook's stderr.

    result, notes = recorded(cx.drivers.analyze, data, "ltr", drivers, bootstrap=200)

Bottom layer: imports only :mod:`cxlab.checks`.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from .checks import CXWarning

__all__ = ["recorded"]


def recorded(func: Callable, *args, **kwargs) -> tuple[Any, list[str]]:
    """Call ``func(*args, **kwargs)``; return its result and the messages of the CXWarnings it
    raised (each once, in order). Other warnings are re-issued as they came; exceptions
    propagate (their CXWarnings with them are lost, as the result is)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = func(*args, **kwargs)
    messages: list[str] = []
    for w in caught:
        if issubclass(w.category, CXWarning):
            text = str(w.message)
            if text not in messages:
                messages.append(text)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    return result, messages

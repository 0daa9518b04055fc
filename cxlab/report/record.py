"""The channel between a report notebook and the runner: the notebook's last cell records the
report's status and KPI cards as one JSON output of this MIME type; the runner reads it back for
the index page and the manifest. Both sides import this module, never each other. It also holds
the one suppression rule both sides apply (:data:`SUPPRESSION_RULE`,
:func:`complementary_suppression`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..display import in_ipython

RECORD_MIME = "application/vnd.cxlab.report+json"


#: The complementary-suppression rule of every report, index page and manifest (one sentence).
SUPPRESSION_RULE = (
    "When a group of a split has fewer answers than the minimum base, further groups of that "
    "split are suppressed with it, smallest first, until the suppressed groups together hold at "
    "least the minimum base, so that the company figure minus the published groups reveals only "
    "a pooled group no smaller than the minimum base; a suppressed figure is published with "
    "neither its value, its change nor its target, and a group below the minimum base without "
    "its number of answers.")


def complementary_suppression(counts: Mapping, min_base: int) -> frozenset[str]:
    """The groups of one partition whose figures are not published (:data:`SUPPRESSION_RULE`).

    ``counts`` maps each group of the split to its number of answers. Primary suppression: groups
    with 0 < n < ``min_base``. Complementary suppression: while fewer than two groups are
    suppressed, or the suppressed groups hold fewer than ``min_base`` answers together, the
    smallest published group is added. Groups with no answers have no figure and are ignored.

    Examples
    --------
    >>> sorted(complementary_suppression({"North": 400, "South": 20, "West": 90}, 30))
    ['South', 'West']
    >>> sorted(complementary_suppression({"North": 400, "West": 90}, 30))
    []
    """
    counts = {str(g): int(n) for g, n in counts.items() if int(n) > 0}
    out = {g for g, n in counts.items() if n < min_base}
    if not out:
        return frozenset()
    rest = sorted((n, g) for g, n in counts.items() if g not in out)
    while rest and (len(out) < 2 or sum(counts[g] for g in out) < min_base):
        out.add(rest.pop(0)[1])
    return frozenset(out)


def write_record(payload: dict) -> dict:
    """Display ``payload`` as the notebook's record (inside Jupyter); return it."""
    if in_ipython():
        from IPython.display import display
        display({RECORD_MIME: payload}, raw=True)
    return payload


def read_record(nb) -> dict:
    """The values a report notebook recorded with :func:`write_record` (empty dict if none)."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if RECORD_MIME in data:
                value = data[RECORD_MIME]
                return json.loads(value) if isinstance(value, str) else dict(value)
    return {}

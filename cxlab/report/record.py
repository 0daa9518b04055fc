"""The channel between a report notebook and the runner: the notebook's last cell records the
report's status and KPI cards as one JSON output of this MIME type; the runner reads it back for
the index page and the manifest. Both sides import this module, never each other.
"""

from __future__ import annotations

import json

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

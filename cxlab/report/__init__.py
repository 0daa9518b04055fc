"""Parameterised reports: a template notebook run for the company and every segment, published as
stakeholder HTML (no code) with an index page and a manifest.

    import cxlab as cx
    batch = cx.report.run("quarterly", by="region")          # company + every region
    batch.ok, batch.summary()                                 # did everything succeed? per report

The same from the shell: ``cxlab report quarterly --by region``. One module a job, each
importing only the ones above it in this list; the content (context, common, quarterly,
team_scorecard) and the runner never import each other:

- :mod:`~cxlab.report.parameters`      template parameters declared once (names, defaults, ranges)
- :mod:`~cxlab.report.data`            the report's data as a ``Company``; period and segment checks
- :mod:`~cxlab.report.record`          the JSON record a notebook leaves for the runner
- :mod:`~cxlab.report.html`            stakeholder HTML, the index page, PDF
- :mod:`~cxlab.report.context`         ``prepare``: validated parameters, data, scope, KPIs
- :mod:`~cxlab.report.common`          sections of both templates (header, KPIs, trend, comparison)
- :mod:`~cxlab.report.quarterly`       what the quarterly template's cells call
- :mod:`~cxlab.report.team_scorecard`  what the team-scorecard template's cells call
- :mod:`~cxlab.report.publication`     the publish protocol: slug, lock, staging, commit
- :mod:`~cxlab.report.runner`          papermill batch: parallel, manifest, index

The names below are the package's public surface (``cx.report.<name>``), imported on first use
so that ``import cxlab.report`` stays light; :mod:`cxlab.study` uses only these.
"""

from __future__ import annotations

import importlib

_PUBLIC = {
    "Batch": "runner", "Job": "runner", "atomic_write": "runner", "execute_job": "runner",
    "read_manifest": "runner", "run": "runner", "run_notebook": "runner", "slug": "runner",
    "TEMPLATES": "parameters", "TemplateSpec": "parameters", "template_spec": "parameters",
    "validate_parameters": "parameters",
    "load_data": "data", "waves_of": "data", "base_count": "data",
    "page": "html", "stakeholder_html": "html", "index_html": "html", "html_to_pdf": "html",
    "prepare": "context",
    "Publication": "publication", "check_output_folder": "publication",
}

__all__ = [
    "Batch", "Job", "Publication", "TEMPLATES", "TemplateSpec", "atomic_write", "base_count",
    "check_output_folder", "execute_job", "html_to_pdf", "index_html", "load_data", "page", "prepare", "read_manifest", "run",
    "run_notebook", "slug", "stakeholder_html", "template_spec", "validate_parameters",
    "waves_of",
]


_MODULES = ("common", "context", "data", "html", "parameters", "publication", "quarterly",
            "record", "runner", "team_scorecard")


def __getattr__(name: str):
    if name in _MODULES:                 # cx.report.quarterly without importing it first
        return importlib.import_module(f".{name}", __name__)
    if name in _PUBLIC:
        value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

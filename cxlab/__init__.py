"""cxlab: customer-experience analytics for research and training.

Driver analysis linking CX scores (NPS, CSAT, CES, touchpoint ratings) to retention
and customer lifetime value, with uncertainty on every number.

    import cxlab as cx
    company = cx.datasets.load("kestrel")
    cx.metrics.nps(company.survey["ltr"])

Modules, one concept each: datasets, simulate, io, metrics, drivers, retention, value,
whatif, frontline, plots; and for notebooks and the command line: exercises, study, reports, cli
(these load on first use, so ``import cxlab`` stays quick).
"""

import importlib

__version__ = "0.1.0"

from . import checks, datasets, drivers, frontline, io, metrics, plots, retention, simulate, value  # noqa: E402,E501

_LAZY = {"whatif", "exercises", "study", "reports", "report_content", "cli"}


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'cxlab' has no attribute {name!r}")


__all__ = ["checks", "datasets", "drivers", "frontline", "io", "metrics", "plots", "retention", "simulate",
           "value", *sorted(_LAZY), "__version__"]

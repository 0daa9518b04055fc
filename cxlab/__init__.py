"""cxlab: customer-experience analytics for research and training.

Driver analysis linking CX scores (NPS, CSAT, CES, touchpoint ratings) to retention
and customer lifetime value, with uncertainty on every number.

    import cxlab as cx
    company = cx.datasets.load("kestrel")
    cx.metrics.nps(company.survey["ltr"])
"""

__version__ = "0.1.0"

from . import datasets, drivers, io, metrics, plots, retention, simulate, value  # noqa: E402

__all__ = ["datasets", "drivers", "io", "metrics", "plots", "retention", "simulate", "value",
           "__version__"]

"""cxlab: customer-experience analytics for research and training.

Driver analysis linking CX scores (NPS, CSAT, CES, touchpoint ratings) to retention
and customer lifetime value, with uncertainty on every number.

    import cxlab as cx
    company = cx.datasets.load("kestrel")
    cx.metrics.nps(company.survey["ltr"])

Modules, one concept each: datasets, simulate, io, metrics, drivers, retention, value,
whatif, frontline, plots; and for notebooks and the command line: exercises, study, report, cli.
Every submodule loads on first use (``cx.metrics`` imports :mod:`cxlab.metrics` the first time
it is touched), so ``import cxlab`` itself imports nothing heavy (no numpy, pandas or scipy) and
``cxlab --help`` answers quickly.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import TYPE_CHECKING

# The package's loggers are "cxlab" and its children (cxlab.report.runner, ...). A library adds
# no handler of its own and changes no other library's logger: the application configures.
logging.getLogger(__name__).addHandler(logging.NullHandler())

#: The one place the version is written; the build reads it from here (``[tool.hatch.version]``).
__version__ = "0.1.0"

#: Submodules reachable as attributes of the package (``cx.<name>``), imported on first use.
_SUBMODULES = ("checks", "cli", "datasets", "drivers", "exercises", "frontline", "io", "metrics",
               "plots", "report", "resources", "retention", "simulate", "study",
               "value", "whatif")

if TYPE_CHECKING:  # static checkers and IDEs see the modules as plain attributes
    from . import (
        checks,
        cli,
        datasets,
        drivers,
        exercises,
        frontline,
        io,
        metrics,
        plots,
        report,
        resources,
        retention,
        simulate,
        study,
        value,
        whatif,
    )


def __getattr__(name: str):
    """Import the submodule ``cxlab.<name>`` on first access (PEP 562)."""
    if name in _SUBMODULES or (not name.startswith("_")
                               and importlib.util.find_spec(f"{__name__}.{name}") is not None):
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_SUBMODULES})


__all__ = [
    "__version__",
    "checks",
    "cli",
    "datasets",
    "drivers",
    "exercises",
    "frontline",
    "io",
    "metrics",
    "plots",
    "report",
    "resources",
    "retention",
    "simulate",
    "study",
    "value",
    "whatif",
]

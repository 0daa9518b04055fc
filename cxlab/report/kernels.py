"""Warm kernels: one long-lived Jupyter kernel per batch worker runs many reports.

A cold report pays a kernel start, the imports (cxlab, pandas, statsmodels, matplotlib) and a
data load before its first statistic. A warm worker keeps its kernel between reports: each
report starts with :data:`RESET_SOURCE`, a hidden first cell that runs ``%reset -f`` (a fresh
user namespace), closes figures, restores the warning filters and registries and the
matplotlib settings of the first report, and serves the data from a per-kernel cache (a deep
copy of the loaded :class:`~cxlab.contract.Company` for every report, so one report cannot
change the next one's data). The cell is removed from the executed notebook and execution
counts are renumbered, so the notebook reads like a cold papermill run.

Isolation rules the runner keeps (:func:`cxlab.report.runner.execute_job`): a report that fails
or whose kernel dies discards the kernel (the next report, or the retry, gets a fresh one);
the kernel is shut down (and reaped) when the worker ends or is interrupted.
"""

from __future__ import annotations

import copy
import os
import sys
from pathlib import Path

__all__ = ["RESET_SOURCE", "discard", "fresh_report", "kernel_for", "shutdown"]

#: the hidden first cell of every report run in a warm kernel
RESET_SOURCE = ("get_ipython().run_line_magic('reset', '-f')\n"
                "import cxlab.report.kernels\n"
                "cxlab.report.kernels.fresh_report()\n")
RESET_TAG = "cxlab-warm-reset"

_STATE: dict = {}          # kernel side: first report's warnings/rcParams, the data cache
_KERNEL: dict = {}         # worker side: {"key": ..., "km": ...}


# --- kernel side -------------------------------------------------------------------------------

def fresh_report() -> None:
    """Run in the kernel before each report: the process state a cold kernel would have."""
    import warnings

    import matplotlib as mpl
    import matplotlib.pyplot as plt

    plt.close("all")
    if "filters" not in _STATE:
        _STATE["filters"] = list(warnings.filters)
        _STATE["rc"] = dict(mpl.rcParams)
        _install_data_cache()
    warnings.filters[:] = _STATE["filters"]
    for module in list(sys.modules.values()):     # "shown once" warnings are shown again
        registry = getattr(module, "__warningregistry__", None)
        if isinstance(registry, dict):
            registry.clear()
    warnings._filters_mutated()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # deprecated rc keys in the snapshot
        mpl.rcParams.update(_STATE["rc"])


def _install_data_cache() -> None:
    """Serve :func:`cxlab.report.data.load_data` from a cache keyed by the data argument and the
    files' modification times; every caller gets its own deep copy."""
    from . import context
    from .data import load_data

    cache: dict = {}

    def cached_load(data="kestrel", notes=None):
        key = (str(data), _stamp(data))
        if key not in cache:
            got: list = []
            cache[key] = (load_data(data, notes=got), got)
        company, got = cache[key]
        if notes is not None:
            notes += list(got)
        return copy.deepcopy(company)

    context.load_data = cached_load


def _stamp(data) -> tuple:
    path = Path(str(data))
    if not path.exists():
        return ()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


# --- worker side -------------------------------------------------------------------------------

def kernel_for(key: tuple, make):
    """The worker's warm kernel manager for ``key`` (kernel name, cwd, threads), created by
    ``make()`` (not started: the first notebook client starts it) when there is none or the key
    changed."""
    if _KERNEL.get("key") != key:
        shutdown()
        _KERNEL.update(key=key, km=make())
        _register_exit()
    return _KERNEL["km"]


def discard() -> None:
    """Throw the warm kernel away (after a failure, a dead kernel or an interrupt)."""
    shutdown()


def shutdown() -> None:
    """Stop the warm kernel, if any, and wait for its process (its CPU time is then counted in
    the worker's children)."""
    km = _KERNEL.pop("km", None)
    _KERNEL.pop("key", None)
    if km is None:
        return
    from jupyter_client.utils import run_sync
    try:
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=False)
    except Exception:  # already dead: make sure the process is gone
        try:
            run_sync(km.shutdown_kernel)(now=True)
        except Exception:
            pass


def _register_exit() -> None:
    """Shut the kernel down when a pool worker exits (multiprocessing finalizers run there,
    atexit handlers do not)."""
    if _KERNEL.get("exit_hook") == os.getpid():    # not a hook inherited by fork
        return
    import atexit
    from multiprocessing import util
    util.Finalize(None, shutdown, exitpriority=10)
    atexit.register(shutdown)
    _KERNEL["exit_hook"] = os.getpid()


def strip_reset(nb) -> None:
    """Remove the hidden reset cell and number the code cells 1, 2, ... as a cold run does."""
    nb.cells = [c for c in nb.cells if RESET_TAG not in c.get("metadata", {}).get("tags", [])]
    count = 0
    for cell in nb.cells:
        if cell.get("cell_type") != "code" or cell.get("execution_count") is None:
            continue
        count += 1
        cell["execution_count"] = count
        for out in cell.get("outputs", []):
            if "execution_count" in out:
                out["execution_count"] = count

"""Alias of :mod:`cxlab.report` for callers not yet moved (``benchmarks/bench_reports.py``,
``tests/test_exercises_08.py``); new code imports ``cxlab.report``."""

from .report.data import base_count
from .report.parameters import TEMPLATES, template_spec
from .report.runner import read_manifest, run

__all__ = ["TEMPLATES", "base_count", "read_manifest", "run", "template_spec"]

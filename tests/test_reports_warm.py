"""Warm kernels (cxlab.report.kernels): reports share a kernel but not their state, a dead
kernel is replaced and its report retried once, and a warm batch records the same numbers as
a cold papermill run (one kernel per report)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

import cxlab.report as rp
from cxlab.report import kernels
from cxlab.report.runner import Job, execute_job


def _template(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("tag = None", metadata={"tags": ["parameters"]})
    nb.cells = [params] + [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    nbformat.write(nb, path)
    return path


def _job(tpl: Path, out: Path, name: str, **params) -> Job:
    return Job(name, tpl, dict(params), out, notebook=Path(f"{name}.ipynb"), cwd=out,
               title=name, label=name, timeout=120, warm=True)


def _outputs(path: Path) -> str:
    nb = nbformat.read(path, as_version=4)
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code"
                   for o in c.get("outputs", []))


@pytest.fixture
def warm_kernel():
    yield
    kernels.shutdown()


def test_one_kernel_many_reports_no_shared_namespace(tmp_path, warm_kernel):
    setter = _template(tmp_path / "a.ipynb",
                       "import os, warnings\nleaked = 42\nprint('pid', os.getpid())\n"
                       "warnings.warn('shown in every report')")
    reader = _template(tmp_path / "b.ipynb",
                       "import os\nprint('pid', os.getpid())\n"
                       "print('leaked' in globals(), 'tag' in globals(), tag)")
    first = execute_job(_job(setter, tmp_path, "first", tag="a"))
    second = execute_job(_job(reader, tmp_path, "second", tag="b"))
    again = execute_job(_job(setter, tmp_path, "again", tag="c"))
    assert [first["status"], second["status"], again["status"]] == ["ok"] * 3
    pids = [line for name in ("first", "second", "again")
            for line in _outputs(tmp_path / f"{name}.ipynb").splitlines()
            if line.startswith("pid")]
    assert len(set(pids)) == 1, pids                     # one warm kernel ran all three
    assert "False True b" in _outputs(tmp_path / "second.ipynb")   # no variable carried over
    # a warning shown once per process is shown again in the next report
    assert "shown in every report" in _outputs(tmp_path / "again.ipynb")
    nb = nbformat.read(tmp_path / "second.ipynb", as_version=4)
    assert not any(kernels.RESET_SOURCE in c.source for c in nb.cells)   # hidden cell removed
    counts = [c.execution_count for c in nb.cells if c.cell_type == "code"]
    assert counts == list(range(1, len(counts) + 1))     # numbered as a cold run


def test_dead_kernel_is_replaced_and_the_report_retried_once(tmp_path, warm_kernel):
    marker = tmp_path / "died-once"
    crash = _template(tmp_path / "crash.ipynb",
                      "import os, pathlib\n"
                      f"m = pathlib.Path({str(marker)!r})\n"
                      "if not m.exists():\n    m.touch()\n    os._exit(1)\nprint('survived')")
    entry = execute_job(_job(crash, tmp_path, "crash"))
    assert entry["status"] == "ok", entry
    assert entry["attempts"] == 2 and "retried" in entry["notes"][0]
    assert "survived" in _outputs(tmp_path / "crash.ipynb")


def test_failing_cell_marks_the_report_and_discards_the_kernel(tmp_path, warm_kernel):
    bad = _template(tmp_path / "bad.ipynb", "import builtins\nbuiltins.poisoned = 1",
                    "raise ValueError('boom')")
    good = _template(tmp_path / "good.ipynb",
                     "import builtins\nprint('poisoned', hasattr(builtins, 'poisoned'))")
    entry = execute_job(_job(bad, tmp_path, "bad"))
    assert entry["status"] == "failed" and entry["error"] == "ValueError: boom (cell 3)"
    assert execute_job(_job(good, tmp_path, "good"))["status"] == "ok"
    assert "poisoned False" in _outputs(tmp_path / "good.ipynb")    # a fresh kernel


def test_warm_batch_records_the_numbers_of_a_cold_run(tmp_path):
    """Same KPI records (values, intervals, bases, verdict, flags) for a warm and a cold run of
    one segment: the reset cell and the data cache change nothing a report computes."""
    runs = {}
    for warm in (True, False):
        batch = rp.run("quarterly", by="region", segments=["South", "North"], company=False,
                       out=tmp_path / ("warm" if warm else "cold"), workers=1, progress=False,
                       warm=warm, params={"bootstrap": 50})
        assert batch.ok, batch.summary()
        runs[warm] = {r["name"]: (r["kpis"], r.get("verdict"), r.get("flags"))
                      for r in batch.reports}
    assert runs[True] == runs[False]
    assert all(kpis for kpis, _, _ in runs[True].values())

"""The batch runner: run a template notebook with papermill for the company and every segment,
in parallel, and publish stakeholder HTML, an ``index.html`` and a ``manifest.json``.

    batch = cx.report.run("quarterly", by="region")          # company + every region
    batch.ok, batch.summary()                                 # did everything succeed? per report

Reliability rules: a segment whose notebook fails is marked ``failed`` and the others go on; a
segment below the minimum base is marked ``suppressed`` and not run; the batch is published as a
whole by the protocol of :mod:`cxlab.report.publication` (locked folder, staging, manifest and
index last: a killed, failed or disk-full run leaves the previous publication as it was); the
same inputs give the same numbers (fixed seeds). :func:`run_notebook` runs one notebook the
same way (``cxlab study`` uses it).
The runner reads what a notebook recorded (:mod:`cxlab.report.record`); it never imports the
report content.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from ..checks import CXDataError
from ..display import escape
from ..contract import MIN_BASE
from .data import (
    base_count,
    bundled_names,
    check_period,
    load_data,
    resolve_by,
    segment_label,
    segment_values,
    waves_of,
)
from .alerts_digest import write_digest
from .html import _first_line, html_to_pdf, index_html, stakeholder_html
from .parameters import check_publishable, template_spec, validate_parameters
from .publication import (Publication, atomic_write, check_output_folder, environment_error,
                          slug)
from .record import read_record

__all__ = ["Batch", "Job", "atomic_write", "execute_job", "read_manifest", "run", "run_notebook",
           "slug"]


@dataclass(frozen=True)
class Job:
    """One notebook to run and publish: ``notebook`` and ``html`` are paths relative to
    ``out_dir`` (as the manifest and the index page link them)."""

    name: str
    template: Path
    parameters: dict
    out_dir: Path
    notebook: Path
    cwd: Path
    title: str
    label: str = ""
    segment: str | None = None
    subtitle: str = ""
    footer: str = ""
    timeout: int | None = None
    kernel_name: str | None = None      # None: this interpreter's ipykernel (kernel_argv)
    base: int | None = None
    threads: int | None = None          # BLAS threads per kernel when kernels run in parallel
    html: Path | None = None            # default: <name>.html
    warm: bool = False                  # run in the worker's long-lived kernel (report.kernels)

    def __post_init__(self):
        if self.html is None:
            object.__setattr__(self, "html", Path(f"{self.name}.html"))

    @property
    def notebook_path(self) -> Path:
        return Path(self.out_dir) / self.notebook

    @property
    def html_path(self) -> Path:
        return Path(self.out_dir) / self.html


def run_notebook(template: str | os.PathLike, out_dir: str | os.PathLike, name: str, *,
                 parameters: Mapping, cwd: str | os.PathLike, title: str, subtitle: str = "",
                 footer: str = "", timeout: int | None = 3600,
                 kernel_name: str | None = None) -> dict:
    """Run one template notebook into ``out_dir/<name>.ipynb`` and publish
    ``out_dir/<name>.html`` (no code); never raises. Returns the manifest entry (``status``,
    ``error``, ``seconds``, ...), as :func:`run` writes it for each report."""
    out_dir = Path(out_dir)
    return execute_job(Job(name, Path(template), dict(parameters), out_dir,
                           notebook=Path(f"{name}.ipynb"), cwd=Path(cwd), title=title, label=title,
                           subtitle=subtitle, footer=footer, timeout=timeout,
                           kernel_name=kernel_name))


def kernel_argv() -> list[str]:
    """The kernel command: this interpreter's ipykernel, whatever kernelspecs are installed."""
    return [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]


def _kernel_manager_class():
    """An AsyncKernelManager whose kernel is always ``kernel_argv()`` (explicit kernel).

    A kernelspec named ``python3`` may point at ``python`` on PATH (another interpreter without
    cxlab); reports must run in the interpreter that runs ``cxlab report``.
    """
    import subprocess

    from jupyter_client import AsyncKernelManager
    from jupyter_client.kernelspec import KernelSpec

    class CurrentPythonKernelManager(AsyncKernelManager):
        async def start_kernel(self, **kw):
            kw.setdefault("stderr", subprocess.DEVNULL)     # e.g. ipykernel's TCP notice
            return await AsyncKernelManager._async_start_kernel(self, **kw)

        @property
        def kernel_spec(self):
            if self._kernel_spec is None:
                self._kernel_spec = KernelSpec(argv=kernel_argv(), language="python",
                                               display_name="Python (cxlab report)",
                                               resource_dir=str(Path(__file__).parent))
            return self._kernel_spec

    return CurrentPythonKernelManager


def _is_kernel_start_failure(err: BaseException) -> bool:
    """Errors that mean the kernel never came up (worth one retry), not a failing cell."""
    from papermill.exceptions import PapermillExecutionError
    if isinstance(err, PapermillExecutionError):
        return False
    name = type(err).__name__
    text = str(err).lower()
    return (isinstance(err, (TimeoutError, ConnectionError)) or name == "DeadKernelError"
            or ("kernel" in text and any(w in text for w in ("died", "start", "timeout",
                                                               "timed out", "replying"))))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def execute_job(job: Job) -> dict:
    """Run one :class:`Job` with papermill and publish its HTML; never raises. Returns the
    manifest entry (status ok/failed/suppressed, error, KPIs and notes the notebook recorded)."""
    import logging

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.ERROR)
    start, started = time.perf_counter(), _now()
    notebook, html_path = job.notebook_path, job.html_path
    entry = {"name": job.name, "label": job.label, "segment": job.segment,
             "parameters": dict(job.parameters), "status": "running",
             "notebook": job.notebook.as_posix(), "html": None, "started": started,
             "attempts": 0, "error": None, "kpis": [], "notes": []}
    tmp = notebook.with_name(f".{notebook.stem}.{os.getpid()}.partial.ipynb")
    notebook.parent.mkdir(parents=True, exist_ok=True)
    threads = job.threads
    if threads:     # parallel kernels: no BLAS oversubscription of the cores
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    engine_kwargs = {}
    if not job.kernel_name:
        engine_kwargs["kernel_manager_class"] = _kernel_manager_class()
    source = str(job.template)
    try:
        for attempt in (1, 2):
            entry["attempts"] = attempt
            if job.warm:
                source, engine_kwargs = _warm_source(job), {"km": _warm_kernel(job)}
            try:
                pm.execute_notebook(
                    source, str(tmp), parameters=dict(job.parameters),
                    kernel_name=job.kernel_name or "python3", cwd=str(job.cwd),
                    progress_bar=False, request_save_on_cell_execute=False,
                    execution_timeout=job.timeout, start_timeout=60, **engine_kwargs)
                entry["status"] = "ok"
                entry["error"] = None       # a retried kernel start that then succeeded
                break
            except PapermillExecutionError as err:
                entry["status"] = "failed"
                cell = err.exec_count - 1 if job.warm and err.exec_count else err.exec_count
                entry["error"] = f"{err.ename}: {_first_line(err.evalue)} (cell {cell})"
                break
            except Exception as err:  # kernel did not start or died, or papermill failed
                entry["status"] = "failed"
                entry["error"] = f"{type(err).__name__}: {_first_line(err)}"
                if job.warm:
                    from .kernels import discard
                    discard()               # a dead or broken warm kernel is replaced
                if attempt == 1 and _is_kernel_start_failure(err):
                    entry["notes"].append(f"retried after a kernel start failure ({entry['error']})")
                    continue
                break
        if job.warm:
            from .kernels import discard, strip_reset
            if entry["status"] != "ok":
                discard()                   # a failed report never leaves state to the next
            if tmp.exists():
                import nbformat
                nb = nbformat.read(tmp, as_version=4)
                strip_reset(nb)
                nbformat.write(nb, tmp)
        if tmp.exists():
            os.replace(tmp, notebook)
        if entry["status"] == "ok":
            _publish(job, entry, notebook, html_path)
        elif html_path.exists():
            html_path.unlink()      # never leave an older report that looks current
    except KeyboardInterrupt:
        if job.warm:                        # Ctrl-C/SIGTERM: the kernel goes with the report
            from .kernels import discard
            discard()
        raise
    except Exception as err:  # rendering or file errors: mark failed, keep going
        entry["status"] = "failed"
        entry["error"] = f"{type(err).__name__}: {_first_line(err)}"
        entry["traceback"] = traceback.format_exc(limit=5)
        if html_path.exists():
            html_path.unlink()
    finally:
        if tmp.exists():
            tmp.unlink()
    if entry["status"] == "ok":
        entry["html"] = job.html.as_posix()
    elif not notebook.exists():
        entry["notebook"] = None
    entry["finished"] = _now()
    entry["seconds"] = round(time.perf_counter() - start, 2)
    return entry


def _warm_source(job: Job):
    """The template with the hidden reset cell of :mod:`cxlab.report.kernels` in front."""
    import nbformat

    from .kernels import RESET_SOURCE, RESET_TAG
    nb = nbformat.read(job.template, as_version=4)
    cell = nbformat.v4.new_code_cell(RESET_SOURCE, metadata={"tags": [RESET_TAG]})
    nb.cells.insert(0, cell)
    return nb


def _warm_kernel(job: Job):
    """This worker's long-lived kernel manager for the job's kernel, folder and threads."""
    from .kernels import kernel_for

    def make():
        if job.kernel_name:
            from jupyter_client import AsyncKernelManager
            return AsyncKernelManager(kernel_name=job.kernel_name)
        return _kernel_manager_class()()
    return kernel_for((job.kernel_name, str(job.cwd), job.threads), make)


def _publish(job: Job, entry: dict, notebook: Path, html_path: Path) -> None:
    import nbformat
    nb = nbformat.read(notebook, as_version=4)
    record = read_record(nb)
    entry["kpis"] = record.get("kpis", [])
    entry["verdict"], entry["flags"] = record.get("verdict"), record.get("flags", [])
    entry["notes"] += record.get("notes", [])
    if record.get("status") == "suppressed":
        entry["status"] = "suppressed"
        entry["error"] = record.get("reason")
        if html_path.exists():
            html_path.unlink()
        return
    page = stakeholder_html(nb, title=job.title, subtitle=job.subtitle,
                            index_href="index.html", footer=job.footer)
    atomic_write(html_path, page)


@dataclass
class Batch:
    """The outcome of one ``cxlab report`` run: its manifest entry and where the files are."""

    out_dir: Path
    manifest: dict

    @property
    def reports(self) -> list[dict]:
        return self.manifest["reports"]

    @property
    def ok(self) -> bool:
        """True when every report is published or suppressed by design (nothing failed)."""
        return all(r["status"] in {"ok", "suppressed"} for r in self.reports)

    @property
    def failed(self) -> list[str]:
        return [r["name"] for r in self.reports if r["status"] not in {"ok", "suppressed"}]

    @property
    def index(self) -> Path:
        return self.out_dir / "index.html"

    def summary(self) -> pd.DataFrame:
        rows = [{"report": r["name"], "status": r["status"], "seconds": r.get("seconds"),
                 "html": r.get("html"), "error": r.get("error")} for r in self.reports]
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        counts = pd.Series([r["status"] for r in self.reports]).value_counts()
        parts = ", ".join(f"{n} {s}" for s, n in counts.items())
        return (f"{len(self.reports)} report(s) for {self.manifest['period']} in "
                f"{self.manifest['seconds']:.1f} s: {parts}. Open {self.index}")


def _check_reserved(params: Mapping) -> None:
    """The four parameters that choose the data and the scope are ``run``'s own arguments."""
    for name in params:
        if name in {"data", "period", "by", "segment"}:
            raise CXDataError(f"Give {name!r} as its own argument, not inside params.")


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run(template: str = "quarterly", period: str | None = None, by: str | None = None,
        data: str | os.PathLike = "kestrel", out: str | os.PathLike = "reports",
        workers: int | None = None, segments: Sequence[str] | None = None,
        params: Mapping | None = None, min_base: int = MIN_BASE, company: bool = True,
        progress: bool = True, kernel_name: str | None = None, timeout: int | None = 900,
        pdf: bool = False, warm: bool = True) -> Batch:
    """Run ``template`` for the company and for every value of ``by``; publish under out/<period>/.

    ``by=None`` uses the template's default split (quarterly: region; team_scorecard: team);
    ``by="none"`` runs the company report only. ``segments`` restricts the segment values.
    ``params`` are extra template parameters (e.g. ``{"bootstrap": 200}``). ``workers``
    defaults to the usable cores. Segments with fewer than ``min_base`` responses in the period
    are not run and are marked ``suppressed``; a failing report is marked ``failed``.
    Returns a :class:`Batch`; ``batch.ok`` is False when any report failed.
    ``warm`` (default) runs each worker's reports in one long-lived kernel that keeps the
    imports and the loaded data (:mod:`cxlab.report.kernels`; a fresh namespace per report);
    ``warm=False`` starts a kernel per report, as plain papermill does.

    A full run (every segment and the company) replaces the published batch; a partial run
    (``segments`` given, ``company=False``, or interrupted by Ctrl-C/SIGTERM) replaces only the
    reports it ran, and the others stay in the manifest and on the index marked as from an
    earlier run (each with its own parameters and times; ``runs`` lists the runs). The output
    folder is checked (writable, not a file) and locked before any kernel starts.
    """
    t0, started = time.perf_counter(), _now()
    spec = template_spec(template)
    tpl = spec.path
    if not tpl.exists():
        raise CXDataError(f"Template notebook {str(tpl)!r} is missing. Reinstall cxlab from a full "
                          "checkout (notebooks/templates/).")
    params = dict(params or {})
    _check_reserved(params)
    # values too, before any kernel starts (the notebook checks them again)
    checked = validate_parameters(str(template), {**params, "min_base": min_base})
    check_publishable(checked)
    min_base = checked["min_base"]
    params = {k: v for k, v in checked.items() if k in params}
    label_notes: list[str] = []       # NFC normalisation of labels, said in the manifest
    dataset = load_data(data, notes=label_notes)
    frame = dataset.table(spec.table)
    period = check_period(period, waves_of(frame))
    if by is None:
        by = spec.default_by
    if isinstance(by, str) and by.lower() in {"", "none", "company"}:
        by = None
    by = resolve_by(data, by, spec.table)
    values = segment_values(frame, by) if by else []
    if segments is not None and by is None:
        raise CXDataError("segments were given without a segment column: add by=..., e.g. "
                          "--by region.")
    if segments is not None:
        wanted = [str(s) for s in segments]
        unknown = [s for s in wanted if s not in values]
        if unknown:
            raise CXDataError(f"Unknown {by} value(s) {', '.join(map(repr, unknown))}. "
                              f"Choose from: {', '.join(values)}.")
        values = [v for v in values if v in wanted]

    if not company and not values:
        raise CXDataError("Nothing to run: the company report is switched off and there are no "
                          "segments. Drop --no-company or give --by.")
    out_dir = check_output_folder(Path(out).expanduser().resolve() / period)
    pub = Publication(out_dir)     # new files go to pub.staging; published as a whole at the end
    data_param = str(data) if (isinstance(data, str) and data in bundled_names()
                               and not Path(str(data)).exists()) else str(Path(data).resolve())
    common = {"data": data_param, "period": period, "min_base": min_base, **params}
    from .. import __version__
    footer = (f"cxlab {__version__} &middot; data {escape(dataset.name)} "
              f"(sha256 {dataset.data_sha256[:12]}) &middot; period {escape(period)} &middot; "
              f"minimum base {min_base} &middot; generated {escape(started)}")

    targets = ([(None, "Company")] if company else []) + [(v, segment_label(by, v)) for v in values]
    jobs, entries, names = [], [], []
    for value, label in targets:
        name = f"{spec.name}-company" if value is None else f"{spec.name}-{slug(by)}-{slug(value)}"
        names.append(name)
        parameters = {**common, "by": by if value is not None else None, "segment": value}
        if by is not None and value is None:
            parameters["by"] = by          # company report shows the split by this column
        n = base_count(frame, spec, period, by if value is not None else None, value)
        if n < min_base:              # its older page is removed when the batch is published
            entries.append({"name": name, "label": label, "segment": value, "parameters": parameters,
                            "status": "suppressed", "notebook": None, "html": None,
                            "error": f"fewer than {min_base} responses (the minimum base) in "
                                     f"{period}; not reported", "kpis": [], "notes": [],
                            "attempts": 0, "started": None, "finished": None, "seconds": 0.0,
                            "base": None,        # n of a suppressed group is not published:
                            "analyst_base": n})  # it goes to the analyst file (_public)
            continue
        jobs.append(Job(name, tpl, parameters, pub.staging,
                        notebook=Path("notebooks", f"{name}.ipynb"),
                        cwd=out_dir, title=f"{label} — {period}", label=label, segment=value,
                        subtitle=f"{spec.title} · data {dataset.name}", footer=footer,
                        timeout=timeout, kernel_name=kernel_name, base=n, warm=warm))

    n_workers = max(1, min(int(workers or _default_workers()), max(len(jobs), 1)))
    if n_workers > 1:
        jobs = [replace(job, threads=max(1, _default_workers() // n_workers)) for job in jobs]
    batch_id = f"{spec.name}-by-{slug(by)}" if by else f"{spec.name}-company"
    manifest = {"id": batch_id, "template": spec.name, "template_file": str(tpl), "by": by,
                "period": period, "data": data_param, "data_name": dataset.name,
                "data_sha256": dataset.data_sha256,
                "data_files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                               for p in dataset.files},
                "parameters": common, "cxlab_version": __version__,
                "python": sys.version.split()[0], "kernel": kernel_name or kernel_argv()[:3],
                "workers": n_workers, "started": started, "finished": None, "seconds": None,
                "status": "running", "notes": label_notes, "reports": entries}
    if len(set(names)) != len(names):          # a crafted 40-bit hash collision, say
        dup = sorted({n for n in names if names.count(n) > 1})
        raise CXDataError(f"Two {by} values map to one file name ({', '.join(dup)}); rename one "
                          "of them in the data.")
    partial = segments is not None or not company      # merged into the published batch
    results: list[dict] = []
    with pub, _sigterm_as_interrupt():
        try:
            _run_jobs(jobs, n_workers, progress, f"{spec.name} {period}", results)
        except KeyboardInterrupt:
            finished = {r["name"] for r in results}
            manifest["status"] = "interrupted"
            manifest["reports"] = results + entries
            unfinished = [{"name": j.name, "label": j.label, "segment": j.segment,
                           "parameters": j.parameters, "status": "interrupted", "html": None,
                           "notebook": None, "kpis": [], "notes": [],
                           "error": "interrupted before it finished"}
                          for j in jobs if j.name not in finished]
            _finish(manifest, pub, t0, partial=True, unfinished=unfinished)
            raise
        base_by_name = {j.name: j.base for j in jobs}
        for entry in results:
            entry["base"] = base_by_name.get(entry["name"])
        order = {name: i for i, name in enumerate(names)}        # company first, then segments
        manifest["reports"] = sorted(results + entries, key=lambda e: order[e["name"]])
        manifest["status"] = "ok" if all(r["status"] in {"ok", "suppressed"}
                                         for r in manifest["reports"]) else "failed"
        if pdf:
            for entry in manifest["reports"]:
                if entry["status"] == "ok":
                    try:
                        pdf_name = entry["html"].replace(".html", ".pdf")
                        html_to_pdf(pub.staging / entry["html"], pub.staging / pdf_name)
                        entry["pdf"] = pdf_name
                    except Exception as err:
                        entry["notes"].append(f"PDF not written: {_first_line(err)}")
        manifest["alert_digest"] = write_digest(manifest, dataset, pub.staging)  # alerts/ by owner
        _finish(manifest, pub, t0, partial=partial)
    return Batch(out_dir, manifest)


def _run_jobs(jobs: list[dict], workers: int, progress: bool, desc: str,
              results: list[dict]) -> list[dict]:
    """Run the jobs (inline for one worker, else a process pool), appending each manifest entry
    to ``results`` as it completes (so an interrupted batch still knows what finished)."""
    import nbconvert  # noqa: F401  (imported once here, inherited by forked workers)
    import papermill  # noqa: F401

    from ..checks import progress_bar
    tqdm = progress_bar()   # no "IProgress not found" warning on stderr inside Jupyter
    bar = tqdm(total=len(jobs), desc=desc, unit="report", disable=not progress or not jobs)
    try:
        if workers == 1:
            for job in jobs:
                entry = execute_job(job)
                results.append(entry)
                bar.update(1)
                bar.set_postfix_str(f"{entry['name']}: {entry['status']}")
            return results
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed
        # Linux: fork the workers from this process (cxlab, pandas and papermill are already
        # imported, so workers start at once; no zmq context or event loop exists here yet).
        # Elsewhere spawn, which imports everything afresh in each worker.
        method = "fork" if sys.platform.startswith("linux") else "spawn"
        context = multiprocessing.get_context(method)
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context,
                                   initializer=_worker_init, initargs=(os.getpid(),))
        try:
            futures = {pool.submit(execute_job, job): job for job in jobs}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    entry = future.result()
                except Exception as err:   # the worker process itself died
                    entry = {"name": job.name, "label": job.label, "segment": job.segment,
                             "parameters": job.parameters, "status": "failed",
                             "notebook": None, "html": None, "kpis": [], "notes": [],
                             "error": f"{type(err).__name__}: {_first_line(err)}",
                             "attempts": 1, "started": None, "finished": _now(), "seconds": None}
                results.append(entry)
                bar.update(1)
                bar.set_postfix_str(f"{entry['name']}: {entry['status']}")
        except KeyboardInterrupt:
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)
        return results
    finally:
        bar.close()
        from .kernels import shutdown
        shutdown()      # the inline (one worker) warm kernel


def _stop_pool(pool, grace: float = 5.0) -> None:
    """Ctrl-C: interrupt the workers (each stops its kernel and removes its temporary files),
    then terminate any that are still running after ``grace`` seconds."""
    import signal
    procs = list(getattr(pool, "_processes", {}).values())
    for proc in procs:
        if proc.is_alive():
            try:
                os.kill(proc.pid, signal.SIGINT)
            except OSError:
                pass
    pool.shutdown(wait=False, cancel_futures=True)
    deadline = time.monotonic() + grace
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.terminate()


def _files_of(entry: dict) -> set[str]:
    return {entry[k] for k in ("html", "notebook", "pdf") if entry.get(k)}


def _own_files(name: str) -> set[str]:
    """Every file a report called ``name`` may have published."""
    return {f"{name}.html", f"{name}.pdf", f"notebooks/{name}.ipynb"}


def merge_batch(old: dict | None, manifest: dict, partial: bool,
                unfinished: Sequence[dict] = ()) -> dict:
    """The batch as published after this run. A full run (every segment and the company)
    replaces the batch's reports; a partial run (``segments``, ``company=False``, or
    interrupted) replaces only the reports it ran and keeps the others from ``old`` (marked
    ``carried_over``, each with its own ``run``, parameters and times). A report the run did not
    finish keeps its previous entry, or is listed as ``interrupted`` when it had none.
    ``runs`` lists every run that still has a report in the batch."""
    merged = dict(manifest)
    new = [dict(e, run=manifest["started"], carried_over=False) for e in manifest["reports"]]
    names = {e["name"] for e in new}
    kept = []
    if partial and old:
        kept = [dict(e, carried_over=True, run=e.get("run") or old.get("started"))
                for e in old.get("reports", []) if e.get("name") not in names]
    have = {e["name"] for e in kept}
    new += [e for e in unfinished if e["name"] not in have]
    reports = new + kept
    reports.sort(key=lambda e: (e.get("segment") is not None, str(e.get("label") or e["name"])))
    merged["reports"] = reports
    runs = {e["run"] for e in reports if e.get("run")}
    earlier = (old.get("runs") or [_run_summary(old)]) if (partial and old) else []
    merged["runs"] = [r for r in earlier if r.get("run") in runs and r.get("run") !=
                      manifest["started"]] + [_run_summary(manifest)]
    return merged


def _run_summary(batch: dict) -> dict:
    return {"run": batch.get("started"), "finished": batch.get("finished"),
            "status": batch.get("status"), "parameters": batch.get("parameters"),
            "data_sha256": batch.get("data_sha256"), "cxlab_version": batch.get("cxlab_version"),
            "reports": [e.get("name") for e in batch.get("reports", [])
                        if not e.get("carried_over")]}


def _public(manifest: dict, folder: Path, staging: Path) -> tuple[dict, dict]:
    """The manifest as published (no absolute machine paths, no tracebacks) and the analyst-only
    detail taken out of it (absolute data path, template file, kernel, tracebacks)."""
    label = manifest.get("data_name")
    analyst = {"folder": str(folder), "data": manifest.get("data"),
               "template_file": manifest.get("template_file"), "kernel": manifest.get("kernel"),
               "python_executable": sys.executable, "tracebacks": {}}
    pub = {k: v for k, v in manifest.items() if k not in {"kernel"}}
    pub["data"] = label
    pub["template_file"] = Path(str(manifest.get("template_file") or "")).name
    pub["parameters"] = {**manifest.get("parameters", {}), "data": label}
    reports = []
    for e in manifest["reports"]:
        e = dict(e)
        if "traceback" in e:
            analyst["tracebacks"][e["name"]] = e.pop("traceback")
        if "analyst_base" in e:     # a suppressed group's n: for the analyst, never published
            analyst.setdefault("suppressed_bases", {})[e["name"]] = e.pop("analyst_base")
        if isinstance(e.get("parameters"), dict) and "data" in e["parameters"]:
            e["parameters"] = {**e["parameters"], "data": label}
        if e.get("error"):
            e["error"] = _scrub(e["error"], folder, staging)
        e["notes"] = [_scrub(n, folder, staging) for n in e.get("notes", [])]
        reports.append(e)
    pub["reports"] = reports
    return pub, analyst


def _scrub(text, folder: Path, staging: Path) -> str:
    """Machine paths out of a message: the staging and output folders, the home folder."""
    text = str(text)
    for path, put in ((staging, ""), (folder, ""), (folder.parent, "<out>"),
                      (Path.home(), "~")):
        text = text.replace(str(path) + os.sep, put).replace(str(path), put or ".")
    return text


def _finish(manifest: dict, pub: Publication, t0: float, partial: bool,
            unfinished: Sequence[dict] = ()) -> None:
    """Merge this run into the published manifest and publish it as a whole (see
    :mod:`cxlab.report.publication`): every new file, then manifest.json, then index.html."""
    manifest["finished"] = _now()
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    broken = [e for e in manifest["reports"] if environment_error(e.get("error"))]
    if broken:
        raise CXDataError(f"The output folder failed while writing {broken[0]['name']}: "
                          f"{broken[0]['error']}. Nothing was published; "
                          f"{str(pub.folder)!r} is as before. Free disk space (or fix the "
                          "folder) and run again.")
    previous = pub.previous()
    batches = [b for b in previous.get("batches", []) if isinstance(b, dict)] \
        if isinstance(previous, dict) else []
    old = next((b for b in batches if b.get("id") == manifest["id"]), None)
    public, analyst = _public(manifest, pub.folder, pub.staging)
    merged = merge_batch(old, public, partial, unfinished)
    batches = [b for b in batches if b.get("id") != manifest["id"]] + [merged]
    batches.sort(key=lambda b: (b.get("template") != "quarterly", b.get("id", "")))
    full = {"period": manifest["period"], "cxlab_version": manifest["cxlab_version"],
            "updated": manifest["finished"], "batches": batches}
    keep = set().union(*(_files_of(e) for b in batches for e in b.get("reports", [])))
    fresh = {p.relative_to(pub.staging).as_posix() for p in pub.staging.rglob("*")
             if p.is_file() and not p.name.startswith(".")}    # all staged (no temp files)
    stale = set().union(*(_files_of(e) for e in (old or {}).get("reports", [])),
                        *(_own_files(e["name"]) for e in manifest["reports"]))
    analyst_path = pub.folder.parent / f"{pub.folder.name}.analyst.json"
    try:
        detail = json.loads(analyst_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        detail = {}
    detail[manifest["id"]] = analyst
    pub.commit(sorted(fresh), sorted(stale - keep),
               {"manifest.json": json.dumps(full, indent=2, default=str) + "\n",
                "index.html": index_html(full)},
               analyst=(analyst_path, json.dumps(detail, indent=2, default=str) + "\n"))


class _sigterm_as_interrupt:
    """SIGTERM in the main thread raises KeyboardInterrupt, so a terminated batch stops its
    workers and kernels and publishes what finished, like Ctrl-C (a no-op in other threads)."""

    def __enter__(self):
        import signal
        import threading
        self.old = None
        if threading.current_thread() is threading.main_thread():
            self.old = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    def __exit__(self, *exc):
        if self.old is not None:
            import signal
            signal.signal(signal.SIGTERM, self.old)
        return False


def _worker_init(parent: int) -> None:
    """Pool worker start: die with the batch. Linux: PR_SET_PDEATHSIG delivers SIGTERM when the
    parent dies (even by kill -9); a parent already gone before that is caught by the ppid check.
    The worker's kernel exits by itself when its parent goes (ipykernel's parent poller)."""
    import signal
    _fresh_event_loop()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)           # not the parent's handler
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):  # pragma: no cover - no prctl
            pass
    if os.getppid() != parent:
        os._exit(1)


def _fresh_event_loop() -> None:
    """Give a forked worker its own asyncio loop. A loop inherited from the parent (pytest, a
    Jupyter kernel calling ``run``) shares one epoll object with the parent and every sibling
    worker, so the kernels' sockets of two workers wake each other and kernel start hangs."""
    import asyncio
    asyncio._set_running_loop(None)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        from jupyter_core.utils import _loop   # jupyter's run_sync keeps its own loop reference
        _loop.set(loop)
    except ImportError:  # pragma: no cover - older jupyter_core
        pass


def read_manifest(path: str | os.PathLike) -> dict:
    """Read ``manifest.json`` (a file or the period folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    return json.loads(path.read_text())

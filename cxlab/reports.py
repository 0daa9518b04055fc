"""Parameterised reports: run a template notebook for the company and every segment, in parallel,
and publish stakeholder HTML (no code), an ``index.html`` landing page and a ``manifest.json``.

    import cxlab as cx
    batch = cx.reports.run("quarterly", by="region")          # company + every region
    batch.ok, batch.summary()                                   # did everything succeed? per report

The same from the shell: ``cxlab report quarterly --by region``. Output goes to
``reports/<period>/``: ``index.html``, one ``<template>-<segment>.html`` per report,
``notebooks/<...>.ipynb`` (the executed notebooks, for analysts) and ``manifest.json``
(parameters, input file hash, cxlab version, times, per-report status).

Reliability rules: a segment whose notebook fails is marked ``failed`` and the others go on; a
segment below the minimum base is marked ``suppressed`` and not run; every file is written to a
temporary name and moved into place (no half-written HTML); the same inputs give the same numbers
(fixed seeds). What the template cells call (``prepare``, ``show_*``, ``record``) is in
:mod:`cxlab.report_content`, which uses this module; this module never imports it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import html
import json
import os
import re
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .checks import CXDataError

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIR = ROOT / "notebooks" / "templates"
RECORD_MIME = "application/vnd.cxlab.report+json"
REMOVE_TAGS = frozenset({"parameters", "injected-parameters", "remove-cell", "remove_cell"})
TABLES = ("customers", "survey", "contacts", "pulse")
_PERIOD = re.compile(r"^\d{4}Q[1-4]$")


# ----------------------------------------------------------------------------------------------
# Templates
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TemplateSpec:
    """A report template: its notebook, the table whose responses form the base, default split."""

    name: str
    notebook: str
    title: str
    table: str                 # table that defines the report's base ("survey" or "contacts")
    base_column: str           # answered values of this column are counted as the base
    default_by: str | None     # segment column used when --by is not given
    parameters: tuple[str, ...]

    @property
    def path(self) -> Path:
        return TEMPLATE_DIR / self.notebook


_COMMON = ("data", "period", "by", "segment", "min_base", "confidence", "seed")
TEMPLATES: dict[str, TemplateSpec] = {
    "quarterly": TemplateSpec(
        "quarterly", "quarterly_report.ipynb", "Quarterly customer-experience report",
        table="survey", base_column="ltr", default_by="region",
        parameters=_COMMON + ("waves", "driver_waves", "bootstrap", "top_actions")),
    "team_scorecard": TemplateSpec(
        "team_scorecard", "team_scorecard.ipynb", "Front-line team scorecard",
        table="contacts", base_column="csat", default_by="team",
        parameters=_COMMON + ("waves", "driver_waves", "bootstrap", "csat_target", "fcr_target",
                               "ces_target")),
}


def template_spec(template: str | os.PathLike) -> TemplateSpec:
    """Look up a template by name (``quarterly``, ``team_scorecard``) or by notebook path.

    A path to a custom notebook reuses the spec of the built-in template whose file name it
    starts with (e.g. ``my_quarterly_report.ipynb`` -> quarterly), else the quarterly spec.
    """
    key = str(template)
    if key in TEMPLATES:
        return TEMPLATES[key]
    for spec in TEMPLATES.values():
        if key == spec.notebook or key == spec.notebook.removesuffix(".ipynb"):
            return spec
    path = Path(key)
    if path.suffix == ".ipynb":
        if not path.exists():
            raise CXDataError(f"Template notebook {str(path)!r} does not exist.")
        base = next((s for s in TEMPLATES.values() if s.name in path.stem), TEMPLATES["quarterly"])
        return TemplateSpec(path.stem, str(path.resolve()), base.title, base.table,
                            base.base_column, base.default_by, base.parameters)
    raise CXDataError(f"Unknown report template {key!r}. Choose one of {', '.join(TEMPLATES)} "
                      "or give the path to a template notebook (.ipynb).")


def _template_path(spec: TemplateSpec) -> Path:
    path = Path(spec.notebook)
    return path if path.is_absolute() else TEMPLATE_DIR / spec.notebook


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

@dataclass
class ReportData:
    """The tables a report reads, where they came from and their fingerprint."""

    name: str
    customers: pd.DataFrame | None = None
    survey: pd.DataFrame | None = None
    contacts: pd.DataFrame | None = None
    pulse: pd.DataFrame | None = None
    truth: dict | None = None
    files: tuple[Path, ...] = ()

    def table(self, name: str) -> pd.DataFrame:
        frame = getattr(self, name, None)
        if frame is None:
            raise CXDataError(f"The data {self.name!r} has no {name} table ({name}.csv). "
                              "This report needs it: add the file or choose another template.")
        return frame

    @property
    def sha256(self) -> str:
        return files_sha256(self.files)


def bundled_names() -> list[str]:
    """Names of the bundled datasets (``cx.datasets.names()`` when available)."""
    from . import datasets
    names = getattr(datasets, "names", None)
    if callable(names):
        try:
            return list(names())
        except Exception:  # pragma: no cover - a broken registry should not hide the folders
            pass
    folder = ROOT / "datasets"
    return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.exists() else []


def _bundled_folder(name: str) -> Path:
    from . import datasets
    for attr in ("path", "folder", "data_path"):
        func = getattr(datasets, attr, None)
        if callable(func):
            try:
                found = Path(func(name))
                if found.exists():
                    return found
            except Exception:
                pass
    return ROOT / "datasets" / name


def files_sha256(files: Sequence[Path]) -> str:
    """One SHA-256 over the given files' names and contents (order-independent)."""
    digest = hashlib.sha256()
    for path in sorted(Path(f) for f in files):
        digest.update(path.name.encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _read_table(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix in {".xlsx", ".xls"}:
        return pd.read_excel(path)
    if suffix == ".sav":
        return pd.read_spss(path, convert_categoricals=False)
    raise CXDataError(f"Cannot read {str(path)!r}: use a .csv, .parquet, .xlsx or .sav file.")


def load_data(data: str | os.PathLike = "kestrel") -> ReportData:
    """Load a bundled dataset by name, a folder laid out like ``datasets/kestrel`` or one survey file.

    A folder needs ``survey.csv`` (or .parquet/.xlsx); ``customers``, ``contacts`` and ``pulse``
    are optional (sections that need a missing table say so). A single file is read as the survey.
    """
    if data is None:
        data = "kestrel"
    if not isinstance(data, (str, os.PathLike)):
        raise CXDataError(f"data must be a bundled dataset name or a path, got {data!r}.")
    key = str(data)
    path = Path(key).expanduser()
    if not path.exists() and key in bundled_names():
        from . import datasets
        loaded = datasets.load(key)
        folder = _bundled_folder(key)
        files = tuple(sorted(p for p in folder.glob("*") if p.is_file() and p.suffix in
                             {".csv", ".json", ".parquet"})) if folder.exists() else ()
        out = ReportData(key, files=files)
        for name in TABLES:
            setattr(out, name, getattr(loaded, name, None))
        out.truth = getattr(loaded, "truth", None)
        return out
    if not path.exists():
        raise CXDataError(
            f"Data {key!r} is neither a bundled dataset ({', '.join(bundled_names()) or 'none'}) "
            "nor an existing file or folder. Check the path (relative paths are read from the "
            "current directory) or list the bundled data with `cxlab datasets`.")
    if path.is_file():
        return ReportData(path.stem, survey=_read_table(path), files=(path.resolve(),))
    out = ReportData(path.name)
    files = []
    for name in TABLES:
        candidates = [path / f"{name}{ext}" for ext in (".csv", ".parquet", ".xlsx", ".sav")]
        found = next((c for c in candidates if c.exists()), None)
        if found is not None:
            setattr(out, name, _read_table(found))
            files.append(found.resolve())
    truth = path / "truth.json"
    if truth.exists():
        out.truth = json.loads(truth.read_text())
        files.append(truth.resolve())
    if out.survey is None and out.contacts is None:
        raise CXDataError(f"Folder {str(path)!r} has neither survey.csv nor contacts.csv. "
                          "A report folder needs at least the survey export named survey.csv.")
    out.files = tuple(files)
    return out


def waves_of(frame: pd.DataFrame, column: str = "wave") -> list[str]:
    """Sorted distinct waves (``YYYYQn`` strings sort in time order)."""
    if column not in frame.columns:
        raise CXDataError(f"The data has no {column!r} column, so periods cannot be told apart. "
                          "Add a wave column with values like '2026Q3'.")
    return sorted(str(w) for w in frame[column].dropna().unique())


def check_period(period, waves: Sequence[str]) -> str:
    """Validate ``period`` against the data's waves; None means the latest wave."""
    if period is None or (isinstance(period, str) and period.strip().lower() in {"", "latest", "none"}):
        if not waves:
            raise CXDataError("The data has no waves at all; cannot choose a period.")
        return waves[-1]
    text = str(period).strip().upper()
    if not isinstance(period, str) or not _PERIOD.match(text):
        raise CXDataError(f"period must be a quarter written like '2026Q3' (a string), got {period!r}. "
                          f"Available: {', '.join(waves)}.")
    if text not in waves:
        raise CXDataError(f"Period {text!r} is not in the data. Available waves: {', '.join(waves)}.")
    return text


def segment_values(frame: pd.DataFrame, by: str) -> list[str]:
    if by not in frame.columns:
        raise CXDataError(f"Cannot split reports by {by!r}: the data has no such column. "
                          f"Columns you could use: {', '.join(_segment_columns(frame)) or 'none'}.")
    return sorted(str(v) for v in frame[by].dropna().unique())


def _segment_columns(frame: pd.DataFrame) -> list[str]:
    out = []
    for col in frame.columns:
        if col in {"wave"} or col.endswith("_id") or col.endswith("_date"):
            continue
        values = frame[col]
        if (pd.api.types.is_string_dtype(values) or pd.api.types.is_object_dtype(values)) \
                and 1 < values.nunique() <= 50:
            out.append(col)
    return out


def check_segment(by, segment, frame: pd.DataFrame) -> tuple[str | None, str | None]:
    """Validate the segment column and value; (None, None) is the whole company."""
    if by in (None, "", "none", "None") and segment in (None, "", "none", "None"):
        return None, None
    if by in (None, "", "none", "None"):
        raise CXDataError(f"segment={segment!r} was given without by=... Name the column it "
                          "belongs to, e.g. by='region'.")
    if not isinstance(by, str):
        raise CXDataError(f"by must be a column name, got {by!r}.")
    values = segment_values(frame, by)
    if segment in (None, "", "none", "None"):
        return by, None
    if str(segment) not in values:
        raise CXDataError(f"Unknown {by} {segment!r}. Choose one of: {', '.join(values)}.")
    return by, str(segment)


def segment_label(by: str | None, value: str | None) -> str:
    """'Company' or e.g. 'Region North'."""
    if value is None:
        return "Company"
    return f"{str(by).replace('_', ' ').capitalize()} {value}"


def slug(text: str) -> str:
    out = re.sub(r"[^0-9a-zA-Z]+", "-", str(text)).strip("-").lower()
    return out or "x"


# ----------------------------------------------------------------------------------------------
# Atomic files
# ----------------------------------------------------------------------------------------------

def atomic_write(path: str | os.PathLike, content: str | bytes) -> Path:
    """Write ``content`` to a temporary file beside ``path``, fsync it and rename it into place.

    Readers see either the old file or the complete new one, never a half-written file
    (os.replace is atomic on POSIX and Windows within one file system).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        with open(tmp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# ----------------------------------------------------------------------------------------------
# Running one notebook
# ----------------------------------------------------------------------------------------------

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


def _first_line(text: str, limit: int = 300) -> str:
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(text)).strip()
    line = text.splitlines()[0] if text else ""
    return line[:limit]


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


def execute_job(job: Mapping) -> dict:
    """Run one report notebook with papermill and publish its HTML; never raises.

    ``job`` holds: name, template (path), parameters, notebook (output path), html (output path),
    cwd, timeout, title, kernel_name (None = this interpreter). Returns the manifest entry.
    """
    import logging

    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    logging.getLogger("papermill").setLevel(logging.ERROR)
    start, started = time.perf_counter(), _now()
    notebook, html_path = Path(job["notebook"]), Path(job["html"])
    entry = {"name": job["name"], "label": job["label"], "segment": job["segment"],
             "parameters": dict(job["parameters"]), "status": "running",
             "notebook": job["notebook_rel"], "html": None, "started": started,
             "attempts": 0, "error": None, "kpis": [], "notes": []}
    tmp = notebook.with_name(f".{notebook.stem}.{os.getpid()}.partial.ipynb")
    notebook.parent.mkdir(parents=True, exist_ok=True)
    threads = job.get("threads")
    if threads:     # parallel kernels: no BLAS oversubscription of the cores
        for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
    engine_kwargs = {}
    if not job.get("kernel_name"):
        engine_kwargs["kernel_manager_class"] = _kernel_manager_class()
    try:
        for attempt in (1, 2):
            entry["attempts"] = attempt
            try:
                pm.execute_notebook(
                    str(job["template"]), str(tmp), parameters=dict(job["parameters"]),
                    kernel_name=job.get("kernel_name") or "python3", cwd=str(job["cwd"]),
                    progress_bar=False, request_save_on_cell_execute=False,
                    execution_timeout=job.get("timeout"), start_timeout=60, **engine_kwargs)
                entry["status"] = "ok"
                break
            except PapermillExecutionError as err:
                entry["status"] = "failed"
                entry["error"] = f"{err.ename}: {_first_line(err.evalue)} (cell {err.exec_count})"
                break
            except Exception as err:  # kernel did not start, or papermill itself failed
                entry["status"] = "failed"
                entry["error"] = f"{type(err).__name__}: {_first_line(err)}"
                if attempt == 1 and _is_kernel_start_failure(err):
                    entry["notes"].append(f"retried after a kernel start failure ({entry['error']})")
                    continue
                break
        if tmp.exists():
            os.replace(tmp, notebook)
        if entry["status"] == "ok":
            _publish(job, entry, notebook, html_path)
        elif html_path.exists():
            html_path.unlink()      # never leave an older report that looks current
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
        entry["html"] = job["html_rel"]
    elif not notebook.exists():
        entry["notebook"] = None
    entry["finished"] = _now()
    entry["seconds"] = round(time.perf_counter() - start, 2)
    return entry


def _publish(job: Mapping, entry: dict, notebook: Path, html_path: Path) -> None:
    import nbformat
    nb = nbformat.read(notebook, as_version=4)
    record = read_record(nb)
    entry["kpis"] = record.get("kpis", [])
    entry["notes"] += record.get("notes", [])
    if record.get("status") == "suppressed":
        entry["status"] = "suppressed"
        entry["error"] = record.get("reason")
        if html_path.exists():
            html_path.unlink()
        return
    page = stakeholder_html(nb, title=job["title"], subtitle=job["subtitle"],
                            index_href="index.html", footer=job["footer"])
    atomic_write(html_path, page)


def read_record(nb) -> dict:
    """The values a report notebook recorded with :func:`record` (empty dict if none)."""
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if RECORD_MIME in data:
                value = data[RECORD_MIME]
                return json.loads(value) if isinstance(value, str) else dict(value)
    return {}


# ----------------------------------------------------------------------------------------------
# Stakeholder HTML
# ----------------------------------------------------------------------------------------------

_KEEP_MIME = ("text/html", "image/png", "image/svg+xml", "image/jpeg", "text/markdown", "text/plain")

_CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#d9e2ec; --bg:#f5f7fa; --ok:#2f855a;
        --bad:#c53030; --warn:#b7791f; --accent:#2b6cb0; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, sans-serif; color:var(--ink); background:var(--bg); }
header.cx-top { background:#102a43; color:#fff; padding:14px 28px; }
header.cx-top a { color:#bcccdc; text-decoration:none; font-size:14px; }
header.cx-top h1 { margin:4px 0 0; font-size:24px; font-weight:600; }
header.cx-top .sub { color:#bcccdc; font-size:14px; }
main { max-width:1080px; margin:0 auto; padding:18px 28px 40px; }
.cx-page { background:#fff; border:1px solid var(--line); border-radius:8px; padding:8px 28px 24px; }
h1, h2, h3 { line-height:1.25; } h2 { margin-top:1.8em; border-bottom:1px solid var(--line);
  padding-bottom:4px; } .anchor-link { display:none; }
table { border-collapse:collapse; margin:10px 0 16px; font-size:14px; }
th, td { padding:5px 10px; border-bottom:1px solid var(--line); text-align:right; }
th { background:#f0f4f8; font-weight:600; } td:first-child, th:first-child { text-align:left; }
img { max-width:100%; height:auto; }
.jp-OutputArea-output pre, pre { white-space:pre-wrap; font-size:13px; }
.cx-note { color:var(--muted); font-size:13px; }
.cx-up { color:var(--ok); font-weight:600; } .cx-down { color:var(--bad); font-weight:600; }
.cx-flat { color:var(--muted); } .cx-supp { color:var(--warn); font-style:italic; }
.cx-callout { border-left:4px solid var(--warn); background:#fffaf0; padding:8px 12px; margin:10px 0; }
footer { color:var(--muted); font-size:12px; margin-top:18px; }
.cards { display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:16px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:14px 16px; }
.card h3 { margin:0 0 2px; font-size:17px; } .card h3 a { color:var(--accent); text-decoration:none; }
.card .status { font-size:12px; font-weight:600; text-transform:uppercase; letter-spacing:.04em; }
.status.ok { color:var(--ok); } .status.failed { color:var(--bad); }
.status.suppressed { color:var(--warn); }
.kpis { display:flex; flex-wrap:wrap; gap:14px; margin-top:8px; }
.kpi .v { font-size:22px; font-weight:650; } .kpi .l { font-size:12px; color:var(--muted); }
.kpi .d { font-size:12px; }
@media print {
  body { background:#fff; font-size:12px; }
  header.cx-top { background:#fff; color:#102a43; border-bottom:2px solid #102a43; padding:6px 0; }
  header.cx-top a { display:none; } header.cx-top .sub { color:#616e7c; }
  main { max-width:none; padding:0; } .cx-page { border:none; padding:0; }
  img, table, .card { break-inside:avoid; } h2 { break-after:avoid; }
}
"""


def _page(title: str, body: str, subtitle: str = "", back: str | None = None,
          footer: str = "") -> str:
    back_link = f'<a href="{html.escape(back)}">&larr; All reports</a>' if back else ""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>"
            f"<header class=\"cx-top\">{back_link}<h1>{html.escape(title)}</h1>"
            f"<div class=\"sub\">{html.escape(subtitle)}</div></header>"
            f"<main>{body}<footer>{footer}</footer></main></body></html>\n")


def _keep_output(out) -> bool:
    kind = out.get("output_type")
    if kind == "stream":
        return out.get("name") == "stdout"
    if kind in {"display_data", "execute_result"}:
        data = out.get("data", {})
        keep = {k: v for k, v in data.items() if k in _KEEP_MIME}
        if any(k != "text/plain" for k in keep):
            keep.pop("text/plain", None)
        if not keep:
            return False
        plain = keep.get("text/plain")
        if plain is not None:
            text = "".join(plain) if isinstance(plain, list) else str(plain)
            if text.startswith("<") and text.rstrip().endswith(">") and "object at" in text:
                return False        # e.g. "<Figure size ...>" or "<Axes: ...>" reprs
            if re.match(r"^<(Figure|Axes|matplotlib)", text):
                return False
        out["data"] = keep
        out["metadata"] = {k: v for k, v in out.get("metadata", {}).items() if k in keep}
        return True
    return False            # errors and anything unknown never reach a stakeholder


def stakeholder_notebook(nb):
    """A copy of an executed notebook fit for stakeholders: no code, no parameter cells,
    no stderr/warnings, no error outputs, no recorded-values cell; markdown kept."""
    import copy
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & REMOVE_TAGS or cell.cell_type == "raw":
            continue
        if cell.cell_type == "code":
            outputs = [o for o in cell.get("outputs", []) if _keep_output(o)]
            if not outputs:
                continue
            cell.outputs = outputs
            cell.source = ""
            cell.execution_count = None
        cells.append(cell)
    nb.cells = cells
    return nb


def stakeholder_html(nb, title: str, subtitle: str = "", index_href: str | None = "index.html",
                     footer: str = "") -> str:
    """Render an executed notebook as a self-contained page: outputs and narrative only."""
    from nbconvert import HTMLExporter
    clean = stakeholder_notebook(nb)
    exporter = HTMLExporter(template_name="basic", exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, anchor_link_text="")
    body, _ = exporter.from_notebook_node(clean)
    return _page(title, f'<div class="cx-page">{body}</div>', subtitle=subtitle, back=index_href,
                 footer=footer)


# ----------------------------------------------------------------------------------------------
# Batches
# ----------------------------------------------------------------------------------------------

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


def base_count(frame: pd.DataFrame, spec: TemplateSpec, period: str, by: str | None = None,
               value: str | None = None) -> int:
    """Answered ``spec.base_column`` values in ``period`` (and segment ``by == value``)."""
    rows = frame["wave"].astype(str) == period
    if by is not None and value is not None:
        rows &= frame[by].astype(str) == value
    if spec.base_column in frame.columns:
        return int(frame.loc[rows, spec.base_column].notna().sum())
    return int(rows.sum())


def _check_params(spec: TemplateSpec, params: Mapping) -> None:
    import difflib
    reserved = {"data", "period", "by", "segment"}
    for name in params:
        if name in reserved:
            raise CXDataError(f"Give {name!r} as its own argument, not inside params.")
        if name not in spec.parameters:
            close = difflib.get_close_matches(name, spec.parameters, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise CXDataError(f"Unknown parameter {name!r} for the {spec.name} template.{hint} "
                              f"Known parameters: {', '.join(spec.parameters)}.")


def _default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run(template: str = "quarterly", period: str | None = None, by: str | None = None,
        data: str | os.PathLike = "kestrel", out: str | os.PathLike = "reports",
        workers: int | None = None, segments: Sequence[str] | None = None,
        params: Mapping | None = None, min_base: int = 30, company: bool = True,
        progress: bool = True, kernel_name: str | None = None, timeout: int | None = 900,
        pdf: bool = False) -> Batch:
    """Run ``template`` for the company and for every value of ``by``; publish under out/<period>/.

    ``by=None`` uses the template's default split (quarterly: region; team_scorecard: team);
    ``by="none"`` runs the company report only. ``segments`` restricts the segment values.
    ``params`` are extra template parameters (e.g. ``{"bootstrap": 200}``). ``workers``
    defaults to the usable cores. Segments with fewer than ``min_base`` responses in the period
    are not run and are marked ``suppressed``; a failing report is marked ``failed``.
    Returns a :class:`Batch`; ``batch.ok`` is False when any report failed.
    """
    t0, started = time.perf_counter(), _now()
    spec = template_spec(template)
    tpl = _template_path(spec)
    if not tpl.exists():
        raise CXDataError(f"Template notebook {str(tpl)!r} is missing. Reinstall cxlab from a full "
                          "checkout (notebooks/templates/).")
    params = dict(params or {})
    _check_params(spec, params)
    if not isinstance(min_base, int) or min_base < 1:
        raise CXDataError(f"min_base must be a positive whole number, got {min_base!r}.")
    # values too, before any kernel starts (the notebook checks them again)
    params = {k: v for k, v in validate_parameters(str(template), {**params, "min_base": min_base}
                                                   ).items() if k in params}
    dataset = load_data(data)
    frame = dataset.table(spec.table)
    period = check_period(period, waves_of(frame))
    if by is None:
        by = spec.default_by
    if isinstance(by, str) and by.lower() in {"", "none", "company"}:
        by = None
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
    out_dir = Path(out).expanduser().resolve() / period
    (out_dir / "notebooks").mkdir(parents=True, exist_ok=True)
    data_param = str(data) if (isinstance(data, str) and data in bundled_names()
                               and not Path(str(data)).exists()) else str(Path(data).resolve())
    common = {"data": data_param, "period": period, "min_base": min_base, **params}
    from . import __version__
    footer = (f"cxlab {__version__} &middot; data {html.escape(dataset.name)} "
              f"(sha256 {dataset.sha256[:12]}) &middot; period {period} &middot; minimum base "
              f"{min_base} &middot; generated {html.escape(started)}")

    targets = ([(None, "Company")] if company else []) + [(v, segment_label(by, v)) for v in values]
    jobs, entries, names = [], [], []
    for value, label in targets:
        name = f"{spec.name}-company" if value is None else f"{spec.name}-{slug(by)}-{slug(value)}"
        names.append(name)
        parameters = {**common, "by": by if value is not None else None, "segment": value}
        if by is not None and value is None:
            parameters["by"] = by          # company report shows the split by this column
        n = base_count(frame, spec, period, by if value is not None else None, value)
        if n < min_base:
            html_file = out_dir / f"{name}.html"
            if html_file.exists():
                html_file.unlink()
            entries.append({"name": name, "label": label, "segment": value, "parameters": parameters,
                            "status": "suppressed", "notebook": None, "html": None,
                            "error": f"{n} responses in {period} < minimum base {min_base}; "
                                     "not reported", "kpis": [], "notes": [], "attempts": 0,
                            "started": None, "finished": None, "seconds": 0.0, "base": n})
            continue
        jobs.append({"name": name, "label": label, "segment": value, "parameters": parameters,
                     "template": str(tpl), "notebook": str(out_dir / "notebooks" / f"{name}.ipynb"),
                     "notebook_rel": f"notebooks/{name}.ipynb", "html": str(out_dir / f"{name}.html"),
                     "html_rel": f"{name}.html", "cwd": str(out_dir), "timeout": timeout,
                     "kernel_name": kernel_name, "base": n,
                     "title": f"{label} — {period}", "subtitle": f"{spec.title} · data {dataset.name}",
                     "footer": footer})

    n_workers = max(1, min(int(workers or _default_workers()), max(len(jobs), 1)))
    if n_workers > 1:
        for job in jobs:
            job["threads"] = max(1, _default_workers() // n_workers)
    batch_id = f"{spec.name}-by-{slug(by)}" if by else f"{spec.name}-company"
    manifest = {"id": batch_id, "template": spec.name, "template_file": str(tpl), "by": by,
                "period": period, "data": data_param, "data_name": dataset.name,
                "data_sha256": dataset.sha256,
                "data_files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
                               for p in dataset.files},
                "parameters": common, "cxlab_version": __version__,
                "python": sys.version.split()[0], "kernel": kernel_name or kernel_argv()[:3],
                "workers": n_workers, "started": started, "finished": None, "seconds": None,
                "status": "running", "reports": entries}
    results: list[dict] = []
    try:
        _run_jobs(jobs, n_workers, progress, f"{spec.name} {period}", results)
    except KeyboardInterrupt:
        finished = {r["name"] for r in results}
        for job in jobs:
            html_file = Path(job["html"])
            if job["name"] not in finished and html_file.exists():
                html_file.unlink()          # an older report must not pass for this run's
        manifest["status"] = "interrupted"
        manifest["reports"] = results + entries + [
            {"name": j["name"], "label": j["label"], "segment": j["segment"],
             "parameters": j["parameters"], "status": "interrupted", "html": None,
             "notebook": None, "kpis": [], "notes": [], "error": "interrupted (Ctrl-C)"}
            for j in jobs if j["name"] not in finished]
        _finish(manifest, out_dir, t0)
        raise
    base_by_name = {j["name"]: j["base"] for j in jobs}
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
                    html_to_pdf(out_dir / entry["html"], out_dir / pdf_name)
                    entry["pdf"] = pdf_name
                except Exception as err:
                    entry["notes"].append(f"PDF not written: {_first_line(err)}")
    _finish(manifest, out_dir, t0)
    return Batch(out_dir, manifest)


def _run_jobs(jobs: list[dict], workers: int, progress: bool, desc: str,
              results: list[dict]) -> list[dict]:
    """Run the jobs (inline for one worker, else a process pool), appending each manifest entry
    to ``results`` as it completes (so an interrupted batch still knows what finished)."""
    import nbconvert  # noqa: F401  (imported once here, inherited by forked workers)
    import papermill  # noqa: F401
    from .checks import progress_bar
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
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        try:
            futures = {pool.submit(execute_job, job): job for job in jobs}
            for future in as_completed(futures):
                job = futures[future]
                try:
                    entry = future.result()
                except Exception as err:   # the worker process itself died
                    entry = {"name": job["name"], "label": job["label"], "segment": job["segment"],
                             "parameters": job["parameters"], "status": "failed",
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


def _finish(manifest: dict, out_dir: Path, t0: float) -> None:
    manifest["finished"] = _now()
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    path = out_dir / "manifest.json"
    with _locked(out_dir / ".manifest.lock"):       # two batches of one period may finish together
        batches = []
        if path.exists():
            try:
                batches = json.loads(path.read_text()).get("batches", [])
            except (json.JSONDecodeError, OSError):
                batches = []
        batches = [b for b in batches if b.get("id") != manifest["id"]] + [manifest]
        batches.sort(key=lambda b: (b.get("template") != "quarterly", b.get("id", "")))
        full = {"period": manifest["period"], "cxlab_version": manifest["cxlab_version"],
                "updated": manifest["finished"], "batches": batches}
        atomic_write(path, json.dumps(full, indent=2, default=str) + "\n")
        atomic_write(out_dir / "index.html", index_html(full))


class _locked:
    """Exclusive advisory lock on ``path`` (POSIX flock; a no-op where unavailable)."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = None

    def __enter__(self):
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows
            return self
        self.handle = open(self.path, "a")
        fcntl.flock(self.handle, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        if self.handle is not None:
            import fcntl
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
        return False


def read_manifest(path: str | os.PathLike) -> dict:
    """Read ``manifest.json`` (a file or the period folder holding it)."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    return json.loads(path.read_text())


def _card(entry: dict) -> str:
    status = entry.get("status", "failed")
    label = html.escape(str(entry.get("label") or entry.get("name")))
    if status == "ok" and entry.get("html"):
        head = f'<h3><a href="{html.escape(entry["html"])}">{label}</a></h3>'
    else:
        head = f"<h3>{label}</h3>"
    words = {"ok": "published", "failed": "failed — not published",
             "suppressed": "suppressed — base too small", "interrupted": "interrupted"}
    parts = [head, f'<div class="status {html.escape(status)}">{words.get(status, status)}</div>']
    kpis = []
    for k in entry.get("kpis", []):
        change = k.get("change_text") or ""
        css = {"up": "cx-up", "down": "cx-down"}.get(k.get("direction"), "cx-flat")
        kpis.append(f'<div class="kpi"><div class="l">{html.escape(str(k.get("name", "")))}</div>'
                    f'<div class="v">{html.escape(str(k.get("text", "")))}</div>'
                    f'<div class="l">{html.escape(str(k.get("interval") or ""))}</div>'
                    f'<div class="d {css}">{html.escape(change)}</div></div>')
    if kpis:
        parts.append(f'<div class="kpis">{"".join(kpis)}</div>')
    if status != "ok" and entry.get("error"):
        parts.append(f'<p class="cx-note">{html.escape(str(entry["error"]))}</p>')
    if status == "failed" and entry.get("notebook"):
        parts.append(f'<p class="cx-note">For the analyst: executed notebook '
                     f'<code>{html.escape(entry["notebook"])}</code>.</p>')
    if entry.get("pdf"):
        parts.append(f'<p class="cx-note"><a href="{html.escape(entry["pdf"])}">PDF</a></p>')
    return f'<div class="card">{"".join(parts)}</div>'


def index_html(manifest: dict) -> str:
    """The landing page: one section per batch, one card per report with its KPIs."""
    sections = []
    for batch in manifest.get("batches", []):
        spec = TEMPLATES.get(batch.get("template"))
        title = spec.title if spec else batch.get("template", "Reports")
        by = batch.get("by")
        counts = pd.Series([r["status"] for r in batch["reports"]]).value_counts().to_dict()
        stat = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        secs = batch.get("seconds")
        sections.append(
            f"<h2>{html.escape(title)}{' — by ' + html.escape(by) if by else ''}</h2>"
            f'<p class="cx-note">{html.escape(stat)}; data {html.escape(str(batch.get("data_name")))} '
            f"(sha256 {html.escape(str(batch.get('data_sha256', ''))[:12])}); "
            f"{'' if secs is None else f'{secs:.0f} s; '}"
            f"finished {html.escape(str(batch.get('finished')))}."
            "</p>"
            f'<div class="cards">{"".join(_card(r) for r in batch["reports"])}</div>')
    body = "".join(sections) or "<p>No reports yet.</p>"
    note = ("<p class=\"cx-note\">Each figure carries its 95% confidence interval; a change is "
            "called a change only when it is larger than the noise. Groups with fewer responses "
            "than the minimum base are suppressed.</p>")
    data = sorted({str(b.get("data_name")) for b in manifest.get("batches", [])})
    return _page(f"Customer-experience reports — {manifest.get('period', '')}", note + body,
                 subtitle=f"data {', '.join(data)} · cxlab {manifest.get('cxlab_version', '')}",
                 footer=f"Updated {html.escape(str(manifest.get('updated')))}")


# ----------------------------------------------------------------------------------------------
# Chromium (PDF export; the browser tests use the same helpers)
# ----------------------------------------------------------------------------------------------

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


def find_chromium() -> str | None:
    import shutil
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def chromium(args: Sequence[str], timeout: float = 60):
    """Run headless Chromium with a throw-away profile and no background networking."""
    import subprocess
    import tempfile
    exe = find_chromium()
    if exe is None:
        raise RuntimeError("Chromium is not installed (Debian: apt-get install -y chromium).")
    with tempfile.TemporaryDirectory(prefix="cxlab-chromium-") as profile:
        cmd = [exe, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def html_to_pdf(html_path: str | os.PathLike, pdf_path: str | os.PathLike) -> Path:
    """Print a report page to PDF with headless Chromium (written atomically)."""
    html_path, pdf_path = Path(html_path).resolve(), Path(pdf_path)
    tmp = pdf_path.with_name(f".{pdf_path.name}.{os.getpid()}.tmp")
    try:
        done = chromium([f"--print-to-pdf={tmp}", "--no-pdf-header-footer", html_path.as_uri()])
        if not tmp.exists() or tmp.stat().st_size == 0:
            raise RuntimeError(f"Chromium wrote no PDF: {_first_line(done.stderr)}")
        os.replace(tmp, pdf_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return pdf_path


# ----------------------------------------------------------------------------------------------
# Report parameters: checked by run() before any kernel starts, and by report_content.prepare
# ----------------------------------------------------------------------------------------------

DEFAULTS = {"data": "kestrel", "period": None, "by": None, "segment": None, "min_base": 30,
            "confidence": 0.95, "seed": 0, "waves": 6, "driver_waves": 4, "bootstrap": 200,
            "top_actions": 5, "csat_target": None, "fcr_target": None, "ces_target": None}


def _whole(value, name: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not float(value).is_integer():
        raise CXDataError(f"{name} must be a whole number, got {value!r}.")
    value = int(value)
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise CXDataError(f"{name} must be {span}, got {value}.")
    return value


def _number(value, name: str, low: float, high: float, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or not low <= float(value) <= high:
        raise CXDataError(f"{name} must be a number from {low:g} to {high:g}"
                          f"{' or None' if allow_none else ''}, got {value!r}.")
    return float(value)


def validate_parameters(template: str, params: Mapping) -> dict:
    """Check every report parameter (type, range, known name); return them with defaults filled.

    Raises CXDataError naming the parameter, what it got and what it accepts. Does not look at
    the data (period and segment are checked in :func:`prepare`).
    """
    import difflib
    spec = template_spec(template)
    known = spec.parameters
    unknown = [n for n in params if n not in known]
    if unknown:
        hints = []
        for name in unknown:
            close = difflib.get_close_matches(name, known, n=1)
            hints.append(f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise CXDataError(f"Unknown parameter(s) {', '.join(hints)} for the {spec.name} report. "
                          f"Known parameters: {', '.join(known)}.")
    p = {k: DEFAULTS.get(k) for k in known}
    p.update(params)
    p["min_base"] = _whole(p["min_base"], "min_base", 1)
    p["confidence"] = _number(p["confidence"], "confidence", 0.5, 0.999)
    p["seed"] = _whole(p["seed"], "seed", 0)
    if "waves" in p:
        p["waves"] = _whole(p["waves"], "waves", 2, 40)
    if "driver_waves" in p:
        p["driver_waves"] = _whole(p["driver_waves"], "driver_waves", 1, 40)
    if "bootstrap" in p:
        p["bootstrap"] = _whole(p["bootstrap"], "bootstrap", 0, 100_000)
    if "top_actions" in p:
        p["top_actions"] = _whole(p["top_actions"], "top_actions", 1, 50)
    for name in ("csat_target", "fcr_target"):
        if name in p:
            p[name] = _number(p[name], name, 0, 100, allow_none=True)
    if "ces_target" in p:
        p["ces_target"] = _number(p["ces_target"], "ces_target", 1, 7, allow_none=True)
    if p["data"] is None or not isinstance(p["data"], (str, os.PathLike)):
        raise CXDataError("data must be a bundled dataset name or a file/folder path, got "
                          f"{p['data']!r}.")
    return p
